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

use crate::claim::{self, Claim};
use crate::error::{Error, Result};
use crate::jobs::{JobKind, JobMessage};
use crate::ports::{Clock, ConfigSource, Queue, Store};
use crate::state;

/// A call-log job waits at most this many times for a conversation that is not over.
pub const MAX_DEFERRALS: u32 = 12;
/// How long a call-log job waits before looking again at a conversation that is not over.
pub const RECHECK: Duration = Duration::from_secs(300);
/// How long a call-log claim is held before another job may take it over.
pub const LOG_LEASE_SECS: i64 = 300;

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
    let ended = conv.ended_at.unwrap_or(conv.last_event_at).max(conv.last_event_at);
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
            JobKind::ScreenPop => self.screen_pop(&event).await?,
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

    async fn screen_pop(&self, event: &CallEvent) -> Result<(Report, Option<Conversation>)> {
        let conv = self.conversation(event).await?;
        let inst = self.config.installation().await?;
        let report = Report::new(JobKind::ScreenPop, event, "skipped").conversation(&conv);
        let enablement = match resolve_scope(&inst, &conv) {
            Ok(e) => e,
            Err(r) => return Ok((report.decision("dropped").reason(r.code()), Some(conv))),
        };
        let report = report.scope(enablement);
        if !enablement.screen_pop {
            return Ok((report.reason("screen_pop_disabled"), Some(conv)));
        }
        Ok((
            report
                .decision("skipped")
                .reason("screen_pop_not_connected")
                .detail("would pop the caller's family for the ringing agent"),
            Some(conv),
        ))
    }

    async fn call_log(
        &self,
        msg: &JobMessage,
        event: &CallEvent,
    ) -> Result<(Report, Option<Conversation>)> {
        let conv = self.conversation(event).await?;
        let inst = self.config.installation().await?;
        let report = Report::new(JobKind::CallLog, event, "dropped").conversation(&conv);
        let enablement = match resolve_scope(&inst, &conv) {
            Ok(e) => e,
            Err(r) => return Ok((report.reason(r.code()), Some(conv))),
        };
        let report = report.scope(enablement);
        if enablement.call_log.is_none() {
            return Ok((report.decision("skipped").reason("call_log_disabled"), Some(conv)));
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
        let held = match claim::acquire(self.store.as_ref(), self.clock.as_ref(), &key, LOG_LEASE_SECS).await? {
            Claim::Acquired(h) => h,
            Claim::Done(_) => {
                return Ok((report.decision("skipped").reason("already_logged"), Some(conv)))
            }
            Claim::Busy => {
                return Err(Error::transient("store", "another job is logging this conversation"))
            }
        };
        let outcome = serde_json::json!({"dialpad_call_id": conv.dialpad_call_id});
        claim::complete(self.store.as_ref(), self.clock.as_ref(), &held, outcome).await?;
        self.mark_logged(&conv).await?;
        Ok((
            report
                .decision("logged")
                .reason("lineleader_not_connected")
                .detail("would log the call in LineLeader"),
            Some(conv),
        ))
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
                .put(&format!("logged#{leg}"), &conv.key, expires, crate::ports::Condition::Any)
                .await?;
        }
        Ok(())
    }
}

trait Decide {
    fn decision(self, d: &'static str) -> Self;
}

impl Decide for Report {
    fn decision(mut self, d: &'static str) -> Report {
        self.decision = d;
        self
    }
}
