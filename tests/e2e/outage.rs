//! Hours in minutes: the stepped host's clock skips ahead to each delayed job, so a call of
//! an hour and a half, a hangup never heard, or a LineLeader outage of hours runs in seconds.
//! (Embedded adapters only: SQS's delays are real.)

use super::BACKEND;
use std::time::Duration;

use llbridge_tests::configs::{enablement, CALL_CENTER};
use llbridge_tests::events::Call;
use llbridge_tests::scenario::{data, family, Scenario};
use llbridge_usecases::jobs::JobKind;
use llbridge_usecases::ledger;
use llbridge_usecases::worker::Decision;
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
        BACKEND,
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
        (entry.decision.map(|d| d.as_str()), entry.reason.as_deref()),
        (Some("logged"), Some("logged_without_hangup"))
    );
    s.stop().await;
}

/// What a LineLeader outage cost: requests LineLeader received, call-log job deliveries,
/// phone logs per call, dead letters, and the report's recoveries.
#[derive(Debug, PartialEq, Eq)]
struct Cost {
    requests: usize,
    log_deliveries: usize,
    logs_per_call: Vec<usize>,
    dead_letters: usize,
    recovered: usize,
}

/// Ten calls the webhook delivered (all in Dialpad's call list too), logged a minute after
/// they end or at once (`task_queue`), while LineLeader answers 503 to everything for
/// `outage`; a reconciliation pass every `every` when given. Production retries (30 s
/// doubling to 15 minutes, for 6 hours).
async fn through_an_outage(outage: Duration, every: Option<Duration>, task_queue: bool) -> Cost {
    let now = chrono::Utc::now();
    let s = Scenario::start_tuned(
        BACKEND,
        vec![enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"enable_task_queue": task_queue, "screen_pop": false}),
        )],
        Some(data(now, vec![])),
        Duration::from_secs(60),
        |o| o.retry = llbridge_usecases::worker::RetryPolicy::default(),
    )
    .await;
    s.lineleader().set_faults(llbridge_sandbox::Faults {
        rules: vec![llbridge_sandbox::FaultRule {
            status: Some(503),
            ..Default::default()
        }],
        ..Default::default()
    });
    // The outage begins a little before the calls end: retries do not fall on its end.
    let lead = Duration::from_secs(5);
    assert!(s.host.run_for(lead, Duration::from_secs(10)).await);
    let calls: Vec<Call> = (0..10)
        .map(|i| s.call(40 + i, &format!("+1650555{i:04}")))
        .collect();
    for c in &calls {
        s.play(&[
            c.agent("connected", 5_100),
            c.dispositions(&["Follow-Up Needed"], 290_000),
            c.cc_hangup(295_200),
        ])
        .await;
        for leg in c.protos() {
            s.dialpad().add_call(leg);
        }
    }
    let step = every.unwrap_or(outage - lead);
    let mut elapsed = lead;
    while elapsed < outage {
        assert!(
            s.host.run_for(step, Duration::from_secs(120)).await,
            "the worker did not settle"
        );
        elapsed += step;
        if every.is_some() {
            s.host
                .reconciler
                .pass(None)
                .await
                .unwrap_or_else(|e| panic!("pass: {e}"));
        }
    }
    s.lineleader()
        .set_faults(llbridge_sandbox::Faults::default());
    assert!(
        s.host.drain(Duration::from_secs(120)).await,
        "the queue did not drain"
    );
    let logs = s.phone_logs();
    let cost = Cost {
        requests: s.lineleader().requests().len(),
        log_deliveries: s
            .host
            .reports()
            .iter()
            .filter(|r| r.job == Some(JobKind::CallLog))
            .count(),
        logs_per_call: calls
            .iter()
            .map(|c| {
                logs.iter()
                    .filter(|p| p.external_call_id == c.cc_leg.to_string())
                    .count()
            })
            .collect(),
        dead_letters: s.host.dead_letters().await.len(),
        recovered: ledger::between(
            s.host.store.as_ref(),
            now.timestamp_millis() - 3_600_000,
            now.timestamp_millis() + 3_600_000,
        )
        .await
        .unwrap_or_default()
        .iter()
        .filter(|e| e.recovered())
        .count(),
    };
    s.stop().await;
    cost
}

#[tokio::test]
async fn a_two_hour_lineleader_outage_costs_no_more_with_the_reconciler_every_ten_minutes() {
    let outage = Duration::from_secs(2 * 3600);
    let without = through_an_outage(outage, None, true).await;
    let with = through_an_outage(outage, Some(Duration::from_secs(600)), true).await;
    eprintln!("2 h outage: without the reconciler {without:?}; with it {with:?}");
    assert_eq!(without.logs_per_call, vec![1; 10], "{without:?}");
    assert_eq!(with.logs_per_call, vec![1; 10], "{with:?}");
    assert_eq!((with.dead_letters, with.recovered), (0, 0), "{with:?}");
    assert!(
        with.log_deliveries <= without.log_deliveries && with.requests <= without.requests,
        "no more jobs or LineLeader requests with the reconciler: {with:?} against {without:?}"
    );
}

#[tokio::test]
async fn a_thirty_second_lineleader_outage_costs_no_more_with_the_reconciler_every_two_seconds() {
    let outage = Duration::from_secs(30);
    let without = through_an_outage(outage, None, false).await;
    let with = through_an_outage(outage, Some(Duration::from_secs(2)), false).await;
    eprintln!("30 s outage: without the reconciler {without:?}; with it {with:?}");
    assert_eq!(with.logs_per_call, vec![1; 10], "{with:?}");
    assert_eq!((with.dead_letters, with.recovered), (0, 0), "{with:?}");
    assert!(without.log_deliveries > 10, "the outage bit: {without:?}");
    assert!(
        with.requests <= without.requests,
        "no more LineLeader requests with the reconciler: {with:?} against {without:?}"
    );
}

// ---- Retry-After ---------------------------------------------------------------------------

/// The delay a job's retry was given ("next in N s"), from its report.
fn retried_after(s: &Scenario) -> Vec<u64> {
    s.host
        .reports()
        .iter()
        .filter(|r| r.decision == Decision::Retry)
        .filter_map(|r| {
            let d = r.detail.as_deref()?;
            let n = d.split("next in ").nth(1)?.split(' ').next()?;
            n.parse().ok()
        })
        .collect()
}

#[tokio::test]
async fn a_lineleader_retry_after_defers_the_job_not_the_request() {
    let s = known_family().await;
    s.lineleader().set_faults(llbridge_sandbox::Faults {
        rules: vec![llbridge_sandbox::FaultRule {
            retry_after: Some("120".into()),
            ..llbridge_sandbox::FaultRule::fail("POST", "/in-contact/phone-logs", 429, Some(1))
        }],
        ..Default::default()
    });
    let c = s.call(1, "+14158159602");
    s.play(&llbridge_tests::scenario::answered(&c)).await;
    pass(&s, Duration::from_secs(10 * 60)).await;
    assert_eq!(s.phone_logs().len(), 1);
    assert_eq!(
        s.bodies("POST", "/in-contact/phone-logs").len(),
        2,
        "throttled once, then sent again by the job's retry"
    );
    assert_eq!(retried_after(&s), vec![120], "{:#?}", s.host.reports());
    s.stop().await;
}

#[tokio::test]
async fn a_leadsquared_retry_after_as_a_date_defers_the_job() {
    use llbridge_tests::configs::{
        leadsquared_enablement, LEADSQUARED_CALL_CENTER, LEADSQUARED_PHONE,
    };
    let s = Scenario::start_with(
        BACKEND,
        vec![leadsquared_enablement(
            LEADSQUARED_CALL_CENTER,
            json!({"enable_task_queue": false}),
        )],
        None,
        Duration::from_secs(1),
    )
    .await;
    let at = std::time::SystemTime::now() + Duration::from_secs(95);
    s.leadsquared().set_faults(llbridge_sandbox::Faults {
        rules: vec![llbridge_sandbox::FaultRule {
            retry_after: Some(httpdate::fmt_http_date(at)),
            ..llbridge_sandbox::FaultRule::fail("POST", "*LogCall*", 429, Some(1))
        }],
        ..Default::default()
    });
    let mut c = s.call(1, "+16508880001");
    c.call_center = LEADSQUARED_CALL_CENTER.into();
    c.call_center_phone = LEADSQUARED_PHONE.into();
    s.play(&llbridge_tests::scenario::answered(&c)).await;
    pass(&s, Duration::from_secs(10 * 60)).await;
    assert_eq!(s.leadsquared().call_logs().len(), 1);
    let after = retried_after(&s);
    assert_eq!(after.len(), 1, "{:#?}", s.host.reports());
    assert!(
        (90..=95).contains(&after[0]),
        "waited until the date: {after:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_reconciler_waits_as_dialpad_asks_within_its_budget_and_keeps_the_rest_beyond() {
    let s = known_family().await;
    let c = s.call(1, "+14158159602");
    for leg in c.protos() {
        s.dialpad().add_call(leg);
    }
    let throttled = |after: &str| llbridge_sandbox::Faults {
        rules: vec![llbridge_sandbox::FaultRule {
            retry_after: Some(after.into()),
            ..llbridge_sandbox::FaultRule::fail("GET", "/api/v2/call", 429, Some(1))
        }],
        ..Default::default()
    };
    // Asked to wait 2 s, within a budget of 10 s: it waits, then reads.
    s.dialpad().set_faults(throttled("2"));
    let began = std::time::Instant::now();
    let p = s
        .host
        .reconciler
        .pass_within(Some(Duration::from_secs(3600)), Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("pass: {e}"));
    assert!(began.elapsed() >= Duration::from_secs(2), "waited as asked");
    assert_eq!(
        (p.stopped.as_deref(), p.legs, p.windows_left),
        (None, 2, 0),
        "{p:?}"
    );
    // Asked to wait 10 minutes within a budget of 3 s: it stops at once and keeps the window.
    s.dialpad().set_faults(throttled("600"));
    let began = std::time::Instant::now();
    let p = s
        .host
        .reconciler
        .pass_within(Some(Duration::from_secs(3600)), Duration::from_secs(3))
        .await
        .unwrap_or_else(|e| panic!("pass: {e}"));
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "did not wait past its budget"
    );
    assert_eq!(p.stopped.as_deref(), Some("list_failed"), "{p:?}");
    assert!(p.windows_left >= 1, "the window is kept: {p:?}");
    s.stop().await;
}

// ---- Secrets that rotate ------------------------------------------------------------------------

#[tokio::test]
async fn a_rotated_lineleader_password_is_taken_without_a_restart() {
    let secrets = std::sync::Arc::new(llbridge_memory::MemorySecrets::new().with(
        "llbridge",
        r#"{"username": "llbridge", "password": "first-password"}"#,
    ));
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
        vec![enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"enable_task_queue": false, "screen_pop": false}),
        )],
        Some(data(now, vec![known])),
        Duration::from_secs(1),
        |o| {
            let mut doc = llbridge_tests::configs::document(
                vec![enablement(
                    "call_center",
                    Some(CALL_CENTER),
                    json!({"enable_task_queue": false, "screen_pop": false}),
                )],
                "sandbox",
                "sandbox",
            );
            doc["connections"]["main"]["username"] =
                json!({"secret": "llbridge", "key": "username"});
            doc["connections"]["main"]["password"] =
                json!({"secret": "llbridge", "key": "password"});
            o.installation = llbridge_tests::configs::installation(&doc);
            o.secrets = secrets.clone();
            o.sandbox.lineleader.username = "llbridge".into();
            o.sandbox.lineleader.password = "first-password".into();
            o.retry = llbridge_usecases::worker::RetryPolicy::default();
        },
    )
    .await;
    s.play(&llbridge_tests::scenario::answered(
        &s.call(1, "+14158159602"),
    ))
    .await;
    pass(&s, Duration::from_secs(60)).await;
    assert_eq!(s.phone_logs().len(), 1);
    // The password is rotated, in LineLeader and in the secret; the old token is gone.
    let mut config = s.lineleader().config();
    config.password = "second-password".into();
    s.lineleader().set_config(config);
    s.lineleader().revoke_tokens();
    secrets.set(
        "llbridge",
        r#"{"username": "llbridge", "password": "second-password"}"#,
    );
    s.play(&llbridge_tests::scenario::answered(
        &s.call(2, "+14158159602"),
    ))
    .await;
    pass(&s, Duration::from_secs(15 * 60)).await;
    assert_eq!(
        s.phone_logs().len(),
        2,
        "logged with the new password, no restart: {:#?}",
        s.host.reports().last()
    );
    assert!(s.host.dead_letters().await.is_empty());
    s.stop().await;
}
