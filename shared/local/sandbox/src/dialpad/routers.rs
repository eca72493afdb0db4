//! The Dialpad sandbox's call routers (`/api/v2/callrouters`), the targets a router may name
//! (users, call centers, departments, offices), and a routed call played on demand: the
//! sandbox signs the call's fields with the router's secret (HS256) and posts them to its
//! `routing_url`, as Dialpad does (the body's shape is assumed: `docs/dialpad-events.md`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::setup::{api_read, api_write, id, id_json, user_json, Refusal};
use super::{DialpadSandbox, S};
use crate::recorder::{error, now_ms, parse_json, reply};

/// A routed call the sandbox played: what the router answered, and how fast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutedCall {
    pub router_id: String,
    pub call_id: String,
    pub external_number: String,
    /// The HTTP status of the answer (0: none).
    pub status: u16,
    pub answer: Value,
    pub took_ms: u64,
    /// Where Dialpad sends the call: the answer's target, else the router's default.
    pub target_type: String,
    pub target_id: String,
}

impl DialpadSandbox {
    /// Every router, as `GET /api/v2/callrouters` lists them (secrets left out).
    pub fn routers(&self) -> Vec<Value> {
        self.inner
            .routers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(r, _)| r.clone())
            .collect()
    }

    fn router_secret(&self, router_id: &str) -> Option<(Value, String)> {
        self.inner
            .routers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(r, _)| id(r.get("id")).as_deref() == Some(router_id))
            .cloned()
    }

    /// Whether a target of this kind and id exists.
    pub fn has_target(&self, kind: &str, target_id: &str) -> bool {
        let c = self.config();
        match kind {
            "user" => c.users.iter().any(|u| u.id == target_id),
            "callcenter" => c.call_centers.iter().any(|x| x == target_id),
            "department" => c.departments.iter().any(|x| x == target_id),
            "office" => c.offices.iter().any(|x| x == target_id),
            "callrouter" => self.router_secret(target_id).is_some(),
            _ => false,
        }
    }

    /// `POST /api/v2/callrouters` or `PATCH /api/v2/callrouters/{id}`.
    pub fn save_router(&self, router_id: Option<&str>, body: &Value) -> Result<Value, Refusal> {
        let bad = |m: &str| Err((StatusCode::BAD_REQUEST, m.to_owned()));
        if let Some(s) = body.get("secret") {
            if s.as_str().is_none_or(|s| s.chars().count() < 32) {
                return bad("secret must be at least 32 characters");
            }
        }
        if let Some(u) = body.get("routing_url") {
            if !u
                .as_str()
                .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://"))
            {
                return bad("routing_url must be a URL");
            }
        }
        if let Some(t) = body.get("default_target_type").and_then(Value::as_str) {
            let tid = id(body.get("default_target_id")).unwrap_or_default();
            if !self.has_target(t, &tid) {
                return Err((
                    StatusCode::NOT_FOUND,
                    format!("default target {t} {tid} not found"),
                ));
            }
        }
        let mut routers = self.inner.routers.lock().unwrap_or_else(|e| e.into_inner());
        let fields = [
            "name",
            "routing_url",
            "office_id",
            "default_target_type",
            "default_target_id",
            "enabled",
        ];
        match router_id {
            None => {
                for required in ["name", "routing_url", "office_id", "secret"] {
                    if body.get(required).is_none() {
                        return bad(&format!("{required} is required"));
                    }
                }
                let new_id = 6_100_000_000_000_000 + routers.len() as u64 + 1;
                let mut r = json!({"id": new_id, "enabled": true, "phone_numbers": [], "error_count": 0,
                    "signature": {"algo": "HS256", "type": "jwt"}});
                for f in fields {
                    if let Some(v) = body.get(f) {
                        r[f] = v.clone();
                    }
                }
                let secret = body["secret"].as_str().unwrap_or_default().to_owned();
                routers.push((r.clone(), secret));
                Ok(r)
            }
            Some(rid) => {
                let (r, secret) = routers
                    .iter_mut()
                    .find(|(r, _)| id(r.get("id")).as_deref() == Some(rid))
                    .ok_or((StatusCode::NOT_FOUND, format!("router {rid} not found")))?;
                for f in fields {
                    if let Some(v) = body.get(f) {
                        r[f] = v.clone();
                    }
                }
                if let Some(s) = body.get("secret").and_then(Value::as_str) {
                    *secret = s.to_owned();
                }
                Ok(r.clone())
            }
        }
    }

    /// `POST /api/v2/callrouters/{id}/assign_number`.
    pub fn assign_number(&self, router_id: &str, body: &Value) -> Result<Value, Refusal> {
        let number = body
            .get("number")
            .and_then(Value::as_str)
            .filter(|n| n.starts_with('+'))
            .ok_or((
                StatusCode::BAD_REQUEST,
                "number (E.164) is required".to_owned(),
            ))?;
        let mut routers = self.inner.routers.lock().unwrap_or_else(|e| e.into_inner());
        let (r, _) = routers
            .iter_mut()
            .find(|(r, _)| id(r.get("id")).as_deref() == Some(router_id))
            .ok_or((
                StatusCode::NOT_FOUND,
                format!("router {router_id} not found"),
            ))?;
        if let Some(list) = r["phone_numbers"].as_array_mut() {
            if !list.iter().any(|n| n == number) {
                list.push(json!(number));
            }
        }
        Ok(r.clone())
    }

    /// Plays an inbound call from `external_number` on the router: posts the call, signed with
    /// the router's secret, to its `routing_url`, and says where Dialpad would send it. A failed
    /// or late answer (over 3 s) counts as an error of the router and sends the call to its
    /// default target.
    pub async fn route_call(&self, router_id: &str, external_number: &str) -> Option<RoutedCall> {
        let (router, secret) = self.router_secret(router_id)?;
        let call_id = (7_200_000_000_000_001 + now_ms() as u64 % 1_000_000 * 10).to_string();
        let claims = json!({
            "call_id": call_id.parse::<u64>().unwrap_or(0), "external_number": external_number,
            "internal_number": router["phone_numbers"][0], "direction": "inbound",
            "contact": {"phone": external_number, "type": "local"},
            "date_started": now_ms(), "exp": now_ms() / 1000 + 60,
        });
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).ok()?,
        )
        .ok()?;
        let url = router["routing_url"].as_str()?.to_owned();
        let started = std::time::Instant::now();
        let sent = reqwest::Client::new()
            .post(&url)
            .timeout(std::time::Duration::from_secs(3))
            .header("content-type", "application/jwt")
            .body(token)
            .send()
            .await;
        let (status, answer) = match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        };
        let took_ms = started.elapsed().as_millis() as u64;
        let routed = status == 200 && answer["action"] == "route";
        let (target_type, target_id) = if routed {
            (
                answer["target_type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                id(answer.get("target_id")).unwrap_or_default(),
            )
        } else {
            self.count_router_error(router_id);
            (
                router["default_target_type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                id(router.get("default_target_id")).unwrap_or_default(),
            )
        };
        let played = RoutedCall {
            router_id: router_id.to_owned(),
            call_id,
            external_number: external_number.to_owned(),
            status,
            answer,
            took_ms,
            target_type,
            target_id,
        };
        self.inner
            .routed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(played.clone());
        Some(played)
    }

    fn count_router_error(&self, router_id: &str) {
        let mut routers = self.inner.routers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((r, _)) = routers
            .iter_mut()
            .find(|(r, _)| id(r.get("id")).as_deref() == Some(router_id))
        {
            let n = r["error_count"].as_u64().unwrap_or(0) + 1;
            r["error_count"] = json!(n);
            if n > 10 {
                r["enabled"] = json!(false);
            }
        }
    }

    /// The routed calls played so far.
    pub fn routed_calls(&self) -> Vec<RoutedCall> {
        self.inner
            .routed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

pub(super) async fn list(State(sb): S, headers: HeaderMap) -> Response {
    api_read(&sb, &headers, || Ok(json!({"items": sb.routers()})))
}

pub(super) async fn create(State(sb): S, headers: HeaderMap, body: Bytes) -> Response {
    api_write(&sb, &headers, &body, |b| sb.save_router(None, b))
}

pub(super) async fn get_one(State(sb): S, headers: HeaderMap, Path(rid): Path<String>) -> Response {
    api_read(&sb, &headers, || {
        sb.router_secret(&rid)
            .map(|(r, _)| r)
            .ok_or((StatusCode::NOT_FOUND, "router not found".to_owned()))
    })
}

pub(super) async fn patch(
    State(sb): S,
    headers: HeaderMap,
    Path(rid): Path<String>,
    body: Bytes,
) -> Response {
    api_write(&sb, &headers, &body, |b| sb.save_router(Some(&rid), b))
}

pub(super) async fn assign(
    State(sb): S,
    headers: HeaderMap,
    Path(rid): Path<String>,
    body: Bytes,
) -> Response {
    api_write(&sb, &headers, &body, |b| sb.assign_number(&rid, b))
}

/// `GET /api/v2/{callcenters|departments|offices}/{id}` and `/api/v2/users/{id}`.
pub(super) async fn target(
    State(sb): S,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Path(tid): Path<String>,
) -> Response {
    let kind = uri
        .path()
        .trim_start_matches("/api/v2/")
        .split('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches('s')
        .to_owned();
    api_read(&sb, &headers, || {
        let not_found = || (StatusCode::NOT_FOUND, format!("{kind} not found"));
        if kind == "user" {
            return sb
                .config()
                .users
                .iter()
                .find(|u| u.id == tid)
                .map(user_json)
                .ok_or_else(not_found);
        }
        if sb.has_target(&kind, &tid) {
            Ok(json!({"id": id_json(&tid)}))
        } else {
            Err(not_found())
        }
    })
}

/// `POST /_sandbox/route {"router_id", "external_number"}`: plays a routed call.
pub(super) async fn hook_route(State(sb): S, body: Bytes) -> Response {
    let body: Value = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(rid), Some(number)) = (
        id(body.get("router_id")),
        body.get("external_number").and_then(Value::as_str),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "router_id and external_number are required",
        );
    };
    match sb.route_call(&rid, number).await {
        Some(r) => reply(StatusCode::OK, json!(r)),
        None => error(StatusCode::NOT_FOUND, "router not found"),
    }
}
