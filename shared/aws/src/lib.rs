//! AWS adapters of llbridge's ports: [`SqsQueue`] (SQS), [`DynamoStore`] (DynamoDB) and
//! [`SecretsManagerSecrets`] (Secrets Manager). They pass the same contract suite as the embedded
//! adapters (`tests/contracts/ports.rs`, against moto).
//!
//! Build the clients once per process (a Lambda's cold start) with [`load_sdk_config`] and pass
//! them in; every adapter is cheap to clone around in an `Arc`.

mod classify;
pub mod deployment;
mod dynamo;
pub mod provision;
mod secrets;
mod sqs;

pub use dynamo::DynamoStore;
pub use secrets::SecretsManagerSecrets;
pub use sqs::SqsQueue;

pub use aws_config::SdkConfig;

/// The SDK config from the environment: region, credentials (the Lambda role's environment
/// variables, a profile, web identity, ECS or IMDS), and `AWS_ENDPOINT_URL`, which points every
/// client at an emulator such as moto without any code change.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
