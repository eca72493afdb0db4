//! Writes whose answer is lost: LineLeader takes the write, then answers a 5xx or stalls past
//! the client's timeout. Every effect must still happen exactly once: one family per new
//! caller, one phone log per call, one event, one task completed (the one due first) and one
//! status change per Event-mode call. And where the tenant cannot say whether a write
//! happened, the enablement's `unknown_outcome` policy decides, and says so.

use super::BACKEND;
use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Duration as Span, Utc};
use llbridge_sandbox::{Dataset, FaultRule, Faults, LineLeaderConfig, SbTask};
use llbridge_tests::configs::{enablement, left_voicemail_event_mode, CALL_CENTER};
use llbridge_tests::events::Call;
use llbridge_tests::scenario::{answered, data, family, Scenario};
use llbridge_usecases::effect::Timing;
use llbridge_usecases::worker::RetryPolicy;
use serde_json::{json, Value};

/// The Event-mode call center, whose number is Elm Street's call-center phone.
const EVENT_CALL_CENTER: &str = "4716644561813999";
const ELM_STREET_PHONE: &str = "+14155550101";
const NEW_LEAD: u64 = 1;
const CONTACTED: u64 = 2;
const PHONE_CALL_TASK_TYPE: u64 = 31;

fn phone_log_enablement() -> Value {
    enablement(
        "call_center",
        Some(CALL_CENTER),
        json!({"enable_task_queue": false, "screen_pop": false}),
    )
}

fn event_enablement() -> Value {
    enablement(
        "call_center",
        Some(EVENT_CALL_CENTER),
        json!({"enable_task_queue": false, "screen_pop": false,
            "call_log": left_voicemail_event_mode()}),
    )
}

fn new_caller(i: u64) -> String {
    format!("+1650777{i:04}")
}

fn known_caller(i: u64) -> String {
    format!("+1415666{i:04}")
}

/// `n` Event-mode families at Elm Street, New Leads, each with two open "Phone Call" tasks
/// due today: the first due a few seconds before the other.
fn dataset(n: u64) -> Dataset {
    let now = Utc::now();
    let families = (0..n)
        .map(|i| {
            family(
                3000 + i,
                &known_caller(i),
                102,
                NEW_LEAD,
                now - Span::days(3),
            )
        })
        .collect();
    let mut d = data(now, families);
    let task = |id, family_id, due| SbTask::open(id, family_id, PHONE_CALL_TASK_TYPE, due);
    // The calls end about 5 s before now; both tasks fall on that day in every time zone.
    let due = now - Span::seconds(5);
    d.tasks = (0..n)
        .flat_map(|i| {
            [
                task(8000 + 2 * i, 3000 + i, due - Span::seconds(2)),
                task(8001 + 2 * i, 3000 + i, due),
            ]
        })
        .collect();
    d
}

/// A quarter of the writes take effect and lose their answer: half to a 503, half to a stall
/// past the client's timeout.
fn lost_answers(share: f64) -> Faults {
    let writes = [
        ("POST", "/families"),
        ("POST", "/in-contact/phone-logs"),
        ("POST", "/events"),
        ("PUT", "/tasks/*"),
        ("PUT", "/families/*/status"),
    ];
    let half = share / 2.0;
    Faults {
        hang_ms: 1_000,
        rules: writes
            .iter()
            .flat_map(|(m, p)| {
                [
                    FaultRule::lose_answer(m, p, 503, half),
                    // Applied to the requests the first rule left: half of the share overall.
                    FaultRule::stall_after_write(m, p, half / (1.0 - half)),
                ]
            })
            .collect(),
        ..Faults::default()
    }
}

async fn start(n: u64, lineleader: LineLeaderConfig, policy: &str) -> Scenario {
    let mut enablements = vec![phone_log_enablement(), event_enablement()];
    for e in &mut enablements {
        e["unknown_outcome"] = json!(policy);
    }
    Scenario::start_tuned(
        BACKEND,
        enablements,
        Some(dataset(n)),
        Duration::from_secs(1),
        |o| {
            // Writes of at most 1.6 s (requests time out after 0.8 s, before the 1 s stalls end),
            // leases of 9.6 s; retries for a minute, so that no conversation is given up while
            // answers keep getting lost.
            o.timing = Timing::for_job_budget(Duration::from_secs(4));
            o.retry = RetryPolicy {
                first: Duration::from_millis(100),
                max: Duration::from_secs(1),
                horizon: Duration::from_secs(60),
            };
            o.sandbox.lineleader = lineleader;
        },
    )
    .await
}

fn phone_log_call(s: &Scenario, i: u64) -> Call {
    s.call(i, &new_caller(i))
}

fn event_call(s: &Scenario, i: u64) -> Call {
    let mut c = s.call(500 + i, &known_caller(i));
    c.call_center = EVENT_CALL_CENTER.into();
    c.call_center_phone = ELM_STREET_PHONE.into();
    c
}

/// Plays `logs` Phone Log calls from new callers and `events` Event-mode calls, interleaved,
/// and waits until every conversation is settled (logged, or reported otherwise).
async fn play(s: &Scenario, logs: u64, events: u64) -> (Vec<Call>, Vec<Call>) {
    let logs: Vec<Call> = (0..logs).map(|i| phone_log_call(s, i)).collect();
    let events: Vec<Call> = (0..events).map(|i| event_call(s, i)).collect();
    for i in 0..logs.len().max(events.len()) {
        if let Some(a) = logs.get(i) {
            s.play(&answered(a)).await;
        }
        if let Some(b) = events.get(i) {
            s.play(&[
                b.agent("connected", 5_100),
                b.dispositions(&["Left Voicemail"], 296_000),
                b.cc_hangup(295_200),
            ])
            .await;
        }
    }
    let total = logs.len() + events.len();
    s.settle_until(async || s.settled_logs().len() >= total)
        .await;
    assert!(
        s.host.drain(Duration::from_secs(60)).await,
        "the queue did not drain"
    );
    (logs, events)
}

/// Writes that took effect and lost their answer: a 5xx after the write, or a stall the
/// client gave up on (status 0: no answer was ever sent).
fn lost(s: &Scenario) -> usize {
    s.lineleader()
        .requests()
        .iter()
        .filter(|r| r.answer_lost || (r.status == 0 && r.method != "GET"))
        .count()
}

#[tokio::test]
async fn forty_conversations_with_a_quarter_of_the_answers_lost_give_every_effect_once() {
    // `LLBRIDGE_LOST_ANSWERS_CONVERSATIONS` sizes a longer run (half of each kind).
    let n: u64 = std::env::var("LLBRIDGE_LOST_ANSWERS_CONVERSATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(40, |n: u64| n.max(2))
        / 2;
    let s = start(n, LineLeaderConfig::default(), "retry").await;
    s.lineleader().set_faults(lost_answers(0.25));
    let (logs, events) = play(&s, n, n).await;
    let state = s.lineleader().state().data;
    assert!(
        lost(&s) as u64 >= n / 3,
        "the fault injection must have bitten: {} lost answers",
        lost(&s)
    );

    // Every conversation logged.
    let decisions = s.settled_logs();
    assert_eq!(decisions.len(), 2 * n as usize, "{decisions:?}");
    assert!(
        decisions.values().all(|(d, _)| d == "logged"),
        "{decisions:?}"
    );
    assert!(s.host.dead_letters().await.is_empty());

    // One family per new caller, and each caller's calls on it.
    let created = s.created_families();
    let mut phones: Vec<&str> = created.iter().map(|f| f.phone.as_str()).collect();
    phones.sort();
    phones.dedup();
    assert_eq!(created.len(), n as usize, "{created:?}");
    assert_eq!(phones.len(), n as usize, "one family per caller");

    // One phone log per Phone Log call, on that caller's family.
    assert_eq!(
        state.phone_logs.len(),
        n as usize,
        "{:?}",
        state
            .phone_logs
            .iter()
            .map(|p| &p.external_call_id)
            .collect::<Vec<_>>()
    );
    for c in &logs {
        let mine: Vec<_> = state
            .phone_logs
            .iter()
            .filter(|p| p.external_call_id == c.cc_leg.to_string())
            .collect();
        assert_eq!(mine.len(), 1, "call {}", c.cc_leg);
        let fam = created
            .iter()
            .find(|f| f.id == mine[0].family_id)
            .expect("a created family");
        assert_eq!(fam.phone, c.caller[2..], "{fam:?}");
    }

    // One event, one task (the one due first) and one status change per Event-mode call.
    assert_eq!(
        state.events.len(),
        n as usize,
        "{:?}",
        state.events.iter().map(|e| e.family_id).collect::<Vec<_>>()
    );
    for (i, c) in events.iter().enumerate() {
        let family_id = 3000 + i as u64;
        let mine: Vec<_> = state
            .events
            .iter()
            .filter(|e| e.description.contains(&c.cc_leg.to_string()))
            .collect();
        assert_eq!(mine.len(), 1, "call {}", c.cc_leg);
        assert_eq!(mine[0].family_id, family_id);
        let done: BTreeSet<u64> = state
            .tasks
            .iter()
            .filter(|t| t.family_id == family_id && t.is_completed)
            .map(|t| t.id)
            .collect();
        assert_eq!(
            done,
            BTreeSet::from([8000 + 2 * i as u64]),
            "family {family_id}"
        );
        assert_eq!(mine[0].task_id, Some(8000 + 2 * i as u64));
    }
    let changes: Vec<_> = state
        .status_changes
        .iter()
        .map(|c| (c.family_id, c.from_status_id, c.to_status_id))
        .collect();
    assert_eq!(changes.len(), n as usize, "{changes:?}");
    assert!(changes
        .iter()
        .all(|(_, from, to)| (*from, *to) == (NEW_LEAD, CONTACTED)));
    s.stop().await;
}

/// A tenant without P2: a phone log whose answer was lost cannot be looked up.
fn without_phone_log_lookup() -> LineLeaderConfig {
    LineLeaderConfig {
        phone_log_lookup: false,
        ..LineLeaderConfig::default()
    }
}

fn first_phone_log_answer_lost() -> Faults {
    Faults {
        rules: vec![FaultRule {
            times: Some(1),
            ..FaultRule::lose_answer("POST", "/in-contact/phone-logs", 502, 1.0)
        }],
        ..Faults::default()
    }
}

#[tokio::test]
async fn hold_writes_nothing_twice_and_reports_needs_review() {
    let s = start(0, without_phone_log_lookup(), "hold").await;
    s.lineleader().set_faults(first_phone_log_answer_lost());
    play(&s, 1, 0).await;
    assert_eq!(
        s.phone_logs().len(),
        1,
        "the lost write happened; no second"
    );
    assert_eq!(s.bodies("POST", "/in-contact/phone-logs").len(), 1);
    let decisions: Vec<_> = s.settled_logs().into_values().collect();
    assert_eq!(
        decisions,
        vec![("needs_review".to_string(), Some("needs_review".to_string()))]
    );
    let step = s.step("phone_log").await.expect("recorded");
    assert_eq!(step["needs_review"], "lookup_unavailable", "{step}");
    assert!(
        s.host.dead_letters().await.is_empty(),
        "reported, not retried"
    );
    s.stop().await;
}

#[tokio::test]
async fn hold_writes_nothing_twice_where_the_lookup_ignores_its_filter() {
    // P2 answers every phone log, without the Dialpad call id it was asked for: "not among
    // them" proves nothing.
    let s = start(
        0,
        LineLeaderConfig {
            lookups_ignore_filters: true,
            ..LineLeaderConfig::default()
        },
        "hold",
    )
    .await;
    s.lineleader().set_faults(first_phone_log_answer_lost());
    play(&s, 1, 0).await;
    assert_eq!(
        s.bodies("POST", "/in-contact/phone-logs").len(),
        1,
        "not sent twice"
    );
    let decisions: Vec<_> = s.settled_logs().into_values().collect();
    assert_eq!(
        decisions,
        vec![("needs_review".to_string(), Some("needs_review".to_string()))]
    );
    let step = s.step("phone_log").await.expect("recorded");
    assert_eq!(step["needs_review"], "lookup_unavailable", "{step}");
    s.stop().await;
}

#[tokio::test]
async fn retry_writes_again_and_says_it_may_be_a_duplicate() {
    let s = start(0, without_phone_log_lookup(), "retry").await;
    s.lineleader().set_faults(first_phone_log_answer_lost());
    play(&s, 1, 0).await;
    assert_eq!(
        s.phone_logs().len(),
        2,
        "at least once: written again without a way to look"
    );
    let decisions: Vec<_> = s.settled_logs().into_values().collect();
    assert_eq!(decisions, vec![("logged".to_string(), None)]);
    let step = s.step("phone_log").await.expect("recorded");
    assert_eq!(step["how"], "possible_duplicate", "{step}");
    s.stop().await;
}

#[tokio::test]
async fn a_rejected_write_is_reported_once_and_acknowledged() {
    let s = start(0, LineLeaderConfig::default(), "retry").await;
    s.lineleader().set_faults(Faults {
        rules: vec![FaultRule::fail("POST", "/in-contact/phone-logs", 422, None)],
        ..Faults::default()
    });
    play(&s, 1, 0).await;
    assert_eq!(
        s.bodies("POST", "/in-contact/phone-logs").len(),
        1,
        "a 4xx is not retried"
    );
    let decisions: Vec<_> = s.settled_logs().into_values().collect();
    assert_eq!(
        decisions,
        vec![(
            "failed".to_string(),
            Some("lineleader_rejected".to_string())
        )]
    );
    assert!(
        s.host.dead_letters().await.is_empty(),
        "acknowledged, not sent to the dead-letter queue"
    );
    s.stop().await;
}
