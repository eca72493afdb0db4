//! Hours in minutes: the stepped host's clock skips ahead to each delayed job, so a call of
//! an hour and a half, a hangup never heard, or a LineLeader outage of hours runs in seconds.
//! (Embedded adapters only: SQS's delays are real.)

use std::time::Duration;

use llbridge_app::jobs::JobKind;
use llbridge_app::ledger;
use llbridge_app::worker::Decision;
use llbridge_tests::configs::{enablement, CALL_CENTER};
use llbridge_tests::events::Call;
use llbridge_tests::scenario::{data, family, Scenario};
use serde_json::{json, Value};

const MINUTE: i64 = 60_000;

/// A scenario whose sandbox knows family 1001, (415) 815-9602 at Oak Park; Phone Log mode,
/// logs a minute after the call ends.
async fn known_family() -> Scenario {
    let now = chrono::Utc::now();
    let known = family(
        1001,
        "(415) 815-9602",
        101,
        1,
        now - chrono::Duration::days(3),
    );
    Scenario::start_with(
        vec![enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"enable_task_queue": true, "screen_pop": false}),
        )],
        Some(data(now, vec![known])),
        Duration::from_secs(60),
    )
    .await
}

/// A call starting now: agent Ben is rung and does not answer (his leg ends after 20 s), Ana
/// answers after 25 s. The call-center leg goes on.
fn long_call(s: &Scenario) -> (Call, Vec<Value>) {
    let ana = Call::new(7, "+14158159602", s.now.timestamp_millis());
    let mut ben = ana.clone();
    ben.agent_leg = ana.agent_leg + 1;
    ben.agent_id = ana.agent_id + 1;
    ben.agent_email = "ben@example.com".into();
    let mut missed = ben.agent("hangup", 20_000);
    if let Some(o) = missed.as_object_mut() {
        o.remove("date_connected");
        o.insert("date_ended".into(), json!(ben.t0 + 20_000));
        o.insert("duration".into(), json!(19_900.0));
    }
    let events = vec![
        ben.agent("ringing", 100),
        ana.agent("ringing", 200),
        missed,
        ana.agent("connected", 25_000),
    ];
    (ana, events)
}

/// The call-center leg's hangup at `at` ms after the start.
fn cc_hangup_at(c: &Call, at: i64) -> Value {
    let mut e = c.cc_hangup(at);
    e["date_ended"] = json!(c.t0 + at - 100);
    e["duration"] = json!((at - 5_100) as f64);
    e
}

/// Runs every job due within `span`, the clock skipping ahead.
async fn pass(s: &Scenario, span: Duration) {
    assert!(
        s.host.settle(span, Duration::from_secs(120)).await,
        "the worker did not settle"
    );
}

fn logged(s: &Scenario) -> Vec<(Decision, Option<String>)> {
    s.host
        .reports()
        .into_iter()
        .filter(|r| {
            r.job == Some(JobKind::CallLog)
                && matches!(r.decision, Decision::Logged | Decision::Dropped)
        })
        .map(|r| (r.decision, r.reason.map(|r| r.as_str().to_owned())))
        .collect()
}

#[tokio::test]
async fn a_call_of_an_hour_and_a_half_is_logged_once_it_ends_with_its_disposition() {
    let s = known_family().await;
    let (c, events) = long_call(&s);
    s.play(&events).await;
    // Ninety minutes of talk: the unanswered agent's leg ended long ago.
    pass(&s, Duration::from_secs(90 * 60)).await;
    assert!(
        s.phone_logs().is_empty(),
        "not logged while the caller talks"
    );
    let end = 90 * MINUTE + 30_000;
    s.play(&[
        cc_hangup_at(&c, end),
        c.dispositions(&["Follow-Up Needed"], end + 20_000),
    ])
    .await;
    pass(&s, Duration::from_secs(30 * 60)).await;
    let logs = s.phone_logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].disposition, "Follow-Up Needed");
    assert_eq!(logged(&s), vec![(Decision::Logged, None)]);
    s.stop().await;
}

#[tokio::test]
async fn a_call_whose_end_never_comes_is_logged_after_four_silent_hours_and_says_so() {
    let s = known_family().await;
    let (c, events) = long_call(&s);
    s.play(&events).await;
    pass(&s, Duration::from_secs(3 * 3600 + 50 * 60)).await;
    assert!(
        s.phone_logs().is_empty(),
        "silent for less than 4 hours: waiting"
    );
    pass(&s, Duration::from_secs(30 * 60)).await;
    assert_eq!(s.phone_logs().len(), 1);
    assert_eq!(
        logged(&s),
        vec![(Decision::Logged, Some("logged_without_hangup".to_owned()))]
    );
    let (_, entry) = ledger::find(s.host.store.as_ref(), &c.agent_leg.to_string())
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("a ledger record"));
    assert_eq!(
        (entry.decision.as_deref(), entry.reason.as_deref()),
        (Some("logged"), Some("logged_without_hangup"))
    );
    s.stop().await;
}
