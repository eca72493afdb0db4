//! The local host on the AWS adapters: a DynamoDB table, an SQS queue with its dead-letter
//! queue, and Secrets Manager, at an emulator's endpoint (moto) or AWS itself. The table and
//! the queues are created when absent. Used by `llbridge local --aws-endpoint URL` and by the
//! suites that run the product on the AWS adapters.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use llbridge_aws::provision::{ensure_queues, ensure_table, Queues};
use llbridge_aws::{DynamoStore, SdkConfig, SecretsManagerSecrets, SqsQueue};
use llbridge_usecases::ports::DeadLetter;

use crate::{Options, QueueProbe};

/// Where the AWS resources are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsTarget {
    /// An emulator's endpoint (`http://127.0.0.1:5005`); `None` for AWS itself.
    pub endpoint: Option<String>,
    pub table: String,
    /// The job queue's name; its dead-letter queue is `<queue>-dlq`.
    pub queue: String,
}

/// The SDK config of a target: at an emulator, region `us-east-1` unless `AWS_REGION` says
/// otherwise, and dummy credentials unless the environment has some.
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(llbridge_aws::ReqwestHttpClient::new());
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            loader = loader.region(aws_config::Region::new("us-east-1"));
        }
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "llbridge-local",
            ));
        }
    }
    loader.load().await
}

/// Points the host's store, queue and secrets at `target`, creating the table and queues when
/// absent. The queue redelivers a message after 6 job budgets (as the template: 6 x the
/// worker's timeout) and redrives it itself only after more deliveries than the retry policy
/// makes.
pub async fn use_aws(opts: &mut Options, target: &AwsTarget) -> llbridge_usecases::Result<Queues> {
    let config = sdk_config(target.endpoint.as_deref()).await;
    ensure_table(&aws_sdk_dynamodb::Client::new(&config), &target.table).await?;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let visibility = (opts.timing.job_budget * 6).as_secs().max(1);
    let queues =
        ensure_queues(&sqs, &target.queue, visibility, opts.retry.deliveries() + 5).await?;
    let probe = SqsProbe {
        client: sqs,
        queue_url: queues.queue_url.clone(),
        dlq_url: queues.dead_letter_url.clone(),
        quiet: opts.log_delay + Duration::from_millis(1500),
    };
    opts.store = Some(Arc::new(
        DynamoStore::new(&config, target.table.clone()).with_clock(opts.clock.clone()),
    ));
    opts.queue = Some((
        Arc::new(
            SqsQueue::new(&config, queues.queue_url.clone())
                .with_dead_letter_queue(queues.dead_letter_url.clone()),
        ),
        Arc::new(probe),
    ));
    opts.secrets = Arc::new(SecretsManagerSecrets::new(&config));
    Ok(queues)
}

/// Watches an SQS queue through its approximate counts (exact on moto), and its dead-letter
/// queue.
pub struct SqsProbe {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    dlq_url: String,
    quiet: Duration,
}

impl SqsProbe {
    /// A probe of the job queue `queue_url` and its dead-letter queue `dlq_url`.
    pub fn new(config: &SdkConfig, queue_url: &str, dlq_url: &str) -> SqsProbe {
        SqsProbe {
            client: aws_sdk_sqs::Client::new(config),
            queue_url: queue_url.to_owned(),
            dlq_url: dlq_url.to_owned(),
            quiet: Duration::from_secs(2),
        }
    }

    async fn counts(&self, url: &str) -> (usize, usize, usize) {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await;
        let Ok(out) = out else {
            return (usize::MAX, 0, 0);
        };
        let attrs = out.attributes.unwrap_or_default();
        let n = |k: QueueAttributeName| attrs.get(&k).and_then(|v| v.parse().ok()).unwrap_or(0);
        (
            n(QueueAttributeName::ApproximateNumberOfMessages),
            n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            n(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        )
    }
}

#[async_trait]
impl QueueProbe for SqsProbe {
    /// SQS does not tell due times: delayed messages are not counted, and `quiet_period` covers
    /// the log delay instead.
    async fn idle(&self, _horizon: Duration) -> bool {
        let (visible, in_flight, _) = self.counts(&self.queue_url).await;
        visible == 0 && in_flight == 0
    }

    async fn pending(&self) -> usize {
        let (a, b, c) = self.counts(&self.queue_url).await;
        a.saturating_add(b).saturating_add(c)
    }

    /// The queue's own count (visible, in flight and delayed): listing the dead letters
    /// waits out three empty receives, seconds a page cannot spend on a tile.
    async fn dead_letter_count(&self) -> usize {
        match self.counts(&self.dlq_url).await {
            (usize::MAX, _, _) => self.dead_letters().await.len(),
            (a, b, c) => a.saturating_add(b).saturating_add(c),
        }
    }

    /// Every message of the dead-letter queue, read without taking it: each receive hides
    /// what it brought (so that the next brings others) until three in a row bring nothing
    /// new; then every message read is made visible again at once.
    async fn dead_letters(&self) -> Vec<DeadLetter> {
        let mut seen = std::collections::BTreeMap::new();
        let mut receipts = Vec::new();
        let mut idle = 0;
        while idle < 3 && seen.len() < MAX_REPLAY {
            let out = self
                .client
                .receive_message()
                .queue_url(&self.dlq_url)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .wait_time_seconds(1)
                .message_attribute_names("All")
                .send()
                .await;
            let Ok(out) = out else {
                break;
            };
            let mut new = 0;
            for m in out.messages.unwrap_or_default() {
                if let Some(r) = m.receipt_handle.clone() {
                    receipts.push(r);
                }
                if let (Some(id), Some(body)) = (m.message_id.clone(), m.body.clone()) {
                    if let std::collections::btree_map::Entry::Vacant(slot) = seen.entry(id) {
                        new += 1;
                        slot.insert(dead_letter(&m, body));
                    }
                }
            }
            idle = if new == 0 { idle + 1 } else { 0 };
        }
        for (i, chunk) in receipts.chunks(10).enumerate() {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .filter_map(|(j, r)| {
                    aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(format!("m{i}-{j}"))
                        .receipt_handle(r)
                        .visibility_timeout(0)
                        .build()
                        .ok()
                })
                .collect();
            let shown = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.dlq_url)
                .set_entries(Some(entries))
                .send()
                .await;
            if let Err(e) = shown {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e),
                    "dead letters read stay hidden for 30 s");
            }
        }
        seen.into_values().collect()
    }

    async fn replay_dead_letters(
        &self,
        pick: &(dyn for<'d> Fn(&'d DeadLetter) -> bool + Send + Sync),
    ) -> Vec<DeadLetter> {
        let mut replayed = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        // Each receive hides what it took for a minute: a message left alone comes back. An
        // empty receive does not mean an empty queue (SQS answers from a sample of its
        // servers): the queue is drained when three receives in a row, each waiting a second,
        // bring nothing new; at most MAX_REPLAY messages a run.
        let mut idle = 0;
        while idle < 3 && seen.len() < MAX_REPLAY {
            let Ok(out) = self
                .client
                .receive_message()
                .queue_url(&self.dlq_url)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .wait_time_seconds(1)
                .message_attribute_names("All")
                .send()
                .await
            else {
                break;
            };
            let messages = out.messages.unwrap_or_default();
            let before = seen.len();
            for m in messages {
                let (Some(id), Some(body), Some(receipt)) = (
                    m.message_id.clone(),
                    m.body.clone(),
                    m.receipt_handle.clone(),
                ) else {
                    continue;
                };
                if !seen.insert(id) {
                    continue;
                }
                let letter = dead_letter(&m, body);
                if !pick(&letter) {
                    continue;
                }
                let sent = self
                    .client
                    .send_message()
                    .queue_url(&self.queue_url)
                    .message_body(&letter.body)
                    .send()
                    .await;
                if sent.is_ok() {
                    let _ = self
                        .client
                        .delete_message()
                        .queue_url(&self.dlq_url)
                        .receipt_handle(receipt)
                        .send()
                        .await;
                    replayed.push(letter);
                }
            }
            idle = if seen.len() == before { idle + 1 } else { 0 };
        }
        replayed
    }

    fn quiet_period(&self) -> Duration {
        self.quiet
    }
}

/// The most dead letters one replay moves.
pub const MAX_REPLAY: usize = 10_000;

fn dead_letter(m: &aws_sdk_sqs::types::Message, body: String) -> DeadLetter {
    let attr = |k: &str| {
        m.message_attributes
            .as_ref()
            .and_then(|a| a.get(k))
            .and_then(|v| v.string_value.clone())
    };
    DeadLetter {
        reason: attr("reason"),
        detail: attr("detail"),
        deliveries: attr("deliveries").and_then(|d| d.parse().ok()),
        body,
    }
}
