//! Texts: Dialpad SMS events to and from an enabled call center become one LineLeader event
//! each, on the contact's family, attributed to the sender's staff record (else the default
//! staff), exactly once: redelivered, out of order, or with a quarter of LineLeader's answers
//! lost. An unknown number is dropped (or becomes a family with `create_families`); a text
//! without content says why; a text to a call center nobody enabled is ignored.

use super::BACKEND;
use std::collections::BTreeMap;
use std::time::Duration;

use llbridge_sandbox::{FaultRule, Faults, SbEvent};
use llbridge_tests::configs::{self, leadsquared_enablement, CALL_CENTER, LEADSQUARED_CALL_CENTER};
use llbridge_tests::scenario::{data, family, Scenario};
use llbridge_tests::webhook::post;
use serde_json::{json, Value};

const KNOWN: &str = "+14158159602";
const CC_PHONE: &str = "+14155550100";
const ANA: u64 = 5150000000000001;

fn texts_on(create_families: bool) -> Value {
    json!({"enable_task_queue": false, "screen_pop": false,
        "texts": {"event_type": "Text Message", "create_families": create_families,
            "default_staff_email": "frontdesk@example.com"}})
}

async fn scenario(create_families: bool) -> Scenario {
    let now = chrono::Utc::now();
    Scenario::start_with(
        BACKEND,
        vec![
            configs::enablement("call_center", Some(CALL_CENTER), texts_on(create_families)),
            leadsquared_enablement(LEADSQUARED_CALL_CENTER, json!({})),
        ],
        Some(data(
            now,
            vec![family(
                1001,
                "(415) 815-9602",
                101,
                1,
                now - chrono::Duration::days(3),
            )],
        )),
        Duration::from_secs(1),
    )
    .await
}

fn inbound(id: u64, from: &str, text: Option<&str>) -> Value {
    let mut e = json!({"id": id, "created_date": chrono::Utc::now().timestamp_millis(),
        "direction": "inbound",
        "target": {"id": CALL_CENTER.parse::<u64>().unwrap_or(0), "type": "callcenter", "name": "Enrollment", "phone_number": CC_PHONE},
        "contact": {"id": 5600392044183552_u64, "name": "Jamie Parent", "phone_number": from},
        "from_number": from, "to_number": [CC_PHONE], "mms": false});
    if let Some(t) = text {
        e["text"] = json!(t);
    }
    e
}

fn outbound(id: u64, to: &str, text: &str) -> Value {
    json!({"id": id, "created_date": chrono::Utc::now().timestamp_millis(), "direction": "outbound",
        "target": {"id": CALL_CENTER.parse::<u64>().unwrap_or(0), "type": "callcenter", "name": "Enrollment", "phone_number": CC_PHONE},
        "contact": {"phone_number": to}, "sender_id": ANA,
        "from_number": CC_PHONE, "to_number": [to], "text": text})
}

/// The events LineLeader took for each SMS id.
fn events_by_sms(s: &Scenario) -> BTreeMap<String, Vec<SbEvent>> {
    let mut by: BTreeMap<String, Vec<SbEvent>> = BTreeMap::new();
    for e in s.lineleader().state().data.events {
        if let Some(id) = e
            .description
            .lines()
            .find_map(|l| l.strip_prefix("Dialpad SMS ID: "))
        {
            by.entry(id.trim().to_owned()).or_default().push(e.clone());
        }
    }
    by
}

async fn settle_texts(s: &Scenario, n: usize) {
    let done = s.settle_until(async || events_by_sms(s).len() >= n).await;
    assert!(done, "{} of {n} texts logged", events_by_sms(s).len());
    s.settle().await;
}

#[tokio::test]
async fn an_inbound_and_an_outbound_text_are_logged_once_each_with_their_text() {
    let s = scenario(false).await;
    let a = inbound(
        4990021937799168,
        KNOWN,
        Some("Can we move the tour to Thursday?"),
    );
    let b = outbound(
        4990021937799169,
        KNOWN,
        "Thursday at 10 works. See you then!",
    );
    // Delivered twice, out of order.
    for e in [&b, &a, &b, &a] {
        let answer = s.send(e).await;
        assert_eq!(answer["status"], "accepted", "{answer}");
    }
    settle_texts(&s, 2).await;
    let by = events_by_sms(&s);
    assert_eq!(by.len(), 2, "{by:#?}");
    let a_events = &by["4990021937799168"];
    let b_events = &by["4990021937799169"];
    assert_eq!((a_events.len(), b_events.len()), (1, 1), "{by:#?}");
    assert_eq!(a_events[0].family_id, 1001);
    assert!(a_events[0]
        .description
        .contains("Can we move the tour to Thursday?"));
    assert!(a_events[0]
        .description
        .starts_with("Inbound Dialpad text message\nFrom: +14158159602\nTo: +14155550100"));
    assert_eq!(a_events[0].staff_id, 203, "inbound: the default staff");
    assert_eq!(a_events[0].type_id, 46, "the Text Message type");
    assert!(b_events[0].description.contains("Thursday at 10 works."));
    assert_eq!(
        b_events[0].staff_id, 201,
        "outbound: the sender Ana's staff record"
    );

    let report = llbridge_usecases::report::coverage(
        llbridge_usecases::ports::Records {
            store: s.host.store.as_ref(),
            clock: &llbridge_usecases::ports::SystemClock,
        },
        Duration::from_secs(3600),
        0,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (report.texts.received, report.texts.logged),
        (2, 2),
        "{report:?}"
    );
    // The console lists both, the number masked, each linked to its trace.
    let (status, page) =
        llbridge_tests::console::signed_in_page(&s, "/_llbridge/console/texts?period=24h").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page.matches("<tr class=\"text\" data-outcome=\"logged\">")
            .count(),
        2,
        "{page}"
    );
    assert!(
        page.contains("/_llbridge/console/call/4990021937799168"),
        "{page}"
    );
    assert!(
        page.contains("***9602") && !page.contains("4158159602"),
        "{page}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_quarter_of_the_answers_lost_still_logs_every_text_once() {
    let s = scenario(false).await;
    s.lineleader().set_faults(Faults {
        rules: vec![FaultRule::lose_answer("POST", "/events", 502, 0.25)],
        ..Faults::default()
    });
    let n = 16;
    for i in 0..n {
        s.send(&inbound(
            4990021937800000 + i,
            KNOWN,
            Some(&format!("text {i}")),
        ))
        .await;
    }
    settle_texts(&s, n as usize).await;
    let by = events_by_sms(&s);
    assert_eq!(by.len(), n as usize);
    assert!(by.values().all(|v| v.len() == 1), "{by:#?}");
    s.stop().await;
}

#[tokio::test]
async fn unknown_numbers_missing_content_and_texts_nobody_enabled() {
    let s = scenario(false).await;
    // An unknown number: dropped, nothing written.
    s.send(&inbound(
        4990021937810001,
        "+14158159699",
        Some("Hi, do you have openings?"),
    ))
    .await;
    // No content: the event says why.
    s.send(&inbound(4990021937810002, KNOWN, None)).await;
    // A call center nobody enabled, and one on LeadSquared: ignored.
    let mut other = inbound(4990021937810003, KNOWN, Some("hello"));
    other["target"]["id"] = json!(4716644561819999_u64);
    let answer = s.send(&other).await;
    assert_eq!(
        (answer["status"].as_str(), answer["reason"].as_str()),
        (Some("ignored"), Some("not_enabled"))
    );
    let mut lsq = inbound(4990021937810004, KNOWN, Some("hello"));
    lsq["target"]["id"] = json!(LEADSQUARED_CALL_CENTER.parse::<u64>().unwrap_or(0));
    let answer = s.send(&lsq).await;
    assert_eq!(answer["reason"], "texts_not_supported", "{answer}");
    // A delivery update: acknowledged, ignored.
    let answer = s
        .send(&json!({"id": 4990021937810002_u64, "message_status": "delivered"}))
        .await;
    assert_eq!(answer["reason"], "sms_delivery_status", "{answer}");
    settle_texts(&s, 1).await;
    let by = events_by_sms(&s);
    assert_eq!(
        by.keys().collect::<Vec<_>>(),
        ["4990021937810002"],
        "{by:#?}"
    );
    assert!(by["4990021937810002"][0]
        .description
        .contains("(text not exported: the API key lacks message_content_export)"));
    let dropped = llbridge_usecases::texts::get(s.host.store.as_ref(), "4990021937810001")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no ledger record"));
    assert_eq!(dropped.reason.as_deref(), Some("unknown_texter"));
    assert!(s.created_families().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn with_create_families_an_unknown_texter_becomes_a_family() {
    let s = scenario(true).await;
    s.send(&inbound(
        4990021937820001,
        "+14158159688",
        Some("Hi, do you have openings?"),
    ))
    .await;
    settle_texts(&s, 1).await;
    let created = s.created_families();
    assert_eq!(created.len(), 1, "{created:#?}");
    let by = events_by_sms(&s);
    assert_eq!(by["4990021937820001"][0].family_id, created[0].id);
    // Not signed: refused, as every webhook event.
    let (status, _) = post(
        &s.host.webhook_url(),
        inbound(1, KNOWN, Some("x")).to_string(),
    )
    .await;
    assert_eq!(status, 401);
    s.stop().await;
}

#[tokio::test]
async fn dialpad_connect_subscribes_the_texts_of_each_scope_that_logs_them() {
    use llbridge_usecases::connect::{self, Change};
    let s = scenario(false).await;
    let hook = s.host.webhook_url();
    let secret = "an-old-webhook-secret";
    let lines = connect::connect(s.dialpad(), &s.host.installation, &hook, secret, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sms: Vec<_> = lines
        .iter()
        .filter(|l| l.object == "SMS subscription")
        .collect();
    assert_eq!(
        sms.len(),
        1,
        "the LeadSquared call center logs no texts: {lines:#?}"
    );
    assert_eq!(sms[0].change, Change::Created);
    assert_eq!(sms[0].what, format!("callcenter {CALL_CENTER}"));
    let subs = s.dialpad().sms_subscriptions();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0]["direction"], "all");
    let again = connect::connect(s.dialpad(), &s.host.installation, &hook, secret, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        again.iter().all(|l| l.change == Change::Unchanged),
        "{again:#?}"
    );
    s.stop().await;
}
