//! Scripted Dialpad call events, shaped like the examples of `docs/dialpad-events.md`:
//! what the demo plays and the test suites send.

use serde_json::{json, Value};

/// The call center of the scripted calls (the constructed examples' id).
pub const CALL_CENTER: &str = "4716644561813504";

/// The legs of one inbound call-center call.
#[derive(Debug, Clone)]
pub struct Call {
    pub cc_leg: u64,
    pub agent_leg: u64,
    pub caller: String,
    pub call_center: String,
    /// The call center's number (`internal_number` of inbound calls).
    pub call_center_phone: String,
    pub agent_email: String,
    pub agent_id: u64,
    /// Epoch ms of the call's start.
    pub t0: i64,
    /// The `custom_data` of a call started through the API (click to call): in its events.
    pub custom_data: Option<String>,
}

impl Call {
    pub fn new(seed: u64, caller: &str, t0: i64) -> Call {
        Call {
            cc_leg: 6208917392220160 + seed * 10,
            agent_leg: 5829361047752704 + seed * 10,
            caller: caller.to_owned(),
            call_center: CALL_CENTER.to_owned(),
            call_center_phone: "+14155550100".to_owned(),
            agent_email: "ana@example.com".into(),
            agent_id: 5150000000000001,
            t0,
            custom_data: None,
        }
    }

    fn agent_target(&self) -> Value {
        json!({"id": self.agent_id, "type": "user", "name": "Ana Agent", "email": self.agent_email, "phone": "+14155550123"})
    }

    fn cc_target(&self) -> Value {
        json!({"id": self.call_center.parse::<u64>().unwrap_or(0), "type": "call_center", "name": "Enrollment", "phone": self.call_center_phone})
    }

    pub fn agent(&self, state: &str, dt: i64) -> Value {
        let mut e = json!({
            "call_id": self.agent_leg, "entry_point_call_id": self.cc_leg, "state": state,
            "direction": "inbound", "event_timestamp": self.t0 + dt, "date_started": self.t0 + 100,
            "internal_number": self.call_center_phone, "external_number": self.caller,
            "group_id": format!("CallCenter:{}", self.call_center),
            "target": self.agent_target(),
            "entry_point_target": {"id": self.call_center.parse::<u64>().unwrap_or(0), "type": "callcenter", "name": "Enrollment", "phone": self.call_center_phone},
            "proxy_target": {}, "contact": {"id": 5600392044183552_u64, "type": "local", "phone": self.caller}
        });
        if matches!(state, "connected" | "hangup") {
            e["date_connected"] = json!(self.t0 + 5_000);
        }
        if state == "hangup" {
            e["date_ended"] = json!(self.t0 + 295_000);
            e["duration"] = json!(290_000.0);
        }
        e
    }

    pub fn cc_hangup(&self, dt: i64) -> Value {
        json!({
            "call_id": self.cc_leg, "master_call_id": self.cc_leg - 1, "operator_call_id": self.agent_leg,
            "state": "hangup", "direction": "inbound", "event_timestamp": self.t0 + dt,
            "date_started": self.t0, "date_connected": self.t0 + 5_000, "date_ended": self.t0 + 295_100,
            "duration": 290_100.512, "internal_number": self.call_center_phone, "external_number": self.caller,
            "target": self.cc_target(),
            "entry_point_target": {"id": 124, "type": "office", "name": "Acme HQ"},
            "was_recorded": true, "public_call_review_share_link": format!("https://dialpad.com/shared/call/{}", self.cc_leg)
        })
    }

    /// The call-center leg ending unanswered, in `state` (`hangup`, `missed` or `voicemail`):
    /// no agent connected.
    pub fn cc_unanswered(&self, state: &str, dt: i64) -> Value {
        json!({
            "call_id": self.cc_leg, "master_call_id": self.cc_leg - 1, "state": state,
            "direction": "inbound", "event_timestamp": self.t0 + dt,
            "date_started": self.t0, "date_ended": self.t0 + 40_000, "duration": 40_000.0,
            "internal_number": self.call_center_phone, "external_number": self.caller,
            "target": self.cc_target(),
            "entry_point_target": {"id": 124, "type": "office", "name": "Acme HQ"}
        })
    }

    /// The agent's leg of an outbound call placed through the call center (a Dialer call): the
    /// caller is the called party; answered after 8 s, over after 100 s.
    pub fn outbound(&self, state: &str, dt: i64) -> Value {
        let mut e = json!({
            "call_id": self.agent_leg, "state": state, "direction": "outbound",
            "event_timestamp": self.t0 + dt, "date_started": self.t0,
            "internal_number": self.call_center_phone, "external_number": self.caller,
            "target": self.agent_target(),
            "proxy_target": {"id": self.call_center.parse::<u64>().unwrap_or(0), "type": "callcenter", "phone": self.call_center_phone}
        });
        if matches!(state, "connected" | "hangup") {
            e["date_connected"] = json!(self.t0 + 8_000);
        }
        if state == "hangup" {
            e["date_ended"] = json!(self.t0 + 100_000);
            e["duration"] = json!(92_000.0);
        }
        if let Some(d) = &self.custom_data {
            e["custom_data"] = json!(d);
        }
        e
    }

    pub fn dispositions(&self, labels: &[&str], dt: i64) -> Value {
        json!({
            "call_id": self.cc_leg, "operator_call_id": self.agent_leg, "state": "dispositions",
            "direction": "inbound", "event_timestamp": self.t0 + dt,
            "target": {"id": self.call_center.parse::<u64>().unwrap_or(0), "type": "call_center"},
            "call_dispositions": labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>()
        })
    }

    /// A Dialpad Ai recap event of the call-center leg: `state` is `recap_summary`,
    /// `recap_outcome`, `recap_purposes` or `recap_action_items`, and `value` its field.
    pub fn recap(&self, state: &str, value: Value, dt: i64) -> Value {
        let mut e = json!({
            "call_id": self.cc_leg, "state": state, "direction": "inbound",
            "event_timestamp": self.t0 + dt,
            "target": {"id": self.call_center.parse::<u64>().unwrap_or(0), "type": "call_center"}
        });
        e[state] = value;
        e
    }

    pub fn recording(&self, dt: i64) -> Value {
        json!({
            "call_id": self.agent_leg, "entry_point_call_id": self.cc_leg, "state": "recording",
            "direction": "inbound", "event_timestamp": self.t0 + dt, "target": self.agent_target(),
            "recording_details": [{"id": 1, "recording_type": "call", "url": format!("https://dialpad.com/r/{}", self.agent_leg), "duration": 290000}]
        })
    }

    /// The call's legs as Dialpad's call list returns them once the call is over (`CallProto`:
    /// the webhook event's fields, no dispositions): the call-center leg and the agent's.
    pub fn protos(&self) -> Vec<Value> {
        let mut cc = self.cc_hangup(295_200);
        let mut agent = self.agent("hangup", 295_050);
        for leg in [&mut cc, &mut agent] {
            if let Some(m) = leg.as_object_mut() {
                m.remove("event_timestamp");
            }
        }
        vec![cc, agent]
    }

    /// Every event of the answered call: agent ringing, connected, hangup; call-center hangup;
    /// dispositions; recording.
    pub fn all(&self, disposition: &str) -> Vec<Value> {
        vec![
            self.agent("ringing", 200),
            self.agent("connected", 5_100),
            self.agent("hangup", 295_050),
            self.cc_hangup(295_200),
            self.dispositions(&[disposition], 330_000),
            self.recording(360_000),
        ]
    }
}

/// A call on a user's own line.
pub fn user_line_ringing() -> Value {
    json!({"call_id": 7001, "state": "ringing", "direction": "inbound", "event_timestamp": 1767710405123_i64,
        "internal_number": "+14155550123", "external_number": "+16505550199",
        "target": {"id": 5150000000000001_u64, "type": "user", "name": "Ana Agent", "email": "ana@example.com"},
        "entry_point_target": {}, "proxy_target": {}})
}
