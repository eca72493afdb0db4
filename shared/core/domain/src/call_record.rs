//! What every CRM's call log says of a conversation's times and recording, the same way for
//! each: its start and end, its talk time, and the link of the configured kind.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::conversation::Conversation;
use crate::event::LinkKind;

/// How a call went, as every call log says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Answered,
    Missed,
    Voicemail,
}

/// Answered, else voicemail when the caller reached it, else missed.
pub fn status(conversation: &Conversation) -> CallStatus {
    if conversation.answered {
        CallStatus::Answered
    } else if conversation.voicemail {
        CallStatus::Voicemail
    } else {
        CallStatus::Missed
    }
}

pub(crate) fn whole_seconds(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(ms.div_euclid(1000), 0)
}

/// The call's start and end, in whole seconds (truncated), UTC.
///
/// * start: `started_at`, else `connected_at`, else `ended_at` minus the duration, else
///   `ended_at`;
/// * end: `ended_at`, else `connected_at` (or the start) plus the duration, else the start;
/// * an end before the start is moved to the start;
/// * with none of `started_at`, `connected_at`, `ended_at`: the latest event's timestamp for
///   both (the call was seen then, and lasted an unknown time).
///
/// `None` only when not even that is a valid time.
pub fn call_times(conversation: &Conversation) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let duration = duration_ms(conversation);
    let start = conversation
        .started_at
        .or(conversation.connected_at)
        .or_else(|| {
            conversation
                .ended_at
                .zip(duration)
                .map(|(e, d)| e.saturating_sub(d))
        })
        .or(conversation.ended_at);
    let (start, end) = match start {
        Some(start) => {
            let end = conversation
                .ended_at
                .or_else(|| {
                    let from = conversation.connected_at.unwrap_or(start).max(start);
                    duration.map(|d| from.saturating_add(d))
                })
                .unwrap_or(start);
            (start, end.max(start))
        }
        None => (conversation.last_event_at, conversation.last_event_at),
    };
    if start <= 0 {
        return None;
    }
    Some((whole_seconds(start)?, whole_seconds(end)?))
}

/// The talk time in milliseconds: Dialpad's duration, else connected-to-ended.
pub fn duration_ms(conversation: &Conversation) -> Option<i64> {
    conversation
        .duration_ms
        .filter(|d| d.is_finite())
        .map(|d| d.max(0.0).round() as i64)
        .or_else(
            || match (conversation.connected_at, conversation.ended_at) {
                (Some(c), Some(e)) if e >= c => Some(e - c),
                _ => None,
            },
        )
}

/// The recording link of the configured kind, if any.
pub fn recording_url(conversation: &Conversation, link_type: Option<LinkKind>) -> Option<String> {
    link_type
        .and_then(|k| conversation.link(k))
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}
