//! The outage drill: the safety net holds when it is needed. A store that fails at the worst
//! moment, a LineLeader that refuses or answers differently from the sandbox, a long call, a
//! disposition that comes while the log is being retried. Each case asserts what LineLeader
//! received and what the ledger says.

use std::sync::Arc;
use std::time::Duration;

use llbridge_app::ledger;
use llbridge_app::ports::Store;
use llbridge_tests::configs::{enablement, CALL_CENTER};
use llbridge_tests::faulty_store::{FaultyStore, WriteFault};
use llbridge_tests::scenario::{answered, data, family, Scenario};
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
    assert_eq!(entry.decision.as_deref(), Some("logged"), "{entry:?}");
    assert!(
        entry.effects.as_ref().and_then(|e| e.get("phone_log_id")).is_some(),
        "{entry:?}"
    );
    s.stop().await;
}
