//! Installation configs for the suites.

use llbridge_domain::Installation;
use serde_json::{json, Value};

use crate::webhook::SECRET;

/// The call center of the test configs.
pub use llbridge_sandbox::calls::CALL_CENTER;

/// One enablement for a call center, with the given overrides merged in.
pub fn enablement(level: &str, id: Option<&str>, overrides: Value) -> Value {
    let mut scope = json!({"level": level});
    if let Some(id) = id {
        scope["id"] = json!(id);
    }
    let mut e = json!({
        "scope": scope,
        "connection": "main",
        "screen_pop": true,
        "screen_pop_base_url": "https://app.lineleader.test",
        "default_center_name": "Main Street",
        "enable_task_queue": true,
        "call_log": {"type": "phone_log"}
    });
    if let (Some(base), Some(extra)) = (e.as_object_mut(), overrides.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    e
}

/// Event mode driven by the disposition "Left Voicemail": the due "Phone Call" task completed
/// with "Left Message" on inbound calls, and a New Lead moved to "Contacted".
pub fn left_voicemail_event_mode() -> Value {
    json!({
        "type": "event",
        "event_type": "Phone Call",
        "default_staff_email": "frontdesk@example.com",
        "disposition_status_map": {"Left Voicemail (New Lead)": "Contacted"},
        "disposition_task_result_map": {"Left Voicemail": "Left Message"},
        "result_type_mapping": ["inbound"]
    })
}

/// The LeadSquared call center of the test configs (its number: [`LEADSQUARED_PHONE`]).
pub const LEADSQUARED_CALL_CENTER: &str = "4716644561813777";
pub const LEADSQUARED_PHONE: &str = "+14155550177";

/// The `action_key` of the LeadSquared connection `lsq`: LeadSquared's `X-Llbridge-Key`.
pub const ACTION_KEY: &str = "lsq-action-key-0123456789abcdef0123";

/// An enablement of a call center on the LeadSquared connection `lsq` (its sandbox): call logs
/// with the public link after the log delay (so that the disposition is in), agent popups;
/// `overrides` merged in.
pub fn leadsquared_enablement(id: &str, overrides: Value) -> Value {
    let mut e = json!({
        "scope": {"level": "call_center", "id": id},
        "connection": "lsq",
        "call_log_link_type": "public",
        "enable_task_queue": true,
        "call_log": {"type": "leadsquared"}
    });
    if let (Some(base), Some(extra)) = (e.as_object_mut(), overrides.as_object()) {
        base.extend(extra.clone());
    }
    e
}

/// The call center of the test configs logged to the webhook connection `hook` (its number:
/// [`WEBHOOK_PHONE`]).
pub const WEBHOOK_CALL_CENTER: &str = "4716644561813888";
pub const WEBHOOK_PHONE: &str = "+14155550188";

/// An enablement of a call center on the webhook connection `hook`: call records with the
/// public link; `overrides` merged in.
pub fn webhook_enablement(id: &str, overrides: Value) -> Value {
    let mut e = json!({
        "scope": {"level": "call_center", "id": id},
        "connection": "hook",
        "call_log_link_type": "public",
        "enable_task_queue": true,
        "call_log": {"type": "webhook"}
    });
    if let (Some(base), Some(extra)) = (e.as_object_mut(), overrides.as_object()) {
        base.extend(extra.clone());
    }
    e
}

/// A config document with these enablements and the given LineLeader/Dialpad URLs; with the
/// LeadSquared connection `lsq` (the sandbox) when an enablement names it.
pub fn document(enablements: Vec<Value>, lineleader_url: &str, dialpad_url: &str) -> Value {
    let mut doc = json!({
        "dialpad": {
            "webhook_secrets": ["an-old-webhook-secret", SECRET],
            "api_base_url": dialpad_url,
            "api_key": "sandbox-dialpad-key"
        },
        "connections": {
            "main": {"base_url": lineleader_url, "username": "llbridge", "password": "sandbox-password"}
        },
        "enablements": enablements
    });
    let names_lsq = doc["enablements"]
        .as_array()
        .is_some_and(|es| es.iter().any(|e| e["connection"] == "lsq"));
    if names_lsq {
        doc["connections"]["lsq"] = json!({"type": "leadsquared",
            "call_log_url": "sandbox", "agent_popup_url": "sandbox", "call_route_url": "sandbox",
            "action_key": ACTION_KEY});
    }
    let names_hook = doc["enablements"]
        .as_array()
        .is_some_and(|es| es.iter().any(|e| e["connection"] == "hook"));
    if names_hook {
        // The receiver's URL is set once it listens (`receiver::Receiver::url`).
        doc["connections"]["hook"] = json!({"type": "webhook",
            "url": "http://127.0.0.1:9/hooks/calls", "secret": crate::receiver::SECRET});
    }
    doc
}

pub fn installation(doc: &Value) -> Installation {
    llbridge_crm_registry::parse_value(doc).unwrap_or_else(|e| panic!("test config invalid:\n{e}"))
}

/// The simplest config: the test call center enabled, phone-log mode.
pub fn call_center_config() -> Installation {
    installation(&document(
        vec![enablement("call_center", Some(CALL_CENTER), json!({}))],
        "sandbox",
        "sandbox",
    ))
}
