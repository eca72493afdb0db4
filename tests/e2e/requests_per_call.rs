//! What one call costs in requests, with warm and with cold caches: Phone Log and a screen pop
//! for a known family, and Event mode for a known family with a due task. The counts are
//! deterministic. The sequential depth (how many round trips one after another) is measured
//! with every request answered after `LATENCY`: requests sent together arrive together.

use super::BACKEND;
use chrono::{Duration as Minutes, Utc};
use llbridge_sandbox::{Faults, RequestRecord, SbTask};
use llbridge_tests::configs;
use llbridge_tests::scenario::{answered, data, family, log_now, Scenario};
use serde_json::{json, Value};

const CALLER: &str = "+14158159602";
/// Every sandbox request is answered after this long.
const LATENCY_MS: u64 = 100;

fn slow() -> Faults {
    Faults {
        latency_ms: LATENCY_MS,
        ..Faults::default()
    }
}

/// `METHOD /path` of each request (the `/api/v3` prefix dropped), in arrival order.
fn lines(requests: &[RequestRecord]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.path.strip_prefix("/api/v3").unwrap_or(&r.path)
            )
        })
        .collect()
}

/// Round trips one after another: a request arriving less than half a latency after the first
/// of its wave was sent together with it.
fn depth(requests: &[RequestRecord]) -> usize {
    let mut at: Vec<i64> = requests.iter().map(|r| r.at_ms).collect();
    at.sort_unstable();
    let mut waves = 0;
    let mut start = i64::MIN;
    for t in at {
        if waves == 0 || t - start >= LATENCY_MS as i64 / 2 {
            waves += 1;
            start = t;
        }
    }
    waves
}

/// The requests of one call, the caches cold (a fresh host) or warm (after a first call).
struct Cost {
    lineleader: Vec<RequestRecord>,
    dialpad: Vec<RequestRecord>,
}

impl Cost {
    fn all(&self) -> Vec<RequestRecord> {
        let mut all = self.lineleader.clone();
        all.extend(self.dialpad.iter().cloned());
        all
    }
}

/// The requests the sandboxes receive while `events` are played and their jobs run.
async fn measure(s: &Scenario, events: Vec<Value>) -> Cost {
    let (ll, dp) = (
        s.lineleader().requests().len(),
        s.dialpad().requests().len(),
    );
    s.lineleader().set_faults(slow());
    s.dialpad().set_faults(slow());
    s.play(&events).await;
    s.settle().await;
    let cost = Cost {
        lineleader: s.lineleader().requests().split_off(ll),
        dialpad: s.dialpad().requests().split_off(dp),
    };
    s.lineleader().set_faults(Faults::default());
    s.dialpad().set_faults(Faults::default());
    cost
}

#[tokio::test]
async fn phone_log_for_a_known_family() {
    let s = Scenario::with_known_family(BACKEND, log_now()).await;
    let cold = measure(&s, answered(&s.call(1, CALLER))).await;
    let warm = measure(&s, answered(&s.call(2, CALLER))).await;
    assert_eq!(s.lineleader().state().data.phone_logs.len(), 2);
    assert_eq!(
        lines(&warm.all()),
        ["GET /families/search", "POST /in-contact/phone-logs"],
        "no lookup unless an answer was lost"
    );
    assert_eq!(depth(&warm.all()), 2);
    assert_eq!(
        lines(&cold.all()),
        [
            "POST /login",
            "GET /centers",
            "GET /families/search",
            "POST /in-contact/phone-logs"
        ]
    );
    assert_eq!(depth(&cold.all()), 4);
    s.stop().await;
}

#[tokio::test]
async fn screen_pop_for_a_known_family() {
    let s = Scenario::with_known_family(
        BACKEND,
        json!({"enable_task_queue": false, "screen_pop": true}),
    )
    .await;
    let cold = measure(&s, vec![s.live_call(1, CALLER).agent("ringing", 200)]).await;
    let warm = measure(&s, vec![s.live_call(2, CALLER).agent("ringing", 200)]).await;
    assert_eq!(s.dialpad().sent().len(), 2);
    assert_eq!(lines(&warm.lineleader), ["GET /families/search"]);
    assert_eq!(lines(&warm.dialpad), [pop_request(&s, 2)]);
    assert_eq!(depth(&warm.all()), 2);
    assert_eq!(
        lines(&cold.lineleader),
        ["POST /login", "GET /centers", "GET /families/search"]
    );
    assert_eq!(lines(&cold.dialpad), [pop_request(&s, 1)]);
    assert_eq!(depth(&cold.all()), 4);
    s.stop().await;
}

/// The screen-pop request for the agent of call `seed`.
fn pop_request(s: &Scenario, seed: u64) -> String {
    format!(
        "POST /api/v2/users/{}/screenpop",
        s.live_call(seed, CALLER).agent_id
    )
}

const FAMILY: u64 = 1001;
const PHONE_CALL_TASK_TYPE: u64 = 31;

#[tokio::test]
async fn event_mode_for_a_known_family_with_a_due_task() {
    let now = Utc::now();
    let mut d = data(
        now,
        vec![family(
            FAMILY,
            "(415) 815-9602",
            101,
            1,
            now - Minutes::days(3),
        )],
    );
    d.tasks = (0..2)
        .map(|i| SbTask::open(5001 + i, FAMILY, PHONE_CALL_TASK_TYPE, now))
        .collect();
    let event_mode = json!({"enable_task_queue": true, "screen_pop": false,
        "call_log": configs::left_voicemail_event_mode()});
    let s = Scenario::start(BACKEND, event_mode, Some(d)).await;
    let events = |seed| {
        let c = s.live_call(seed, CALLER);
        vec![
            c.agent("ringing", 200),
            c.agent("connected", 5_100),
            c.agent("hangup", 295_050),
            c.cc_hangup(295_200),
            c.dispositions(&["Left Voicemail"], 296_000),
        ]
    };
    let cold = measure(&s, events(1)).await;
    // The first call moved the family on; back to New Lead, so that the second moves it too.
    s.lineleader().with_data(|d| d.families[0].status_id = 1);
    let warm = measure(&s, events(2)).await;
    let data = s.lineleader().state().data;
    assert_eq!(data.events.len(), 2);
    assert_eq!(data.tasks.iter().filter(|t| t.is_completed).count(), 2);
    assert!(warm.dialpad.is_empty() && cold.dialpad.is_empty());
    let mut warm_lines = lines(&warm.lineleader);
    warm_lines.sort();
    assert_eq!(
        warm_lines,
        [
            "GET /families/search",
            "GET /tasks",
            "POST /events",
            "PUT /families/1001/status",
            "PUT /tasks/5002",
        ],
        "the task is completed from its listing, the status planned from the search"
    );
    // search; then the tasks beside the status change; the task; the event linking it.
    assert_eq!(depth(&warm.lineleader), 4);
    let mut cold_lines = lines(&cold.lineleader);
    cold_lines.sort();
    assert_eq!(
        cold_lines,
        [
            "GET /centers",
            "GET /families/search",
            "GET /staff",
            "GET /statuses",
            "GET /tasks",
            "GET /types/tasks",
            "GET /types/tasks/results",
            "POST /events",
            "POST /login",
            "PUT /families/1001/status",
            "PUT /tasks/5001",
        ]
    );
    // login; centers; search; staff and both type lists beside the statuses; the status
    // change and the tasks; the task; the event.
    assert_eq!(depth(&cold.lineleader), 7);
    s.stop().await;
}
