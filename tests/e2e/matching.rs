//! Family and center matching, end to end: signed events into the local host, what the
//! LineLeader sandbox received.

use super::BACKEND;
use chrono::{DateTime, Duration as Minutes, Utc};
use llbridge_sandbox::SbFamily;
use llbridge_tests::scenario::{answered, data, family, log_now, Scenario};
use serde_json::{json, Value};

/// A caller no demo family has.
const NEW: &str = "+16505550142";

/// Maya's number, as Dialpad sends it.
const MAYA: &str = "+14158159602";

/// With these families in LineLeader (built at `now`), Maya's answered call is logged once,
/// and no family is created. Returns the family the phone log landed on.
async fn logged_family(
    overrides: Value,
    families: impl FnOnce(DateTime<Utc>) -> Vec<SbFamily>,
) -> u64 {
    let now = Utc::now();
    let s = Scenario::start(BACKEND, overrides, Some(data(now, families(now)))).await;
    s.play(&answered(&s.call(1, MAYA))).await;
    s.settle().await;
    let logs = s.phone_logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let created = s.created_families();
    assert!(
        created.is_empty(),
        "a duplicate family was created: {created:?}"
    );
    s.stop().await;
    logs[0].family_id
}

#[tokio::test]
async fn single_match_is_logged_on_that_family() {
    let id = logged_family(log_now(), |now| {
        vec![family(
            1001,
            "(415) 815-9602",
            101,
            1,
            now - Minutes::days(3),
        )]
    })
    .await;
    assert_eq!(id, 1001);
}

#[tokio::test]
async fn numbers_typed_in_any_format_match() {
    for typed in [
        "(415) 815-9602",
        "415-815-9602",
        "+14158159602",
        "4158159602",
        "1 415 815 9602",
    ] {
        let id = logged_family(log_now(), |now| {
            vec![family(1001, typed, 101, 1, now - Minutes::days(3))]
        })
        .await;
        assert_eq!(id, 1001, "{typed}");
    }
}

#[tokio::test]
async fn no_match_creates_a_family_with_phone_call_source_inquiry_type_and_center() {
    let now = Utc::now();
    let s = Scenario::start(
        BACKEND,
        json!({"enable_task_queue": false, "screen_pop": false, "family_inquiry_type": "web form"}),
        Some(data(now, vec![])),
    )
    .await;
    s.play(&answered(&s.call(1, NEW))).await;
    s.settle().await;
    let created = s.created_families();
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0].center_id, 101,
        "the center whose call-center phone is the call center's"
    );
    let posts = s.bodies("POST", "/families");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        posts[0]["source_type_id"],
        json!(11),
        "source type \"Phone Call\": {}",
        posts[0]
    );
    assert_eq!(
        posts[0]["inquiry_type_id"],
        json!(23),
        "inquiry type \"Web Form\", matched case-insensitively: {}",
        posts[0]
    );
    assert_eq!(posts[0]["center_id"], json!(101));
    let logs = s.phone_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].family_id, created[0].id);
    s.stop().await;
}

#[tokio::test]
async fn no_match_and_no_center_is_dropped() {
    let now = Utc::now();
    let s = Scenario::start(
        BACKEND,
        json!({"enable_task_queue": false, "screen_pop": false, "default_center_name": "Nowhere"}),
        Some(data(now, vec![])),
    )
    .await;
    let mut call = s.call(1, NEW);
    call.call_center = "4716644561813504".into();
    let mut events = answered(&call);
    // The call center's number is no center's.
    for e in &mut events {
        e["target"]["phone"] = json!("+19995550100");
        e["entry_point_target"]["phone"] = json!("+19995550100");
        e["internal_number"] = json!("+19995550100");
    }
    s.play(&events).await;
    s.settle().await;
    assert!(s.created_families().is_empty());
    assert!(s.phone_logs().is_empty());
    assert_eq!(
        s.log_decisions(),
        vec![("dropped".into(), Some("no_center".into()))]
    );
    s.stop().await;
}

#[tokio::test]
async fn center_by_default_name_case_insensitive() {
    let now = Utc::now();
    let s = Scenario::start(BACKEND, json!({"enable_task_queue": false, "screen_pop": false, "default_center_name": "mAPLE grove"}),
        Some(data(now, vec![])),
    )
    .await;
    let mut events = answered(&s.call(1, NEW));
    for e in &mut events {
        e["target"]["phone"] = json!("+19995550100");
        e["entry_point_target"]["phone"] = json!("+19995550100");
        e["internal_number"] = json!("+19995550100");
    }
    s.play(&events).await;
    s.settle().await;
    let created = s.created_families();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].center_id, 103, "Maple Grove");
    assert_eq!(s.phone_logs()[0].center_id, Some(103));
    s.stop().await;
}

#[tokio::test]
async fn several_matches_the_center_filter_wins() {
    let id = logged_family(log_now(), |now| {
        vec![
            family(1001, "(415) 815-9602", 102, 1, now - Minutes::days(3)),
            family(1002, "415-815-9602", 101, 1, now - Minutes::days(40)),
        ]
    })
    .await;
    assert_eq!(
        id, 1002,
        "the family of the call center's center (Oak Park, 101)"
    );
}

#[tokio::test]
async fn several_matches_the_ten_minute_window_wins() {
    let id = logged_family(log_now(), |now| {
        vec![
            family(1001, "(415) 815-9602", 101, 1, now - Minutes::minutes(30)),
            family(1002, "415-815-9602", 101, 1, now - Minutes::minutes(2)),
        ]
    })
    .await;
    assert_eq!(
        id, 1002,
        "only the newest is within 10 minutes of the newest"
    );
}

#[tokio::test]
async fn several_matches_status_priority_by_name_wins() {
    // Statuses of the demo data: 1 New Lead, 2 Contacted, 3 Tour Scheduled, 4 Enrolled, 5 Lost.
    let overrides = json!({"enable_task_queue": false, "screen_pop": false,
        "status_prioritization": ["tour scheduled", "New Lead"], "family_status_priority_ids": ["1"]});
    let id = logged_family(overrides, |now| {
        vec![
            family(1001, "(415) 815-9602", 101, 1, now - Minutes::minutes(3)),
            family(1002, "415-815-9602", 101, 3, now - Minutes::minutes(2)),
            family(1003, "+14158159602", 101, 5, now - Minutes::minutes(1)),
        ]
    })
    .await;
    assert_eq!(
        id, 1002,
        "Tour Scheduled first; the legacy ids are ignored when names are set"
    );
}

#[tokio::test]
async fn legacy_status_ids_are_used_only_when_names_are_unset() {
    let overrides = json!({"enable_task_queue": false, "screen_pop": false,
        "family_status_priority_ids": ["4", "1"]});
    let id = logged_family(overrides, |now| {
        vec![
            family(1001, "(415) 815-9602", 101, 1, now - Minutes::minutes(3)),
            family(1002, "415-815-9602", 101, 4, now - Minutes::minutes(2)),
        ]
    })
    .await;
    assert_eq!(id, 1002, "status id 4 (Enrolled) first");
}

#[tokio::test]
async fn unresolved_is_dropped_with_no_pop_and_no_log() {
    let now = Utc::now();
    let s = Scenario::start(
        BACKEND,
        json!({"enable_task_queue": false}),
        Some(data(
            now,
            vec![
                family(1001, "(415) 815-9602", 101, 1, now - Minutes::minutes(3)),
                family(1002, "415-815-9602", 101, 1, now - Minutes::minutes(2)),
            ],
        )),
    )
    .await;
    let call = s.call(1, "+14158159602");
    s.play(&[
        call.agent("ringing", 200),
        call.agent("connected", 5_100),
        call.cc_hangup(295_200),
    ])
    .await;
    s.settle().await;
    assert!(s.phone_logs().is_empty());
    assert!(s.dialpad().pops().is_empty(), "{:?}", s.dialpad().pops());
    assert!(s.created_families().is_empty());
    assert_eq!(
        s.log_decisions(),
        vec![("dropped".into(), Some("family_ambiguous".into()))]
    );
    let detail = s
        .host
        .reports()
        .into_iter()
        .find(|r| r.reason.is_some_and(|r| r == "family_ambiguous"))
        .and_then(|r| r.detail)
        .unwrap_or_default();
    assert!(
        detail.contains("1001") && detail.contains("1002"),
        "the candidates' ids are logged: {detail}"
    );
    s.stop().await;
}
