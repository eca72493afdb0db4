//! What the worker decided for one message: a [`Decision`], a [`Reason`], and the one
//! structured log line that says so.

use llbridge_domain::config::Enablement;
use llbridge_domain::conversation::Conversation;
use llbridge_domain::phone;
use llbridge_domain::CallEvent;
use serde::Serialize;

use crate::error::Error;
use crate::jobs::JobKind;
pub use crate::outcome::{Decision, Reason};

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
