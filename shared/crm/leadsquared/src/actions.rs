//! What LeadSquared's connector asks of the telephony side, at two URLs of the stack:
//!
//! * `POST|GET /leadsquared/click-to-call` (Click 2 Call): `agent_email`, `phone_number` (E.164,
//!   or digits with the country code), `lead_id`, `virtual_number` (optional), as JSON, a form
//!   or query parameters. Dialpad rings the agent, then dials the lead. 200 with `OK` and the
//!   call id; every refusal is JSON with a `reason` and never contains the keyword `OK`.
//! * `POST /leadsquared/disposition` (Call Disposition): `callSessionId` and
//!   `dispositionValue` (or `call_session_id` and `disposition`): merged into that call as its
//!   disposition, so the call log carries it. 200 `{"status": "OK"}`.
//!
//! Both require the header `X-Llbridge-Key`, compared in constant time with the `action_key` of
//! a LeadSquared connection: a wrong or missing key is 401 and nothing else happens; without any
//! connection's `action_key` the URLs answer 404. Bodies are bounded like the webhook's.

use std::collections::BTreeMap;
use std::sync::Arc;

use llbridge_domain::config::ScopeLevel;
use llbridge_domain::phone::{mask, Phone};
use llbridge_domain::Installation;
use llbridge_usecases::click::{Click, Dialer, Refused};
use llbridge_usecases::crm::Clients;
use llbridge_usecases::ingest::{Ingest, Response};
use llbridge_usecases::ports::{Clock, ConfigSource, Records, Secrets, Store};
use llbridge_usecases::telemetry;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::config::{LeadSquaredConnection, KIND, MIN_ACTION_KEY_LEN};

/// The path of Click 2 Call.
pub const CLICK_TO_CALL_PATH: &str = "/leadsquared/click-to-call";
/// The path of Call Disposition.
pub const DISPOSITION_PATH: &str = "/leadsquared/disposition";
/// The header that carries the connection's `action_key`.
pub const KEY_HEADER: &str = "x-llbridge-key";
/// The largest body taken (the webhook's bound).
pub const MAX_BODY: usize = 64 * 1024;

/// One request to an action URL.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    pub content_type: Option<&'a str>,
    /// The `X-Llbridge-Key` header.
    pub key: Option<&'a str>,
    pub body: &'a [u8],
}

/// The action URLs' use case.
pub struct Actions {
    pub config: Arc<dyn ConfigSource>,
    pub secrets: Arc<dyn Secrets>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// Dialpad's API (`Clients::dialpad`).
    pub clients: Arc<dyn Clients>,
    /// Where a disposition goes: into the call's state, as the webhook's events do.
    pub ingest: Arc<Ingest>,
    pub dialer: Dialer,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    ClickToCall,
    Disposition,
}

impl Action {
    fn job(self) -> &'static str {
        match self {
            Action::ClickToCall => "click_to_call",
            Action::Disposition => "crm_disposition",
        }
    }
}

/// A refusal: its status, reason code and words, which never contain the keyword `OK` in any
/// case (LeadSquared would take the answer for a success).
fn refuse(action: Action, status: u16, reason: &'static str, detail: &str) -> Response {
    let detail = if detail.to_lowercase().contains("ok") || reason.contains("ok") {
        "refused: see the reason"
    } else {
        detail
    };
    telemetry::job(action.job(), "refused", reason);
    tracing::info!(
        job = action.job(),
        decision = "refused",
        reason,
        status,
        detail,
        "leadsquared action refused"
    );
    Response {
        status,
        body: json!({"status": "error", "reason": reason, "detail": detail}),
    }
}

impl Actions {
    pub async fn handle(&self, req: Request<'_>) -> Response {
        // Behind a stage or a prefix, the path ends the same.
        let path = req.path.trim_end_matches('/');
        let action = match () {
            _ if path.ends_with(CLICK_TO_CALL_PATH) => Action::ClickToCall,
            _ if path.ends_with(DISPOSITION_PATH) => Action::Disposition,
            _ => {
                return Response {
                    status: 404,
                    body: json!({"status": "error", "reason": "not_found"}),
                }
            }
        };
        let method = req.method.to_ascii_uppercase();
        let allowed = match action {
            Action::ClickToCall => matches!(method.as_str(), "GET" | "POST" | "HEAD"),
            Action::Disposition => matches!(method.as_str(), "POST" | "HEAD"),
        };
        if !allowed {
            return refuse(
                action,
                405,
                "method_not_allowed",
                "use POST (or GET for click to call)",
            );
        }
        if req.body.len() > MAX_BODY {
            return refuse(
                action,
                413,
                "body_too_large",
                &format!("the body is larger than {MAX_BODY} bytes"),
            );
        }
        let inst = match self.config.installation().await {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(job = action.job(), decision = "error", reason = "config_unavailable", error = %e,
                    "leadsquared action: config unavailable");
                return refuse(
                    action,
                    503,
                    "config_unavailable",
                    "the installation config could not be read",
                );
            }
        };
        let keyed: Vec<(&String, &LeadSquaredConnection)> = inst
            .connections
            .iter()
            .filter(|(_, c)| c.kind == KIND)
            .filter_map(|(n, c)| c.settings::<LeadSquaredConnection>().map(|s| (n, s)))
            .filter(|(_, c)| c.action_key.is_some())
            .collect();
        if keyed.is_empty() {
            return refuse(
                action,
                404,
                "not_enabled",
                "no LeadSquared connection has an action_key",
            );
        }
        if method == "HEAD" {
            // LeadSquared may probe the URL before it uses it.
            return Response {
                status: 200,
                body: Value::Null,
            };
        }
        let (name, connection) = match self.authenticate(&keyed, req.key).await {
            Ok(c) => c,
            Err(r) => return refuse(action, r.0, r.1, r.2),
        };
        let params = match params(req) {
            Ok(p) => p,
            Err(detail) => return refuse(action, 400, "unreadable_body", &detail),
        };
        match action {
            Action::ClickToCall => self.click(&inst, name, connection, &params).await,
            Action::Disposition => self.disposition(&params).await,
        }
    }

    /// The connection whose `action_key` the request carries.
    async fn authenticate<'c>(
        &self,
        keyed: &[(&'c String, &'c LeadSquaredConnection)],
        given: Option<&str>,
    ) -> Result<(&'c str, &'c LeadSquaredConnection), (u16, &'static str, &'static str)> {
        let given = given.map(str::trim).unwrap_or_default();
        let mut unreadable = false;
        for (name, c) in keyed {
            let Some(r) = &c.action_key else { continue };
            let key = match self.secrets.get(r).await {
                Ok(k) => k,
                Err(e) => {
                    tracing::error!(connection = %name, reason = "secret_unavailable", error = %e,
                        "leadsquared action: the action_key could not be read");
                    unreadable = true;
                    continue;
                }
            };
            let key = key.expose().trim();
            if key.chars().count() < MIN_ACTION_KEY_LEN {
                tracing::error!(connection = %name, reason = "action_key_too_short",
                    path = %format!("$.connections.{name}.action_key"),
                    "leadsquared action: the action_key is shorter than {MIN_ACTION_KEY_LEN} characters; it is not used");
                continue;
            }
            if !given.is_empty() && bool::from(key.as_bytes().ct_eq(given.as_bytes())) {
                return Ok((name.as_str(), c));
            }
        }
        if unreadable {
            return Err((
                503,
                "secret_unavailable",
                "the action key could not be read; try again",
            ));
        }
        Err((
            401,
            "bad_key",
            "the X-Llbridge-Key header is missing or wrong",
        ))
    }

    async fn click(
        &self,
        inst: &Installation,
        connection_name: &str,
        connection: &LeadSquaredConnection,
        p: &Params,
    ) -> Response {
        let a = Action::ClickToCall;
        let Some(email) = p.get(&["agent_email", "agentEmail", "AgentEmail"]) else {
            return refuse(a, 400, "missing_agent_email", "agent_email is required");
        };
        let Some(raw_number) = p.get(&[
            "phone_number",
            "phoneNumber",
            "PhoneNumberWithCountryCode",
            "customer_number",
        ]) else {
            return refuse(a, 400, "missing_phone_number", "phone_number is required");
        };
        let Some(number) = dialed(raw_number) else {
            return refuse(
                a,
                400,
                "invalid_phone_number",
                "phone_number is not a phone number: send E.164 or digits with the country code",
            );
        };
        if let Err(why) = number.dialable(&connection.click_to_call.allowed_countries) {
            return refuse(
                a,
                422,
                "number_not_allowed",
                &format!("{why}: not dialed (click_to_call.allowed_countries)"),
            );
        }
        let caller_id = match p.get(&["virtual_number", "virtualNumber", "VirtualNumber"]) {
            None => None,
            Some(v) => match dialed(v) {
                Some(n) => Some(n),
                None => {
                    return refuse(
                        a,
                        400,
                        "invalid_virtual_number",
                        "virtual_number is not a phone number",
                    )
                }
            },
        };
        let lead_id = p.get(&["lead_id", "leadId", "LeadId"]);
        let group = group(inst, connection_name, connection);
        let dialpad = match self.clients.dialpad(inst).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(job = a.job(), reason = "dialpad_unavailable", error = %e,
                    "click to call: no Dialpad client");
                return refuse(
                    a,
                    503,
                    "dialpad_unavailable",
                    "the Dialpad API key could not be used (dialpad.api_key)",
                );
            }
        };
        let click = Click {
            agent_email: email.to_owned(),
            number: number.clone(),
            group: group.map(|g| (g, "callcenter".to_owned())),
            caller_id,
            custom_data: lead_id.map(crate::fields::click_custom_data),
        };
        let records = Records {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
        };
        match self.dialer.start(dialpad.as_ref(), records, &click).await {
            Ok(started) => {
                let decision = if started.repeated {
                    "repeated"
                } else {
                    "started"
                };
                telemetry::job(a.job(), decision, "");
                tracing::info!(
                    job = a.job(),
                    decision,
                    call_id = %started.call_id,
                    dialpad_user = %started.user_id,
                    number = %mask(number.e164()),
                    lead_id = lead_id.unwrap_or_default(),
                    group = click.group.as_ref().map(|g| g.0.as_str()).unwrap_or_default(),
                    "click to call"
                );
                Response {
                    status: 200,
                    body: json!({"status": "OK", "call_id": started.call_id,
                        "repeated": started.repeated}),
                }
            }
            Err(r) => {
                if let Refused::Rejected(m) | Refused::Unavailable(m) = &r {
                    tracing::warn!(job = a.job(), reason = r.code(), error = %m, "click to call: Dialpad's answer");
                }
                let detail = match &r {
                    // Dialpad's own words go to the log line only: the answer stays free of
                    // the keyword.
                    Refused::Rejected(_) => {
                        "Dialpad refused the call (its message is in the log)".to_owned()
                    }
                    Refused::Unavailable(_) => {
                        "Dialpad could not be reached; no call was started".to_owned()
                    }
                    other => other.detail(),
                };
                refuse(a, r.status(), r.code(), &detail)
            }
        }
    }

    async fn disposition(&self, p: &Params) -> Response {
        let a = Action::Disposition;
        let Some(call_id) = p.get(&["callSessionId", "call_session_id", "CallSessionId"]) else {
            return refuse(
                a,
                400,
                "missing_call_session_id",
                "callSessionId is required",
            );
        };
        if call_id.len() > 64
            || !call_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return refuse(
                a,
                400,
                "invalid_call_session_id",
                "callSessionId is not a Dialpad call id",
            );
        }
        let Some(value) = p.get(&["dispositionValue", "disposition", "DispositionValue"]) else {
            return refuse(
                a,
                400,
                "missing_disposition",
                "dispositionValue is required",
            );
        };
        let answer = self.ingest.crm_disposition(call_id, value, KIND).await;
        if answer.status != 200 {
            return refuse(
                a,
                answer.status,
                "store_unavailable",
                "the disposition could not be recorded; send it again",
            );
        }
        let late = answer.body["late"].as_bool().unwrap_or(false);
        telemetry::job(
            a.job(),
            "merged",
            if late { "late_event_after_log" } else { "" },
        );
        tracing::info!(
            job = a.job(),
            decision = "merged",
            reason = if late { "late_event_after_log" } else { "" },
            call_id,
            disposition = value,
            "disposition from LeadSquared"
        );
        Response {
            status: 200,
            body: json!({"status": "OK", "call_id": call_id, "late": late}),
        }
    }
}

/// The call center a connection's clicks are placed for: `click_to_call.call_center`, else
/// the call center of its first call-center enablement.
fn group(inst: &Installation, name: &str, c: &LeadSquaredConnection) -> Option<String> {
    c.click_to_call.call_center.clone().or_else(|| {
        inst.enablements
            .iter()
            .filter(|e| e.connection == name && e.scope.level == ScopeLevel::CallCenter)
            .find_map(|e| e.scope.id.clone())
    })
}

/// A number as LeadSquared sends it: E.164, `+1-4158159602`, or digits with the country code.
fn dialed(raw: &str) -> Option<Phone> {
    let raw = raw.trim();
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let only_digits = raw
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'));
    if !raw.starts_with('+') && only_digits && digits.len() > 10 {
        return Phone::parse(&format!("+{digits}"));
    }
    Phone::parse(raw)
}

/// The request's parameters: the query string's, then the body's (JSON or a form).
struct Params(BTreeMap<String, String>);

impl Params {
    /// The first of `names` given, trimmed; a placeholder LeadSquared left unfilled
    /// (`@leadId`) counts as absent.
    fn get(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .filter_map(|n| self.0.get(*n))
            .map(|v| v.trim())
            .find(|v| !v.is_empty() && !v.starts_with('@'))
    }
}

fn params(req: Request<'_>) -> Result<Params, String> {
    let mut out = BTreeMap::new();
    if let Some(q) = req.query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            out.insert(k.into_owned(), v.into_owned());
        }
    }
    let body = std::str::from_utf8(req.body).map_err(|_| "the body is not UTF-8".to_owned())?;
    if body.trim().is_empty() {
        return Ok(Params(out));
    }
    let json_like = req
        .content_type
        .is_some_and(|t| t.to_ascii_lowercase().contains("json"))
        || body.trim_start().starts_with('{');
    if json_like {
        let v: Value =
            serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let Value::Object(o) = v else {
            return Err("the body must be a JSON object".into());
        };
        for (k, v) in o {
            let text = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            out.insert(k, text);
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
            out.insert(k.into_owned(), v.into_owned());
        }
    }
    Ok(Params(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(body: &'a [u8], query: Option<&'a str>, ct: Option<&'a str>) -> Request<'a> {
        Request {
            method: "POST",
            path: CLICK_TO_CALL_PATH,
            query,
            content_type: ct,
            key: None,
            body,
        }
    }

    #[test]
    fn parameters_come_as_json_a_form_or_a_query() {
        let j = params(req(
            br#"{"agent_email": "ana@example.com", "lead_id": 42}"#,
            None,
            Some("application/json"),
        ))
        .unwrap();
        assert_eq!(j.get(&["agent_email"]), Some("ana@example.com"));
        assert_eq!(j.get(&["lead_id"]), Some("42"));
        let f = params(req(
            b"agent_email=ana%40example.com&phone_number=%2B14158159602&lead_id=@leadId",
            None,
            Some("application/x-www-form-urlencoded"),
        ))
        .unwrap();
        assert_eq!(f.get(&["agent_email"]), Some("ana@example.com"));
        assert_eq!(f.get(&["phone_number"]), Some("+14158159602"));
        assert_eq!(f.get(&["lead_id"]), None, "an unfilled placeholder");
        let q = params(req(b"", Some("agent_email=ana%40example.com"), None)).unwrap();
        assert_eq!(q.get(&["agent_email"]), Some("ana@example.com"));
        assert!(params(req(b"{not json", None, Some("application/json"))).is_err());
    }

    #[test]
    fn numbers_as_leadsquared_writes_them() {
        for raw in [
            "+14158159602",
            "14158159602",
            "+1-4158159602",
            "1 415 815 9602",
        ] {
            assert_eq!(
                dialed(raw).map(|p| p.e164().to_owned()).as_deref(),
                Some("+14158159602"),
                "{raw}"
            );
        }
        assert_eq!(
            dialed("442079460958")
                .map(|p| p.e164().to_owned())
                .as_deref(),
            Some("+442079460958")
        );
        assert_eq!(dialed("not a number"), None);
    }

    #[test]
    fn no_refusal_says_the_keyword() {
        let refusals = [
            Refused::NoDialpadUser,
            Refused::RateLimited,
            Refused::InProgress,
            Refused::OutcomeUnknown,
            Refused::Rejected("the token was not accepted: look it up".into()),
            Refused::Unavailable("OK".into()),
        ];
        for r in refusals {
            let body = refuse(Action::ClickToCall, r.status(), r.code(), &r.detail()).body;
            assert!(!body.to_string().to_lowercase().contains("ok"), "{body}");
            assert_eq!(body["reason"], r.code());
        }
    }
}
