//! Conversations: the legs of one contact-center call merged into one record (the worker walks
//! the legs' links in the store, [`crate::conversation::merge`] folds their events).
//!
//! A conversation is the union of its legs (`call_id`, `master_call_id`, `entry_point_call_id`,
//! `operator_call_id`). Events are deduplicated on `(call_id, state, event_timestamp)` and
//! folded in `event_timestamp` order, so the merged record is the same for any order or
//! duplication of the same events.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::lenient::id_order;

use crate::event::{CallEvent, CallState, Direction, Link, LinkKind, PartyKind};
use crate::scope::{place, Placement};

/// How the agent's e-mail was chosen (the staff attribution rule of `docs/rules.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailSource {
    /// The agent leg is a call-center operator leg: the operator's e-mail.
    OperatorLeg,
    /// Any other leg: the target user's e-mail.
    TargetUser,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// The agent's Dialpad user id (the leg's target id).
    pub user_id: Option<String>,
    /// The agent's leg.
    pub call_id: String,
    pub email: Option<String>,
    pub email_source: EmailSource,
    pub name: Option<String>,
    /// The agent's own number (the leg target's `phone`).
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCenter {
    pub id: String,
    pub number: Option<String>,
    pub office_id: Option<String>,
}

/// The merged record of one conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// The canonical id: the smallest call id among the legs.
    pub key: String,
    /// Every leg id known, events of its own or not.
    pub legs: Vec<String>,
    /// The Dialpad call id to quote in LineLeader: the call-center leg, else the agent leg.
    pub dialpad_call_id: String,
    /// The family's number: Dialpad's external number.
    pub caller_number: Option<String>,
    pub direction: Option<Direction>,
    pub call_center: Option<CallCenter>,
    /// The agent who answered (inbound), or who placed the call (outbound).
    pub agent: Option<Agent>,
    pub started_at: Option<i64>,
    pub connected_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub duration_ms: Option<f64>,
    pub answered: bool,
    /// The labels of the latest dispositions event.
    pub dispositions: Vec<String>,
    /// The Dialpad Ai recap: the latest summary, outcome, purposes and action items, in that
    /// order, each part labelled (`Summary: ...`, `Action items:` and one `- item` a line).
    #[serde(default)]
    pub recap: Vec<String>,
    /// The action items of the latest Dialpad Ai action-items event, one text each.
    #[serde(default)]
    pub action_items: Vec<String>,
    /// The caller reached voicemail (a `voicemail` or `voicemail_uploaded` event, or a
    /// voicemail link).
    #[serde(default)]
    pub voicemail: bool,
    /// Every recording and share link seen.
    pub links: Vec<Link>,
    /// The call is over: its call-center leg(s) ended (a call-center leg named by an agent leg
    /// but not heard from yet has not), or, without one, every leg that sent events ended.
    pub ended: bool,
    /// The latest event timestamp seen.
    pub last_event_at: i64,
    /// Number of distinct events merged.
    pub events: usize,
    /// The `custom_data` the call was started with through the API (click to call): the
    /// latest event's that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
}

impl Conversation {
    /// The disposition to log: the first label of the latest dispositions event.
    pub fn disposition(&self) -> Option<&str> {
        self.dispositions.first().map(String::as_str)
    }

    /// The first link of a kind.
    pub fn link(&self, kind: LinkKind) -> Option<&str> {
        self.links
            .iter()
            .find(|l| l.kind == kind)
            .map(|l| l.url.as_str())
    }
}

/// Removes duplicate events (same dedupe key) and sorts the rest in fold order. When two events
/// share a key but differ, the choice between them does not depend on arrival order.
pub fn canonical(events: &[CallEvent]) -> Vec<CallEvent> {
    let mut by_key: BTreeMap<(i64, String, String), (String, &CallEvent)> = BTreeMap::new();
    for e in events {
        let (call_id, state, ts) = e.dedupe_key();
        let fingerprint = serde_json::to_string(e).unwrap_or_default();
        let k = (ts, call_id, state);
        match by_key.get(&k) {
            Some((f, _)) if *f >= fingerprint => {}
            _ => {
                by_key.insert(k, (fingerprint, e));
            }
        }
    }
    by_key.into_values().map(|(_, e)| e.clone()).collect()
}

/// Merges the events of one conversation into its record. `None` when there are no events.
pub fn merge(events: &[CallEvent]) -> Option<Conversation> {
    let events = canonical(events);
    let first = events.first()?;

    let mut legs: BTreeSet<&str> = BTreeSet::new();
    let mut legs_with_events: BTreeSet<&str> = BTreeSet::new();
    let mut ended_legs: BTreeSet<&str> = BTreeSet::new();
    for e in &events {
        legs.insert(&e.call_id);
        legs_with_events.insert(&e.call_id);
        for l in [
            &e.master_call_id,
            &e.entry_point_call_id,
            &e.operator_call_id,
        ]
        .into_iter()
        .flatten()
        {
            legs.insert(l);
        }
        if e.state.ends_leg() {
            ended_legs.insert(&e.call_id);
        }
    }
    let key = legs
        .iter()
        .min_by(|a, b| id_order(a, b))
        .map(|s| (*s).to_owned())
        .unwrap_or_else(|| first.call_id.clone());

    let cc_events: Vec<&CallEvent> = events.iter().filter(|e| e.is_call_center_leg()).collect();
    let cc_leg = cc_events.first().map(|e| e.call_id.clone());
    // Call-center legs: those whose target is a call center, and those an agent leg names as
    // its entry point (the call-center leg may have sent nothing yet).
    let cc_legs: BTreeSet<&str> = cc_events
        .iter()
        .map(|e| e.call_id.as_str())
        .chain(
            events
                .iter()
                .filter_map(|e| e.entry_point_call_id.as_deref()),
        )
        .collect();
    // Prefer the call-center leg's view, then any event's.
    let preferred = || cc_events.iter().copied().chain(events.iter());

    let direction = preferred().find_map(|e| e.direction);
    let caller_number = preferred().find_map(|e| e.external_number.clone());

    let mut call_center: Option<CallCenter> = None;
    for e in preferred() {
        if let Placement::CallCenter {
            id,
            office_id,
            number,
        } = place(e)
        {
            match &mut call_center {
                None => {
                    call_center = Some(CallCenter {
                        id,
                        number,
                        office_id,
                    });
                }
                Some(cc) if cc.id == id => {
                    if cc.number.is_none() {
                        cc.number = number;
                    }
                    if cc.office_id.is_none() {
                        cc.office_id = office_id;
                    }
                }
                Some(_) => {}
            }
        }
    }

    // The agent legs: legs whose target is a user.
    let mut user_legs: BTreeMap<&str, Vec<&CallEvent>> = BTreeMap::new();
    for e in &events {
        if e.is_user_leg() {
            user_legs.entry(&e.call_id).or_default().push(e);
        }
    }
    let connected_of = |evs: &[&CallEvent]| evs.iter().find_map(|e| e.date_connected);
    let operator_leg = cc_events
        .iter()
        .find_map(|e| e.operator_call_id.clone())
        .filter(|id| user_legs.contains_key(id.as_str()));
    let agent_leg: Option<&str> = operator_leg
        .as_deref()
        .and_then(|id| user_legs.get_key_value(id).map(|(k, _)| *k))
        .or_else(|| {
            user_legs
                .iter()
                .filter_map(|(id, evs)| connected_of(evs).map(|t| (t, *id)))
                .min_by(|a, b| a.0.cmp(&b.0).then_with(|| id_order(a.1, b.1)))
                .map(|(_, id)| id)
        })
        .or_else(|| {
            // Outbound calls: the leg of the user who placed the call, answered or not.
            (direction == Some(Direction::Outbound))
                .then(|| user_legs.keys().next().copied())
                .flatten()
        });
    let agent = agent_leg.map(|leg| {
        let evs = &user_legs[leg];
        let target = |f: fn(&crate::event::Party) -> Option<String>| {
            evs.iter().find_map(|e| e.target.as_ref().and_then(f))
        };
        let is_operator_leg = operator_leg.as_deref() == Some(leg)
            || evs.iter().any(|e| {
                e.entry_point_call_id.is_some()
                    || e.entry_point_target
                        .as_ref()
                        .is_some_and(|p| p.is(&PartyKind::CallCenter))
            });
        Agent {
            user_id: target(|t| t.id.clone()),
            call_id: leg.to_owned(),
            email: target(|t| t.email.clone()),
            email_source: if is_operator_leg {
                EmailSource::OperatorLeg
            } else {
                EmailSource::TargetUser
            },
            name: target(|t| t.name.clone()),
            phone: target(|t| t.phone.clone()),
        }
    });

    let agent_events: Vec<&CallEvent> = agent_leg
        .map(|leg| user_legs[leg].clone())
        .unwrap_or_default();
    let started_at = events.iter().filter_map(|e| e.date_started).min();
    let connected_at = agent_events
        .iter()
        .find_map(|e| e.date_connected)
        .or_else(|| cc_events.iter().find_map(|e| e.date_connected))
        .or_else(|| events.iter().filter_map(|e| e.date_connected).min());
    let ended_at = events.iter().filter_map(|e| e.date_ended).max();
    let hangup_duration = |evs: &[&CallEvent]| {
        evs.iter()
            .filter(|e| e.state == CallState::Hangup)
            .find_map(|e| e.duration_ms)
            .or_else(|| evs.iter().find_map(|e| e.duration_ms))
    };
    let duration_ms = hangup_duration(&cc_events)
        .or_else(|| hangup_duration(&agent_events))
        .or_else(|| match (connected_at, ended_at) {
            (Some(c), Some(e)) if e >= c => Some((e - c) as f64),
            _ => None,
        });
    let answered = user_legs.values().any(|evs| connected_of(evs).is_some())
        || cc_events
            .iter()
            .any(|e| e.operator_call_id.is_some() || e.date_connected.is_some())
        || (cc_events.is_empty() && connected_at.is_some());

    let dispositions = events
        .iter()
        .rev()
        .find(|e| !e.dispositions.is_empty())
        .map(|e| e.dispositions.clone())
        .unwrap_or_default();
    let recap: Vec<String> = [
        (CallState::RecapSummary, "Summary"),
        (CallState::RecapOutcome, "Outcome"),
        (CallState::RecapPurposes, "Purposes"),
        (CallState::RecapActionItems, "Action items"),
    ]
    .iter()
    .filter_map(|(state, label)| {
        events
            .iter()
            .rev()
            .find(|e| e.state == *state && !e.recap.is_empty())
            .map(|e| recap_part(label, &e.recap))
    })
    .collect();
    let action_items = events
        .iter()
        .rev()
        .find(|e| e.state == CallState::RecapActionItems && !e.recap.is_empty())
        .map(|e| e.recap.clone())
        .unwrap_or_default();
    let voicemail = events.iter().any(|e| {
        matches!(e.state, CallState::Voicemail | CallState::VoicemailUploaded)
            || e.links.iter().any(|l| l.kind == LinkKind::Voicemail)
    });
    let links: BTreeSet<Link> = events
        .iter()
        .flat_map(|e| e.links.iter().cloned())
        .collect();

    let dialpad_call_id = cc_leg
        .or_else(|| agent_leg.map(str::to_owned))
        .unwrap_or_else(|| key.clone());

    Some(Conversation {
        legs: legs.iter().map(|s| (*s).to_owned()).collect(),
        dialpad_call_id,
        caller_number,
        direction,
        call_center,
        agent,
        started_at,
        connected_at,
        ended_at,
        duration_ms,
        answered,
        dispositions,
        recap,
        action_items,
        voicemail,
        links: links.into_iter().collect(),
        ended: if cc_legs.is_empty() {
            legs_with_events.iter().all(|l| ended_legs.contains(l))
        } else {
            // The call-center leg carries the caller for the whole call: when it ends, the
            // conversation is over, whatever agent-leg events were lost.
            cc_legs.iter().all(|l| ended_legs.contains(l))
        },
        last_event_at: events.iter().map(|e| e.event_timestamp).max().unwrap_or(0),
        events: events.len(),
        custom_data: events.iter().rev().find_map(|e| e.custom_data.clone()),
        key,
    })
}

#[cfg(test)]
mod tests;

/// One labelled part of the recap: a single text on the label's line, several as a list.
fn recap_part(label: &str, texts: &[String]) -> String {
    match texts {
        [one] if label != "Action items" => format!("{label}: {one}"),
        _ => {
            let items: Vec<String> = texts.iter().map(|t| format!("- {t}")).collect();
            format!("{label}:\n{}", items.join("\n"))
        }
    }
}

/// The most characters of recap a call log carries.
pub const RECAP_LIMIT: usize = 1500;

/// The recap as a call log carries it: its labelled parts, one after the other, cut at
/// [`RECAP_LIMIT`] characters (ending with `…` when cut); `None` without a recap.
pub fn recap_text(conversation: &Conversation) -> Option<String> {
    if conversation.recap.is_empty() {
        return None;
    }
    let text = conversation.recap.join("\n");
    if text.chars().count() <= RECAP_LIMIT {
        return Some(text);
    }
    let cut: String = text.chars().take(RECAP_LIMIT - 1).collect();
    Some(format!("{}…", cut.trim_end()))
}
