//! The Dialpad API client: the call list, and the screen pop (the rest is in `rest`): `POST {api_base}/api/v2/users/{user_id}/screenpop` with
//! `{"screen_pop_uri": uri}` and `Authorization: Bearer <api key>`.
//!
//! A pop is only useful while the phone rings, so the client is quick: a short timeout (3 s by
//! default) and at most one retry, only when the request could not be sent at all (no
//! connection). A pop that was sent is never sent again: a 5xx or a timeout leaves its outcome
//! unknown (a second pop would reload a page the agent may already be typing in), and a 429 is
//! final (Dialpad allows 5 pops per minute per user; the moment has passed by the time the
//! limit resets).
//!
//! It has its own outcome and error types; [`PopError::kind`] tells what became of the request,
//! and `DialpadApi` maps them onto the `Dialpad` port.

use llbridge_usecases::telemetry;
use std::fmt;
use std::time::Duration;

use serde_json::json;

/// The request timeout by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// The pause before the one retry, by default.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_millis(200);

/// What became of a screen pop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopResult {
    /// Dialpad accepted it (2xx).
    Sent,
    /// Dialpad answered 429; not retried.
    RateLimited,
}

/// What became of a pop that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopFailure {
    /// The request could not be sent (no connection, even after one retry): nothing popped.
    NotSent,
    /// The request was sent and its answer lost (a 5xx, a timeout): it may have popped.
    Unknown,
    /// Dialpad refused it (401, 403, 404, other 4xx): nothing popped; retrying cannot help.
    Rejected,
}

/// A screen pop that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PopError {
    pub kind: PopFailure,
    /// What happened, with no key, token or URI in it.
    pub message: String,
}

/// Dialpad's screen-pop API. Build the `reqwest` client once and share it.
#[derive(Clone)]
pub struct HttpDialpad {
    api_base: String,
    api_key: String,
    http: reqwest::Client,
    timeout: Duration,
    retry_delay: Duration,
}

impl fmt::Debug for HttpDialpad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpDialpad")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

/// A call-list request that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ListError {
    /// Worth trying again later (429, 5xx, timeout, no connection).
    pub transient: bool,
    pub message: String,
    /// Dialpad's `Retry-After`, when it said one.
    pub retry_after: Option<Duration>,
}

/// One page of `GET /api/v2/call`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallList {
    pub items: Vec<serde_json::Value>,
    pub cursor: Option<String>,
}

enum Attempt {
    Done(Result<PopResult, PopError>),
    /// Worth one more try.
    Again(PopError),
}

impl HttpDialpad {
    /// `api_base` is `https://dialpad.com` (or `https://sandbox.dialpad.com`).
    pub fn new(api_base: &str, api_key: &str, http: reqwest::Client) -> HttpDialpad {
        HttpDialpad {
            api_base: api_base.trim().trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            http,
            timeout: DEFAULT_TIMEOUT,
            retry_delay: DEFAULT_RETRY_DELAY,
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn api_base(&self) -> &str {
        &self.api_base
    }

    pub(crate) fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The timeout of a request other than a pop: never under 10 s (a list page, a call
    /// start that rings a device first).
    pub(crate) fn request_timeout(&self) -> Duration {
        self.timeout.max(Duration::from_secs(10))
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Pops `uri` in the browser of Dialpad user `user_id`. Sent again once only when the first
    /// request could not connect.
    pub async fn screen_pop(&self, user_id: &str, uri: &str) -> Result<PopResult, PopError> {
        let user = user_id.trim();
        if user.is_empty()
            || !user
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(PopError {
                kind: PopFailure::Rejected,
                message: "screen pop: invalid Dialpad user id".into(),
            });
        }
        match self.attempt(user, uri).await {
            Attempt::Done(r) => r,
            Attempt::Again(first) => {
                tracing::info!(user_id = %user, error = %first, "screen pop failed; retrying once");
                tokio::time::sleep(self.retry_delay).await;
                match self.attempt(user, uri).await {
                    Attempt::Done(r) => r,
                    Attempt::Again(e) => Err(e),
                }
            }
        }
    }

    /// `GET /api/v2/call?started_after=&started_before=[&cursor=]`: one page of concluded calls.
    /// A GET: safe to repeat, so every failure but a refusal is transient.
    pub async fn list_calls(
        &self,
        started_after: i64,
        started_before: i64,
        cursor: Option<&str>,
    ) -> Result<CallList, ListError> {
        let mut query = vec![
            ("started_after", started_after.to_string()),
            ("started_before", started_before.to_string()),
        ];
        if let Some(c) = cursor {
            query.push(("cursor", c.to_owned()));
        }
        let started = std::time::Instant::now();
        let sent = self
            .http
            .get(format!("{}/api/v2/call", self.api_base))
            .query(&query)
            .timeout(self.timeout.max(Duration::from_secs(10)))
            .bearer_auth(&self.api_key)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await;
        let outcome = match &sent {
            Ok(r) => telemetry::status_class(r.status().as_u16()),
            Err(e) if e.is_timeout() => "timeout".to_owned(),
            Err(_) => "failed".to_owned(),
        };
        telemetry::request("dialpad", "GET /api/v2/call", &outcome, started.elapsed());
        let resp = sent.map_err(|e| ListError {
            transient: true,
            retry_after: None,
            message: format!(
                "call list: {}",
                if e.is_timeout() {
                    "timed out"
                } else {
                    "request failed"
                }
            ),
        })?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => {}
            429 | 500..=599 => {
                return Err(ListError {
                    transient: true,
                    message: format!("call list: HTTP {status}"),
                    retry_after: resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| {
                            llbridge_usecases::error::retry_after(v, std::time::SystemTime::now())
                        }),
                })
            }
            401 | 403 => {
                return Err(ListError {
                    transient: false,
                    retry_after: None,
                    message: format!(
                        "call list: HTTP {status} (Dialpad rejected the API key, or it lacks the calls:list scope)"
                    ),
                })
            }
            _ => {
                return Err(ListError {
                    transient: false,
                    retry_after: None,
                    message: format!("call list: HTTP {status}"),
                })
            }
        }
        let body: serde_json::Value = resp.json().await.map_err(|e| ListError {
            transient: true,
            retry_after: None,
            message: format!("call list: unreadable answer: {e}"),
        })?;
        let items = body
            .get("items")
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default();
        let cursor = body
            .get("cursor")
            .and_then(serde_json::Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok(CallList { items, cursor })
    }

    async fn attempt(&self, user: &str, uri: &str) -> Attempt {
        let url = format!("{}/api/v2/users/{user}/screenpop", self.api_base);
        let started = std::time::Instant::now();
        let sent = self
            .http
            .post(url)
            .timeout(self.timeout)
            .bearer_auth(&self.api_key)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&json!({ "screen_pop_uri": uri }))
            .send()
            .await;
        let outcome = match &sent {
            Ok(r) => telemetry::status_class(r.status().as_u16()),
            Err(e) if e.is_timeout() => "timeout".to_owned(),
            Err(_) => "failed".to_owned(),
        };
        telemetry::request(
            "dialpad",
            "POST /api/v2/users/{id}/screenpop",
            &outcome,
            started.elapsed(),
        );
        let resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Attempt::Again(PopError {
                    kind: PopFailure::NotSent,
                    message: "screen pop: could not connect".into(),
                });
            }
            Err(e) => {
                let what = if e.is_timeout() {
                    "timed out"
                } else {
                    "request failed"
                };
                return Attempt::Done(Err(PopError {
                    kind: PopFailure::Unknown,
                    message: format!("screen pop: {what} after the request was sent"),
                }));
            }
        };
        let status = resp.status().as_u16();
        tracing::debug!(user_id = %user, status, "Dialpad screen pop");
        match status {
            200..=299 => Attempt::Done(Ok(PopResult::Sent)),
            429 => {
                tracing::warn!(user_id = %user, "Dialpad screen pop rate-limited; not retried");
                Attempt::Done(Ok(PopResult::RateLimited))
            }
            500..=599 => Attempt::Done(Err(PopError {
                kind: PopFailure::Unknown,
                message: format!("screen pop: HTTP {status}; it may have popped"),
            })),
            401 | 403 => Attempt::Done(Err(PopError {
                kind: PopFailure::Rejected,
                message: format!(
                    "screen pop: HTTP {status} (Dialpad rejected the API key, or it lacks the screen_pop scope)"
                ),
            })),
            _ => Attempt::Done(Err(PopError {
                kind: PopFailure::Rejected,
                message: format!("screen pop: HTTP {status}"),
            })),
        }
    }
}
