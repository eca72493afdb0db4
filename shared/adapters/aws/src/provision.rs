//! Creates the stack's table and queues when they do not exist yet, as `template.yaml`
//! declares them: for the local host on the AWS adapters (`llbridge local --aws-endpoint`,
//! against moto) and for the suites. A deployment gets them from the template instead.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use llbridge_usecases::{Error, Result};

use crate::classify::port_error;

/// Creates the store's table (`pk` (S), on demand, TTL on `ttl`) unless it exists.
pub async fn ensure_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<()> {
    let exists = client.describe_table().table_name(name).send().await;
    if exists.is_ok() {
        return Ok(());
    }
    let definition = |e: aws_sdk_dynamodb::error::BuildError| {
        Error::permanent("store", format!("table definition: {e}"))
    };
    let attribute = AttributeDefinition::builder()
        .attribute_name("pk")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(definition)?;
    let key = KeySchemaElement::builder()
        .attribute_name("pk")
        .key_type(KeyType::Hash)
        .build()
        .map_err(definition)?;
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name("ttl")
        .enabled(true)
        .build()
        .map_err(definition)?;
    let created = client
        .create_table()
        .table_name(name)
        .attribute_definitions(attribute)
        .key_schema(key)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => {}
        // Created by someone else meanwhile.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) => {}
        Err(e) => return Err(port_error("store", &format!("CreateTable {name}"), e)),
    }
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| port_error("store", &format!("UpdateTimeToLive {name}"), e))?;
    Ok(())
}

/// The job queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queues {
    pub queue_url: String,
    pub dead_letter_url: String,
}

/// Creates (or finds) the job queue `name` with `visibility_secs` of visibility timeout and
/// its dead-letter queue `<name>-dlq`, to which the queue moves a message after
/// `max_receives` deliveries.
pub async fn ensure_queues(
    client: &aws_sdk_sqs::Client,
    name: &str,
    visibility_secs: u64,
    max_receives: u32,
) -> Result<Queues> {
    let dead_letter_url = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| port_error("queue", "CreateQueue (dead-letter queue)", e))?
        .queue_url
        .unwrap_or_default();
    let arn = client
        .get_queue_attributes()
        .queue_url(&dead_letter_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| port_error("queue", "GetQueueAttributes", e))?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| Error::permanent("queue", "the dead-letter queue has no ARN"))?;
    let queue_url = client
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_secs.to_string(),
        )
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"{max_receives}"}}"#),
        )
        .send()
        .await
        .map_err(|e| port_error("queue", "CreateQueue", e))?
        .queue_url
        .unwrap_or_default();
    Ok(Queues {
        queue_url,
        dead_letter_url,
    })
}
