//! The Dialpad sandbox: the screen-pop endpoint, with its bearer key and its limit of 5 pops
//! per minute per user. [`DialpadSandbox`] also implements the `Dialpad` port directly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use llbridge_app::ports::{Dialpad, PopOutcome};
use llbridge_app::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::recorder::{self, error, now_ms, parse_json, reply, Faults, Recorder, RequestRecord};

/// Settings of the Dialpad sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DialpadConfig {
    /// The bearer key the API requires.
    pub api_key: String,
    /// Accepted pops per user in any 60-second window; beyond, 429.
    pub pops_per_minute: usize,
}

impl Default for DialpadConfig {
    fn default() -> Self {
        DialpadConfig {
            api_key: "sandbox-dialpad-key".into(),
            pops_per_minute: 5,
        }
    }
}

/// One screen-pop request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pop {
    pub user_id: String,
    pub uri: String,
    /// Epoch milliseconds.
    pub at_ms: i64,
    /// `sent` or `rate_limited`.
    pub outcome: String,
}

struct Inner {
    config: Mutex<DialpadConfig>,
    pops: Mutex<Vec<Pop>>,
    recorder: Arc<Recorder>,
}

/// A handle to the Dialpad sandbox's state.
#[derive(Clone)]
pub struct DialpadSandbox {
    inner: Arc<Inner>,
}

impl DialpadSandbox {
    pub fn new(config: DialpadConfig, faults: Faults) -> DialpadSandbox {
        DialpadSandbox {
            inner: Arc::new(Inner {
                config: Mutex::new(config),
                pops: Mutex::new(Vec::new()),
                recorder: Arc::new(Recorder::new(faults)),
            }),
        }
    }

    fn pops_lock(&self) -> MutexGuard<'_, Vec<Pop>> {
        self.inner.pops.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> DialpadConfig {
        self.inner
            .config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_config(&self, config: DialpadConfig) {
        *self.inner.config.lock().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// Every pop request, accepted or not.
    pub fn pops(&self) -> Vec<Pop> {
        self.pops_lock().clone()
    }

    /// The accepted pops.
    pub fn sent(&self) -> Vec<Pop> {
        self.pops()
            .into_iter()
            .filter(|p| p.outcome == "sent")
            .collect()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.inner.recorder.requests()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.inner.recorder.set_faults(faults);
    }

    pub fn faults(&self) -> Faults {
        self.inner.recorder.faults()
    }

    /// Forgets the pops, the request log and the faults.
    pub fn reset(&self) {
        self.pops_lock().clear();
        self.inner.recorder.clear_requests();
        self.inner.recorder.set_faults(Faults::default());
    }

    /// Records one pop: `sent`, or `rate_limited` past the per-minute limit.
    pub fn pop(&self, user_id: &str, uri: &str) -> PopOutcome {
        let limit = self.config().pops_per_minute;
        let now = now_ms();
        let mut pops = self.pops_lock();
        let recent = pops
            .iter()
            .filter(|p| p.user_id == user_id && p.outcome == "sent" && now - p.at_ms < 60_000)
            .count();
        let outcome = if recent >= limit {
            PopOutcome::RateLimited
        } else {
            PopOutcome::Sent
        };
        pops.push(Pop {
            user_id: user_id.to_owned(),
            uri: uri.to_owned(),
            at_ms: now,
            outcome: match outcome {
                PopOutcome::Sent => "sent".into(),
                PopOutcome::RateLimited => "rate_limited".into(),
            },
        });
        outcome
    }

    /// `POST /api/v2/users/{id}/screenpop`, and the hooks under `/_sandbox`: `GET pops`,
    /// `GET|DELETE requests`, `POST reset`, `GET|POST faults`, `GET|POST config`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/v2/users/{id}/screenpop", post(screenpop))
            .route("/_sandbox/pops", get(hook_pops))
            .route("/_sandbox/requests", get(hook_requests).delete(hook_clear))
            .route("/_sandbox/reset", post(hook_reset))
            .route("/_sandbox/faults", get(hook_faults).post(hook_set_faults))
            .route("/_sandbox/config", get(hook_config).post(hook_set_config))
            .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
            .layer(axum::middleware::from_fn_with_state(
                self.inner.recorder.clone(),
                recorder::middleware,
            ))
            .with_state(self.clone())
    }
}

/// The embedded adapter.
#[async_trait]
impl Dialpad for DialpadSandbox {
    async fn screen_pop(&self, user_id: &str, uri: &str) -> Result<PopOutcome> {
        if user_id.trim().is_empty() || uri.trim().is_empty() {
            return Err(Error::permanent(
                "dialpad",
                "screen pop: HTTP 400: a user id and a screen_pop_uri are required",
            ));
        }
        Ok(self.pop(user_id, uri))
    }
}

type S = State<DialpadSandbox>;

async fn screenpop(
    State(sb): S,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    body: Bytes,
) -> Response {
    let key = sb.config().api_key;
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, k)| k.trim());
    if given != Some(key.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "invalid or missing API key");
    }
    let body: Value = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(uri) = body
        .get("screen_pop_uri")
        .and_then(Value::as_str)
        .filter(|u| !u.trim().is_empty())
    else {
        return error(StatusCode::BAD_REQUEST, "screen_pop_uri is required");
    };
    match sb.pop(&user_id, uri) {
        PopOutcome::Sent => reply(StatusCode::OK, json!({ "success": true })),
        PopOutcome::RateLimited => error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate limit exceeded: 5 screen pops per minute per user",
        ),
    }
}

async fn hook_pops(State(sb): S) -> Response {
    reply(StatusCode::OK, json!(sb.pops()))
}

async fn hook_requests(State(sb): S) -> Response {
    reply(StatusCode::OK, json!(sb.requests()))
}

async fn hook_clear(State(sb): S) -> Response {
    sb.inner.recorder.clear_requests();
    reply(StatusCode::OK, json!({ "cleared": true }))
}

async fn hook_reset(State(sb): S) -> Response {
    sb.reset();
    reply(StatusCode::OK, json!({ "reset": true }))
}

async fn hook_faults(State(sb): S) -> Response {
    reply(StatusCode::OK, json!(sb.faults()))
}

async fn hook_set_faults(State(sb): S, body: Bytes) -> Response {
    match parse_json::<Faults>(&body) {
        Ok(f) => {
            sb.set_faults(f);
            reply(StatusCode::OK, json!(sb.faults()))
        }
        Err(r) => r,
    }
}

async fn hook_config(State(sb): S) -> Response {
    reply(StatusCode::OK, json!(sb.config()))
}

/// Fields absent from the body keep their values.
async fn hook_set_config(State(sb): S, body: Bytes) -> Response {
    let patch: HashMap<String, Value> = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut current = json!(sb.config());
    if let Some(cur) = current.as_object_mut() {
        for (k, v) in patch {
            cur.insert(k, v);
        }
    }
    match serde_json::from_value::<DialpadConfig>(current) {
        Ok(c) => {
            sb.set_config(c);
            reply(StatusCode::OK, json!(sb.config()))
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &format!("invalid config: {e}")),
    }
}
