//! `--stack NAME`: a deployed stack's resources, from its CloudFormation outputs (credentials
//! and region from the usual environment).

use anyhow::Context;
use aws_sdk_cloudformation::Client;
use llbridge_aws::load_sdk_config;

/// What the CLI needs of a stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub table: String,
    pub queue_url: String,
    pub dlq_url: String,
    /// The Secrets Manager secret the functions may read (the `ConfigSecretName` output).
    pub config_secret: Option<String>,
    /// The URL Dialpad posts call events to (the `WebhookUrl` output).
    pub webhook_url: Option<String>,
}

/// Reads the outputs of the stack `name`.
pub async fn describe(name: &str) -> anyhow::Result<Stack> {
    let client = Client::new(&load_sdk_config().await);
    let out = client
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .with_context(|| format!("cannot describe the stack {name} (AWS credentials and region from the environment)"))?;
    let stack = out
        .stacks()
        .first()
        .with_context(|| format!("no stack named {name}"))?;
    let output = |key: &str| {
        stack
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
            .map(str::to_owned)
    };
    let required = |key: &str| {
        output(key).with_context(|| {
            format!(
                "the stack {name} has no {key} output: is it an llbridge stack, fully deployed?"
            )
        })
    };
    Ok(Stack {
        table: required("TableName")?,
        queue_url: required("QueueUrl")?,
        dlq_url: required("DeadLetterQueueUrl")?,
        config_secret: output("ConfigSecretName"),
        webhook_url: output("WebhookUrl"),
    })
}
