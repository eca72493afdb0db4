//! Dialpad SMS events, read leniently: a text to or from a contact center (`docs/dialpad-events.md`,
//! "SMS events"). They come to the same webhook as call events and are told apart by shape: a
//! text has an `id` and no `call_id` or `state`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::event::Direction;
use crate::lenient;

/// The longest text kept.
pub const MAX_TEXT: usize = 4000;
/// At most this many MMS links are kept.
pub const MAX_MEDIA: usize = 10;

/// The sender or receiver on Dialpad's side (`target`), or the other party (`contact`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TextParty {
    pub id: Option<String>,
    /// `user`, `department`, `callcenter`, `office`... (lower case, `_` removed).
    pub kind: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
}

/// One text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextEvent {
    /// Dialpad's SMS id.
    pub id: String,
    /// Epoch ms; 0 when Dialpad sent none.
    pub created_ms: i64,
    pub direction: Option<Direction>,
    pub target: TextParty,
    pub contact: TextParty,
    /// The Dialpad user who sent it (an outbound text of a group).
    pub sender_id: Option<String>,
    pub from_number: Option<String>,
    pub to_numbers: Vec<String>,
    /// `None`: the event carries no text (the API key lacks `message_content_export`).
    pub text: Option<String>,
    pub media: Vec<String>,
    pub status: Option<String>,
}

/// What a webhook body is, by shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Call,
    Text,
}

/// A call event has a `call_id` or a `state`; a text has an `id` and neither.
pub fn shape(v: &Value) -> Shape {
    match v.as_object() {
        Some(o)
            if !o.contains_key("call_id") && !o.contains_key("state") && o.contains_key("id") =>
        {
            Shape::Text
        }
        _ => Shape::Call,
    }
}

/// Delivery states of a status subscription's events: not a new text.
const DELIVERY_STATES: [&str; 6] = [
    "sent",
    "delivered",
    "failed",
    "undelivered",
    "delivery_failed",
    "read",
];

/// Why a text body is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("text event must be a JSON object")]
    NotAnObject,
    #[error("text event has no usable id")]
    NoId,
}

impl TextError {
    pub fn code(&self) -> &'static str {
        match self {
            TextError::NotAnObject => "not_an_object",
            TextError::NoId => "no_sms_id",
        }
    }
}

fn party(v: Option<&Value>) -> TextParty {
    let Some(o) = v.and_then(Value::as_object) else {
        return TextParty::default();
    };
    TextParty {
        id: lenient::id(o.get("id")),
        kind: lenient::string(o.get("type")).map(|t| t.to_ascii_lowercase().replace('_', "")),
        name: lenient::string(o.get("name")),
        phone: lenient::string(o.get("phone_number")).or_else(|| lenient::string(o.get("phone"))),
    }
}

fn media(o: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["mms_url", "mms_urls", "media_urls"] {
        match o.get(key) {
            Some(Value::String(u)) if !u.trim().is_empty() => out.push(u.trim().to_owned()),
            Some(Value::Array(a)) => out.extend(
                a.iter()
                    .filter_map(Value::as_str)
                    .filter(|u| !u.trim().is_empty())
                    .map(|u| u.trim().to_owned()),
            ),
            _ => {}
        }
    }
    out.truncate(MAX_MEDIA);
    out
}

impl TextEvent {
    pub fn from_value(v: &Value) -> Result<TextEvent, TextError> {
        let o = v.as_object().ok_or(TextError::NotAnObject)?;
        let id = lenient::id(o.get("id")).ok_or(TextError::NoId)?;
        let to_numbers = match o.get("to_number") {
            Some(Value::Array(a)) => a.iter().filter_map(|n| lenient::string(Some(n))).collect(),
            Some(n) => lenient::string(Some(n)).into_iter().collect(),
            None => Vec::new(),
        };
        Ok(TextEvent {
            id,
            created_ms: lenient::millis(o.get("created_date")).unwrap_or(0),
            direction: Direction::parse(o.get("direction")),
            target: party(o.get("target")),
            contact: party(o.get("contact")),
            sender_id: lenient::id(o.get("sender_id")),
            from_number: lenient::string(o.get("from_number")),
            to_numbers,
            text: o
                .get("text")
                .and_then(Value::as_str)
                .filter(|t| !t.trim().is_empty())
                .map(|t| t.chars().take(MAX_TEXT).collect()),
            media: media(o),
            status: lenient::string(o.get("message_status")).map(|s| s.to_ascii_lowercase()),
        })
    }

    /// A delivery update of a text sent before (a `status` subscription), not a text.
    pub fn is_delivery_status(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| DELIVERY_STATES.contains(&s))
            && self.text.is_none()
    }

    /// The contact's number: `contact.phone_number`, else the number on the other side.
    pub fn contact_number(&self) -> Option<&str> {
        self.contact.phone.as_deref().or(match self.direction {
            Some(Direction::Inbound) => self.from_number.as_deref(),
            _ => self.to_numbers.first().map(String::as_str),
        })
    }

    /// The number on Dialpad's side: the target's.
    pub fn our_number(&self) -> Option<&str> {
        self.target.phone.as_deref().or(match self.direction {
            Some(Direction::Inbound) => self.to_numbers.first().map(String::as_str),
            _ => self.from_number.as_deref(),
        })
    }
}

/// Why a text is not logged, decided from the config (the codes of the webhook's and the
/// worker's lines).
pub mod ignored {
    /// The text's target is not a call center, office or company an enablement covers.
    pub const NOT_ENABLED: &str = "not_enabled";
    /// The enablement's CRM has no text log (LeadSquared's connector, the webhook).
    pub const NOT_SUPPORTED: &str = "texts_not_supported";
    /// The enablement does not log texts (`texts` is not set).
    pub const TEXTS_OFF: &str = "texts_not_enabled";
    /// A delivery update of a text sent before.
    pub const DELIVERY_STATUS: &str = "sms_delivery_status";
}

/// The enablement of a text: its target's call center, else an office enablement of its
/// office target, else the company's; it must log texts. `Err`: why not (see [`ignored`]).
pub fn scope<'a>(
    inst: &'a crate::config::Installation,
    text: &TextEvent,
) -> Result<&'a crate::config::Enablement, &'static str> {
    use crate::config::ScopeLevel;
    let target = &text.target;
    let id = target.id.as_deref();
    let find = |level: ScopeLevel, id: Option<&str>| {
        inst.enablements.iter().find(|e| {
            e.scope.level == level && (level == ScopeLevel::Company || e.scope.id.as_deref() == id)
        })
    };
    let found = match target.kind.as_deref() {
        Some("callcenter") => find(ScopeLevel::CallCenter, id),
        Some("office") => find(ScopeLevel::Office, id),
        _ => None,
    }
    .or_else(|| find(ScopeLevel::Company, None))
    .ok_or(ignored::NOT_ENABLED)?;
    if !found.crm.texts_supported() {
        return Err(ignored::NOT_SUPPORTED);
    }
    if !found.crm.logs_texts() {
        return Err(ignored::TEXTS_OFF);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXAMPLE: &str = r#"{"id": 4990021937799168, "created_date": 1767710900123, "direction": "inbound",
 "target": {"id": 4716644561813504, "type": "callcenter", "name": "Enrollment", "phone_number": "+14155550100"},
 "contact": {"id": 5600392044183552, "name": "Jamie Parent", "phone_number": "+16505550199"},
 "from_number": "+16505550199", "to_number": ["+14155550100"],
 "text": "Can we move the tour to Thursday?", "mms": false}"#;

    #[test]
    fn the_documented_example() {
        let v: Value = serde_json::from_str(EXAMPLE).unwrap();
        assert_eq!(shape(&v), Shape::Text);
        let t = TextEvent::from_value(&v).unwrap();
        assert_eq!(t.id, "4990021937799168");
        assert_eq!(t.created_ms, 1767710900123);
        assert_eq!(t.direction, Some(Direction::Inbound));
        assert_eq!(t.target.kind.as_deref(), Some("callcenter"));
        assert_eq!(t.target.id.as_deref(), Some("4716644561813504"));
        assert_eq!(t.contact_number(), Some("+16505550199"));
        assert_eq!(t.our_number(), Some("+14155550100"));
        assert_eq!(t.text.as_deref(), Some("Can we move the tour to Thursday?"));
        assert!(!t.is_delivery_status());
    }

    #[test]
    fn lenient_shapes() {
        let call = json!({"call_id": 1, "state": "hangup"});
        assert_eq!(shape(&call), Shape::Call);
        let t = TextEvent::from_value(&json!({"id": "77", "direction": "outbound",
            "target": {"id": 5, "type": "call_center"}, "to_number": "+16505550199",
            "text": "  ", "mms_url": "https://dialpad.com/m/1", "sender_id": 9}))
        .unwrap();
        assert_eq!(t.text, None, "blank: not exported");
        assert_eq!(t.target.kind.as_deref(), Some("callcenter"));
        assert_eq!(t.contact_number(), Some("+16505550199"));
        assert_eq!(t.media, ["https://dialpad.com/m/1"]);
        assert_eq!(t.sender_id.as_deref(), Some("9"));
        let status =
            TextEvent::from_value(&json!({"id": 77, "message_status": "Delivered"})).unwrap();
        assert!(status.is_delivery_status());
        assert_eq!(
            TextEvent::from_value(&json!({"text": "hi"})),
            Err(TextError::NoId)
        );
    }
}
