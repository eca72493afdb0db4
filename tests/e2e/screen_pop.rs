//! Screen pops end to end: the right user and URL, once per agent per conversation, Dialpad's
//! rate limit, and the popped family reused by the call log.

use super::BACKEND;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use llbridge_tests::scenario::{data, family, Scenario};
use llbridge_usecases::jobs::JobKind;
use llbridge_usecases::worker::{Decision, Reason};
use serde_json::json;

fn pops_on() -> serde_json::Value {
    json!({"enable_task_queue": false, "screen_pop": true})
}

#[tokio::test]
async fn a_ringing_agent_gets_the_family_page() {
    let s = Scenario::with_known_family(BACKEND, pops_on()).await;
    let call = s.live_call(1, "+14158159602");
    s.send(&call.agent("ringing", 200)).await;
    s.settle().await;
    let pops = s.dialpad().pops();
    assert_eq!(pops.len(), 1, "{pops:?}");
    assert_eq!(pops[0].user_id, call.agent_id.to_string());
    assert_eq!(pops[0].uri, "https://app.lineleader.test/#/families/1001");
    assert_eq!(pops[0].outcome, "sent");
    s.stop().await;
}

#[tokio::test]
async fn one_pop_per_agent_per_conversation() {
    let s = Scenario::with_known_family(BACKEND, pops_on()).await;
    let call = s.live_call(1, "+14158159602");
    s.play(&[
        call.agent("ringing", 200),
        call.agent("ringing", 200),
        call.agent("connected", 5_100),
    ])
    .await;
    s.settle().await;
    assert_eq!(s.dialpad().pops().len(), 1, "{:?}", s.dialpad().pops());
    // A second agent rung for the same call gets its own pop.
    let mut bob = call.agent("ringing", 300);
    bob["call_id"] = json!(call.agent_leg + 1);
    bob["target"]["id"] = json!(5150000000000002_u64);
    s.send(&bob).await;
    s.settle().await;
    let users: Vec<String> = s.dialpad().pops().into_iter().map(|p| p.user_id).collect();
    assert_eq!(
        users,
        vec![
            "5150000000000001".to_string(),
            "5150000000000002".to_string()
        ]
    );
    s.stop().await;
}

#[tokio::test]
async fn a_connect_pops_when_the_ring_was_missed() {
    let s = Scenario::with_known_family(BACKEND, pops_on()).await;
    let call = s.live_call(1, "+14158159602");
    s.send(&call.agent("connected", 5_100)).await;
    s.settle().await;
    assert_eq!(s.dialpad().sent().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn beyond_five_pops_a_minute_dialpad_says_429_and_the_pop_is_not_retried() {
    let s = Scenario::with_known_family(BACKEND, pops_on()).await;
    for seed in 1..=6 {
        s.send(&s.live_call(seed, "+14158159602").agent("ringing", 200))
            .await;
        s.settle().await;
    }
    let pops = s.dialpad().pops();
    let outcomes: Vec<&str> = pops.iter().map(|p| p.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        vec!["sent", "sent", "sent", "sent", "sent", "rate_limited"],
        "exactly six requests: no retry"
    );
    let limited: Vec<_> = s
        .host
        .reports()
        .into_iter()
        .filter(|r| r.reason.is_some_and(|r| r == "rate_limited"))
        .collect();
    assert_eq!(limited.len(), 1, "the 429 is logged");
    s.stop().await;
}

#[tokio::test]
async fn the_popped_family_is_the_one_logged() {
    let now = Utc::now();
    let s = Scenario::start(BACKEND, pops_on(), Some(data(now, vec![]))).await;
    let call = s.live_call(1, "+16505550142");
    s.send(&call.agent("ringing", 200)).await;
    s.settle().await;
    let created = s.created_families();
    assert_eq!(
        created.len(),
        1,
        "the unknown caller became a family at pop time"
    );
    // Someone types the same number on another family before the call ends.
    s.lineleader().with_data(|d| {
        d.families
            .push(family(1999, "650-555-0142", 101, 1, Utc::now()))
    });
    s.play(&[call.agent("connected", 5_100), call.cc_hangup(295_200)])
        .await;
    s.settle().await;
    let logs = s.phone_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(
        logs[0].family_id, created[0].id,
        "the log lands on the family the agent saw"
    );
    assert_eq!(s.created_families().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn a_pop_more_than_30_seconds_after_the_ring_is_skipped() {
    use llbridge_memory::{ManualClock, MemoryQueue, MemoryStore, StaticClients};
    use llbridge_sandbox::{DialpadSandbox, LineLeaderSandbox};
    use llbridge_usecases::jobs::JobMessage;
    use llbridge_usecases::ports::{Clock, StaticConfig};
    use llbridge_usecases::worker::Worker;

    let clock = Arc::new(ManualClock::new(Utc::now().timestamp_millis()));
    let dialpad = DialpadSandbox::new(Default::default(), Default::default());
    let worker = Worker::new(
        Arc::new(MemoryStore::new(clock.clone())),
        Arc::new(MemoryQueue::new(clock.clone())),
        clock.clone(),
        Arc::new(StaticConfig(Arc::new(
            llbridge_tests::configs::call_center_config(),
        ))),
        Arc::new(StaticClients {
            crm: Arc::new(llbridge_crm_lineleader::LineLeaderCrm::new(Arc::new(
                LineLeaderSandbox::demo(),
            ))),
            dialpad: Arc::new(dialpad.clone()),
        }),
        Duration::from_secs(180),
    );
    // A ring delivered 31 s after the phone started ringing (a backlog): the deadline counts
    // from the ring, not from its receipt.
    let call = llbridge_tests::events::Call::new(1, "+14158159602", clock.now_ms() - 200);
    let raw = serde_json::value::to_raw_value(&call.agent("ringing", 200)).unwrap();
    clock.advance(Duration::from_secs(31));
    let msg = JobMessage::new(JobKind::ScreenPop, raw, clock.now_ms());
    let report = worker.handle(&msg.to_json()).await.unwrap();
    assert_eq!(report.reason, Some(Reason::PopTooLate));
    assert!(dialpad.pops().is_empty());
    // A ring stamped a minute ahead of our clock (Dialpad's clock runs fast) counts from its
    // receipt: in time.
    let call = llbridge_tests::events::Call::new(2, "+14158159602", clock.now_ms() + 60_000);
    let raw = serde_json::value::to_raw_value(&call.agent("ringing", 200)).unwrap();
    let msg = JobMessage::new(JobKind::ScreenPop, raw, clock.now_ms() - 5_000);
    let report = worker.handle(&msg.to_json()).await.unwrap();
    assert_eq!(report.decision, Decision::Popped, "{report:?}");
    assert_eq!(dialpad.pops().len(), 1);
    // Received 31 s ago, whatever its stamp: too late.
    let call = llbridge_tests::events::Call::new(3, "+14158159602", clock.now_ms() + 60_000);
    let raw = serde_json::value::to_raw_value(&call.agent("ringing", 200)).unwrap();
    let msg = JobMessage::new(JobKind::ScreenPop, raw, clock.now_ms() - 31_000);
    let report = worker.handle(&msg.to_json()).await.unwrap();
    assert_eq!(report.reason, Some(Reason::PopTooLate));
}

#[tokio::test]
async fn one_pop_when_the_ring_lacks_the_call_center_leg_and_the_connect_names_it() {
    let s = Scenario::with_known_family(BACKEND, pops_on()).await;
    let call = s.live_call(1, "+14158159602");
    let mut ring = call.agent("ringing", 200);
    if let Some(o) = ring.as_object_mut() {
        o.remove("entry_point_call_id");
    }
    s.send(&ring).await;
    s.settle().await;
    s.send(&call.agent("connected", 5_100)).await;
    s.settle().await;
    assert_eq!(s.dialpad().pops().len(), 1, "{:?}", s.dialpad().pops());
    s.stop().await;
}

#[tokio::test]
async fn a_pop_whose_answer_is_lost_is_never_sent_twice() {
    use llbridge_sandbox::{FaultRule, Faults};
    let s = Scenario::with_known_family(BACKEND, pops_on()).await;
    // Dialpad pops the page, then its answer is a 502.
    s.dialpad().set_faults(Faults {
        rules: vec![FaultRule::lose_answer(
            "POST",
            "/api/v2/users/*/screenpop",
            502,
            1.0,
        )],
        ..Faults::default()
    });
    let call = s.live_call(1, "+14158159602");
    s.send(&call.agent("ringing", 200)).await;
    s.settle().await;
    s.send(&call.agent("connected", 5_100)).await;
    s.settle().await;
    let posts = s
        .dialpad()
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(
        posts, 1,
        "a second pop would reload the page the agent may be typing in"
    );
    let pops: Vec<_> = s
        .host
        .reports()
        .into_iter()
        .filter(|r| r.job == Some(JobKind::ScreenPop))
        .map(|r| (r.decision, r.reason))
        .collect();
    assert_eq!(
        pops,
        vec![
            (Decision::Skipped, Some(Reason::PopOutcomeUnknown)),
            (Decision::Skipped, Some(Reason::AlreadyPopped))
        ]
    );
    s.stop().await;
}
