//! The job queue on SQS.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;
use llbridge_usecases::ports::{GivenUp, Queue, Received};
use llbridge_usecases::{Error, Result};

use crate::classify::port_error;

/// SQS's limits.
const MAX_DELAY_SECS: u64 = 900;
const MAX_BATCH: usize = 10;
const MAX_WAIT_SECS: u64 = 20;
const MAX_VISIBILITY_SECS: u64 = 12 * 60 * 60;

/// A standard SQS queue. Delays are per message (`DelaySeconds`, up to 15 minutes); the
/// visibility timeout, the receive counts and the dead-letter redrive are the queue's own.
/// Messages the worker gives up go to the dead-letter queue with their reason as message
/// attributes (`reason`, `detail`).
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    url: String,
    dead_letter_url: Option<String>,
}

/// The longest `detail` attribute put on a dead letter.
const MAX_DETAIL: usize = 1024;

impl SqsQueue {
    pub fn new(config: &SdkConfig, queue_url: impl Into<String>) -> SqsQueue {
        SqsQueue::from_client(Client::new(config), queue_url)
    }

    pub fn from_client(client: Client, queue_url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: queue_url.into(),
            dead_letter_url: None,
        }
    }

    /// Where messages the worker gives up go.
    pub fn with_dead_letter_queue(mut self, url: impl Into<String>) -> SqsQueue {
        self.dead_letter_url = Some(url.into()).filter(|u: &String| !u.trim().is_empty());
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Whole seconds, rounded up so that a message never shows before its delay.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn delay_secs(delay: Duration) -> Result<i32> {
    let secs = ceil_secs(delay);
    if secs > MAX_DELAY_SECS {
        return Err(Error::permanent(
            "queue",
            format!("delay of {secs} s is above SQS's {MAX_DELAY_SECS} s"),
        ));
    }
    // At most 900: fits.
    Ok(secs as i32)
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<()> {
        let delay = delay_secs(delay)?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay)
            .send()
            .await
            .map_err(|e| port_error("queue", "SendMessage", e))?;
        Ok(())
    }

    /// SendMessageBatch in chunks of 10. Every chunk is sent; entries SQS rejects are reported
    /// together as one error (transient unless SQS blames the request), so the caller retries.
    async fn send_batch(&self, messages: &[(String, Duration)]) -> Result<()> {
        let mut failures = Vec::new();
        let mut all_senders_fault = true;
        for chunk in messages.chunks(MAX_BATCH) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, (body, delay)) in chunk.iter().enumerate() {
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .delay_seconds(delay_secs(*delay)?)
                    .build()
                    .map_err(|e| Error::permanent("queue", format!("batch entry: {e}")))?;
                entries.push(entry);
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| port_error("queue", "SendMessageBatch", e))?;
            for f in out.failed() {
                all_senders_fault &= f.sender_fault();
                failures.push(format!(
                    "entry {}: {} {}",
                    f.id(),
                    f.code(),
                    f.message().unwrap_or_default()
                ));
            }
        }
        if failures.is_empty() {
            return Ok(());
        }
        let message = format!(
            "SendMessageBatch: {} of {} message(s) not sent: {}",
            failures.len(),
            messages.len(),
            failures.join("; ")
        );
        Err(if all_senders_fault {
            Error::permanent("queue", message)
        } else {
            Error::transient("queue", message)
        })
    }

    /// Long-polls for up to 10 messages (SQS's maximum per call) for up to 20 s.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>> {
        let max = max.clamp(1, MAX_BATCH) as i32;
        let wait = ceil_secs(wait).min(MAX_WAIT_SECS) as i32;
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| port_error("queue", "ReceiveMessage", e))?;
        let mut received = Vec::new();
        for m in out.messages.unwrap_or_default() {
            let (Some(id), Some(receipt)) = (m.message_id, m.receipt_handle) else {
                tracing::warn!("SQS returned a message without id or receipt handle; skipped");
                continue;
            };
            let receive_count = m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            received.push(Received {
                id,
                receipt,
                body: m.body.unwrap_or_default(),
                receive_count,
            });
        }
        Ok(received)
    }

    async fn ack(&self, receipt: &str) -> Result<()> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| port_error("queue", "DeleteMessage", e))?;
        Ok(())
    }

    async fn release(&self, receipt: &str, delay: Duration) -> Result<()> {
        let secs = ceil_secs(delay).min(MAX_VISIBILITY_SECS) as i32;
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(secs)
            .send()
            .await
            .map_err(|e| port_error("queue", "ChangeMessageVisibility", e))?;
        Ok(())
    }

    async fn dead_letter(&self, body: &str, given_up: &GivenUp) -> Result<()> {
        let (reason, detail) = (given_up.reason.as_str(), given_up.detail.as_str());
        let Some(url) = &self.dead_letter_url else {
            return Err(Error::permanent(
                "queue",
                "no dead-letter queue configured (LLBRIDGE_DLQ_URL)",
            ));
        };
        let attribute = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(if v.is_empty() { "-" } else { v })
                .build()
                .map_err(|e| Error::permanent("queue", format!("message attribute: {e}")))
        };
        let detail: String = detail.chars().take(MAX_DETAIL).collect();
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .message_attributes("reason", attribute(reason)?)
            .message_attributes("detail", attribute(&detail)?)
            .message_attributes(
                "deliveries",
                MessageAttributeValue::builder()
                    .data_type("Number")
                    .string_value(given_up.deliveries.to_string())
                    .build()
                    .map_err(|e| Error::permanent("queue", format!("message attribute: {e}")))?,
            )
            .send()
            .await
            .map_err(|e| port_error("queue", "SendMessage (dead-letter queue)", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_and_stop_at_fifteen_minutes() {
        assert_eq!(delay_secs(Duration::ZERO).ok(), Some(0));
        assert_eq!(delay_secs(Duration::from_millis(1500)).ok(), Some(2));
        assert_eq!(delay_secs(Duration::from_secs(900)).ok(), Some(900));
        let err = delay_secs(Duration::from_millis(900_001)).err();
        assert!(err.is_some_and(|e| !e.is_transient()));
    }
}
