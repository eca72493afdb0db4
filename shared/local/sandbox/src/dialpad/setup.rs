//! The Dialpad sandbox's users (`GET /api/v2/users?email=`), calls started through the API
//! (`POST /api/v2/call`, 5 per minute per user), webhooks (`/api/v2/webhooks`) and call-event
//! subscriptions (`/api/v2/subscriptions/call`), as `docs/dialpad-events.md` describes them.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use llbridge_usecases::ports::{CallSubscription, Webhook};

use super::{authorized, DialpadSandbox, S};
use crate::recorder::{error, now_ms, parse_json, reply};

/// A user of the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbUser {
    pub id: String,
    pub email: String,
    pub display_name: String,
    #[serde(default = "yes")]
    pub is_available: bool,
}

fn yes() -> bool {
    true
}

/// The users the sandbox starts with: the agents of the scripted calls.
pub fn default_users() -> Vec<SbUser> {
    vec![
        SbUser {
            id: "5150000000000001".into(),
            email: "ana@example.com".into(),
            display_name: "Ana Agent".into(),
            is_available: true,
        },
        SbUser {
            id: "5150000000000002".into(),
            email: "ben@example.com".into(),
            display_name: "Ben Agent".into(),
            is_available: true,
        },
    ]
}

/// A call started through `POST /api/v2/call`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedCall {
    pub call_id: String,
    pub user_id: String,
    pub phone_number: String,
    pub group_id: Option<String>,
    pub group_type: Option<String>,
    pub outbound_caller_id: Option<String>,
    pub custom_data: Option<String>,
    pub at_ms: i64,
}

/// Why the sandbox refused to start a call: the HTTP status and Dialpad's message.
pub type Refusal = (StatusCode, String);

/// An id given as a number or a string.
pub(super) fn id(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Dialpad's ids are numbers when they are digits.
pub(super) fn id_json(id: &str) -> Value {
    id.parse::<u64>().map_or_else(|_| json!(id), |n| json!(n))
}

/// The call states a subscription may carry.
const CALL_STATES: [&str; 21] = [
    "ringing",
    "connected",
    "hangup",
    "missed",
    "voicemail",
    "voicemail_uploaded",
    "recording",
    "call_transcription",
    "postcall",
    "dispositions",
    "recap_summary",
    "recap_action_items",
    "recap_outcome",
    "recap_purposes",
    "calling",
    "preanswer",
    "hold",
    "queued",
    "transcription",
    "parked",
    "takeover",
];

const TARGET_TYPES: [&str; 7] = [
    "callcenter",
    "office",
    "company",
    "department",
    "user",
    "callrouter",
    "room",
];

impl DialpadSandbox {
    /// The user with this e-mail (without case).
    pub fn user_by_email(&self, email: &str) -> Option<SbUser> {
        self.config()
            .users
            .into_iter()
            .find(|u| u.email.eq_ignore_ascii_case(email.trim()))
    }

    /// Every call started so far.
    pub fn started_calls(&self) -> Vec<StartedCall> {
        self.inner
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Starts a call as `POST /api/v2/call` does: the user must exist, the number be E.164,
    /// and the user have started fewer than 5 calls in the last minute.
    pub fn start_call(&self, body: &Value) -> Result<StartedCall, Refusal> {
        let bad = |m: &str| (StatusCode::BAD_REQUEST, m.to_owned());
        let user_id = id(body.get("user_id")).ok_or_else(|| bad("user_id is required"))?;
        let phone = body
            .get("phone_number")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("phone_number is required"))?;
        let e164 = phone.starts_with('+')
            && (8..=16).contains(&phone.len())
            && phone[1..].bytes().all(|b| b.is_ascii_digit());
        if !e164 {
            return Err(bad("phone_number must be E.164"));
        }
        let config = self.config();
        if !config.users.iter().any(|u| u.id == user_id) {
            return Err((StatusCode::NOT_FOUND, format!("user {user_id} not found")));
        }
        let now = now_ms();
        let mut started = self.inner.started.lock().unwrap_or_else(|e| e.into_inner());
        let recent = started
            .iter()
            .filter(|c| c.user_id == user_id && now - c.at_ms < 60_000)
            .count();
        if recent >= config.calls_per_minute {
            return Err((
                StatusCode::TOO_MANY_REQUESTS,
                "rate limit exceeded: 5 calls per minute per user".into(),
            ));
        }
        let call = StartedCall {
            call_id: (7_100_000_000_000_001 + started.len() as u64 * 10).to_string(),
            user_id,
            phone_number: phone.to_owned(),
            group_id: id(body.get("group_id")),
            group_type: body
                .get("group_type")
                .and_then(Value::as_str)
                .map(str::to_owned),
            outbound_caller_id: body
                .get("outbound_caller_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            custom_data: body
                .get("custom_data")
                .and_then(Value::as_str)
                .map(str::to_owned),
            at_ms: now,
        };
        started.push(call.clone());
        Ok(call)
    }

    /// The webhooks, as `GET /api/v2/webhooks` lists them.
    pub fn webhooks(&self) -> Vec<Value> {
        self.inner
            .webhooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The call-event subscriptions, as `GET /api/v2/subscriptions/call` lists them.
    pub fn call_subscriptions(&self) -> Vec<Value> {
        self.inner
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn next_id(&self) -> u64 {
        let mut n = self.inner.next_id.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        6_000_000_000_000_000 + *n
    }

    /// `POST /api/v2/webhooks`.
    pub fn create_webhook(&self, body: &Value) -> Result<Value, Refusal> {
        let url = body
            .get("hook_url")
            .and_then(Value::as_str)
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .ok_or((
                StatusCode::BAD_REQUEST,
                "hook_url (a URL) is required".into(),
            ))?;
        let mut hook = json!({"id": self.next_id(), "hook_url": url});
        if let Some(secret) = body.get("secret").and_then(Value::as_str) {
            hook["signature"] = json!({"algo": "HS256", "secret": secret, "type": "jwt"});
        }
        self.inner
            .webhooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(hook.clone());
        Ok(hook)
    }

    /// The SMS subscriptions, as `GET /api/v2/subscriptions/sms` lists them.
    pub fn sms_subscriptions(&self) -> Vec<Value> {
        self.inner
            .sms_subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `POST /api/v2/subscriptions/sms`, or `PATCH .../{id}` with `sub_id`.
    pub fn save_sms_subscription(
        &self,
        sub_id: Option<&str>,
        body: &Value,
    ) -> Result<Value, Refusal> {
        let bad = |m: &str| Err((StatusCode::BAD_REQUEST, m.to_owned()));
        if let Some(d) = body.get("direction") {
            if !d
                .as_str()
                .is_some_and(|d| ["all", "inbound", "outbound"].contains(&d))
            {
                return bad("direction must be all, inbound or outbound");
            }
        } else if sub_id.is_none() {
            return bad("direction is required");
        }
        let webhook = match id(body.get("endpoint_id")) {
            Some(w) => Some(
                self.webhooks()
                    .into_iter()
                    .find(|h| id(h.get("id")).as_deref() == Some(w.as_str()))
                    .ok_or((StatusCode::NOT_FOUND, format!("webhook {w} not found")))?,
            ),
            None if sub_id.is_none() => return bad("endpoint_id is required"),
            None => None,
        };
        let mut subs = self
            .inner
            .sms_subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let sub = match sub_id {
            None => {
                let new_id = 6_200_000_000_000_000 + subs.len() as u64 + 1;
                subs.push(json!({"id": new_id, "enabled": true}));
                subs.last_mut()
            }
            Some(sid) => subs
                .iter_mut()
                .find(|s| id(s.get("id")).as_deref() == Some(sid)),
        }
        .ok_or((StatusCode::NOT_FOUND, "subscription not found".to_owned()))?;
        for key in [
            "direction",
            "enabled",
            "target_type",
            "include_internal",
            "status",
        ] {
            if let Some(v) = body.get(key) {
                sub[key] = v.clone();
            }
        }
        if let Some(t) = id(body.get("target_id")) {
            sub["target_id"] = id_json(&t);
        }
        if let Some(w) = webhook {
            sub["webhook"] = w;
        }
        Ok(sub.clone())
    }

    /// `PATCH /api/v2/webhooks/{id}`: a new URL or secret.
    pub fn patch_webhook(&self, hook_id: &str, body: &Value) -> Result<Value, Refusal> {
        let mut hooks = self
            .inner
            .webhooks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let hook = hooks
            .iter_mut()
            .find(|h| id(h.get("id")).as_deref() == Some(hook_id))
            .ok_or((
                StatusCode::NOT_FOUND,
                format!("webhook {hook_id} not found"),
            ))?;
        if let Some(url) = body.get("hook_url").and_then(Value::as_str) {
            hook["hook_url"] = json!(url);
        }
        if let Some(secret) = body.get("secret").and_then(Value::as_str) {
            hook["signature"] = json!({"algo": "HS256", "secret": secret, "type": "jwt"});
        }
        Ok(hook.clone())
    }

    /// The checks of a subscription's fields, as given (a patch gives only some).
    fn check_subscription(&self, body: &Value, creating: bool) -> Result<(), Refusal> {
        let bad = |m: String| Err((StatusCode::BAD_REQUEST, m));
        if let Some(states) = body.get("call_states") {
            let Some(states) = states.as_array().filter(|a| !a.is_empty()) else {
                return bad("call_states must be a non-empty list".into());
            };
            for s in states {
                if !s.as_str().is_some_and(|s| CALL_STATES.contains(&s)) {
                    return bad(format!("unknown call state {s}"));
                }
            }
        } else if creating {
            return bad("call_states is required".into());
        }
        if let Some(t) = body.get("target_type") {
            if !t.as_str().is_some_and(|t| TARGET_TYPES.contains(&t)) {
                return bad(format!("unknown target_type {t}"));
            }
            if id(body.get("target_id")).is_none() {
                return bad("target_id is required with target_type".into());
            }
        }
        match id(body.get("endpoint_id")) {
            Some(w) => {
                let known = self
                    .webhooks()
                    .iter()
                    .any(|h| id(h.get("id")).as_deref() == Some(w.as_str()));
                if !known {
                    return Err((StatusCode::NOT_FOUND, format!("webhook {w} not found")));
                }
            }
            None if creating => return bad("endpoint_id is required".into()),
            None => {}
        }
        Ok(())
    }

    /// `POST /api/v2/subscriptions/call`.
    pub fn create_call_subscription(&self, body: &Value) -> Result<Value, Refusal> {
        self.check_subscription(body, true)?;
        let webhook = id(body.get("endpoint_id"))
            .and_then(|w| {
                self.webhooks()
                    .into_iter()
                    .find(|h| id(h.get("id")).as_deref() == Some(w.as_str()))
            })
            .unwrap_or(Value::Null);
        let mut sub = json!({
            "id": self.next_id(),
            "webhook": webhook,
            "call_states": body["call_states"],
            "enabled": body.get("enabled").and_then(Value::as_bool).unwrap_or(true),
            "group_calls_only": body.get("group_calls_only").and_then(Value::as_bool).unwrap_or(false),
        });
        if let Some(t) = body.get("target_type") {
            sub["target_type"] = t.clone();
            sub["target_id"] = id_json(&id(body.get("target_id")).unwrap_or_default());
        }
        self.inner
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sub.clone());
        Ok(sub)
    }

    /// `PATCH /api/v2/subscriptions/call/{id}`: the fields given replace the subscription's.
    pub fn patch_call_subscription(&self, sub_id: &str, body: &Value) -> Result<Value, Refusal> {
        self.check_subscription(body, false)?;
        let webhook = id(body.get("endpoint_id")).and_then(|w| {
            self.webhooks()
                .into_iter()
                .find(|h| id(h.get("id")).as_deref() == Some(w.as_str()))
        });
        let mut subs = self
            .inner
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let sub = subs
            .iter_mut()
            .find(|s| id(s.get("id")).as_deref() == Some(sub_id))
            .ok_or((
                StatusCode::NOT_FOUND,
                format!("subscription {sub_id} not found"),
            ))?;
        for key in ["call_states", "enabled", "target_type", "group_calls_only"] {
            if let Some(v) = body.get(key) {
                sub[key] = v.clone();
            }
        }
        if let Some(t) = id(body.get("target_id")) {
            sub["target_id"] = id_json(&t);
        }
        if let Some(w) = webhook {
            sub["webhook"] = w;
        }
        Ok(sub.clone())
    }

    /// Forgets the calls started, the webhooks and the subscriptions.
    pub(super) fn reset_setup(&self) {
        self.inner
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.inner
            .webhooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.inner
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.inner
            .sms_subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// A webhook of the list, as the port gives it.
pub(super) fn webhook_of(v: &Value) -> Option<Webhook> {
    Some(Webhook {
        id: id(v.get("id"))?,
        hook_url: v["hook_url"].as_str().unwrap_or_default().to_owned(),
        secret: v["signature"]["secret"].as_str().map(str::to_owned),
    })
}

/// A subscription of the list, as the port gives it.
pub(super) fn subscription_of(v: &Value) -> Option<CallSubscription> {
    Some(CallSubscription {
        id: id(v.get("id"))?,
        webhook_id: id(v["webhook"].get("id")),
        target_type: v["target_type"].as_str().map(str::to_owned),
        target_id: id(v.get("target_id")),
        call_states: v["call_states"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        enabled: v["enabled"].as_bool().unwrap_or(true),
    })
}

/// A router of the list, as the port gives it.
pub(super) fn router_of(v: &Value) -> Option<llbridge_usecases::ports::CallRouter> {
    let default_target = match (
        v["default_target_type"].as_str(),
        id(v.get("default_target_id")),
    ) {
        (Some(t), Some(i)) => Some(llbridge_domain::config::Target {
            target_type: t.to_owned(),
            target_id: i,
        }),
        _ => None,
    };
    Some(llbridge_usecases::ports::CallRouter {
        id: id(v.get("id"))?,
        name: v["name"].as_str().unwrap_or_default().to_owned(),
        routing_url: v["routing_url"].as_str().unwrap_or_default().to_owned(),
        office_id: id(v.get("office_id")).unwrap_or_default(),
        default_target,
        enabled: v["enabled"].as_bool().unwrap_or(true),
        phone_numbers: v["phone_numbers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        error_count: v["error_count"].as_u64(),
    })
}

/// The request body that saves `sub`.
pub(super) fn subscription_body(sub: &CallSubscription) -> Value {
    let mut body = json!({"call_states": sub.call_states, "enabled": sub.enabled});
    if let Some(w) = &sub.webhook_id {
        body["endpoint_id"] = id_json(w);
    }
    if let Some(t) = &sub.target_type {
        body["target_type"] = json!(t);
        body["target_id"] = id_json(sub.target_id.as_deref().unwrap_or_default());
    }
    body
}

fn refusal((status, message): Refusal) -> Response {
    error(status, &message)
}

/// An API request with a JSON body: the key checked, the body read, the answer made by `f`.
pub(super) fn api_write(
    sb: &DialpadSandbox,
    headers: &HeaderMap,
    body: &[u8],
    f: impl FnOnce(&Value) -> Result<Value, Refusal>,
) -> Response {
    if !authorized(sb, headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid or missing API key");
    }
    match parse_json::<Value>(body).map(|b| f(&b)) {
        Ok(Ok(v)) => reply(StatusCode::OK, v),
        Ok(Err(r)) => refusal(r),
        Err(r) => r,
    }
}

/// An API read: the key checked, the answer made by `f`.
pub(super) fn api_read(
    sb: &DialpadSandbox,
    headers: &HeaderMap,
    f: impl FnOnce() -> Result<Value, Refusal>,
) -> Response {
    if !authorized(sb, headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid or missing API key");
    }
    match f() {
        Ok(v) => reply(StatusCode::OK, v),
        Err(r) => refusal(r),
    }
}

pub(super) async fn users(
    State(sb): S,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    api_read(&sb, &headers, || {
        let items: Vec<Value> = sb
            .config()
            .users
            .iter()
            .filter(|u| {
                q.get("email")
                    .is_none_or(|e| u.email.eq_ignore_ascii_case(e.trim()))
            })
            .map(user_json)
            .collect();
        Ok(json!({ "items": items }))
    })
}

/// A user as `GET /api/v2/users` gives it.
pub(super) fn user_json(u: &SbUser) -> Value {
    json!({"id": id_json(&u.id), "emails": [u.email], "display_name": u.display_name,
        "is_available": u.is_available, "state": "active"})
}

pub(super) async fn start_call(State(sb): S, headers: HeaderMap, body: Bytes) -> Response {
    api_write(&sb, &headers, &body, |b| {
        sb.start_call(b)
            .map(|c| json!({"call_id": id_json(&c.call_id)}))
    })
}

pub(super) async fn list_webhooks(State(sb): S, headers: HeaderMap) -> Response {
    api_read(&sb, &headers, || Ok(json!({"items": sb.webhooks()})))
}

pub(super) async fn create_webhook(State(sb): S, headers: HeaderMap, body: Bytes) -> Response {
    api_write(&sb, &headers, &body, |b| sb.create_webhook(b))
}

pub(super) async fn patch_webhook(
    State(sb): S,
    headers: HeaderMap,
    Path(hook_id): Path<String>,
    body: Bytes,
) -> Response {
    api_write(&sb, &headers, &body, |b| sb.patch_webhook(&hook_id, b))
}

pub(super) async fn list_subscriptions(State(sb): S, headers: HeaderMap) -> Response {
    api_read(&sb, &headers, || {
        Ok(json!({"items": sb.call_subscriptions()}))
    })
}

pub(super) async fn create_subscription(State(sb): S, headers: HeaderMap, body: Bytes) -> Response {
    api_write(&sb, &headers, &body, |b| sb.create_call_subscription(b))
}

pub(super) async fn patch_subscription(
    State(sb): S,
    headers: HeaderMap,
    Path(sub_id): Path<String>,
    body: Bytes,
) -> Response {
    api_write(&sb, &headers, &body, |b| {
        sb.patch_call_subscription(&sub_id, b)
    })
}

pub(super) async fn list_sms_subscriptions(State(sb): S, headers: HeaderMap) -> Response {
    api_read(&sb, &headers, || {
        Ok(json!({"items": sb.sms_subscriptions()}))
    })
}

pub(super) async fn create_sms_subscription(
    State(sb): S,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    api_write(&sb, &headers, &body, |b| sb.save_sms_subscription(None, b))
}

pub(super) async fn patch_sms_subscription(
    State(sb): S,
    headers: HeaderMap,
    Path(sub_id): Path<String>,
    body: Bytes,
) -> Response {
    api_write(&sb, &headers, &body, |b| {
        sb.save_sms_subscription(Some(&sub_id), b)
    })
}

pub(super) async fn hook_started(State(sb): S) -> Response {
    reply(StatusCode::OK, json!(sb.started_calls()))
}
