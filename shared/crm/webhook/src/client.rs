//! The signed POST of a webhook connection, and what each answer means.
//!
//! Headers per Standard Webhooks: `webhook-id` (the same on every attempt of one call record),
//! `webhook-timestamp` (seconds, the wall clock at the attempt: the receiver compares it with
//! its own to refuse replays), `webhook-signature` (`v1,<base64 HMAC-SHA256 of
//! id.timestamp.body>`).
//!
//! * 2xx: received. 409: received before (the receiver says it has this `webhook-id`).
//! * 429: not taken; posted again after its `Retry-After`.
//! * 408, 5xx, a timeout, an answer cut off: it may have been taken: an unknown outcome, posted
//!   again with the same `webhook-id` on a later attempt.
//! * any other 4xx: refused, said once, never posted again.
//! * no connection at all: not sent, posted again.
//!
//! The URL is never logged (it may carry a token in its query): only its host.

use std::time::Duration;

use llbridge_usecases::ports::Secret;
use llbridge_usecases::{Error, Result, NOT_SENT};
use reqwest::header::CONTENT_TYPE;
use reqwest::Url;
use standardwebhooks::{
    Webhook, HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP,
};

const PORT: &str = "webhook";

/// The reason code of a post the receiver refused.
pub const REJECTED: &str = "webhook_rejected";

/// One request's timeout by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a receiver said of a post it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A 2xx: taken now.
    Now(u16),
    /// A 409: it had this `webhook-id` already.
    Before,
}

/// One webhook connection.
pub struct HttpWebhook {
    http: reqwest::Client,
    url: Url,
    host: String,
    signer: Webhook,
    timeout: Duration,
}

impl HttpWebhook {
    /// Fails (permanent, `config`) when the URL is not https (http only to a loopback address)
    /// or the secret is not a `whsec_` one.
    pub fn new(http: reqwest::Client, url: &str, secret: &Secret) -> Result<HttpWebhook> {
        let url = Url::parse(url)
            .map_err(|_| Error::permanent("config", "the webhook URL is not a valid URL"))?;
        let host = url.host_str().unwrap_or_default().to_owned();
        crate::config::check_secret(secret.expose()).map_err(|why| {
            Error::permanent("config", format!("the webhook connection's secret {why}"))
        })?;
        let key = secret
            .expose()
            .trim()
            .trim_start_matches(crate::config::SECRET_PREFIX);
        let signer = Webhook::new(key)
            .map_err(|_| Error::permanent("config", "the webhook secret does not decode"))?;
        Ok(HttpWebhook {
            http,
            url,
            host,
            signer,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Each post times out after `budget` (10 s at most).
    pub fn with_budget(mut self, budget: Duration) -> HttpWebhook {
        self.timeout = budget.min(DEFAULT_TIMEOUT);
        self
    }

    /// The host posts go to (for logs and checks).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Posts `body` with the id `id`, signed now.
    pub async fn post(&self, id: &str, body: &[u8]) -> Result<Received> {
        let host = &self.host;
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let signature = self
            .signer
            .sign(id, timestamp, body)
            .map_err(|e| Error::permanent(PORT, format!("cannot sign the post: {e}")))?;
        let started = std::time::Instant::now();
        let sent = self
            .http
            .post(self.url.clone())
            .timeout(self.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(HEADER_WEBHOOK_ID, id)
            .header(HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string())
            .header(HEADER_WEBHOOK_SIGNATURE, signature)
            .body(body.to_vec())
            .send()
            .await;
        let outcome = match &sent {
            Ok(r) => llbridge_usecases::telemetry::status_class(r.status().as_u16()),
            Err(e) if e.is_timeout() => "timeout".to_owned(),
            Err(_) => "failed".to_owned(),
        };
        llbridge_usecases::telemetry::request(
            PORT,
            "POST call record",
            &outcome,
            started.elapsed(),
        );
        let resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Err(
                    Error::transient(PORT, format!("post to {host}: could not connect"))
                        .with_code(NOT_SENT),
                )
            }
            Err(e) => {
                let how = if e.is_timeout() {
                    "timed out"
                } else {
                    "failed"
                };
                return Err(Error::unknown_outcome(
                    PORT,
                    format!("post to {host}: {how} after the request was sent"),
                ));
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| llbridge_usecases::error::retry_after(v, std::time::SystemTime::now()));
        match status {
            200..=299 => Ok(Received::Now(status)),
            409 => Ok(Received::Before),
            429 => Err(
                Error::transient(PORT, format!("post to {host}: HTTP 429 (throttled)"))
                    .with_code(NOT_SENT)
                    .with_retry_after(retry_after),
            ),
            408 | 500..=599 => Err(Error::unknown_outcome(
                PORT,
                format!("post to {host}: HTTP {status}; it may have been taken"),
            )
            .with_retry_after(retry_after)),
            _ => Err(
                Error::permanent(PORT, format!("post to {host} refused: HTTP {status}"))
                    .with_code(REJECTED),
            ),
        }
    }
}
