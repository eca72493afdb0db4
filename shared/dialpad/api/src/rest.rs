//! The rest of Dialpad's API this product uses: users by e-mail, starting a call (click to
//! call), and the webhooks and call-event subscriptions that `llbridge dialpad connect` sets up
//! and `doctor` checks. Answers are read leniently: ids as numbers or strings, lists under
//! `items` (pages followed by `cursor`).

use std::time::{Duration, Instant};

use llbridge_domain::config::Target;
use llbridge_usecases::ports::{CallRouter, CallSubscription, DialpadUser, StartCall, Webhook};
use llbridge_usecases::{telemetry, Error, Result, NOT_SENT};
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::client::HttpDialpad;

/// Pages of a list read at most (Dialpad pages hold 100 items or more).
const MAX_PAGES: usize = 50;

/// An id given as a number or a string.
pub fn id(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn text(o: &Map<String, Value>, key: &str) -> Option<String> {
    o.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A user of `GET /api/v2/users`.
pub fn user(v: &Value) -> Option<DialpadUser> {
    let o = v.as_object()?;
    let emails = match o.get("emails") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => text(o, "email").into_iter().collect(),
    };
    Some(DialpadUser {
        id: id(o.get("id"))?,
        emails,
        name: text(o, "display_name").or_else(|| {
            let first = text(o, "first_name").unwrap_or_default();
            let last = text(o, "last_name").unwrap_or_default();
            Some(format!("{first} {last}").trim().to_owned()).filter(|n| !n.is_empty())
        }),
        available: o.get("is_available").and_then(Value::as_bool),
    })
}

/// A webhook of `/api/v2/webhooks`.
pub fn webhook(v: &Value) -> Option<Webhook> {
    let o = v.as_object()?;
    Some(Webhook {
        id: id(o.get("id"))?,
        hook_url: text(o, "hook_url").unwrap_or_default(),
        secret: o
            .get("signature")
            .and_then(|s| s.get("secret"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// A subscription of `/api/v2/subscriptions/call`: its webhook as `webhook.id`,
/// `endpoint_id` or `webhook_id`.
pub fn subscription(v: &Value) -> Option<CallSubscription> {
    let o = v.as_object()?;
    let webhook_id = o
        .get("webhook")
        .and_then(|w| id(w.get("id")))
        .or_else(|| id(o.get("endpoint_id")))
        .or_else(|| id(o.get("webhook_id")));
    Some(CallSubscription {
        id: id(o.get("id"))?,
        webhook_id,
        target_type: text(o, "target_type").map(|t| t.to_ascii_lowercase()),
        target_id: id(o.get("target_id")),
        call_states: o
            .get("call_states")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        enabled: o.get("enabled").and_then(Value::as_bool).unwrap_or(true),
    })
}

/// A router of `/api/v2/callrouters`.
pub fn router(v: &Value) -> Option<CallRouter> {
    let o = v.as_object()?;
    let default_target = match (
        text(o, "default_target_type"),
        id(o.get("default_target_id")),
    ) {
        (Some(target_type), Some(target_id)) => Some(Target {
            target_type: target_type.to_ascii_lowercase(),
            target_id,
        }),
        _ => None,
    };
    Some(CallRouter {
        id: id(o.get("id"))?,
        name: text(o, "name").unwrap_or_default(),
        routing_url: text(o, "routing_url").unwrap_or_default(),
        office_id: id(o.get("office_id")).unwrap_or_default(),
        default_target,
        enabled: o.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        phone_numbers: o
            .get("phone_numbers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        error_count: o.get("error_count").and_then(Value::as_u64),
    })
}

/// The list of a target kind, as Dialpad's API names it.
fn target_path(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "user" => "users",
        "callcenter" => "callcenters",
        "department" => "departments",
        "office" => "offices",
        "callrouter" => "callrouters",
        _ => return None,
    })
}

/// What a request that is not a plain read may have done when it failed.
enum Attempted {
    Answer(u16, Value, Option<Duration>),
    /// Could not connect: nothing happened.
    NoConnection,
    /// Sent, answer lost.
    Lost(&'static str),
}

impl HttpDialpad {
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
        label: &str,
    ) -> Attempted {
        let mut req = self
            .http()
            .request(method.clone(), format!("{}{path}", self.api_base()))
            .timeout(self.request_timeout())
            .bearer_auth(self.api_key())
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let started = Instant::now();
        let sent = req.send().await;
        let outcome = match &sent {
            Ok(r) => telemetry::status_class(r.status().as_u16()),
            Err(e) if e.is_timeout() => "timeout".to_owned(),
            Err(_) => "failed".to_owned(),
        };
        telemetry::request(
            "dialpad",
            &format!("{method} {label}"),
            &outcome,
            started.elapsed(),
        );
        match sent {
            Err(e) if e.is_connect() => Attempted::NoConnection,
            Err(e) if e.is_timeout() => Attempted::Lost("timed out"),
            Err(_) => Attempted::Lost("request failed"),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        llbridge_usecases::error::retry_after(v, std::time::SystemTime::now())
                    });
                match resp.bytes().await {
                    Ok(b) => {
                        let v = serde_json::from_slice(&b).unwrap_or(Value::Null);
                        Attempted::Answer(status, v, retry_after)
                    }
                    Err(_) => Attempted::Lost("answer lost"),
                }
            }
        }
    }

    /// A read: every failure but a refusal is transient.
    async fn read(&self, path: &str, query: &[(&str, String)], what: &str) -> Result<Value> {
        match self.call(Method::GET, path, query, None, path).await {
            Attempted::Answer(200..=299, v, _) => Ok(v),
            Attempted::Answer(status @ (429 | 500..=599), _, after) => Err(Error::transient(
                "dialpad",
                format!("{what}: HTTP {status}"),
            )
            .with_retry_after(after)),
            Attempted::Answer(status, v, _) => Err(refused(what, status, &v)),
            Attempted::NoConnection => Err(Error::transient(
                "dialpad",
                format!("{what}: could not connect"),
            )
            .with_code(NOT_SENT)),
            Attempted::Lost(why) => Err(Error::transient("dialpad", format!("{what}: {why}"))),
        }
    }

    /// Every page of a list.
    async fn list(&self, path: &str, what: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let query: Vec<(&str, String)> = cursor.iter().map(|c| ("cursor", c.clone())).collect();
            let page = self.read(path, &query, what).await?;
            if let Some(a) = page.get("items").and_then(Value::as_array) {
                items.extend(a.iter().cloned());
            } else if let Some(a) = page.as_array() {
                items.extend(a.iter().cloned());
            }
            match page.get("cursor").and_then(Value::as_str) {
                Some(c) if !c.is_empty() && Some(c) != cursor.as_deref() => {
                    cursor = Some(c.to_owned())
                }
                _ => break,
            }
        }
        Ok(items)
    }

    /// A write: an answer lost after sending is an unknown outcome.
    async fn write(&self, method: Method, path: &str, body: Value, label: &str) -> Result<Value> {
        let what = format!("{method} {label}");
        match self.call(method, path, &[], Some(body), label).await {
            Attempted::Answer(200..=299, v, _) => Ok(v),
            Attempted::Answer(429, _, after) => Err(Error::transient(
                "dialpad",
                format!("{what}: HTTP 429 (Dialpad's rate limit)"),
            )
            .with_code("dialpad_rate_limited")
            .with_retry_after(after)),
            Attempted::Answer(status @ 500..=599, _, _) => Err(Error::unknown_outcome(
                "dialpad",
                format!("{what}: HTTP {status}; it may have taken effect"),
            )),
            Attempted::Answer(status, v, _) => Err(refused(&what, status, &v)),
            Attempted::NoConnection => Err(Error::transient(
                "dialpad",
                format!("{what}: could not connect"),
            )
            .with_code(NOT_SENT)),
            Attempted::Lost(why) => Err(Error::unknown_outcome(
                "dialpad",
                format!("{what}: {why} after the request was sent; it may have taken effect"),
            )),
        }
    }

    /// `POST {collection}` for a new object (no id yet), else `PATCH {collection}/{id}`.
    async fn save(&self, collection: &str, id: &str, body: Value) -> Result<Value> {
        if id.is_empty() {
            self.write(Method::POST, collection, body, collection).await
        } else {
            self.write(
                Method::PATCH,
                &format!("{collection}/{}", path_id(id)?),
                body,
                &format!("{collection}/{{id}}"),
            )
            .await
        }
    }

    /// `GET /api/v2/users?email=`: sent lower-cased, compared without case.
    pub async fn find_user(&self, email: &str) -> Result<Option<DialpadUser>> {
        let email = email.trim().to_lowercase();
        let page = self
            .read("/api/v2/users", &[("email", email.clone())], "user lookup")
            .await?;
        let items = page
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(items.iter().filter_map(user).find(|u| {
            u.emails.is_empty()
                || u.emails
                    .iter()
                    .any(|e| e.trim().eq_ignore_ascii_case(&email))
        }))
    }

    /// `POST /api/v2/call`: the new call's id.
    pub async fn start_call(&self, call: &StartCall) -> Result<String> {
        let mut body = json!({
            "phone_number": call.phone_number,
            "user_id": call.user_id,
        });
        if let Some((group_id, group_type)) = &call.group {
            body["group_id"] = json!(group_id);
            body["group_type"] = json!(group_type);
        }
        if let Some(c) = &call.outbound_caller_id {
            body["outbound_caller_id"] = json!(c);
        }
        if let Some(d) = &call.custom_data {
            body["custom_data"] = json!(d);
        }
        let answer = self
            .write(Method::POST, "/api/v2/call", body, "/api/v2/call")
            .await?;
        id(answer.get("call_id")).ok_or_else(|| {
            Error::unknown_outcome(
                "dialpad",
                "POST /api/v2/call: the answer has no call_id; the call may be ringing",
            )
        })
    }

    /// `GET /api/v2/users/{id}`: `None` on a 404.
    pub async fn user(&self, user_id: &str) -> Result<Option<DialpadUser>> {
        match self
            .get_one(
                &format!("/api/v2/users/{}", path_id(user_id)?),
                "/api/v2/users/{id}",
            )
            .await?
        {
            Some(v) => Ok(user(&v)),
            None => Ok(None),
        }
    }

    /// A GET of one object: `None` on a 404.
    async fn get_one(&self, path: &str, label: &str) -> Result<Option<Value>> {
        match self.call(Method::GET, path, &[], None, label).await {
            Attempted::Answer(200..=299, v, _) => Ok(Some(v)),
            Attempted::Answer(404, _, _) => Ok(None),
            Attempted::Answer(status @ (429 | 500..=599), _, after) => Err(Error::transient(
                "dialpad",
                format!("{label}: HTTP {status}"),
            )
            .with_retry_after(after)),
            Attempted::Answer(status, v, _) => Err(refused(label, status, &v)),
            Attempted::NoConnection => Err(Error::transient(
                "dialpad",
                format!("{label}: could not connect"),
            )
            .with_code(NOT_SENT)),
            Attempted::Lost(why) => Err(Error::transient("dialpad", format!("{label}: {why}"))),
        }
    }

    pub async fn target_exists(&self, target: &Target) -> Result<bool> {
        let kind = target_path(&target.target_type).ok_or_else(|| {
            Error::permanent(
                "dialpad",
                format!("unknown target type {}", target.target_type),
            )
        })?;
        Ok(self
            .get_one(
                &format!("/api/v2/{kind}/{}", path_id(&target.target_id)?),
                &format!("/api/v2/{kind}/{{id}}"),
            )
            .await?
            .is_some())
    }

    pub async fn call_routers(&self) -> Result<Vec<CallRouter>> {
        let items = self.list("/api/v2/callrouters", "router list").await?;
        Ok(items.iter().filter_map(router).collect())
    }

    pub async fn save_call_router(
        &self,
        r: &CallRouter,
        secret: Option<&str>,
    ) -> Result<CallRouter> {
        let mut body = json!({
            "name": r.name,
            "routing_url": r.routing_url,
            "office_id": id_value(&r.office_id),
            "enabled": r.enabled,
        });
        if let Some(t) = &r.default_target {
            body["default_target_type"] = json!(t.target_type);
            body["default_target_id"] = id_value(&t.target_id);
        }
        if let Some(s) = secret {
            body["secret"] = json!(s);
        }
        let answer = self.save("/api/v2/callrouters", &r.id, body).await?;
        router(&answer).ok_or_else(|| {
            Error::unknown_outcome(
                "dialpad",
                "router saved, but the answer has no id; list them to see",
            )
        })
    }

    pub async fn assign_router_number(&self, router_id: &str, number: &str) -> Result<()> {
        self.write(
            Method::POST,
            &format!("/api/v2/callrouters/{}/assign_number", path_id(router_id)?),
            json!({"number": number}),
            "/api/v2/callrouters/{id}/assign_number",
        )
        .await
        .map(|_| ())
    }

    pub async fn webhooks(&self) -> Result<Vec<Webhook>> {
        let items = self.list("/api/v2/webhooks", "webhook list").await?;
        Ok(items.iter().filter_map(webhook).collect())
    }

    pub async fn create_webhook(&self, hook_url: &str, secret: &str) -> Result<Webhook> {
        let answer = self
            .write(
                Method::POST,
                "/api/v2/webhooks",
                json!({"hook_url": hook_url, "secret": secret}),
                "/api/v2/webhooks",
            )
            .await?;
        webhook(&answer).ok_or_else(|| {
            Error::unknown_outcome("dialpad", "POST /api/v2/webhooks: the answer has no id")
        })
    }

    pub async fn update_webhook(&self, id: &str, hook_url: &str, secret: &str) -> Result<Webhook> {
        let answer = self
            .write(
                Method::PATCH,
                &format!("/api/v2/webhooks/{}", path_id(id)?),
                json!({"hook_url": hook_url, "secret": secret}),
                "/api/v2/webhooks/{id}",
            )
            .await?;
        webhook(&answer).ok_or_else(|| {
            Error::unknown_outcome("dialpad", "PATCH /api/v2/webhooks: the answer has no id")
        })
    }

    pub async fn sms_subscriptions(&self) -> Result<Vec<CallSubscription>> {
        let items = self
            .list("/api/v2/subscriptions/sms", "SMS subscription list")
            .await?;
        Ok(items.iter().filter_map(subscription).collect())
    }

    pub async fn save_sms_subscription(&self, sub: &CallSubscription) -> Result<CallSubscription> {
        let body = json!({"direction": "all", "enabled": sub.enabled});
        self.save_subscription("/api/v2/subscriptions/sms", sub, body)
            .await
    }

    /// A subscription's webhook and target added to `body`, then created or patched.
    async fn save_subscription(
        &self,
        collection: &str,
        sub: &CallSubscription,
        mut body: Value,
    ) -> Result<CallSubscription> {
        if let Some(w) = &sub.webhook_id {
            body["endpoint_id"] = id_value(w);
        }
        if let Some(t) = &sub.target_type {
            body["target_type"] = json!(t);
        }
        if let Some(t) = &sub.target_id {
            body["target_id"] = id_value(t);
        }
        let answer = self.save(collection, &sub.id, body).await?;
        subscription(&answer).ok_or_else(|| {
            Error::unknown_outcome(
                "dialpad",
                "subscription saved, but the answer has no id; list them to see",
            )
        })
    }

    pub async fn call_subscriptions(&self) -> Result<Vec<CallSubscription>> {
        let items = self
            .list("/api/v2/subscriptions/call", "subscription list")
            .await?;
        Ok(items.iter().filter_map(subscription).collect())
    }

    pub async fn save_call_subscription(&self, sub: &CallSubscription) -> Result<CallSubscription> {
        let body = json!({"call_states": sub.call_states, "enabled": sub.enabled});
        self.save_subscription("/api/v2/subscriptions/call", sub, body)
            .await
    }
}

/// Dialpad's ids are int64: sent as numbers when they are.
fn id_value(id: &str) -> Value {
    id.parse::<i64>().map_or_else(|_| json!(id), |n| json!(n))
}

/// An id fit for a URL path.
fn path_id(id: &str) -> Result<&str> {
    if !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(id)
    } else {
        Err(Error::permanent("dialpad", "invalid id"))
    }
}

/// A refusal (4xx): permanent, with Dialpad's message (no key in it).
fn refused(what: &str, status: u16, answer: &Value) -> Error {
    let message = answer
        .get("error")
        .and_then(|e| e.get("message").or(Some(e)))
        .or_else(|| answer.get("message"))
        .and_then(Value::as_str)
        .map(|m| format!(": {}", masked(m)))
        .unwrap_or_default();
    let hint = match status {
        401 | 403 => " (Dialpad rejected the API key, or it lacks the scope)",
        _ => "",
    };
    Error::permanent("dialpad", format!("{what}: HTTP {status}{hint}{message}"))
        .with_code("dialpad_rejected")
}

/// Dialpad's messages can quote the number dialed: masked like every number in a log.
fn masked(m: &str) -> String {
    let m: String = m.chars().take(300).collect();
    llbridge_domain::phone::mask_in_text(&m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_leniently() {
        let u = user(
            &json!({"id": 5_246_839_404_888_064_i64, "emails": ["Ava@Example.com"],
            "display_name": "Ava Agent", "is_available": true}),
        )
        .unwrap();
        assert_eq!(u.id, "5246839404888064");
        assert_eq!(u.available, Some(true));
        let s = subscription(&json!({"id": "77", "webhook": {"id": 12, "hook_url": "x"},
            "call_states": ["hangup"], "target_type": "CallCenter", "target_id": 9}))
        .unwrap();
        assert_eq!(s.webhook_id.as_deref(), Some("12"));
        assert_eq!(s.target_type.as_deref(), Some("callcenter"));
        assert_eq!(s.target_id.as_deref(), Some("9"));
        assert!(s.enabled);
        let w = webhook(&json!({"id": 3, "hook_url": "https://h/dialpad/events",
            "signature": {"algo": "HS256", "secret": "s", "type": "jwt"}}))
        .unwrap();
        assert_eq!(w.secret.as_deref(), Some("s"));
    }
}
