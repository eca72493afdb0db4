//! `HttpLeadSquared`: the [`LeadSquared`] trait over HTTP, to the URLs of one connection.
//!
//! The URLs carry the account's keys: they never reach a log or an error message (only their
//! host does). A request that never reached LeadSquared (no connection) or that it throttled
//! (429) is sent again after a short backoff; any other failure is reported at once, a lost
//! answer as an unknown outcome.

use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use llbridge_usecases::ports::Secret;
use llbridge_usecases::{Error, Result, NOT_SENT};
use reqwest::header::ACCEPT;
use reqwest::Url;
use serde_json::Value;

use crate::api::{LeadSquared, Posted};
use crate::fields::{read_answer, Answer};

const PORT: &str = "leadsquared";

/// The reason code of a request LeadSquared refused.
pub const REJECTED: &str = "leadsquared_rejected";

/// One request's timeout by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// No answer is read past this many bytes.
const MAX_ANSWER: usize = 64 * 1024;

/// One API URL, and the host it may be named by.
struct Endpoint {
    url: Url,
    host: String,
}

impl Endpoint {
    /// An https URL, or http to a loopback address (the sandbox).
    fn parse(what: &str, secret: &Secret) -> Result<Endpoint> {
        let invalid = |why: &str| {
            Error::permanent(
                "config",
                format!("the LeadSquared {what} is {why} (the URL itself is not shown: it holds the account's keys)"),
            )
        };
        let url = Url::parse(secret.expose().trim()).map_err(|_| invalid("not a valid URL"))?;
        let host = url
            .host_str()
            .ok_or_else(|| invalid("a URL without a host"))?;
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(invalid("not an https URL")),
        }
        Ok(Endpoint {
            host: host.to_owned(),
            url,
        })
    }
}

/// One LeadSquared connection's API.
pub struct HttpLeadSquared {
    http: reqwest::Client,
    call_log: Endpoint,
    agent_popup: Option<Endpoint>,
    call_route: Option<Endpoint>,
    timeout: Duration,
    budget: Duration,
}

/// One attempt's failure: worth another attempt now, or final.
enum Failure {
    Again(Error),
    Final(Error),
}

impl HttpLeadSquared {
    /// Fails (permanent, `config`) when a URL is not https (http only to a loopback address).
    pub fn new(
        http: reqwest::Client,
        call_log_url: Secret,
        agent_popup_url: Option<Secret>,
    ) -> Result<HttpLeadSquared> {
        Ok(HttpLeadSquared {
            http,
            call_log: Endpoint::parse("call_log_url", &call_log_url)?,
            agent_popup: agent_popup_url
                .map(|u| Endpoint::parse("agent_popup_url", &u))
                .transpose()?,
            call_route: None,
            timeout: DEFAULT_TIMEOUT,
            budget: DEFAULT_TIMEOUT * 2,
        })
    }

    /// The Call Route URL (lead owners, for routing).
    pub fn with_call_route(mut self, call_route_url: Option<Secret>) -> Result<HttpLeadSquared> {
        self.call_route = call_route_url
            .map(|u| Endpoint::parse("call_route_url", &u))
            .transpose()?;
        Ok(self)
    }

    /// Requests time out after `budget / 2` (10 s at most) and take at most `budget`, retries
    /// included.
    pub fn with_budget(mut self, budget: Duration) -> HttpLeadSquared {
        self.budget = budget;
        self.timeout = (budget / 2).min(DEFAULT_TIMEOUT);
        self
    }

    async fn post_once(&self, what: &str, ep: &Endpoint, body: &Value) -> Result<Answer, Failure> {
        let host = &ep.host;
        let started = std::time::Instant::now();
        let sent = self
            .http
            .post(ep.url.clone())
            .timeout(self.timeout)
            .header(ACCEPT, "application/json")
            .json(body)
            .send()
            .await;
        let outcome = match &sent {
            Ok(r) => llbridge_usecases::telemetry::status_class(r.status().as_u16()),
            Err(e) if e.is_timeout() => "timeout".to_owned(),
            Err(_) => "failed".to_owned(),
        };
        // The endpoint is named, not its URL: the keys are in its query string.
        llbridge_usecases::telemetry::request("leadsquared", what, &outcome, started.elapsed());
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                tracing::warn!(host = %host, what, "LeadSquared: could not connect");
                return Err(Failure::Again(
                    Error::transient(PORT, format!("{what} to {host}: could not connect"))
                        .with_code(NOT_SENT),
                ));
            }
            Err(e) => {
                let how = if e.is_timeout() {
                    "timed out"
                } else {
                    "failed"
                };
                tracing::warn!(host = %host, what, "LeadSquared: {how} after the request was sent");
                return Err(Failure::Final(Error::unknown_outcome(
                    PORT,
                    format!("{what} to {host}: {how} after the request was sent"),
                )));
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| llbridge_usecases::error::retry_after(v, std::time::SystemTime::now()));
        let mut answer = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) if answer.len() + chunk.len() <= MAX_ANSWER => {
                    answer.extend_from_slice(&chunk)
                }
                Ok(Some(_)) => break,
                Ok(None) => break,
                Err(_) => {
                    return Err(Failure::Final(Error::unknown_outcome(
                        PORT,
                        format!("{what} to {host}: HTTP {status}, then the answer was cut off"),
                    )))
                }
            }
        }
        let answer = read_answer(status, &answer);
        tracing::debug!(host = %host, what, status, "LeadSquared request");
        match answer {
            Answer::Throttled => {
                tracing::warn!(host = %host, what, status, "LeadSquared throttled");
                let error =
                    Error::transient(PORT, format!("{what} to {host}: HTTP 429 (throttled)"))
                        .with_code(NOT_SENT)
                        .with_retry_after(retry_after);
                // A wait longer than this request's retries is the job's.
                if retry_after.is_some_and(|a| a > MAX_RETRY_DELAY) {
                    Err(Failure::Final(error))
                } else {
                    Err(Failure::Again(error))
                }
            }
            Answer::Unknown(why) => {
                tracing::warn!(host = %host, what, status, "LeadSquared server error");
                Err(Failure::Final(
                    Error::unknown_outcome(
                        PORT,
                        format!("{what} to {host}: {why}; it may have been taken"),
                    )
                    .with_retry_after(retry_after),
                ))
            }
            Answer::Refused(why) => Err(Failure::Final(
                Error::permanent(PORT, format!("{what} to {host} refused: {why}"))
                    .with_code(REJECTED),
            )),
            done => Ok(done),
        }
    }

    /// One POST, sent again only while it cannot have been processed.
    async fn post(&self, what: &str, ep: &Endpoint, body: &Value) -> Result<Answer> {
        let attempts = (|| async { self.post_once(what, ep, body).await })
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(200))
                    .with_max_delay(MAX_RETRY_DELAY)
                    .with_max_times(2)
                    .with_jitter(),
            )
            .sleep(tokio::time::sleep)
            .when(|f| matches!(f, Failure::Again(_)));
        match tokio::time::timeout(self.budget, attempts).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(Failure::Again(e) | Failure::Final(e))) => Err(e),
            Err(_) => Err(Error::unknown_outcome(
                PORT,
                format!(
                    "{what} to {}: no answer within {} ms",
                    ep.host,
                    self.budget.as_millis()
                ),
            )),
        }
    }
}

/// The longest pause between two attempts of one request.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(1);

#[async_trait]
impl LeadSquared for HttpLeadSquared {
    async fn post_call_log(&self, log: &Value) -> Result<Posted> {
        Ok(match self.post("call log", &self.call_log, log).await? {
            Answer::Done { id } => Posted::Logged { id },
            Answer::Duplicate(message) => Posted::Duplicate { message },
            other => {
                return Err(Error::permanent(
                    PORT,
                    format!("call log: unexpected answer {other:?}"),
                ))
            }
        })
    }

    async fn show_agent_popup(&self, popup: &Value) -> Result<()> {
        let Some(ep) = &self.agent_popup else {
            return Err(Error::permanent(
                PORT,
                "agent popup: the connection has no agent_popup_url",
            )
            .with_code(REJECTED));
        };
        self.post("agent popup", ep, popup).await.map(|_| ())
    }

    async fn lead_owner(&self, caller_digits: &str) -> Result<Option<String>> {
        let Some(ep) = &self.call_route else {
            return Ok(None);
        };
        let mut url = ep.url.clone();
        url.query_pairs_mut()
            .append_pair("caller_id", caller_digits);
        let host = &ep.host;
        let started = std::time::Instant::now();
        let sent = self
            .http
            .get(url)
            .timeout(self.timeout)
            .header(ACCEPT, "application/json")
            .send()
            .await;
        let outcome = match &sent {
            Ok(r) => llbridge_usecases::telemetry::status_class(r.status().as_u16()),
            Err(e) if e.is_timeout() => "timeout".to_owned(),
            Err(_) => "failed".to_owned(),
        };
        llbridge_usecases::telemetry::request(
            "leadsquared",
            "call route",
            &outcome,
            started.elapsed(),
        );
        let resp = sent.map_err(|e| {
            Error::transient(
                PORT,
                format!(
                    "call route to {host}: {}",
                    if e.is_timeout() {
                        "timed out"
                    } else {
                        "request failed"
                    }
                ),
            )
        })?;
        let status = resp.status().as_u16();
        match status {
            404 | 204 => return Ok(None),
            200..=299 => {}
            _ => {
                return Err(Error::transient(
                    PORT,
                    format!("call route to {host}: HTTP {status}"),
                ))
            }
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|_| Error::transient(PORT, format!("call route to {host}: answer lost")))?;
        if bytes.len() > MAX_ANSWER {
            return Err(Error::transient(
                PORT,
                format!("call route to {host}: answer too large"),
            ));
        }
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(crate::fields::owner_email(&answer))
    }
}
