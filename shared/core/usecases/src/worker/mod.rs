//! The worker: one queue message at a time. Every job merges its event into the conversation
//! state first; then a screen-pop job ([`pop`]) or a call-log job ([`log`]) decides what to
//! do, and says so in one structured log line ([`Report`]).
//!
//! [`Worker::settle`] turns a job's outcome into what the queue should do with its message
//! ([`RetryPolicy::verdict`]): acknowledge it (done, dropped, or failed for good: a malformed
//! message, a CRM's refusal, a config error), retry it after a growing delay (a transient
//! failure), or, once the retry horizon has passed, move it to the dead-letter queue with its
//! last reason.

mod log;
mod pop;
mod report;
mod retry;
mod scope;
mod text;

use std::sync::Arc;

use scope::{InScope, Scoped};
use std::time::Duration;

use llbridge_domain::conversation::Conversation;
use llbridge_domain::CallEvent;
use tracing::Instrument;

pub use log::{readiness, Readiness, MAX_DEFERRALS, RECHECK, SILENCE};
pub use pop::POP_DEADLINE;
pub use report::{Decision, Reason, Report};
pub use retry::{RetryPolicy, Settle};
pub use scope::resolve_scope;
pub use text::anchor as text_anchor;

use crate::crm::{Clients, Cx, LateDetail};
use crate::effect::{Effects, Timing};
use crate::error::{Error, Result};
use crate::jobs::{JobKind, JobMessage};
use crate::ledger;
use crate::ports::{Clock, ConfigSource, Queue, Records, Store};
use crate::state;

/// How long after a call ended a detail that came after its log is still acted on (a late
/// disposition applied, follow-up tasks created).
pub const LATE_WINDOW: Duration = Duration::from_secs(24 * 3600);

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

/// What a job decided, and about which conversation (for the log line).
pub(crate) struct Decided {
    report: Report,
    conv: Option<Conversation>,
}

impl Decided {
    fn about(report: Report, conv: Conversation) -> Decided {
        Decided {
            report,
            conv: Some(conv),
        }
    }
}

/// A job that stopped on an error, with what it knew of the call by then.
pub(crate) struct Stopped {
    error: Error,
    report: Report,
    conv: Option<Conversation>,
}

impl Stopped {
    /// Stopped before it knew its conversation.
    fn early(error: Error, report: Report) -> Box<Stopped> {
        Box::new(Stopped {
            report: report.failed(&error),
            error,
            conv: None,
        })
    }

    /// Stopped while deciding about `conv`.
    fn on(error: Error, report: Report, conv: &Conversation) -> Box<Stopped> {
        Box::new(Stopped {
            report: report.failed(&error),
            error,
            conv: Some(conv.clone()),
        })
    }
}

/// What one job came to.
type Outcome = std::result::Result<Decided, Box<Stopped>>;

/// One delivery of one message: the worker, the job's effects (store, clock, deadline,
/// leases), the message and its event.
struct Job<'a> {
    worker: &'a Worker,
    fx: Effects<'a>,
    msg: &'a JobMessage,
    event: &'a CallEvent,
}

impl Job<'_> {
    /// A report of this job.
    fn report(&self, decision: Decision) -> Report {
        Report::new(self.msg.job, self.event, decision)
    }

    /// For a detail that goes into a call log: the conversation's anchor and record when its
    /// log was decided before the detail came. Read only for such details.
    async fn logged_before(&self) -> Option<(String, ledger::Entry)> {
        if !self.event.state.goes_into_the_log() {
            return None;
        }
        match ledger::find(self.fx.store, &self.event.call_id).await {
            Ok(Some((anchor, entry))) if entry.is_final() => Some((anchor, entry)),
            _ => None,
        }
    }

    /// A merge job, once its event is merged: a detail that came after the call was logged
    /// goes to the CRM's late log (within [`LATE_WINDOW`]), or is said to be left out.
    async fn merged(&self) -> Outcome {
        let report = self.report(Decision::Merged);
        let Some((anchor, entry)) = self.logged_before().await else {
            return Ok(Decided { report, conv: None });
        };
        let decision = entry.decision.map_or("pending", |d| d.as_str());
        let state = self.event.state.as_str();
        let left_out = |report: Report, why: &str| {
            report.reason(Reason::LateEventAfterLog).detail(format!(
                "{state} came after the call was {decision}{why}: not in its log"
            ))
        };
        let written = entry.decision.is_some_and(|d| d.is_written());
        let ended = entry.ended_at.unwrap_or(entry.opened_at);
        let within = self.fx.clock.now_ms() - ended <= LATE_WINDOW.as_millis() as i64;
        let (Some(family), Some(effects), true, true) =
            (&entry.family, &entry.effects, written, within)
        else {
            let why = if written && !within {
                " more than 24 h before"
            } else {
                ""
            };
            return Ok(Decided {
                report: left_out(report, why),
                conv: None,
            });
        };
        let scoped = match self.scoped().await? {
            InScope::Yes(s) => s,
            InScope::No(_) => {
                return Ok(Decided {
                    report: left_out(report, ""),
                    conv: None,
                })
            }
        };
        let report = report.conversation(&scoped.conv);
        let late = LateDetail {
            state: self.event.state.clone(),
            family,
            effects,
        };
        match self
            .late_log(&scoped, &scoped.conv, &anchor, &late, report.clone())
            .await?
        {
            Some(done) => Ok(Decided::about(done, scoped.conv)),
            None => Ok(Decided::about(left_out(report, ""), scoped.conv)),
        }
    }

    /// The CRM's late log of a detail, for the conversation as it is now (`conv`), noted in
    /// the ledger: `report` with its reason and detail, or `None` when it did nothing.
    async fn late_log(
        &self,
        scoped: &Scoped,
        conv: &Conversation,
        anchor: &str,
        late: &LateDetail<'_>,
        report: Report,
    ) -> std::result::Result<Option<Report>, Box<Stopped>> {
        let done = async {
            let crm = self
                .worker
                .clients
                .crm(&scoped.inst, &scoped.enablement)
                .await?;
            let cx = Cx {
                fx: &self.fx,
                conv,
                enablement: &scoped.enablement,
            };
            crm.log_late(&cx, anchor, late).await
        }
        .await
        .map_err(|e| Stopped::on(e, report.clone(), conv))?;
        let Some(done) = done else {
            return Ok(None);
        };
        let noted = ledger::note_late(
            self.fx.records(),
            anchor,
            late.state.as_str(),
            done.reason,
            &done.detail,
            &done.outcome,
        )
        .await;
        if let Err(e) = noted {
            tracing::warn!(error = %e, conversation = %anchor, "worker: could not record a late detail in the ledger");
        }
        Ok(Some(
            report.reason(Reason::Crm(done.reason)).detail(done.detail),
        ))
    }
}

/// A message that cannot be read is acknowledged as failed.
fn unreadable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::permanent("message", format!("{what}: {e}")).with_code("malformed_message")
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

    /// The worker's store and clock, as one.
    fn records(&self) -> Records<'_> {
        Records {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
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
            Ok(d) => {
                d.report.emit(d.conv.as_ref());
                Ok(d.report)
            }
            Err(s) => Err(s.error),
        }
    }

    /// Handles one delivery of a message (its `receive_count`th; 1 the first), to finish
    /// before `deadline_ms`, and says what to do with it. Emits the job's one log line.
    ///
    /// Every line of the job (client retries and warnings included) is in the span `job`,
    /// whose fields are the call id, the job kind, the delivery and, once known, the
    /// conversation.
    pub async fn settle(&self, body: &str, receive_count: u32, deadline_ms: i64) -> Settle {
        let span = tracing::info_span!(
            "job",
            call_id = tracing::field::Empty,
            job = tracing::field::Empty,
            conversation = tracing::field::Empty,
            delivery = receive_count,
        );
        self.settle_in_span(body, receive_count, deadline_ms)
            .instrument(span)
            .await
    }

    async fn settle_in_span(&self, body: &str, receive_count: u32, deadline_ms: i64) -> Settle {
        let deadline =
            deadline_ms.min(self.clock.now_ms() + self.timing.job_budget.as_millis() as i64);
        let stopped = match self.run(body, receive_count, deadline).await {
            Ok(d) => {
                d.report.emit(d.conv.as_ref());
                return Settle::Ack(d.report);
            }
            Err(s) => *s,
        };
        let settle = self
            .retry
            .verdict(stopped.report, &stopped.error, receive_count);
        let report = settle.report();
        report.emit(stopped.conv.as_ref());
        if let (Some(JobKind::Text), Settle::Ack(_) | Settle::GiveUp(_)) = (report.job, &settle) {
            let reason = report.reason.map_or("failed", |r| r.as_str());
            let detail = report.detail.clone().unwrap_or_default();
            if let Err(e) = crate::texts::settle(
                self.records(),
                &report.call_id,
                Decision::Failed,
                Some(reason),
                &detail,
                None,
                None,
            )
            .await
            {
                tracing::warn!(error = %e, "worker: could not note a failed text in the ledger");
            }
        }
        if let (Some(conv), Some(JobKind::CallLog)) = (&stopped.conv, report.job) {
            let (final_decision, next) = match &settle {
                Settle::Retry { after, .. } => {
                    (None, Some(self.clock.now_ms() + after.as_millis() as i64))
                }
                _ => (Some(Decision::Failed), None),
            };
            let reason = report.reason.map_or("failed", |r| r.as_str());
            if let Err(e) =
                ledger::note_failure(self.records(), conv, reason, final_decision, next).await
            {
                tracing::warn!(error = %e, "worker: could not note a failed call log in the ledger");
            }
        }
        settle
    }

    async fn run(&self, body: &str, delivery: u32, deadline_ms: i64) -> Outcome {
        let stop = |e: Error| {
            Box::new(Stopped {
                report: Report::unreadable(&e),
                error: e,
                conv: None,
            })
        };
        let msg: JobMessage =
            serde_json::from_str(body).map_err(|e| stop(unreadable("unreadable message", e)))?;
        let value: serde_json::Value = serde_json::from_str(msg.event.get())
            .map_err(|e| stop(unreadable("unreadable event", e)))?;
        if msg.job == JobKind::Text {
            tracing::Span::current().record("job", msg.job.as_str());
            let fx = Effects {
                store: self.store.as_ref(),
                clock: self.clock.as_ref(),
                deadline_ms,
                timing: self.timing,
                delivery,
            };
            return self.text_job(&value, fx).await;
        }
        let event =
            CallEvent::from_value(&value).map_err(|e| stop(unreadable("unusable event", e)))?;
        let span = tracing::Span::current();
        span.record("call_id", event.call_id.as_str());
        span.record("job", msg.job.as_str());
        let job = Job {
            worker: self,
            fx: Effects {
                store: self.store.as_ref(),
                clock: self.clock.as_ref(),
                deadline_ms,
                timing: self.timing,
                delivery,
            },
            msg: &msg,
            event: &event,
        };
        // A leg's end the reconciler found, merged into a conversation whose job is alive:
        // if it is what ends the conversation, its log is due now (as a webhook hangup's).
        let ends_it = msg.job == JobKind::Merge
            && msg.source == crate::jobs::Source::Reconciliation
            && event.state.ends_leg();
        let was_over = if ends_it {
            state::load(self.store.as_ref(), &event.call_id)
                .await
                .map_err(|e| Stopped::early(e, job.report(Decision::Failed)))?
                .is_some_and(|c| c.ended)
        } else {
            true
        };
        if !msg.merged {
            state::merge_event(self.records(), &event, msg.source)
                .await
                .map_err(|e| Stopped::early(e, job.report(Decision::Failed)))?;
        }
        match msg.job {
            JobKind::Merge => {
                if event.state.ends_leg() {
                    job.open_ledger().await?;
                }
                if !was_over {
                    job.log_now_over().await?;
                }
                job.merged().await
            }
            JobKind::ScreenPop => job.screen_pop().await,
            JobKind::CallLog => job.call_log().await,
            // Handled above: its event is a text.
            JobKind::Text => Err(stop(unreadable("a text job", "with a call event"))),
        }
    }
}
