//! The CRM port: what a CRM (LineLeader, LeadSquared, the webhook) does for the use cases, and
//! the [`Clients`] that give each enablement its CRM. How a CRM finds its contact, pops and logs
//! is its own business; it runs every write as a step of the use case's exactly-once effects
//! ([`crate::effect::Effects::step`]), and the ledger is the use case's.

use async_trait::async_trait;
use serde_json::Value;

use crate::error::Result;
use crate::ports::Dialpad;

/// What became of a call log.
#[derive(Debug, Clone, PartialEq)]
pub enum LogResult {
    /// Written (in Event mode: every step done or skipped).
    Logged { detail: String, outcome: Value },
    /// Not written, and retrying cannot change that.
    Dropped {
        reason: &'static str,
        detail: String,
    },
    /// Not (entirely) written: a write's outcome is unknown and the tenant cannot tell, or the
    /// CRM refused a write. An admin should look.
    Unresolved {
        reason: &'static str,
        detail: String,
        outcome: Value,
    },
}

/// A call log, and the CRM's contact decision (LineLeader: the family, its rule, or why none
/// with the candidates), for the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub result: LogResult,
    pub contact: Option<Value>,
}

/// A detail merged after its conversation's log was decided, and that log as the ledger
/// keeps it.
pub struct LateDetail<'a> {
    /// The late event's state (`dispositions`, `recap_action_items`, ...).
    pub state: llbridge_domain::CallState,
    /// The ledger's family decision (`{id, rule, center_id, center_rule}`).
    pub family: &'a Value,
    /// The call log's recorded effects.
    pub effects: &'a Value,
}

/// What a CRM did with a late detail.
#[derive(Debug, Clone, PartialEq)]
pub struct LateLog {
    /// `late_disposition_applied`, `late_follow_ups_created`.
    pub reason: &'static str,
    pub detail: String,
    pub outcome: Value,
}

/// What to pop for an agent offered an inbound call.
#[derive(Debug, Clone, PartialEq)]
pub enum PopPlan {
    /// Open this page in the agent's browser, through Dialpad's screen pop.
    Page { uri: String, detail: String },
    /// The CRM pops it itself: this request goes to [`Crm::send_pop`].
    Crm { request: Value, detail: String },
    /// No pop, for good (for this agent and call): dropped by a rule, or skipped; why.
    Skip {
        decision: crate::outcome::Decision,
        reason: &'static str,
        detail: String,
    },
}

/// The agent offered an inbound call: whom a pop is for.
pub struct Offer<'a> {
    /// The agent's Dialpad user id.
    pub user_id: &'a str,
    /// The ringing (or answering) agent leg's target: the agent's Dialpad user, name, e-mail
    /// and number.
    pub agent: &'a llbridge_domain::event::Party,
    /// The call's Dialpad id as its call log will quote it: the call-center leg the agent leg
    /// names, else the conversation's.
    pub call_id: &'a str,
}

/// Who owns a caller, for routing a call while it rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The caller's contact (a LineLeader family), and its group (its center's name).
    Contact { id: String, group: Option<String> },
    /// The person who owns the caller (a LeadSquared lead's owner), by e-mail.
    Person { email: String },
    /// Nobody knows the caller, or the caller's contact has no owner.
    Unknown,
    /// Several contacts have the number, and no rule decided.
    Ambiguous { candidates: Vec<String> },
}

/// A text to log: the event, the Dialpad user who sent it (an outbound text) with the e-mail
/// Dialpad knows, and the job's effects.
pub struct TextCx<'a> {
    pub fx: &'a crate::effect::Effects<'a>,
    pub text: &'a llbridge_domain::text::TextEvent,
    pub enablement: &'a llbridge_domain::config::Enablement,
    /// The sender's Dialpad user id and e-mail, when known.
    pub sender: Option<(&'a str, Option<&'a str>)>,
    /// The key the text's effects are recorded under (`text#<sms id>`).
    pub anchor: &'a str,
}

/// What a CRM sees of one job.
pub struct Cx<'a> {
    /// The job's store, clock, deadline and leases: every write goes through
    /// [`Effects::run`](crate::effect::Effects::run) (intent, lookup, result).
    pub fx: &'a crate::effect::Effects<'a>,
    pub conv: &'a llbridge_domain::Conversation,
    pub enablement: &'a llbridge_domain::config::Enablement,
}

/// A CRM the calls go to (LineLeader, LeadSquared): the port at the level of the use case.
/// How the CRM finds or creates its contact, pops and logs is the adapter's business; the
/// exactly-once machinery (`Cx::fx`) and the ledger are the use case's, the same for every CRM.
#[async_trait]
pub trait Crm: Send + Sync {
    /// What to pop for the agent of an inbound call. It may read, and create the contact
    /// (once), but sends no pop: the use case does, after recording its intent.
    async fn plan_pop(&self, cx: &Cx<'_>, offer: &Offer<'_>) -> Result<PopPlan>;
    /// Sends a pop the CRM makes itself ([`PopPlan::Crm`]). An answer lost after sending is an
    /// unknown outcome.
    async fn send_pop(&self, request: &Value) -> Result<()>;
    /// Logs a finished conversation, whose stable key is `anchor`.
    async fn log(&self, cx: &Cx<'_>, anchor: &str) -> Result<Logged>;

    /// A detail that came after the conversation was logged (within
    /// [`crate::worker::LATE_WINDOW`]): what the CRM still does with it, once. `None`:
    /// nothing (the default), and the worker says the detail is not in the log.
    async fn log_late(
        &self,
        cx: &Cx<'_>,
        anchor: &str,
        late: &LateDetail<'_>,
    ) -> Result<Option<LateLog>> {
        let _ = (cx, anchor, late);
        Ok(None)
    }

    /// Who owns `caller`, for a call router's answer while the phone rings: reads only (no
    /// contact is created), with the matching rules of `enablement`, quick. `Unknown` by
    /// default: the router answers its fallback.
    async fn owner(
        &self,
        caller: &llbridge_domain::phone::Phone,
        enablement: &llbridge_domain::config::Enablement,
        now_ms: i64,
    ) -> Result<Owner> {
        let _ = (caller, enablement, now_ms);
        Ok(Owner::Unknown)
    }

    /// Logs a text (once: every write a step of `cx.fx` under `cx.anchor`). `Dropped` with
    /// `texts_not_supported` by default.
    async fn log_text(&self, cx: &TextCx<'_>) -> Result<Logged> {
        let _ = cx;
        Ok(Logged {
            result: LogResult::Dropped {
                reason: llbridge_domain::text::ignored::NOT_SUPPORTED,
                detail: "this CRM has no text log".into(),
            },
            contact: None,
        })
    }

    /// `doctor`'s checks of a router's center names against the CRM (`centers` of a `routing`
    /// entry). Reads only.
    async fn checkup_groups(&self, scope: &str, groups: &[String]) -> Vec<crate::checks::Check> {
        let _ = (scope, groups);
        Vec::new()
    }

    /// `doctor`'s checks of the connection itself (credentials, what the tenant can answer),
    /// named `scope`. Reads only. A failed check named `*_login` says the connection cannot be
    /// used at all: its enablements are not checked further.
    async fn checkup_connection(&self, scope: &str) -> Vec<crate::checks::Check> {
        let _ = scope;
        Vec::new()
    }

    /// `doctor`'s checks of one enablement's settings against the CRM. Reads only.
    async fn checkup(&self, probe: &crate::checks::Probe<'_>) -> Vec<crate::checks::Check> {
        let _ = probe;
        Vec::new()
    }
}

/// The CRMs and the Dialpad API of an installation, built once per connection and reused
/// (their token caches and reference-data caches live as long as the process).
#[async_trait]
pub trait Clients: Send + Sync {
    /// The CRM of an enablement (its connection's).
    async fn crm(
        &self,
        inst: &llbridge_domain::Installation,
        enablement: &llbridge_domain::config::Enablement,
    ) -> Result<std::sync::Arc<dyn Crm>>;

    /// The Dialpad API client of `inst`.
    async fn dialpad(
        &self,
        inst: &llbridge_domain::Installation,
    ) -> Result<std::sync::Arc<dyn Dialpad>>;
}

impl Cx<'_> {
    /// One decision line for a step of this conversation's call log: `done` (with
    /// `found_on_lookup` or `possible_duplicate` when so), `already_done`, `skipped`,
    /// `needs_review`, or `failed` with `rejected` (the CRM's code for a refused write) or the
    /// error's reason.
    pub fn log_step(&self, step: &str, rejected: &str, ran: &Result<crate::effect::Ran>) {
        use crate::effect::How;
        let (decision, reason, detail) = match ran {
            Ok(ran) => {
                let (decision, reason) = match ran.how {
                    How::Written => ("done", ""),
                    How::FoundOnLookup | How::PossibleDuplicate => ("done", ran.how.as_str()),
                    How::AlreadyDone => ("already_done", ""),
                    How::Skipped => ("skipped", ""),
                    How::NeedsReview => ("needs_review", "lookup_unavailable"),
                    How::Rejected => ("failed", rejected),
                };
                (decision, reason, ran.outcome.to_string())
            }
            Err(e) => ("failed", e.reason(), e.to_string()),
        };
        tracing::info!(
            job = "call_log",
            step,
            decision,
            reason,
            conversation = %self.conv.key,
            dialpad_call_id = %self.conv.dialpad_call_id,
            detail,
            "worker decision"
        );
    }
}
