//! What became of a message, and why: the [`Decision`] and [`Reason`] every decision line,
//! ledger entry and report speaks in.

use std::fmt;

use llbridge_domain::scope::IgnoreReason;
use serde::{Deserialize, Serialize, Serializer};

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// A merge job: the event is in the conversation's state.
    Merged,
    Logged,
    /// Logged, for a call the webhook never delivered, found in Dialpad's call list.
    RecoveredByReconciliation,
    Popped,
    /// Put off: the call log looks again later.
    Deferred,
    /// Not done, for good, by a rule.
    Dropped,
    /// Nothing to do.
    Skipped,
    /// An admin should look: an outcome is unknown and the policy is `hold`.
    NeedsReview,
    /// Failed for good (acknowledged, never retried).
    Failed,
    /// Failed this time; delivered again later.
    Retry,
    /// Failed past the retry horizon: moved to the dead-letter queue.
    GaveUp,
}

impl Decision {
    pub const ALL: [Decision; 11] = [
        Decision::Merged,
        Decision::Logged,
        Decision::RecoveredByReconciliation,
        Decision::Popped,
        Decision::Deferred,
        Decision::Dropped,
        Decision::Skipped,
        Decision::NeedsReview,
        Decision::Failed,
        Decision::Retry,
        Decision::GaveUp,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Merged => "merged",
            Decision::Logged => "logged",
            Decision::RecoveredByReconciliation => "recovered_by_reconciliation",
            Decision::Popped => "popped",
            Decision::Deferred => "deferred",
            Decision::Dropped => "dropped",
            Decision::Skipped => "skipped",
            Decision::NeedsReview => "needs_review",
            Decision::Failed => "failed",
            Decision::Retry => "retry",
            Decision::GaveUp => "gave_up",
        }
    }

    /// The decision of a code (`logged`, ...).
    pub fn parse(code: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == code)
    }

    /// Whether a call log's decision is final (the ledger keeps it): logged, recovered,
    /// dropped, skipped, failed or held for review.
    pub fn is_final_log(&self) -> bool {
        match self {
            Decision::Logged
            | Decision::RecoveredByReconciliation
            | Decision::Dropped
            | Decision::Skipped
            | Decision::Failed
            | Decision::NeedsReview => true,
            Decision::Merged
            | Decision::Popped
            | Decision::Deferred
            | Decision::Retry
            | Decision::GaveUp => false,
        }
    }

    /// Whether the call is in the CRM (logged, or recovered and logged).
    pub fn is_written(&self) -> bool {
        matches!(self, Decision::Logged | Decision::RecoveredByReconciliation)
    }

    /// What an admin must look at.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            Decision::Failed | Decision::Retry | Decision::GaveUp | Decision::NeedsReview
        )
    }
}

/// Why: the worker's own reasons, and those decided below it (scope rules, the CRM's rules,
/// failures), by their codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Outside the product's scope (a user line, a department, not enabled).
    Ignored(IgnoreReason),
    ScreenPopDisabled,
    NotInbound,
    NotAnAgentRing,
    NoAgentUserId,
    /// Found more than [`crate::worker::POP_DEADLINE`] after the ring.
    PopTooLate,
    AlreadyPopped,
    PopInProgress,
    /// An earlier pop was sent and its answer lost; never sent twice.
    PopOutcomeUnknown,
    /// Dialpad's pop limit.
    RateLimited,
    CrmUnavailable,
    DialpadUnavailable,
    /// A pop refused with no more precise code.
    PopRejected,
    CallLogDisabled,
    AlreadyLogged,
    LogInProgress,
    ConversationActive,
    WaitingForPostHangupEvents,
    /// An answered call without a disposition, waiting `disposition_wait_secs` for one.
    WaitingForDisposition,
    /// Logged although its call-center leg never said it ended: no event for
    /// `worker::log::SILENCE`.
    LoggedWithoutHangup,
    /// A detail (disposition, recording, recap) merged after the call was logged: not in the
    /// log.
    LateEventAfterLog,
    /// The CRM's decision (`family_ambiguous`, `leadsquared_no_lead_number`,
    /// `lineleader_rejected`, ...).
    Crm(&'static str),
    /// A failure's code ([`crate::Error::reason`]).
    Failure(&'static str),
}

impl Reason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Ignored(r) => r.code(),
            Reason::ScreenPopDisabled => "screen_pop_disabled",
            Reason::NotInbound => "not_inbound",
            Reason::NotAnAgentRing => "not_an_agent_ring",
            Reason::NoAgentUserId => "no_agent_user_id",
            Reason::PopTooLate => "pop_too_late",
            Reason::AlreadyPopped => "already_popped",
            Reason::PopInProgress => "pop_in_progress",
            Reason::PopOutcomeUnknown => "pop_outcome_unknown",
            Reason::RateLimited => "rate_limited",
            Reason::CrmUnavailable => "crm_unavailable",
            Reason::DialpadUnavailable => "dialpad_unavailable",
            Reason::PopRejected => "pop_rejected",
            Reason::CallLogDisabled => "call_log_disabled",
            Reason::AlreadyLogged => "already_logged",
            Reason::LogInProgress => "log_in_progress",
            Reason::ConversationActive => "conversation_active",
            Reason::WaitingForPostHangupEvents => "waiting_for_post_hangup_events",
            Reason::WaitingForDisposition => "waiting_for_disposition",
            Reason::LoggedWithoutHangup => "logged_without_hangup",
            Reason::LateEventAfterLog => "late_event_after_log",
            Reason::Crm(code) | Reason::Failure(code) => code,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

macro_rules! eq_str {
    ($($t:ty),*) => {$(
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    )*};
}
eq_str!(Decision, Reason);
