//! A Dialpad text as a LineLeader event: its description, and the line by which a later
//! attempt finds it after a lost answer (E2).

use llbridge_domain::event::Direction;
use llbridge_domain::text::TextEvent;

/// The line that names the text in its event's description.
pub const SMS_ID_LINE: &str = "Dialpad SMS ID: ";

/// Said in place of the text when the event carries none.
pub const NOT_EXPORTED: &str = "(text not exported: the API key lacks message_content_export)";

/// The event's description: direction, from, to, the text (or why not), the MMS links, and
/// `Dialpad SMS ID: <id>`.
pub fn description(t: &TextEvent) -> String {
    let direction = match t.direction {
        Some(Direction::Inbound) => "Inbound",
        Some(Direction::Outbound) => "Outbound",
        None => "Unknown-direction",
    };
    let (from, to) = match t.direction {
        Some(Direction::Outbound) => (t.our_number(), t.contact_number()),
        _ => (t.contact_number(), t.our_number()),
    };
    let mut lines = vec![format!("{direction} Dialpad text message")];
    lines.push(format!("From: {}", from.unwrap_or("unknown")));
    lines.push(format!("To: {}", to.unwrap_or("unknown")));
    lines.push(t.text.clone().unwrap_or_else(|| NOT_EXPORTED.to_owned()));
    for m in &t.media {
        lines.push(format!("MMS: {m}"));
    }
    lines.push(format!("{SMS_ID_LINE}{}", t.id));
    lines.join("\n")
}

/// Whether an event's description names the text `sms_id` on its own line, exactly.
pub fn describes_text(description: &str, sms_id: &str) -> bool {
    description
        .lines()
        .filter_map(|l| l.trim().strip_prefix(SMS_ID_LINE.trim_end()))
        .any(|id| id.trim() == sms_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_description_says_who_what_and_which_text() {
        let t = TextEvent::from_value(&json!({"id": 42, "direction": "inbound",
            "target": {"id": 1, "type": "callcenter", "phone_number": "+14155550100"},
            "contact": {"phone_number": "+16505550199"}, "text": "See you Thursday",
            "mms_url": "https://dialpad.com/m/7"}))
        .unwrap();
        assert_eq!(
            description(&t),
            "Inbound Dialpad text message\nFrom: +16505550199\nTo: +14155550100\nSee you Thursday\nMMS: https://dialpad.com/m/7\nDialpad SMS ID: 42"
        );
        let out = TextEvent::from_value(&json!({"id": 43, "direction": "outbound",
            "target": {"phone_number": "+14155550100"}, "to_number": ["+16505550199"]}))
        .unwrap();
        let d = description(&out);
        assert!(d.starts_with("Outbound Dialpad text message\nFrom: +14155550100\nTo: +16505550199\n(text not exported"), "{d}");
        assert!(describes_text(&d, "43"));
        assert!(!describes_text(&d, "4"));
    }
}
