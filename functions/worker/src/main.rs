//! The worker Lambda: a batch of SQS jobs, handled concurrently; each failed message is
//! reported as a batch-item failure so SQS redelivers only it (and, after the queue's
//! `maxReceiveCount`, moves it to the dead-letter queue). Adapters and HTTP clients are built
//! once per cold start.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use llbridge_app::worker::Worker;
use llbridge_aws::deployment::{adapters, init_json_logs, Deployment};
use llbridge_clients::HttpClients;

async fn handle(
    worker: Arc<Worker>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let mut running = tokio::task::JoinSet::new();
    let mut ids = std::collections::HashMap::new();
    for record in event.payload.records {
        let worker = worker.clone();
        let id = record.message_id.clone().unwrap_or_default();
        let task = running.spawn(async move {
            let id = record.message_id.unwrap_or_default();
            let Some(body) = record.body else {
                tracing::error!(decision = "error", reason = "empty_message", message_id = %id, "worker: message without a body");
                return Some(id);
            };
            match worker.handle(&body).await {
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(decision = "retry", reason = if e.is_transient() { "transient_failure" } else { "permanent_failure" }, message_id = %id, error = %e, "worker: job failed; SQS will deliver it again");
                    Some(id)
                }
            }
        });
        ids.insert(task.id(), id);
    }
    let mut response = SqsBatchResponse::default();
    while let Some(done) = running.join_next_with_id().await {
        let failed = match done {
            Ok((_, None)) => None,
            Ok((_, Some(id))) => Some(id),
            Err(e) => {
                tracing::error!(decision = "retry", reason = "job_aborted", error = %e, "worker: a job did not finish; SQS will deliver it again");
                ids.get(&e.id()).cloned()
            }
        };
        if let Some(id) = failed {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let deployment = Deployment::from_env()?;
    let a = adapters(&deployment, Duration::from_secs(10)).await;
    let clients = Arc::new(HttpClients::new(
        a.secrets.clone(),
        a.store.clone(),
        a.clock.clone(),
    )?);
    let worker = Arc::new(Worker {
        store: a.store,
        queue: a.queue,
        clock: a.clock,
        config: a.config,
        log_delay: deployment.log_delay,
        clients,
    });
    lambda_runtime::run(service_fn(move |event| handle(worker.clone(), event))).await
}
