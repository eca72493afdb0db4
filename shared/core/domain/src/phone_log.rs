//! Phone Log mode (`docs/rules.md`): the phone log of a conversation, for `POST /in-contact/phone-logs`.
//!
//! * `direction`: the conversation's; a conversation whose direction is unknown is logged as
//!   Inbound (the integration is about contact-center calls, which are inbound unless Dialpad
//!   says otherwise).
//! * `ani`: the caller's number (Dialpad's external number, the family's number, in both
//!   directions) as ten digits NPANXXXXXX. A number outside the NANP has no ten-digit form: its
//!   E.164 digits without `+` are sent.
//! * `dnis`: the call center's number, the same way; absent when unknown or not a number.
//! * `start` / `end`: see [`call_times`]; whole seconds, UTC.
//! * `disposition`: the conversation's (the first label of the latest dispositions event), else
//!   `"Dialpad"`.
//! * `recording_url`: the link of the enablement's Call Log Link Type; none when it is unset or
//!   the conversation has no link of that kind.
//! * `external_call_id`: the Dialpad call id.
//!
//! Errors are [`PhoneLogError`]s, each with a log code.

use chrono::{DateTime, Utc};

use crate::conversation::Conversation;
use crate::crm::{LogDirection, PhoneLog};
use crate::event::{Direction, LinkKind};
use crate::phone::Phone;

/// The disposition logged when the call has none.
pub const DEFAULT_DISPOSITION: &str = "Dialpad";

/// Why no phone log can be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneLogError {
    /// The conversation has no caller number (e.g. an anonymous caller).
    #[error("the call has no caller number")]
    NoCallerNumber,
    /// The caller number is not a phone number.
    #[error("the caller number is not a phone number")]
    UnparsableCallerNumber,
    /// The conversation has no usable time at all.
    #[error("the call has no usable start or end time")]
    NoCallTimes,
}

impl PhoneLogError {
    /// `phone_log_no_caller_number`, `phone_log_unparsable_caller_number` or
    /// `phone_log_no_call_times`.
    pub fn code(&self) -> &'static str {
        match self {
            PhoneLogError::NoCallerNumber => "phone_log_no_caller_number",
            PhoneLogError::UnparsableCallerNumber => "phone_log_unparsable_caller_number",
            PhoneLogError::NoCallTimes => "phone_log_no_call_times",
        }
    }
}

/// The caller's number, parsed.
pub fn caller_phone(conversation: &Conversation) -> Result<Phone, PhoneLogError> {
    let raw = conversation
        .caller_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(PhoneLogError::NoCallerNumber)?;
    Phone::parse(raw).ok_or(PhoneLogError::UnparsableCallerNumber)
}

/// The log direction of a conversation (Inbound when unknown).
pub fn log_direction(conversation: &Conversation) -> LogDirection {
    match conversation.direction {
        Some(Direction::Outbound) => LogDirection::Outbound,
        Some(Direction::Inbound) | None => LogDirection::Inbound,
    }
}

/// The disposition to log: the conversation's, trimmed, else `"Dialpad"`.
pub fn log_disposition(conversation: &Conversation) -> String {
    conversation
        .disposition()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(DEFAULT_DISPOSITION)
        .to_owned()
}

fn whole_seconds(ms: i64) -> Option<DateTime<Utc>> {
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

/// Builds the phone log of a conversation for the resolved family and center.
pub fn build_phone_log(
    conversation: &Conversation,
    family_id: &str,
    center_id: Option<&str>,
    call_log_link_type: Option<LinkKind>,
) -> Result<PhoneLog, PhoneLogError> {
    let caller = caller_phone(conversation)?;
    let (start, end) = call_times(conversation).ok_or(PhoneLogError::NoCallTimes)?;
    let dnis = conversation
        .call_center
        .as_ref()
        .and_then(|cc| cc.number.as_deref())
        .and_then(Phone::parse)
        .map(|p| p.ten_digits());
    Ok(PhoneLog {
        direction: log_direction(conversation),
        ani: caller.ten_digits(),
        dnis,
        start,
        end,
        disposition: log_disposition(conversation),
        recording_url: recording_url(conversation, call_log_link_type),
        external_call_id: conversation.dialpad_call_id.clone(),
        family_id: family_id.to_owned(),
        center_id: center_id.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests;
