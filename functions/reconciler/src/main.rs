//! The reconciler Lambda, run by an EventBridge schedule: one pass over Dialpad's call list
//! (`llbridge_app::reconcile`). Calls the webhook never delivered are fed to the job queue like
//! webhook events; calls already logged are left alone. A failed pass fails the invocation
//! (the function's error alarm) and the next one resumes from the last complete pass.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use llbridge_app::reconcile::Reconciler;
use llbridge_aws::deployment::{adapters, init_json_logs, init_metrics, Deployment};
use llbridge_clients::HttpClients;
use serde_json::{json, Value};

async fn handle(reconciler: Arc<Reconciler>, _tick: LambdaEvent<Value>) -> Result<Value, Error> {
    let pass = reconciler.pass(None).await?;
    Ok(json!({
        "legs": pass.legs,
        "fed": pass.fed.len(),
        "accounted": pass.accounted,
        "too_recent": pass.too_recent,
        "out_of_scope": pass.out_of_scope,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let metrics = init_metrics();
    let deployment = Deployment::from_env()?;
    let a = adapters(&deployment, Duration::from_secs(10));
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
