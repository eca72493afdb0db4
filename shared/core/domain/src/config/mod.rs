//! The installation config document (`docs/config.md`): its core model, and parsing and
//! validation in one pass.
//!
//! The core is what every installation has whatever its CRMs: Dialpad's settings, the named
//! connections with their `type`, and the enablements' scope and common keys. Each CRM adds its
//! own part through a [`CrmConfig`] (its connection object, its enablement keys, its
//! `call_log`); the list of them is given to [`Installation::from_json`] by whoever knows the
//! CRMs (the CRM registry).
//!
//! Every error names its JSON path (`$.enablements[0].call_log.event_type`) and says what is
//! wrong; all errors are reported at once; an invalid document yields no [`Installation`].

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::LinkKind;

mod core;
pub mod routing;
mod url_policy;
pub mod walk;

pub use routing::{RouteEntry, Target};
pub use walk::Walk;

/// A JSON object of the document.
pub type Obj = Map<String, Value>;

pub const DEFAULT_DIALPAD_API: &str = "https://dialpad.com";
/// In place of a CRM or Dialpad API URL: the local host starts its sandbox and uses it.
pub const SANDBOX: &str = "sandbox";

/// A secret: a literal (local files only) or a Secrets Manager reference.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum SecretRef {
    Literal(String),
    Managed { secret: String, key: String },
}

impl fmt::Debug for SecretRef {
    /// Never prints a literal secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Literal(_) => f.write_str("SecretRef::Literal(<redacted>)"),
            SecretRef::Managed { secret, key } => write!(f, "SecretRef::Managed({secret}#{key})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DialpadSettings {
    pub webhook_secrets: Vec<SecretRef>,
    pub allow_unsigned: bool,
    pub api_base_url: String,
    pub api_key: Option<SecretRef>,
}

/// A CRM's part of the config document. One value per CRM, in the CRM's crate; the registry
/// lists them.
pub trait CrmConfig: Send + Sync {
    /// The connection `type` that names this CRM (lower case).
    fn kind(&self) -> &'static str;

    /// Its name, as people write it ("LineLeader").
    fn name(&self) -> &'static str {
        self.kind()
    }

    /// The `call_log.type`s of its enablements (the first is the default).
    fn call_log_types(&self) -> &'static [&'static str];

    /// The steps its call logs claim (their claims are what `trace` shows and `replay`
    /// reopens); a step named per call (LineLeader's `follow_up#…`) is found in the ledger.
    fn steps(&self) -> &'static [&'static str];

    /// The enablement keys only this CRM reads, besides `call_log`: another CRM's enablement
    /// holding one is told whose key it is.
    fn enablement_keys(&self) -> &'static [&'static str];

    /// Parses `connections.<name>` (at `path`); its `type`, when given, names this CRM.
    fn connection(
        &self,
        w: &mut Walk,
        path: &str,
        value: &Value,
    ) -> Option<Box<dyn ConnectionSettings>>;

    /// Parses an enablement's settings for this CRM: its own keys of `o` and its `call_log`.
    /// `connection` is `None` when the enablement's connection is invalid (reported at its own
    /// path).
    fn enablement(
        &self,
        w: &mut Walk,
        path: &str,
        o: &Obj,
        cx: &EnablementCx<'_>,
    ) -> Option<Box<dyn EnablementSettings>>;
}

/// What a CRM's enablement parser knows besides the enablement's object.
pub struct EnablementCx<'a> {
    pub connection: Option<&'a dyn ConnectionSettings>,
    /// `screen_pop`, as it was decided (given, or the connection's default).
    pub screen_pop: bool,
}

/// The CRMs an installation's document may name, the first one being the CRM of a connection
/// without a `type`.
pub type Crms<'a> = &'a [&'a dyn CrmConfig];

/// A CRM's settings of one connection (where, and with which credentials).
pub trait ConnectionSettings: Settings {
    fn boxed_clone(&self) -> Box<dyn ConnectionSettings>;

    /// Its secret references, with their keys under `$.connections.<name>`.
    fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)>;

    /// Whether an enablement of this connection pops by default; `Err` says why it cannot pop
    /// at all.
    fn screen_pop(&self) -> Result<bool, &'static str> {
        Ok(true)
    }
}

/// A CRM's settings of one enablement.
pub trait EnablementSettings: Settings {
    fn boxed_clone(&self) -> Box<dyn EnablementSettings>;

    /// Whether conversations are logged at all (`call_log` is set).
    fn logs_calls(&self) -> bool;

    /// Whether the enablement's screen pops go through Dialpad's screen-pop API (which needs
    /// `dialpad.api_key`), rather than the CRM's own.
    fn pops_through_dialpad(&self) -> bool {
        false
    }

    /// The link to a contact's record in the CRM (the console links each call's family), if
    /// the CRM has one.
    fn contact_url(&self, contact_id: &str) -> Option<String> {
        let _ = contact_id;
        None
    }

    /// Whether the CRM can log texts at all (LeadSquared's connector has no text log).
    fn texts_supported(&self) -> bool {
        false
    }

    /// Whether the enablement logs texts (`texts` is set).
    fn logs_texts(&self) -> bool {
        false
    }

    /// Whether the CRM reads Dialpad Ai's recap events for something beyond the call log's
    /// text (LineLeader's follow-up tasks from action items).
    fn reads_recap(&self) -> bool {
        false
    }
}

/// What every CRM's settings are: debuggable, comparable, clonable behind a box, and readable
/// as their own type by their CRM ([`Connection::settings`], [`Enablement::settings`]).
pub trait Settings: Any + fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn same(&self, other: &dyn Any) -> bool;
}

impl<T: Any + fmt::Debug + PartialEq + Send + Sync> Settings for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn same(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<T>() == Some(self)
    }
}

/// A CRM connection: which CRM, its settings, and the document it was read from.
pub struct Connection {
    /// The CRM's [`CrmConfig::kind`].
    pub kind: &'static str,
    pub settings: Box<dyn ConnectionSettings>,
    /// The connection's object as written: two connections are the same when it is.
    pub raw: Value,
}

impl Connection {
    /// The settings as the CRM's own type, when the connection is that CRM's.
    pub fn settings<T: ConnectionSettings>(&self) -> Option<&T> {
        self.settings.as_any().downcast_ref()
    }

    /// Reads one connection's document (`connections.<name>`) with the CRMs `crms`, as a
    /// whole document's would be read.
    pub fn from_value(name: &str, raw: &Value, crms: Crms<'_>) -> Result<Connection, ConfigErrors> {
        let mut w = Walk::default();
        match core::connection(&mut w, name, raw, crms) {
            Some(c) if w.errors.is_empty() => Ok(c),
            _ => Err(ConfigErrors(w.errors)),
        }
    }

    /// Whether a URL of it is [`SANDBOX`]: the local host is to start its sandbox.
    pub fn uses_sandbox(&self) -> bool {
        self.raw.as_object().is_some_and(|o| {
            o.values()
                .any(|v| v.as_str().map(str::trim) == Some(SANDBOX))
        })
    }

    /// The same, to change (the local host fills in its sandboxes' URLs).
    pub fn settings_mut<T: ConnectionSettings>(&mut self) -> Option<&mut T> {
        self.settings.as_any_mut().downcast_mut()
    }
}

impl fmt::Debug for Connection {
    /// Its settings only: the raw document may hold literal secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("kind", &self.kind)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Clone for Connection {
    fn clone(&self) -> Connection {
        Connection {
            kind: self.kind,
            settings: self.settings.boxed_clone(),
            raw: self.raw.clone(),
        }
    }
}

impl PartialEq for Connection {
    fn eq(&self, other: &Connection) -> bool {
        self.kind == other.kind
            && self.raw == other.raw
            && self.settings.same(other.settings.as_any())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeLevel {
    CallCenter,
    Office,
    Company,
}

impl ScopeLevel {
    pub fn as_str(&self) -> &'static str {
        match self {
            ScopeLevel::CallCenter => "call_center",
            ScopeLevel::Office => "office",
            ScopeLevel::Company => "company",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct EnablementScope {
    pub level: ScopeLevel,
    /// The call center or office id; `None` for the company level.
    pub id: Option<String>,
}

impl fmt::Display for EnablementScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "{}:{id}", self.level.as_str()),
            None => f.write_str(self.level.as_str()),
        }
    }
}

/// What to do with a write whose answer was lost when the CRM cannot say whether it happened
/// (the lookup it needs is missing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownOutcomePolicy {
    /// Write again: at least once, a possible duplicate logged as `possible_duplicate`.
    #[default]
    Retry,
    /// Do not write again: the conversation is reported as `needs_review`.
    Hold,
}

impl UnknownOutcomePolicy {
    pub fn as_str(&self) -> &'static str {
        match self {
            UnknownOutcomePolicy::Retry => "retry",
            UnknownOutcomePolicy::Hold => "hold",
        }
    }
}

/// The shortest webhook secret accepted.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 16;

/// The longest `disposition_wait_secs`: an hour.
pub const MAX_DISPOSITION_WAIT_SECS: u64 = 3600;

/// One enablement: where the product is on, and what it does there. The CRM of its connection
/// decides the CRM's own settings.
#[derive(Debug)]
pub struct Enablement {
    pub scope: EnablementScope,
    pub connection: String,
    /// Pop the caller's record in the agent's CRM on inbound calls.
    pub screen_pop: bool,
    /// Which recording link goes into call logs; unset: none.
    pub call_log_link_type: Option<LinkKind>,
    pub enable_task_queue: bool,
    /// The Dialpad Ai recap goes into call logs (Event-mode descriptions, LeadSquared notes).
    pub include_recap: bool,
    /// How much longer than the log delay an answered call without a disposition waits for
    /// one before it is logged.
    pub disposition_wait: std::time::Duration,
    pub crm: Box<dyn EnablementSettings>,
}

/// The call states every enablement's subscription needs: the ring (screen pops), the answer,
/// the ends of a leg, the disposition and the recording.
pub const CALL_STATES: [&str; 7] = [
    "ringing",
    "connected",
    "hangup",
    "missed",
    "voicemail",
    "dispositions",
    "recording",
];

/// The call states of Dialpad Ai's recap, needed when the recap is read.
pub const RECAP_STATES: [&str; 4] = [
    "recap_summary",
    "recap_action_items",
    "recap_outcome",
    "recap_purposes",
];

impl Enablement {
    /// The call states its Dialpad subscription must carry: [`CALL_STATES`], and
    /// [`RECAP_STATES`] when the recap goes into call logs or the CRM reads it.
    pub fn call_states(&self) -> Vec<&'static str> {
        let mut states = CALL_STATES.to_vec();
        if self.include_recap || self.crm.reads_recap() {
            states.extend(RECAP_STATES);
        }
        states
    }

    /// Whether conversations are logged at all.
    pub fn logs_calls(&self) -> bool {
        self.crm.logs_calls()
    }

    /// The CRM settings as the CRM's own type, when the enablement's CRM is that one.
    pub fn settings<T: EnablementSettings>(&self) -> Option<&T> {
        self.crm.as_any().downcast_ref()
    }

    /// The same, to change (tests and tools that adjust a parsed config).
    pub fn settings_mut<T: EnablementSettings>(&mut self) -> Option<&mut T> {
        self.crm.as_any_mut().downcast_mut()
    }
}

impl Clone for Enablement {
    fn clone(&self) -> Enablement {
        Enablement {
            scope: self.scope.clone(),
            connection: self.connection.clone(),
            screen_pop: self.screen_pop,
            call_log_link_type: self.call_log_link_type,
            enable_task_queue: self.enable_task_queue,
            include_recap: self.include_recap,
            disposition_wait: self.disposition_wait,
            crm: self.crm.boxed_clone(),
        }
    }
}

impl PartialEq for Enablement {
    fn eq(&self, o: &Enablement) -> bool {
        self.scope == o.scope
            && self.connection == o.connection
            && self.screen_pop == o.screen_pop
            && self.call_log_link_type == o.call_log_link_type
            && self.enable_task_queue == o.enable_task_queue
            && self.include_recap == o.include_recap
            && self.disposition_wait == o.disposition_wait
            && self.crm.same(o.crm.as_any())
    }
}

/// A validated installation config.
#[derive(Debug, Clone, PartialEq)]
pub struct Installation {
    pub dialpad: DialpadSettings,
    pub connections: BTreeMap<String, Connection>,
    pub enablements: Vec<Enablement>,
    /// Dialpad call routers answered while the phone rings, by name.
    pub routing: BTreeMap<String, RouteEntry>,
}

impl Installation {
    /// Every secret reference in the document, with its JSON path.
    pub fn secret_refs(&self) -> Vec<(String, &SecretRef)> {
        let mut out = Vec::new();
        for (i, s) in self.dialpad.webhook_secrets.iter().enumerate() {
            out.push((format!("$.dialpad.webhook_secrets[{i}]"), s));
        }
        if let Some(k) = &self.dialpad.api_key {
            out.push(("$.dialpad.api_key".to_owned(), k));
        }
        for (name, c) in &self.connections {
            for (key, r) in c.settings.secret_refs() {
                out.push((format!("$.connections.{name}.{key}"), r));
            }
        }
        for (name, r) in &self.routing {
            out.push((format!("$.routing.{name}.secret"), &r.secret));
        }
        out
    }

    /// A one-line summary for operators.
    pub fn summary(&self) -> String {
        let scopes: Vec<String> = self
            .enablements
            .iter()
            .map(|e| e.scope.to_string())
            .collect();
        format!(
            "config valid: {} connection(s), {} enablement(s) [{}], {} webhook secret(s){}",
            self.connections.len(),
            self.enablements.len(),
            scopes.join(", "),
            self.dialpad.webhook_secrets.len(),
            if self.dialpad.allow_unsigned {
                ", unsigned events allowed"
            } else {
                ""
            }
        )
    }

    /// Parses and validates a config document from JSON text, with the CRMs `crms`.
    pub fn from_json(text: &str, crms: Crms<'_>) -> Result<Installation, ConfigErrors> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                path: "$".into(),
                message: format!("not valid JSON: {e}"),
            }])
        })?;
        Installation::from_value(&value, crms)
    }

    /// Validates a parsed document, with the CRMs `crms`.
    pub fn from_value(value: &Value, crms: Crms<'_>) -> Result<Installation, ConfigErrors> {
        let mut w = Walk::default();
        let inst = core::installation(&mut w, value, crms);
        match inst {
            Some(inst) if w.errors.is_empty() => Ok(inst),
            _ => {
                if w.errors.is_empty() {
                    w.err("$", "invalid document");
                }
                Err(ConfigErrors(w.errors))
            }
        }
    }
}

/// One validation error: the JSON path and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// All the errors of a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
