//! Any order or duplication of one conversation's events, through the webhook and the worker,
//! gives the same merged record and exactly one call log.

use llbridge_usecases::jobs::JobKind;
use std::sync::Arc;
use std::time::Duration;

use llbridge_domain::Conversation;
use llbridge_memory::{ManualClock, MemoryQueue, MemorySecrets, MemoryStore, StaticClients};
use llbridge_sandbox::{Dataset, DialpadSandbox, LineLeaderSandbox};
use llbridge_tests::configs;
use llbridge_tests::events::Call;
use llbridge_tests::webhook::sign;
use llbridge_usecases::ingest::Ingest;
use llbridge_usecases::ports::{Clock, Queue, StaticConfig};
use llbridge_usecases::state;
use llbridge_usecases::worker::{Report, Worker};
use proptest::prelude::*;
use serde_json::Value;

const LOG_DELAY: Duration = Duration::from_secs(180);

/// What one run left behind.
struct Run {
    reports: Vec<Report>,
    conv: Conversation,
    lineleader: LineLeaderSandbox,
}

/// Posts the events in order (the clock moving a little between them), then runs the worker
/// until the queue is empty, moving the clock to each delayed message, against the embedded
/// LineLeader.
async fn run(events: &[Value]) -> Run {
    let clock = Arc::new(ManualClock::new(1767710400000 + 400_000));
    let queue = Arc::new(MemoryQueue::new(clock.clone()));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let config = Arc::new(StaticConfig(Arc::new(configs::call_center_config())));
    let ingest = Ingest {
        config: config.clone(),
        secrets: Arc::new(MemorySecrets::new()),
        queue: queue.clone(),
        store: store.clone(),
        clock: clock.clone(),
        log_delay: LOG_DELAY,
    };
    let lineleader = LineLeaderSandbox::new(
        Default::default(),
        Dataset::demo(chrono::Utc::now()),
        Default::default(),
    );
    let worker = Worker::new(
        store.clone(),
        queue.clone(),
        clock.clone(),
        config,
        Arc::new(StaticClients {
            crm: Arc::new(llbridge_crm_lineleader::LineLeaderCrm::new(Arc::new(
                lineleader.clone(),
            ))),
            dialpad: Arc::new(DialpadSandbox::new(Default::default(), Default::default())),
        }),
        LOG_DELAY,
    );
    let mut reports = Vec::new();
    for e in events {
        let resp = ingest.handle("POST", sign(e).as_bytes()).await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        clock.advance(Duration::from_secs(1));
        // Let the worker keep up with what is visible now.
        reports.extend(drain_visible(&worker, &queue).await);
    }
    for _ in 0..100 {
        reports.extend(drain_visible(&worker, &queue).await);
        match queue.next_visible_at() {
            Some(at) => clock.set_ms(at.max(clock.now_ms())),
            None => break,
        }
    }
    assert!(queue.is_empty(), "queue not drained");
    let conv = state::load(store.as_ref(), &events[0]["call_id"].to_string())
        .await
        .unwrap()
        .unwrap();
    Run {
        reports,
        conv,
        lineleader,
    }
}

async fn drain_visible(worker: &Worker, queue: &MemoryQueue) -> Vec<Report> {
    let mut out = Vec::new();
    loop {
        let batch = queue.receive(10, Duration::ZERO).await.unwrap();
        if batch.is_empty() {
            return out;
        }
        for m in batch {
            let report = worker.handle(&m.body).await.unwrap();
            queue.ack(&m.receipt).await.unwrap();
            out.push(report);
        }
    }
}

fn logged(reports: &[Report]) -> usize {
    reports
        .iter()
        .filter(|r| r.job == Some(JobKind::CallLog) && r.decision == "logged")
        .count()
}

/// A caller LineLeader does not know yet.
const NEW_CALLER: &str = "+16505550142";

fn events() -> Vec<Value> {
    Call::new(0, NEW_CALLER, 1767710400000).all("Follow-Up Needed")
}

/// LineLeader received one new family and one phone log, with the disposition.
fn assert_one_family_and_one_log(r: &Run) -> Result<(), TestCaseError> {
    let state = r.lineleader.state();
    let created: Vec<_> = state
        .data
        .families
        .iter()
        .filter(|f| f.origin == "api")
        .collect();
    prop_assert_eq!(created.len(), 1, "families created: {:?}", created);
    prop_assert_eq!(
        state.data.phone_logs.len(),
        1,
        "{:?}",
        state.data.phone_logs
    );
    let log = &state.data.phone_logs[0];
    prop_assert_eq!(log.family_id, created[0].id);
    prop_assert_eq!(&log.disposition, "Follow-Up Needed");
    prop_assert_eq!(&log.ani, "6505550142");
    Ok(())
}

fn permutation_with_duplicates() -> impl Strategy<Value = Vec<Value>> {
    let base = events();
    let n = base.len();
    (proptest::collection::vec(0..n, 0..5), Just(base)).prop_flat_map(|(dups, base)| {
        let mut all = base.clone();
        all.extend(dups.iter().map(|&i| base[i].clone()));
        Just(all).prop_shuffle()
    })
}

#[tokio::test]
async fn in_order_the_call_is_merged_and_logged_once() {
    let r = run(&events()).await;
    assert_eq!(logged(&r.reports), 1, "{:#?}", r.reports);
    assert_eq!(r.conv.disposition(), Some("Follow-Up Needed"));
    assert!(r.conv.ended);
    assert_eq!(
        r.conv.agent.as_ref().and_then(|a| a.email.as_deref()),
        Some("ana@example.com")
    );
    assert_one_family_and_one_log(&r).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn any_order_and_duplication_gives_one_record_and_one_log(events in permutation_with_duplicates()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let expected = rt.block_on(run(&self::events()));
        prop_assert_eq!(logged(&expected.reports), 1);
        let r = rt.block_on(run(&events));
        prop_assert_eq!(logged(&r.reports), 1, "{:#?}", r.reports);
        prop_assert_eq!(&r.conv, &expected.conv);
        assert_one_family_and_one_log(&r)?;
    }
}
