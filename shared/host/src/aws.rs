//! The local host on the AWS adapters: a DynamoDB table, an SQS queue with its dead-letter
//! queue, and Secrets Manager, at an emulator's endpoint (moto) or AWS itself. The table and
//! the queues are created when absent. Used by `llbridge local --aws-endpoint URL` and by the
//! suites that run the product on the AWS adapters.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use llbridge_app::ports::DeadLetter;
use llbridge_aws::provision::{ensure_queues, ensure_table, Queues};
use llbridge_aws::{DynamoStore, SdkConfig, SecretsManagerSecrets, SqsQueue};

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
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
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
pub async fn use_aws(opts: &mut Options, target: &AwsTarget) -> llbridge_app::Result<Queues> {
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

/// Watches an SQS queue through its approximate counts (exact on moto).
pub struct SqsProbe {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    dlq_url: String,
    quiet: Duration,
}

impl SqsProbe {
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

    async fn dead_letters(&self) -> Vec<DeadLetter> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await;
        out.ok()
            .and_then(|o| o.messages)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let attr = |k: &str| {
                    m.message_attributes
                        .as_ref()
                        .and_then(|a| a.get(k))
                        .and_then(|v| v.string_value.clone())
                };
                Some(DeadLetter {
                    reason: attr("reason"),
                    detail: attr("detail"),
                    body: m.body.clone()?,
                })
            })
            .collect()
    }

    fn quiet_period(&self) -> Duration {
        self.quiet
    }
}
