//! The worker: one queue message at a time. Every job merges its event into the conversation
//! state first; then a screen-pop or call-log job decides what to do, and says so in one
//! structured log line.
//!
//! [`Worker::settle`] turns a job's result into what the queue should do with its message:
//! acknowledge it (done, dropped, or failed for good: a malformed message, a LineLeader 4xx, a
//! config error), retry it after a growing delay (a transient failure), or, once the retry
//! horizon has passed, move it to the dead-letter queue with its last reason.

use std::sync::Arc;
use std::time::Duration;

use llbridge_domain::config::Enablement;
use llbridge_domain::conversation::Conversation;
use llbridge_domain::phone;
use llbridge_domain::scope::{self, IgnoreReason};
use llbridge_domain::{CallEvent, Installation};
use serde::Serialize;

use crate::claim::Claim;
use crate::effect::{Effects, Timing};
use crate::error::{Error, ErrorKind, Result, NOT_SENT};
use crate::jobs::{JobKind, JobMessage};
use crate::ledger;
use crate::ports::{
    Clients, Clock, ConfigSource, Cx, LogResult, Offer, PopOutcome, PopPlan, Queue, Store,
};
use crate::state;

/// A call-log job waits at most this many times for a conversation that is not over.
pub const MAX_DEFERRALS: u32 = 12;
/// How long a call-log job waits before looking again at a conversation that is not over.
pub const RECHECK: Duration = Duration::from_secs(300);
/// A pop later than this after the webhook received the ring is useless: skipped.
pub const POP_DEADLINE: Duration = Duration::from_secs(30);

/// What a pop sends.
enum Pop {
    /// A page, through Dialpad's screen pop.
    Page(String),
    /// The CRM's own pop request.
    Crm(serde_json::Value),
}

/// What the worker decided for one message; logged as one JSON line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub job: &'static str,
    /// `merged`, `logged`, `popped`, `deferred`, `dropped`, `skipped`, `needs_review`,
    /// `failed` (for good), `retry`, `gave_up` (moved to the dead-letter queue).
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
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
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
                )
            };
        }
        // What an admin must look at is a warning; the rest is information.
        match self.decision {
            "failed" | "retry" | "gave_up" | "needs_review" => line!(warn),
            _ => line!(info),
        }
    }

    /// What the dead-letter queue keeps of a job given up after `deliveries`.
    pub fn given_up(&self, deliveries: u32) -> crate::ports::GivenUp {
        crate::ports::GivenUp {
            reason: self.reason.unwrap_or("gave_up").to_owned(),
            detail: self.detail.clone().unwrap_or_default(),
            deliveries,
        }
    }

    /// The report of a job that stopped on `error`.
    fn failed(job: JobKind, event: &CallEvent, error: &Error) -> Report {
        Report::new(job, event, "failed")
            .reason(error.reason())
            .detail(error.to_string())
    }
}

/// Retries of failed jobs: growing delays, then the dead-letter queue once the horizon has
/// passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failed delivery; it doubles on each one.
    pub first: Duration,
    /// The longest delay between two deliveries.
    pub max: Duration,
    /// A job still failing this long after its first failure goes to the dead-letter queue.
    pub horizon: Duration,
}

impl Default for RetryPolicy {
    /// 30 s doubling to 15 min, for 6 hours: a LineLeader outage of hours delays logs, it
    /// does not lose them.
    fn default() -> Self {
        RetryPolicy {
            first: Duration::from_secs(30),
            max: Duration::from_secs(900),
            horizon: Duration::from_secs(6 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The delay before the next delivery, after the `receive_count`th failed (1 = the first).
    pub fn delay(&self, receive_count: u32) -> Duration {
        let doublings = receive_count.saturating_sub(1).min(20);
        self.first
            .saturating_mul(1u32 << doublings)
            .min(self.max)
            .max(Duration::from_millis(1))
    }

    /// Whether the delays waited so far, after `receive_count` failed deliveries, reach the
    /// horizon.
    pub fn exhausted(&self, receive_count: u32) -> bool {
        let waited: Duration = (1..receive_count).map(|n| self.delay(n)).sum();
        waited >= self.horizon
    }

    /// How many deliveries a job failing all along gets before it is given up: a queue's
    /// own redrive count must stay above this.
    pub fn deliveries(&self) -> u32 {
        (1..10_000).find(|n| self.exhausted(*n)).unwrap_or(10_000)
    }
}

/// What the queue should do with a delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// Done: delete it.
    Ack(Report),
    /// Deliver it again after this delay.
    Retry { after: Duration, report: Report },
    /// Move it to the dead-letter queue, with the report's reason.
    GiveUp(Report),
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
    /// Job deadlines and lease lengths.
    pub timing: Timing,
    pub retry: RetryPolicy,
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

/// A job that stopped on an error, with what it knew of the call by then.
struct Stopped {
    error: Error,
    report: Option<Report>,
    conv: Option<Conversation>,
}

impl From<Error> for Box<Stopped> {
    fn from(error: Error) -> Box<Stopped> {
        Box::new(Stopped {
            error,
            report: None,
            conv: None,
        })
    }
}

type Job = std::result::Result<Decided, Box<Stopped>>;

/// A job that stopped before it knew its conversation.
fn stop_early(error: Error, job: JobKind, event: &CallEvent) -> Box<Stopped> {
    Box::new(Stopped {
        report: Some(Report::failed(job, event, &error)),
        error,
        conv: None,
    })
}

fn stop(error: Error, report: Report, conv: &Conversation) -> Box<Stopped> {
    let report = report
        .decision("failed")
        .reason(error.reason())
        .detail(error.to_string());
    Box::new(Stopped {
        error,
        report: Some(report),
        conv: Some(conv.clone()),
    })
}

impl Worker {
    /// A worker with the default timing and retry policy.
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        config: Arc<dyn ConfigSource>,
        clients: Arc<dyn Clients>,
        log_delay: Duration,
    ) -> Worker {
        Worker {
            store,
            queue,
            clock,
            config,
            log_delay,
            clients,
            timing: Timing::default(),
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_timing(mut self, timing: Timing) -> Worker {
        self.timing = timing;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Worker {
        self.retry = retry;
        self
    }

    /// Handles one queue message within the local job budget. `Err` asks for a retry (the
    /// message is delivered again) or, when permanent, says it never can succeed.
    pub async fn handle(&self, body: &str) -> Result<Report> {
        let deadline = self.clock.now_ms() + self.timing.job_budget.as_millis() as i64;
        match self.run(body, 1, deadline).await {
            Ok((report, conv)) => {
                report.emit(conv.as_ref());
                Ok(report)
            }
            Err(s) => Err(s.error),
        }
    }

    /// Handles one delivery of a message (its `receive_count`th; 1 the first), to finish
    /// before `deadline_ms`, and says what to do with it. Emits the job's one log line.
    pub async fn settle(&self, body: &str, receive_count: u32, deadline_ms: i64) -> Settle {
        let deadline =
            deadline_ms.min(self.clock.now_ms() + self.timing.job_budget.as_millis() as i64);
        let (report, conv, error) = match self.run(body, receive_count, deadline).await {
            Ok((report, conv)) => {
                report.emit(conv.as_ref());
                return Settle::Ack(report);
            }
            Err(s) => {
                let s = *s;
                (s.report, s.conv, s.error)
            }
        };
        let mut report = report.unwrap_or_else(|| Report {
            job: "unknown",
            decision: "failed",
            reason: Some(error.reason()),
            call_id: String::new(),
            state: String::new(),
            conversation: None,
            dialpad_call_id: None,
            scope: None,
            detail: Some(error.to_string()),
        });
        let settle = if error.kind == ErrorKind::Permanent {
            // Retrying cannot help: said once, and acknowledged.
            report.decision = "failed";
            Settle::Ack(report.clone())
        } else if self.retry.exhausted(receive_count) {
            report.decision = "gave_up";
            report.detail = Some(format!(
                "still failing after {receive_count} deliveries over the retry horizon ({} s); moved to the dead-letter queue: {error}",
                self.retry.horizon.as_secs()
            ));
            Settle::GiveUp(report.clone())
        } else {
            let after = self.retry.delay(receive_count);
            report.decision = "retry";
            report.detail = Some(format!(
                "delivery {receive_count} failed; next in {} s: {error}",
                after.as_secs()
            ));
            Settle::Retry {
                after,
                report: report.clone(),
            }
        };
        report.emit(conv.as_ref());
        if let (Some(conv), "call_log") = (&conv, report.job) {
            let final_decision = match &settle {
                Settle::Retry { .. } => None,
                _ => Some("failed"),
            };
            let reason = report.reason.unwrap_or("failed");
            if let Err(e) = ledger::note_failure(
                self.store.as_ref(),
                self.clock.as_ref(),
                conv,
                reason,
                final_decision,
            )
            .await
            {
                tracing::warn!(error = %e, "worker: could not note a failed call log in the ledger");
            }
        }
        settle
    }

    async fn run(&self, body: &str, delivery: u32, deadline_ms: i64) -> Job {
        let msg: JobMessage = serde_json::from_str(body).map_err(|e| {
            Error::permanent("message", format!("unreadable message: {e}"))
                .with_code("malformed_message")
        })?;
        let value: serde_json::Value = serde_json::from_str(msg.event.get()).map_err(|e| {
            Error::permanent("message", format!("unreadable event: {e}"))
                .with_code("malformed_message")
        })?;
        let event = CallEvent::from_value(&value).map_err(|e| {
            Error::permanent("message", format!("unusable event: {e}"))
                .with_code("malformed_message")
        })?;
        state::merge_event(self.store.as_ref(), self.clock.as_ref(), &event)
            .await
            .map_err(|e| stop_early(e, msg.job, &event))?;
        let fx = Effects {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            deadline_ms,
            timing: self.timing,
            delivery,
        };
        match msg.job {
            JobKind::Merge => {
                if event.state.ends_leg() {
                    self.open_ledger(&fx, &msg, &event).await?;
                }
                Ok((Report::new(msg.job, &event, "merged"), None))
            }
            JobKind::ScreenPop => self.screen_pop(&fx, &msg, &event).await,
            JobKind::CallLog => self.call_log(&fx, &msg, &event).await,
        }
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
    ) -> std::result::Result<std::result::Result<Scoped, Decided>, Box<Stopped>> {
        let conv = self
            .conversation(event)
            .await
            .map_err(|e| stop_early(e, job, event))?;
        let report = Report::new(job, event, "dropped").conversation(&conv);
        let inst = match self.config.installation().await {
            Ok(i) => i,
            Err(e) => return Err(stop(e.with_code("config_unavailable"), report, &conv)),
        };
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

    async fn screen_pop(&self, fx: &Effects<'_>, msg: &JobMessage, event: &CallEvent) -> Job {
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
        let Some((agent, user_id)) = event.target.as_ref().and_then(|t| Some((t, t.id.clone()?)))
        else {
            return skip("no_agent_user_id");
        };
        if self.too_late(msg) {
            return skip("pop_too_late");
        }
        let key = crate::keys::pop(
            event.entry_point_call_id.as_deref().unwrap_or(&conv.key),
            &user_id,
        );
        let mut held = match fx.acquire(&key).await {
            Ok(Claim::Acquired(h)) => h,
            Ok(Claim::Done(_)) => return skip("already_popped"),
            Ok(Claim::Busy) => return skip("pop_in_progress"),
            Err(e) => return Err(stop(e, report, conv)),
        };
        if held.pending_intent().is_some() {
            // An earlier pop was sent and its answer lost. Dialpad cannot be asked whether it
            // popped, and a second pop would reload a page the agent may be typing in.
            let outcome =
                serde_json::json!({"decision": "skipped", "reason": "pop_outcome_unknown"});
            held.complete(fx.store, fx.clock, outcome)
                .await
                .map_err(|e| stop(e, report.clone(), conv))?;
            return skip("pop_outcome_unknown");
        }
        let popped = self
            .pop(
                fx,
                &mut held,
                msg,
                inst,
                enablement,
                conv,
                &Offer {
                    user_id: &user_id,
                    agent,
                    call_id: event
                        .entry_point_call_id
                        .as_deref()
                        .unwrap_or(&conv.dialpad_call_id),
                },
                report.clone(),
            )
            .await;
        let (report, settled, keep_intent) = match popped {
            Ok(p) => p,
            Err(e) => {
                let keep =
                    e.is_transient() && e.code != Some(NOT_SENT) && held.pending_intent().is_some();
                if let Err(e2) = held.release(fx.store, fx.clock, keep, &e.to_string()).await {
                    return Err(stop(e2, report, conv));
                }
                return Err(stop(e, report, conv));
            }
        };
        let written = if settled {
            let outcome = serde_json::json!({"decision": report.decision, "reason": report.reason});
            held.complete(fx.store, fx.clock, outcome).await
        } else {
            // Not popped: a later ring or connect of this agent may still pop.
            held.release(
                fx.store,
                fx.clock,
                keep_intent,
                report.reason.unwrap_or_default(),
            )
            .await
            .map(|_| true)
        };
        written.map_err(|e| stop(e, report.clone(), conv))?;
        Ok((report, Some(conv.clone())))
    }

    fn too_late(&self, msg: &JobMessage) -> bool {
        self.clock.now_ms() - msg.received_at > POP_DEADLINE.as_millis() as i64
    }

    /// Asks the CRM what to pop, then pops it. Returns the report, whether the pop is settled
    /// (done, or not to be tried again for this agent), and whether an unsettled pop may have
    /// been sent.
    #[allow(clippy::too_many_arguments)]
    async fn pop(
        &self,
        fx: &Effects<'_>,
        held: &mut crate::claim::Held,
        msg: &JobMessage,
        inst: &Installation,
        enablement: &Enablement,
        conv: &Conversation,
        offer: &Offer<'_>,
        report: Report,
    ) -> Result<(Report, bool, bool)> {
        let user_id = offer.user_id;
        let unavailable = |reason: &'static str, e: Error| {
            (
                report
                    .clone()
                    .decision("failed")
                    .reason(reason)
                    .detail(e.to_string()),
                false,
                false,
            )
        };
        let crm = match self.clients.crm(inst, enablement).await {
            Ok(c) => c,
            Err(e) => return Ok(unavailable("crm_unavailable", e)),
        };
        let cx = Cx {
            fx,
            conv,
            enablement,
        };
        let plan = match crm.plan_pop(&cx, offer).await {
            Ok(p) => p,
            Err(e) => return Ok(unavailable("crm_unavailable", e)),
        };
        let (sent, detail) = match plan {
            PopPlan::Skip {
                decision,
                reason,
                detail,
            } => {
                return Ok((
                    report.decision(decision).reason(reason).detail(detail),
                    true,
                    false,
                ))
            }
            PopPlan::Page { uri, detail } => (Pop::Page(uri), detail),
            PopPlan::Crm { request, detail } => (Pop::Crm(request), detail),
        };
        let detail = format!("{detail} for user {user_id}");
        if self.too_late(msg) {
            return Ok((
                report
                    .reason("pop_too_late")
                    .detail(format!("{detail}: found too late to pop")),
                true,
                false,
            ));
        }
        fx.time_for_a_write()?;
        let (result, unavailable_reason) = match &sent {
            Pop::Page(uri) => {
                let dialpad = match self.clients.dialpad(inst).await {
                    Ok(d) => d,
                    Err(e) => return Ok(unavailable("dialpad_unavailable", e)),
                };
                held.intend(
                    fx.store,
                    fx.clock,
                    serde_json::json!({"user_id": user_id, "uri": uri}),
                )
                .await?;
                (
                    dialpad.screen_pop(user_id, uri).await,
                    "dialpad_unavailable",
                )
            }
            Pop::Crm(request) => {
                held.intend(
                    fx.store,
                    fx.clock,
                    serde_json::json!({"user_id": user_id, "request": request}),
                )
                .await?;
                (
                    crm.send_pop(request).await.map(|()| PopOutcome::Sent),
                    "crm_unavailable",
                )
            }
        };
        Ok(match result {
            Ok(PopOutcome::Sent) => (report.decision("popped").detail(detail), true, false),
            Ok(PopOutcome::RateLimited) => {
                (report.reason("rate_limited").detail(detail), true, false)
            }
            Err(e) if e.is_unknown_outcome() => (
                report
                    .decision("skipped")
                    .reason("pop_outcome_unknown")
                    .detail(format!("{detail}: {e}")),
                true,
                false,
            ),
            Err(e) if e.is_transient() => (
                report
                    .decision("failed")
                    .reason(unavailable_reason)
                    .detail(e.to_string()),
                false,
                e.code != Some(NOT_SENT),
            ),
            Err(e) => (
                report
                    .decision("failed")
                    .reason(e.code.unwrap_or("pop_rejected"))
                    .detail(e.to_string()),
                true,
                false,
            ),
        })
    }

    /// The delay of an enablement's call logs.
    fn delay_of(&self, enablement: &Enablement) -> Duration {
        if enablement.enable_task_queue {
            self.log_delay
        } else {
            Duration::ZERO
        }
    }

    /// A leg ended: the conversation gets its ledger record (pending until its call log is
    /// due), so that a report counts it from now on.
    async fn open_ledger(
        &self,
        fx: &Effects<'_>,
        msg: &JobMessage,
        event: &CallEvent,
    ) -> std::result::Result<(), Box<Stopped>> {
        let Scoped {
            conv,
            enablement,
            report,
            ..
        } = match self.scoped(JobKind::Merge, event).await? {
            Ok(s) => s,
            Err(_) => return Ok(()),
        };
        let due = msg.received_at + self.delay_of(&enablement).as_millis() as i64;
        let scope = report.scope.as_deref();
        match ledger::anchor_and_open(fx.store, fx.clock, &conv, scope, msg.source, due).await {
            Ok(_) => Ok(()),
            Err(e) => Err(stop(e, report, &conv)),
        }
    }

    async fn call_log(&self, fx: &Effects<'_>, msg: &JobMessage, event: &CallEvent) -> Job {
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
        // In scope: the conversation has a ledger record from here on.
        let now = self.clock.now_ms();
        let delay = self.delay_of(enablement);
        let ready = readiness(&conv, now, delay, msg.attempt);
        let due = match &ready {
            Readiness::Wait(wait, _) => now + wait.as_millis() as i64,
            Readiness::Ready => now,
        };
        let scope = report.scope.as_deref();
        let opened =
            ledger::anchor_and_open(fx.store, fx.clock, &conv, scope, msg.source, due).await;
        let (anchor, entry) = match opened {
            Ok(o) => o,
            Err(e) => return Err(stop(e, report, &conv)),
        };
        if !enablement.logs_calls() {
            let settled = ledger::Settled {
                decision: "skipped",
                reason: Some("call_log_disabled"),
                ..ledger::Settled::default()
            };
            if let Err(e) = ledger::settle(fx.store, fx.clock, &anchor, settled).await {
                return Err(stop(e, report, &conv));
            }
            return Ok((
                report.decision("skipped").reason("call_log_disabled"),
                Some(conv),
            ));
        }
        if let Readiness::Wait(wait, why) = ready {
            let mut next = msg.clone();
            next.attempt += 1;
            if let Err(e) = self
                .queue
                .send(&next.to_json(), wait.min(Duration::from_secs(900)))
                .await
            {
                return Err(stop(e, report, &conv));
            }
            return Ok((
                report
                    .decision("deferred")
                    .reason(why)
                    .detail(format!("looking again in {} s", wait.as_secs())),
                Some(conv),
            ));
        }
        let key = crate::keys::log_claim(&anchor);
        let held = match fx.acquire(&key).await {
            Ok(Claim::Acquired(h)) => h,
            Ok(Claim::Done(outcome)) => {
                let detail = if anchor == conv.key {
                    outcome.to_string()
                } else {
                    format!("logged as conversation {anchor}: {outcome}")
                };
                return Ok((
                    report
                        .decision("skipped")
                        .reason("already_logged")
                        .detail(detail),
                    Some(conv),
                ));
            }
            Ok(Claim::Busy) => {
                // Every leg's hangup brings a log job; the one logging holds the claim and
                // stays in the queue until it is done, so this one has nothing left to do.
                return Ok((
                    report
                        .decision("skipped")
                        .reason("log_in_progress")
                        .detail(format!("another job is logging conversation {anchor}")),
                    Some(conv),
                ));
            }
            Err(e) => return Err(stop(e, report, &conv)),
        };
        let result = async {
            let crm = self.clients.crm(&inst, enablement).await?;
            let cx = Cx {
                fx,
                conv: &conv,
                enablement,
            };
            crm.log(&cx, &anchor).await
        }
        .await
        .map(|l| (l.result, l.contact));
        let ((decision, reason, detail, outcome), family) = match result {
            Ok((LogResult::Logged { detail, outcome }, family)) => {
                // A call the webhook never delivered, found in Dialpad's call list.
                let decision = if entry.recovered() {
                    "recovered_by_reconciliation"
                } else {
                    "logged"
                };
                ((decision, None, detail, outcome), family)
            }
            Ok((LogResult::Dropped { reason, detail }, family)) => (
                (
                    "dropped",
                    Some(reason),
                    detail,
                    serde_json::json!({"dropped": reason}),
                ),
                family,
            ),
            Ok((
                LogResult::Unresolved {
                    reason,
                    detail,
                    outcome,
                },
                family,
            )) => {
                let decision = if reason == "needs_review" {
                    "needs_review"
                } else {
                    "failed"
                };
                ((decision, Some(reason), detail, outcome), family)
            }
            Err(e) => {
                let released = held
                    .release(fx.store, fx.clock, false, &e.to_string())
                    .await;
                if let Err(e2) = released {
                    tracing::warn!(error = %e2, "worker: could not release the call-log claim");
                }
                return Err(stop(e, report, &conv));
            }
        };
        let recorded =
            serde_json::json!({"decision": decision, "reason": reason, "outcome": outcome});
        if let Err(e) = held.complete(fx.store, fx.clock, recorded).await {
            return Err(stop(e, report, &conv));
        }
        let settled = ledger::Settled {
            decision,
            reason,
            detail: detail.clone(),
            family,
            effects: Some(outcome),
        };
        if let Err(e) = ledger::settle(fx.store, fx.clock, &anchor, settled).await {
            // The log is written and its claim done: a retry finds it logged.
            tracing::warn!(error = %e, conversation = %anchor, "worker: could not record the call log in the ledger");
        }
        let mut report = report.decision(decision).detail(detail);
        report.reason = reason;
        Ok((report, Some(conv)))
    }
}
