//! The messages between the webhook and the worker.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// What the worker does with a message. Every job first merges its event into the
/// conversation's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Merge the event into the conversation state; nothing else.
    Merge,
    /// Merge, then pop the family in the agent's browser.
    ScreenPop,
    /// Merge, then log the conversation in LineLeader once it is over.
    CallLog,
    /// Log a text message (its event is a Dialpad SMS event, not a call event).
    Text,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [
        JobKind::Merge,
        JobKind::ScreenPop,
        JobKind::CallLog,
        JobKind::Text,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            JobKind::Merge => "merge",
            JobKind::ScreenPop => "screen_pop",
            JobKind::CallLog => "call_log",
            JobKind::Text => "text",
        }
    }
}

/// One queue message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobMessage {
    /// Message format version.
    pub v: u8,
    pub job: JobKind,
    /// The event's JSON exactly as Dialpad sent it (ids keep every digit).
    pub event: Box<RawValue>,
    /// When the webhook received the event (epoch ms).
    pub received_at: i64,
    /// How many times a call-log job was put off because the conversation was not over.
    #[serde(default)]
    pub attempt: u32,
    /// How the event reached the product: from Dialpad's webhook (absent), or found by the
    /// reconciler in Dialpad's call list.
    #[serde(default, skip_serializing_if = "Source::is_webhook")]
    pub source: Source,
    /// The webhook merged the event into the conversation's state before it answered: the
    /// worker need not merge it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub merged: bool,
}

/// How a conversation reached the product.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    #[default]
    Webhook,
    Reconciliation,
    /// A CRM posted it (a disposition picked in LeadSquared's popup).
    Crm,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Reconciliation => "reconciliation",
            Source::Crm => "crm",
        }
    }

    fn is_webhook(&self) -> bool {
        *self == Source::Webhook
    }
}

impl JobMessage {
    pub fn new(job: JobKind, event: Box<RawValue>, received_at: i64) -> JobMessage {
        JobMessage {
            v: 1,
            job,
            event,
            received_at,
            attempt: 0,
            source: Source::Webhook,
            merged: false,
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing a struct of plain fields and a RawValue cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
