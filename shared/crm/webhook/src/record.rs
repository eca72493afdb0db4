//! The call record of a finished conversation, as the webhook posts it (`docs/webhook.md`):
//! the fields the LeadSquared and LineLeader logs carry, in a shape of its own. Pure.

use chrono::{DateTime, SecondsFormat, Utc};
use llbridge_domain::call_record::{call_times, duration_ms, recording_url, status, CallStatus};
use llbridge_domain::conversation::{recap_text, Conversation};
use llbridge_domain::event::{Direction, LinkKind};
use llbridge_domain::phone::Phone;
use serde::Serialize;

/// The `type` of the posted event.
pub const EVENT_TYPE: &str = "call.completed";

/// What the webhook posts: a Standard Webhooks event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When the call ended (RFC 3339, UTC).
    pub timestamp: Option<String>,
    pub data: CallRecord,
}

/// One conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    /// The call's Dialpad id.
    pub call_id: String,
    pub direction: &'static str,
    /// The family's or lead's number (E.164), when known.
    pub external_number: Option<String>,
    /// The contact center's number (the call center's, else the agent's; E.164), when known.
    pub internal_number: Option<String>,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// Seconds of talk; 0 when nobody answered.
    pub talk_seconds: u64,
    pub status: CallStatus,
    pub disposition: Option<String>,
    pub recording_url: Option<String>,
    /// The Dialpad Ai recap, when the enablement includes it.
    pub recap: Option<String>,
    pub call_center: Option<CallCenter>,
    pub agent_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallCenter {
    pub id: String,
    pub office_id: Option<String>,
}

fn e164(raw: Option<&str>) -> Option<String> {
    raw.and_then(Phone::parse).map(|p| p.e164().to_owned())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The event of a finished conversation, with the recording link of `link_type` and the recap
/// when `include_recap`.
pub fn event(conv: &Conversation, link_type: Option<LinkKind>, include_recap: bool) -> Event {
    let outbound = conv.direction == Some(Direction::Outbound);
    let external_number = e164(conv.caller_number.as_deref());
    let internal_number = e164(
        conv.call_center
            .as_ref()
            .and_then(|c| c.number.as_deref())
            .or_else(|| conv.agent.as_ref().and_then(|a| a.phone.as_deref())),
    );
    let (from_number, to_number) = if outbound {
        (internal_number.clone(), external_number.clone())
    } else {
        (external_number.clone(), internal_number.clone())
    };
    let times = call_times(conv);
    let talk_seconds = if conv.answered {
        duration_ms(conv).map_or(0, |ms| (ms.max(0) / 1000) as u64)
    } else {
        0
    };
    let record = CallRecord {
        call_id: conv.dialpad_call_id.clone(),
        direction: if outbound { "outbound" } else { "inbound" },
        external_number,
        internal_number,
        from_number,
        to_number,
        started_at: times.map(|(s, _)| rfc3339(s)),
        ended_at: times.map(|(_, e)| rfc3339(e)),
        talk_seconds,
        status: status(conv),
        disposition: conv
            .disposition()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
        recording_url: recording_url(conv, link_type),
        recap: recap_text(conv).filter(|_| include_recap),
        call_center: conv.call_center.as_ref().map(|c| CallCenter {
            id: c.id.clone(),
            office_id: c.office_id.clone(),
        }),
        agent_email: conv.agent.as_ref().and_then(|a| a.email.clone()),
    };
    Event {
        kind: EVENT_TYPE,
        timestamp: record.ended_at.clone(),
        data: record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llbridge_domain::conversation::merge;
    use llbridge_domain::CallEvent;
    use serde_json::{json, Value};

    const CC: u64 = 6208917392220160;
    const ANA: u64 = 5829361047752704;

    fn event_of(v: Value) -> CallEvent {
        CallEvent::from_value(&v).unwrap()
    }

    fn cc_target() -> Value {
        json!({"id": 4716644561813504_u64, "type": "call_center", "name": "Enrollment", "phone": "+14155550100"})
    }

    fn conversation(direction: &str, answered: bool) -> Conversation {
        let common = json!({"direction": direction, "internal_number": "+14155550100", "external_number": "(650) 555-0199"});
        let with = |v: Value| {
            let mut v = v;
            v.as_object_mut()
                .unwrap()
                .extend(common.as_object().unwrap().clone());
            event_of(v)
        };
        let ana = json!({"id": 5150000000000001_u64, "type": "user", "name": "Ana Agent", "email": "ana@example.com"});
        let mut hangup = json!({"call_id": CC, "state": "hangup",
            "event_timestamp": 1767710702456_i64, "date_started": 1767710398001_i64,
            "date_ended": 1767710702301_i64, "duration": 292931.512, "target": cc_target(),
            "public_call_review_share_link": "https://dialpad.com/shared/call/AbC123"});
        if answered {
            hangup["operator_call_id"] = json!(ANA);
            hangup["date_connected"] = json!(1767710409870_i64);
        }
        let mut events = vec![with(hangup)];
        if answered {
            events.push(with(json!({"call_id": ANA, "entry_point_call_id": CC, "state": "connected",
                "event_timestamp": 1767710409900_i64, "date_connected": 1767710409870_i64, "target": ana})));
            events.push(with(
                json!({"call_id": CC, "state": "dispositions", "event_timestamp": 1767710761002_i64,
                "target": cc_target(), "call_dispositions": [{"name": "Tour Scheduled"}]}),
            ));
            events.push(with(json!({"call_id": CC, "state": "recap_summary", "event_timestamp": 1767710761003_i64,
                "target": cc_target(), "recap_summary": "Asked about infant openings."})));
        }
        merge(&events).unwrap()
    }

    #[test]
    fn an_answered_inbound_call_carries_every_field() {
        let conv = conversation("inbound", true);
        let e = serde_json::to_value(event(&conv, Some(LinkKind::Public), true)).unwrap();
        assert_eq!(e["type"], "call.completed");
        assert_eq!(e["timestamp"], "2026-01-06T14:45:02Z");
        let d = &e["data"];
        assert_eq!(d["call_id"], CC.to_string());
        assert_eq!(d["direction"], "inbound");
        assert_eq!(d["external_number"], "+16505550199", "E.164");
        assert_eq!(d["from_number"], "+16505550199");
        assert_eq!(d["to_number"], "+14155550100");
        assert_eq!(d["started_at"], "2026-01-06T14:39:58Z");
        assert_eq!(d["talk_seconds"], 292);
        assert_eq!(d["status"], "answered");
        assert_eq!(d["disposition"], "Tour Scheduled");
        assert_eq!(d["recording_url"], "https://dialpad.com/shared/call/AbC123");
        assert_eq!(d["recap"], "Summary: Asked about infant openings.");
        assert_eq!(d["call_center"]["id"], "4716644561813504");
        assert_eq!(d["agent_email"], "ana@example.com");
    }

    #[test]
    fn a_missed_call_has_no_talk_and_what_is_not_asked_for_is_left_out() {
        let conv = conversation("inbound", false);
        let e = serde_json::to_value(event(&conv, None, false)).unwrap();
        let d = &e["data"];
        assert_eq!(d["status"], "missed");
        assert_eq!(d["talk_seconds"], 0);
        assert_eq!(d["recording_url"], Value::Null);
        assert_eq!(d["recap"], Value::Null);
        assert_eq!(d["disposition"], Value::Null);
    }

    #[test]
    fn an_outbound_call_goes_from_the_contact_center() {
        let conv = conversation("outbound", true);
        let d = serde_json::to_value(event(&conv, None, true)).unwrap()["data"].clone();
        assert_eq!(d["direction"], "outbound");
        assert_eq!(d["from_number"], "+14155550100");
        assert_eq!(d["to_number"], "+16505550199");
    }
}
