//! The LineLeader sandbox: the contract of `docs/lineleader-api.md` over in-memory state.
//!
//! [`LineLeaderSandbox`] is a cheap handle (clone it freely) to the state. It serves HTTP
//! ([`LineLeaderSandbox::router`], [`LineLeaderSandbox::serve`]) and also implements the
//! `LineLeader` port directly (the embedded adapter).

mod data;
mod http;
mod port;
mod writes;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use llbridge_domain::phone::Phone;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use data::{
    Dataset, SbCenter, SbEvent, SbFamily, SbLabel, SbPhoneLog, SbStaff, SbStatusChange, SbTask,
};

use data::Kind;
use llbridge_sandbox_kit::recorder::{Faults, Recorder, RequestRecord};

/// How lists are wrapped in responses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Envelope {
    /// `[...]`
    #[default]
    Bare,
    /// `{"data": [...]}`
    Data,
    /// `{"items": [...]}`
    Items,
}

/// Settings of the LineLeader sandbox, settable at start and through `POST /_sandbox/config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LineLeaderConfig {
    pub username: String,
    pub password: String,
    /// Lifetime of access tokens (the JWT `exp`).
    pub token_lifetime_secs: u64,
    pub refresh_lifetime_secs: u64,
    /// How lists are wrapped.
    pub envelope: Envelope,
    /// Page size when `limit` is absent.
    pub default_limit: usize,
    /// Serve P2 (`GET /in-contact/phone-logs`); a tenant without it answers 404.
    pub phone_log_lookup: bool,
    /// Serve E2 (`GET /events`); a tenant without it answers 405.
    pub event_lookup: bool,
    /// A tenant whose P2 and E2 ignore their filters: every phone log, every event, and the
    /// records leave the filtered key out (`external_call_id`, the family).
    pub lookups_ignore_filters: bool,
    /// Where this tenant serves an endpoint when not at the documented path, by the names of
    /// a connection's `api.paths` (`{"phone_logs": "/calls/phone-logs"}`); the documented path
    /// then answers 404. Read when the server starts.
    pub paths: BTreeMap<String, String>,
    /// The family search's number parameter; a search without it answers 400.
    pub search_param: String,
}

impl Default for LineLeaderConfig {
    fn default() -> Self {
        LineLeaderConfig {
            username: "sandbox".into(),
            password: "sandbox".into(),
            token_lifetime_secs: 3600,
            refresh_lifetime_secs: 72 * 3600,
            envelope: Envelope::Bare,
            default_limit: 25,
            phone_log_lookup: true,
            event_lookup: true,
            lookups_ignore_filters: false,
            paths: BTreeMap::new(),
            search_param: "phone".into(),
        }
    }
}

/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 100;

/// A refusal: the HTTP status and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

impl Refusal {
    fn bad(reason: impl Into<String>) -> Refusal {
        Refusal {
            status: 400,
            reason: reason.into(),
        }
    }

    fn not_found(reason: impl Into<String>) -> Refusal {
        Refusal {
            status: 404,
            reason: reason.into(),
        }
    }

    fn unauthorized(reason: impl Into<String>) -> Refusal {
        Refusal {
            status: 401,
            reason: reason.into(),
        }
    }

    pub(crate) fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST)
    }
}

type Op<T> = std::result::Result<T, Refusal>;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    typ: String,
    gen: u64,
    iat: i64,
    exp: i64,
    jti: u64,
}

struct Inner {
    data: Mutex<Dataset>,
    config: Mutex<LineLeaderConfig>,
    recorder: Arc<Recorder>,
    generation: AtomicU64,
    issued: AtomicU64,
    secret: Vec<u8>,
}

/// A handle to the LineLeader sandbox's state.
#[derive(Clone)]
pub struct LineLeaderSandbox {
    inner: Arc<Inner>,
}

/// `GET /_sandbox/state`: the data set (families, tasks, events, phone logs, status changes,
/// and the reference data), plus login counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineLeaderState {
    #[serde(flatten)]
    pub data: Dataset,
    /// Tokens issued since start (A1 and A2).
    pub tokens_issued: u64,
    /// Bumped by each revoke; tokens of older generations are refused.
    pub token_generation: u64,
}

impl llbridge_sandbox_kit::recorder::Hooked for LineLeaderSandbox {
    type Config = LineLeaderConfig;
    fn config(&self) -> LineLeaderConfig {
        self.config()
    }
    fn set_config(&self, config: LineLeaderConfig) {
        self.set_config(config)
    }
    fn recorder(&self) -> &Arc<Recorder> {
        self.recorder()
    }
}

impl LineLeaderSandbox {
    /// Serves this sandbox on `addr`.
    pub async fn serve(
        &self,
        addr: std::net::SocketAddr,
    ) -> std::io::Result<llbridge_sandbox_kit::Server> {
        llbridge_sandbox_kit::Server::bind(addr, self.router()).await
    }

    pub fn new(config: LineLeaderConfig, data: Dataset, faults: Faults) -> LineLeaderSandbox {
        let secret = format!(
            "llbridge-sandbox-{}",
            Utc::now().timestamp_nanos_opt().unwrap_or(0)
        );
        LineLeaderSandbox {
            inner: Arc::new(Inner {
                data: Mutex::new(data),
                config: Mutex::new(config),
                recorder: Arc::new(Recorder::new(faults)),
                generation: AtomicU64::new(1),
                issued: AtomicU64::new(0),
                secret: secret.into_bytes(),
            }),
        }
    }

    /// Default settings and the demo data.
    pub fn demo() -> LineLeaderSandbox {
        LineLeaderSandbox::new(
            LineLeaderConfig::default(),
            Dataset::demo(Utc::now()),
            Faults::default(),
        )
    }

    fn data(&self) -> MutexGuard<'_, Dataset> {
        self.inner.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> LineLeaderConfig {
        self.inner
            .config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_config(&self, config: LineLeaderConfig) {
        *self.inner.config.lock().unwrap_or_else(|e| e.into_inner()) = config;
    }

    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.inner.recorder
    }

    /// Every API request received so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.inner.recorder.requests()
    }

    /// How many requests with `method` and exactly `path` (e.g. `/api/v3/login`) were received.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
            .count()
    }

    pub fn clear_requests(&self) {
        self.inner.recorder.clear_requests();
    }

    pub fn set_faults(&self, faults: Faults) {
        self.inner.recorder.set_faults(faults);
    }

    pub fn faults(&self) -> Faults {
        self.inner.recorder.faults()
    }

    /// The current state.
    pub fn state(&self) -> LineLeaderState {
        LineLeaderState {
            data: self.data().clone(),
            tokens_issued: self.inner.issued.load(Ordering::SeqCst),
            token_generation: self.inner.generation.load(Ordering::SeqCst),
        }
    }

    /// Replaces the data set; clears the request log and the faults. Tokens stay valid.
    pub fn reset(&self, data: Dataset) {
        *self.data() = data;
        self.inner.recorder.clear_requests();
        self.inner.recorder.set_faults(Faults::default());
    }

    /// Changes the data in place (tests).
    pub fn with_data<T>(&self, f: impl FnOnce(&mut Dataset) -> T) -> T {
        f(&mut self.data())
    }

    /// Every token issued so far (access and refresh) is refused from now on.
    pub fn revoke_tokens(&self) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
    }

    // ---- tokens ------------------------------------------------------------------------

    fn issue(&self, username: &str) -> Op<Value> {
        let config = self.config();
        let now = Utc::now().timestamp();
        let gen = self.inner.generation.load(Ordering::SeqCst);
        let key = EncodingKey::from_secret(&self.inner.secret).map_err(|e| Refusal {
            status: 500,
            reason: format!("token key: {e}"),
        })?;
        let sign = |typ: &str, lifetime: u64| {
            let claims = Claims {
                sub: username.to_owned(),
                typ: typ.to_owned(),
                gen,
                iat: now,
                exp: now + lifetime as i64,
                jti: self.inner.issued.fetch_add(1, Ordering::SeqCst) + 1,
            };
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).map_err(|e| {
                Refusal {
                    status: 500,
                    reason: format!("token signing failed: {e}"),
                }
            })
        };
        let token = sign("access", config.token_lifetime_secs)?;
        let refresh = sign("refresh", config.refresh_lifetime_secs)?;
        // Both count as one issue.
        self.inner.issued.fetch_sub(1, Ordering::SeqCst);
        Ok(json!({ "token": token, "refresh_token": refresh }))
    }

    fn check(&self, token: &str, typ: &str) -> Op<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        let key = DecodingKey::from_secret(&self.inner.secret)
            .map_err(|_| Refusal::unauthorized("invalid token"))?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| match e
            .kind()
        {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                Refusal::unauthorized("token expired")
            }
            _ => Refusal::unauthorized("invalid token"),
        })?;
        let claims = data.claims;
        if claims.typ != typ {
            return Err(Refusal::unauthorized("wrong kind of token"));
        }
        if claims.gen != self.inner.generation.load(Ordering::SeqCst) {
            return Err(Refusal::unauthorized("token revoked"));
        }
        if claims.exp <= Utc::now().timestamp() {
            return Err(Refusal::unauthorized("token expired"));
        }
        Ok(claims)
    }

    /// A1.
    pub fn login(&self, username: &str, password: &str) -> Op<Value> {
        let config = self.config();
        if username != config.username || password != config.password {
            return Err(Refusal::unauthorized("invalid credentials"));
        }
        self.issue(username)
    }

    /// A2.
    pub fn refresh(&self, refresh_token: &str) -> Op<Value> {
        let claims = self.check(refresh_token, "refresh")?;
        self.issue(&claims.sub)
    }

    /// Checks a bearer token.
    pub fn authorize(&self, bearer: Option<&str>) -> Op<()> {
        let token = bearer.ok_or_else(|| Refusal::unauthorized("missing bearer token"))?;
        self.check(token, "access").map(|_| ())
    }

    // ---- reads -------------------------------------------------------------------------

    /// F1: families whose guardian phone is the same number as `phone`.
    pub fn search_phone(&self, phone: &str) -> Op<Vec<SbFamily>> {
        let wanted = Phone::parse(phone)
            .ok_or_else(|| Refusal::bad("phone must be a phone number (NPANXXXXXX)"))?;
        Ok(self
            .data()
            .families
            .iter()
            .filter(|f| Phone::parse(&f.phone).as_ref() == Some(&wanted))
            .cloned()
            .collect())
    }

    pub fn family_by_id(&self, id: u64) -> Option<SbFamily> {
        self.data().families.iter().find(|f| f.id == id).cloned()
    }

    /// K1.
    pub fn task_list(
        &self,
        family_id: Option<u64>,
        type_id: Option<u64>,
        include_completed: bool,
    ) -> Vec<SbTask> {
        self.data()
            .tasks
            .iter()
            .filter(|t| family_id.is_none_or(|f| t.family_id == f))
            .filter(|t| type_id.is_none_or(|ty| t.type_id == ty))
            .filter(|t| include_completed || !t.is_completed)
            .cloned()
            .collect()
    }

    pub fn task_by_id(&self, id: u64) -> Option<SbTask> {
        self.data().tasks.iter().find(|t| t.id == id).cloned()
    }

    /// E2: the events of a family (all of them when `family_id` is `None`).
    pub fn event_list(&self, family_id: Option<u64>) -> Vec<SbEvent> {
        self.data()
            .events
            .iter()
            .filter(|e| family_id.is_none_or(|f| e.family_id == f))
            .cloned()
            .collect()
    }

    /// P2: the phone logs with a Dialpad call id (and of a family, when given).
    pub fn phone_log_list(
        &self,
        external_call_id: Option<&str>,
        family_id: Option<u64>,
    ) -> Vec<SbPhoneLog> {
        self.data()
            .phone_logs
            .iter()
            .filter(|p| external_call_id.is_none_or(|c| p.external_call_id == c))
            .filter(|p| family_id.is_none_or(|f| p.family_id == f))
            .cloned()
            .collect()
    }

    // ---- writes ------------------------------------------------------------------------

    pub(crate) fn center_json(c: &SbCenter) -> Value {
        json!({
            "id": c.id,
            "values": { "name": c.name },
            "active": c.active,
            "call_center_phone": c.phone.as_ref().map(|p| json!({
                "number": national(p),
                "number_e164": p,
            })),
            "timezone": c.timezone,
        })
    }

    pub(crate) fn status_json(s: &SbLabel) -> Value {
        json!({ "id": s.id, "values": { "name": s.name } })
    }

    pub(crate) fn type_json(s: &SbLabel) -> Value {
        json!({ "id": s.id, "values": { "value": s.name } })
    }

    pub(crate) fn staff_json(s: &SbStaff) -> Value {
        json!({
            "id": s.id,
            "email_address": s.email_address,
            "first_name": s.first_name,
            "last_name": s.last_name,
        })
    }

    pub(crate) fn family_json(&self, f: &SbFamily) -> Value {
        let d = self.data();
        let center = d.centers.iter().find(|c| c.id == f.center_id);
        let status = d.statuses.iter().find(|s| s.id == f.status_id);
        json!({
            "id": f.id,
            "created_date": ts(&f.created_date),
            "center": { "id": f.center_id, "values": { "name": center.map(|c| c.name.clone()) } },
            "status": { "id": f.status_id, "values": { "name": status.map(|s| s.name.clone()) } },
            "primary_guardian": {
                "first_name": f.first_name,
                "last_name": f.last_name,
                "primary_phone": { "number": f.phone },
            },
        })
    }

    pub(crate) fn event_json(&self, e: &SbEvent) -> Value {
        let d = self.data();
        let typ = d.task_results.iter().find(|x| x.id == e.type_id);
        let staff = d.staff.iter().find(|x| x.id == e.staff_id);
        json!({
            "id": e.id,
            "type": { "id": e.type_id, "values": { "value": typ.map(|x| x.name.clone()) } },
            "staff": { "id": e.staff_id, "values": {
                "name": staff.map(|s| format!("{} {}", s.first_name, s.last_name).trim().to_owned())
            } },
            "family": { "id": e.family_id },
            "center_id": e.center_id,
            "date_time": ts(&e.date_time),
            "description": e.description,
            "task_id": e.task_id,
        })
    }

    pub(crate) fn phone_log_json(p: &SbPhoneLog) -> Value {
        json!({
            "id": p.id,
            "direction": p.direction,
            "ani": p.ani,
            "dnis": p.dnis,
            "start_date_time": ts(&p.start_date_time),
            "end_date_time": ts(&p.end_date_time),
            "disposition": p.disposition,
            "recording_url": p.recording_url,
            "external_call_id": p.external_call_id,
            "family_id": p.family_id,
            "center_id": p.center_id,
        })
    }

    pub(crate) fn task_json(&self, t: &SbTask) -> Value {
        let d = self.data();
        let typ = d.task_types.iter().find(|x| x.id == t.type_id);
        let family = d.families.iter().find(|f| f.id == t.family_id);
        json!({
            "id": t.id,
            "type": { "id": t.type_id, "values": { "value": typ.map(|x| x.name.clone()) } },
            "family": { "id": t.family_id, "values": {
                "name": family.map(|f| format!("{} {}", f.first_name, f.last_name).trim().to_owned())
            } },
            "description": t.description,
            "due_date_time": ts(&t.due_date_time),
            "is_completed": t.is_completed,
            "is_canceled": t.is_canceled,
            "completed_date_time": t.completed_date_time.as_ref().map(ts),
            "completed_by_user_id": t.completed_by_user_id,
            "result_type": t.result_type,
            "result_description": t.result_description,
            "assigned_to_staff_id": t.assigned_to_staff_id,
        })
    }
}

/// ISO-8601 UTC, whole seconds.
pub(crate) fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn now_secs() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default()
}

fn national(e164: &str) -> String {
    match Phone::parse(e164) {
        Some(p) if p.is_nanp() => {
            let d = p.ten_digits();
            format!("({}) {}-{}", &d[0..3], &d[3..6], &d[6..10])
        }
        _ => e164.to_owned(),
    }
}

/// A timestamp as the API takes it: `2026-05-28T04:30:00Z`, nothing else.
pub fn parse_whole_seconds(s: &str) -> Result<DateTime<Utc>, String> {
    if s.contains('.') {
        return Err("milliseconds are not accepted; use whole seconds".into());
    }
    if s.len() != 20 || !s.ends_with('Z') {
        return Err("expected ISO-8601 UTC like 2026-05-28T04:30:00Z".into());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ")
        .map(|t| t.and_utc())
        .map_err(|_| "expected ISO-8601 UTC like 2026-05-28T04:30:00Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_must_be_whole_seconds() {
        assert!(parse_whole_seconds("2026-05-28T04:30:00Z").is_ok());
        let e = parse_whole_seconds("2026-05-28T04:30:00.123Z").unwrap_err();
        assert!(e.contains("milliseconds"), "{e}");
        assert!(parse_whole_seconds("2026-05-28T04:30:00+00:00").is_err());
        assert!(parse_whole_seconds("2026-05-28 04:30:00").is_err());
    }

    #[test]
    fn search_matches_every_typed_form() {
        let sb = LineLeaderSandbox::demo();
        for q in ["4158159602", "+14158159602", "(415) 815-9602"] {
            let found = sb.search_phone(q).unwrap();
            assert_eq!(
                found.iter().map(|f| f.id).collect::<Vec<_>>(),
                vec![1001],
                "{q}"
            );
        }
        assert_eq!(sb.search_phone("6505550199").unwrap().len(), 2);
        assert_eq!(sb.search_phone("nope").unwrap_err().status, 400);
    }

    #[test]
    fn tokens_are_checked_and_revocable() {
        let sb = LineLeaderSandbox::demo();
        assert_eq!(sb.login("sandbox", "wrong").unwrap_err().status, 401);
        let pair = sb.login("sandbox", "sandbox").unwrap();
        let token = pair["token"].as_str().unwrap().to_owned();
        let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
        assert!(sb.authorize(Some(&token)).is_ok());
        assert!(
            sb.authorize(Some(&refresh)).is_err(),
            "a refresh token is no access token"
        );
        assert!(sb.refresh(&refresh).is_ok());
        sb.revoke_tokens();
        assert_eq!(
            sb.authorize(Some(&token)).unwrap_err().reason,
            "token revoked"
        );
        assert!(sb.refresh(&refresh).is_err());
        assert!(sb.authorize(None).is_err());
    }
}
