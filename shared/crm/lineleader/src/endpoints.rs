//! Every path, request body and response shape of the LineLeader API that this client assumes
//! (`docs/lineleader-api.md`). A real tenant's differences are meant to be one edit away, here.
//!
//! Reads are lenient: link objects `{id, values: {name | value}}`, flat fields and bare ids;
//! bare arrays, `{data: [...]}` and `{items: [...]}`; ids as numbers or strings. Writes send
//! plain ids (numbers when the id is numeric) and timestamps in whole seconds, UTC.

use crate::rules::paths::{ApiSettings, Endpoint, SearchFormat};
use crate::rules::records::{
    Center, Family, Labeled, LogDirection, LoggedEvent, LoggedPhoneLog, NewEvent, NewFamily,
    NewTask, PhoneLog, Staff, Task, TaskCompletion, TypeList,
};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use llbridge_domain::phone::Phone;
use serde_json::{json, Map, Value};

/// Appended to the connection's base URL.
pub const API_PREFIX: &str = "/api/v3";

/// The largest page the API serves.
pub const PAGE_LIMIT: usize = 100;

/// The response header holding a list's total count.
pub const TOTAL_COUNT_HEADER: &str = "x-total-count";

// ---- paths -------------------------------------------------------------------------------

/// The documented contract's path of each endpoint (`docs/lineleader-api.md`); `{id}` stands
/// for a record's id.
pub fn default_path(e: Endpoint) -> &'static str {
    match e {
        // A1, A2.
        Endpoint::Login => "/login",
        Endpoint::LoginRefresh => "/login/refresh",
        // C1 (paged), S1, U1 (paged).
        Endpoint::Centers => "/centers",
        Endpoint::Statuses => "/statuses",
        Endpoint::Staff => "/staff",
        // F1 (paged), F3, F2, X1.
        Endpoint::FamilySearch => "/families/search",
        Endpoint::Families => "/families",
        Endpoint::Family => "/families/{id}",
        Endpoint::FamilyStatus => "/families/{id}/status",
        // K1 (paged) and K3; K2 and the GET before it.
        Endpoint::Tasks => "/tasks",
        Endpoint::Task => "/tasks/{id}",
        // E1, and E2 (paged).
        Endpoint::Events => "/events",
        // P1, and P2 (paged).
        Endpoint::PhoneLogs => "/in-contact/phone-logs",
        // T1..T4.
        Endpoint::TypesFamilySource => "/types/family/source",
        Endpoint::TypesFamilyInquiry => "/types/family/inquiry",
        Endpoint::TypesTasks => "/types/tasks",
        Endpoint::TypesTaskResults => "/types/tasks/results",
    }
}

/// Whether the documented contract's path of an endpoint has been seen in working code
/// (`true`) or is assumed.
pub fn confirmed(e: Endpoint) -> bool {
    matches!(
        e,
        Endpoint::Login
            | Endpoint::LoginRefresh
            | Endpoint::Centers
            | Endpoint::Statuses
            | Endpoint::Staff
            | Endpoint::FamilySearch
            | Endpoint::Family
            | Endpoint::Tasks
            | Endpoint::Task
            | Endpoint::Events
            | Endpoint::TypesFamilySource
            | Endpoint::TypesFamilyInquiry
    )
}

/// The endpoints the client only writes to (`POST`, `PUT`): a `GET` of their path answers
/// 405 where the route exists.
pub fn write_only(e: Endpoint) -> bool {
    matches!(
        e,
        Endpoint::Login | Endpoint::LoginRefresh | Endpoint::Families | Endpoint::FamilyStatus
    )
}

/// What each endpoint is for, in an admin's words.
pub fn purpose(e: Endpoint) -> &'static str {
    match e {
        Endpoint::Login => "log in (A1)",
        Endpoint::LoginRefresh => "refresh the token (A2)",
        Endpoint::Centers => "list the centers (C1)",
        Endpoint::Statuses => "list the statuses (S1)",
        Endpoint::Staff => "list the staff (U1)",
        Endpoint::FamilySearch => "find families by phone number (F1)",
        Endpoint::Families => "create a family (F3)",
        Endpoint::Family => "read a family (F2)",
        Endpoint::FamilyStatus => "change a family's status (X1)",
        Endpoint::Tasks => "list a family's tasks (K1), create a task (K3)",
        Endpoint::Task => "read and complete a task (K2)",
        Endpoint::Events => "create and list timeline events (E1, E2)",
        Endpoint::PhoneLogs => "write and look up phone logs (P1, P2)",
        Endpoint::TypesFamilySource => "family source types (T1)",
        Endpoint::TypesFamilyInquiry => "family inquiry types (T2)",
        Endpoint::TypesTasks => "task types (T3)",
        Endpoint::TypesTaskResults => "task results and event types (T4)",
    }
}

/// The query of `doctor`'s `GET` of an endpoint: one item of a list, a family's tasks or
/// events, a call id no phone log has.
pub fn probe_query<'a>(
    paths: &'a Paths,
    e: Endpoint,
    family_id: &str,
    number: &Phone,
) -> Vec<(&'a str, String)> {
    let mut q = match e {
        Endpoint::FamilySearch => paths.search_query(number),
        Endpoint::Tasks => vec![
            ("family_id", family_id.to_owned()),
            ("include_completed", "false".to_owned()),
        ],
        Endpoint::Events => vec![("family_id", family_id.to_owned())],
        Endpoint::PhoneLogs => vec![
            ("external_call_id", "0".to_owned()),
            ("family_id", family_id.to_owned()),
        ],
        _ => Vec::new(),
    };
    if matches!(
        e,
        Endpoint::Centers
            | Endpoint::Staff
            | Endpoint::FamilySearch
            | Endpoint::Tasks
            | Endpoint::Events
            | Endpoint::PhoneLogs
    ) {
        q.push(("limit", "1".to_owned()));
    }
    q
}

/// The endpoint of a type list.
pub fn type_list(list: TypeList) -> Endpoint {
    match list {
        TypeList::FamilySource => Endpoint::TypesFamilySource,
        TypeList::FamilyInquiry => Endpoint::TypesFamilyInquiry,
        TypeList::Task => Endpoint::TypesTasks,
        TypeList::TaskResult => Endpoint::TypesTaskResults,
    }
}

/// The paths of one connection: the documented contract's, with the connection's `api`
/// overrides, and how its family search sends the number. The one place a path is built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paths {
    api: ApiSettings,
}

impl Paths {
    pub fn new(api: ApiSettings) -> Paths {
        Paths { api }
    }

    /// The path template of an endpoint (with `{id}` where it takes one).
    pub fn template(&self, e: Endpoint) -> &str {
        self.api
            .paths
            .get(&e)
            .map(String::as_str)
            .unwrap_or_else(|| default_path(e))
    }

    /// Whether the connection overrides this endpoint's path.
    pub fn overridden(&self, e: Endpoint) -> bool {
        self.api.paths.contains_key(&e)
    }

    /// The path of an endpoint that takes no id.
    pub fn get(&self, e: Endpoint) -> String {
        self.template(e).to_owned()
    }

    /// The path of one record: `{id}` replaced by the id, as one path segment.
    pub fn with_id(&self, e: Endpoint, id: &str) -> String {
        self.template(e).replace("{id}", &segment(id))
    }

    /// F1 query: the number in the connection's parameter and format.
    pub fn search_query(&self, phone: &Phone) -> Vec<(&str, String)> {
        vec![(
            self.api.family_search_param.as_str(),
            self.api.family_search_format.format(phone),
        )]
    }

    /// The family search's parameter and format, for messages.
    pub fn search_param(&self) -> (&str, SearchFormat) {
        (
            self.api.family_search_param.as_str(),
            self.api.family_search_format,
        )
    }
}

/// A path label for logs and error messages: the template, never ids or numbers.
pub fn label(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if !s.is_empty() && s.chars().any(|c| c.is_ascii_digit()) {
                "{id}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// K1 query.
pub fn open_tasks_query(family_id: &str, type_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("family_id", family_id.to_owned()),
        ("type", type_id.to_owned()),
        ("include_completed", "false".to_owned()),
    ]
}

/// K1 query: every task of a family, completed ones too (is a follow-up created?).
pub fn family_tasks_query(family_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("family_id", family_id.to_owned()),
        ("include_completed", "true".to_owned()),
    ]
}

/// K1 query without a family or a type: open tasks of every family.
pub fn open_tasks_sample_query() -> Vec<(&'static str, String)> {
    vec![("include_completed", "false".to_owned())]
}

/// E2 query: the family's timeline events.
pub fn family_events_query(family_id: &str) -> Vec<(&'static str, String)> {
    vec![("family_id", family_id.to_owned())]
}

/// P2 query: the phone logs of a family with one Dialpad call id.
pub fn phone_logs_query(external_call_id: &str, family_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("external_call_id", external_call_id.to_owned()),
        ("family_id", family_id.to_owned()),
    ]
}

/// Paging parameters.
pub fn page_query(limit: usize, offset: usize) -> Vec<(&'static str, String)> {
    vec![("limit", limit.to_string()), ("offset", offset.to_string())]
}

// ---- request bodies ------------------------------------------------------------------------

/// A1.
pub fn login_body(username: &str, password: &str) -> Value {
    json!({ "username": username, "password": password })
}

/// A2.
pub fn refresh_body(refresh_token: &str) -> Value {
    json!({ "refresh_token": refresh_token })
}

/// Tokens from A1 or A2.
pub fn parse_tokens(v: &Value) -> Option<(String, Option<String>)> {
    let v = unwrap_object(v);
    let token = str_field(v, &["token", "access_token", "jwt"])?;
    let refresh = str_field(v, &["refresh_token", "refreshToken"]);
    Some((token, refresh))
}

/// F3.
pub fn new_family_body(f: &NewFamily) -> Value {
    json!({
        "center_id": plain_id(&f.center_id),
        "source_type_id": plain_id(&f.source_type_id),
        "inquiry_type_id": plain_id(&f.inquiry_type_id),
        "primary_guardian": {
            "first_name": f.first_name,
            "last_name": f.last_name,
            "primary_phone": { "number": f.phone },
        },
    })
}

/// K2: the task as read, completed. Link objects become plain ids (writes take plain ids).
pub fn completed_task_body(task: &Value, c: &TaskCompletion) -> Value {
    let mut body = match unwrap_object(task) {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), flatten_link(v)))
            .collect::<Map<String, Value>>(),
        _ => Map::new(),
    };
    body.insert("is_completed".into(), Value::Bool(true));
    body.insert(
        "completed_date_time".into(),
        Value::String(timestamp(&c.completed_at)),
    );
    body.insert(
        "completed_by_user_id".into(),
        plain_id(&c.completed_by_staff_id),
    );
    body.insert("result_type".into(), plain_id(&c.result_type_id));
    body.insert(
        "result_description".into(),
        Value::String(c.result_description.clone()),
    );
    Value::Object(body)
}

/// E1.
pub fn new_event_body(e: &NewEvent) -> Value {
    let mut body = json!({
        "family_id": plain_id(&e.family_id),
        "staff_id": plain_id(&e.staff_id),
        "type_id": plain_id(&e.type_id),
        "date_time": timestamp(&e.date_time),
        "description": e.description,
    });
    if let Some(c) = &e.center_id {
        body["center_id"] = plain_id(c);
    }
    if let Some(t) = &e.task_id {
        body["task_id"] = plain_id(t);
    }
    body
}

/// K3.
pub fn new_task_body(t: &NewTask) -> Value {
    let mut body = json!({
        "family_id": plain_id(&t.family_id),
        "type_id": plain_id(&t.type_id),
        "due_date_time": timestamp(&t.due),
        "description": t.description,
    });
    if let Some(s) = &t.assigned_to_staff_id {
        body["assigned_to_staff_id"] = plain_id(s);
    }
    body
}

/// X1.
pub fn status_body(status_id: &str) -> Value {
    json!({ "status_id": plain_id(status_id) })
}

/// P1.
pub fn phone_log_body(l: &PhoneLog) -> Value {
    let mut body = json!({
        "direction": match l.direction {
            LogDirection::Inbound => "Inbound",
            LogDirection::Outbound => "Outbound",
        },
        "ani": l.ani,
        "start_date_time": timestamp(&l.start),
        "end_date_time": timestamp(&l.end),
        "disposition": l.disposition,
        "external_call_id": l.external_call_id,
        "family_id": plain_id(&l.family_id),
    });
    if let Some(d) = &l.dnis {
        body["dnis"] = Value::String(d.clone());
    }
    if let Some(u) = &l.recording_url {
        body["recording_url"] = Value::String(u.clone());
    }
    if let Some(c) = &l.center_id {
        body["center_id"] = plain_id(c);
    }
    body
}

/// The id of a created record (E1, P1, F3).
pub fn created_id(v: &Value) -> Option<String> {
    id_of(unwrap_object(v))
}

// ---- response records ----------------------------------------------------------------------

/// C1.
pub fn center(v: &Value) -> Option<Center> {
    let id = id_of(v)?;
    let phone = field(v, &["call_center_phone", "callCenterPhone"]).and_then(|p| match p {
        Value::Object(_) => str_field(p, &["number_e164", "e164", "number"]),
        other => scalar_string(other),
    });
    Some(Center {
        id,
        name: label_of(v).unwrap_or_default(),
        active: bool_field(v, &["active", "is_active", "enabled"]).unwrap_or(true),
        call_center_phone: phone.filter(|p| !p.trim().is_empty()),
        timezone: str_field(v, &["timezone", "time_zone", "timeZone", "tz"]),
    })
}

/// S1 and T1..T4.
pub fn labeled(v: &Value) -> Option<Labeled> {
    Some(Labeled {
        id: id_of(v)?,
        label: label_of(v)?,
    })
}

/// U1.
pub fn staff(v: &Value) -> Option<Staff> {
    Some(Staff {
        id: id_of(v)?,
        email: str_field(v, &["email_address", "email", "emailAddress"]),
        first_name: str_field(v, &["first_name", "firstName"]),
        last_name: str_field(v, &["last_name", "lastName"]),
    })
}

/// F1 and F2.
pub fn family_record(v: &Value) -> Option<Family> {
    let v = unwrap_object(v);
    let id = id_of(v)?;
    let guardian = field(v, &["primary_guardian", "primaryGuardian", "guardian"]);
    let mut phones = Vec::new();
    if let Some(g) = guardian {
        for key in [
            "primary_phone",
            "primaryPhone",
            "phone",
            "cell_phone",
            "mobile_phone",
            "home_phone",
            "work_phone",
            "alternate_phone",
            "secondary_phone",
        ] {
            if let Some(p) = g.get(key) {
                collect_phones(p, &mut phones);
            }
        }
        if let Some(Value::Array(list)) = field(g, &["phones", "phone_numbers"]) {
            for p in list {
                collect_phones(p, &mut phones);
            }
        }
    }
    phones.dedup();
    let status = field(v, &["status", "family_status"]);
    Some(Family {
        id,
        created: field(
            v,
            &["created_date", "created_at", "date_created", "created"],
        )
        .and_then(parse_time),
        center_id: field(v, &["center", "center_id", "location"]).and_then(id_of),
        status_id: status
            .and_then(id_of)
            .or_else(|| field(v, &["status_id"]).and_then(id_of)),
        status_name: status
            .and_then(label_of)
            .or_else(|| str_field(v, &["status_name"])),
        phones,
        guardian_first_name: guardian.and_then(|g| str_field(g, &["first_name", "firstName"])),
        guardian_last_name: guardian.and_then(|g| str_field(g, &["last_name", "lastName"])),
    })
}

/// K1 and the GET of K2.
pub fn task_record(v: &Value) -> Option<Task> {
    let v = unwrap_object(v);
    Some(Task {
        id: id_of(v)?,
        type_id: field(v, &["type", "type_id", "task_type", "task_type_id"]).and_then(id_of),
        family_id: field(v, &["family", "family_id"]).and_then(id_of),
        due: field(v, &["due_date_time", "due_date", "due"]).and_then(parse_time),
        is_completed: bool_field(v, &["is_completed", "completed"]).unwrap_or(false),
        is_canceled: bool_field(v, &["is_canceled", "is_cancelled", "canceled", "cancelled"])
            .unwrap_or(false),
        raw: v.clone(),
    })
}

/// E2.
pub fn logged_event(v: &Value) -> Option<LoggedEvent> {
    let v = unwrap_object(v);
    Some(LoggedEvent {
        id: id_of(v)?,
        family_id: field(v, &["family", "family_id"]).and_then(id_of),
        type_id: field(v, &["type", "type_id", "event_type"]).and_then(id_of),
        task_id: field(v, &["task_id", "task"]).and_then(id_of),
        description: str_field(v, &["description", "notes", "note"]).unwrap_or_default(),
    })
}

/// P2.
pub fn logged_phone_log(v: &Value) -> Option<LoggedPhoneLog> {
    let v = unwrap_object(v);
    Some(LoggedPhoneLog {
        id: id_of(v)?,
        external_call_id: str_field(v, &["external_call_id", "externalCallId", "call_id"]),
        family_id: field(v, &["family", "family_id"]).and_then(id_of),
    })
}

// ---- lenient helpers -----------------------------------------------------------------------

/// The records of a list response: a bare array, `{data: [...]}`, `{items: [...]}` or
/// `{results: [...]}`. `None` when the body is no list at all.
pub fn list_items(v: &Value) -> Option<&Vec<Value>> {
    match v {
        Value::Array(a) => Some(a),
        Value::Object(m) => ["data", "items", "results", "records"]
            .iter()
            .find_map(|k| m.get(*k).and_then(Value::as_array)),
        _ => None,
    }
}

/// A single record, possibly wrapped in `{data: {...}}`.
pub fn unwrap_object(v: &Value) -> &Value {
    match v.get("data") {
        Some(inner @ Value::Object(_)) if v.get("id").is_none() => inner,
        _ => v,
    }
}

/// The id of a record, a link object or a bare id.
pub fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => m.get("id").and_then(scalar_string),
        other => scalar_string(other),
    }
}

/// The label of a record or link: `values.name`, `values.value`, or flat `name`/`value`/`label`.
pub fn label_of(v: &Value) -> Option<String> {
    let keys = ["name", "value", "label", "description"];
    v.get("values")
        .and_then(|vals| str_field(vals, &keys))
        .or_else(|| str_field(v, &keys))
}

/// A plain id for a write: a number when the id is numeric, else the string.
pub fn plain_id(id: &str) -> Value {
    id.trim()
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(id.to_owned()))
}

/// ISO-8601 UTC with whole seconds: `2026-05-28T04:30:00Z`.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A timestamp in any common form: RFC 3339, or naive (`2026-05-28 04:30:00`, read as UTC).
pub fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn flatten_link(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.contains_key("id") && m.contains_key("values") => {
            m.get("id").cloned().unwrap_or(Value::Null)
        }
        other => other.clone(),
    }
}

fn collect_phones(p: &Value, out: &mut Vec<String>) {
    let found = match p {
        Value::Object(_) => str_field(p, &["number", "number_e164", "value"]),
        other => scalar_string(other),
    };
    if let Some(n) = found.filter(|n| !n.trim().is_empty()) {
        if !out.contains(&n) {
            out.push(n);
        }
    }
}

fn field<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| v.get(*k).filter(|x| !x.is_null()))
}

fn str_field(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(scalar_string))
        .filter(|s| !s.is_empty())
}

fn bool_field(v: &Value, keys: &[&str]) -> Option<bool> {
    keys.iter().find_map(|k| match v.get(*k)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_i64() != Some(0)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn segment(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.~".contains(c) {
                c.to_string()
            } else {
                c.to_string().bytes().map(|b| format!("%{b:02X}")).collect()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
