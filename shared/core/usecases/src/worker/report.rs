//! What the worker decided for one message: a [`Decision`], a [`Reason`], and the one
//! structured log line that says so.

use std::fmt;

use llbridge_domain::config::Enablement;
use llbridge_domain::conversation::Conversation;
use llbridge_domain::phone;
use llbridge_domain::scope::IgnoreReason;
use llbridge_domain::CallEvent;
use serde::{Serialize, Serializer};

use crate::error::Error;
use crate::jobs::JobKind;

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// Found more than [`super::POP_DEADLINE`] after the ring.
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
    /// [`super::log::SILENCE`].
    LoggedWithoutHangup,
    /// A detail (disposition, recording, recap) merged after the call was logged: not in the
    /// log.
    LateEventAfterLog,
    /// The CRM's decision (`family_ambiguous`, `leadsquared_no_lead_number`,
    /// `lineleader_rejected`, ...).
    Crm(&'static str),
    /// A failure's code ([`Error::reason`]).
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

/// What the worker decided for one message; logged as one JSON line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `None` for a message too malformed to say.
    pub job: Option<JobKind>,
    pub decision: Decision,
    /// A reason for every decision but the plain successes.
    pub reason: Option<Reason>,
    pub call_id: String,
    pub state: String,
    pub conversation: Option<String>,
    pub dialpad_call_id: Option<String>,
    pub scope: Option<String>,
    pub detail: Option<String>,
}

impl Report {
    pub(crate) fn new(job: JobKind, event: &CallEvent, decision: Decision) -> Report {
        Report {
            job: Some(job),
            decision,
            reason: None,
            call_id: event.call_id.clone(),
            state: event.state.as_str().to_owned(),
            conversation: None,
            dialpad_call_id: None,
            scope: None,
            detail: None,
        }
    }

    /// The report of a message that could not be read.
    pub(crate) fn unreadable(error: &Error) -> Report {
        Report {
            job: None,
            decision: Decision::Failed,
            reason: Some(Reason::Failure(error.reason())),
            call_id: String::new(),
            state: String::new(),
            conversation: None,
            dialpad_call_id: None,
            scope: None,
            detail: Some(error.to_string()),
        }
    }

    pub(crate) fn decision(mut self, decision: Decision) -> Report {
        self.decision = decision;
        self
    }

    pub(crate) fn reason(mut self, reason: Reason) -> Report {
        self.reason = Some(reason);
        self
    }

    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Report {
        self.detail = Some(detail.into());
        self
    }

    pub(crate) fn conversation(mut self, conv: &Conversation) -> Report {
        self.conversation = Some(conv.key.clone());
        self.dialpad_call_id = Some(conv.dialpad_call_id.clone());
        self
    }

    pub(crate) fn scope(mut self, e: &Enablement) -> Report {
        self.scope = Some(e.scope.to_string());
        self
    }

    /// This report, failed on `error`.
    pub(crate) fn failed(self, error: &Error) -> Report {
        self.decision(Decision::Failed)
            .reason(Reason::Failure(error.reason()))
            .detail(error.to_string())
    }

    /// The job's name in the log line.
    pub fn job_name(&self) -> &'static str {
        self.job.map_or("unknown", |j| j.as_str())
    }

    /// Writes the one log line of this decision.
    pub fn emit(&self, conv: Option<&Conversation>) {
        let caller = conv
            .and_then(|c| c.caller_number.as_deref())
            .map(phone::mask)
            .unwrap_or_default();
        let direction = conv
            .and_then(|c| c.direction)
            .map(|d| d.as_str())
            .unwrap_or_default();
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    job = self.job_name(),
                    decision = self.decision.as_str(),
                    reason = self.reason.map(|r| r.as_str()).unwrap_or_default(),
                    call_id = %self.call_id,
                    state = %self.state,
                    conversation = self.conversation.as_deref().unwrap_or_default(),
                    dialpad_call_id = self.dialpad_call_id.as_deref().unwrap_or_default(),
                    scope = self.scope.as_deref().unwrap_or_default(),
                    caller = %caller,
                    direction,
                    detail = self.detail.as_deref().unwrap_or_default(),
                    "worker decision"
                )
            };
        }
        if self.decision.is_warning() {
            line!(warn)
        } else {
            line!(info)
        }
        crate::telemetry::job(
            self.job_name(),
            self.decision.as_str(),
            self.reason.map(|r| r.as_str()).unwrap_or_default(),
        );
    }

    /// What the dead-letter queue keeps of a job given up after `deliveries`.
    pub fn given_up(&self, deliveries: u32) -> crate::ports::GivenUp {
        crate::ports::GivenUp {
            reason: self.reason.map_or("gave_up", |r| r.as_str()).to_owned(),
            detail: self.detail.clone().unwrap_or_default(),
            deliveries,
        }
    }
}
