//! `routing`: Dialpad call routers answered while the phone rings. Each entry, by its name
//! (the last part of its URL, `/dialpad/route/<name>`), says which connection knows the callers,
//! where a caller goes when nothing better is known (`fallback`), where a family's center sends
//! it (`centers`), and how long the answer may take.
//!
//! ```json
//! "routing": {"enrollment": {
//!   "secret": {"secret": "llbridge", "key": "router_enrollment_secret"},
//!   "connection": "main", "office_id": "5630409049792512",
//!   "fallback": {"target_type": "callcenter", "target_id": "4716644561813504"},
//!   "centers": {"Oak Park": {"target_type": "callcenter", "target_id": "4716644561813777"}},
//!   "prefer_last_agent": true, "last_agent_days": 30, "deadline_ms": 1500}}
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::{Connection, Obj, SecretRef, Walk};

/// The shortest router secret (Dialpad requires 32 characters).
pub const MIN_ROUTER_SECRET_LEN: usize = 32;
/// The deadline of an answer by default, from receipt.
pub const DEFAULT_DEADLINE_MS: u64 = 1500;
/// How far back a family's last agent counts, by default.
pub const DEFAULT_LAST_AGENT_DAYS: u64 = 30;

/// The kinds of target a router may answer.
pub const TARGET_TYPES: [&str; 5] = ["user", "callcenter", "department", "office", "callrouter"];

/// Where a call goes: a Dialpad user, call center, department, office or router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub target_type: String,
    pub target_id: String,
}

impl Target {
    pub fn user(id: &str) -> Target {
        Target {
            target_type: "user".into(),
            target_id: id.into(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.target_type, self.target_id)
    }
}

/// One router's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteEntry {
    /// The router's secret: Dialpad signs its requests with it (HS256).
    pub secret: SecretRef,
    /// The connection that knows the callers.
    pub connection: String,
    /// The Dialpad office the router belongs to (`dialpad connect` creates it there).
    pub office_id: String,
    /// Where a call goes when nothing better is known, and Dialpad's default target.
    pub fallback: Target,
    /// A family's center (by name, any case) → its target.
    pub centers: BTreeMap<String, Target>,
    /// A family whose last answered call is recent goes to that agent, when available.
    pub prefer_last_agent: bool,
    pub last_agent_days: u64,
    /// The answer is the fallback past this, from receipt.
    pub deadline_ms: u64,
}

impl RouteEntry {
    /// The target of the center `name` (names compared without case or outer spaces).
    pub fn center(&self, name: &str) -> Option<(&str, &Target)> {
        self.centers
            .iter()
            .find(|(n, _)| crate::labels::same_label(n, name))
            .map(|(n, t)| (n.as_str(), t))
    }
}

fn target(w: &mut Walk, v: &Value, p: &str) -> Option<Target> {
    let o = w.object(v, p, &["target_type", "target_id"])?;
    let kind = w
        .required(o, p, "target_type")
        .and_then(|t| w.string(t, &format!("{p}.target_type")));
    if let Some(k) = &kind {
        if !TARGET_TYPES.contains(&k.as_str()) {
            w.err(
                &format!("{p}.target_type"),
                format!("\"{k}\" is not one of {}", TARGET_TYPES.join(", ")),
            );
            return None;
        }
    }
    let id = match o.get("target_id") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(v @ Value::String(_)) => w.string(v, &format!("{p}.target_id")),
        Some(other) => {
            w.err(
                &format!("{p}.target_id"),
                format!("expected a Dialpad id, found {}", super::walk::kind(other)),
            );
            None
        }
        None => {
            w.err(&format!("{p}.target_id"), "is required");
            None
        }
    };
    Some(Target {
        target_type: kind?,
        target_id: id?,
    })
}

fn entry(
    w: &mut Walk,
    v: &Value,
    p: &str,
    connections: &BTreeMap<String, Connection>,
) -> Option<RouteEntry> {
    let o: &Obj = w.object(
        v,
        p,
        &[
            "secret",
            "connection",
            "office_id",
            "fallback",
            "centers",
            "prefer_last_agent",
            "last_agent_days",
            "deadline_ms",
        ],
    )?;
    let secret = w
        .required(o, p, "secret")
        .and_then(|s| w.secret(s, &format!("{p}.secret")));
    if let Some(SecretRef::Literal(s)) = &secret {
        if s.chars().count() < MIN_ROUTER_SECRET_LEN {
            w.err(
                &format!("{p}.secret"),
                format!("is shorter than {MIN_ROUTER_SECRET_LEN} characters (Dialpad requires {MIN_ROUTER_SECRET_LEN})"),
            );
        }
    }
    let connection = w
        .required(o, p, "connection")
        .and_then(|c| w.string(c, &format!("{p}.connection")));
    if let Some(c) = &connection {
        if !connections.contains_key(c) {
            w.err(
                &format!("{p}.connection"),
                format!("no connection is named \"{c}\""),
            );
        }
    }
    let office_id = match o.get("office_id") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(v) => w.string(v, &format!("{p}.office_id")),
        None => {
            w.err(
                &format!("{p}.office_id"),
                "is required: the Dialpad office the router belongs to",
            );
            None
        }
    };
    let fallback = w
        .required(o, p, "fallback")
        .and_then(|f| target(w, f, &format!("{p}.fallback")));
    let mut centers = BTreeMap::new();
    match o.get("centers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (name, t) in m {
                if let Some(t) = target(w, t, &format!("{p}.centers.{name}")) {
                    centers.insert(name.trim().to_owned(), t);
                }
            }
        }
        Some(other) => w.err(
            &format!("{p}.centers"),
            format!(
                "expected an object of center names, found {}",
                super::walk::kind(other)
            ),
        ),
    }
    let prefer_last_agent = w.boolean(o, p, "prefer_last_agent", false);
    let last_agent_days = w.whole(o, p, "last_agent_days", 1..=365, DEFAULT_LAST_AGENT_DAYS);
    let deadline_ms = w.whole(o, p, "deadline_ms", 200..=4000, DEFAULT_DEADLINE_MS);
    Some(RouteEntry {
        secret: secret?,
        connection: connection?,
        office_id: office_id?,
        fallback: fallback?,
        centers,
        prefer_last_agent,
        last_agent_days,
        deadline_ms,
    })
}

/// `routing`, after the connections are known.
pub(super) fn routing(
    w: &mut Walk,
    v: Option<&Value>,
    connections: &BTreeMap<String, Connection>,
) -> BTreeMap<String, RouteEntry> {
    let mut out = BTreeMap::new();
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return out;
    };
    let Some(m) = v.as_object() else {
        w.err(
            "$.routing",
            format!(
                "expected an object of routers by name, found {}",
                super::walk::kind(v)
            ),
        );
        return out;
    };
    for (name, e) in m {
        let p = format!("$.routing.{name}");
        let url_safe = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !url_safe {
            w.err(
                &p,
                "a router's name is the end of its URL: letters, digits, - and _ only (64 at most)",
            );
            continue;
        }
        if let Some(entry) = entry(w, e, &p, connections) {
            out.insert(name.clone(), entry);
        }
    }
    out
}
