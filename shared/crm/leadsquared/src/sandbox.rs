//! The LeadSquared sandbox: the Generic Telephony Connector's call log and agent popup APIs,
//! with the account's keys in the query string, as LeadSquared's connector settings give them.
//!
//! * `POST /v2/Telephony.svc/LogCall?accessKey=..&secretKey=..`: a call log. The fields the
//!   connector marks mandatory (`DisplayNumber`, `StartTime`, `EndTime`, `CallDuration`,
//!   `Status`, `Direction`) are required, times as `YYYY-MM-DD HH:MM:SS`, `Status` one of
//!   `Answered`, `Missed`, `Voicemail`, `Direction` `Inbound` or `Outbound`. A second log
//!   with a `CallSessionId` already logged is refused as a duplicate, with the status of
//!   [`LeadSquaredConfig::duplicate_status`].
//! * `POST /v2/Telephony.svc/ShowAgentPopup?accessKey=..&secretKey=..`: an agent popup.
//!
//! Answers: `{"Status": "Success", "Message": {"Id": ...}}`, or `{"Status": "Error",
//! "ExceptionType": ..., "ExceptionMessage": ...}`. Hooks under `/_sandbox`: `GET calllogs`,
//! `GET popups`, `GET|DELETE requests`, `POST reset`, `GET|POST faults`, `GET|POST config`.
//! [`LeadSquaredSandbox`] also implements the `LeadSquared` trait directly: the embedded
//! adapter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::fields::{read_answer, Answer};
use crate::{LeadSquared, Posted};
use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use llbridge_usecases::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use llbridge_sandbox_kit::recorder::{
    self, error, now_ms, parse_json, reply, Faults, Recorder, RequestRecord,
};

/// The call log API's path.
pub const LOG_CALL: &str = "/v2/Telephony.svc/LogCall";
/// The agent popup API's path.
pub const SHOW_AGENT_POPUP: &str = "/v2/Telephony.svc/ShowAgentPopup";
/// The Call Route API's path.
pub const CALL_ROUTE: &str = "/v2/Telephony.svc/CallRoute";

/// Settings of the LeadSquared sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeadSquaredConfig {
    pub access_key: String,
    pub secret_key: String,
    /// The HTTP status of a duplicate's refusal (its body always says so): 200 with an error
    /// status in the body by default; 409, 400 or 500 are seen too.
    pub duplicate_status: u16,
    /// The owners of leads, by the lead's number (digits with the country code): what the
    /// Call Route API answers.
    pub owners: std::collections::BTreeMap<String, SbOwner>,
}

/// A lead owner, as the Call Route API answers it (a LeadSquared user object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbOwner {
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email_address: String,
}

impl SbOwner {
    fn to_json(&self) -> Value {
        json!({"UserId": self.user_id, "FirstName": self.first_name,
            "LastName": self.last_name, "EmailAddress": self.email_address,
            "AvailabilityStatus": "Online"})
    }
}

impl Default for LeadSquaredConfig {
    fn default() -> Self {
        LeadSquaredConfig {
            access_key: "sandbox-access-key".into(),
            secret_key: "sandbox-secret-key".into(),
            duplicate_status: 200,
            owners: std::collections::BTreeMap::new(),
        }
    }
}

/// One call log taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SbCallLog {
    pub id: String,
    /// Epoch milliseconds.
    pub at_ms: i64,
    /// The body as posted.
    pub body: Value,
}

impl SbCallLog {
    /// A field of the posted body, as text.
    pub fn field(&self, name: &str) -> Option<String> {
        match self.body.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// One agent popup shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SbPopup {
    pub id: String,
    pub at_ms: i64,
    pub body: Value,
}

struct Inner {
    config: Mutex<LeadSquaredConfig>,
    call_logs: Mutex<Vec<SbCallLog>>,
    popups: Mutex<Vec<SbPopup>>,
    recorder: Arc<Recorder>,
}

/// A handle to the LeadSquared sandbox's state.
#[derive(Clone)]
pub struct LeadSquaredSandbox {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An error answer in LeadSquared's shape.
fn refusal(status: u16, kind: &str, message: &str) -> (u16, Value) {
    (
        status,
        json!({"Status": "Error", "ExceptionType": kind, "ExceptionMessage": message}),
    )
}

fn success(id: &str, message: &str) -> (u16, Value) {
    (
        200,
        json!({"Status": "Success", "Message": {"Id": id, "Message": message}}),
    )
}

/// The problems of a call log body, against the connector's table.
fn call_log_problems(body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(o) = body.as_object() else {
        return vec!["the body must be a JSON object".into()];
    };
    let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::trim);
    for k in [
        "DisplayNumber",
        "StartTime",
        "EndTime",
        "Status",
        "Direction",
    ] {
        if text(k).is_none_or(str::is_empty) {
            problems.push(format!("{k} is mandatory"));
        }
    }
    for k in ["StartTime", "EndTime"] {
        if let Some(t) = text(k).filter(|t| !t.is_empty()) {
            if chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").is_err() {
                problems.push(format!("{k} \"{t}\" is not YYYY-MM-DD HH:MM:SS"));
            }
        }
    }
    match o.get("CallDuration") {
        Some(Value::Number(n)) if n.as_u64().is_some() => {}
        Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => {}
        _ => problems.push("CallDuration is mandatory: whole seconds".into()),
    }
    if let Some(s) = text("Status").filter(|s| !s.is_empty()) {
        if !["Answered", "Missed", "Voicemail"].contains(&s) {
            problems.push(format!(
                "Status \"{s}\" is not Answered, Missed or Voicemail"
            ));
        }
    }
    if let Some(d) = text("Direction").filter(|d| !d.is_empty()) {
        if !["Inbound", "Outbound"].contains(&d) {
            problems.push(format!("Direction \"{d}\" is not Inbound or Outbound"));
        }
    }
    problems
}

impl recorder::Hooked for LeadSquaredSandbox {
    type Config = LeadSquaredConfig;
    fn config(&self) -> LeadSquaredConfig {
        self.config()
    }
    fn set_config(&self, config: LeadSquaredConfig) {
        self.set_config(config)
    }
    fn recorder(&self) -> &Arc<Recorder> {
        &self.inner.recorder
    }
}

impl LeadSquaredSandbox {
    /// Serves this sandbox on `addr`.
    pub async fn serve(
        &self,
        addr: std::net::SocketAddr,
    ) -> std::io::Result<llbridge_sandbox_kit::Server> {
        llbridge_sandbox_kit::Server::bind(addr, self.router()).await
    }

    pub fn new(config: LeadSquaredConfig, faults: Faults) -> LeadSquaredSandbox {
        LeadSquaredSandbox {
            inner: Arc::new(Inner {
                config: Mutex::new(config),
                call_logs: Mutex::new(Vec::new()),
                popups: Mutex::new(Vec::new()),
                recorder: Arc::new(Recorder::new(faults)),
            }),
        }
    }

    pub fn config(&self) -> LeadSquaredConfig {
        lock(&self.inner.config).clone()
    }

    pub fn set_config(&self, config: LeadSquaredConfig) {
        *lock(&self.inner.config) = config;
    }

    /// The call logs taken, in order.
    pub fn call_logs(&self) -> Vec<SbCallLog> {
        lock(&self.inner.call_logs).clone()
    }

    /// The agent popups shown, in order.
    pub fn popups(&self) -> Vec<SbPopup> {
        lock(&self.inner.popups).clone()
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

    /// Forgets the call logs, the popups, the request log and the faults.
    pub fn reset(&self) {
        lock(&self.inner.call_logs).clear();
        lock(&self.inner.popups).clear();
        self.inner.recorder.clear_requests();
        self.inner.recorder.set_faults(Faults::default());
    }

    /// The query string the connector's URLs carry.
    pub fn keys_query(&self) -> String {
        let c = self.config();
        format!("accessKey={}&secretKey={}", c.access_key, c.secret_key)
    }

    /// The Call Log API URL of the sandbox served at `base`.
    pub fn call_log_url(&self, base: &str) -> String {
        format!("{base}{LOG_CALL}?{}", self.keys_query())
    }

    /// The Agent Popup API URL of the sandbox served at `base`.
    pub fn agent_popup_url(&self, base: &str) -> String {
        format!("{base}{SHOW_AGENT_POPUP}?{}", self.keys_query())
    }

    fn authorized(&self, q: &HashMap<String, String>) -> bool {
        let c = self.config();
        q.get("accessKey") == Some(&c.access_key) && q.get("secretKey") == Some(&c.secret_key)
    }

    /// The Call Route API URL of the sandbox served at `base`.
    pub fn call_route_url(&self, base: &str) -> String {
        format!("{base}{CALL_ROUTE}?{}", self.keys_query())
    }

    /// The Call Route's answer for the number `caller_id`: the owner, or 404.
    pub fn call_route(&self, caller_id: &str) -> (u16, Value) {
        let digits: String = caller_id.chars().filter(char::is_ascii_digit).collect();
        match self.config().owners.get(&digits) {
            Some(o) => (200, o.to_json()),
            None => (
                404,
                json!({"Status": "Error", "ExceptionMessage": "No lead owner found"}),
            ),
        }
    }

    /// Takes a call log: its answer (status, body).
    pub fn log_call(&self, body: &Value) -> (u16, Value) {
        let problems = call_log_problems(body);
        if !problems.is_empty() {
            return refusal(400, "MXInvalidInputException", &problems.join("; "));
        }
        let session = body
            .get("CallSessionId")
            .map(|v| match v {
                Value::String(s) => s.trim().to_owned(),
                other => other.to_string(),
            })
            .filter(|s| !s.is_empty() && s != "null");
        let mut logs = lock(&self.inner.call_logs);
        if let Some(s) = &session {
            if logs
                .iter()
                .any(|l| l.field("CallSessionId").as_deref() == Some(s.as_str()))
            {
                let status = self.config().duplicate_status;
                return refusal(
                    status,
                    "MXDuplicateEntryException",
                    &format!("Duplicate call log: CallSessionId {s} is already logged"),
                );
            }
        }
        let id = format!("lsq-call-{}", logs.len() + 1);
        logs.push(SbCallLog {
            id: id.clone(),
            at_ms: now_ms(),
            body: body.clone(),
        });
        success(&id, "Call log posted successfully")
    }

    /// Shows an agent popup: its answer.
    pub fn show_popup(&self, body: &Value) -> (u16, Value) {
        let number = body
            .get("SourceNumber")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or_default();
        if number.is_empty() {
            return refusal(400, "MXInvalidInputException", "SourceNumber is mandatory");
        }
        let mut popups = lock(&self.inner.popups);
        let id = format!("lsq-popup-{}", popups.len() + 1);
        popups.push(SbPopup {
            id: id.clone(),
            at_ms: now_ms(),
            body: body.clone(),
        });
        success(&id, "Message broadcasted successfully")
    }

    /// The connector's two APIs, and the hooks under `/_sandbox`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(LOG_CALL, post(log_call))
            .route(SHOW_AGENT_POPUP, post(show_popup))
            .route(CALL_ROUTE, get(call_route))
            .nest(
                recorder::HOOK_PREFIX,
                recorder::common_hooks()
                    .route("/calllogs", get(hook_call_logs))
                    .route("/popups", get(hook_popups))
                    .route("/reset", post(hook_reset)),
            )
            .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
            .layer(axum::middleware::from_fn_with_state(
                self.inner.recorder.clone(),
                recorder::middleware,
            ))
            .with_state(self.clone())
    }
}

/// An answer of the sandbox, read the way the HTTP client reads LeadSquared's.
fn embedded(what: &str, (status, body): (u16, Value)) -> Result<Answer> {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    match read_answer(status, &bytes) {
        Answer::Refused(why) => Err(Error::permanent(
            "leadsquared",
            format!("{what} refused: {why}"),
        )
        .with_code("leadsquared_rejected")),
        other => Ok(other),
    }
}

/// The embedded adapter.
#[async_trait]
impl LeadSquared for LeadSquaredSandbox {
    async fn post_call_log(&self, log: &Value) -> Result<Posted> {
        match embedded("call log", self.log_call(log))? {
            Answer::Duplicate(message) => Ok(Posted::Duplicate { message }),
            Answer::Done { id } => Ok(Posted::Logged { id }),
            other => Err(Error::transient(
                "leadsquared",
                format!("call log: {other:?}"),
            )),
        }
    }

    async fn show_agent_popup(&self, popup: &Value) -> Result<()> {
        embedded("agent popup", self.show_popup(popup)).map(|_| ())
    }

    async fn lead_owner(&self, caller_digits: &str) -> Result<Option<String>> {
        let (_, answer) = self.call_route(caller_digits);
        Ok(crate::fields::owner_email(&answer))
    }
}

type S = State<LeadSquaredSandbox>;
type Keys = Query<HashMap<String, String>>;

async fn api(
    sb: &LeadSquaredSandbox,
    q: &HashMap<String, String>,
    body: &Bytes,
    handle: impl FnOnce(&LeadSquaredSandbox, &Value) -> (u16, Value),
) -> Response {
    if !sb.authorized(q) {
        let (status, body) = refusal(
            401,
            "MXUnAuthorizedAccessException",
            "Invalid AccessKey or SecretKey",
        );
        return reply(
            StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED),
            body,
        );
    }
    let body: Value = match parse_json(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (status, answer) = handle(sb, &body);
    reply(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        answer,
    )
}

async fn log_call(State(sb): S, Query(q): Keys, body: Bytes) -> Response {
    api(&sb, &q, &body, LeadSquaredSandbox::log_call).await
}

async fn show_popup(State(sb): S, Query(q): Keys, body: Bytes) -> Response {
    api(&sb, &q, &body, LeadSquaredSandbox::show_popup).await
}

async fn call_route(State(sb): S, Query(q): Keys) -> Response {
    if !sb.authorized(&q) {
        return error(StatusCode::UNAUTHORIZED, "Invalid AccessKey or SecretKey");
    }
    let (status, body) = sb.call_route(q.get("caller_id").map(String::as_str).unwrap_or_default());
    reply(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body)
}

async fn hook_call_logs(State(sb): S) -> Response {
    reply(StatusCode::OK, json!(sb.call_logs()))
}

async fn hook_popups(State(sb): S) -> Response {
    reply(StatusCode::OK, json!(sb.popups()))
}

async fn hook_reset(State(sb): S) -> Response {
    sb.reset();
    reply(StatusCode::OK, json!({ "reset": true }))
}
