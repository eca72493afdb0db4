//! What the steps of one LineLeader call log share: the job's effects, the family, the
//! enablement; their log lines; the staff list read once.

use llbridge_domain::config::{Enablement, UnknownOutcomePolicy};
use llbridge_domain::Conversation;
use llbridge_usecases::effect::{Effects, How, Ran};
use llbridge_usecases::{Error, Result};
use serde_json::Value;

use super::matching::Matched;
use crate::api::LineLeader;
use crate::rules::event_mode::SkipReason;
use crate::rules::records::Staff;

/// The reason of a step's outcome that needs an admin, if any.
pub(super) fn unresolved(ran: &Ran) -> Option<&'static str> {
    match ran.first_how() {
        How::NeedsReview => Some("needs_review"),
        How::Rejected => Some("lineleader_rejected"),
        _ => None,
    }
}

pub(super) fn intent_of<T: serde::Serialize>(what: &str, v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::permanent("worker", format!("{what} intent: {e}")))
}

pub(super) fn from_intent<T: serde::de::DeserializeOwned>(what: &str, v: Value) -> Result<T> {
    serde_json::from_value(v)
        .map_err(|e| Error::permanent("store", format!("{what} intent unreadable: {e}")))
}

/// What the steps of one call log share.
pub(super) struct Steps<'a> {
    pub(super) fx: &'a Effects<'a>,
    pub(super) ll: &'a dyn LineLeader,
    pub(super) conv: &'a Conversation,
    pub(super) matched: &'a Matched,
    pub(super) enablement: &'a Enablement,
    /// The enablement's policy for a write whose answer was lost and cannot be looked up.
    pub(super) unknown_outcome: UnknownOutcomePolicy,
    pub(super) anchor: &'a str,
}

impl Steps<'_> {
    pub(super) fn line(&self, step: &str, decision: &str, reason: &str, detail: &str) {
        tracing::info!(
            job = "call_log",
            step,
            decision,
            reason,
            conversation = %self.conv.key,
            dialpad_call_id = %self.conv.dialpad_call_id,
            family_id = %self.matched.family_id,
            detail,
            "worker decision"
        );
    }

    /// One log line for a step's outcome.
    pub(super) fn report(&self, step: &str, r: &Result<Ran>) {
        match r {
            Ok(ran) => {
                let detail = ran.outcome.to_string();
                let (decision, reason) = match ran.how {
                    How::Written => ("done", ""),
                    How::FoundOnLookup => ("done", "found_on_lookup"),
                    How::PossibleDuplicate => ("done", "possible_duplicate"),
                    How::AlreadyDone => ("already_done", ""),
                    How::Skipped => (
                        "skipped",
                        ran.outcome
                            .get("skipped")
                            .and_then(Value::as_str)
                            .map(skip_code)
                            .unwrap_or(""),
                    ),
                    How::NeedsReview => ("needs_review", "lookup_unavailable"),
                    How::Rejected => ("failed", "lineleader_rejected"),
                };
                self.line(step, decision, reason, &detail);
            }
            Err(e) => self.line(step, "failed", e.reason(), &e.to_string()),
        }
    }
}

/// The staff list, read once for the steps that need it, and only when one does.
pub(super) struct StaffCache<'a> {
    ll: &'a dyn LineLeader,
    cell: tokio::sync::OnceCell<Result<Vec<Staff>>>,
}

impl<'a> StaffCache<'a> {
    pub(super) fn new(ll: &'a dyn LineLeader) -> StaffCache<'a> {
        StaffCache {
            ll,
            cell: tokio::sync::OnceCell::new(),
        }
    }

    pub(super) async fn get(&self) -> Result<Vec<Staff>> {
        self.cell
            .get_or_init(|| async { self.ll.staff().await })
            .await
            .clone()
    }
}

/// The `&'static` reason code of a recorded skip.
pub(super) fn skip_code(code: &str) -> &'static str {
    SkipReason::ALL
        .iter()
        .map(|r| r.code())
        .chain(crate::rules::follow_up::SKIP_CODES.iter().copied())
        .find(|c| *c == code)
        .unwrap_or("skipped")
}
