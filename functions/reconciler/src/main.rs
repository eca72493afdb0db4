//! The reconciler Lambda, run by an EventBridge schedule: one pass over Dialpad's call list
//! (`llbridge_usecases::reconcile`). Calls the webhook never delivered are fed to the job queue like
//! webhook events; calls already logged are left alone. A failed pass fails the invocation
//! (the function's error alarm); what a pass did not read is kept for the next one.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use llbridge_aws::deployment::{adapters, init_json_logs, init_metrics, Deployment};
use llbridge_crm_registry::HttpClients;
use llbridge_usecases::reconcile::Reconciler;
use serde_json::{json, Value};

/// What a pass keeps of the invocation's time for itself: its last page, its lease's
/// release, the metrics' flush.
const MARGIN: Duration = Duration::from_secs(20);

/// The time a pass may take: the invocation's remaining time less [`MARGIN`].
fn budget(deadline_ms: u64, now_ms: u64) -> Duration {
    Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(MARGIN)
}

async fn handle(reconciler: Arc<Reconciler>, tick: LambdaEvent<Value>) -> Result<Value, Error> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let budget = budget(tick.context.deadline, now);
    let pass = reconciler.pass_within(None, budget).await?;
    // The call list failed: the invocation fails too (the function's error alarm), the work
    // is kept for the next pass.
    if let Some(e) = &pass.error {
        return Err(format!("the call list failed: {e}").into());
    }
    Ok(json!({
        "legs": pass.legs,
        "fed": pass.fed.len(),
        "accounted": pass.accounted,
        "alive": pass.alive,
        "too_recent": pass.too_recent,
        "out_of_scope": pass.out_of_scope,
        "windows_left": pass.windows_left,
        "stopped": pass.stopped,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let metrics = init_metrics();
    let deployment = Deployment::from_env()?;
    let a = adapters(
        &deployment,
        Duration::from_secs(10),
        llbridge_crm_registry::crms(),
    );
    let clients = Arc::new(HttpClients::new(
        a.secrets.clone(),
        a.store.clone(),
        a.clock.clone(),
    )?);
    let reconciler = Arc::new(Reconciler {
        store: a.store,
        queue: a.queue,
        clock: a.clock,
        config: a.config,
        clients,
        log_delay: deployment.log_delay,
        settings: Default::default(),
    });
    lambda_runtime::run(service_fn(move |tick| {
        let reconciler = reconciler.clone();
        async move {
            let done = handle(reconciler, tick).await;
            metrics.flush();
            done
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_stops_well_before_the_invocation_does() {
        assert_eq!(
            budget(1_000_300_000, 1_000_000_000),
            Duration::from_secs(280)
        );
        assert_eq!(budget(1_000_010_000, 1_000_000_000), Duration::ZERO);
        assert_eq!(budget(5, 10), Duration::ZERO, "past the deadline");
    }
}
