//! `llbridge trace CALL_ID`: everything the product knows of one conversation, from any of its
//! legs' ids: the legs and their events as received, the ledger's record (scope, family
//! decision, effects, outcome, source) and every claim the jobs left (the call log, each
//! effect, the family creation, each agent's screen pop), with intents and outcomes. The answer
//! to "why wasn't this call logged?" without reading raw logs. Phone numbers are masked.

use std::collections::BTreeMap;

use chrono::{SecondsFormat, TimeZone, Utc};
use llbridge_domain::conversation;
use llbridge_domain::phone::{self, Phone};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::claim::{self, View};
use crate::error::Result;
use crate::ledger::{self, Entry};
use crate::ports::Store;
use crate::state;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn intents_show_no_full_phone_number() {
        let v = masked(
            json!({"ani": "4158159602", "external_call_id": "6208917392220160",
            "primary": {"phone": "+14158159602"}, "family_id": "1001"}),
        );
        assert_eq!(v["ani"], "***9602");
        assert_eq!(v["primary"]["phone"], "***9602");
        let lsq =
            masked(json!({"SourceNumber": "+14158159602", "DestinationNumber": "+16505550199"}));
        assert_eq!(
            (&lsq["SourceNumber"], &lsq["DestinationNumber"]),
            (&json!("***9602"), &json!("***0199"))
        );
        let hook = masked(
            json!({"body": {"data": {"from_number": "+14158159602", "to_number": "+14155550100"}}}),
        );
        assert_eq!(hook["body"]["data"]["from_number"], "***9602");
        assert_eq!(hook["body"]["data"]["to_number"], "***0100");
        assert_eq!(
            v["external_call_id"], "6208917392220160",
            "ids are not phone numbers"
        );
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub state: String,
    /// Epoch ms (Dialpad's `event_timestamp`).
    pub at: i64,
    pub direction: Option<String>,
    /// `user:<id>` or `call_center:<id>`...
    pub target: Option<String>,
    /// The external party, last four digits.
    pub external: Option<String>,
    pub dispositions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leg {
    pub call_id: String,
    pub events: Vec<Event>,
}

/// One conversation, as the product saw and handled it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub call_id: String,
    /// The conversation's anchor, once it was logged or due.
    pub conversation: Option<String>,
    pub legs: Vec<Leg>,
    pub ledger: Option<Entry>,
    /// `log`, each effect's (`phone_log`, `task`, `event`, `status`, `late_task`,
    /// `late_status`, `follow_up#<key>`, `leadsquared_call_log`), `family_create`,
    /// `pop <user>`.
    pub claims: BTreeMap<String, View>,
    /// Where a call router sent the call, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<crate::route::Routed>,
    /// The text's record, when the id is a Dialpad SMS id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<crate::texts::TextEntry>,
}

fn time(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// Everything known of the conversation `call_id` belongs to; `None` when nothing is.
pub async fn trace(store: &dyn Store, call_id: &str) -> Result<Option<Trace>> {
    let events = state::load_events(store, call_id).await?;
    let found = ledger::find(store, call_id).await?;
    let mut routing = crate::route::noted(store, call_id).await?;
    let text = crate::texts::get(store, call_id).await?;
    if events.is_empty() && found.is_none() && routing.is_none() && text.is_none() {
        return Ok(None);
    }
    if routing.is_none() {
        let mut ids: Vec<&str> = events.iter().map(|e| e.call_id.as_str()).collect();
        ids.extend(events.iter().filter_map(|e| e.master_call_id.as_deref()));
        ids.extend(
            events
                .iter()
                .filter_map(|e| e.entry_point_call_id.as_deref()),
        );
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if let Some(r) = crate::route::noted(store, id).await? {
                routing = Some(r);
                break;
            }
        }
    }
    let mut legs: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    for e in conversation::canonical(&events) {
        let kind = |p: &llbridge_domain::event::Party| {
            let k = match &p.kind {
                Some(llbridge_domain::event::PartyKind::User) => "user".to_owned(),
                Some(llbridge_domain::event::PartyKind::CallCenter) => "call_center".to_owned(),
                Some(other) => format!("{other:?}").to_ascii_lowercase(),
                None => "unknown".to_owned(),
            };
            format!("{k}:{}", p.id.as_deref().unwrap_or("?"))
        };
        legs.entry(e.call_id.clone()).or_default().push(Event {
            state: e.state.as_str().to_owned(),
            at: e.event_timestamp,
            direction: e.direction.map(|d| d.as_str().to_owned()),
            target: e.target.as_ref().map(kind),
            external: e.external_number.as_deref().map(phone::mask),
            dispositions: e.dispositions.clone(),
        });
    }
    let merged = conversation::merge(&events);
    let anchor = match &found {
        Some((a, _)) => Some(a.clone()),
        None => match &merged {
            Some(c) => {
                let mut a = None;
                for leg in &c.legs {
                    if let Some(x) = state::anchor_of(store, leg).await? {
                        a = Some(x);
                        break;
                    }
                }
                a
            }
            None => None,
        },
    };
    let mut keys: Vec<(String, String)> = Vec::new();
    if text.is_some() {
        let a = crate::worker::text_anchor(call_id);
        keys.push(("text_event".into(), crate::keys::step(&a, "text_event")));
    }
    if let Some(a) = &anchor {
        keys.push(("log".into(), crate::keys::log_claim(a)));
        let steps = match &found {
            Some((_, e)) => e.steps(),
            None => ledger::Entry::default().steps(),
        };
        for step in steps {
            keys.push((step.clone(), crate::keys::step(a, &step)));
        }
    }
    if let Some(c) = &merged {
        if let Some(p) = c.caller_number.as_deref().and_then(Phone::parse) {
            keys.push((
                "family_create".into(),
                crate::keys::once("family", p.e164()),
            ));
        }
        for e in &events {
            if !e.is_user_leg() {
                continue;
            }
            if let Some(user) = e.target.as_ref().and_then(|t| t.id.clone()) {
                if let Some(a) = &anchor {
                    keys.push((format!("pop {user}"), crate::keys::pop(a, &user)));
                }
                // Pops of earlier releases, keyed by the call-center leg.
                let leg = e.entry_point_call_id.as_deref().unwrap_or(&c.key);
                keys.push((format!("pop {user}"), crate::keys::pop(leg, &user)));
            }
        }
    }
    let mut claims = BTreeMap::new();
    for (name, key) in keys {
        if claims.contains_key(&name) {
            continue;
        }
        if let Some(mut v) = claim::view(store, &key).await? {
            v.intent = v.intent.map(masked);
            v.outcome = v.outcome.map(masked);
            claims.insert(name, v);
        }
    }
    Ok(Some(Trace {
        call_id: call_id.to_owned(),
        conversation: anchor,
        legs: legs
            .into_iter()
            .map(|(call_id, events)| Leg { call_id, events })
            .collect(),
        ledger: found.map(|(_, e)| e),
        claims,
        routing,
        text,
    }))
}

/// The fields of an intent or outcome that hold a family's phone number, masked.
const PHONE_FIELDS: &[&str] = &[
    "ani",
    "phone",
    "caller",
    "external_number",
    "number",
    // LeadSquared's call log and the webhook's record carry the caller as the source or
    // origin of an inbound call and the destination of an outbound one.
    "SourceNumber",
    "DestinationNumber",
    "from_number",
    "to_number",
];

fn masked(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = match (&v, PHONE_FIELDS.contains(&k.as_str())) {
                        (Value::String(s), true) => Value::String(phone::mask(s)),
                        _ => masked(v),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(masked).collect()),
        other => other,
    }
}

fn compact(v: &Option<Value>) -> String {
    v.as_ref().map(Value::to_string).unwrap_or_default()
}

impl Trace {
    /// The trace in plain words, one fact a line.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        out.push(format!(
            "call {} — conversation {}",
            self.call_id,
            self.conversation
                .as_deref()
                .unwrap_or("(not anchored: no leg has ended)")
        ));
        if let Some(t) = &self.text {
            out.push(format!(
                "  text: {}{} ({}, contact {}, scope {}, sent {}, {} attempt(s))",
                t.decision.map_or("pending", |d| d.as_str()),
                t.reason
                    .as_deref()
                    .map(|r| format!(", reason {r}"))
                    .unwrap_or_default(),
                t.direction.as_deref().unwrap_or("?"),
                t.contact.as_deref().unwrap_or("?"),
                t.scope.as_deref().unwrap_or("?"),
                time(t.sent_at),
                t.attempts,
            ));
            if let Some(f) = &t.family {
                out.push(format!("  family: {f}"));
            }
            if let Some(fx) = &t.effects {
                out.push(format!("  effects: {fx}"));
            }
            if let Some(d) = &t.detail {
                out.push(format!("  detail: {d}"));
            }
        }
        if let Some(r) = &self.routing {
            out.push(format!(
                "  routing: {} by router {} in {} ms",
                r.describe(),
                r.router,
                r.route_ms
            ));
        }
        match &self.ledger {
            Some(e) => {
                out.push(format!(
                    "  outcome: {}{} (from {}; scope {}; {} attempt(s){}{})",
                    e.decision.map_or("pending", |d| d.as_str()),
                    e.reason
                        .as_deref()
                        .map(|r| format!(", reason {r}"))
                        .unwrap_or_default(),
                    e.source.map_or("?", |s| s.as_str()),
                    e.scope.as_deref().unwrap_or("?"),
                    e.attempts,
                    e.last_error
                        .as_deref()
                        .map(|r| format!(", last failure {r}"))
                        .unwrap_or_default(),
                    if e.replays > 0 {
                        format!(", replayed {} time(s)", e.replays)
                    } else {
                        String::new()
                    },
                ));
                out.push(format!(
                    "  caller {}, {}, started {}, ended {}, log due {}",
                    e.caller.as_deref().unwrap_or("?"),
                    e.direction.as_deref().unwrap_or("?"),
                    e.started_at.map(time).unwrap_or_else(|| "?".into()),
                    e.ended_at.map(time).unwrap_or_else(|| "?".into()),
                    e.due_at.map(time).unwrap_or_else(|| "?".into()),
                ));
                if let Some(f) = &e.family {
                    out.push(format!("  family: {f}"));
                }
                if let Some(fx) = &e.effects {
                    out.push(format!("  effects: {fx}"));
                }
                if let Some(d) = &e.detail {
                    out.push(format!("  detail: {d}"));
                }
                for l in &e.late {
                    let field = |k: &str| l.get(k).and_then(Value::as_str).unwrap_or("?");
                    out.push(format!(
                        "  after the log: {} ({} at {}): {}; {}",
                        field("reason"),
                        field("event"),
                        l.get("at")
                            .and_then(Value::as_i64)
                            .map(time)
                            .unwrap_or_default(),
                        field("detail"),
                        compact(&l.get("outcome").cloned()),
                    ));
                }
            }
            None if self.text.is_some() => {}
            None => out.push(
                "  no ledger record: no leg of it has ended in scope (or it is out of scope)"
                    .into(),
            ),
        }
        out.push("  legs:".into());
        for leg in &self.legs {
            out.push(format!("    {}", leg.call_id));
            for e in &leg.events {
                out.push(format!(
                    "      {} {}{}{}{}",
                    time(e.at),
                    e.state,
                    e.target
                        .as_deref()
                        .map(|t| format!(" {t}"))
                        .unwrap_or_default(),
                    e.external
                        .as_deref()
                        .map(|x| format!(" external {x}"))
                        .unwrap_or_default(),
                    if e.dispositions.is_empty() {
                        String::new()
                    } else {
                        format!(" dispositions {:?}", e.dispositions)
                    },
                ));
            }
        }
        if !self.claims.is_empty() {
            out.push("  claims:".into());
            for (name, v) in &self.claims {
                out.push(format!(
                    "    {name}: {} ({} attempt(s)){}{}{}",
                    v.status,
                    v.attempts,
                    v.outcome
                        .as_ref()
                        .map(|_| format!(" outcome {}", compact(&v.outcome)))
                        .unwrap_or_default(),
                    v.intent
                        .as_ref()
                        .map(|_| format!(" intent {}", compact(&v.intent)))
                        .unwrap_or_default(),
                    v.note
                        .as_deref()
                        .map(|n| format!(" note {n}"))
                        .unwrap_or_default(),
                ));
            }
        }
        out.join("\n")
    }
}
