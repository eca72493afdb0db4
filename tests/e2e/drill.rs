//! The outage drill: the safety net holds when it is needed. A store that fails at the worst
//! moment, a LineLeader that refuses or answers differently from the sandbox, a long call, a
//! disposition that comes while the log is being retried. Each case asserts what LineLeader
//! received and what the ledger says.

use super::BACKEND;
use std::sync::Arc;
use std::time::Duration;

use llbridge_tests::configs::{enablement, CALL_CENTER};
use llbridge_tests::faulty_store::{FaultyStore, WriteFault};
use llbridge_tests::scenario::{answered, data, family, Scenario};
use llbridge_usecases::ledger;
use llbridge_usecases::ports::Store;
use serde_json::json;

/// The ledger's record of the conversation `call_id` is part of.
async fn ledger_of(s: &Scenario, call_id: &str) -> ledger::Entry {
    ledger::find(s.host.store.as_ref(), call_id)
        .await
        .unwrap_or_else(|e| panic!("ledger: {e}"))
        .unwrap_or_else(|| panic!("no ledger record for {call_id}"))
        .1
}

#[tokio::test]
async fn a_store_failure_between_the_log_and_its_ledger_leaves_the_call_accounted_for() {
    let now = chrono::Utc::now();
    let known = family(
        1001,
        "(415) 815-9602",
        101,
        1,
        now - chrono::Duration::days(3),
    );
    // The first write that settles the ledger as logged fails: the store is down for it.
    let fault = WriteFault {
        prefix: "ledger#".into(),
        containing: "\"decision\":\"logged\"".into(),
        times: 1,
    };
    let faulty = std::sync::OnceLock::new();
    let s = Scenario::start_with_store(
        BACKEND,
        vec![enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"enable_task_queue": false, "screen_pop": false}),
        )],
        Some(data(now, vec![known])),
        Duration::from_secs(1),
        |_| {},
        |inner| {
            let store = Arc::new(FaultyStore::new(inner, vec![fault]));
            let _ = faulty.set(store.clone());
            store as Arc<dyn Store>
        },
    )
    .await;
    let call = s.call(1, "+14158159602");
    s.play(&answered(&call)).await;
    s.settle_until(async || {
        ledger::find(s.host.store.as_ref(), &call.cc_leg.to_string())
            .await
            .ok()
            .flatten()
            .is_some_and(|(_, e)| e.is_final())
    })
    .await;
    let failed = faulty.get().map(|f| f.failed()).unwrap_or_default();
    assert_eq!(failed.len(), 1, "the fault bit: {failed:?}");
    assert_eq!(s.phone_logs().len(), 1, "logged once");
    let entry = ledger_of(&s, &call.cc_leg.to_string()).await;
    assert_eq!(
        entry.decision.map(|d| d.as_str()),
        Some("logged"),
        "{entry:?}"
    );
    assert!(
        entry
            .effects
            .as_ref()
            .and_then(|e| e.get("phone_log_id"))
            .is_some(),
        "{entry:?}"
    );
    s.stop().await;
}

// ---- Event mode: what can never succeed, and what waits for a disposition -----------------

const FAMILY: u64 = 1001;
const CALLER: &str = "+14158159602";
const PHONE_CALL_TASK_TYPE: u64 = 31;
const NEW_LEAD: u64 = 1;
const CONTACTED: u64 = 2;

/// Family 1001 (a New Lead at Oak Park) with an open "Phone Call" task due now.
fn event_data() -> llbridge_sandbox::Dataset {
    let now = chrono::Utc::now();
    let mut d = data(
        now,
        vec![family(
            FAMILY,
            "(415) 815-9602",
            101,
            NEW_LEAD,
            now - chrono::Duration::days(3),
        )],
    );
    d.tasks = vec![llbridge_sandbox::SbTask::open(
        5001,
        FAMILY,
        PHONE_CALL_TASK_TYPE,
        now,
    )];
    d
}

/// Event mode on "Left Voicemail", logged as soon as the call ends.
async fn event_scenario(tune: impl FnOnce(&mut llbridge_local_host::Options)) -> Scenario {
    Scenario::start_tuned(
        BACKEND,
        vec![enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"enable_task_queue": false, "screen_pop": false,
                "call_log": llbridge_tests::configs::left_voicemail_event_mode()}),
        )],
        Some(event_data()),
        Duration::from_secs(1),
        tune,
    )
    .await
}

/// A "Left Voicemail" call whose status change fails (503) through its first delivery,
/// the request's own retries included; the first delivery has run.
async fn a_voicemail_whose_status_change_fails_once() -> (Scenario, llbridge_tests::events::Call) {
    let s = event_scenario(|o| {
        o.sandbox.lineleader_faults = llbridge_sandbox::Faults {
            rules: vec![llbridge_sandbox::FaultRule::fail(
                "PUT",
                "/families/*/status",
                503,
                Some(4),
            )],
            ..Default::default()
        };
        o.retry.first = Duration::from_secs(2);
    })
    .await;
    let c = s.call(1, CALLER);
    s.play(&[
        c.agent("connected", 5_100),
        c.dispositions(&["Left Voicemail"], 290_000),
        c.cc_hangup(295_200),
    ])
    .await;
    s.run_due(Duration::from_secs(1)).await;
    (s, c)
}

fn call_log_reports(s: &Scenario, decision: llbridge_usecases::worker::Decision) -> usize {
    s.host
        .reports()
        .iter()
        .filter(|r| {
            r.job == Some(llbridge_usecases::jobs::JobKind::CallLog) && r.decision == decision
        })
        .count()
}

#[tokio::test]
async fn a_refused_read_in_event_mode_is_said_once_and_the_steps_that_do_not_need_it_run() {
    let s = event_scenario(|o| {
        // Staff is refused for good: the task and the event need it, the status does not.
        o.sandbox.lineleader_faults = llbridge_sandbox::Faults {
            rules: vec![llbridge_sandbox::FaultRule::fail(
                "GET", "/staff", 403, None,
            )],
            ..Default::default()
        };
    })
    .await;
    let c = s.call(1, CALLER);
    s.play(&[
        c.agent("connected", 5_100),
        c.dispositions(&["Left Voicemail"], 290_000),
        c.cc_hangup(295_200),
    ])
    .await;
    s.settle_until(async || !s.settled_logs().is_empty()).await;
    let decisions: Vec<_> = s.settled_logs().into_values().collect();
    assert_eq!(
        decisions,
        vec![("failed".to_owned(), Some("lineleader_rejected".to_owned()))]
    );
    assert_eq!(
        call_log_reports(&s, llbridge_usecases::worker::Decision::Retry),
        0,
        "a refusal is not retried"
    );
    assert!(s.host.dead_letters().await.is_empty());
    let state = s.lineleader().state().data;
    assert!(state.events.is_empty(), "no staff, no event");
    assert!(state.tasks.iter().all(|t| !t.is_completed));
    let changes: Vec<_> = state
        .status_changes
        .iter()
        .map(|c| (c.family_id, c.from_status_id, c.to_status_id))
        .collect();
    assert_eq!(
        changes,
        vec![(FAMILY, NEW_LEAD, CONTACTED)],
        "the status still moves"
    );
    assert_eq!(
        s.bodies("GET", "/staff").len(),
        1,
        "read once, refused once"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_disposition_that_comes_while_the_log_is_retried_completes_the_task_and_moves_the_status()
{
    let s = event_scenario(|o| {
        // The event's answer is lost on the first delivery; the retry comes 2 s later.
        o.sandbox.lineleader_faults = llbridge_sandbox::Faults {
            rules: vec![llbridge_sandbox::FaultRule {
                times: Some(1),
                ..llbridge_sandbox::FaultRule::lose_answer("POST", "/events", 503, 1.0)
            }],
            ..Default::default()
        };
        o.retry.first = Duration::from_secs(2);
    })
    .await;
    let c = s.call(1, CALLER);
    s.play(&[
        c.agent("connected", 5_100),
        c.agent("hangup", 295_050),
        c.cc_hangup(295_200),
    ])
    .await;
    // The first delivery: no disposition yet (task and status skipped for want of one), the
    // event written and its answer lost.
    s.run_due(Duration::from_secs(1)).await;
    s.play(&[c.dispositions(&["Left Voicemail"], 296_000)])
        .await;
    s.settle_until(async || {
        s.settled_logs().len() == 1 && !s.lineleader().state().data.status_changes.is_empty()
    })
    .await;
    let state = s.lineleader().state().data;
    assert_eq!(state.events.len(), 1, "one event");
    let done: Vec<u64> = state
        .tasks
        .iter()
        .filter(|t| t.is_completed)
        .map(|t| t.id)
        .collect();
    assert_eq!(
        done,
        vec![5001],
        "the due task, completed with the disposition's result"
    );
    let changes: Vec<_> = state
        .status_changes
        .iter()
        .map(|c| (c.from_status_id, c.to_status_id))
        .collect();
    assert_eq!(changes, vec![(NEW_LEAD, CONTACTED)], "moved once");
    s.stop().await;
}

// ---- LeadSquared -----------------------------------------------------------------------------

#[tokio::test]
async fn a_call_log_refused_as_a_duplicate_on_its_first_post_is_not_counted_as_logged() {
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
    let mut c = s.call(1, "+16508880001");
    c.call_center = LEADSQUARED_CALL_CENTER.into();
    c.call_center_phone = LEADSQUARED_PHONE.into();
    // Something else already logged a call with this session id.
    let (status, _) = s
        .leadsquared()
        .log_call(&llbridge_tests::leadsquared::call_log(
            &c.cc_leg.to_string(),
        ));
    assert_eq!(status, 200);
    s.play(&answered(&c)).await;
    s.settle_until(async || !s.settled_logs().is_empty()).await;
    let decisions: Vec<_> = s.settled_logs().into_values().collect();
    assert_eq!(
        decisions,
        vec![("failed".to_owned(), Some("leadsquared_rejected".to_owned()))],
        "not this call's log"
    );
    let trace = llbridge_usecases::trace::trace(s.host.store.as_ref(), &c.cc_leg.to_string())
        .await
        .ok()
        .flatten()
        .expect("a trace");
    assert_eq!(
        trace
            .claims
            .get("leadsquared_call_log")
            .and_then(|v| v.outcome.clone())
            .map(|o| o["how"].clone()),
        Some(json!("rejected")),
        "{:?}",
        trace.claims
    );
    s.stop().await;
}

#[tokio::test]
async fn a_family_that_appears_between_two_attempts_does_not_move_a_half_logged_call() {
    // The status change fails through the first delivery (the request's own retries
    // included): the task and the event are written, the status is not.
    let (s, c) = a_voicemail_whose_status_change_fails_once().await;
    // Meanwhile staff add a second family with the same number, as old as the first, at the
    // same center: a fresh match could not tell them apart.
    let created = chrono::Utc::now() - chrono::Duration::days(3);
    s.lineleader().with_data(|d| {
        d.families
            .push(family(1002, "415-815-9602", 101, NEW_LEAD, created))
    });
    s.settle_until(async || {
        s.settled_logs().len() == 1 && !s.lineleader().state().data.status_changes.is_empty()
    })
    .await;
    let decisions: Vec<_> = s.settled_logs().into_values().collect();
    assert_eq!(decisions, vec![("logged".to_owned(), None)]);
    let state = s.lineleader().state().data;
    let events: Vec<u64> = state.events.iter().map(|e| e.family_id).collect();
    assert_eq!(events, vec![FAMILY]);
    let changes: Vec<_> = state.status_changes.iter().map(|c| c.family_id).collect();
    assert_eq!(
        changes,
        vec![FAMILY],
        "the status moves on the family the log began on"
    );
    let entry = ledger_of(&s, &c.cc_leg.to_string()).await;
    assert_eq!(
        entry
            .family
            .as_ref()
            .and_then(|f| f.get("id"))
            .and_then(|v| v.as_str()),
        Some("1001"),
        "{entry:?}"
    );
    s.stop().await;
}

// ---- The reconciler and the webhook ------------------------------------------------------------

#[tokio::test]
async fn a_call_the_webhook_delivered_is_not_counted_as_recovered_though_the_reconciler_got_there_first(
) {
    let s = Scenario::with_known_family(
        BACKEND,
        json!({"enable_task_queue": false, "screen_pop": false}),
    )
    .await;
    let c = s.call(1, "+14158159602");
    for leg in c.protos() {
        s.dialpad().add_call(leg);
    }
    // The reconciler finds the call in Dialpad's list before the webhook's delivery lands.
    let pass = s
        .host
        .reconciler
        .pass(Some(Duration::from_secs(3600)))
        .await
        .unwrap_or_else(|e| panic!("pass: {e}"));
    assert_eq!(pass.fed.len(), 2, "{pass:?}");
    s.play(&answered(&c)).await;
    s.settle_until(async || s.phone_logs().len() == 1 && !s.settled_logs().is_empty())
        .await;
    if !BACKEND.is_aws() {
        // Every job run, the re-checks put off for minutes too (SQS's delays are real).
        assert!(s.host.drain(Duration::from_secs(60)).await);
    }
    assert_eq!(s.phone_logs().len(), 1, "logged once");
    let entry = ledger_of(&s, &c.cc_leg.to_string()).await;
    assert_eq!(
        (
            entry.decision.map(|d| d.as_str()),
            entry.source.map_or("", |s| s.as_str())
        ),
        (Some("logged"), "webhook"),
        "the webhook delivered it: {entry:?}"
    );
    s.stop().await;
}

/// `n` calls the webhook never heard of, spread over the last five hours, in Dialpad's call
/// list only.
fn missed_calls(s: &Scenario, n: u64) -> Vec<llbridge_tests::events::Call> {
    let now = chrono::Utc::now().timestamp_millis();
    (0..n)
        .map(|i| {
            let t0 = now - 5 * 3_600_000 + (i as i64) * (5 * 3_600_000 / n as i64) + 60_000;
            let c = llbridge_tests::events::Call::new(300 + i, &format!("+1650444{i:04}"), t0);
            for leg in c.protos() {
                s.dialpad().add_call(leg);
            }
            c
        })
        .collect()
}

#[tokio::test]
async fn passes_cut_short_by_their_page_limit_resume_where_they_stopped_until_every_call_is_logged()
{
    let s = Scenario::start_tuned(
        BACKEND,
        vec![enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"enable_task_queue": false, "screen_pop": false}),
        )],
        None,
        Duration::from_secs(1),
        |o| {
            // Two pages of four legs a pass: a pass reads eight of the sixty legs (and the
            // scheduled windows look back 10 minutes, not 2 hours, to leave room for them).
            o.reconcile.max_pages = 2;
            o.reconcile.overlap = Duration::from_secs(600);
            o.reconcile.pace = Duration::from_millis(1);
            o.sandbox.dialpad.call_page_size = 4;
        },
    )
    .await;
    let calls = missed_calls(&s, 30);
    let first = s
        .host
        .reconciler
        .pass(Some(Duration::from_secs(6 * 3600)))
        .await
        .unwrap_or_else(|e| panic!("pass: {e}"));
    assert_eq!(
        first.stopped.as_deref(),
        Some("too_many_pages"),
        "{first:?}"
    );
    assert_eq!(first.windows_left, 1, "the unread part is kept: {first:?}");
    // Scheduled passes finish the work, the oldest window first: until it is read, nothing
    // older than its start counts as looked at.
    let oldest = first.covered_until;
    let mut passes = 1;
    loop {
        let p = s
            .host
            .reconciler
            .pass(None)
            .await
            .unwrap_or_else(|e| panic!("pass: {e}"));
        passes += 1;
        if p.fed.len() + p.alive + p.accounted < 60 && passes < 6 {
            assert_eq!(p.covered_until, oldest, "the oldest window first: {p:?}");
        }
        if p.windows_left == 0 {
            break;
        }
        assert!(passes < 40, "the work does not end: {p:?}");
    }
    s.settle_until(async || s.phone_logs().len() >= calls.len())
        .await;
    let logs = s.phone_logs();
    for c in &calls {
        let mine = logs
            .iter()
            .filter(|p| p.external_call_id == c.cc_leg.to_string())
            .count();
        assert_eq!(mine, 1, "call {} logged once", c.cc_leg);
    }
    assert_eq!(logs.len(), calls.len());
    assert!(passes >= 8, "sixty legs, eight a pass: {passes} passes");
    s.stop().await;
}

#[tokio::test]
async fn a_status_change_retried_after_a_failure_checks_its_required_status_again() {
    // The status change fails through the first delivery: whether it happened is not
    // known ("Left Voicemail (New Lead)": only a New Lead moves to Contacted).
    let (s, c) = a_voicemail_whose_status_change_fails_once().await;
    // Meanwhile staff book the family a tour: it is no New Lead any more.
    const TOUR_SCHEDULED: u64 = 3;
    s.lineleader().with_data(|d| {
        if let Some(f) = d.families.iter_mut().find(|f| f.id == FAMILY) {
            f.status_id = TOUR_SCHEDULED;
        }
    });
    s.settle_until(async || !s.settled_logs().is_empty()).await;
    let state = s.lineleader().state().data;
    assert!(
        state.status_changes.is_empty(),
        "{:?}",
        state.status_changes
    );
    assert_eq!(
        state
            .families
            .iter()
            .find(|f| f.id == FAMILY)
            .map(|f| f.status_id),
        Some(TOUR_SCHEDULED),
        "the staff's change stands"
    );
    let entry = ledger_of(&s, &c.cc_leg.to_string()).await;
    assert_eq!(
        entry.decision.map(|d| d.as_str()),
        Some("logged"),
        "{entry:?}"
    );
    assert_eq!(
        entry
            .effects
            .as_ref()
            .map(|e| e["status"]["skipped"].clone()),
        Some(json!("status_condition_failed")),
        "{entry:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_call_log_refused_for_a_wrong_setting_runs_again_once_fixed_and_writes_nothing_twice() {
    let s = event_scenario(|o| {
        // The status route answers 400 (a setting of the tenant that is wrong): the event is
        // written, the status change refused.
        o.sandbox.lineleader_faults = llbridge_sandbox::Faults {
            rules: vec![llbridge_sandbox::FaultRule::fail(
                "PUT",
                "/families/*/status",
                400,
                None,
            )],
            ..Default::default()
        };
    })
    .await;
    let c = s.call(1, CALLER);
    s.play(&[
        c.agent("connected", 5_100),
        c.dispositions(&["Left Voicemail"], 290_000),
        c.cc_hangup(295_200),
    ])
    .await;
    s.settle_until(async || !s.settled_logs().is_empty()).await;
    let decisions: Vec<_> = s.settled_logs().into_values().collect();
    assert_eq!(
        decisions,
        vec![("failed".to_owned(), Some("lineleader_rejected".to_owned()))]
    );
    assert_eq!(s.lineleader().state().data.events.len(), 1);
    // The setting is fixed; the admin runs the refused calls again.
    s.lineleader()
        .set_faults(llbridge_sandbox::Faults::default());
    let url = format!(
        "http://{}/_llbridge/replay?since_secs=3600&reason=lineleader_rejected",
        s.host.addr
    );
    let answer: serde_json::Value = reqwest::Client::new()
        .post(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let replayed = answer["replayed"].as_array().cloned().unwrap_or_default();
    assert_eq!(replayed.len(), 1, "{answer}");
    assert_eq!(replayed[0]["reopened"], json!(["status"]), "{answer}");
    s.settle_until(async || {
        !s.lineleader().state().data.status_changes.is_empty()
            && ledger::find(s.host.store.as_ref(), &c.cc_leg.to_string())
                .await
                .ok()
                .flatten()
                .is_some_and(|(_, e)| e.decision.map(|d| d.as_str()) == Some("logged"))
    })
    .await;
    let state = s.lineleader().state().data;
    assert_eq!(state.events.len(), 1, "the event is not written again");
    let changes: Vec<_> = state
        .status_changes
        .iter()
        .map(|c| (c.from_status_id, c.to_status_id))
        .collect();
    assert_eq!(changes, vec![(NEW_LEAD, CONTACTED)]);
    let done: Vec<u64> = state
        .tasks
        .iter()
        .filter(|t| t.is_completed)
        .map(|t| t.id)
        .collect();
    assert_eq!(done, vec![5001], "the task completed once");
    let entry = ledger_of(&s, &c.cc_leg.to_string()).await;
    assert_eq!(
        (entry.decision.map(|d| d.as_str()), entry.replays),
        (Some("logged"), 1),
        "{entry:?}"
    );
    s.stop().await;
}
