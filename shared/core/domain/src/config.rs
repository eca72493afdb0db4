//! The installation config document (`docs/config.md`): parsing and validation in one pass.
//!
//! Every error names its JSON path (`$.enablements[0].call_log.event_type`) and says what is
//! wrong; all errors are reported at once; an invalid document yields no [`Installation`].

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::{Direction, LinkKind};
use crate::lenient;
use crate::lineleader_api::{ApiSettings, Endpoint, SearchFormat};

pub const DEFAULT_DIALPAD_API: &str = "https://dialpad.com";
pub const DEFAULT_URL_TEMPLATE: &str = "{base}/#/families/{family_id}";
pub const DEFAULT_INQUIRY_TYPE: &str = "Phone";
/// In place of a LineLeader or Dialpad API URL: the local host starts its sandbox and uses it.
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

/// Which CRM a connection is: its `type` (absent: LineLeader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmKind {
    LineLeader,
    LeadSquared,
}

impl CrmKind {
    pub const ALL: [CrmKind; 2] = [CrmKind::LineLeader, CrmKind::LeadSquared];

    pub fn as_str(&self) -> &'static str {
        match self {
            CrmKind::LineLeader => "lineleader",
            CrmKind::LeadSquared => "leadsquared",
        }
    }
}

/// A CRM connection: where, and with which credentials.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    LineLeader(LineLeaderConnection),
    LeadSquared(LeadSquaredConnection),
}

impl Connection {
    pub fn kind(&self) -> CrmKind {
        match self {
            Connection::LineLeader(_) => CrmKind::LineLeader,
            Connection::LeadSquared(_) => CrmKind::LeadSquared,
        }
    }

    /// Its secret references, with their JSON paths under `$.connections.<name>`.
    fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)> {
        match self {
            Connection::LineLeader(c) => vec![("username", &c.username), ("password", &c.password)],
            Connection::LeadSquared(c) => std::iter::once(("call_log_url", &c.call_log_url))
                .chain(c.agent_popup_url.iter().map(|u| ("agent_popup_url", u)))
                .collect(),
        }
    }
}

/// A LeadSquared account's Generic Telephony Connector: the API URLs its settings page gives.
/// Each carries the account's access and secret keys in its query string, so each is a
/// secret: a literal URL (local files), or a reference to one.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadSquaredConnection {
    /// The Call Log API URL.
    pub call_log_url: SecretRef,
    /// The Agent Popup API URL; without it, no agent popups.
    pub agent_popup_url: Option<SecretRef>,
}

/// A LineLeader instance: Base URL, Username, Password, and where its API differs from the
/// documented contract.
#[derive(Debug, Clone, PartialEq)]
pub struct LineLeaderConnection {
    pub base_url: String,
    pub username: SecretRef,
    pub password: SecretRef,
    pub api: ApiSettings,
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

/// One entry of the Disposition Status Map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRule {
    /// The disposition label as written.
    pub disposition: String,
    /// The required current status of the conditional form `"Disposition (Required Status)"`.
    pub required_status: Option<String>,
    /// The target status name.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventModeSettings {
    pub event_type: String,
    pub default_staff_email: String,
    pub disposition_status_map: Vec<StatusRule>,
    pub disposition_task_result_map: BTreeMap<String, String>,
    pub result_type_mapping: Vec<Direction>,
}

/// Whom a follow-up task is assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignTo {
    /// The staff record of the call's agent, else the default staff.
    Agent,
    /// The default staff.
    DefaultStaff,
}

/// `follow_up_tasks`: LineLeader tasks created from a call (K3).
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUpSettings {
    /// The task type, by its label.
    pub task_type: String,
    /// One task per Dialpad Ai action item.
    pub from_action_items: bool,
    /// One callback task for an inbound call no agent answered, or that ended in voicemail.
    pub missed_calls: bool,
    /// A task is due this long after the call.
    pub due_in: std::time::Duration,
    pub assign_to: AssignTo,
    /// The staff tasks go to when the agent has none (`follow_up_tasks.default_staff_email`,
    /// else Event mode's); `None`: unassigned.
    pub default_staff_email: Option<String>,
}

/// The longest `follow_up_tasks.due_in_minutes`: a week.
pub const MAX_FOLLOW_UP_DUE_MINUTES: u64 = 7 * 24 * 60;

#[derive(Debug, Clone, PartialEq)]
pub enum CallLogMode {
    PhoneLog,
    Event(EventModeSettings),
}

/// What to do with a write whose answer was lost when the tenant cannot say whether it
/// happened (the lookup it needs, P2 or E2, is missing).
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

/// The task type of follow-up tasks unless configured.
pub const DEFAULT_FOLLOW_UP_TASK_TYPE: &str = "Phone Call";

/// The longest `disposition_wait_secs`: an hour.
pub const MAX_DISPOSITION_WAIT_SECS: u64 = 3600;

/// One enablement: where the product is on, and what it does
/// there. The CRM of its connection decides the CRM's own settings.
#[derive(Debug, Clone, PartialEq)]
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
    pub unknown_outcome: UnknownOutcomePolicy,
    pub crm: CrmSettings,
}

impl Enablement {
    /// Whether conversations are logged at all.
    pub fn logs_calls(&self) -> bool {
        match &self.crm {
            CrmSettings::LineLeader(l) => l.call_log.is_some(),
            CrmSettings::LeadSquared(l) => l.call_log,
        }
    }

    /// The LineLeader settings, when the connection is LineLeader's.
    pub fn lineleader(&self) -> Option<&LineLeaderSettings> {
        match &self.crm {
            CrmSettings::LineLeader(l) => Some(l),
            CrmSettings::LeadSquared(_) => None,
        }
    }
}

/// The settings an enablement has for its CRM.
// A config holds a handful of enablements, read for every job: not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum CrmSettings {
    LineLeader(LineLeaderSettings),
    LeadSquared(LeadSquaredSettings),
}

/// The settings of an enablement on LeadSquared: finding and creating the lead is
/// LeadSquared's own business, so there is little to say.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadSquaredSettings {
    /// `"call_log": {"type": "leadsquared"}`: post each conversation's call log.
    pub call_log: bool,
}

/// The LineLeader settings of an enablement (`docs/config.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct LineLeaderSettings {
    pub screen_pop_base_url: Option<String>,
    pub screen_pop_url_template: String,
    pub default_center_name: String,
    pub family_inquiry_type: String,
    pub status_prioritization: Vec<String>,
    pub family_status_priority_ids: Vec<String>,
    /// `None`: no call logging for this enablement.
    pub call_log: Option<CallLogMode>,
    /// `None` (the default): no follow-up tasks.
    pub follow_up_tasks: Option<FollowUpSettings>,
}

impl LineLeaderSettings {
    /// The screen-pop link of a family: the template with `{base}` and `{family_id}` filled in.
    pub fn screen_pop_url(&self, family_id: &str) -> Option<String> {
        let base = self.screen_pop_base_url.as_deref()?.trim_end_matches('/');
        Some(
            self.screen_pop_url_template
                .replace("{base}", base)
                .replace("{family_id}", family_id),
        )
    }
}

/// A validated installation config.
#[derive(Debug, Clone, PartialEq)]
pub struct Installation {
    pub dialpad: DialpadSettings,
    pub connections: BTreeMap<String, Connection>,
    pub enablements: Vec<Enablement>,
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
            for (key, r) in c.secret_refs() {
                out.push((format!("$.connections.{name}.{key}"), r));
            }
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

impl Installation {
    /// Parses and validates a config document from JSON text.
    pub fn from_json(text: &str) -> Result<Installation, ConfigErrors> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                path: "$".into(),
                message: format!("not valid JSON: {e}"),
            }])
        })?;
        Installation::from_value(&value)
    }

    /// Validates a parsed document.
    pub fn from_value(value: &Value) -> Result<Installation, ConfigErrors> {
        let mut v = Validator::default();
        let inst = v.installation(value);
        match inst {
            Some(inst) if v.errors.is_empty() => Ok(inst),
            _ => {
                if v.errors.is_empty() {
                    v.err("$", "invalid document");
                }
                Err(ConfigErrors(v.errors))
            }
        }
    }
}

/// Splits a Disposition Status Map key into the disposition and the optional required status.
/// `"Tour Booked (New Lead)"` → `("Tour Booked", Some("New Lead"))`. Errors describe the
/// malformation.
pub fn parse_status_key(key: &str) -> Result<(String, Option<String>), String> {
    let key = key.trim();
    let opens = key.matches('(').count();
    let closes = key.matches(')').count();
    if opens == 0 && closes == 0 {
        if key.is_empty() {
            return Err("the disposition is empty".into());
        }
        return Ok((key.to_owned(), None));
    }
    if opens != 1 || closes != 1 {
        return Err(
            "expected \"Disposition\" or \"Disposition (Required Status)\": unbalanced or nested parentheses"
                .into(),
        );
    }
    let (Some(open), Some(close)) = (key.find('('), key.find(')')) else {
        return Err("unbalanced parentheses".into());
    };
    if close < open || close != key.len() - 1 {
        return Err(
            "expected \"Disposition (Required Status)\": the required status in parentheses must end the key"
                .into(),
        );
    }
    let disposition = key[..open].trim();
    let required = key[open + 1..close].trim();
    if disposition.is_empty() {
        return Err("the disposition before the parentheses is empty".into());
    }
    if required.is_empty() {
        return Err("the required status in parentheses is empty".into());
    }
    Ok((disposition.to_owned(), Some(required.to_owned())))
}

#[derive(Default)]
struct Validator {
    errors: Vec<ConfigError>,
}

type Obj = Map<String, Value>;

impl Validator {
    fn err(&mut self, path: &str, msg: impl Into<String>) {
        self.errors.push(ConfigError {
            path: path.to_owned(),
            message: msg.into(),
        });
    }

    fn object<'a>(&mut self, v: &'a Value, path: &str, allowed: &[&str]) -> Option<&'a Obj> {
        let Some(o) = v.as_object() else {
            self.err(path, format!("expected an object, found {}", kind(v)));
            return None;
        };
        for k in o.keys() {
            if !allowed.contains(&k.as_str()) {
                let hint = closest(k, allowed)
                    .map(|c| format!(" (did you mean \"{c}\"?)"))
                    .unwrap_or_default();
                self.err(&format!("{path}.{k}"), format!("unknown key{hint}"));
            }
        }
        Some(o)
    }

    fn required<'a>(&mut self, o: &'a Obj, path: &str, key: &str) -> Option<&'a Value> {
        match o.get(key) {
            Some(v) if !v.is_null() => Some(v),
            _ => {
                self.err(&format!("{path}.{key}"), "is required");
                None
            }
        }
    }

    fn string(&mut self, v: &Value, path: &str) -> Option<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::String(_) => {
                self.err(path, "must not be empty");
                None
            }
            other => {
                self.err(path, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn opt_string(&mut self, o: &Obj, path: &str, key: &str) -> Option<String> {
        match o.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => self.string(v, &format!("{path}.{key}")),
        }
    }

    fn boolean(&mut self, o: &Obj, path: &str, key: &str, default: bool) -> bool {
        match o.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.err(
                    &format!("{path}.{key}"),
                    format!("expected true or false, found {}", kind(other)),
                );
                default
            }
        }
    }

    /// A whole number in `range`; `default` when absent (or wrong, with the error).
    fn whole(
        &mut self,
        o: &Obj,
        path: &str,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> u64 {
        match o.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| range.contains(&n)) => {
                n.as_u64().unwrap_or(default)
            }
            Some(other) => {
                self.err(
                    &format!("{path}.{key}"),
                    format!(
                        "expected a whole number from {} to {}, found {other}",
                        range.start(),
                        range.end()
                    ),
                );
                default
            }
        }
    }

    fn url(&mut self, v: &Value, path: &str) -> Option<String> {
        let s = self.string(v, path)?;
        match url::Url::parse(&s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Some(s.trim_end_matches('/').to_owned())
            }
            Ok(u) => {
                self.err(
                    path,
                    format!("\"{s}\" is not an http(s) URL (scheme {})", u.scheme()),
                );
                None
            }
            Err(e) => {
                self.err(path, format!("\"{s}\" is not a valid URL: {e}"));
                None
            }
        }
    }

    /// The URL of an API the product sends credentials to: https, or plain http to a loopback
    /// address only; never a link-local or cloud metadata address.
    fn api_url(&mut self, v: &Value, path: &str) -> Option<String> {
        let s = self.url(v, path)?;
        let parsed = url::Url::parse(&s).ok()?;
        if let Some(why) = forbidden_host(&parsed) {
            self.err(
                path,
                format!("\"{s}\" points at {why}; use the service's public URL"),
            );
            return None;
        }
        if parsed.scheme() == "http" && !is_loopback(&parsed) {
            self.err(
                path,
                format!("\"{s}\" is plain http: credentials would cross the network unencrypted; use https (http is allowed to a loopback address only)"),
            );
            return None;
        }
        Some(s)
    }

    fn string_list(&mut self, o: &Obj, path: &str, key: &str) -> Vec<String> {
        let p = format!("{path}.{key}");
        match o.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| self.string(v, &format!("{p}[{i}]")))
                .collect(),
            Some(other) => {
                self.err(&p, format!("expected a list, found {}", kind(other)));
                Vec::new()
            }
        }
    }

    fn secret(&mut self, v: &Value, path: &str) -> Option<SecretRef> {
        match v {
            Value::String(s) if !s.is_empty() => Some(SecretRef::Literal(s.clone())),
            Value::Object(_) => {
                let o = self.object(v, path, &["secret", "key"])?;
                let secret = self
                    .required(o, path, "secret")
                    .and_then(|s| self.string(s, &format!("{path}.secret")));
                let key = self
                    .required(o, path, "key")
                    .and_then(|s| self.string(s, &format!("{path}.key")));
                Some(SecretRef::Managed {
                    secret: secret?,
                    key: key?,
                })
            }
            _ => {
                self.err(
                    path,
                    "expected a secret reference: {\"secret\": \"<id or ARN>\", \"key\": \"<json key>\"} or a literal string",
                );
                None
            }
        }
    }

    fn installation(&mut self, v: &Value) -> Option<Installation> {
        let o = self.object(v, "$", &["dialpad", "connections", "enablements"])?;
        let dialpad = self
            .required(o, "$", "dialpad")
            .and_then(|d| self.dialpad(d));
        let connections = self
            .required(o, "$", "connections")
            .map(|c| self.connections(c))
            .unwrap_or_default();
        // Every connection given, valid or not, with its CRM: an invalid one is reported once,
        // at its own path, not again at each enablement naming it.
        let connection_kinds: BTreeMap<String, Option<Named>> = o
            .get("connections")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let named = crm_kind(v.get("type")).ok().map(|kind| Named {
                            kind,
                            agent_popup: v.get("agent_popup_url").is_some_and(|u| !u.is_null()),
                        });
                        (k.clone(), named)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let enablements = match self.required(o, "$", "enablements") {
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    self.err("$.enablements", "at least one enablement is required");
                }
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| {
                        self.enablement(e, &format!("$.enablements[{i}]"), &connection_kinds)
                    })
                    .collect::<Vec<_>>()
            }
            Some(other) => {
                self.err(
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
                self.err(
                    &format!("$.enablements[{i}].scope"),
                    format!("another enablement already has the scope {}", e.scope),
                );
            }
        }
        if dialpad.api_key.is_none() {
            for (i, e) in enablements.iter().enumerate() {
                if e.screen_pop && e.lineleader().is_some() {
                    self.err(
                        "$.dialpad.api_key",
                        format!("is required: $.enablements[{i}] has screen_pop on (the Dialpad screen-pop API needs the key)"),
                    );
                    break;
                }
            }
        }
        Some(Installation {
            dialpad,
            connections,
            enablements,
        })
    }

    fn dialpad(&mut self, v: &Value) -> Option<DialpadSettings> {
        let p = "$.dialpad";
        let o = self.object(
            v,
            p,
            &[
                "webhook_secrets",
                "allow_unsigned",
                "api_base_url",
                "api_key",
            ],
        )?;
        let allow_unsigned = self.boolean(o, p, "allow_unsigned", false);
        let webhook_secrets = match o.get("webhook_secrets") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, s)| self.secret(s, &format!("{p}.webhook_secrets[{i}]")))
                .collect(),
            Some(other) => {
                self.err(
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
                    self.err(
                        &format!("{p}.webhook_secrets[{i}]"),
                        format!("is shorter than {MIN_WEBHOOK_SECRET_LEN} characters: too easy to guess"),
                    );
                }
            }
        }
        if webhook_secrets.is_empty() {
            if allow_unsigned {
                self.err(
                    "$.dialpad.allow_unsigned",
                    "unsigned events may be allowed only beside at least one webhook secret: with none, anyone who finds the URL can post calls",
                );
            } else {
                self.err(
                    "$.dialpad.webhook_secrets",
                    "needs at least one secret (Dialpad signs each event with it)",
                );
            }
        }
        let api_base_url = match o.get("api_base_url") {
            None | Some(Value::Null) => Some(DEFAULT_DIALPAD_API.to_owned()),
            Some(Value::String(s)) if s == SANDBOX => Some(SANDBOX.to_owned()),
            Some(u) => self.api_url(u, "$.dialpad.api_base_url"),
        };
        let api_key = match o.get("api_key") {
            None | Some(Value::Null) => None,
            Some(k) => self.secret(k, "$.dialpad.api_key"),
        };
        Some(DialpadSettings {
            webhook_secrets,
            allow_unsigned,
            api_base_url: api_base_url?,
            api_key,
        })
    }

    fn connections(&mut self, v: &Value) -> BTreeMap<String, Connection> {
        let mut out = BTreeMap::new();
        let Some(o) = v.as_object() else {
            self.err(
                "$.connections",
                format!("expected an object, found {}", kind(v)),
            );
            return out;
        };
        if o.is_empty() {
            self.err("$.connections", "at least one connection is required");
        }
        for (name, c) in o {
            let p = format!("$.connections.{name}");
            let kind = match crm_kind(c.get("type")) {
                Ok(k) => k,
                Err(t) => {
                    self.err(
                        &format!("{p}.type"),
                        format!("\"{t}\" is not a CRM this product knows ({})", crm_names()),
                    );
                    continue;
                }
            };
            let connection = match kind {
                CrmKind::LineLeader => self
                    .lineleader_connection(c, &p)
                    .map(Connection::LineLeader),
                CrmKind::LeadSquared => self
                    .leadsquared_connection(c, &p)
                    .map(Connection::LeadSquared),
            };
            if let Some(connection) = connection {
                out.insert(name.clone(), connection);
            }
        }
        out
    }

    fn lineleader_connection(&mut self, c: &Value, p: &str) -> Option<LineLeaderConnection> {
        let co = self.object(c, p, &["type", "base_url", "username", "password", "api"])?;
        let base_url = match self.required(co, p, "base_url") {
            Some(Value::String(s)) if s == SANDBOX => Some(SANDBOX.to_owned()),
            Some(u) => self.api_url(u, &format!("{p}.base_url")),
            None => None,
        };
        let username = self
            .required(co, p, "username")
            .and_then(|s| self.secret(s, &format!("{p}.username")));
        let password = self
            .required(co, p, "password")
            .and_then(|s| self.secret(s, &format!("{p}.password")));
        let api = match co.get("api") {
            None | Some(Value::Null) => Some(ApiSettings::default()),
            Some(a) => self.api_settings(a, &format!("{p}.api")),
        };
        Some(LineLeaderConnection {
            base_url: base_url?,
            username: username?,
            password: password?,
            api: api?,
        })
    }

    /// A LineLeader connection's `api`: path overrides by endpoint name, and the family
    /// search's parameter and number format.
    fn api_settings(&mut self, v: &Value, p: &str) -> Option<ApiSettings> {
        let o = self.object(
            v,
            p,
            &["paths", "family_search_param", "family_search_format"],
        )?;
        let mut api = ApiSettings::default();
        let pp = format!("{p}.paths");
        match o.get("paths") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                let names = Endpoint::names();
                for (name, path) in m {
                    let kp = format!("{pp}.{name}");
                    let Some(endpoint) = Endpoint::parse(name) else {
                        let hint = closest(name, &names)
                            .map(|c| format!(" (did you mean \"{c}\"?)"))
                            .unwrap_or_default();
                        self.err(
                            &kp,
                            format!(
                                "is not an endpoint{hint}; the endpoints are {}",
                                names.join(", ")
                            ),
                        );
                        continue;
                    };
                    let Some(path) = self.string(path, &kp) else {
                        continue;
                    };
                    if !path.starts_with('/') {
                        self.err(&kp, format!("\"{path}\" must start with / (a path under the base URL's /api/v3)"));
                    } else if path.contains(char::is_whitespace)
                        || path.contains('?')
                        || path.contains('#')
                    {
                        self.err(
                            &kp,
                            format!("\"{path}\" must be a bare path: no spaces, query or fragment"),
                        );
                    } else if endpoint.takes_id() && !path.contains("{id}") {
                        self.err(&kp, format!("\"{path}\" must contain {{id}}: the {name} endpoint names one record (e.g. \"/families/{{id}}\")"));
                    } else if !endpoint.takes_id() && path.contains('{') {
                        self.err(
                            &kp,
                            format!(
                                "\"{path}\" has a placeholder, but the {name} endpoint takes no id"
                            ),
                        );
                    } else {
                        api.paths.insert(endpoint, path);
                    }
                }
            }
            Some(other) => self.err(&pp, format!("expected an object, found {}", kind(other))),
        }
        if let Some(param) = self.opt_string(o, p, "family_search_param") {
            if param
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.[]".contains(c))
            {
                api.family_search_param = param;
            } else {
                self.err(
                    &format!("{p}.family_search_param"),
                    format!(
                        "\"{param}\" is not a query parameter name (letters, digits, _ - . [ ])"
                    ),
                );
            }
        }
        if let Some(format) = self.opt_string(o, p, "family_search_format") {
            match SearchFormat::parse(&format) {
                Some(f) => api.family_search_format = f,
                None => self.err(
                    &format!("{p}.family_search_format"),
                    format!("\"{format}\" is not one of ten_digits, e164, digits"),
                ),
            }
        }
        Some(api)
    }

    fn leadsquared_connection(&mut self, c: &Value, p: &str) -> Option<LeadSquaredConnection> {
        let co = self.object(c, p, &["type", "call_log_url", "agent_popup_url"])?;
        let call_log_url = self
            .required(co, p, "call_log_url")
            .and_then(|u| self.url_secret(u, &format!("{p}.call_log_url")));
        let agent_popup_url = match co.get("agent_popup_url") {
            None | Some(Value::Null) => Some(None),
            Some(u) => self
                .url_secret(u, &format!("{p}.agent_popup_url"))
                .map(Some),
        };
        Some(LeadSquaredConnection {
            call_log_url: call_log_url?,
            agent_popup_url: agent_popup_url?,
        })
    }

    /// A URL holding credentials: a literal API URL (or `sandbox`), or a secret reference to
    /// one (checked when it is read).
    fn url_secret(&mut self, v: &Value, path: &str) -> Option<SecretRef> {
        match v {
            Value::String(s) if s.trim() == SANDBOX => Some(SecretRef::Literal(SANDBOX.to_owned())),
            Value::String(_) => self.api_url(v, path).map(SecretRef::Literal),
            _ => self.secret(v, path),
        }
    }

    fn scope(&mut self, v: &Value, p: &str) -> Option<EnablementScope> {
        let o = self.object(v, p, &["level", "id"])?;
        let level = match self
            .required(o, p, "level")
            .and_then(|l| self.string(l, &format!("{p}.level")))?
            .as_str()
        {
            "call_center" => ScopeLevel::CallCenter,
            "office" => ScopeLevel::Office,
            "company" => ScopeLevel::Company,
            other => {
                self.err(
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
                    self.err(
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
                        self.err(
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

    fn enablement(
        &mut self,
        v: &Value,
        p: &str,
        connections: &BTreeMap<String, Option<Named>>,
    ) -> Option<Enablement> {
        // The connection decides the CRM, and so which keys the enablement may have.
        let named = v
            .get("connection")
            .and_then(Value::as_str)
            .map(str::trim)
            .and_then(|c| connections.get(c));
        let (kind, agent_popup) = match named {
            Some(Some(n)) => (Some(n.kind), n.agent_popup),
            // An invalid connection is reported at its own path.
            Some(None) => (None, false),
            None => (Some(CrmKind::LineLeader), false),
        };
        let mut allowed = vec![
            "scope",
            "connection",
            "screen_pop",
            "call_log_link_type",
            "enable_task_queue",
            "include_recap",
            "disposition_wait_secs",
            "call_log",
        ];
        // LineLeader's keys are known everywhere, so that a LeadSquared enablement holding
        // one is told why it may not, rather than "unknown key".
        allowed.extend(LINELEADER_KEYS);
        let o = self.object(v, p, &allowed)?;
        if kind == Some(CrmKind::LeadSquared) {
            for k in LINELEADER_KEYS.iter().filter(|k| o.contains_key(**k)) {
                self.err(
                    &format!("{p}.{k}"),
                    "applies to LineLeader connections only; this enablement's connection is a LeadSquared one",
                );
            }
        }
        let scope = self
            .required(o, p, "scope")
            .and_then(|s| self.scope(s, &format!("{p}.scope")));
        let connection = self
            .required(o, p, "connection")
            .and_then(|c| self.string(c, &format!("{p}.connection")));
        if let Some(c) = &connection {
            if !connections.contains_key(c) {
                let known: Vec<&str> = connections.keys().map(String::as_str).collect();
                self.err(
                    &format!("{p}.connection"),
                    format!("names the connection \"{c}\", which is not defined in $.connections (defined: {})", known.join(", ")),
                );
            }
        }
        // LeadSquared pops through the connection's Agent Popup URL: on when there is one.
        let screen_pop = match kind {
            Some(CrmKind::LeadSquared) => {
                let on = self.boolean(o, p, "screen_pop", agent_popup);
                if on && !agent_popup {
                    self.err(
                        &format!("{p}.screen_pop"),
                        "is on, but the connection has no agent_popup_url (LeadSquared pops through it): add one, or set screen_pop to false",
                    );
                }
                on
            }
            _ => self.boolean(o, p, "screen_pop", true),
        };
        let call_log_link_type = match self.opt_string(o, p, "call_log_link_type") {
            None => None,
            Some(s) => match s.as_str() {
                "public" | "company" | "recording" | "admin_recording" => LinkKind::parse(&s),
                _ => {
                    self.err(
                        &format!("{p}.call_log_link_type"),
                        format!(
                            "\"{s}\" is not one of public, company, recording, admin_recording"
                        ),
                    );
                    None
                }
            },
        };
        let enable_task_queue = self.boolean(o, p, "enable_task_queue", false);
        let include_recap = self.boolean(o, p, "include_recap", true);
        let disposition_wait = std::time::Duration::from_secs(self.whole(
            o,
            p,
            "disposition_wait_secs",
            0..=MAX_DISPOSITION_WAIT_SECS,
            0,
        ));
        let unknown_outcome = match self.opt_string(o, p, "unknown_outcome").as_deref() {
            None | Some("retry") => UnknownOutcomePolicy::Retry,
            Some("hold") => UnknownOutcomePolicy::Hold,
            Some(other) => {
                self.err(
                    &format!("{p}.unknown_outcome"),
                    format!("\"{other}\" is not one of retry, hold"),
                );
                UnknownOutcomePolicy::Retry
            }
        };
        let crm = match kind {
            Some(CrmKind::LineLeader) | None => self
                .lineleader_settings(o, p, screen_pop)
                .map(CrmSettings::LineLeader),
            Some(CrmKind::LeadSquared) => self
                .leadsquared_settings(o, p)
                .map(CrmSettings::LeadSquared),
        };
        Some(Enablement {
            scope: scope?,
            connection: connection?,
            screen_pop,
            call_log_link_type,
            enable_task_queue,
            include_recap,
            disposition_wait,
            unknown_outcome,
            crm: crm?,
        })
    }

    /// The LeadSquared settings of an enablement: `call_log` is `{"type": "leadsquared"}` (the
    /// type may be left out), or absent for no call logs.
    fn leadsquared_settings(&mut self, o: &Obj, p: &str) -> Option<LeadSquaredSettings> {
        let call_log = match o.get("call_log") {
            None | Some(Value::Null) => false,
            Some(v) => {
                let cp = format!("{p}.call_log");
                let c = self.object(v, &cp, &["type"])?;
                match self.opt_string(c, &cp, "type").as_deref() {
                    None | Some(LEADSQUARED_CALL_LOG) => true,
                    Some(other) => {
                        self.err(
                            &format!("{cp}.type"),
                            format!("\"{other}\" is a LineLeader call log; a LeadSquared connection logs with type \"{LEADSQUARED_CALL_LOG}\""),
                        );
                        return None;
                    }
                }
            }
        };
        Some(LeadSquaredSettings { call_log })
    }

    /// The LineLeader settings of an enablement.
    fn lineleader_settings(
        &mut self,
        o: &Obj,
        p: &str,
        screen_pop: bool,
    ) -> Option<LineLeaderSettings> {
        let screen_pop_base_url = match o.get("screen_pop_base_url") {
            None | Some(Value::Null) => None,
            Some(u) => self.url(u, &format!("{p}.screen_pop_base_url")),
        };
        if screen_pop && !o.contains_key("screen_pop_base_url") {
            self.err(
                &format!("{p}.screen_pop_base_url"),
                "is required when screen_pop is on (it defaults to on)",
            );
        }
        let template = self
            .opt_string(o, p, "screen_pop_url_template")
            .unwrap_or_else(|| DEFAULT_URL_TEMPLATE.to_owned());
        let tp = format!("{p}.screen_pop_url_template");
        if !template.contains("{family_id}") {
            self.err(&tp, "must contain {family_id}");
        } else {
            let sample = template
                .replace(
                    "{base}",
                    screen_pop_base_url
                        .as_deref()
                        .unwrap_or("https://app.example.com"),
                )
                .replace("{family_id}", "123");
            if url::Url::parse(&sample).is_err() {
                self.err(
                    &tp,
                    format!("does not give a valid URL (example: \"{sample}\")"),
                );
            }
            let unknown: Vec<&str> = template
                .split('{')
                .skip(1)
                .filter_map(|s| s.split('}').next())
                .filter(|name| *name != "base" && *name != "family_id")
                .collect();
            if !unknown.is_empty() {
                self.err(
                    &tp,
                    format!(
                        "unknown placeholder(s) {{{}}}; only {{base}} and {{family_id}} exist",
                        unknown.join("}, {")
                    ),
                );
            }
        }
        let default_center_name = self
            .required(o, p, "default_center_name")
            .and_then(|s| self.string(s, &format!("{p}.default_center_name")));
        let family_inquiry_type = self
            .opt_string(o, p, "family_inquiry_type")
            .unwrap_or_else(|| DEFAULT_INQUIRY_TYPE.to_owned());
        let status_prioritization = self.string_list(o, p, "status_prioritization");
        let family_status_priority_ids = match o.get("family_status_priority_ids") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    let id = lenient::id(Some(v));
                    if id.is_none() {
                        self.err(
                            &format!("{p}.family_status_priority_ids[{i}]"),
                            "expected a status id",
                        );
                    }
                    id
                })
                .collect(),
            Some(other) => {
                self.err(
                    &format!("{p}.family_status_priority_ids"),
                    format!("expected a list, found {}", kind(other)),
                );
                Vec::new()
            }
        };
        let call_log = match o.get("call_log") {
            None | Some(Value::Null) => Some(None),
            Some(c) => self.call_log(c, &format!("{p}.call_log")).map(Some),
        };
        let call_log = call_log?;
        let event_staff = match &call_log {
            Some(CallLogMode::Event(e)) => Some(e.default_staff_email.clone()),
            _ => None,
        };
        let follow_up_tasks = match o.get("follow_up_tasks") {
            None | Some(Value::Null) => None,
            Some(f) => Some(self.follow_up_tasks(
                f,
                &format!("{p}.follow_up_tasks"),
                event_staff,
                call_log.is_some(),
            )?),
        };
        Some(LineLeaderSettings {
            screen_pop_base_url,
            screen_pop_url_template: template,
            default_center_name: default_center_name?,
            family_inquiry_type,
            status_prioritization,
            family_status_priority_ids,
            call_log,
            follow_up_tasks,
        })
    }

    /// `follow_up_tasks`: created by the call log, so only with one.
    fn follow_up_tasks(
        &mut self,
        v: &Value,
        p: &str,
        event_staff: Option<String>,
        logs_calls: bool,
    ) -> Option<FollowUpSettings> {
        let o = self.object(
            v,
            p,
            &[
                "task_type",
                "from_action_items",
                "missed_calls",
                "due_in_minutes",
                "assign_to",
                "default_staff_email",
            ],
        )?;
        if !logs_calls {
            self.err(
                p,
                "needs a call_log: follow-up tasks are created when the call is logged",
            );
        }
        let task_type = self
            .opt_string(o, p, "task_type")
            .unwrap_or_else(|| DEFAULT_FOLLOW_UP_TASK_TYPE.to_owned());
        let from_action_items = self.boolean(o, p, "from_action_items", true);
        let missed_calls = self.boolean(o, p, "missed_calls", true);
        let minutes = self.whole(o, p, "due_in_minutes", 0..=MAX_FOLLOW_UP_DUE_MINUTES, 60);
        let assign_to = match self.opt_string(o, p, "assign_to").as_deref() {
            None | Some("agent") => AssignTo::Agent,
            Some("default_staff") => AssignTo::DefaultStaff,
            Some(other) => {
                self.err(
                    &format!("{p}.assign_to"),
                    format!("\"{other}\" is not one of agent, default_staff"),
                );
                AssignTo::Agent
            }
        };
        let own_staff = self.opt_string(o, p, "default_staff_email");
        if let Some(e) = &own_staff {
            if !looks_like_email(e) {
                self.err(
                    &format!("{p}.default_staff_email"),
                    format!("\"{e}\" is not an e-mail address"),
                );
            }
        }
        let default_staff_email = own_staff.or(event_staff);
        if assign_to == AssignTo::DefaultStaff && default_staff_email.is_none() {
            self.err(
                &format!("{p}.assign_to"),
                "is default_staff, but there is no default staff: set follow_up_tasks.default_staff_email (Event mode's default_staff_email is used when there is one)",
            );
        }
        Some(FollowUpSettings {
            task_type,
            from_action_items,
            missed_calls,
            due_in: std::time::Duration::from_secs(minutes * 60),
            assign_to,
            default_staff_email,
        })
    }

    fn call_log(&mut self, v: &Value, p: &str) -> Option<CallLogMode> {
        const EVENT_KEYS: [&str; 5] = [
            "event_type",
            "default_staff_email",
            "disposition_status_map",
            "disposition_task_result_map",
            "result_type_mapping",
        ];
        let mut allowed = vec!["type"];
        allowed.extend(EVENT_KEYS);
        let o = self.object(v, p, &allowed)?;
        let ty = self
            .opt_string(o, p, "type")
            .unwrap_or_else(|| "phone_log".into());
        match ty.as_str() {
            "phone_log" => {
                for k in EVENT_KEYS {
                    if o.contains_key(k) {
                        self.err(
                            &format!("{p}.{k}"),
                            "applies only when call_log.type is \"event\"",
                        );
                    }
                }
                Some(CallLogMode::PhoneLog)
            }
            "event" => {
                let event_type = self
                    .required(o, p, "event_type")
                    .and_then(|s| self.string(s, &format!("{p}.event_type")));
                let email_path = format!("{p}.default_staff_email");
                let default_staff_email = self
                    .required(o, p, "default_staff_email")
                    .and_then(|s| self.string(s, &email_path));
                if let Some(e) = &default_staff_email {
                    if !looks_like_email(e) {
                        self.err(&email_path, format!("\"{e}\" is not an e-mail address"));
                    }
                }
                let disposition_status_map = self.status_map(o, p);
                let disposition_task_result_map =
                    self.string_map(o, p, "disposition_task_result_map");
                let mut result_type_mapping = Vec::new();
                for (i, d) in self
                    .string_list(o, p, "result_type_mapping")
                    .into_iter()
                    .enumerate()
                {
                    match d.to_ascii_lowercase().as_str() {
                        "inbound" => result_type_mapping.push(Direction::Inbound),
                        "outbound" => result_type_mapping.push(Direction::Outbound),
                        _ => self.err(
                            &format!("{p}.result_type_mapping[{i}]"),
                            format!("\"{d}\" is not a call direction (inbound or outbound)"),
                        ),
                    }
                }
                Some(CallLogMode::Event(EventModeSettings {
                    event_type: event_type?,
                    default_staff_email: default_staff_email?,
                    disposition_status_map,
                    disposition_task_result_map,
                    result_type_mapping,
                }))
            }
            other => {
                self.err(
                    &format!("{p}.type"),
                    if other == LEADSQUARED_CALL_LOG {
                        format!("\"{other}\" is for LeadSquared connections; this enablement's connection is a LineLeader one (phone_log or event)")
                    } else {
                        format!("\"{other}\" is not one of phone_log, event")
                    },
                );
                None
            }
        }
    }

    fn string_map(&mut self, o: &Obj, p: &str, key: &str) -> BTreeMap<String, String> {
        let mp = format!("{p}.{key}");
        let mut out = BTreeMap::new();
        match o.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let kp = format!("{mp}[{}]", serde_json::to_string(k).unwrap_or_default());
                    if k.trim().is_empty() {
                        self.err(&kp, "the disposition is empty");
                        continue;
                    }
                    if let Some(s) = self.string(v, &kp) {
                        out.insert(k.trim().to_owned(), s);
                    }
                }
            }
            Some(other) => self.err(&mp, format!("expected an object, found {}", kind(other))),
        }
        out
    }

    fn status_map(&mut self, o: &Obj, p: &str) -> Vec<StatusRule> {
        let mp = format!("{p}.disposition_status_map");
        let raw = self.string_map(o, p, "disposition_status_map");
        let mut rules = Vec::new();
        for (k, status) in raw {
            match parse_status_key(&k) {
                Ok((disposition, required_status)) => rules.push(StatusRule {
                    disposition,
                    required_status,
                    status,
                }),
                Err(why) => self.err(
                    &format!("{mp}[{}]", serde_json::to_string(&k).unwrap_or_default()),
                    format!("malformed key: {why}"),
                ),
            }
        }
        rules
    }
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Why a host must never receive the product's requests: link-local addresses and the cloud
/// metadata services (a config must not turn the worker into a way to read its own
/// credentials).
fn forbidden_host(u: &url::Url) -> Option<&'static str> {
    match u.host()? {
        url::Host::Ipv4(ip) => {
            let o = ip.octets();
            if o[0] == 169 && o[1] == 254 {
                Some("a link-local address (169.254.0.0/16, where cloud metadata services live)")
            } else if o == [100, 100, 100, 200] || o == [0, 0, 0, 0] || ip.is_unspecified() {
                Some("a cloud metadata or unspecified address")
            } else {
                None
            }
        }
        url::Host::Ipv6(ip) => {
            let s = ip.segments();
            if (s[0] & 0xffc0) == 0xfe80 {
                Some("a link-local address (fe80::/10)")
            } else if s == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] || ip.is_unspecified() {
                Some("a cloud metadata or unspecified address")
            } else {
                ip.to_ipv4_mapped()
                    .and_then(|v4| forbidden_host(&url::Url::parse(&format!("http://{v4}/")).ok()?))
            }
        }
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            (d == "metadata"
                || d == "metadata.google.internal"
                || d.ends_with(".metadata.google.internal"))
            .then_some("a cloud metadata host")
        }
    }
}

/// The keys only a LineLeader enablement has.
const LINELEADER_KEYS: [&str; 8] = [
    "screen_pop_base_url",
    "screen_pop_url_template",
    "default_center_name",
    "family_inquiry_type",
    "status_prioritization",
    "family_status_priority_ids",
    "unknown_outcome",
    "follow_up_tasks",
];

/// The call log type of a LeadSquared enablement.
const LEADSQUARED_CALL_LOG: &str = "leadsquared";

/// A connection as an enablement sees it: its CRM, and whether it can pop an agent popup.
struct Named {
    kind: CrmKind,
    agent_popup: bool,
}

/// The CRM a connection's `type` names (absent: LineLeader), or the unknown type.
fn crm_kind(v: Option<&Value>) -> Result<CrmKind, String> {
    match v {
        None | Some(Value::Null) => Ok(CrmKind::LineLeader),
        Some(Value::String(t)) => CrmKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(t.trim()))
            .ok_or_else(|| t.clone()),
        Some(other) => Err(other.to_string()),
    }
}

fn crm_names() -> String {
    CrmKind::ALL.map(|k| k.as_str()).join(", ")
}

fn looks_like_email(s: &str) -> bool {
    let mut parts = s.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if !a.is_empty() && b.contains('.') && !b.starts_with('.') && !b.ends_with('.'))
        && !s.contains(char::is_whitespace)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The allowed key closest to a typo, when one is close.
fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (levenshtein(key, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min()
        .map(|(_, a)| a)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests;
