//! The worker Lambda: a batch of SQS jobs, handled concurrently, each settled on its own:
//! acknowledged when done or failed for good (a malformed message, a LineLeader 4xx, a config
//! error: one log line with the reason), retried after a growing delay when it failed
//! transiently (`ChangeMessageVisibility`, then reported as a batch-item failure so SQS
//! redelivers only it), or moved to the dead-letter queue with its last reason once the retry
//! horizon has passed. Every job stops starting writes in time to finish before the Lambda's
//! deadline. Adapters and HTTP clients are built once per cold start.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use llbridge_aws::deployment::{adapters, init_json_logs, init_metrics, Deployment};
use llbridge_crm_registry::HttpClients;
use llbridge_usecases::effect::Timing;
use llbridge_usecases::worker::{RetryPolicy, Settle, Worker};
use tokio::sync::OnceCell;

/// Kept between a job's deadline and the Lambda's: time to record the job's result.
const DEADLINE_MARGIN_MS: i64 = 3_000;

/// What became of one record: `None` when it needs no redelivery.
async fn one(worker: &Worker, record: SqsMessage, deadline_ms: i64) -> Option<String> {
    let id = record.message_id.clone().unwrap_or_default();
    let Some(body) = record.body else {
        tracing::error!(decision = "failed", reason = "malformed_message", message_id = %id,
            "worker: a message without a body; acknowledged");
        return None;
    };
    let receive_count = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    match worker.settle(&body, receive_count, deadline_ms).await {
        Settle::Ack(_) => None,
        Settle::Retry { after, .. } => {
            if let Some(receipt) = record.receipt_handle.as_deref() {
                if let Err(e) = worker.queue.release(receipt, after).await {
                    tracing::warn!(message_id = %id, error = %e,
                        "worker: could not delay the retry; SQS redelivers after the visibility timeout");
                }
            }
            Some(id)
        }
        Settle::GiveUp(report) => {
            match worker
                .queue
                .dead_letter(&body, &report.given_up(receive_count))
                .await
            {
                // The event source deletes it from the job queue.
                Ok(()) => None,
                Err(e) => {
                    tracing::error!(message_id = %id, error = %e,
                        "worker: could not move a message to the dead-letter queue; it stays in the job queue");
                    Some(id)
                }
            }
        }
    }
}

async fn handle(
    worker: Arc<Worker>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let deadline_ms = i64::try_from(event.context.deadline)
        .unwrap_or(i64::MAX)
        .saturating_sub(DEADLINE_MARGIN_MS);
    let mut running = tokio::task::JoinSet::new();
    let mut ids = std::collections::HashMap::new();
    for record in event.payload.records {
        let worker = worker.clone();
        let id = record.message_id.clone().unwrap_or_default();
        let task = running.spawn(async move { one(&worker, record, deadline_ms).await });
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

/// The worker and its clients, built for the first event: nothing at start that the event
/// does not need (the runtime polls sooner; a failed build fails that event, and the next
/// tries again).
async fn build(deployment: &Deployment) -> Result<Arc<Worker>, Error> {
    let a = adapters(
        deployment,
        Duration::from_secs(10),
        llbridge_crm_registry::crms(),
    );
    let timing = Timing::default();
    let clients = Arc::new(
        HttpClients::new(a.secrets.clone(), a.store.clone(), a.clock.clone())?
            .with_request_budget(timing.write_budget),
    );
    Ok(Arc::new(
        Worker::new(
            a.store,
            a.queue,
            a.clock,
            a.config,
            clients,
            deployment.log_delay,
        )
        .with_timing(timing)
        .with_retry(RetryPolicy {
            horizon: deployment.retry_horizon,
            ..RetryPolicy::default()
        }),
    ))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_json_logs();
    let metrics = init_metrics();
    let deployment = Arc::new(Deployment::from_env()?);
    let worker: Arc<OnceCell<Arc<Worker>>> = Arc::new(OnceCell::new());
    lambda_runtime::run(service_fn(move |event| {
        let (worker, deployment) = (worker.clone(), deployment.clone());
        async move {
            let worker = worker.get_or_try_init(|| build(&deployment)).await?.clone();
            let done = handle(worker, event).await;
            metrics.flush();
            done
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use llbridge_memory::{MemoryQueue, MemoryStore, StaticClients};
    use llbridge_sandbox::{DialpadSandbox, LineLeaderSandbox};
    use llbridge_usecases::jobs::{JobKind, JobMessage};
    use llbridge_usecases::ports::{StaticConfig, SystemClock};
    use serde_json::json;

    fn worker() -> Arc<Worker> {
        let clock = Arc::new(SystemClock);
        let inst = llbridge_crm_registry::parse_value(&json!({
            "dialpad": {"webhook_secrets": ["a-webhook-secret-of-some-length"], "api_key": "k"},
            "connections": {"main": {"base_url": "https://ll.example", "username": "u", "password": "p"}},
            "enablements": [{"scope": {"level": "company"}, "connection": "main", "screen_pop": false,
                "default_center_name": "Oak Park"}]
        }))
        .unwrap();
        Arc::new(Worker::new(
            Arc::new(MemoryStore::new(clock.clone())),
            Arc::new(MemoryQueue::new(clock.clone())),
            clock,
            Arc::new(StaticConfig(Arc::new(inst))),
            Arc::new(StaticClients {
                crm: Arc::new(llbridge_crm_lineleader::LineLeaderCrm::new(Arc::new(
                    LineLeaderSandbox::demo(),
                ))),
                dialpad: Arc::new(DialpadSandbox::new(Default::default(), Default::default())),
            }),
            Duration::from_secs(180),
        ))
    }

    fn record(id: &str, body: Option<String>) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.body = body;
        m
    }

    fn job(call_id: u64) -> String {
        let event = json!({"call_id": call_id, "state": "connected", "direction": "inbound",
            "target": {"id": 1, "type": "user"}, "group_id": "CallCenter:77"});
        let raw = serde_json::value::to_raw_value(&event).unwrap();
        JobMessage::new(JobKind::Merge, raw, 0).to_json()
    }

    fn context() -> lambda_runtime::Context {
        let mut c = lambda_runtime::Context::default();
        c.deadline = (SystemClock.now_ms() + 60_000) as u64;
        c
    }

    use llbridge_usecases::ports::Clock;

    #[tokio::test]
    async fn one_bad_message_never_fails_or_drops_the_others_and_is_not_redelivered() {
        let mut event = SqsEvent::default();
        event.records = vec![
            record("good-1", Some(job(11))),
            record("garbage", Some("{not json".into())),
            record("empty", None),
            record("good-2", Some(job(12))),
        ];
        let w = worker();
        let resp = handle(w.clone(), LambdaEvent::new(event, context()))
            .await
            .unwrap();
        // Malformed messages can never succeed: acknowledged, not redelivered into the DLQ.
        assert!(
            resp.batch_item_failures.is_empty(),
            "{:?}",
            resp.batch_item_failures
        );
        // The good ones were handled: their events are in the conversation state.
        for call_id in ["11", "12"] {
            let conv = llbridge_usecases::state::load(w.store.as_ref(), call_id)
                .await
                .unwrap();
            assert!(conv.is_some(), "{call_id} was not merged");
        }
    }
}
