//! The worker: one queue message at a time. Every job merges its event into the conversation
//! state first; then a screen-pop or call-log job decides what to do, and says so in one
//! structured log line.

use std::sync::Arc;
use std::time::Duration;

use llbridge_domain::config::Enablement;
use llbridge_domain::conversation::Conversation;
use llbridge_domain::phone;
use llbridge_domain::scope::{self, IgnoreReason};
use llbridge_domain::{CallEvent, Installation};
use serde::Serialize;

use crate::call_log::{self, LogResult};
use crate::claim::{self, Claim};
use crate::error::{Error, Result};
use crate::jobs::{JobKind, JobMessage};
use crate::matching;
use crate::ports::{Clients, Clock, ConfigSource, PopOutcome, Queue, Store};
use crate::state;

/// A call-log job waits at most this many times for a conversation that is not over.
pub const MAX_DEFERRALS: u32 = 12;
/// How long a call-log job waits before looking again at a conversation that is not over.
pub const RECHECK: Duration = Duration::from_secs(300);
/// How long a call-log claim is held before another job may take it over.
pub const LOG_LEASE_SECS: i64 = 300;
/// A pop later than this after the webhook received the ring is useless: skipped.
pub const POP_DEADLINE: Duration = Duration::from_secs(30);
const POP_LEASE_SECS: i64 = 60;

/// What the worker decided for one message; logged as one JSON line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub job: &'static str,
    /// `merged`, `logged`, `popped`, `deferred`, `dropped`, `skipped`.
    pub decision: &'static str,
    /// A reason code for every decision but the plain successes.
    pub reason: Option<&'static str>,
    pub call_id: String,
    pub state: String,
    pub conversation: Option<String>,
    pub dialpad_call_id: Option<String>,
    pub scope: Option<String>,
    pub detail: Option<String>,
}

impl Report {
    fn new(job: JobKind, event: &CallEvent, decision: &'static str) -> Report {
        Report {
            job: job.as_str(),
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

    fn decision(mut self, decision: &'static str) -> Report {
        self.decision = decision;
        self
    }

    fn reason(mut self, reason: &'static str) -> Report {
        self.reason = Some(reason);
        self
    }

    fn detail(mut self, detail: impl Into<String>) -> Report {
        self.detail = Some(detail.into());
        self
    }

    fn conversation(mut self, conv: &Conversation) -> Report {
        self.conversation = Some(conv.key.clone());
        self.dialpad_call_id = Some(conv.dialpad_call_id.clone());
        self
    }

    fn scope(mut self, e: &Enablement) -> Report {
        self.scope = Some(e.scope.to_string());
        self
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
        tracing::info!(
            job = self.job,
            decision = self.decision,
            reason = self.reason.unwrap_or_default(),
            call_id = %self.call_id,
            state = %self.state,
            conversation = self.conversation.as_deref().unwrap_or_default(),
            dialpad_call_id = self.dialpad_call_id.as_deref().unwrap_or_default(),
            scope = self.scope.as_deref().unwrap_or_default(),
            caller = %caller,
            direction,
            detail = self.detail.as_deref().unwrap_or_default(),
            "worker decision"
        );
    }
}

/// The worker's settings and ports.
pub struct Worker {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<dyn ConfigSource>,
    /// The deploy's call-log delay (default 180 s), used when an enablement has the task queue.
    pub log_delay: Duration,
    pub clients: Arc<dyn Clients>,
}

/// When a conversation is ready to be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Look again after this long.
    Wait(Duration, &'static str),
}

/// Whether the call log may run now: the conversation is over, and (with the task queue) has
/// been over for the log delay, so post-hangup details are merged.
pub fn readiness(conv: &Conversation, now_ms: i64, delay: Duration, attempt: u32) -> Readiness {
    if !conv.ended {
        return if attempt < MAX_DEFERRALS {
            Readiness::Wait(RECHECK.max(delay), "conversation_active")
        } else {
            Readiness::Ready
        };
    }
    // Post-hangup events (recordings, dispositions) do not move the end of the call.
    let ended = conv.ended_at.unwrap_or(conv.last_event_at);
    let due = ended + delay.as_millis() as i64;
    if now_ms >= due || attempt >= MAX_DEFERRALS {
        Readiness::Ready
    } else {
        // Never wait longer than one delay, whatever Dialpad's clock says.
        let wait = Duration::from_millis((due - now_ms) as u64).min(delay);
        if wait < Duration::from_secs(1) {
            Readiness::Ready
        } else {
            Readiness::Wait(wait, "waiting_for_post_hangup_events")
        }
    }
}

/// The enablement that applies to a conversation, from all its legs.
pub fn resolve_scope<'a>(
    inst: &'a Installation,
    conv: &Conversation,
) -> std::result::Result<&'a Enablement, IgnoreReason> {
    let cc = conv.call_center.as_ref().ok_or(IgnoreReason::UserLine)?;
    scope::select(inst, &cc.id, cc.office_id.as_deref())
        .map(|(_, e)| e)
        .ok_or(IgnoreReason::NotEnabled)
}

/// A conversation in scope: its record, the config, and the enablement that applies.
struct Scoped {
    conv: Conversation,
    inst: Arc<Installation>,
    enablement: Enablement,
    report: Report,
}

type Decided = (Report, Option<Conversation>);

impl Worker {
    /// Handles one queue message. `Err` asks for a retry (the message is delivered again).
    pub async fn handle(&self, body: &str) -> Result<Report> {
        let msg: JobMessage = serde_json::from_str(body).map_err(|e| {
            tracing::error!(decision = "error", reason = "malformed_message", error = %e, "worker: unreadable message");
            Error::permanent("message", format!("unreadable message: {e}"))
        })?;
        let value: serde_json::Value = serde_json::from_str(msg.event.get())
            .map_err(|e| Error::permanent("message", format!("unreadable event: {e}")))?;
        let event = CallEvent::from_value(&value)
            .map_err(|e| Error::permanent("message", format!("unusable event: {e}")))?;
        state::merge_event(self.store.as_ref(), self.clock.as_ref(), &event, &msg.event).await?;
        let (report, conv) = match msg.job {
            JobKind::Merge => (Report::new(msg.job, &event, "merged"), None),
            JobKind::ScreenPop => self.screen_pop(&msg, &event).await?,
            JobKind::CallLog => self.call_log(&msg, &event).await?,
        };
        report.emit(conv.as_ref());
        Ok(report)
    }

    async fn conversation(&self, event: &CallEvent) -> Result<Conversation> {
        state::load(self.store.as_ref(), &event.call_id)
            .await?
            .ok_or_else(|| Error::transient("store", "the merged event is not in the store yet"))
    }

    /// Loads the event's conversation and decides its scope: `Err` holds the decision to drop
    /// it.
    async fn scoped(
        &self,
        job: JobKind,
        event: &CallEvent,
    ) -> Result<std::result::Result<Scoped, Decided>> {
        let conv = self.conversation(event).await?;
        let inst = self.config.installation().await?;
        let report = Report::new(job, event, "dropped").conversation(&conv);
        let enablement = match resolve_scope(&inst, &conv) {
            Ok(e) => e.clone(),
            Err(r) => return Ok(Err((report.reason(r.code()), Some(conv)))),
        };
        Ok(Ok(Scoped {
            report: report.scope(&enablement),
            conv,
            inst,
            enablement,
        }))
    }

    async fn screen_pop(&self, msg: &JobMessage, event: &CallEvent) -> Result<Decided> {
        let Scoped {
            conv,
            inst,
            enablement,
            report,
        } = match self.scoped(JobKind::ScreenPop, event).await? {
            Ok(s) => s,
            Err(dropped) => return Ok(dropped),
        };
        let (conv, inst, enablement) = (&conv, &inst, &enablement);
        let report = report.decision("skipped");
        let skip = |reason: &'static str| Ok((report.clone().reason(reason), Some(conv.clone())));
        if !enablement.screen_pop {
            return skip("screen_pop_disabled");
        }
        if conv.direction != Some(llbridge_domain::event::Direction::Inbound) {
            return skip("not_inbound");
        }
        if !event.is_user_leg() || !event.state.offers_agent() {
            return skip("not_an_agent_ring");
        }
        let Some(user_id) = event.target.as_ref().and_then(|t| t.id.clone()) else {
            return skip("no_agent_user_id");
        };
        if self.too_late(msg) {
            return skip("pop_too_late");
        }
        let key = format!(
            "pop#{}#{user_id}",
            event.entry_point_call_id.as_deref().unwrap_or(&conv.key)
        );
        let held = match claim::acquire(
            self.store.as_ref(),
            self.clock.as_ref(),
            &key,
            POP_LEASE_SECS,
        )
        .await?
        {
            Claim::Acquired(h) => h,
            Claim::Done(_) => return skip("already_popped"),
            Claim::Busy => return skip("pop_in_progress"),
        };
        let (report, done) = self
            .pop(msg, inst, enablement, conv, &user_id, report)
            .await;
        if done {
            let outcome = serde_json::json!({"decision": report.decision, "reason": report.reason});
            claim::complete(self.store.as_ref(), self.clock.as_ref(), &held, outcome).await?;
        } else {
            // Not popped: a later ring or connect of this agent may still pop.
            claim::release(self.store.as_ref(), &held).await?;
        }
        Ok((report, Some(conv.clone())))
    }

    fn too_late(&self, msg: &JobMessage) -> bool {
        self.clock.now_ms() - msg.received_at > POP_DEADLINE.as_millis() as i64
    }

    /// Matches the family and pops it. Returns the report, and whether the pop is settled
    /// (done, or not to be tried again for this agent).
    async fn pop(
        &self,
        msg: &JobMessage,
        inst: &Installation,
        enablement: &Enablement,
        conv: &Conversation,
        user_id: &str,
        report: Report,
    ) -> (Report, bool) {
        let ll = match self.clients.lineleader(inst, &enablement.connection).await {
            Ok(ll) => ll,
            Err(e) => {
                return (
                    report
                        .decision("failed")
                        .reason("lineleader_unavailable")
                        .detail(e.to_string()),
                    false,
                )
            }
        };
        let matched = match matching::match_or_create(
            ll.as_ref(),
            self.store.as_ref(),
            self.clock.as_ref(),
            conv,
            enablement,
        )
        .await
        {
            Ok(Ok(m)) => m,
            Ok(Err(d)) => {
                return (
                    report.decision("dropped").reason(d.reason).detail(d.detail),
                    true,
                )
            }
            Err(e) => {
                return (
                    report
                        .decision("failed")
                        .reason("lineleader_unavailable")
                        .detail(e.to_string()),
                    false,
                )
            }
        };
        if let Err(e) = self.remember_family(conv, &matched.family_id).await {
            tracing::warn!(error = %e, "worker: could not remember the popped family for the call log");
        }
        let Some(url) = enablement.screen_pop_url(&matched.family_id) else {
            return (report.reason("no_screen_pop_base_url"), true);
        };
        if self.too_late(msg) {
            return (
                report.reason("pop_too_late").detail(format!(
                    "family {} found too late to pop",
                    matched.family_id
                )),
                true,
            );
        }
        let detail = format!(
            "family {} ({}; center {}) for user {user_id}",
            matched.family_id, matched.rule, matched.center_rule
        );
        let dialpad = match self.clients.dialpad(inst).await {
            Ok(d) => d,
            Err(e) => {
                return (
                    report
                        .decision("failed")
                        .reason("dialpad_unavailable")
                        .detail(e.to_string()),
                    false,
                )
            }
        };
        match dialpad.screen_pop(user_id, &url).await {
            Ok(PopOutcome::Sent) => (report.decision("popped").detail(detail), true),
            Ok(PopOutcome::RateLimited) => (report.reason("rate_limited").detail(detail), true),
            Err(e) if e.is_transient() => (
                report
                    .decision("failed")
                    .reason("dialpad_unavailable")
                    .detail(e.to_string()),
                false,
            ),
            Err(e) => (
                report
                    .decision("failed")
                    .reason("dialpad_rejected")
                    .detail(e.to_string()),
                true,
            ),
        }
    }

    /// Remembers the family for every leg known now, so the call log lands on it too.
    async fn remember_family(&self, conv: &Conversation, family_id: &str) -> Result<()> {
        let expires = Some(self.clock.now_secs() + matching::REMEMBER_SECS);
        for leg in &conv.legs {
            self.store
                .put(
                    &matching::remembered_key(leg),
                    family_id,
                    expires,
                    crate::ports::Condition::Absent,
                )
                .await?;
        }
        Ok(())
    }

    async fn call_log(&self, msg: &JobMessage, event: &CallEvent) -> Result<Decided> {
        let Scoped {
            conv,
            inst,
            enablement,
            report,
        } = match self.scoped(JobKind::CallLog, event).await? {
            Ok(s) => s,
            Err(dropped) => return Ok(dropped),
        };
        let enablement = &enablement;
        if enablement.call_log.is_none() {
            return Ok((
                report.decision("skipped").reason("call_log_disabled"),
                Some(conv),
            ));
        }
        let delay = if enablement.enable_task_queue {
            self.log_delay
        } else {
            Duration::ZERO
        };
        if let Readiness::Wait(wait, why) =
            readiness(&conv, self.clock.now_ms(), delay, msg.attempt)
        {
            let mut next = msg.clone();
            next.attempt += 1;
            self.queue
                .send(&next.to_json(), wait.min(Duration::from_secs(900)))
                .await?;
            return Ok((
                report
                    .decision("deferred")
                    .reason(why)
                    .detail(format!("looking again in {} s", wait.as_secs())),
                Some(conv),
            ));
        }
        if let Some(other) = self.logged_as(&conv).await? {
            return Ok((
                report
                    .decision("skipped")
                    .reason("already_logged")
                    .detail(format!("logged as conversation {other}")),
                Some(conv),
            ));
        }
        let key = format!("log#{}", conv.key);
        let held = match claim::acquire(
            self.store.as_ref(),
            self.clock.as_ref(),
            &key,
            LOG_LEASE_SECS,
        )
        .await?
        {
            Claim::Acquired(h) => h,
            Claim::Done(_) => {
                return Ok((
                    report.decision("skipped").reason("already_logged"),
                    Some(conv),
                ))
            }
            Claim::Busy => {
                return Err(Error::transient(
                    "store",
                    "another job is logging this conversation",
                ))
            }
        };
        let result = call_log::run(
            self.store.as_ref(),
            self.clock.as_ref(),
            self.clients.as_ref(),
            &inst,
            enablement,
            &conv,
        )
        .await;
        let (decision, reason, detail) = match result {
            Ok(LogResult::Logged { detail, outcome }) => {
                claim::complete(self.store.as_ref(), self.clock.as_ref(), &held, outcome).await?;
                ("logged", None, detail)
            }
            Ok(LogResult::Dropped { reason, detail }) => {
                let outcome = serde_json::json!({"dropped": reason});
                claim::complete(self.store.as_ref(), self.clock.as_ref(), &held, outcome).await?;
                ("dropped", Some(reason), detail)
            }
            Err(e) => {
                claim::release(self.store.as_ref(), &held).await?;
                let report = report
                    .decision("failed")
                    .reason(if e.is_transient() {
                        "transient_failure"
                    } else {
                        "permanent_failure"
                    })
                    .detail(e.to_string());
                report.emit(Some(&conv));
                return Err(e);
            }
        };
        self.mark_logged(&conv).await?;
        let mut report = report.decision(decision).detail(detail);
        report.reason = reason;
        Ok((report, Some(conv)))
    }

    /// The conversation key under which any of this conversation's legs was already logged.
    async fn logged_as(&self, conv: &Conversation) -> Result<Option<String>> {
        for leg in &conv.legs {
            if let Some(item) = self.store.get(&format!("logged#{leg}")).await? {
                return Ok(Some(item.value));
            }
        }
        Ok(None)
    }

    async fn mark_logged(&self, conv: &Conversation) -> Result<()> {
        let expires = Some(self.clock.now_secs() + claim::DONE_TTL_SECS);
        for leg in &conv.legs {
            self.store
                .put(
                    &format!("logged#{leg}"),
                    &conv.key,
                    expires,
                    crate::ports::Condition::Any,
                )
                .await?;
        }
        Ok(())
    }
}
