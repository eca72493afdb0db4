//! A tenant whose API differs from the documented contract: the phone-log route, the
//! family-search route and its parameter elsewhere. With the connection's `api` overrides,
//! calls are logged as on any tenant; the documented paths are never used.

use super::BACKEND;
use std::time::Duration;

use llbridge_tests::configs::{self, CALL_CENTER};
use llbridge_tests::scenario::{answered, data, family, log_now, Scenario};
use serde_json::json;

#[tokio::test]
async fn with_the_overrides_a_new_caller_and_a_known_family_are_each_logged_once() {
    let now = chrono::Utc::now();
    let known = family(
        1001,
        "(415) 815-9602",
        101,
        1,
        now - chrono::Duration::days(3),
    );
    let s = Scenario::start_tuned(
        BACKEND,
        vec![configs::enablement(
            "call_center",
            Some(CALL_CENTER),
            log_now(),
        )],
        Some(data(now, vec![known])),
        Duration::from_secs(1),
        |o| {
            o.sandbox.lineleader.paths = [
                ("phone_logs", "/calls/phone-logs"),
                ("family_search", "/families/lookup"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            o.sandbox.lineleader.search_param = "phone_number".into();
            // The connection's document says where this tenant serves the two endpoints.
            if let Some(c) = o.installation.connections.get_mut("main") {
                let mut raw = c.raw.clone();
                raw["api"] = json!({
                    "paths": {"phone_logs": "/calls/phone-logs", "family_search": "/families/lookup"},
                    "family_search_param": "phone_number",
                    "family_search_format": "e164"
                });
                *c = llbridge_crm_registry::connection("main", &raw)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        },
    )
    .await;
    let new_caller = s.call(1, "+16505550142");
    let known_family = s.call(2, "+14158159602");
    s.play(&answered(&new_caller)).await;
    s.play(&answered(&known_family)).await;
    s.settle().await;

    let logs = s.phone_logs();
    assert_eq!(logs.len(), 2, "{logs:#?}");
    let created = s.created_families();
    assert_eq!(created.len(), 1, "one family for the new caller");
    let on = |family_id: u64| logs.iter().filter(|l| l.family_id == family_id).count();
    assert_eq!(on(created[0].id), 1);
    assert_eq!(on(1001), 1);

    let requests = s.lineleader().requests();
    let searches: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/api/v3/families/lookup")
        .collect();
    assert!(!searches.is_empty());
    assert!(
        searches.iter().all(|r| r
            .query
            .as_deref()
            .is_some_and(|q| q.contains("phone_number=%2B1"))),
        "the number in its parameter, as E.164: {searches:#?}"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.path != "/api/v3/in-contact/phone-logs"
                && r.path != "/api/v3/families/search"),
        "no request to the documented paths"
    );
    s.stop().await;
}
