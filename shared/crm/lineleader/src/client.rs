//! `HttpLineLeader`: the `LineLeader` port over HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use llbridge_usecases::ports::{Clock, Secret, Store};
use llbridge_usecases::telemetry;

use crate::api::Lookup;
use crate::rules::paths::{ApiSettings, Endpoint};
use llbridge_domain::phone::{self};
use llbridge_usecases::{Error, Result};
use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::Method;
use serde_json::Value;

use crate::cache::Cache;
use crate::endpoints::{self as ep, Paths, API_PREFIX, PAGE_LIMIT, TOTAL_COUNT_HEADER};
use crate::token::{short_hash, Authenticate, Issued, TokenTiming, Tokens, LOGIN_REJECTED};

mod calls;

const PORT: &str = "lineleader";

/// The request timeout by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most one request may take, retries included, by default.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(20);

/// How long reference data (centers, statuses, type lists, staff) is reused by default.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(600);

/// No list is read past this many pages (a server that never says "done").
const MAX_PAGES: usize = 500;

/// No answer is read past this many bytes (a page of 100 records is far smaller).
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// The body of an answer, unless it is longer than [`MAX_RESPONSE`] (`None`).
async fn read_capped(mut resp: reqwest::Response) -> reqwest::Result<Option<Vec<u8>>> {
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE as u64)
    {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// Retries of throttled (429), failed (5xx) and timed-out requests inside one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// The sum of all delays stays under this.
    pub total_delay: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries, 200 ms doubling to at most 1 s, 3 s of waiting in all.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(1),
            total_delay: Duration::from_secs(3),
        }
    }
}

impl RetryPolicy {
    /// No retry at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_total_delay(Some(self.total_delay))
            .with_jitter()
    }
}

/// A `reqwest` client for LineLeader and Dialpad: rustls, a request timeout. Build it once and
/// share it; each client also sets its own per-request timeout.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("llbridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::permanent(PORT, format!("cannot build the HTTP client: {e}")))
}

/// One connection's LineLeader API.
pub struct HttpLineLeader {
    name: String,
    base_url: String,
    username: Secret,
    password: Secret,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    tokens: Tokens,
    cache: Cache,
    cache_ttl: Duration,
    timeout: Duration,
    budget: Duration,
    retry: RetryPolicy,
    paths: Paths,
}

impl std::fmt::Debug for HttpLineLeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpLineLeader")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// A response that is neither throttled, failed nor unauthorized.
struct Reply {
    status: u16,
    total: Option<usize>,
    body: Value,
}

enum Failure {
    /// Worth another attempt now.
    Retry {
        error: Error,
        retry_after: Option<Duration>,
    },
    /// Not retried inside this call.
    Final(Error),
}

impl Failure {
    fn into_error(self) -> Error {
        match self {
            Failure::Retry { error, retry_after } => error.with_retry_after(retry_after),
            Failure::Final(error) => error,
        }
    }
}

impl HttpLineLeader {
    /// `base_url` is the tenant's (`https://live.childcarecrm.com`); `/api/v3` is appended.
    /// The token is cached in `store` under [`HttpLineLeader::token_key`].
    pub fn new(
        name: &str,
        base_url: &str,
        username: Secret,
        password: Secret,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        http: reqwest::Client,
    ) -> HttpLineLeader {
        let base_url = base_url.trim().trim_end_matches('/').to_owned();
        let id = if name.trim().is_empty() {
            short_hash(&[&base_url, username.expose()])
        } else {
            format!(
                "{}#{}",
                name.trim(),
                short_hash(&[&base_url, username.expose()])
            )
        };
        let mut tokens = Tokens::new(
            llbridge_usecases::keys::token(&id),
            store,
            clock.clone(),
            TokenTiming::default(),
        );
        tokens.for_credentials(username.expose(), password.expose());
        HttpLineLeader {
            name: name.to_owned(),
            base_url,
            username,
            password,
            http,
            clock,
            tokens,
            cache: Cache::new(),
            cache_ttl: DEFAULT_CACHE_TTL,
            timeout: DEFAULT_TIMEOUT,
            budget: DEFAULT_BUDGET,
            retry: RetryPolicy::default(),
            paths: Paths::default(),
        }
    }

    /// Where this tenant's API differs from the documented contract (the connection's `api`).
    pub fn with_api(mut self, api: ApiSettings) -> Self {
        self.paths = Paths::new(api);
        self
    }

    /// The connection's paths.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// How long reference data is reused (default 10 minutes; zero disables the cache).
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// The per-request timeout (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most one request may take, retries included (default 20 s); past it the request
    /// fails as transient.
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_token_timing(mut self, timing: TokenTiming) -> Self {
        self.tokens.set_timing(timing);
        self
    }

    /// The store key of this connection's token (its renewal lease is `<key>#lease`).
    pub fn token_key(&self) -> &str {
        self.tokens.key()
    }

    /// Drops the cached reference data and the in-process token copy.
    pub async fn clear_cache(&self) {
        self.cache.clear().await;
        self.tokens.forget_local();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}{}", self.base_url, API_PREFIX, path)
    }

    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        token: Option<&str>,
        repeatable: bool,
    ) -> Result<Reply, Failure> {
        let label = ep::label(path);
        let mut req = self
            .http
            .request(method.clone(), self.url(path))
            .timeout(self.timeout)
            .header(ACCEPT, "application/json");
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let started = Instant::now();
        let unreachable = |e: reqwest::Error| {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "request failed"
            };
            tracing::warn!(connection = %self.name, %method, path = %label, "LineLeader {what}");
            // A request that never connected was not processed: send it again. One that was
            // sent may have been: only a repeatable one (GET, PUT) is sent again; for a POST
            // the outcome is unknown.
            if e.is_connect() || repeatable {
                Failure::Retry {
                    error: Error::transient(PORT, format!("{method} {label}: {what}")),
                    retry_after: None,
                }
            } else {
                Failure::Final(Error::unknown_outcome(
                    PORT,
                    format!("{method} {label}: {what} after the request was sent"),
                ))
            }
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        let total = resp
            .headers()
            .get(TOTAL_COUNT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok());
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| llbridge_usecases::error::retry_after(v, std::time::SystemTime::now()));
        let bytes = match read_capped(resp).await {
            Ok(Some(b)) => b,
            Ok(None) => {
                // A tenant (or something in between) that answers without end is not read
                // into memory. The request itself may have been handled.
                let message = format!(
                    "{method} {label}: HTTP {status} with an answer over {} bytes; not read",
                    MAX_RESPONSE
                );
                tracing::warn!(connection = %self.name, %method, path = %label, status,
                    "LineLeader answer too large");
                return Err(Failure::Final(if repeatable {
                    Error::permanent(PORT, message).with_code("lineleader_rejected")
                } else {
                    Error::unknown_outcome(PORT, message)
                }));
            }
            // The status came, the body did not: a 2xx write may well have happened.
            Err(e) if (200..300).contains(&status) && !repeatable => {
                tracing::warn!(connection = %self.name, %method, path = %label, error = %e,
                    "LineLeader answer cut off");
                return Err(Failure::Final(Error::unknown_outcome(
                    PORT,
                    format!("{method} {label}: HTTP {status}, then the answer was cut off"),
                )));
            }
            Err(e) => return Err(unreachable(e)),
        };
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        tracing::debug!(
            connection = %self.name,
            %method,
            path = %label,
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "LineLeader request"
        );
        if status == 429 {
            // Refused before any processing: safe to send again, whatever the method.
            tracing::warn!(connection = %self.name, %method, path = %label, status, "LineLeader throttled");
            return Err(Failure::Retry {
                error: Error::transient(PORT, format!("{method} {label}: HTTP 429 (throttled)")),
                retry_after,
            });
        }
        if status >= 500 || status == 408 {
            tracing::warn!(connection = %self.name, %method, path = %label, status, "LineLeader server error");
            return Err(if repeatable {
                Failure::Retry {
                    error: Error::transient(PORT, format!("{method} {label}: HTTP {status}")),
                    retry_after,
                }
            } else {
                Failure::Final(
                    Error::unknown_outcome(
                        PORT,
                        format!("{method} {label}: HTTP {status}; the write may have taken effect"),
                    )
                    .with_retry_after(retry_after),
                )
            });
        }
        Ok(Reply {
            status,
            total,
            body,
        })
    }

    /// One request, with the retries of the policy for failures that are safe to retry.
    async fn send(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        token: Option<&str>,
        repeatable: bool,
    ) -> Result<Reply> {
        let max_delay = self.retry.max_delay;
        let attempts = (|| self.send_once(method, path, query, body, token, repeatable))
            .retry(self.retry.backoff())
            .sleep(tokio::time::sleep)
            // A wait longer than the request's own retries allow is the job's: the request
            // fails with it, and the job is retried after it.
            .when(move |f| {
                matches!(f, Failure::Retry { retry_after, .. }
                    if retry_after.is_none_or(|a| a <= max_delay))
            })
            .adjust(move |f, next| match (f, next) {
                (
                    Failure::Retry {
                        retry_after: Some(after),
                        ..
                    },
                    Some(_),
                ) => Some(*after),
                _ => next,
            });
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(self.budget, attempts).await;
        let outcome = match &answer {
            Ok(Ok(reply)) => telemetry::status_class(reply.status),
            Ok(Err(_)) => "failed".to_owned(),
            Err(_) => "timeout".to_owned(),
        };
        telemetry::request("lineleader", &ep::label(path), &outcome, started.elapsed());
        match answer {
            Ok(r) => r.map_err(Failure::into_error),
            Err(_) => {
                let message = format!(
                    "{method} {}: no answer within {} ms",
                    ep::label(path),
                    self.budget.as_millis()
                );
                Err(if repeatable {
                    Error::transient(PORT, message)
                } else {
                    Error::unknown_outcome(PORT, message)
                })
            }
        }
    }

    /// An authorized request: a 401 logs in again once and retries once. Answers 2xx, 404 and
    /// 405 (a route the tenant lacks); a 401 after logging in again is transient (the
    /// credentials may be fixed); other 4xx are permanent (`lineleader_rejected`).
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        repeatable: bool,
    ) -> Result<Reply> {
        let label = ep::label(path);
        let mut logged_in_again = false;
        loop {
            let token = self.tokens.get(self).await?;
            let reply = self
                .send(&method, path, query, body, Some(&token), repeatable)
                .await?;
            match reply.status {
                401 if !logged_in_again => {
                    tracing::info!(connection = %self.name, %method, path = %label,
                        "LineLeader token rejected; logging in again");
                    self.tokens.invalidate(&token).await?;
                    logged_in_again = true;
                }
                401 => {
                    return Err(Error::transient(
                        PORT,
                        format!("{method} {label}: unauthorized even after logging in again"),
                    )
                    .with_code("lineleader_unauthorized"))
                }
                200..=299 | 404 | 405 => return Ok(reply),
                s => {
                    tracing::warn!(connection = %self.name, %method, path = %label, status = s,
                        "LineLeader rejected the request");
                    return Err(Error::permanent(
                        PORT,
                        format!("{method} {label}: HTTP {s}{}", reason(&reply.body)),
                    )
                    .with_code("lineleader_rejected"));
                }
            }
        }
    }

    /// A 2xx answer, else a permanent error (404 included).
    async fn call_ok(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        repeatable: bool,
    ) -> Result<Value> {
        let label = ep::label(path);
        let reply = self
            .call(method.clone(), path, query, body, repeatable)
            .await?;
        if matches!(reply.status, 404 | 405) {
            return Err(Error::permanent(
                PORT,
                format!(
                    "{method} {label}: HTTP {}{}",
                    reply.status,
                    reason(&reply.body)
                ),
            )
            .with_code("lineleader_rejected"));
        }
        Ok(reply.body)
    }

    /// Every page of a list; `None` when the tenant has no such route (404 or 405).
    async fn pages(&self, path: &str, query: &[(&str, String)]) -> Result<Option<Vec<Value>>> {
        let label = ep::label(path);
        let mut out = Vec::new();
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            let mut q = query.to_vec();
            q.extend(ep::page_query(PAGE_LIMIT, offset));
            let reply = self.call(Method::GET, path, &q, None, true).await?;
            if matches!(reply.status, 404 | 405) {
                return Ok(None);
            }
            let items = ep::list_items(&reply.body).ok_or_else(|| {
                Error::permanent(PORT, format!("GET {label}: the response is not a list"))
            })?;
            let n = items.len();
            out.extend(items.iter().cloned());
            offset += n;
            let done = match reply.total {
                Some(total) => n == 0 || offset >= total,
                None => n < PAGE_LIMIT,
            };
            if done {
                return Ok(Some(out));
            }
        }
        tracing::warn!(connection = %self.name, path = %label, pages = MAX_PAGES,
            "LineLeader list longer than the page cap; truncated");
        Ok(Some(out))
    }

    /// Every page of a list that must exist.
    async fn all_pages(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<Value>> {
        self.pages(path, query).await?.ok_or_else(|| {
            Error::permanent(PORT, format!("GET {}: no such route", ep::label(path)))
                .with_code("lineleader_rejected")
        })
    }

    /// Every page of a lookup some tenants lack.
    async fn lookup_pages(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Lookup<Vec<Value>>> {
        Ok(match self.pages(path, query).await? {
            Some(items) => Lookup::Answered(items),
            None => Lookup::Unsupported(format!(
                "GET {} answers 404/405: this tenant cannot list them",
                ep::label(path)
            )),
        })
    }

    /// One unpaged list.
    async fn list(&self, path: &str) -> Result<Vec<Value>> {
        let label = ep::label(path);
        let body = self.call_ok(Method::GET, path, &[], None, true).await?;
        ep::list_items(&body).cloned().ok_or_else(|| {
            Error::permanent(PORT, format!("GET {label}: the response is not a list"))
        })
    }

    /// A `POST` that creates a record (F3, K3, E1, P1): its id, and the whole answer. Never
    /// repeated at the HTTP level: a lost answer is an unknown outcome.
    async fn create(&self, endpoint: Endpoint, body: &Value) -> Result<(String, Value)> {
        let path = self.paths.get(endpoint);
        let resp = self
            .call_ok(Method::POST, &path, &[], Some(body), false)
            .await?;
        let id = ep::created_id(&resp)
            .ok_or_else(|| Error::permanent(PORT, format!("POST {path}: no id in the response")))?;
        Ok((id, resp))
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn ttl_ms(&self) -> i64 {
        self.cache_ttl.as_millis() as i64
    }

    async fn issue(&self, path: &str, body: &Value) -> Result<Issued> {
        let label = ep::label(path);
        let reply = self
            .send(&Method::POST, path, &[], Some(body), None, true)
            .await?;
        match reply.status {
            200..=299 => {
                let (token, refresh_token) = ep::parse_tokens(&reply.body).ok_or_else(|| {
                    Error::permanent(PORT, format!("POST {label}: no token in the response"))
                })?;
                Ok(Issued {
                    token,
                    refresh_token,
                })
            }
            400 | 401 | 403 => Err(Error::permanent(
                PORT,
                format!(
                    "POST {label}: HTTP {} (login rejected; check the connection's username and password)",
                    reply.status
                ),
            )
            .with_code(LOGIN_REJECTED)),
            s => Err(Error::transient(PORT, format!("POST {label}: HTTP {s}"))),
        }
    }
}

#[async_trait]
impl Authenticate for HttpLineLeader {
    async fn login(&self) -> Result<Issued> {
        tracing::info!(connection = %self.name, "logging in to LineLeader");
        let body = ep::login_body(self.username.expose(), self.password.expose());
        self.issue(&self.paths.get(Endpoint::Login), &body).await
    }

    async fn refresh(&self, refresh_token: &str) -> Result<Issued> {
        tracing::info!(connection = %self.name, "refreshing the LineLeader token");
        self.issue(
            &self.paths.get(Endpoint::LoginRefresh),
            &ep::refresh_body(refresh_token),
        )
        .await
    }
}

/// The server's own short reason (`error` or `message`), for error messages: at most 160
/// characters, phone numbers in any format masked.
fn reason(body: &Value) -> String {
    let text = ["error", "message", "detail", "reason"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str));
    let Some(text) = text else {
        return String::new();
    };
    let short: String = text.chars().take(160).collect();
    format!(": {}", phone::mask_in_text(&short))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reasons_are_short_and_masked() {
        assert_eq!(
            reason(&json!({"error": "bad phone 4158159602"})),
            ": bad phone ***9602"
        );
        assert_eq!(
            reason(&json!({"message": "no family with phone (415) 815-9602 or 415.815.9602"})),
            ": no family with phone ***9602 or ***9602"
        );
        assert_eq!(reason(&json!({"message": "limit 100"})), ": limit 100");
        assert_eq!(reason(&json!(null)), "");
    }
}
