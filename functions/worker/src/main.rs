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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::SqsMessage;
    use llbridge_app::jobs::{JobKind, JobMessage};
    use llbridge_app::ports::{StaticConfig, SystemClock};
    use llbridge_domain::Installation;
    use llbridge_embedded::{MemoryQueue, MemoryStore, StaticClients};
    use llbridge_sandbox::{DialpadSandbox, LineLeaderSandbox};
    use serde_json::json;

    fn worker() -> Arc<Worker> {
        let clock = Arc::new(SystemClock);
        let inst = Installation::from_value(&json!({
            "dialpad": {"allow_unsigned": true, "api_key": "k"},
            "connections": {"main": {"base_url": "https://ll.example", "username": "u", "password": "p"}},
            "enablements": [{"scope": {"level": "company"}, "connection": "main", "screen_pop": false,
                "default_center_name": "Oak Park"}]
        }))
        .unwrap();
        Arc::new(Worker {
            store: Arc::new(MemoryStore::new(clock.clone())),
            queue: Arc::new(MemoryQueue::new(clock.clone())),
            clock,
            config: Arc::new(StaticConfig(Arc::new(inst))),
            log_delay: Duration::from_secs(180),
            clients: Arc::new(StaticClients {
                lineleader: Arc::new(LineLeaderSandbox::demo()),
                dialpad: Arc::new(DialpadSandbox::new(Default::default(), Default::default())),
            }),
        })
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

    #[tokio::test]
    async fn one_bad_message_never_fails_or_drops_the_others() {
        let mut event = SqsEvent::default();
        event.records = vec![
            record("good-1", Some(job(11))),
            record("garbage", Some("{not json".into())),
            record("empty", None),
            record("good-2", Some(job(12))),
        ];
        let w = worker();
        let resp = handle(w.clone(), LambdaEvent::new(event, Default::default()))
            .await
            .unwrap();
        let mut failed: Vec<String> = resp
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        failed.sort();
        assert_eq!(failed, vec!["empty".to_string(), "garbage".to_string()]);
        // The good ones were handled: their events are in the conversation state.
        for call_id in ["11", "12"] {
            let conv = llbridge_app::state::load(w.store.as_ref(), call_id)
                .await
                .unwrap();
            assert!(conv.is_some(), "{call_id} was not merged");
        }
    }
}
