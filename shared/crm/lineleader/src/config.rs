//! LineLeader's part of the config document (`docs/config.md`): its connection (base URL,
//! credentials, where its API differs from the documented contract) and its enablement keys
//! (screen pop, the default center, Phone Log or Event mode, follow-up tasks).

use std::collections::BTreeMap;

use llbridge_domain::config::walk::{closest, kind, looks_like_email};
use llbridge_domain::config::{
    ConnectionSettings, CrmConfig, EnablementCx, EnablementSettings, Obj, SecretRef,
    UnknownOutcomePolicy, Walk, SANDBOX,
};
use llbridge_domain::event::Direction;
use llbridge_domain::lenient;
use serde::Serialize;
use serde_json::Value;

use crate::rules::paths::{ApiSettings, Endpoint, SearchFormat};

/// The connection `type` of LineLeader (the CRM of a connection without one).
pub const KIND: &str = "lineleader";
pub const DEFAULT_URL_TEMPLATE: &str = "{base}/#/families/{family_id}";
pub const DEFAULT_INQUIRY_TYPE: &str = "Phone";

/// The keys only a LineLeader enablement has.
const ENABLEMENT_KEYS: [&str; 9] = [
    "texts",
    "screen_pop_base_url",
    "screen_pop_url_template",
    "default_center_name",
    "family_inquiry_type",
    "status_prioritization",
    "family_status_priority_ids",
    "unknown_outcome",
    "follow_up_tasks",
];

/// LineLeader's part of the config.
pub struct LineLeaderConfig;

impl CrmConfig for LineLeaderConfig {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn name(&self) -> &'static str {
        "LineLeader"
    }

    fn call_log_types(&self) -> &'static [&'static str] {
        &["phone_log", "event"]
    }

    fn steps(&self) -> &'static [&'static str] {
        &[
            "phone_log",
            "task",
            "event",
            "status",
            "late_task",
            "late_status",
            "text_event",
        ]
    }

    fn enablement_keys(&self) -> &'static [&'static str] {
        &ENABLEMENT_KEYS
    }

    fn connection(
        &self,
        w: &mut Walk,
        path: &str,
        value: &Value,
    ) -> Option<Box<dyn ConnectionSettings>> {
        lineleader_connection(w, value, path).map(|c| Box::new(c) as Box<dyn ConnectionSettings>)
    }

    fn enablement(
        &self,
        w: &mut Walk,
        path: &str,
        o: &Obj,
        cx: &EnablementCx<'_>,
    ) -> Option<Box<dyn EnablementSettings>> {
        lineleader_settings(w, o, path, cx.screen_pop)
            .map(|s| Box::new(s) as Box<dyn EnablementSettings>)
    }
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

/// The task type of follow-up tasks unless configured.
pub const DEFAULT_FOLLOW_UP_TASK_TYPE: &str = "Phone Call";

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
    /// What to do with a write whose answer was lost when the tenant cannot say.
    pub unknown_outcome: UnknownOutcomePolicy,
    /// `None` (the default): texts are not logged.
    pub texts: Option<TextSettings>,
}

/// `texts`: each Dialpad text becomes one CRM event of this type on the family.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSettings {
    /// The event type, by its label (a task result, as Event mode's).
    pub event_type: String,
    /// A text from a number no family has creates one (else it is dropped, `unknown_texter`).
    pub create_families: bool,
    /// Who an inbound text, or one whose sender has no staff record, is attributed to
    /// (`texts.default_staff_email`, else Event mode's).
    pub default_staff_email: Option<String>,
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

impl ConnectionSettings for LineLeaderConnection {
    fn boxed_clone(&self) -> Box<dyn ConnectionSettings> {
        Box::new(self.clone())
    }

    fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)> {
        vec![("username", &self.username), ("password", &self.password)]
    }
}

impl EnablementSettings for LineLeaderSettings {
    fn boxed_clone(&self) -> Box<dyn EnablementSettings> {
        Box::new(self.clone())
    }

    fn logs_calls(&self) -> bool {
        self.call_log.is_some()
    }

    fn pops_through_dialpad(&self) -> bool {
        true
    }

    fn texts_supported(&self) -> bool {
        true
    }

    /// The family's page, as its screen pop opens it.
    fn contact_url(&self, contact_id: &str) -> Option<String> {
        self.screen_pop_url(contact_id)
    }

    fn logs_texts(&self) -> bool {
        self.texts.is_some()
    }

    /// Follow-up tasks from action items read the recap's action items.
    fn reads_recap(&self) -> bool {
        self.follow_up_tasks
            .as_ref()
            .is_some_and(|f| f.from_action_items)
    }
}

/// The LineLeader settings of an enablement, when its connection is LineLeader's.
pub fn settings(e: &llbridge_domain::config::Enablement) -> Option<&LineLeaderSettings> {
    e.settings::<LineLeaderSettings>()
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

pub(crate) fn lineleader_connection(
    w: &mut Walk,
    c: &Value,
    p: &str,
) -> Option<LineLeaderConnection> {
    let co = w.object(c, p, &["type", "base_url", "username", "password", "api"])?;
    let base_url = match w.required(co, p, "base_url") {
        Some(Value::String(s)) if s == SANDBOX => Some(SANDBOX.to_owned()),
        Some(u) => w.api_url(u, &format!("{p}.base_url")),
        None => None,
    };
    let username = w
        .required(co, p, "username")
        .and_then(|s| w.secret(s, &format!("{p}.username")));
    let password = w
        .required(co, p, "password")
        .and_then(|s| w.secret(s, &format!("{p}.password")));
    let api = match co.get("api") {
        None | Some(Value::Null) => Some(ApiSettings::default()),
        Some(a) => api_settings(w, a, &format!("{p}.api")),
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
pub(crate) fn api_settings(w: &mut Walk, v: &Value, p: &str) -> Option<ApiSettings> {
    let o = w.object(
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
                    w.err(
                        &kp,
                        format!(
                            "is not an endpoint{hint}; the endpoints are {}",
                            names.join(", ")
                        ),
                    );
                    continue;
                };
                let Some(path) = w.string(path, &kp) else {
                    continue;
                };
                if !path.starts_with('/') {
                    w.err(
                        &kp,
                        format!(
                            "\"{path}\" must start with / (a path under the base URL's /api/v3)"
                        ),
                    );
                } else if path.contains(char::is_whitespace)
                    || path.contains('?')
                    || path.contains('#')
                {
                    w.err(
                        &kp,
                        format!("\"{path}\" must be a bare path: no spaces, query or fragment"),
                    );
                } else if endpoint.takes_id() && !path.contains("{id}") {
                    w.err(&kp, format!("\"{path}\" must contain {{id}}: the {name} endpoint names one record (e.g. \"/families/{{id}}\")"));
                } else if !endpoint.takes_id() && path.contains('{') {
                    w.err(
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
        Some(other) => w.err(&pp, format!("expected an object, found {}", kind(other))),
    }
    if let Some(param) = w.opt_string(o, p, "family_search_param") {
        if param
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.[]".contains(c))
        {
            api.family_search_param = param;
        } else {
            w.err(
                &format!("{p}.family_search_param"),
                format!("\"{param}\" is not a query parameter name (letters, digits, _ - . [ ])"),
            );
        }
    }
    if let Some(format) = w.opt_string(o, p, "family_search_format") {
        match SearchFormat::parse(&format) {
            Some(f) => api.family_search_format = f,
            None => w.err(
                &format!("{p}.family_search_format"),
                format!("\"{format}\" is not one of ten_digits, e164, digits"),
            ),
        }
    }
    Some(api)
}

pub(crate) fn lineleader_settings(
    w: &mut Walk,
    o: &Obj,
    p: &str,
    screen_pop: bool,
) -> Option<LineLeaderSettings> {
    let screen_pop_base_url = match o.get("screen_pop_base_url") {
        None | Some(Value::Null) => None,
        Some(u) => w.url(u, &format!("{p}.screen_pop_base_url")),
    };
    if screen_pop && !o.contains_key("screen_pop_base_url") {
        w.err(
            &format!("{p}.screen_pop_base_url"),
            "is required when screen_pop is on (it defaults to on)",
        );
    }
    let template = w
        .opt_string(o, p, "screen_pop_url_template")
        .unwrap_or_else(|| DEFAULT_URL_TEMPLATE.to_owned());
    let tp = format!("{p}.screen_pop_url_template");
    if !template.contains("{family_id}") {
        w.err(&tp, "must contain {family_id}");
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
            w.err(
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
            w.err(
                &tp,
                format!(
                    "unknown placeholder(s) {{{}}}; only {{base}} and {{family_id}} exist",
                    unknown.join("}, {")
                ),
            );
        }
    }
    let default_center_name = w
        .required(o, p, "default_center_name")
        .and_then(|s| w.string(s, &format!("{p}.default_center_name")));
    let family_inquiry_type = w
        .opt_string(o, p, "family_inquiry_type")
        .unwrap_or_else(|| DEFAULT_INQUIRY_TYPE.to_owned());
    let status_prioritization = w.string_list(o, p, "status_prioritization");
    let family_status_priority_ids = match o.get("family_status_priority_ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let id = lenient::id(Some(v));
                if id.is_none() {
                    w.err(
                        &format!("{p}.family_status_priority_ids[{i}]"),
                        "expected a status id",
                    );
                }
                id
            })
            .collect(),
        Some(other) => {
            w.err(
                &format!("{p}.family_status_priority_ids"),
                format!("expected a list, found {}", kind(other)),
            );
            Vec::new()
        }
    };
    let unknown_outcome = match w.opt_string(o, p, "unknown_outcome").as_deref() {
        None | Some("retry") => UnknownOutcomePolicy::Retry,
        Some("hold") => UnknownOutcomePolicy::Hold,
        Some(other) => {
            w.err(
                &format!("{p}.unknown_outcome"),
                format!("\"{other}\" is not one of retry, hold"),
            );
            UnknownOutcomePolicy::Retry
        }
    };
    let call_log = match o.get("call_log") {
        None | Some(Value::Null) => Some(None),
        Some(c) => call_log(w, c, &format!("{p}.call_log")).map(Some),
    };
    let call_log = call_log?;
    let event_staff = match &call_log {
        Some(CallLogMode::Event(e)) => Some(e.default_staff_email.clone()),
        _ => None,
    };
    let texts = match o.get("texts") {
        None | Some(Value::Null) => Some(None),
        Some(t) => texts(w, t, &format!("{p}.texts"), event_staff.clone()).map(Some),
    };
    let follow_up_tasks = match o.get("follow_up_tasks") {
        None | Some(Value::Null) => None,
        Some(f) => Some(follow_up_tasks(
            w,
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
        texts: texts?,
        unknown_outcome,
    })
}

/// `follow_up_tasks`: created by the call log, so only with one.
pub(crate) fn follow_up_tasks(
    w: &mut Walk,
    v: &Value,
    p: &str,
    event_staff: Option<String>,
    logs_calls: bool,
) -> Option<FollowUpSettings> {
    let o = w.object(
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
        w.err(
            p,
            "needs a call_log: follow-up tasks are created when the call is logged",
        );
    }
    let task_type = w
        .opt_string(o, p, "task_type")
        .unwrap_or_else(|| DEFAULT_FOLLOW_UP_TASK_TYPE.to_owned());
    let from_action_items = w.boolean(o, p, "from_action_items", true);
    let missed_calls = w.boolean(o, p, "missed_calls", true);
    let minutes = w.whole(o, p, "due_in_minutes", 0..=MAX_FOLLOW_UP_DUE_MINUTES, 60);
    let assign_to = match w.opt_string(o, p, "assign_to").as_deref() {
        None | Some("agent") => AssignTo::Agent,
        Some("default_staff") => AssignTo::DefaultStaff,
        Some(other) => {
            w.err(
                &format!("{p}.assign_to"),
                format!("\"{other}\" is not one of agent, default_staff"),
            );
            AssignTo::Agent
        }
    };
    let own_staff = w.opt_string(o, p, "default_staff_email");
    if let Some(e) = &own_staff {
        if !looks_like_email(e) {
            w.err(
                &format!("{p}.default_staff_email"),
                format!("\"{e}\" is not an e-mail address"),
            );
        }
    }
    let default_staff_email = own_staff.or(event_staff);
    if assign_to == AssignTo::DefaultStaff && default_staff_email.is_none() {
        w.err(
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

pub(crate) fn call_log(w: &mut Walk, v: &Value, p: &str) -> Option<CallLogMode> {
    const EVENT_KEYS: [&str; 5] = [
        "event_type",
        "default_staff_email",
        "disposition_status_map",
        "disposition_task_result_map",
        "result_type_mapping",
    ];
    let mut allowed = vec!["type"];
    allowed.extend(EVENT_KEYS);
    let o = w.object(v, p, &allowed)?;
    let ty = w
        .opt_string(o, p, "type")
        .unwrap_or_else(|| "phone_log".into());
    match ty.as_str() {
        "phone_log" => {
            for k in EVENT_KEYS {
                if o.contains_key(k) {
                    w.err(
                        &format!("{p}.{k}"),
                        "applies only when call_log.type is \"event\"",
                    );
                }
            }
            Some(CallLogMode::PhoneLog)
        }
        "event" => {
            let event_type = w
                .required(o, p, "event_type")
                .and_then(|s| w.string(s, &format!("{p}.event_type")));
            let email_path = format!("{p}.default_staff_email");
            let default_staff_email = w
                .required(o, p, "default_staff_email")
                .and_then(|s| w.string(s, &email_path));
            if let Some(e) = &default_staff_email {
                if !looks_like_email(e) {
                    w.err(&email_path, format!("\"{e}\" is not an e-mail address"));
                }
            }
            let disposition_status_map = status_map(w, o, p);
            let disposition_task_result_map = w.string_map(o, p, "disposition_task_result_map");
            let mut result_type_mapping = Vec::new();
            for (i, d) in w
                .string_list(o, p, "result_type_mapping")
                .into_iter()
                .enumerate()
            {
                match d.to_ascii_lowercase().as_str() {
                    "inbound" => result_type_mapping.push(Direction::Inbound),
                    "outbound" => result_type_mapping.push(Direction::Outbound),
                    _ => w.err(
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
            w.err(
                &format!("{p}.type"),
                format!("\"{other}\" is not one of phone_log, event (this enablement's connection is a LineLeader one)"),
            );
            None
        }
    }
}

pub(crate) fn status_map(w: &mut Walk, o: &Obj, p: &str) -> Vec<StatusRule> {
    let mp = format!("{p}.disposition_status_map");
    let raw = w.string_map(o, p, "disposition_status_map");
    let mut rules = Vec::new();
    for (k, status) in raw {
        match parse_status_key(&k) {
            Ok((disposition, required_status)) => rules.push(StatusRule {
                disposition,
                required_status,
                status,
            }),
            Err(why) => w.err(
                &format!("{mp}[{}]", serde_json::to_string(&k).unwrap_or_default()),
                format!("malformed key: {why}"),
            ),
        }
    }
    rules
}

/// `texts`: `event_type` (required), `create_families`, `default_staff_email`.
fn texts(w: &mut Walk, v: &Value, p: &str, event_staff: Option<String>) -> Option<TextSettings> {
    let o = w.object(
        v,
        p,
        &["event_type", "create_families", "default_staff_email"],
    )?;
    let event_type = w
        .required(o, p, "event_type")
        .and_then(|t| w.string(t, &format!("{p}.event_type")));
    let create_families = w.boolean(o, p, "create_families", false);
    let default_staff_email = w.opt_string(o, p, "default_staff_email").or(event_staff);
    Some(TextSettings {
        event_type: event_type?,
        create_families,
        default_staff_email,
    })
}
