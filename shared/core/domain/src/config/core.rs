//! The core of the document: Dialpad's settings, the connections with their CRM, and the
//! enablements' scope and common keys. Each CRM's own part is its [`CrmConfig`]'s.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::walk::kind;
use super::{
    Connection, ConnectionSettings, CrmConfig, Crms, DialpadSettings, Enablement, EnablementCx,
    EnablementScope, Installation, ScopeLevel, SecretRef, Walk, DEFAULT_DIALPAD_API,
    MAX_DISPOSITION_WAIT_SECS, MIN_WEBHOOK_SECRET_LEN, SANDBOX,
};
use crate::event::LinkKind;
use crate::lenient;

/// The keys every enablement may have, whatever its CRM.
const CORE_KEYS: [&str; 8] = [
    "scope",
    "connection",
    "screen_pop",
    "call_log_link_type",
    "enable_task_queue",
    "include_recap",
    "disposition_wait_secs",
    "call_log",
];

pub(super) fn installation(w: &mut Walk, v: &Value, crms: Crms<'_>) -> Option<Installation> {
    let o = w.object(
        v,
        "$",
        &["dialpad", "connections", "enablements", "routing"],
    )?;
    let dialpad = w.required(o, "$", "dialpad").and_then(|d| dialpad(w, d));
    let connections = w
        .required(o, "$", "connections")
        .map(|c| connections(w, c, crms))
        .unwrap_or_default();
    // Every connection given, valid or not, with its CRM: an invalid one is reported once, at
    // its own path, not again at each enablement naming it.
    let crm_of: BTreeMap<&str, Option<&dyn CrmConfig>> = o
        .get("connections")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str(), crm_named(v.get("type"), crms).ok()))
                .collect()
        })
        .unwrap_or_default();
    let enablements = match w.required(o, "$", "enablements") {
        Some(Value::Array(items)) => {
            if items.is_empty() {
                w.err("$.enablements", "at least one enablement is required");
            }
            let known = Known {
                crms,
                crm_of: &crm_of,
                connections: &connections,
            };
            items
                .iter()
                .enumerate()
                .filter_map(|(i, e)| enablement(w, e, &format!("$.enablements[{i}]"), &known))
                .collect::<Vec<_>>()
        }
        Some(other) => {
            w.err(
                "$.enablements",
                format!("expected a list, found {}", kind(other)),
            );
            Vec::new()
        }
        None => Vec::new(),
    };
    let dialpad = dialpad?;

    let mut seen: HashSet<&EnablementScope> = HashSet::new();
    for (i, e) in enablements.iter().enumerate() {
        if !seen.insert(&e.scope) {
            w.err(
                &format!("$.enablements[{i}].scope"),
                format!("another enablement already has the scope {}", e.scope),
            );
        }
    }
    if dialpad.api_key.is_none() {
        if let Some(i) = enablements
            .iter()
            .position(|e| e.screen_pop && e.crm.pops_through_dialpad())
        {
            w.err(
                "$.dialpad.api_key",
                format!("is required: $.enablements[{i}] has screen_pop on (the Dialpad screen-pop API needs the key)"),
            );
        }
    }
    let routing = super::routing::routing(w, o.get("routing"), &connections);
    for (name, r) in &routing {
        if !enablements.iter().any(|e| e.connection == r.connection) {
            w.err(
                &format!("$.routing.{name}.connection"),
                format!(
                    "no enablement uses the connection \"{}\": routing reads its callers the way that connection's enablement does",
                    r.connection
                ),
            );
        }
    }
    Some(Installation {
        dialpad,
        connections,
        enablements,
        routing,
    })
}

fn dialpad(w: &mut Walk, v: &Value) -> Option<DialpadSettings> {
    let p = "$.dialpad";
    let o = w.object(
        v,
        p,
        &[
            "webhook_secrets",
            "allow_unsigned",
            "api_base_url",
            "api_key",
        ],
    )?;
    let allow_unsigned = w.boolean(o, p, "allow_unsigned", false);
    let webhook_secrets = match o.get("webhook_secrets") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, s)| w.secret(s, &format!("{p}.webhook_secrets[{i}]")))
            .collect(),
        Some(other) => {
            w.err(
                "$.dialpad.webhook_secrets",
                format!(
                    "expected a list of secret references, found {}",
                    kind(other)
                ),
            );
            Vec::new()
        }
    };
    for (i, s) in webhook_secrets.iter().enumerate() {
        if let SecretRef::Literal(text) = s {
            if text.chars().count() < MIN_WEBHOOK_SECRET_LEN {
                w.err(
                    &format!("{p}.webhook_secrets[{i}]"),
                    format!(
                        "is shorter than {MIN_WEBHOOK_SECRET_LEN} characters: too easy to guess"
                    ),
                );
            }
        }
    }
    if webhook_secrets.is_empty() {
        if allow_unsigned {
            w.err(
                "$.dialpad.allow_unsigned",
                "unsigned events may be allowed only beside at least one webhook secret: with none, anyone who finds the URL can post calls",
            );
        } else {
            w.err(
                "$.dialpad.webhook_secrets",
                "needs at least one secret (Dialpad signs each event with it)",
            );
        }
    }
    let api_base_url = match o.get("api_base_url") {
        None | Some(Value::Null) => Some(DEFAULT_DIALPAD_API.to_owned()),
        Some(Value::String(s)) if s == SANDBOX => Some(SANDBOX.to_owned()),
        Some(u) => w.api_url(u, "$.dialpad.api_base_url"),
    };
    let api_key = match o.get("api_key") {
        None | Some(Value::Null) => None,
        Some(k) => w.secret(k, "$.dialpad.api_key"),
    };
    Some(DialpadSettings {
        webhook_secrets,
        allow_unsigned,
        api_base_url: api_base_url?,
        api_key,
    })
}

fn connections(w: &mut Walk, v: &Value, crms: Crms<'_>) -> BTreeMap<String, Connection> {
    let mut out = BTreeMap::new();
    let Some(o) = v.as_object() else {
        w.err(
            "$.connections",
            format!("expected an object, found {}", kind(v)),
        );
        return out;
    };
    if o.is_empty() {
        w.err("$.connections", "at least one connection is required");
    }
    for (name, c) in o {
        if let Some(connection) = connection(w, name, c, crms) {
            out.insert(name.clone(), connection);
        }
    }
    out
}

/// One connection, `connections.<name>`, read by the CRM its `type` names.
pub(super) fn connection(
    w: &mut Walk,
    name: &str,
    c: &Value,
    crms: Crms<'_>,
) -> Option<Connection> {
    let p = format!("$.connections.{name}");
    let crm = match crm_named(c.get("type"), crms) {
        Ok(crm) => crm,
        Err(t) => {
            let names: Vec<&str> = crms.iter().map(|c| c.kind()).collect();
            w.err(
                &format!("{p}.type"),
                format!(
                    "\"{t}\" is not a CRM this product knows ({})",
                    names.join(", ")
                ),
            );
            return None;
        }
    };
    let settings = crm.connection(w, &p, c)?;
    Some(Connection {
        kind: crm.kind(),
        settings,
        raw: c.clone(),
    })
}

/// The CRM a connection's `type` names (absent: the first CRM), or the unknown type.
fn crm_named<'a>(v: Option<&Value>, crms: Crms<'a>) -> Result<&'a dyn CrmConfig, String> {
    match v {
        None | Some(Value::Null) => crms.first().copied().ok_or_else(String::new),
        Some(Value::String(t)) => crms
            .iter()
            .copied()
            .find(|c| c.kind().eq_ignore_ascii_case(t.trim()))
            .ok_or_else(|| t.clone()),
        Some(other) => Err(other.to_string()),
    }
}

/// What an enablement is read against: the CRMs, and the connections given.
struct Known<'a> {
    crms: Crms<'a>,
    /// Each connection given, with its CRM (`None`: an unknown type).
    crm_of: &'a BTreeMap<&'a str, Option<&'a dyn CrmConfig>>,
    /// The valid ones.
    connections: &'a BTreeMap<String, Connection>,
}

fn scope(w: &mut Walk, v: &Value, p: &str) -> Option<EnablementScope> {
    let o = w.object(v, p, &["level", "id"])?;
    let level = match w
        .required(o, p, "level")
        .and_then(|l| w.string(l, &format!("{p}.level")))?
        .as_str()
    {
        "call_center" => ScopeLevel::CallCenter,
        "office" => ScopeLevel::Office,
        "company" => ScopeLevel::Company,
        other => {
            w.err(
                &format!("{p}.level"),
                format!("\"{other}\" is not one of call_center, office, company"),
            );
            return None;
        }
    };
    let id = match (level, o.get("id")) {
        (ScopeLevel::Company, None | Some(Value::Null)) => None,
        (ScopeLevel::Company, Some(v)) => lenient::id(Some(v)),
        (_, raw) => {
            let id = lenient::id(raw);
            if id.is_none() {
                w.err(
                    &format!("{p}.id"),
                    format!(
                        "is required for level {} (a Dialpad id, as a string or an integer)",
                        level.as_str()
                    ),
                );
                return None;
            }
            if let Some(Value::String(s)) = raw {
                if !s.trim().chars().all(|c| c.is_ascii_digit()) {
                    w.err(
                        &format!("{p}.id"),
                        format!("\"{s}\" is not a Dialpad id (digits only)"),
                    );
                    return None;
                }
            }
            id
        }
    };
    Some(EnablementScope { level, id })
}

fn enablement(w: &mut Walk, v: &Value, p: &str, known: &Known<'_>) -> Option<Enablement> {
    // The connection decides the CRM, and so which keys the enablement may have.
    let named = v
        .get("connection")
        .and_then(Value::as_str)
        .map(str::trim)
        .and_then(|c| known.crm_of.get(c).map(|crm| (c, *crm)));
    let (crm, connection): (Option<&dyn CrmConfig>, Option<&dyn ConnectionSettings>) = match named {
        Some((name, crm)) => (
            crm,
            known.connections.get(name).map(|c| c.settings.as_ref()),
        ),
        // An unknown connection is reported below; the keys are read as the first CRM's.
        None => (known.crms.first().copied(), None),
    };
    // Every CRM's keys are known everywhere, so that an enablement holding another CRM's key
    // is told why it may not, rather than "unknown key".
    let mut allowed: Vec<&str> = CORE_KEYS.to_vec();
    for k in known.crms.iter().flat_map(|c| c.enablement_keys()) {
        if !allowed.contains(k) {
            allowed.push(k);
        }
    }
    let o = w.object(v, p, &allowed)?;
    if let Some(crm) = crm {
        for k in o.keys().filter(|k| !CORE_KEYS.contains(&k.as_str())) {
            if crm.enablement_keys().contains(&k.as_str()) {
                continue;
            }
            let owners: Vec<&str> = known
                .crms
                .iter()
                .filter(|c| c.enablement_keys().contains(&k.as_str()))
                .map(|c| c.name())
                .collect();
            if !owners.is_empty() {
                w.err(
                    &format!("{p}.{k}"),
                    format!(
                        "applies to {} connections only; this enablement's connection is a {} one",
                        owners.join(" and "),
                        crm.name()
                    ),
                );
            }
        }
    }
    let scope = w
        .required(o, p, "scope")
        .and_then(|s| scope(w, s, &format!("{p}.scope")));
    let connection_name = w
        .required(o, p, "connection")
        .and_then(|c| w.string(c, &format!("{p}.connection")));
    if let Some(c) = &connection_name {
        if !known.crm_of.contains_key(c.as_str()) {
            let names: Vec<&str> = known.crm_of.keys().copied().collect();
            w.err(
                &format!("{p}.connection"),
                format!("names the connection \"{c}\", which is not defined in $.connections (defined: {})", names.join(", ")),
            );
        }
    }
    // Whether it pops, and whether its CRM can: the connection says (an invalid one: yes).
    let can_pop = connection.map_or(Ok(true), |c| c.screen_pop());
    let screen_pop = w.boolean(o, p, "screen_pop", can_pop.unwrap_or(false));
    if let (true, Err(why)) = (screen_pop, can_pop) {
        w.err(&format!("{p}.screen_pop"), format!("is on, but {why}"));
    }
    let call_log_link_type = match w.opt_string(o, p, "call_log_link_type") {
        None => None,
        Some(s) => match s.as_str() {
            "public" | "company" | "recording" | "admin_recording" => LinkKind::parse(&s),
            _ => {
                w.err(
                    &format!("{p}.call_log_link_type"),
                    format!("\"{s}\" is not one of public, company, recording, admin_recording"),
                );
                None
            }
        },
    };
    let enable_task_queue = w.boolean(o, p, "enable_task_queue", false);
    let include_recap = w.boolean(o, p, "include_recap", true);
    let disposition_wait = std::time::Duration::from_secs(w.whole(
        o,
        p,
        "disposition_wait_secs",
        0..=MAX_DISPOSITION_WAIT_SECS,
        0,
    ));
    let cx = EnablementCx {
        connection,
        screen_pop,
    };
    let settings = crm.and_then(|crm| {
        another_crms_call_log(w, p, o, crm, known.crms)?;
        crm.enablement(w, p, o, &cx)
    });
    Some(Enablement {
        scope: scope?,
        connection: connection_name?,
        screen_pop,
        call_log_link_type,
        enable_task_queue,
        include_recap,
        disposition_wait,
        crm: settings?,
    })
}

/// `None` (with the error) when the enablement's `call_log.type` is another CRM's.
fn another_crms_call_log(
    w: &mut Walk,
    p: &str,
    o: &super::Obj,
    crm: &dyn CrmConfig,
    crms: Crms<'_>,
) -> Option<()> {
    let Some(t) = o
        .get("call_log")
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
        .map(str::trim)
    else {
        return Some(());
    };
    if crm.call_log_types().contains(&t) {
        return Some(());
    }
    let Some(owner) = crms.iter().find(|c| c.call_log_types().contains(&t)) else {
        return Some(());
    };
    w.err(
        &format!("{p}.call_log.type"),
        format!(
            "\"{t}\" is for {} connections; this enablement's connection is a {} one ({})",
            owner.name(),
            crm.name(),
            crm.call_log_types().join(" or ")
        ),
    );
    None
}
