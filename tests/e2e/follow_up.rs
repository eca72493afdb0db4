//! The complete log: a disposition that came after the log still completes the task and moves
//! the status (Event mode), and follow-up tasks from missed calls, voicemails and Dialpad Ai
//! action items, each created once, under retries and lost answers.

use super::BACKEND;
use chrono::{Duration as Minutes, Utc};
use llbridge_sandbox::{Dataset, FaultRule, Faults, SbTask};
use llbridge_tests::configs::left_voicemail_event_mode;
use llbridge_tests::events::Call;
use llbridge_tests::scenario::{data, family, Scenario};
use serde_json::{json, Value};

const FAMILY: u64 = 1001;
const CALLER: &str = "+14158159602";
const PHONE_CALL_TASK_TYPE: u64 = 31;
const NEW_LEAD: u64 = 1;
const CONTACTED: u64 = 2;

fn follow_ups() -> Value {
    json!({"task_type": "Phone Call", "from_action_items": true, "missed_calls": true, "due_in_minutes": 60, "assign_to": "agent"})
}

fn event_mode() -> Value {
    json!({"enable_task_queue": true, "screen_pop": false, "call_log": left_voicemail_event_mode()})
}

fn phone_log_with_follow_ups() -> Value {
    json!({
        "enable_task_queue": true, "screen_pop": false,
        "follow_up_tasks": follow_ups(),
    })
}

/// Family 1001 (New Lead) with one open "Phone Call" task due now.
fn dataset() -> Dataset {
    let now = Utc::now();
    let mut d = data(
        now,
        vec![family(
            FAMILY,
            "(415) 815-9602",
            101,
            NEW_LEAD,
            now - Minutes::days(3),
        )],
    );
    d.tasks = vec![SbTask::open(5001, FAMILY, PHONE_CALL_TASK_TYPE, now)];
    d
}

fn completed(s: &Scenario) -> Vec<SbTask> {
    s.lineleader()
        .state()
        .data
        .tasks
        .into_iter()
        .filter(|t| t.is_completed)
        .collect()
}

/// The tasks created through the API (K3).
fn created_tasks(s: &Scenario) -> Vec<SbTask> {
    s.lineleader()
        .state()
        .data
        .tasks
        .into_iter()
        .filter(|t| t.origin == "created")
        .collect()
}

fn reasons(s: &Scenario) -> Vec<String> {
    s.host
        .reports()
        .into_iter()
        .filter_map(|r| r.reason.map(|r| r.as_str().to_owned()))
        .collect()
}

async fn trace(s: &Scenario, call: &Call) -> String {
    llbridge_usecases::trace::trace(s.host.store.as_ref(), &call.cc_leg.to_string())
        .await
        .ok()
        .flatten()
        .map(|t| t.render())
        .unwrap_or_default()
}

/// An answered inbound call, hung up, without a disposition; logged.
async fn answered_without_disposition(s: &Scenario) -> Call {
    let c = s.call(1, CALLER);
    s.play(&[
        c.agent("connected", 5_100),
        c.agent("hangup", 295_050),
        c.cc_hangup(295_200),
    ])
    .await;
    s.settle().await;
    c
}

#[tokio::test]
async fn a_disposition_ten_minutes_after_the_log_completes_the_task_and_moves_the_status_once() {
    let s = Scenario::start(BACKEND, event_mode(), Some(dataset())).await;
    let c = answered_without_disposition(&s).await;
    assert_eq!(s.lineleader().state().data.events.len(), 1, "logged");
    assert!(completed(&s).is_empty(), "no disposition: no task result");
    assert!(s.lineleader().state().data.status_changes.is_empty());

    // The task update's first answer is lost, and the status change fails on the first
    // deliveries: the job is retried.
    s.lineleader().set_faults(Faults {
        rules: vec![
            FaultRule {
                times: Some(1),
                ..FaultRule::lose_answer("PUT", "/tasks/*", 502, 1.0)
            },
            FaultRule::fail("PUT", "/families/*/status", 500, Some(6)),
        ],
        ..Faults::default()
    });
    let late = c.dispositions(&["Left Voicemail"], 295_200 + 600_000);
    s.send(&late).await;
    assert!(
        s.settle_until(
            async || s.lineleader().state().data.status_changes.len() == 1
                && completed(&s).len() == 1
        )
        .await
    );
    // Dialpad sends it again.
    s.send(&late).await;
    s.settle().await;

    let state = s.lineleader().state();
    let done = completed(&s);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, 5001);
    assert_eq!(done[0].result_type, Some(42), "Left Message");
    assert_eq!(state.data.status_changes.len(), 1, "moved once");
    assert_eq!(
        (
            state.data.status_changes[0].from_status_id,
            state.data.status_changes[0].to_status_id
        ),
        (NEW_LEAD, CONTACTED)
    );
    assert_eq!(state.data.events.len(), 1, "the event is not written again");
    if !BACKEND.is_aws() {
        let retried = s
            .host
            .reports()
            .iter()
            .any(|r| r.decision == llbridge_usecases::worker::Decision::Retry);
        assert!(retried, "the late disposition's job was retried");
        assert!(reasons(&s).iter().any(|r| r == "late_disposition_applied"));
        let t = trace(&s, &c).await;
        assert!(t.contains("after the log: late_disposition_applied"), "{t}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_disposition_merged_while_the_call_was_being_logged_is_applied_by_the_next_log_job() {
    let s = Scenario::start(BACKEND, event_mode(), Some(dataset())).await;
    let c = answered_without_disposition(&s).await;
    assert!(completed(&s).is_empty());
    // The disposition is in the conversation's state, but no merge job saw the log final (as
    // when it was merged while the log was being written).
    let event =
        llbridge_domain::CallEvent::from_value(&c.dispositions(&["Left Voicemail"], 600_000))
            .expect("an event");
    let clock = llbridge_usecases::ports::SystemClock;
    let records = llbridge_usecases::ports::Records {
        store: s.host.store.as_ref(),
        clock: &clock,
    };
    llbridge_usecases::state::merge_event(
        records,
        &event,
        llbridge_usecases::jobs::Source::Webhook,
    )
    .await
    .expect("merged");
    assert!(completed(&s).is_empty());
    // Another call-log job of the conversation (Dialpad sends the hangup again).
    s.send(&c.cc_hangup(295_200)).await;
    assert!(s.settle_until(async || completed(&s).len() == 1).await);
    s.settle().await;
    let state = s.lineleader().state();
    assert_eq!(completed(&s).len(), 1);
    assert_eq!(state.data.status_changes.len(), 1);
    assert_eq!(state.data.events.len(), 1, "logged once");
    s.stop().await;
}

#[tokio::test]
async fn a_late_disposition_in_phone_log_mode_changes_nothing_and_says_so() {
    let s = Scenario::start(
        BACKEND,
        json!({"enable_task_queue": true, "screen_pop": false}),
        Some(dataset()),
    )
    .await;
    let c = answered_without_disposition(&s).await;
    s.send(&c.dispositions(&["Left Voicemail"], 900_000)).await;
    s.settle().await;
    assert_eq!(s.phone_logs().len(), 1);
    assert!(completed(&s).is_empty());
    assert!(created_tasks(&s).is_empty());
    if !BACKEND.is_aws() {
        assert!(reasons(&s).iter().any(|r| r == "late_event_after_log"));
    }
    s.stop().await;
}

#[tokio::test]
async fn two_action_items_are_two_tasks_once_even_when_the_answer_is_lost() {
    let s = Scenario::start(BACKEND, phone_log_with_follow_ups(), Some(dataset())).await;
    // The first task creation takes effect and its answer is lost.
    s.lineleader().set_faults(Faults {
        rules: vec![FaultRule {
            times: Some(1),
            ..FaultRule::lose_answer("POST", "/tasks", 502, 1.0)
        }],
        ..Faults::default()
    });
    let c = s.call(1, CALLER);
    s.play(&[
        c.agent("connected", 5_100),
        c.cc_hangup(295_200),
        c.dispositions(&["Left Voicemail"], 296_000),
        c.recap(
            "recap_action_items",
            json!([{"text": "Send the tuition sheet"}, "Book a tour for Friday"]),
            300_000,
        ),
    ])
    .await;
    assert!(s.settle_until(async || created_tasks(&s).len() >= 2).await);
    // The action items come again, as a late event.
    s.send(&c.recap(
        "recap_action_items",
        json!(["Send the tuition sheet", "Book a tour for Friday"]),
        900_000,
    ))
    .await;
    s.settle().await;

    let tasks = created_tasks(&s);
    assert_eq!(tasks.len(), 2, "{tasks:#?}");
    let mut texts: Vec<&str> = tasks
        .iter()
        .map(|t| t.description.lines().next().unwrap_or(""))
        .collect();
    texts.sort();
    assert!(texts[0].ends_with("Book a tour for Friday"), "{texts:?}");
    assert!(texts[1].ends_with("Send the tuition sheet"), "{texts:?}");
    let ended = c.t0 + 295_100;
    for t in &tasks {
        assert_eq!(t.family_id, FAMILY);
        assert_eq!(t.type_id, PHONE_CALL_TASK_TYPE);
        assert_eq!(
            t.due_date_time.timestamp(),
            ended / 1000 + 3600,
            "due an hour after the call"
        );
        assert_eq!(
            t.assigned_to_staff_id,
            Some(201),
            "the agent's staff record"
        );
    }
    assert_eq!(s.phone_logs().len(), 1);
    // The trace shows each follow-up task's claim, the one found after its lost answer too.
    let trace = llbridge_usecases::trace::trace(s.host.store.as_ref(), &c.cc_leg.to_string())
        .await
        .ok()
        .flatten()
        .expect("a trace");
    let follow_ups: Vec<&String> = trace
        .claims
        .keys()
        .filter(|k| k.starts_with("follow_up#"))
        .collect();
    assert_eq!(follow_ups.len(), 2, "{:?}", trace.claims.keys());
    assert!(trace.claims.values().any(|v| v
        .outcome
        .as_ref()
        .is_some_and(|o| o["how"] == "found_on_lookup")));
    s.stop().await;
}

#[tokio::test]
async fn a_missed_call_and_a_voicemail_are_one_callback_task_each() {
    let s = Scenario::start(BACKEND, phone_log_with_follow_ups(), Some(dataset())).await;
    // The first callback's creation takes effect and its answer is lost.
    s.lineleader().set_faults(Faults {
        rules: vec![FaultRule {
            times: Some(1),
            ..FaultRule::lose_answer("POST", "/tasks", 504, 1.0)
        }],
        ..Faults::default()
    });
    let missed = s.call(1, CALLER);
    let voicemail = s.call(2, CALLER);
    let mut vm = voicemail.cc_unanswered("voicemail", 41_000);
    vm["voicemail_link"] = json!("https://dialpad.com/voicemail/abc");
    s.play(&[missed.cc_unanswered("missed", 40_000), vm.clone()])
        .await;
    s.settle().await;
    // Dialpad redelivers the voicemail.
    s.send(&vm).await;
    s.settle().await;

    let tasks = created_tasks(&s);
    assert_eq!(tasks.len(), 2, "{tasks:#?}");
    let of = |call: &Call| {
        tasks
            .iter()
            .filter(|t| {
                t.description
                    .contains(&format!("Follow-up ID: {}/callback", call.cc_leg))
            })
            .collect::<Vec<_>>()
    };
    let (m, v) = (of(&missed), of(&voicemail));
    assert_eq!((m.len(), v.len()), (1, 1), "{tasks:#?}");
    assert!(
        m[0].description.contains("no one answered"),
        "{}",
        m[0].description
    );
    assert!(
        v[0].description.contains("left a voicemail"),
        "{}",
        v[0].description
    );
    assert!(v[0]
        .description
        .contains("https://dialpad.com/voicemail/abc"));
    assert_eq!(
        m[0].assigned_to_staff_id, None,
        "no agent and no default staff: unassigned"
    );
    assert_eq!(s.phone_logs().len(), 2);
    s.stop().await;
}

#[tokio::test]
async fn a_missed_call_from_an_ambiguous_number_creates_nothing_and_says_why() {
    let now = Utc::now();
    let mut d = data(
        now,
        vec![
            family(
                1001,
                "(415) 815-9602",
                101,
                NEW_LEAD,
                now - Minutes::minutes(3),
            ),
            family(
                1002,
                "415-815-9602",
                101,
                NEW_LEAD,
                now - Minutes::minutes(2),
            ),
        ],
    );
    d.tasks.clear();
    let s = Scenario::start(BACKEND, phone_log_with_follow_ups(), Some(d)).await;
    let c = s.call(1, CALLER);
    s.play(&[c.cc_unanswered("missed", 40_000)]).await;
    s.settle().await;
    assert!(created_tasks(&s).is_empty());
    assert!(s.phone_logs().is_empty());
    if !BACKEND.is_aws() {
        let dropped = s
            .host
            .reports()
            .into_iter()
            .find(|r| r.reason.is_some_and(|w| w.as_str() == "family_ambiguous"))
            .expect("a dropped call log");
        let detail = dropped.detail.unwrap_or_default();
        assert!(
            detail.contains("no follow-up task created (callback)"),
            "{detail}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn a_task_type_missing_in_lineleader_is_a_skip_with_its_reason() {
    let mut overrides = phone_log_with_follow_ups();
    overrides["follow_up_tasks"]["task_type"] = json!("Callback Call");
    let s = Scenario::start(BACKEND, overrides, Some(dataset())).await;
    let c = s.call(1, CALLER);
    s.play(&[c.cc_unanswered("missed", 40_000)]).await;
    s.settle().await;
    assert!(created_tasks(&s).is_empty());
    assert_eq!(s.phone_logs().len(), 1, "the phone log is written anyway");
    let outcome = s.step("follow_up#callback").await.expect("recorded");
    assert_eq!(outcome["skipped"], "follow_up_task_type_missing");
    s.stop().await;
}
