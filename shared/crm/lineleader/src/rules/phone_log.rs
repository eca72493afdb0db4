//! Phone Log mode (`docs/rules.md`): the phone log of a conversation, for `POST /in-contact/phone-logs`.
//!
//! * `direction`: the conversation's; a conversation whose direction is unknown is logged as
//!   Inbound (the integration is about contact-center calls, which are inbound unless Dialpad
//!   says otherwise).
//! * `ani`: the caller's number (Dialpad's external number, the family's number, in both
//!   directions) as ten digits NPANXXXXXX. A number outside the NANP has no ten-digit form: its
//!   E.164 digits without `+` are sent.
//! * `dnis`: the call center's number, the same way; absent when unknown or not a number.
//! * `start` / `end`: see [`call_times`](llbridge_domain::call_record::call_times); whole seconds, UTC.
//! * `disposition`: the conversation's (the first label of the latest dispositions event), else
//!   `"Dialpad"`.
//! * `recording_url`: the link of the enablement's Call Log Link Type; none when it is unset or
//!   the conversation has no link of that kind.
//! * `external_call_id`: the Dialpad call id.
//!
//! Errors are [`PhoneLogError`]s, each with a log code.

pub use llbridge_domain::call_record::{call_times, duration_ms, recording_url};
use llbridge_domain::conversation::Conversation;
use llbridge_domain::event::{Direction, LinkKind};
use llbridge_domain::phone::Phone;

use super::records::{LogDirection, PhoneLog};

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
