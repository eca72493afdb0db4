//! What every sandbox shares: the log of every request received, injected faults, and the
//! middleware that applies them.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Requests under this prefix are the test hooks: never logged, never faulted.
pub const HOOK_PREFIX: &str = "/_sandbox";

/// What every sandbox's common hooks need: its settings and its recorder.
pub trait Hooked: Clone + Send + Sync + 'static {
    type Config: Serialize + serde::de::DeserializeOwned;
    fn config(&self) -> Self::Config;
    fn set_config(&self, config: Self::Config);
    fn recorder(&self) -> &Arc<Recorder>;
}

/// The hooks every sandbox serves (to nest under [`HOOK_PREFIX`]): `GET|DELETE /requests`,
/// `GET|POST /faults`, `GET|POST /config` (fields absent from the body keep their values).
pub fn common_hooks<T: Hooked>() -> axum::Router<T> {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/requests",
            get(|State(sb): State<T>| async move {
                reply(StatusCode::OK, json!(sb.recorder().requests()))
            })
            .delete(|State(sb): State<T>| async move {
                sb.recorder().clear_requests();
                reply(StatusCode::OK, json!({ "cleared": true }))
            }),
        )
        .route(
            "/faults",
            get(|State(sb): State<T>| async move {
                reply(StatusCode::OK, json!(sb.recorder().faults()))
            })
            .post(|State(sb): State<T>, body: Bytes| async move {
                match parse_json::<Faults>(&body) {
                    Ok(f) => {
                        sb.recorder().set_faults(f);
                        reply(StatusCode::OK, json!(sb.recorder().faults()))
                    }
                    Err(r) => r,
                }
            }),
        )
        .route(
            "/config",
            get(|State(sb): State<T>| async move { reply(StatusCode::OK, json!(sb.config())) })
                .post(|State(sb): State<T>, body: Bytes| async move {
                    match patched(sb.config(), &body) {
                        Ok(c) => {
                            sb.set_config(c);
                            reply(StatusCode::OK, json!(sb.config()))
                        }
                        Err(r) => r,
                    }
                }),
        )
}

/// `current` with the fields of the JSON object `body` replaced.
#[allow(clippy::result_large_err)]
fn patched<C: Serialize + serde::de::DeserializeOwned>(
    current: C,
    body: &[u8],
) -> Result<C, Response> {
    let patch: Value = parse_json(body)?;
    let mut current = json!(current);
    let (Some(cur), Some(p)) = (current.as_object_mut(), patch.as_object()) else {
        return Err(error(StatusCode::BAD_REQUEST, "the body must be an object"));
    };
    cur.extend(p.clone());
    serde_json::from_value(current)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid config: {e}")))
}

/// Bodies above this size are refused.
const MAX_BODY: usize = 1024 * 1024;

/// One request as the sandbox received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// 1, 2, ... in arrival order.
    pub seq: u64,
    /// Epoch milliseconds.
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The JSON body (a string when it was not JSON, null when empty); `password` fields are
    /// replaced by `"***"`.
    pub body: Value,
    /// The status answered; 0 while no answer was sent (still in progress, or the client
    /// hung up first, as after a client-side timeout).
    pub status: u16,
    /// Whether an injected fault produced the answer.
    pub faulted: bool,
    /// The request took effect and then its answer was replaced by the fault (an
    /// "after the write" rule).
    #[serde(default)]
    pub answer_lost: bool,
}

/// Injected faults. Global rates apply to every API request; rules target a method and path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added before every answer.
    pub latency_ms: u64,
    /// Share of requests answered 500.
    pub error_rate: f64,
    /// Share of requests answered 429.
    pub throttle_rate: f64,
    /// Share of requests that hang for `hang_ms` (the client times out), then get 504.
    pub timeout_rate: f64,
    pub hang_ms: u64,
    /// Checked in order; the first matching rule with an occurrence left (and whose `rate`
    /// roll succeeds) applies.
    pub rules: Vec<FaultRule>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            error_rate: 0.0,
            throttle_rate: 0.0,
            timeout_rate: 0.0,
            hang_ms: 15_000,
            rules: Vec::new(),
        }
    }
}

/// A targeted fault, e.g. `{"method": "PUT", "path": "/api/v3/tasks/*", "status": 500,
/// "times": 2}`. With `"after_write": true` the request is first handled as usual (it takes
/// effect), then its answer waits `latency_ms`, and is replaced by the fault if the rule has
/// one: a 5xx, or a stall then 504.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultRule {
    /// Any method when absent (case-insensitive).
    pub method: Option<String>,
    /// A glob (`*` matches any run of characters) against the path, with or without the
    /// `/api/v3` prefix; any path when absent.
    pub path: Option<String>,
    /// The status to answer (e.g. 500, 429, 401, 400).
    pub status: Option<u16>,
    /// Hang for `Faults::hang_ms`, then answer 504.
    pub timeout: bool,
    /// Handle the request first, then wait the latency and answer with the fault, if any:
    /// the answer to a write that happened is slow, or lost.
    pub after_write: bool,
    /// Added latency when the rule applies.
    pub latency_ms: u64,
    /// Probability that the rule applies to a matching request.
    pub rate: f64,
    /// How many more times the rule may apply; unlimited when absent.
    pub times: Option<u32>,
    /// A `Retry-After` header on the fault's answer (seconds, or an HTTP date).
    pub retry_after: Option<String>,
}

impl Default for FaultRule {
    fn default() -> Self {
        FaultRule {
            method: None,
            path: None,
            status: None,
            timeout: false,
            after_write: false,
            latency_ms: 0,
            rate: 1.0,
            times: None,
            retry_after: None,
        }
    }
}

impl FaultRule {
    /// `status` for every `method` request whose path matches `path`, `times` times.
    pub fn fail(method: &str, path: &str, status: u16, times: Option<u32>) -> FaultRule {
        FaultRule {
            method: Some(method.to_owned()),
            path: Some(path.to_owned()),
            status: Some(status),
            times,
            ..FaultRule::default()
        }
    }

    /// The request takes effect, then `status` is answered instead, on `rate` of the matching
    /// requests.
    pub fn lose_answer(method: &str, path: &str, status: u16, rate: f64) -> FaultRule {
        FaultRule {
            method: Some(method.to_owned()),
            path: Some(path.to_owned()),
            status: Some(status),
            after_write: true,
            rate,
            ..FaultRule::default()
        }
    }

    /// The request takes effect, then its answer takes `latency_ms` to come.
    pub fn slow_answer(method: &str, path: &str, latency_ms: u64) -> FaultRule {
        FaultRule {
            method: Some(method.to_owned()),
            path: Some(path.to_owned()),
            after_write: true,
            latency_ms,
            ..FaultRule::default()
        }
    }

    /// The request takes effect, then the answer stalls until the client gives up.
    pub fn stall_after_write(method: &str, path: &str, rate: f64) -> FaultRule {
        FaultRule {
            method: Some(method.to_owned()),
            path: Some(path.to_owned()),
            timeout: true,
            after_write: true,
            rate,
            ..FaultRule::default()
        }
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|m| m == "*" || m.eq_ignore_ascii_case(method));
        let path_ok = self.path.as_deref().is_none_or(|p| {
            glob(p.as_bytes(), path.as_bytes())
                || path
                    .strip_prefix("/api/v3")
                    .is_some_and(|short| glob(p.as_bytes(), short.as_bytes()))
        });
        method_ok && path_ok
    }
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some((c, rest)) => text
            .split_first()
            .is_some_and(|(t, trest)| t == c && glob(rest, trest)),
    }
}

enum Outcome {
    Pass,
    /// This status, with a `Retry-After` header when given.
    Status(u16, Option<String>),
    Hang(Duration),
}

struct Inner {
    log: Vec<RequestRecord>,
    faults: Faults,
    seq: u64,
    rng: u64,
}

/// The request log and fault settings of one sandbox.
pub struct Recorder {
    inner: Mutex<Inner>,
}

impl Recorder {
    pub fn new(faults: Faults) -> Recorder {
        let seed = (now_ms() as u64) | 1;
        Recorder {
            inner: Mutex::new(Inner {
                log: Vec::new(),
                faults,
                seq: 0,
                rng: seed,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().log.clone()
    }

    pub fn clear_requests(&self) {
        self.lock().log.clear();
    }

    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// Logs a request on arrival; returns its sequence number.
    fn record(&self, mut r: RequestRecord) -> u64 {
        let mut inner = self.lock();
        inner.seq += 1;
        r.seq = inner.seq;
        inner.log.push(r);
        inner.seq
    }

    /// Notes the answer to request `seq`.
    fn answered(&self, seq: u64, status: u16, faulted: bool, answer_lost: bool) {
        let mut inner = self.lock();
        if let Some(r) = inner.log.iter_mut().rev().find(|r| r.seq == seq) {
            r.status = status;
            r.faulted = faulted;
            r.answer_lost = answer_lost;
        }
    }

    /// The latency to add, the outcome, and whether the request is handled before it.
    fn decide(&self, method: &str, path: &str) -> (Duration, Outcome, bool) {
        let mut inner = self.lock();
        let f = inner.faults.clone();
        let mut roll = || {
            // xorshift64*
            let mut x = inner.rng;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            inner.rng = x;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut latency = f.latency_ms;
        let hang = Duration::from_millis(f.hang_ms);
        let mut outcome = Outcome::Pass;
        let mut after_write = false;
        if f.timeout_rate > 0.0 && roll() < f.timeout_rate {
            outcome = Outcome::Hang(hang);
        } else if f.throttle_rate > 0.0 && roll() < f.throttle_rate {
            outcome = Outcome::Status(429, None);
        } else if f.error_rate > 0.0 && roll() < f.error_rate {
            outcome = Outcome::Status(500, None);
        }
        if matches!(outcome, Outcome::Pass) {
            let mut chosen = None;
            for (i, rule) in f.rules.iter().enumerate() {
                if rule.times == Some(0) || !rule.matches(method, path) {
                    continue;
                }
                if rule.rate < 1.0 && roll() >= rule.rate {
                    continue;
                }
                chosen = Some(i);
                break;
            }
            if let Some(i) = chosen {
                let rule = &f.rules[i];
                latency += rule.latency_ms;
                after_write = rule.after_write;
                if rule.timeout {
                    outcome = Outcome::Hang(hang);
                } else if let Some(s) = rule.status {
                    outcome = Outcome::Status(s, rule.retry_after.clone());
                }
                if let Some(left) = inner.faults.rules.get_mut(i).and_then(|r| r.times.as_mut()) {
                    *left = left.saturating_sub(1);
                }
            }
        }
        (Duration::from_millis(latency), outcome, after_write)
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Logs every API request and applies the faults.
pub async fn middleware(
    State(recorder): State<Arc<Recorder>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with(HOOK_PREFIX) {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_owned();
    let query = req.uri().query().map(redact_query);
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body too large or unreadable",
            )
        }
    };
    let logged_body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice::<Value>(&bytes)
            .map(redact)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let seq = recorder.record(RequestRecord {
        seq: 0,
        at_ms: now_ms(),
        method: method.clone(),
        path: path.clone(),
        query,
        body: logged_body,
        status: 0,
        faulted: false,
        answer_lost: false,
    });
    let (delay, outcome, after_write) = recorder.decide(&method, &path);
    let (response, faulted, answer_lost) = if after_write {
        // The request takes effect first; then the answer is slow, or lost.
        let req = Request::from_parts(parts, Body::from(bytes));
        let handled = next.run(req).await;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let took_effect = handled.status().is_success();
        match outcome {
            Outcome::Pass => (handled, false, false),
            Outcome::Status(s, after) => (fault(s, after), true, took_effect),
            Outcome::Hang(d) => {
                tokio::time::sleep(d).await;
                (fault(504, None), true, took_effect)
            }
        }
    } else {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match outcome {
            Outcome::Pass => {
                let req = Request::from_parts(parts, Body::from(bytes));
                (next.run(req).await, false, false)
            }
            Outcome::Status(s, after) => (fault(s, after), true, false),
            Outcome::Hang(d) => {
                tokio::time::sleep(d).await;
                (fault(504, None), true, false)
            }
        }
    };
    recorder.answered(seq, response.status().as_u16(), faulted, answer_lost);
    response
}

fn fault(status: u16, retry_after: Option<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut answer = if status == StatusCode::GATEWAY_TIMEOUT {
        error(status, "injected timeout")
    } else {
        error(status, "injected fault")
    };
    if let Some(v) = retry_after.and_then(|v| axum::http::HeaderValue::from_str(&v).ok()) {
        answer
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, v);
    }
    answer
}

/// A query string with the values of its secret parameters (LeadSquared's `secretKey`)
/// replaced by `***`.
fn redact_query(q: &str) -> String {
    q.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.to_ascii_lowercase().contains("secret") => format!("{k}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn redact(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        for key in ["password", "api_key", "secret"] {
            if let Some(p) = m.get_mut(key) {
                *p = Value::String("***".into());
            }
        }
    }
    v
}

/// A JSON error answer: `{"error": reason}`.
pub fn error(status: StatusCode, reason: &str) -> Response {
    (status, Json(json!({ "error": reason }))).into_response()
}

/// A JSON answer.
pub fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

pub fn with_header(mut r: Response, name: &'static str, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
    r
}

/// Parses a JSON body, or answers 400 with the reason.
#[allow(clippy::result_large_err)]
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Response> {
    if bytes.is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "a JSON body is required"));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob(b"/tasks/*", b"/tasks/77"));
        assert!(glob(b"*", b"/anything"));
        assert!(!glob(b"/tasks/*", b"/families/1"));
        let r = FaultRule::fail("put", "/tasks/*", 500, None);
        assert!(r.matches("PUT", "/api/v3/tasks/9"));
        assert!(!r.matches("GET", "/api/v3/tasks/9"));
    }

    #[test]
    fn secret_query_parameters_are_not_recorded() {
        assert_eq!(
            redact_query("accessKey=a&secretKey=b&x=1"),
            "accessKey=a&secretKey=***&x=1"
        );
    }

    #[test]
    fn rules_run_out() {
        let rec = Recorder::new(Faults {
            rules: vec![FaultRule::fail("GET", "/x", 503, Some(2))],
            ..Faults::default()
        });
        let statuses: Vec<Option<u16>> = (0..3)
            .map(|_| match rec.decide("GET", "/x").1 {
                Outcome::Status(s, _) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(statuses, vec![Some(503), Some(503), None]);
    }
}
