//! The Dialpad sandbox: the screen-pop endpoint, with its bearer key and its limit of 5 pops
//! per minute per user, and the call list (`GET /api/v2/call`: concluded calls, newest first,
//! paged by cursor, filtered by start time and target), fed with the calls it is told of
//! ([`DialpadSandbox::add_call`], `POST /_sandbox/calls`). [`DialpadSandbox`] also implements
//! the `Dialpad` port directly. Users, calls started through the API, webhooks and
//! subscriptions are in [`setup`].

mod routers;
mod setup;

pub use routers::RoutedCall;
pub use setup::{default_users, SbUser, StartedCall};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use llbridge_domain::config::Target;
use llbridge_usecases::ports::{
    CallPage, CallQuery, CallRouter, CallSubscription, Dialpad, DialpadUser, PopOutcome, StartCall,
    Webhook,
};
use llbridge_usecases::{Error, Result};
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
    /// Calls per page of the call list.
    pub call_page_size: usize,
    /// The company's users (`GET /api/v2/users`).
    pub users: Vec<SbUser>,
    /// Calls a user may start through the API in any 60-second window; beyond, 429.
    pub calls_per_minute: usize,
    /// The company's call centers, departments and offices (routing targets), by id.
    pub call_centers: Vec<String>,
    pub departments: Vec<String>,
    pub offices: Vec<String>,
}

impl Default for DialpadConfig {
    fn default() -> Self {
        DialpadConfig {
            api_key: "sandbox-dialpad-key".into(),
            pops_per_minute: 5,
            call_page_size: 20,
            users: default_users(),
            calls_per_minute: 5,
            call_centers: [
                "4716644561813504",
                "4716644561813777",
                "4716644561813888",
                "4716644561813999",
                "4716644561813601",
                "4716644561813602",
            ]
            .map(str::to_owned)
            .to_vec(),
            departments: Vec::new(),
            offices: ["124", "5630409049792512"].map(str::to_owned).to_vec(),
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
    /// Concluded legs, as the call list returns them.
    calls: Mutex<Vec<Value>>,
    /// Calls started through `POST /api/v2/call`.
    started: Mutex<Vec<StartedCall>>,
    webhooks: Mutex<Vec<Value>>,
    subscriptions: Mutex<Vec<Value>>,
    sms_subscriptions: Mutex<Vec<Value>>,
    next_id: Mutex<u64>,
    /// Call routers, each with its secret.
    routers: Mutex<Vec<(Value, String)>>,
    routed: Mutex<Vec<RoutedCall>>,
    recorder: Arc<Recorder>,
}

/// A handle to the Dialpad sandbox's state.
#[derive(Clone)]
pub struct DialpadSandbox {
    inner: Arc<Inner>,
}

impl recorder::Hooked for DialpadSandbox {
    type Config = DialpadConfig;
    fn config(&self) -> DialpadConfig {
        self.config()
    }
    fn set_config(&self, config: DialpadConfig) {
        self.set_config(config)
    }
    fn recorder(&self) -> &Arc<Recorder> {
        &self.inner.recorder
    }
}

impl DialpadSandbox {
    pub fn new(config: DialpadConfig, faults: Faults) -> DialpadSandbox {
        DialpadSandbox {
            inner: Arc::new(Inner {
                config: Mutex::new(config),
                pops: Mutex::new(Vec::new()),
                calls: Mutex::new(Vec::new()),
                started: Mutex::new(Vec::new()),
                webhooks: Mutex::new(Vec::new()),
                subscriptions: Mutex::new(Vec::new()),
                sms_subscriptions: Mutex::new(Vec::new()),
                next_id: Mutex::new(0),
                routers: Mutex::new(Vec::new()),
                routed: Mutex::new(Vec::new()),
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

    /// Forgets the pops, the calls, the calls started, the webhooks and subscriptions, the
    /// request log and the faults.
    pub fn reset(&self) {
        self.pops_lock().clear();
        self.reset_setup();
        self.inner
            .routers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.inner
            .routed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.inner
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.inner.recorder.clear_requests();
        self.inner.recorder.set_faults(Faults::default());
    }

    /// Adds a concluded leg to the call list (a `CallProto`: the webhook event's fields).
    pub fn add_call(&self, leg: Value) {
        self.inner
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(leg);
    }

    /// One page of the call list: legs that started in `[after, before)`, of the target
    /// when one is given, newest first; the cursor is the offset of the next page.
    pub fn call_page(
        &self,
        after: i64,
        before: i64,
        target: Option<(&str, &str)>,
        cursor: Option<&str>,
    ) -> (Vec<Value>, Option<String>) {
        let started = |v: &Value| {
            v.get("date_started")
                .and_then(|d| d.as_i64().or_else(|| d.as_str()?.parse().ok()))
                .unwrap_or(0)
        };
        let targets = |v: &Value, (ty, id): (&str, &str)| {
            ["target", "entry_point_target"].iter().any(|k| {
                let t = &v[*k];
                let kind = t["type"].as_str().unwrap_or_default().replace('_', "");
                kind == ty.replace('_', "") && t["id"].to_string().trim_matches('"') == id
            })
        };
        let size = self.config().call_page_size.max(1);
        let all = self.inner.calls.lock().unwrap_or_else(|e| e.into_inner());
        let mut calls: Vec<(i64, &Value)> = all
            .iter()
            .map(|v| (started(v), v))
            .filter(|(at, _)| (after..before).contains(at))
            .filter(|(_, v)| target.is_none_or(|t| targets(v, t)))
            .collect();
        calls.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        let offset: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let page: Vec<Value> = calls
            .iter()
            .skip(offset)
            .take(size)
            .map(|(_, v)| (*v).clone())
            .collect();
        let next = (offset + size < calls.len()).then(|| (offset + size).to_string());
        (page, next)
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

    /// `POST /api/v2/users/{id}/screenpop`, `GET /api/v2/call` (the call list), `POST
    /// /api/v2/call` (start a call), `GET /api/v2/users`, `GET|POST /api/v2/webhooks`,
    /// `GET|POST /api/v2/subscriptions/call`, `PATCH /api/v2/subscriptions/call/{id}`, and the
    /// hooks under `/_sandbox`: `GET pops`, `GET started`, `GET|POST calls`, `GET|DELETE
    /// requests`, `POST reset`, `GET|POST faults`, `GET|POST config`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/v2/users/{id}/screenpop", post(screenpop))
            .route("/api/v2/call", get(call_list).post(setup::start_call))
            .route("/api/v2/users", get(setup::users))
            .route("/api/v2/users/{id}", get(routers::target))
            .route("/api/v2/callcenters/{id}", get(routers::target))
            .route("/api/v2/departments/{id}", get(routers::target))
            .route("/api/v2/offices/{id}", get(routers::target))
            .route(
                "/api/v2/callrouters",
                get(routers::list).post(routers::create),
            )
            .route(
                "/api/v2/callrouters/{id}",
                get(routers::get_one).patch(routers::patch),
            )
            .route(
                "/api/v2/callrouters/{id}/assign_number",
                post(routers::assign),
            )
            .route(
                "/api/v2/webhooks",
                get(setup::list_webhooks).post(setup::create_webhook),
            )
            .route(
                "/api/v2/webhooks/{id}",
                axum::routing::patch(setup::patch_webhook),
            )
            .route(
                "/api/v2/subscriptions/call",
                get(setup::list_subscriptions).post(setup::create_subscription),
            )
            .route(
                "/api/v2/subscriptions/sms",
                get(setup::list_sms_subscriptions).post(setup::create_sms_subscription),
            )
            .route(
                "/api/v2/subscriptions/sms/{id}",
                axum::routing::patch(setup::patch_sms_subscription),
            )
            .route(
                "/api/v2/subscriptions/call/{id}",
                axum::routing::patch(setup::patch_subscription),
            )
            .nest(
                recorder::HOOK_PREFIX,
                recorder::common_hooks()
                    .route("/pops", get(hook_pops))
                    .route("/started", get(setup::hook_started))
                    .route("/route", post(routers::hook_route))
                    .route("/calls", get(hook_calls).post(hook_add_call))
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

/// The embedded adapter.
#[async_trait]
impl Dialpad for DialpadSandbox {
    async fn list_calls(&self, q: &CallQuery) -> Result<CallPage> {
        let (items, cursor) =
            self.call_page(q.started_after, q.started_before, None, q.cursor.as_deref());
        Ok(CallPage { items, cursor })
    }

    async fn screen_pop(&self, user_id: &str, uri: &str) -> Result<PopOutcome> {
        if user_id.trim().is_empty() || uri.trim().is_empty() {
            return Err(Error::permanent(
                "dialpad",
                "screen pop: HTTP 400: a user id and a screen_pop_uri are required",
            ));
        }
        Ok(self.pop(user_id, uri))
    }

    async fn find_user(&self, email: &str) -> Result<Option<DialpadUser>> {
        Ok(self.user_by_email(email).map(|u| DialpadUser {
            id: u.id,
            emails: vec![u.email],
            name: Some(u.display_name),
            available: Some(u.is_available),
        }))
    }

    async fn start_call(&self, call: &StartCall) -> Result<String> {
        let mut body = json!({"user_id": call.user_id, "phone_number": call.phone_number});
        if let Some((id, kind)) = &call.group {
            body["group_id"] = json!(id);
            body["group_type"] = json!(kind);
        }
        if let Some(c) = &call.outbound_caller_id {
            body["outbound_caller_id"] = json!(c);
        }
        if let Some(d) = &call.custom_data {
            body["custom_data"] = json!(d);
        }
        match DialpadSandbox::start_call(self, &body) {
            Ok(c) => Ok(c.call_id),
            Err((StatusCode::TOO_MANY_REQUESTS, m)) => {
                Err(Error::transient("dialpad", m).with_code("dialpad_rate_limited"))
            }
            Err((status, m)) => Err(Error::permanent(
                "dialpad",
                format!("POST /api/v2/call: HTTP {}: {m}", status.as_u16()),
            )
            .with_code("dialpad_rejected")),
        }
    }

    async fn user(&self, id: &str) -> Result<Option<DialpadUser>> {
        Ok(self
            .config()
            .users
            .into_iter()
            .find(|u| u.id == id)
            .map(|u| DialpadUser {
                id: u.id,
                emails: vec![u.email],
                name: Some(u.display_name),
                available: Some(u.is_available),
            }))
    }

    async fn target_exists(&self, target: &Target) -> Result<bool> {
        Ok(self.has_target(&target.target_type, &target.target_id))
    }

    async fn call_routers(&self) -> Result<Vec<CallRouter>> {
        Ok(self.routers().iter().filter_map(setup::router_of).collect())
    }

    async fn save_call_router(
        &self,
        router: &CallRouter,
        secret: Option<&str>,
    ) -> Result<CallRouter> {
        let mut body = json!({"name": router.name, "routing_url": router.routing_url,
            "office_id": router.office_id, "enabled": router.enabled});
        if let Some(t) = &router.default_target {
            body["default_target_type"] = json!(t.target_type);
            body["default_target_id"] = json!(t.target_id);
        }
        if let Some(s) = secret {
            body["secret"] = json!(s);
        }
        let id = (!router.id.is_empty()).then_some(router.id.as_str());
        match self.save_router(id, &body) {
            Ok(v) => {
                setup::router_of(&v).ok_or_else(|| Error::permanent("dialpad", "router unreadable"))
            }
            Err((status, m)) => Err(Error::permanent(
                "dialpad",
                format!("router: HTTP {}: {m}", status.as_u16()),
            )
            .with_code("dialpad_rejected")),
        }
    }

    async fn assign_router_number(&self, router_id: &str, number: &str) -> Result<()> {
        self.assign_number(router_id, &json!({ "number": number }))
            .map(|_| ())
            .map_err(|(status, m)| {
                Error::permanent(
                    "dialpad",
                    format!("assign_number: HTTP {}: {m}", status.as_u16()),
                )
                .with_code("dialpad_rejected")
            })
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        Ok(DialpadSandbox::webhooks(self)
            .iter()
            .filter_map(setup::webhook_of)
            .collect())
    }

    async fn create_webhook(&self, hook_url: &str, secret: &str) -> Result<Webhook> {
        DialpadSandbox::create_webhook(self, &json!({"hook_url": hook_url, "secret": secret}))
            .ok()
            .as_ref()
            .and_then(setup::webhook_of)
            .ok_or_else(|| Error::permanent("dialpad", "webhook refused"))
    }

    async fn update_webhook(&self, id: &str, hook_url: &str, secret: &str) -> Result<Webhook> {
        self.patch_webhook(id, &json!({"hook_url": hook_url, "secret": secret}))
            .ok()
            .as_ref()
            .and_then(setup::webhook_of)
            .ok_or_else(|| Error::permanent("dialpad", "webhook refused"))
    }

    async fn sms_subscriptions(&self) -> Result<Vec<CallSubscription>> {
        Ok(DialpadSandbox::sms_subscriptions(self)
            .iter()
            .filter_map(setup::subscription_of)
            .collect())
    }

    async fn save_sms_subscription(&self, sub: &CallSubscription) -> Result<CallSubscription> {
        let mut body = setup::subscription_body(sub);
        if let Some(o) = body.as_object_mut() {
            o.remove("call_states");
        }
        body["direction"] = json!("all");
        let id = (!sub.id.is_empty()).then_some(sub.id.as_str());
        match DialpadSandbox::save_sms_subscription(self, id, &body) {
            Ok(v) => setup::subscription_of(&v)
                .ok_or_else(|| Error::permanent("dialpad", "subscription unreadable")),
            Err((status, m)) => Err(Error::permanent(
                "dialpad",
                format!("SMS subscription: HTTP {}: {m}", status.as_u16()),
            )
            .with_code("dialpad_rejected")),
        }
    }

    async fn call_subscriptions(&self) -> Result<Vec<CallSubscription>> {
        Ok(DialpadSandbox::call_subscriptions(self)
            .iter()
            .filter_map(setup::subscription_of)
            .collect())
    }

    async fn save_call_subscription(&self, sub: &CallSubscription) -> Result<CallSubscription> {
        let body = setup::subscription_body(sub);
        let saved = if sub.id.is_empty() {
            self.create_call_subscription(&body)
        } else {
            self.patch_call_subscription(&sub.id, &body)
        };
        match saved {
            Ok(v) => setup::subscription_of(&v)
                .ok_or_else(|| Error::permanent("dialpad", "subscription unreadable")),
            Err((status, m)) => Err(Error::permanent(
                "dialpad",
                format!("subscription: HTTP {}: {m}", status.as_u16()),
            )
            .with_code("dialpad_rejected")),
        }
    }
}

type S = State<DialpadSandbox>;

/// The request's bearer key is the sandbox's.
fn authorized(sb: &DialpadSandbox, headers: &HeaderMap) -> bool {
    let key = sb.config().api_key;
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, k)| k.trim());
    given == Some(key.as_str())
}

async fn call_list(
    State(sb): S,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&sb, &headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid or missing API key");
    }
    let ms = |k: &str| q.get(k).map(|v| v.trim().parse::<i64>());
    let (after, before) = match (ms("started_after"), ms("started_before")) {
        (Some(Ok(a)), Some(Ok(b))) => (a, b),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "started_after and started_before (epoch ms) are required",
            )
        }
    };
    let target = match (q.get("target_type"), q.get("target_id")) {
        (Some(t), Some(i)) => Some((t.as_str(), i.as_str())),
        _ => None,
    };
    let (items, cursor) = sb.call_page(after, before, target, q.get("cursor").map(String::as_str));
    let mut body = json!({ "items": items });
    if let Some(c) = cursor {
        body["cursor"] = json!(c);
    }
    reply(StatusCode::OK, body)
}

async fn hook_calls(State(sb): S) -> Response {
    let calls = sb
        .inner
        .calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    reply(StatusCode::OK, json!(calls))
}

/// A leg, or a list of legs.
async fn hook_add_call(State(sb): S, body: Bytes) -> Response {
    match parse_json::<Value>(&body) {
        Ok(Value::Array(legs)) => legs.into_iter().for_each(|l| sb.add_call(l)),
        Ok(leg @ Value::Object(_)) => sb.add_call(leg),
        Ok(_) => return error(StatusCode::BAD_REQUEST, "a call leg or a list of them"),
        Err(r) => return r,
    }
    reply(StatusCode::OK, json!({ "added": true }))
}

async fn screenpop(
    State(sb): S,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    body: Bytes,
) -> Response {
    if !authorized(&sb, &headers) {
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

async fn hook_reset(State(sb): S) -> Response {
    sb.reset();
    reply(StatusCode::OK, json!({ "reset": true }))
}
