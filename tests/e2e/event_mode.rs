//! Event mode end to end: each condition under which an Event-mode step is skipped
//! (`docs/rules.md`), asserting what the LineLeader sandbox received and did not receive.

use super::BACKEND;
use chrono::{Duration as Minutes, Utc};
use llbridge_sandbox::{Dataset, FaultRule, Faults, SbTask};
use llbridge_tests::events::Call;
use llbridge_tests::scenario::{data, family, Scenario};
use serde_json::{json, Value};

const FAMILY: u64 = 1001;
const CALLER: &str = "+14158159602";
/// The demo data's "Phone Call" task type and its statuses.
const PHONE_CALL_TASK_TYPE: u64 = 31;
const NEW_LEAD: u64 = 1;
const CONTACTED: u64 = 2;
const TOUR_SCHEDULED: u64 = 3;

fn event_mode(edit: impl FnOnce(&mut Value)) -> Value {
    let mut call_log = json!({
        "type": "event",
        "event_type": "Phone Call",
        "default_staff_email": "frontdesk@example.com",
        "disposition_status_map": {"Left Voicemail (New Lead)": "Contacted", "Tour Booked": "Tour Scheduled"},
        "disposition_task_result_map": {"Left Voicemail": "Left Message", "Tour Booked": "Tour Booked"},
        "result_type_mapping": ["inbound"]
    });
    edit(&mut call_log);
    json!({"enable_task_queue": true, "screen_pop": false, "call_log_link_type": "public", "call_log": call_log})
}

/// Family 1001 (New Lead) with one open "Phone Call" task due now, and one due tomorrow.
fn dataset(edit: impl FnOnce(&mut Dataset)) -> Dataset {
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
    let task = |id, due| SbTask::open(id, FAMILY, PHONE_CALL_TASK_TYPE, due);
    d.tasks = vec![task(5001, now), task(5002, now + Minutes::days(1))];
    edit(&mut d);
    d
}

async fn start(overrides: Value, data: Dataset) -> Scenario {
    Scenario::start(BACKEND, overrides, Some(data)).await
}

/// An answered inbound call, hung up, then dispositioned (when `disposition` is set).
async fn call(s: &Scenario, disposition: Option<&str>) -> Call {
    let c = s.call(1, CALLER);
    let mut events = vec![
        c.agent("ringing", 200),
        c.agent("connected", 5_100),
        c.agent("hangup", 295_050),
        c.cc_hangup(295_200),
    ];
    if let Some(d) = disposition {
        events.push(c.dispositions(&[d], 296_000));
    }
    s.play(&events).await;
    s.settle().await;
    c
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

fn puts_to_tasks(s: &Scenario) -> usize {
    s.lineleader()
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/tasks/"))
        .count()
}

// ---- the happy path ------------------------------------------------------------------------

#[tokio::test]
async fn the_recap_is_in_the_event_description_unless_turned_off() {
    for include in [true, false] {
        let mut overrides = event_mode(|_| {});
        overrides["include_recap"] = json!(include);
        let s = start(overrides, dataset(|_| {})).await;
        let c = s.call(1, CALLER);
        s.play(&[
            c.agent("connected", 5_100),
            c.agent("hangup", 295_050),
            c.cc_hangup(295_200),
            c.dispositions(&["Left Voicemail"], 296_000),
            c.recap(
                "recap_summary",
                json!("Asked about infant openings."),
                320_000,
            ),
            c.recap(
                "recap_action_items",
                json!([{"text": "Send the tuition sheet"}, "Book a tour"]),
                321_000,
            ),
        ])
        .await;
        s.settle().await;
        let events = s.lineleader().state().data.events;
        assert_eq!(events.len(), 1);
        let recap = "Summary: Asked about infant openings.\nAction items:\n- Send the tuition sheet\n- Book a tour";
        assert_eq!(
            events[0].description.ends_with(recap),
            include,
            "{}",
            events[0].description
        );
        assert!(events[0]
            .description
            .contains("Disposition: Left Voicemail"));
        s.stop().await;
    }
}

#[tokio::test]
async fn all_three_steps_on_the_matched_family() {
    let s = start(event_mode(|_| {}), dataset(|_| {})).await;
    let c = call(&s, Some("Left Voicemail")).await;
    let state = s.lineleader().state();
    let done = completed(&s);
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].id, 5001, "the open Phone Call task due today");
    assert_eq!(done[0].result_type, Some(42), "Left Message");
    assert_eq!(done[0].completed_by_user_id, Some(201), "Ana, the agent");
    assert!(
        done[0]
            .result_description
            .as_deref()
            .unwrap_or_default()
            .contains(&c.cc_leg.to_string()),
        "names the call"
    );
    assert_eq!(state.data.events.len(), 1);
    let e = &state.data.events[0];
    assert_eq!(
        (e.family_id, e.staff_id, e.type_id, e.task_id),
        (FAMILY, 201, 41, Some(5001))
    );
    for part in [
        "nbound",
        "4m 5",
        "Left Voicemail",
        &format!("https://dialpad.com/shared/call/{}", c.cc_leg),
    ] {
        assert!(
            e.description.contains(part),
            "{part:?} not in {:?}",
            e.description
        );
    }
    assert_eq!(state.data.status_changes.len(), 1);
    assert_eq!(
        (
            state.data.status_changes[0].from_status_id,
            state.data.status_changes[0].to_status_id
        ),
        (NEW_LEAD, CONTACTED)
    );
    assert!(
        state.data.phone_logs.is_empty(),
        "Event mode writes no phone log"
    );
    s.stop().await;
}

// ---- "The due task was not completed" ------------------------------------------------------

async fn task_skipped(overrides: Value, data: Dataset, disposition: Option<&str>, code: &str) {
    let s = start(overrides, data).await;
    call(&s, disposition).await;
    assert!(completed(&s).is_empty());
    assert_eq!(puts_to_tasks(&s), 0, "no task was touched");
    assert_eq!(s.skipped("task").await.as_deref(), Some(code));
    assert_eq!(
        s.lineleader().state().data.events.len(),
        1,
        "the CRM event still happens"
    );
    s.stop().await;
}

#[tokio::test]
async fn task_not_completed_without_a_disposition() {
    task_skipped(
        event_mode(|_| {}),
        dataset(|_| {}),
        None,
        "task_no_disposition",
    )
    .await;
}

#[tokio::test]
async fn task_not_completed_without_a_mapping() {
    task_skipped(
        event_mode(|_| {}),
        dataset(|_| {}),
        Some("Wrong Number"),
        "task_no_result_mapping",
    )
    .await;
}

#[tokio::test]
async fn task_not_completed_when_the_direction_is_not_mapped() {
    task_skipped(
        event_mode(|c| c["result_type_mapping"] = json!(["outbound"])),
        dataset(|_| {}),
        Some("Left Voicemail"),
        "task_direction_not_enabled",
    )
    .await;
}

#[tokio::test]
async fn task_not_completed_without_a_phone_call_task_type() {
    task_skipped(
        event_mode(|_| {}),
        dataset(|d| d.task_types.retain(|t| t.name != "Phone Call")),
        Some("Left Voicemail"),
        "task_type_not_found",
    )
    .await;
}

#[tokio::test]
async fn task_not_completed_when_none_is_due_today() {
    task_skipped(
        event_mode(|_| {}),
        dataset(|d| d.tasks.retain(|t| t.id != 5001)),
        Some("Left Voicemail"),
        "task_none_due_today",
    )
    .await;
}

#[tokio::test]
async fn task_not_completed_when_the_mapped_result_does_not_exist() {
    task_skipped(
        event_mode(|c| {
            c["disposition_task_result_map"] = json!({"Left Voicemail": "Voicemail Left"})
        }),
        dataset(|_| {}),
        Some("Left Voicemail"),
        "task_result_not_found",
    )
    .await;
}

// ---- "No CRM event was created" ------------------------------------------------------------

#[tokio::test]
async fn no_event_when_neither_the_agent_nor_the_default_staff_email_matches() {
    let s = start(
        event_mode(|c| c["default_staff_email"] = json!("nobody@example.com")),
        dataset(|d| {
            d.staff
                .retain(|s| s.email_address.as_deref() != Some("ana@example.com"))
        }),
    )
    .await;
    call(&s, Some("Left Voicemail")).await;
    let state = s.lineleader().state();
    assert!(state.data.events.is_empty());
    assert!(s.bodies("POST", "/events").is_empty());
    assert_eq!(s.skipped("event").await.as_deref(), Some("event_no_staff"));
    assert_eq!(
        state.data.status_changes.len(),
        1,
        "the status change still happens"
    );
    s.stop().await;
}

#[tokio::test]
async fn no_event_when_the_event_type_does_not_exist() {
    let s = start(
        event_mode(|c| c["event_type"] = json!("Phone Conversation")),
        dataset(|_| {}),
    )
    .await;
    call(&s, Some("Left Voicemail")).await;
    assert!(s.bodies("POST", "/events").is_empty());
    assert_eq!(
        s.skipped("event").await.as_deref(),
        Some("event_type_not_found")
    );
    assert_eq!(completed(&s).len(), 1, "the task is still completed");
    s.stop().await;
}

// ---- staff attribution ---------------------------------------------------------------------

async fn event_staff(agent_email: &str, default_email: &str) -> (Scenario, Option<u64>) {
    let s = start(
        event_mode(|c| c["default_staff_email"] = json!(default_email)),
        dataset(|_| {}),
    )
    .await;
    let mut c = s.call(1, CALLER);
    c.agent_email = agent_email.into();
    s.play(&[
        c.agent("connected", 5_100),
        c.cc_hangup(295_200),
        c.dispositions(&["Left Voicemail"], 296_000),
    ])
    .await;
    s.settle().await;
    let staff = s
        .lineleader()
        .state()
        .data
        .events
        .first()
        .map(|e| e.staff_id);
    (s, staff)
}

#[tokio::test]
async fn the_event_is_the_agents_matched_by_email_case_insensitively() {
    let (s, staff) = event_staff("ANA@Example.COM", "frontdesk@example.com").await;
    assert_eq!(staff, Some(201));
    s.stop().await;
}

#[tokio::test]
async fn the_event_falls_back_to_the_default_staff_email() {
    let (s, staff) = event_staff("temp.agent@example.com", "frontdesk@example.com").await;
    assert_eq!(staff, Some(203));
    s.stop().await;
}

#[tokio::test]
async fn no_staff_at_all_means_no_event() {
    let (s, staff) = event_staff("temp.agent@example.com", "nobody@example.com").await;
    assert_eq!(staff, None);
    assert_eq!(s.skipped("event").await.as_deref(), Some("event_no_staff"));
    s.stop().await;
}

#[tokio::test]
async fn the_operator_legs_email_is_used_not_another_rung_agents() {
    let s = start(event_mode(|_| {}), dataset(|_| {})).await;
    let ana = s.call(1, CALLER);
    // Ben answered first and passed the call on; the call-center leg names Ana's leg as its
    // operator, so the event is Ana's although Ben connected earlier.
    let mut ben_ring = ana.agent("connected", 150);
    ben_ring["call_id"] = json!(ana.agent_leg + 1);
    ben_ring["target"]["email"] = json!("ben@example.com");
    ben_ring["target"]["id"] = json!(5150000000000002_u64);
    ben_ring["date_connected"] = json!(ana.t0 + 3_000);
    let mut ben_hangup = ben_ring.clone();
    ben_hangup["state"] = json!("hangup");
    ben_hangup["event_timestamp"] = json!(ana.t0 + 6_000);
    ben_hangup["date_ended"] = json!(ana.t0 + 6_000);
    s.play(&[
        ben_ring,
        ana.agent("ringing", 200),
        ana.agent("connected", 5_100),
        ben_hangup,
        ana.cc_hangup(295_200),
        ana.dispositions(&["Left Voicemail"], 296_000),
    ])
    .await;
    s.settle().await;
    let events = s.lineleader().state().data.events;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].staff_id, 201,
        "Ana (the operator leg), not Ben (who connected first)"
    );
    s.stop().await;
}

// ---- "The family status did not change" ----------------------------------------------------

async fn status_unchanged(overrides: Value, data: Dataset, disposition: Option<&str>, code: &str) {
    let s = start(overrides, data).await;
    call(&s, disposition).await;
    assert!(s.lineleader().state().data.status_changes.is_empty());
    assert!(s.bodies("PUT", "/status").is_empty(), "no status write");
    assert_eq!(s.skipped("status").await.as_deref(), Some(code));
    s.stop().await;
}

#[tokio::test]
async fn status_unchanged_without_a_disposition() {
    status_unchanged(
        event_mode(|_| {}),
        dataset(|_| {}),
        None,
        "status_no_disposition",
    )
    .await;
}

#[tokio::test]
async fn status_unchanged_when_the_disposition_is_not_mapped() {
    status_unchanged(
        event_mode(|_| {}),
        dataset(|_| {}),
        Some("Wrong Number"),
        "status_not_in_map",
    )
    .await;
}

#[tokio::test]
async fn status_unchanged_when_the_required_status_does_not_hold() {
    // "Left Voicemail (New Lead)": the family is Enrolled.
    status_unchanged(
        event_mode(|_| {}),
        dataset(|d| d.families[0].status_id = 4),
        Some("Left Voicemail"),
        "status_condition_failed",
    )
    .await;
}

#[tokio::test]
async fn status_unchanged_when_the_target_status_does_not_exist() {
    status_unchanged(
        event_mode(|c| c["disposition_status_map"] = json!({"Left Voicemail": "Called Back"})),
        dataset(|_| {}),
        Some("Left Voicemail"),
        "status_target_not_found",
    )
    .await;
}

#[tokio::test]
async fn the_conditional_entry_wins_over_the_unconditional_one_when_it_holds() {
    let s = start(
        event_mode(|c| c["disposition_status_map"] = json!({"left voicemail": "Tour Scheduled", "Left Voicemail (new lead)": "Contacted"})),
        dataset(|_| {}),
    )
    .await;
    call(&s, Some("LEFT VOICEMAIL")).await;
    let changes = s.lineleader().state().data.status_changes;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].to_status_id, CONTACTED);
    s.stop().await;
}

#[tokio::test]
async fn two_level_dispositions_and_dashes() {
    let s = start(
        event_mode(|c| {
            c["disposition_status_map"] = json!({"Connected - Interested": "Tour Scheduled"})
        }),
        dataset(|_| {}),
    )
    .await;
    call(&s, Some("Sales~Connected – Interested")).await;
    let changes = s.lineleader().state().data.status_changes;
    assert_eq!(
        changes.len(),
        1,
        "the sub-disposition, en dash or hyphen, maps"
    );
    assert_eq!(changes[0].to_status_id, TOUR_SCHEDULED);
    s.stop().await;
}

// ---- independence and once-only ------------------------------------------------------------

#[tokio::test]
async fn a_failing_task_step_still_yields_the_event_and_the_status_change() {
    let s = start(event_mode(|_| {}), dataset(|_| {})).await;
    s.lineleader().set_faults(Faults {
        rules: vec![FaultRule::fail("PUT", "/tasks/*", 500, None)],
        ..Faults::default()
    });
    call(&s, Some("Left Voicemail")).await;
    // Let every delivery of the call-log job fail.
    s.settle_until(async || !s.host.dead_letters().await.is_empty())
        .await;
    let dead = s.host.dead_letters().await;
    assert!(
        !dead.is_empty(),
        "the job failed on every delivery and was kept"
    );
    let last = &dead[0];
    assert_eq!(
        last.reason.as_deref(),
        Some("transient_failure"),
        "{last:?}"
    );
    assert!(
        last.detail
            .as_deref()
            .is_some_and(|d| d.contains("PUT /tasks/{id}") && d.contains("retry horizon")),
        "the dead letter says why: {last:?}"
    );
    let state = s.lineleader().state();
    assert!(completed(&s).is_empty());
    assert!(
        puts_to_tasks(&s) >= 5,
        "the task update was tried on every delivery"
    );
    assert_eq!(
        state.data.events.len(),
        1,
        "one event, however often the job ran"
    );
    assert_eq!(s.bodies("POST", "/events").len(), 1);
    assert_eq!(state.data.status_changes.len(), 1);
    assert_eq!(state.data.events[0].task_id, None, "no task to link");
    s.stop().await;
}

#[tokio::test]
async fn a_retried_job_redoes_only_the_failed_step() {
    let s = start(event_mode(|_| {}), dataset(|_| {})).await;
    // The first two task updates fail (the client retries inside one delivery too).
    s.lineleader().set_faults(Faults {
        rules: vec![FaultRule::fail("PUT", "/tasks/*", 500, Some(6))],
        ..Faults::default()
    });
    call(&s, Some("Left Voicemail")).await;
    s.settle_until(async || !completed(&s).is_empty()).await;
    s.settle().await;
    let state = s.lineleader().state();
    assert_eq!(completed(&s).len(), 1, "the task is completed once");
    assert_eq!(
        state
            .data
            .tasks
            .iter()
            .find(|t| t.id == 5001)
            .map(|t| t.puts),
        Some(1),
        "one successful update"
    );
    assert_eq!(s.bodies("POST", "/events").len(), 1, "no second event");
    assert_eq!(
        state.data.status_changes.len(),
        1,
        "no second status change"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_disposition_after_hangup_within_the_log_delay_drives_the_steps() {
    let s = start(event_mode(|_| {}), dataset(|_| {})).await;
    let c = s.call(1, CALLER);
    s.play(&[c.agent("connected", 5_100), c.cc_hangup(295_200)])
        .await;
    s.run_due(std::time::Duration::from_millis(500)).await;
    assert!(
        s.lineleader().state().data.events.is_empty(),
        "the log waits for the delay"
    );
    s.send(&c.dispositions(&["Tour Booked"], 330_000)).await;
    s.settle().await;
    let state = s.lineleader().state();
    assert_eq!(
        completed(&s).first().and_then(|t| t.result_type),
        Some(45),
        "Tour Booked"
    );
    assert_eq!(
        state.data.status_changes.first().map(|c| c.to_status_id),
        Some(TOUR_SCHEDULED)
    );
    assert!(state.data.events[0].description.contains("Tour Booked"));
    s.stop().await;
}
