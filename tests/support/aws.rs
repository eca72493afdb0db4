//! The local host on the AWS adapters, against moto: a table, a queue with its dead-letter
//! queue (redrive after 5 receives), and Secrets Manager.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::QueueAttributeName;
use llbridge_aws::{DynamoStore, SecretsManagerSecrets, SqsQueue};
use llbridge_host::{Options, QueueProbe};

use crate::moto;

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

    async fn dead_letters(&self) -> Vec<String> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await;
        out.ok()
            .and_then(|o| o.messages)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.body)
            .collect()
    }

    fn quiet_period(&self) -> Duration {
        self.quiet
    }
}

/// Points the host's store, queue and secrets at fresh resources on the shared moto server.
pub async fn use_aws_adapters(opts: &mut Options, log_delay: Duration) {
    let config = moto::shared().sdk_config().await;
    let table = moto::unique("e2e");
    moto::create_table(&config, &table).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let dlq_url = moto::create_queue(&config, &moto::unique("e2e-dlq")).await;
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .ok()
        .and_then(|o| o.attributes)
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_else(|| panic!("no ARN for {dlq_url}"));
    let queue_url = sqs
        .create_queue()
        .queue_name(moto::unique("e2e-jobs"))
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"5"}}"#),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateQueue: {e:?}"))
        .queue_url
        .unwrap_or_default();
    let probe = SqsProbe {
        client: sqs,
        queue_url: queue_url.clone(),
        dlq_url,
        quiet: log_delay + Duration::from_millis(1500),
    };
    opts.store = Some(Arc::new(
        DynamoStore::new(&config, table).with_clock(opts.clock.clone()),
    ));
    opts.queue = Some((Arc::new(SqsQueue::new(&config, queue_url)), Arc::new(probe)));
    opts.secrets = Arc::new(SecretsManagerSecrets::new(&config));
}
