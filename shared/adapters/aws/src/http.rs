//! The AWS clients' HTTP: the SDK's `HttpClient` port over `reqwest`, the stack the CRM clients
//! already use (HTTP/1.1, rustls on aws-lc-rs, the system's roots). A bootstrap then carries
//! one HTTP client instead of two; the SDK's own default client adds HTTP/2, which DynamoDB,
//! SQS and Secrets Manager do not need.
//!
//! The SDK keeps what it does around the request: signing, retries, the operation timeout.
//! Here: the connect and read timeouts the SDK passes, and the failure kinds its retry
//! classifier reads (a timeout, an I/O failure, a request it could not send).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// The connectors made so far, one per distinct pair of timeouts (the SDK asks for one per
/// request attempt; in practice every call of a process has the same settings).
type Connectors = Vec<((Option<Duration>, Option<Duration>), SharedHttpConnector)>;

/// The SDK's HTTP client, over `reqwest`. Cheap to clone; clones share their connections.
#[derive(Debug, Clone, Default)]
pub struct ReqwestHttpClient {
    connectors: Arc<Mutex<Connectors>>,
}

impl ReqwestHttpClient {
    pub fn new() -> ReqwestHttpClient {
        ReqwestHttpClient::default()
    }
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, c)) = connectors.iter().find(|(k, _)| *k == key) {
            return c.clone();
        }
        let connector = SharedHttpConnector::new(Connector::new(key.0, key.1));
        connectors.push((key, connector.clone()));
        connector
    }
}

/// One `reqwest` client with the SDK's timeouts, or the reason it could not be built (every
/// request then fails with it).
#[derive(Debug)]
struct Connector(Result<reqwest::Client, String>);

impl Connector {
    fn new(connect: Option<Duration>, read: Option<Duration>) -> Connector {
        let mut b =
            reqwest::Client::builder().user_agent(concat!("llbridge/", env!("CARGO_PKG_VERSION")));
        if let Some(t) = connect {
            b = b.connect_timeout(t);
        }
        if let Some(t) = read {
            b = b.read_timeout(t);
        }
        Connector(b.build().map_err(|e| e.to_string()))
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let client = client.map_err(|e| {
                ConnectorError::other(format!("cannot build the HTTP client: {e}").into(), None)
            })?;
            let request = to_reqwest(request)?;
            let response = client.execute(request).await.map_err(failure)?;
            from_reqwest(response).await
        })
    }
}

/// The SDK's request as `reqwest`'s: same method, URI, headers and (in-memory) body.
fn to_reqwest(request: HttpRequest) -> Result<reqwest::Request, ConnectorError> {
    let request = request
        .try_into_http1x()
        .map_err(|e| ConnectorError::user(e.into()))?;
    let (parts, body) = request.into_parts();
    let Some(bytes) = body.bytes() else {
        return Err(ConnectorError::user(
            "a streaming request body: the AWS operations used here send theirs whole".into(),
        ));
    };
    let request = http::Request::from_parts(parts, bytes.to_vec());
    reqwest::Request::try_from(request).map_err(|e| ConnectorError::user(e.into()))
}

/// `reqwest`'s response as the SDK's, its body read whole (the read timeout applies).
async fn from_reqwest(response: reqwest::Response) -> Result<HttpResponse, ConnectorError> {
    let mut builder = http::Response::builder().status(response.status());
    if let Some(headers) = builder.headers_mut() {
        headers.extend(
            response
                .headers()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    let body = response.bytes().await.map_err(failure)?;
    let response = builder
        .body(SdkBody::from(body))
        .map_err(|e| ConnectorError::other(e.into(), None))?;
    HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
}

/// A failed exchange in the SDK's terms: its retry classifier retries timeouts and I/O
/// failures (the request may or may not have reached the service; the SDK treats it as it
/// does with its own client).
fn failure(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_builder() {
        ConnectorError::user(e.into())
    } else {
        ConnectorError::io(e.into())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_sqs::config::retry::RetryConfig;
    use aws_sdk_sqs::config::timeout::TimeoutConfig;
    use aws_sdk_sqs::error::SdkError;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use crate::SdkConfig;

    /// A Lambda function's config at `port` on 127.0.0.1, one attempt per call.
    fn config(port: u16, timeouts: TimeoutConfig) -> SdkConfig {
        crate::lambda_sdk_config(|k| match k {
            "AWS_REGION" => Some("us-east-1".to_owned()),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".to_owned()),
            "AWS_ENDPOINT_URL" => Some(format!("http://127.0.0.1:{port}")),
            _ => None,
        })
        .into_builder()
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts)
        .build()
    }

    #[tokio::test]
    async fn the_service_gets_the_signed_request_and_its_answer_is_read() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then the 2-byte body "{}".
            while !request.ends_with(b"\r\n\r\n{}") {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            let body = r#"{"QueueUrls":["http://127.0.0.1/000000000000/jobs"]}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
                 x-amzn-requestid: r-1\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            s.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(request).unwrap().to_ascii_lowercase()
        });
        let sqs = aws_sdk_sqs::Client::new(&config(port, TimeoutConfig::disabled()));
        let out = sqs.list_queues().send().await.unwrap();
        assert_eq!(
            out.queue_urls(),
            ["http://127.0.0.1/000000000000/jobs".to_owned()]
        );
        let request = server.await.unwrap();
        assert!(request.starts_with("post / http/1.1\r\n"), "{request}");
        assert!(
            request.contains("\r\nx-amz-target: amazonsqs.listqueues\r\n"),
            "{request}"
        );
        assert!(
            request.contains("\r\nauthorization: aws4-hmac-sha256 credential=test/"),
            "{request}"
        );
        assert!(request.contains("\r\ncontent-length: 2\r\n"), "{request}");
        assert_eq!(
            request.matches("\r\ncontent-length:").count(),
            1,
            "{request}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_transient_failure() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let sqs = aws_sdk_sqs::Client::new(&config(port, TimeoutConfig::disabled()));
        let err = sqs.list_queues().send().await.unwrap_err();
        assert!(
            matches!(&err, SdkError::DispatchFailure(d) if d.is_io()),
            "{err:?}"
        );
        assert!(crate::classify::port_error("queue", "ListQueues", err).is_transient());
    }

    #[tokio::test]
    async fn an_answer_that_does_not_come_is_a_transient_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Reads the request, never answers.
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            while s.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        });
        let timeouts = TimeoutConfig::builder()
            .read_timeout(Duration::from_millis(200))
            .build();
        let sqs = aws_sdk_sqs::Client::new(&config(port, timeouts));
        // Without the read timeout the call would wait for ever.
        let call = tokio::time::timeout(Duration::from_secs(10), sqs.list_queues().send());
        let err = call.await.expect("the read timeout applies").unwrap_err();
        assert!(
            matches!(&err, SdkError::DispatchFailure(d) if d.is_timeout()),
            "{err:?}"
        );
        assert!(crate::classify::port_error("queue", "ListQueues", err).is_transient());
    }
}
