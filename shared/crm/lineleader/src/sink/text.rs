//! A text, logged: the family of the contact's number (the call log's rules; a new family
//! only with `texts.create_families`), then one event of `texts.event_type` on it, as a step
//! (intent, lookup by the `Dialpad SMS ID` line, write), attributed to the sender's staff
//! record, else the default staff.

use chrono::{TimeZone, Utc};
use llbridge_domain::conversation::{CallCenter, Conversation};
use llbridge_domain::labels::find_by_label;
use llbridge_usecases::crm::{LogResult, Logged, TextCx};
use llbridge_usecases::effect::{How, Plan};
use llbridge_usecases::Result;
use serde_json::{json, Value};

use super::matching::{self, Matched};
use super::steps::{from_intent, intent_of, unresolved};
use crate::api::LineLeader;
use crate::config::{LineLeaderSettings, TextSettings};
use crate::rules::event_mode::staff_by_email;
use crate::rules::records::{NewEvent, TypeList};
use crate::rules::text;

/// The text as a conversation, for the family rules: the contact is the caller, the target's
/// call center its center.
fn as_conversation(t: &llbridge_domain::text::TextEvent, anchor: &str) -> Conversation {
    let call_center = (t.target.kind.as_deref() == Some("callcenter"))
        .then(|| t.target.id.clone())
        .flatten()
        .map(|id| CallCenter {
            id,
            number: t.our_number().map(str::to_owned),
            office_id: None,
        });
    Conversation {
        key: anchor.to_owned(),
        legs: Vec::new(),
        dialpad_call_id: t.id.clone(),
        caller_number: t.contact_number().map(str::to_owned),
        direction: t.direction,
        call_center,
        agent: None,
        started_at: (t.created_ms > 0).then_some(t.created_ms),
        connected_at: None,
        ended_at: None,
        duration_ms: None,
        answered: false,
        dispositions: Vec::new(),
        recap: Vec::new(),
        action_items: Vec::new(),
        voicemail: false,
        links: Vec::new(),
        ended: true,
        last_event_at: t.created_ms,
        events: 1,
        custom_data: None,
    }
}

fn dropped(reason: &'static str, detail: impl Into<String>, contact: Option<Value>) -> Logged {
    Logged {
        result: LogResult::Dropped {
            reason,
            detail: detail.into(),
        },
        contact,
    }
}

pub async fn run(
    ll: &dyn LineLeader,
    cx: &TextCx<'_>,
    settings: &LineLeaderSettings,
    texts: &TextSettings,
) -> Result<Logged> {
    let t = cx.text;
    let conv = as_conversation(t, cx.anchor);
    let pinned = matching::pinned(ll, cx.fx, cx.anchor).await?;
    let found = match pinned {
        Some(m) => Ok(m),
        None => {
            let m = if texts.create_families {
                matching::match_or_create(ll, cx.fx, &conv, settings).await?
            } else {
                matching::match_only(ll, cx.fx, &conv, settings, "unknown_texter").await?
            };
            match m {
                Ok(m) => Ok(matching::pin(ll, cx.fx, cx.anchor, m).await?),
                Err(d) => Err(d),
            }
        }
    };
    let matched: Matched = match found {
        Ok(m) => m,
        Err(d) => return Ok(dropped(d.reason, d.detail.clone(), Some(d.to_json()))),
    };
    let family = Some(matched.to_json());
    let family_id = matched.family_id.clone();
    let center_id = matched.center.as_ref().map(|c| c.id.clone());
    let sender_email = cx.sender.and_then(|(_, e)| e);
    let at = Utc
        .timestamp_millis_opt(if t.created_ms > 0 {
            t.created_ms
        } else {
            cx.fx.clock.now_ms()
        })
        .single()
        .unwrap_or_else(Utc::now);
    let sms_id = t.id.clone();
    let description = text::description(t);
    let ran = cx
        .fx
        .step(cx.anchor, "text_event")
        .when_unknown(settings.unknown_outcome)
        .run(
            || async {
                let staff = ll.staff().await?;
                let by_sender = sender_email.and_then(|e| staff_by_email(&staff, e));
                let by_default = texts
                    .default_staff_email
                    .as_deref()
                    .and_then(|e| staff_by_email(&staff, e));
                let Some(who) = by_sender.or(by_default) else {
                    return Ok(Plan::Skip(json!({"skipped": "text_no_staff",
                        "detail": "neither the sender nor texts.default_staff_email (or Event mode's) is a staff record"})));
                };
                let results = ll.types(TypeList::TaskResult).await?;
                let Some(kind) = find_by_label(&results, &texts.event_type) else {
                    return Ok(Plan::Skip(json!({"skipped": "text_event_type_not_found",
                        "detail": format!("event type \"{}\" is not in /types/tasks/results", texts.event_type)})));
                };
                let new = NewEvent {
                    family_id: family_id.clone(),
                    center_id: center_id.clone(),
                    staff_id: who.id.clone(),
                    type_id: kind.id.clone(),
                    date_time: at,
                    description: description.clone(),
                    task_id: None,
                };
                Ok(Plan::Write(intent_of("text event", &new)?))
            },
            |intent| {
                let sms_id = sms_id.clone();
                async move {
                    let new: NewEvent = from_intent("text event", intent)?;
                    let events = ll.family_events(&new.family_id).await?;
                    Ok(events.find(
                        |e| text::describes_text(&e.description, &sms_id),
                        |e| json!({"event_id": e.id, "family_id": new.family_id, "staff_id": new.staff_id}),
                    ))
                }
            },
            |intent| async move {
                let new: NewEvent = from_intent("text event", intent)?;
                let id = ll.create_event(&new).await?;
                Ok(json!({"event_id": id, "family_id": new.family_id, "staff_id": new.staff_id}))
            },
        )
        .await;
    let ran = ran?;
    let outcome = ran.outcome.clone();
    if let Some(reason) = unresolved(&ran) {
        return Ok(Logged {
            result: LogResult::Unresolved {
                reason,
                detail: format!("text event on family {}: {outcome}", matched.family_id),
                outcome,
            },
            contact: family,
        });
    }
    if matches!(ran.first_how(), How::Skipped) {
        let reason = match outcome.get("skipped").and_then(Value::as_str) {
            Some("text_no_staff") => "text_no_staff",
            _ => "text_event_type_not_found",
        };
        let detail = outcome
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        return Ok(dropped(reason, detail, family));
    }
    let id = outcome
        .get("event_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok(Logged {
        result: LogResult::Logged {
            detail: format!(
                "text event {id} on family {} (family {}, center {}){}",
                matched.family_id,
                matched.rule,
                matched.center_rule,
                match ran.first_how() {
                    How::FoundOnLookup => ", found after a lost answer",
                    How::PossibleDuplicate => ", written again: possible duplicate",
                    _ => "",
                }
            ),
            outcome,
        },
        contact: family,
    })
}
