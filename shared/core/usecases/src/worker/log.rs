//! The call-log job: once a conversation in scope is over (and, with the task queue, has been
//! over for the log delay), its CRM logs it, once. The conversation's ledger record is opened
//! when a leg ends and settled with the call log's decision.

use std::time::Duration;

use llbridge_domain::config::Enablement;
use llbridge_domain::conversation::Conversation;
use serde_json::{json, Value};

use super::report::{Decision, Reason};
use super::scope::{InScope, Scoped};
use super::{Decided, Job, Outcome, Stopped};
use crate::claim::Claim;
use crate::crm::{Cx, LogResult};
use crate::ledger::{self, Entry};

/// A call-log job of a conversation that is over waits at most this many times for its
/// post-hangup details (whatever Dialpad's clock says).
pub const MAX_DEFERRALS: u32 = 12;
/// How long a call-log job waits before looking again at a conversation that is not over.
pub const RECHECK: Duration = Duration::from_secs(300);
/// A conversation that is not over (its call-center leg never said it ended) and has had no
/// event for this long is logged anyway: its hangup was lost, and so were the reconciler's
/// chances to see it.
pub const SILENCE: Duration = Duration::from_secs(4 * 3600);

/// When a conversation is ready to be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not over, and silent for [`SILENCE`]: logged as it is (`logged_without_hangup`).
    ReadyWithoutHangup,
    /// Look again after this long.
    Wait(Duration, Reason),
}

/// Whether the call log may run now: the conversation is over (its call-center leg ended),
/// and (with the task queue) has been over for the log delay, so post-hangup details are
/// merged; an answered call without a disposition waits `disposition_wait` longer for one. A
/// conversation that is not over waits for as long as it has events, and [`SILENCE`] after
/// its last one, or after the product heard of it (`heard_at`: a call the reconciler found
/// hours later gets its other legs first).
pub fn readiness(
    conv: &Conversation,
    now_ms: i64,
    delay: Duration,
    disposition_wait: Duration,
    attempt: u32,
    heard_at: i64,
) -> Readiness {
    if !conv.ended {
        let silent_until = conv.last_event_at.max(heard_at) + SILENCE.as_millis() as i64;
        if now_ms >= silent_until {
            return Readiness::ReadyWithoutHangup;
        }
        let left = Duration::from_millis((silent_until - now_ms) as u64);
        return Readiness::Wait(
            RECHECK.max(delay).min(left).max(Duration::from_secs(1)),
            Reason::ConversationActive,
        );
    }
    let extra = if conv.answered && conv.dispositions.is_empty() {
        disposition_wait
    } else {
        Duration::ZERO
    };
    // Post-hangup events (recordings, dispositions) do not move the end of the call.
    let ended = conv.ended_at.unwrap_or(conv.last_event_at);
    let details_due = ended + delay.as_millis() as i64;
    let due = details_due + extra.as_millis() as i64;
    if now_ms >= due || attempt >= MAX_DEFERRALS {
        Readiness::Ready
    } else {
        // Never wait longer than the whole wait, whatever Dialpad's clock says.
        let wait = Duration::from_millis((due - now_ms) as u64).min(delay + extra);
        let why = if now_ms >= details_due {
            Reason::WaitingForDisposition
        } else {
            Reason::WaitingForPostHangupEvents
        };
        if wait < Duration::from_secs(1) {
            Readiness::Ready
        } else {
            Readiness::Wait(wait, why)
        }
    }
}

/// The decision a call log's result comes to.
struct Verdict {
    decision: Decision,
    reason: Option<Reason>,
    detail: String,
    outcome: Value,
}

impl Verdict {
    fn of(result: LogResult, recovered: bool) -> Verdict {
        match result {
            LogResult::Logged { detail, outcome } => Verdict {
                decision: if recovered {
                    Decision::RecoveredByReconciliation
                } else {
                    Decision::Logged
                },
                reason: None,
                detail,
                outcome,
            },
            LogResult::Dropped { reason, detail } => Verdict {
                decision: Decision::Dropped,
                reason: Some(Reason::Crm(reason)),
                detail,
                outcome: json!({ "dropped": reason }),
            },
            LogResult::Unresolved {
                reason,
                detail,
                outcome,
            } => Verdict {
                decision: if reason == "needs_review" {
                    Decision::NeedsReview
                } else {
                    Decision::Failed
                },
                reason: Some(Reason::Crm(reason)),
                detail,
                outcome,
            },
        }
    }
}

impl Job<'_> {
    /// The delay of an enablement's call logs.
    fn delay_of(&self, enablement: &Enablement) -> Duration {
        if enablement.enable_task_queue {
            self.worker.log_delay
        } else {
            Duration::ZERO
        }
    }

    /// A leg ended: the conversation gets its ledger record (pending until its call log is
    /// due), so that a report counts it from now on.
    pub(super) async fn open_ledger(&self) -> std::result::Result<(), Box<Stopped>> {
        let Scoped {
            conv,
            enablement,
            report,
            source,
            ..
        } = match self.scoped().await? {
            InScope::Yes(s) => s,
            InScope::No(_) => return Ok(()),
        };
        let (fx, msg) = (&self.fx, self.msg);
        let due = msg.received_at + self.delay_of(&enablement).as_millis() as i64;
        let scope = report.scope.as_deref();
        match ledger::anchor_and_open(fx.records(), &conv, scope, source, due).await {
            Ok(_) => Ok(()),
            Err(e) => Err(Stopped::on(e, report, &conv)),
        }
    }

    /// The conversation is over with this job's leg: its call log is queued now (the job
    /// that was waiting for it re-checks only in minutes).
    pub(super) async fn log_now_over(&self) -> std::result::Result<(), Box<Stopped>> {
        let scoped = match self.scoped().await? {
            InScope::Yes(s) => s,
            InScope::No(_) => return Ok(()),
        };
        if !scoped.conv.ended {
            return Ok(());
        }
        let mut next = self.msg.clone();
        next.job = crate::jobs::JobKind::CallLog;
        next.merged = true;
        self.worker
            .queue
            .send(&next.to_json(), Duration::ZERO)
            .await
            .map_err(|e| Stopped::on(e, scoped.report.clone(), &scoped.conv))
    }

    pub(super) async fn call_log(&self) -> Outcome {
        let scoped = match self.scoped().await? {
            InScope::Yes(s) => s,
            InScope::No(d) => return Ok(d),
        };
        let (fx, msg, conv, report) = (&self.fx, self.msg, &scoped.conv, &scoped.report);
        let stop = |e| Stopped::on(e, report.clone(), conv);
        // In scope: the conversation has a ledger record from here on.
        let now = fx.clock.now_ms();
        let ready = readiness(
            conv,
            now,
            self.delay_of(&scoped.enablement),
            scoped.enablement.disposition_wait,
            msg.attempt,
            msg.received_at,
        );
        let due = match &ready {
            Readiness::Wait(wait, _) => now + wait.as_millis() as i64,
            Readiness::Ready | Readiness::ReadyWithoutHangup => now,
        };
        let scope = report.scope.as_deref();
        let (anchor, entry) =
            ledger::anchor_and_open(fx.records(), conv, scope, scoped.source, due)
                .await
                .map_err(stop)?;
        if !scoped.enablement.logs_calls() {
            let settled = ledger::Settled {
                reason: Some(Reason::CallLogDisabled.as_str().to_owned()),
                ..ledger::Settled::new(Decision::Skipped)
            };
            ledger::settle(fx.records(), &anchor, settled)
                .await
                .map_err(stop)?;
            return Ok(Decided::about(
                report
                    .clone()
                    .decision(Decision::Skipped)
                    .reason(Reason::CallLogDisabled),
                scoped.conv,
            ));
        }
        if let Readiness::Wait(wait, why) = ready {
            let mut next = msg.clone();
            next.attempt += 1;
            next.merged = true;
            self.worker
                .queue
                .send(&next.to_json(), wait.min(Duration::from_secs(900)))
                .await
                .map_err(stop)?;
            return Ok(Decided::about(
                report
                    .clone()
                    .decision(Decision::Deferred)
                    .reason(why)
                    .detail(format!("looking again in {} s", wait.as_secs())),
                scoped.conv,
            ));
        }
        let without_hangup = ready == Readiness::ReadyWithoutHangup;
        self.log_now(scoped, anchor, entry, without_hangup).await
    }

    /// Logs the conversation of `anchor` under its claim, and settles its ledger record;
    /// `without_hangup`: the conversation never said it ended.
    async fn log_now(
        &self,
        scoped: Scoped,
        anchor: String,
        entry: Entry,
        without_hangup: bool,
    ) -> Outcome {
        let (fx, conv, report) = (&self.fx, &scoped.conv, scoped.report.clone());
        let skipped = |reason, detail: String| {
            Ok(Decided::about(
                report
                    .clone()
                    .decision(Decision::Skipped)
                    .reason(reason)
                    .detail(detail),
                conv.clone(),
            ))
        };
        let held = match fx.acquire(&crate::keys::log_claim(&anchor)).await {
            Ok(Claim::Acquired(h)) => h,
            Ok(Claim::Done(outcome)) => {
                // A log recorded before its ledger was settled with it (an earlier release)
                // is settled from the claim.
                if !entry.is_final() {
                    ledger::settle(fx.records(), &anchor, repaired(&outcome))
                        .await
                        .map_err(|e| Stopped::on(e, report.clone(), conv))?;
                }
                // An earlier holder may have died before marking the legs.
                crate::state::mark_logged(fx.records(), &conv.legs)
                    .await
                    .map_err(|e| Stopped::on(e, report.clone(), conv))?;
                // A detail the log did not have is applied late (once, whichever job).
                self.late_details(&scoped, &anchor, None, Some(conv))
                    .await?;
                let detail = if anchor == conv.key {
                    outcome.to_string()
                } else {
                    format!("logged as conversation {anchor}: {outcome}")
                };
                return skipped(Reason::AlreadyLogged, detail);
            }
            // Every leg's hangup brings a log job; the one logging holds the claim and stays
            // in the queue until it is done, so this one has nothing left to do.
            Ok(Claim::Busy) => {
                return skipped(
                    Reason::LogInProgress,
                    format!("another job is logging conversation {anchor}"),
                )
            }
            Err(e) => return Err(Stopped::on(e, report, conv)),
        };
        let logged = async {
            let crm = self
                .worker
                .clients
                .crm(&scoped.inst, &scoped.enablement)
                .await?;
            let cx = Cx {
                fx,
                conv,
                enablement: &scoped.enablement,
            };
            crm.log(&cx, &anchor).await
        }
        .await;
        let logged = match logged {
            Ok(l) => l,
            Err(e) => {
                let released = held.release(fx.records(), false, &e.to_string()).await;
                if let Err(e2) = released {
                    tracing::warn!(error = %e2, "worker: could not release the call-log claim");
                }
                return Err(Stopped::on(e, report, conv));
            }
        };
        let mut v = Verdict::of(logged.result, entry.recovered());
        if without_hangup && v.reason.is_none() {
            v.reason = Some(Reason::LoggedWithoutHangup);
        }
        let recorded = json!({"decision": v.decision, "reason": v.reason, "outcome": v.outcome,
            "detail": v.detail, "family": logged.contact});
        let settled = ledger::Settled {
            decision: v.decision,
            reason: v.reason.map(|r| r.as_str().to_owned()),
            detail: v.detail.clone(),
            family: logged.contact,
            effects: Some(v.outcome),
        };
        // The claim and the ledger together: a failure between them would leave a logged
        // call unaccounted for.
        match ledger::settle_with_claim(fx.records(), held.clone(), recorded, &anchor, settled)
            .await
        {
            Ok(Some(written)) => {
                // The ledger's word on how the call came (the webhook may have delivered
                // some of it since this job began).
                if let Some(d) = written.decision {
                    v.decision = d;
                }
                self.note_last_agent(&scoped, conv, written.family.as_ref())
                    .await;
            }
            Ok(None) => {
                let lost = crate::error::Error::transient(
                    "store",
                    format!("the claim of conversation {anchor} was taken over before the log was recorded"),
                )
                .with_code("lease_lost");
                return Err(Stopped::on(lost, report, conv));
            }
            Err(e) => {
                // Nothing recorded: the retry logs (finding every effect done) and settles.
                if let Err(e2) = held.release(fx.records(), false, &e.to_string()).await {
                    tracing::warn!(error = %e2, "worker: could not release the call-log claim");
                }
                return Err(Stopped::on(e, report, conv));
            }
        }
        let mut report = report.decision(v.decision).detail(v.detail);
        report.reason = v.reason;
        // From now on the webhook queues a late job for each detail of these legs; a detail
        // merged while this job wrote got none: look once more.
        if let Err(e) = crate::state::mark_logged(fx.records(), &conv.legs).await {
            return Err(Stopped::on(e, report, conv));
        }
        self.late_details(&scoped, &anchor, Some(conv), None)
            .await?;
        Ok(Decided::about(report, scoped.conv))
    }

    /// The agent of an answered call, as its contact's last agent (a call router's
    /// `prefer_last_agent` reads it). Best effort: a failure is a warning.
    async fn note_last_agent(&self, scoped: &Scoped, conv: &Conversation, family: Option<&Value>) {
        let contact = family.and_then(|f| f.get("id")).and_then(Value::as_str);
        let user = conv.agent.as_ref().and_then(|a| a.user_id.as_deref());
        let (Some(contact), Some(user), true) = (contact, user, conv.answered) else {
            return;
        };
        let agent = ledger::LastAgent {
            user_id: user.to_owned(),
            at_ms: conv.started_at.unwrap_or(conv.last_event_at),
            call_id: conv.dialpad_call_id.clone(),
        };
        if let Err(e) = ledger::note_last_agent(
            self.fx.records(),
            &scoped.enablement.connection,
            contact,
            agent,
        )
        .await
        {
            tracing::warn!(error = %e, contact, "worker: could not note the contact's last agent");
        }
    }

    /// The details of the conversation as it is now (`current`, else read again) that its
    /// log did not have (all of them when `logged` is not known): the CRM's late log for each
    /// (as a merge job's, see `merged`), in a line of its own when it did something. A
    /// failure fails the job, whose retry looks again.
    async fn late_details(
        &self,
        scoped: &Scoped,
        anchor: &str,
        logged: Option<&Conversation>,
        current: Option<&Conversation>,
    ) -> std::result::Result<(), Box<Stopped>> {
        use llbridge_domain::CallState;
        let fx = &self.fx;
        let report = scoped.report.clone().decision(Decision::Merged);
        let stop = |e| Stopped::on(e, report.clone(), &scoped.conv);
        let now = match current {
            Some(c) => Some(c.clone()),
            None => crate::state::load(fx.store, &self.event.call_id)
                .await
                .map_err(stop)?,
        };
        let Some(now) = now else {
            return Ok(());
        };
        let new =
            |has: bool, differs: &dyn Fn(&Conversation) -> bool| has && logged.is_none_or(differs);
        let states: Vec<CallState> = [
            (
                new(now.disposition().is_some(), &|l| {
                    l.disposition() != now.disposition()
                }),
                CallState::Dispositions,
            ),
            (
                new(!now.action_items.is_empty(), &|l| {
                    l.action_items != now.action_items
                }),
                CallState::RecapActionItems,
            ),
            (
                new(now.voicemail, &|l| !l.voicemail),
                CallState::VoicemailUploaded,
            ),
        ]
        .into_iter()
        .filter_map(|(late, state)| late.then_some(state))
        .collect();
        if states.is_empty() {
            return Ok(());
        }
        let entry = ledger::get(fx.store, anchor).await.map_err(stop)?;
        let now_ms = fx.clock.now_ms();
        let Some(entry) = entry.filter(|e| {
            let ended = e.ended_at.unwrap_or(e.opened_at);
            e.decision.is_some_and(|d| d.is_written())
                && now_ms - ended <= super::LATE_WINDOW.as_millis() as i64
        }) else {
            return Ok(());
        };
        let (Some(family), Some(effects)) = (&entry.family, &entry.effects) else {
            return Ok(());
        };
        for state in states {
            let late = crate::crm::LateDetail {
                state,
                family,
                effects,
            };
            if let Some(done) = self
                .late_log(scoped, &now, anchor, &late, report.clone())
                .await?
            {
                done.emit(Some(&now));
            }
        }
        Ok(())
    }
}

/// The ledger's decision of a log, from what its claim recorded.
fn repaired(outcome: &Value) -> ledger::Settled {
    let text = |k: &str| outcome.get(k).and_then(Value::as_str);
    ledger::Settled {
        decision: text("decision")
            .and_then(Decision::parse)
            .unwrap_or(Decision::Logged),
        reason: text("reason").map(str::to_owned),
        detail: text("detail").unwrap_or_default().to_owned(),
        family: outcome.get("family").filter(|f| !f.is_null()).cloned(),
        effects: outcome.get("outcome").cloned(),
    }
}
