//! Dialpad call events, parsed leniently (see `docs/dialpad-events.md`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::lenient;

/// The state of a call leg. Unknown states are kept verbatim and never an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum CallState {
    Preanswer,
    Calling,
    Ringing,
    Connected,
    Queued,
    Hold,
    Merged,
    Parked,
    Takeover,
    Eavesdrop,
    Monitor,
    Barge,
    Blocked,
    Admin,
    Hangup,
    Missed,
    Voicemail,
    Recording,
    AdminRecording,
    VoicemailUploaded,
    Transcription,
    CallTranscription,
    RecapSummary,
    RecapOutcome,
    RecapPurposes,
    RecapActionItems,
    Csat,
    Pcsat,
    Dispositions,
    Postcall,
    AiPlaybook,
    Other(String),
}

/// Where a state falls in a leg's life ([`CallState::phase`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The leg is in progress: ringing, connected, on hold...
    Live,
    /// The state ends the leg: `hangup`, `missed`, `voicemail`.
    Ends,
    /// A detail after hangup that goes into the call log: dispositions, recordings, the
    /// voicemail, the Dialpad Ai recap.
    LogDetail,
    /// After the call, not logged: transcripts, surveys, playbooks.
    AfterCall,
    /// A state this product does not know.
    Unknown,
}

const STATES: &[(&str, CallState)] = &[
    ("preanswer", CallState::Preanswer),
    ("calling", CallState::Calling),
    ("ringing", CallState::Ringing),
    ("connected", CallState::Connected),
    ("queued", CallState::Queued),
    ("hold", CallState::Hold),
    ("merged", CallState::Merged),
    ("parked", CallState::Parked),
    ("takeover", CallState::Takeover),
    ("eavesdrop", CallState::Eavesdrop),
    ("monitor", CallState::Monitor),
    ("barge", CallState::Barge),
    ("blocked", CallState::Blocked),
    ("admin", CallState::Admin),
    ("hangup", CallState::Hangup),
    ("missed", CallState::Missed),
    ("voicemail", CallState::Voicemail),
    ("recording", CallState::Recording),
    ("admin_recording", CallState::AdminRecording),
    ("voicemail_uploaded", CallState::VoicemailUploaded),
    ("transcription", CallState::Transcription),
    ("call_transcription", CallState::CallTranscription),
    ("recap_summary", CallState::RecapSummary),
    ("recap_outcome", CallState::RecapOutcome),
    ("recap_purposes", CallState::RecapPurposes),
    ("recap_action_items", CallState::RecapActionItems),
    ("csat", CallState::Csat),
    ("pcsat", CallState::Pcsat),
    ("dispositions", CallState::Dispositions),
    ("postcall", CallState::Postcall),
    ("ai_playbook", CallState::AiPlaybook),
];

impl From<String> for CallState {
    fn from(s: String) -> Self {
        let lower = s.trim().to_ascii_lowercase();
        STATES
            .iter()
            .find(|(name, _)| *name == lower)
            .map(|(_, st)| st.clone())
            .unwrap_or(CallState::Other(lower))
    }
}

impl From<CallState> for String {
    fn from(s: CallState) -> Self {
        s.as_str().to_owned()
    }
}

impl CallState {
    pub fn as_str(&self) -> &str {
        match self {
            CallState::Other(s) => s,
            known => STATES
                .iter()
                .find(|(_, st)| st == known)
                .map(|(name, _)| *name)
                .unwrap_or("unknown"),
        }
    }

    /// Where the state falls in a leg's life: one match over every state, so that a new one
    /// is placed here before it compiles.
    pub fn phase(&self) -> Phase {
        match self {
            CallState::Preanswer
            | CallState::Calling
            | CallState::Ringing
            | CallState::Connected
            | CallState::Queued
            | CallState::Hold
            | CallState::Merged
            | CallState::Parked
            | CallState::Takeover
            | CallState::Eavesdrop
            | CallState::Monitor
            | CallState::Barge
            | CallState::Blocked
            | CallState::Admin => Phase::Live,
            CallState::Hangup | CallState::Missed | CallState::Voicemail => Phase::Ends,
            CallState::Dispositions
            | CallState::Recording
            | CallState::AdminRecording
            | CallState::VoicemailUploaded
            | CallState::RecapSummary
            | CallState::RecapOutcome
            | CallState::RecapPurposes
            | CallState::RecapActionItems => Phase::LogDetail,
            CallState::Transcription
            | CallState::CallTranscription
            | CallState::Csat
            | CallState::Pcsat
            | CallState::Postcall
            | CallState::AiPlaybook => Phase::AfterCall,
            CallState::Other(_) => Phase::Unknown,
        }
    }

    /// States that end a leg: `hangup` (answered or not), `missed`, `voicemail`.
    pub fn ends_leg(&self) -> bool {
        self.phase() == Phase::Ends
    }

    /// The states of a leg in progress (ringing, connected, on hold...), as opposed to those
    /// that end it or come after it.
    pub fn is_live(&self) -> bool {
        self.phase() == Phase::Live
    }

    /// The details that come after hangup and go into a call log: dispositions, recordings,
    /// the voicemail, the Dialpad Ai recap.
    pub fn goes_into_the_log(&self) -> bool {
        self.phase() == Phase::LogDetail
    }

    /// The states in which an agent's phone is offered or takes the call (screen-pop triggers).
    pub fn offers_agent(&self) -> bool {
        matches!(self, CallState::Ringing | CallState::Connected)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn parse(v: Option<&Value>) -> Option<Direction> {
        match lenient::string(v)?.to_ascii_lowercase().as_str() {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// What a `target`-like object designates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    User,
    CallCenter,
    Department,
    Office,
    Other(String),
}

impl PartyKind {
    fn parse(s: &str) -> PartyKind {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace([' ', '-'], "_")
            .as_str()
        {
            "user" | "staff" => PartyKind::User,
            "callcenter" | "call_center" => PartyKind::CallCenter,
            "department" => PartyKind::Department,
            "office" => PartyKind::Office,
            other => PartyKind::Other(other.to_owned()),
        }
    }
}

/// `target`, `entry_point_target`, `proxy_target` or `contact`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Party {
    pub id: Option<String>,
    pub kind: Option<PartyKind>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl Party {
    /// Reads a party object; `{}` or anything that is not an object reads as absent.
    fn parse(v: Option<&Value>) -> Option<Party> {
        let obj = v?.as_object()?;
        let party = Party {
            id: lenient::id(obj.get("id")),
            kind: lenient::string(obj.get("type")).map(|t| PartyKind::parse(&t)),
            name: lenient::string(obj.get("name")),
            email: lenient::string(obj.get("email")),
            phone: lenient::string(obj.get("phone")),
        };
        let empty = party.id.is_none()
            && party.kind.is_none()
            && party.name.is_none()
            && party.email.is_none()
            && party.phone.is_none();
        (!empty).then_some(party)
    }

    pub fn is(&self, kind: &PartyKind) -> bool {
        self.kind.as_ref() == Some(kind)
    }
}

/// The kind of a recording or share link, as `call_log_link_type` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// `public_call_review_share_link`
    Public,
    /// `company_call_review_share_link`
    Company,
    /// `recording_details[].url` / `recording_url[]`
    Recording,
    /// `admin_recording_urls[]`, or recording details of an admin type
    AdminRecording,
    /// `voicemail_link`
    Voicemail,
}

impl LinkKind {
    pub fn parse(s: &str) -> Option<LinkKind> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace([' ', '-'], "_")
            .as_str()
        {
            "public" | "public_link" | "public_call_review_share_link" => Some(LinkKind::Public),
            "company" | "company_link" | "company_call_review_share_link" => {
                Some(LinkKind::Company)
            }
            "recording" | "recording_url" => Some(LinkKind::Recording),
            "admin_recording" | "admin_recording_url" | "admin_recording_urls" => {
                Some(LinkKind::AdminRecording)
            }
            "voicemail" | "voicemail_link" => Some(LinkKind::Voicemail),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Link {
    pub kind: LinkKind,
    pub url: String,
}

/// The longest text kept of a stored event.
pub const MAX_TEXT: usize = 256;
/// The longest link kept (longer ones are dropped, not cut: a cut URL is a broken link).
pub const MAX_URL: usize = 2048;
/// The most list items kept of a stored event.
pub const MAX_LIST: usize = 8;
/// The longest recap text kept (a summary is a paragraph, not a label).
pub const MAX_RECAP: usize = 2000;

/// The longest `custom_data` kept (what this product puts there is a few dozen characters).
pub const MAX_CUSTOM_DATA: usize = 1024;

/// `custom_data`: a string as given when the call was started; an object or a number (a
/// tenant that decodes it) is kept as its JSON text.
fn parse_custom_data(o: &Map<String, Value>) -> Option<String> {
    match o.get("custom_data")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::String(_) | Value::Null => None,
        v => Some(v.to_string()),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_TEXT).collect()
}

/// One Dialpad call event (one leg, one state), read leniently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEvent {
    pub call_id: String,
    pub master_call_id: Option<String>,
    pub entry_point_call_id: Option<String>,
    pub operator_call_id: Option<String>,
    pub group_id: Option<String>,
    pub state: CallState,
    pub direction: Option<Direction>,
    /// Epoch milliseconds; 0 when Dialpad sent none.
    pub event_timestamp: i64,
    pub date_started: Option<i64>,
    pub date_rang: Option<i64>,
    pub date_connected: Option<i64>,
    pub date_ended: Option<i64>,
    pub duration_ms: Option<f64>,
    pub total_duration_ms: Option<f64>,
    pub talk_time_ms: Option<f64>,
    pub internal_number: Option<String>,
    pub external_number: Option<String>,
    pub target: Option<Party>,
    pub entry_point_target: Option<Party>,
    pub proxy_target: Option<Party>,
    pub contact: Option<Party>,
    pub links: Vec<Link>,
    pub dispositions: Vec<String>,
    /// The Dialpad Ai recap texts of a `recap_*` event (summary, outcome, purposes or action
    /// items, one text per item).
    #[serde(default)]
    pub recap: Vec<String>,
    pub was_recorded: Option<bool>,
    pub is_transferred: Option<bool>,
    /// The text given as `custom_data` when the call was started through the API (click to
    /// call), passed through by Dialpad to the call's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
}

/// Why an event body is not a usable call event (a 400 at the webhook).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error("event must be a JSON object")]
    NotAnObject,
    #[error("event has no usable call_id")]
    NoCallId,
    #[error("event has no state")]
    NoState,
}

impl EventError {
    pub fn code(&self) -> &'static str {
        match self {
            EventError::NotJson(_) => "not_json",
            EventError::NotAnObject => "not_an_object",
            EventError::NoCallId => "no_call_id",
            EventError::NoState => "no_state",
        }
    }
}

impl CallEvent {
    /// Parses JSON bytes into an event, and returns the raw JSON value beside it.
    pub fn parse(bytes: &[u8]) -> Result<(CallEvent, Value), EventError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| EventError::NotJson(e.to_string()))?;
        let event = CallEvent::from_value(&value)?;
        Ok((event, value))
    }

    pub fn from_value(value: &Value) -> Result<CallEvent, EventError> {
        let o = value.as_object().ok_or(EventError::NotAnObject)?;
        let call_id = lenient::id(o.get("call_id")).ok_or(EventError::NoCallId)?;
        let state = lenient::string(o.get("state"))
            .map(CallState::from)
            .ok_or(EventError::NoState)?;
        Ok(CallEvent {
            master_call_id: lenient::id(o.get("master_call_id")),
            entry_point_call_id: lenient::id(o.get("entry_point_call_id")),
            operator_call_id: lenient::id(o.get("operator_call_id")),
            group_id: lenient::string(o.get("group_id")),
            direction: Direction::parse(o.get("direction")),
            event_timestamp: lenient::millis(o.get("event_timestamp")).unwrap_or(0),
            date_started: lenient::millis(o.get("date_started")),
            date_rang: lenient::millis(o.get("date_rang")),
            date_connected: lenient::millis(o.get("date_connected")),
            date_ended: lenient::millis(o.get("date_ended")),
            duration_ms: lenient::float_ms(o.get("duration")),
            total_duration_ms: lenient::float_ms(o.get("total_duration")),
            talk_time_ms: lenient::float_ms(o.get("talk_time")),
            internal_number: lenient::string(o.get("internal_number")),
            external_number: lenient::string(o.get("external_number")),
            target: Party::parse(o.get("target")),
            entry_point_target: Party::parse(o.get("entry_point_target")),
            proxy_target: Party::parse(o.get("proxy_target")),
            contact: Party::parse(o.get("contact")),
            links: parse_links(o),
            dispositions: parse_dispositions(o),
            recap: parse_recap(o),
            was_recorded: lenient::boolean(o.get("was_recorded")),
            is_transferred: lenient::boolean(o.get("is_transferred")),
            custom_data: parse_custom_data(o),
            call_id,
            state,
        })
    }

    /// The dedupe key of an event: `(call_id, state, event_timestamp)`.
    pub fn dedupe_key(&self) -> (String, String, i64) {
        (
            self.call_id.clone(),
            self.state.as_str().to_owned(),
            self.event_timestamp,
        )
    }

    /// Every other leg this event names (`master_call_id`, `entry_point_call_id`,
    /// `operator_call_id`), without its own id.
    pub fn linked_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = [
            &self.master_call_id,
            &self.entry_point_call_id,
            &self.operator_call_id,
        ]
        .into_iter()
        .flatten()
        .filter(|id| **id != self.call_id)
        .cloned()
        .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// This event with every text cut to [`MAX_TEXT`] characters and its lists to
    /// [`MAX_LIST`] items: what the rules need, in a bounded size (the leg's state must fit a
    /// DynamoDB item however large Dialpad's events are).
    pub fn clipped(&self) -> CallEvent {
        let text = |s: &Option<String>| s.as_ref().map(|s| clip(s));
        let party = |p: &Option<Party>| {
            p.as_ref().map(|p| Party {
                id: text(&p.id),
                kind: p.kind.clone().map(|k| match k {
                    PartyKind::Other(o) => PartyKind::Other(clip(&o)),
                    k => k,
                }),
                name: text(&p.name),
                email: text(&p.email),
                phone: text(&p.phone),
            })
        };
        CallEvent {
            call_id: self.call_id.clone(),
            master_call_id: text(&self.master_call_id),
            entry_point_call_id: text(&self.entry_point_call_id),
            operator_call_id: text(&self.operator_call_id),
            group_id: text(&self.group_id),
            state: match &self.state {
                CallState::Other(o) => CallState::Other(clip(o)),
                s => s.clone(),
            },
            target: party(&self.target),
            entry_point_target: party(&self.entry_point_target),
            proxy_target: party(&self.proxy_target),
            contact: party(&self.contact),
            internal_number: text(&self.internal_number),
            external_number: text(&self.external_number),
            links: self
                .links
                .iter()
                .filter(|l| l.url.len() <= MAX_URL)
                .take(MAX_LIST)
                .cloned()
                .collect(),
            dispositions: self
                .dispositions
                .iter()
                .take(MAX_LIST)
                .map(|d| clip(d))
                .collect(),
            recap: self
                .recap
                .iter()
                .take(MAX_LIST)
                .map(|r| r.chars().take(MAX_RECAP).collect())
                .collect(),
            custom_data: self
                .custom_data
                .as_ref()
                .map(|c| c.chars().take(MAX_CUSTOM_DATA).collect()),
            ..self.clone()
        }
    }

    /// True when this leg's own target is a call center (the call-center leg).
    pub fn is_call_center_leg(&self) -> bool {
        self.target
            .as_ref()
            .is_some_and(|t| t.is(&PartyKind::CallCenter))
    }

    /// True when this leg's own target is a user (an agent leg, or a user line).
    pub fn is_user_leg(&self) -> bool {
        self.target.as_ref().is_some_and(|t| t.is(&PartyKind::User))
    }
}

fn parse_links(o: &Map<String, Value>) -> Vec<Link> {
    let mut links = Vec::new();
    let mut push = |kind: LinkKind, url: Option<String>| {
        if let Some(url) = url {
            links.push(Link { kind, url });
        }
    };
    if let Some(Value::Array(details)) = o.get("recording_details") {
        for d in details {
            let Some(obj) = d.as_object() else { continue };
            let admin = lenient::string(obj.get("recording_type"))
                .is_some_and(|t| t.to_ascii_lowercase().contains("admin"));
            let kind = if admin {
                LinkKind::AdminRecording
            } else {
                LinkKind::Recording
            };
            push(kind, lenient::string(obj.get("url")));
        }
    }
    for url in lenient::strings(o.get("recording_url")) {
        push(LinkKind::Recording, Some(url));
    }
    for url in lenient::strings(o.get("admin_recording_urls")) {
        push(LinkKind::AdminRecording, Some(url));
    }
    push(
        LinkKind::Public,
        lenient::string(o.get("public_call_review_share_link")),
    );
    push(
        LinkKind::Company,
        lenient::string(o.get("company_call_review_share_link")),
    );
    push(
        LinkKind::Voicemail,
        lenient::string(o.get("voicemail_link")),
    );
    links.sort();
    links.dedup();
    links
}

/// `call_dispositions` (also seen as `dispositions`): a string, a list of strings, or objects
/// with `name`, `disposition` or `label`.
fn parse_dispositions(o: &Map<String, Value>) -> Vec<String> {
    let raw = o
        .get("call_dispositions")
        .filter(|v| !v.is_null())
        .or_else(|| o.get("dispositions"));
    let mut out = Vec::new();
    let mut take = |v: &Value| {
        let label = match v {
            Value::Object(obj) => ["name", "disposition", "label"]
                .iter()
                .find_map(|k| lenient::string(obj.get(*k))),
            other => lenient::string(Some(other)),
        };
        if let Some(label) = label {
            if !out.contains(&label) {
                out.push(label);
            }
        }
    };
    match raw {
        Some(Value::Array(items)) => items.iter().for_each(&mut take),
        Some(v) => take(v),
        None => {}
    }
    out
}

/// The recap text of a `recap_*` event: on the field named like its state (`recap_summary`
/// a string, `recap_action_items` a list), or, since the shape is not settled, on objects with
/// `summary`, `text`, `content` or `title`.
fn parse_recap(o: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    let mut take = |v: &Value| {
        let text = match v {
            Value::Object(obj) => ["summary", "text", "content", "title"]
                .iter()
                .find_map(|k| lenient::string(obj.get(*k))),
            other => lenient::string(Some(other)),
        };
        if let Some(text) = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
            if !out.contains(&text) {
                out.push(text);
            }
        }
    };
    for field in [
        "recap_summary",
        "recap_outcome",
        "recap_purposes",
        "recap_action_items",
    ] {
        match o.get(field) {
            Some(Value::Array(items)) => items.iter().for_each(&mut take),
            Some(v) if !v.is_null() => take(v),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests;
