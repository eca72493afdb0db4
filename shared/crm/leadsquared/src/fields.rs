//! Every request body and answer of LeadSquared's Generic Telephony Connector that this CRM
//! relies on, and what of it is shown by the connector's documentation and what is assumed.
//! A real account's differences are meant to be one edit away, here.
//!
//! Call log (`POST <call_log_url>`, JSON), fields shown by the documentation:
//! `SourceNumber`, `DestinationNumber`, `DisplayNumber`, `StartTime`, `EndTime`
//! (`YYYY-MM-DD HH:MM:SS`), `CallDuration` (seconds), `Status` (`Answered`, `Missed`,
//! `Voicemail`), `Direction` (`Inbound`, `Outbound`), `CallSessionId` ("should be unique to
//! avoid posting duplicate call logs"), `ResourceURL`, `CallNotes`. Assumed:
//! * times are UTC (the documentation's sample shows no zone);
//! * numbers in E.164 are accepted (its samples are E.164);
//! * a second call log with the same `CallSessionId` is refused, and the refusal says so
//!   (a 409, or an error answer whose text says "duplicate", "already exists", "already
//!   logged"...): such a refusal means "logged before";
//! * the answer is JSON, `{"Status": "Success", ...}` or `{"Status": "Error", "Message" |
//!   "ExceptionMessage": "..."}`; an id, when given, is at `Message.Id`, `Id` or `RequestId`.
//!   Any other 2xx answer is taken as logged.
//!
//! Agent popup (`POST <agent_popup_url>`, JSON): the documentation says only that the
//! popup is posted as JSON when an inbound call reaches an agent. Assumed, all of it: the
//! call log's `SourceNumber` (the caller), `DestinationNumber` (the agent's number, else the
//! call center's), `DisplayNumber`, `Direction` and `CallSessionId`, and `AgentEmail` and
//! `AgentName` (the Dialpad agent), from which LeadSquared finds the lead and the user.

use chrono::{DateTime, Utc};
use llbridge_domain::call_record::{self, call_times, duration_ms, recording_url};
use llbridge_domain::conversation::{recap_text, Conversation};
use llbridge_domain::event::{Direction, LinkKind};
use llbridge_domain::phone::Phone;
use llbridge_usecases::crm::Offer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The time format of `StartTime` and `EndTime`.
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// `Status` of a call log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallStatus {
    Answered,
    Missed,
    Voicemail,
}

/// `Direction` of a call log or popup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallDirection {
    Inbound,
    Outbound,
}

/// A call log, as posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallLog {
    /// Inbound: the caller (the lead). Outbound: the agent, else the call center.
    pub source_number: String,
    /// Inbound: the agent, else the call center. Outbound: the lead.
    pub destination_number: String,
    /// The call center's number (the virtual number the lead sees).
    pub display_number: String,
    pub start_time: String,
    pub end_time: String,
    /// Whole seconds of talk: 0 for a call nobody answered.
    pub call_duration: u64,
    pub status: CallStatus,
    pub direction: CallDirection,
    /// The Dialpad call id: LeadSquared refuses a second log with the same id.
    pub call_session_id: String,
    /// The recording link of the enablement's `call_log_link_type`, when there is one.
    #[serde(
        rename = "ResourceURL",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub resource_url: Option<String>,
    /// The disposition and the Dialpad Ai recap, when there are any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub call_notes: Option<String>,
    /// The lead a click to call was for: it names the lead when several share the number.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lead_id: Option<String>,
}

/// An agent popup, as posted (assumed, see the module's documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentPopup {
    pub source_number: String,
    pub destination_number: String,
    pub display_number: String,
    pub direction: CallDirection,
    pub call_session_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub agent_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub agent_name: Option<String>,
    /// The lead a click to call was for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lead_id: Option<String>,
}

/// Why a conversation cannot be posted to LeadSquared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpostable {
    /// No number for the lead (an anonymous caller, or a number that is not one).
    NoLeadNumber,
    /// Neither the call center's nor the agent's number is known.
    NoDisplayNumber,
    /// The conversation has no usable time.
    NoCallTimes,
}

impl Unpostable {
    /// The reason code logged for the dropped call log or popup.
    pub fn code(&self) -> &'static str {
        match self {
            Unpostable::NoLeadNumber => "leadsquared_no_lead_number",
            Unpostable::NoDisplayNumber => "leadsquared_no_display_number",
            Unpostable::NoCallTimes => "leadsquared_no_call_times",
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Unpostable::NoLeadNumber => "the call has no usable number for the lead",
            Unpostable::NoDisplayNumber => {
                "neither the call center's nor the agent's number is known"
            }
            Unpostable::NoCallTimes => "the call has no usable start or end time",
        }
    }
}

fn e164(raw: Option<&str>) -> Option<String> {
    raw.and_then(Phone::parse).map(|p| p.e164().to_owned())
}

/// The numbers of a conversation: the lead's, the agent's, the call center's.
struct Numbers {
    lead: String,
    agent: Option<String>,
    center: Option<String>,
}

fn numbers(conv: &Conversation, agent_phone: Option<&str>) -> Result<Numbers, Unpostable> {
    let lead = e164(conv.caller_number.as_deref()).ok_or(Unpostable::NoLeadNumber)?;
    let center = e164(conv.call_center.as_ref().and_then(|c| c.number.as_deref()));
    let agent = e164(agent_phone);
    if center.is_none() && agent.is_none() {
        return Err(Unpostable::NoDisplayNumber);
    }
    Ok(Numbers {
        lead,
        agent,
        center,
    })
}

impl Numbers {
    /// The company's side of the call: the agent, else the call center.
    fn ours(&self) -> String {
        self.agent
            .clone()
            .or_else(|| self.center.clone())
            .unwrap_or_default()
    }

    fn display(&self) -> String {
        self.center
            .clone()
            .or_else(|| self.agent.clone())
            .unwrap_or_default()
    }
}

fn direction(conv: &Conversation) -> CallDirection {
    match conv.direction {
        Some(Direction::Outbound) => CallDirection::Outbound,
        Some(Direction::Inbound) | None => CallDirection::Inbound,
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.format(TIME_FORMAT).to_string()
}

/// `Status`: answered, else voicemail when the caller reached it, else missed.
pub fn status(conv: &Conversation) -> CallStatus {
    match call_record::status(conv) {
        call_record::CallStatus::Answered => CallStatus::Answered,
        call_record::CallStatus::Voicemail => CallStatus::Voicemail,
        call_record::CallStatus::Missed => CallStatus::Missed,
    }
}

/// `CallNotes`: the disposition (when the agent picked one), then the recap (when asked for),
/// its parts labelled.
pub fn notes(conv: &Conversation, include_recap: bool) -> Option<String> {
    let disposition = conv
        .disposition()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let recap = recap_text(conv).filter(|_| include_recap);
    let parts: Vec<String> = disposition.into_iter().chain(recap).collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// The call log of a finished conversation.
pub fn call_log(
    conv: &Conversation,
    link_type: Option<LinkKind>,
    include_recap: bool,
) -> Result<CallLog, Unpostable> {
    let n = numbers(conv, conv.agent.as_ref().and_then(|a| a.phone.as_deref()))?;
    let (start, end) = call_times(conv).ok_or(Unpostable::NoCallTimes)?;
    let direction = direction(conv);
    let (source_number, destination_number) = match direction {
        CallDirection::Inbound => (n.lead.clone(), n.ours()),
        CallDirection::Outbound => (n.ours(), n.lead.clone()),
    };
    let call_duration = if conv.answered {
        duration_ms(conv).map_or(0, |ms| (ms.max(0) / 1000) as u64)
    } else {
        0
    };
    Ok(CallLog {
        source_number,
        destination_number,
        display_number: n.display(),
        start_time: time(start),
        end_time: time(end),
        call_duration,
        status: status(conv),
        direction,
        call_session_id: conv.dialpad_call_id.clone(),
        resource_url: recording_url(conv, link_type),
        call_notes: notes(conv, include_recap),
        lead_id: lead_id(conv),
    })
}

/// The key under which a click to call's `custom_data` carries the lead's id.
const LEAD_ID_KEY: &str = "leadsquared_lead_id";

/// The `custom_data` of a call started for a click on the lead `lead_id`: Dialpad passes it
/// through to the call's events, and the call log names the lead by it.
pub fn click_custom_data(lead_id: &str) -> String {
    serde_json::json!({ LEAD_ID_KEY: lead_id }).to_string()
}

/// The lead a conversation's call was started for by a click to call, if it was.
pub fn lead_id(conv: &Conversation) -> Option<String> {
    let data: Value = serde_json::from_str(conv.custom_data.as_deref()?).ok()?;
    match data.get(LEAD_ID_KEY)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The agent popup of an inbound call offered to an agent.
pub fn agent_popup(conv: &Conversation, offer: &Offer<'_>) -> Result<AgentPopup, Unpostable> {
    let n = numbers(conv, offer.agent.phone.as_deref())?;
    Ok(AgentPopup {
        source_number: n.lead.clone(),
        destination_number: n.ours(),
        display_number: n.display(),
        direction: CallDirection::Inbound,
        call_session_id: offer.call_id.to_owned(),
        agent_email: offer.agent.email.clone(),
        agent_name: offer.agent.name.clone(),
        lead_id: lead_id(conv),
    })
}

/// What an answer of LeadSquared says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Done; LeadSquared's id, when given.
    Done { id: Option<String> },
    /// Refused as a duplicate of an earlier post.
    Duplicate(String),
    /// Refused for another reason: retrying the same request cannot help.
    Refused(String),
    /// Throttled (429): refused before any processing.
    Throttled,
    /// A 5xx or 408: the request may or may not have been processed.
    Unknown(String),
}

/// The longest text of an answer quoted in a log line.
const MAX_QUOTE: usize = 200;

fn quote(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(MAX_QUOTE)
        .collect()
}

/// The message of an error answer: `ExceptionMessage`, `Message` or `message` (a string),
/// else the start of the body; phone numbers in any format masked.
fn message(json: &Value, body: &[u8]) -> String {
    let text = ["ExceptionMessage", "Message", "message", "error"]
        .iter()
        .find_map(|k| json.get(*k).and_then(Value::as_str))
        .map(|m| m.chars().take(MAX_QUOTE).collect())
        .unwrap_or_else(|| quote(body));
    llbridge_domain::phone::mask_in_text(&text)
}

fn says_duplicate(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    [
        "duplicate",
        "already exist",
        "already logged",
        "already posted",
        "already been",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// The id of a successful answer: `Message.Id`, `Id` or `RequestId`.
fn id(json: &Value) -> Option<String> {
    [
        json.pointer("/Message/Id"),
        json.get("Id"),
        json.get("RequestId"),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Reads an answer: its HTTP status and body.
pub fn read_answer(status: u16, body: &[u8]) -> Answer {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match status {
        200..=299 => {
            let error = json
                .get("Status")
                .or_else(|| json.get("status"))
                .and_then(Value::as_str)
                .is_some_and(|s| {
                    matches!(
                        s.trim().to_ascii_lowercase().as_str(),
                        "error" | "failure" | "failed"
                    )
                });
            if !error {
                Answer::Done { id: id(&json) }
            } else if says_duplicate(body) {
                Answer::Duplicate(message(&json, body))
            } else {
                Answer::Refused(message(&json, body))
            }
        }
        429 => Answer::Throttled,
        // Some accounts answer their refusals with a 500: a body that says "duplicate" is
        // an answer, whatever its status.
        408 | 500..=599 if says_duplicate(body) => Answer::Duplicate(message(&json, body)),
        408 | 500..=599 => Answer::Unknown(format!("HTTP {status}")),
        409 => Answer::Duplicate(message(&json, body)),
        _ if says_duplicate(body) => Answer::Duplicate(message(&json, body)),
        _ => Answer::Refused(format!("HTTP {status}: {}", message(&json, body))),
    }
}

#[cfg(test)]
mod tests;

/// The e-mail of a Call Route answer's owner: a user object (`EmailAddress`, keys in any case),
/// a one-element list of them, or the object under `Message`/`Owner`. Assumed shape (see
/// `docs/leadsquared.md`).
pub fn owner_email(answer: &Value) -> Option<String> {
    let user = match answer {
        Value::Array(items) => items.first()?,
        Value::Object(o) => o
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("message") || k.eq_ignore_ascii_case("owner"))
            .map(|(_, v)| v)
            .filter(|v| v.is_object() || v.is_array())
            .unwrap_or(answer),
        _ => return None,
    };
    if let Value::Array(_) = user {
        return owner_email(user);
    }
    let o = user.as_object()?;
    o.iter()
        .find(|(k, _)| {
            ["emailaddress", "email", "owneremailaddress"]
                .contains(&k.to_ascii_lowercase().as_str())
        })
        .and_then(|(_, v)| v.as_str())
        .map(str::trim)
        .filter(|e| e.contains('@'))
        .map(str::to_owned)
}
