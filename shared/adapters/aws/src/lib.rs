//! AWS adapters of llbridge's ports: [`SqsQueue`] (SQS), [`DynamoStore`] (DynamoDB) and
//! [`SecretsManagerSecrets`] (Secrets Manager). They pass the same contract suite as the embedded
//! adapters (`tests/contracts/ports.rs`, against moto).
//!
//! Build the clients once per process (a Lambda's cold start) with [`load_sdk_config`] and pass
//! them in; every adapter is cheap to clone around in an `Arc`.

mod classify;
pub mod deployment;
mod dynamo;
mod http;
pub mod provision;
mod secrets;
mod sqs;

pub use dynamo::DynamoStore;
pub use http::ReqwestHttpClient;
pub use secrets::SecretsManagerSecrets;
pub use sqs::SqsQueue;

pub use aws_config::SdkConfig;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};

/// The SDK config from the environment: region, credentials (the Lambda role's environment
/// variables, a profile, web identity, ECS or IMDS), and `AWS_ENDPOINT_URL`, which points every
/// client at an emulator such as moto without any code change. For the command line and the
/// local host; the Lambda functions use [`lambda_sdk_config`].
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(ReqwestHttpClient::new())
        .load()
        .await
}

/// The SDK config of a Lambda function, from what Lambda puts in its environment (`var` reads
/// a variable): the region (`AWS_REGION`, else `AWS_DEFAULT_REGION`), the execution role's
/// credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), and
/// `AWS_ENDPOINT_URL` when set (an emulator). Lambda sets these for the life of the execution
/// environment, so they are read once. None of the provider chain of [`load_sdk_config`]
/// (profiles, web identity, containers, IMDS) is linked into the functions; without
/// credentials in the environment every AWS call fails with the SDK's "no credentials" error.
/// HTTP goes through [`ReqwestHttpClient`]; retries (standard, 3 attempts), timeouts, sleep
/// and clock are the clients' defaults.
pub fn lambda_sdk_config(var: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let get = |k: &str| {
        var(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut b = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(ReqwestHttpClient::new());
    if let Some(region) = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")) {
        b.set_region(Some(Region::new(region)));
    }
    if let (Some(id), Some(secret)) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
        let credentials = Credentials::new(id, secret, get("AWS_SESSION_TOKEN"), None, "Lambda");
        b.set_credentials_provider(Some(SharedCredentialsProvider::new(credentials)));
    }
    if let Some(url) = get("AWS_ENDPOINT_URL") {
        b.set_endpoint_url(Some(url));
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::config::ProvideCredentials;

    use super::*;

    #[tokio::test]
    async fn a_lambda_functions_config_comes_from_its_environment() {
        let env = |k: &str| {
            match k {
                "AWS_REGION" => Some("eu-west-1"),
                "AWS_DEFAULT_REGION" => Some("us-east-1"),
                "AWS_ACCESS_KEY_ID" => Some("ASIAEXAMPLE"),
                "AWS_SECRET_ACCESS_KEY" => Some("secret"),
                "AWS_SESSION_TOKEN" => Some("token"),
                "AWS_ENDPOINT_URL" => Some(" http://127.0.0.1:5005 "),
                _ => None,
            }
            .map(str::to_owned)
        };
        let c = lambda_sdk_config(env);
        assert_eq!(c.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(c.endpoint_url(), Some("http://127.0.0.1:5005"));
        let credentials = c
            .credentials_provider()
            .expect("credentials")
            .provide_credentials()
            .await
            .expect("credentials");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.session_token(), Some("token"));

        // AWS_DEFAULT_REGION when AWS_REGION is absent; no endpoint, no credentials.
        let bare = |k: &str| (k == "AWS_DEFAULT_REGION").then(|| "us-east-2".to_owned());
        let c = lambda_sdk_config(bare);
        assert_eq!(c.region().map(|r| r.as_ref()), Some("us-east-2"));
        assert_eq!(c.endpoint_url(), None);
        assert!(c.credentials_provider().is_none());
    }
}
