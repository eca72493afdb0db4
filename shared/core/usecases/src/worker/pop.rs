//! The screen-pop job: an inbound call offered to an agent pops the caller's record in the
//! agent's CRM, once per agent and call, within [`POP_DEADLINE`] of the ring.
//!
//! The CRM plans the pop (LineLeader: the family's page, through Dialpad's screen pop;
//! LeadSquared: its own agent popup); the pop's claim records the intent before it is sent,
//! and a pop whose answer was lost is never sent again (a second pop would reload a page the
//! agent may be typing in).

use std::time::Duration;

use llbridge_domain::event::Direction;
use serde_json::{json, Value};

use super::report::{Decision, Reason, Report};
use super::scope::{InScope, Scoped};
use super::{Decided, Job, Outcome, Stopped};
use crate::claim::{Claim, Held};
use crate::crm::{Cx, Offer, PopPlan};
use crate::error::{Error, Result, NOT_SENT};
use crate::ports::PopOutcome;

/// A pop later than this after the agent's phone started ringing is useless: skipped.
pub const POP_DEADLINE: Duration = Duration::from_secs(30);

/// What a pop sends.
enum Pop {
    /// A page, through Dialpad's screen pop.
    Page(String),
    /// The CRM's own pop request.
    Crm(Value),
}

/// What came of trying to pop.
struct Tried {
    report: Report,
    then: Then,
}

/// What the pop's claim becomes.
enum Then {
    /// Popped, or never to be tried again for this agent and call: the claim is done.
    Settled,
    /// Not popped: a later ring or connect of this agent may still pop. The claim is
    /// released, keeping its intent when the pop may have been sent.
    Open { maybe_sent: bool },
}

impl Tried {
    fn settled(report: Report) -> Tried {
        Tried {
            report,
            then: Then::Settled,
        }
    }

    /// Not popped because `reason` was unavailable; nothing was sent.
    fn unavailable(report: &Report, reason: Reason, e: &Error) -> Tried {
        Tried {
            report: report
                .clone()
                .decision(Decision::Failed)
                .reason(reason)
                .detail(e.to_string()),
            then: Then::Open { maybe_sent: false },
        }
    }
}

impl Job<'_> {
    /// When the agent's phone started ringing: the first offer to this agent leg (its ring,
    /// or this event), by Dialpad's `event_timestamp`, but never later than the webhook
    /// received this event (Dialpad's clock may run ahead of ours).
    fn rang_at(&self, scoped: &Scoped) -> i64 {
        scoped
            .offered_at
            .unwrap_or(self.event.event_timestamp)
            .min(self.event.event_timestamp)
            .min(self.msg.received_at)
    }

    fn too_late(&self, rang_at: i64) -> bool {
        self.worker.clock.now_ms() - rang_at > POP_DEADLINE.as_millis() as i64
    }

    pub(super) async fn screen_pop(&self) -> Outcome {
        let scoped = match self.scoped().await? {
            InScope::Yes(s) => s,
            InScope::No(d) => return Ok(d),
        };
        let (conv, event, fx) = (&scoped.conv, self.event, &self.fx);
        let report = scoped.report.clone().decision(Decision::Skipped);
        let skip = |reason| Ok(Decided::about(report.clone().reason(reason), conv.clone()));
        if !scoped.enablement.screen_pop {
            return skip(Reason::ScreenPopDisabled);
        }
        if conv.direction != Some(Direction::Inbound) {
            return skip(Reason::NotInbound);
        }
        if !event.is_user_leg() || !event.state.offers_agent() {
            return skip(Reason::NotAnAgentRing);
        }
        let Some((agent, user_id)) = event.target.as_ref().and_then(|t| Some((t, t.id.clone()?)))
        else {
            return skip(Reason::NoAgentUserId);
        };
        let rang_at = self.rang_at(&scoped);
        if self.too_late(rang_at) {
            return skip(Reason::PopTooLate);
        }
        // One pop per agent and conversation: the conversation's anchor does not change as
        // its legs link (a ring without the call-center leg's id, then a connect with it).
        let anchor = crate::state::anchor(fx.records(), conv)
            .await
            .map_err(|e| Stopped::on(e, report.clone(), conv))?;
        let key = crate::keys::pop(&anchor, &user_id);
        let mut held = match fx.acquire(&key).await {
            Ok(Claim::Acquired(h)) => h,
            Ok(Claim::Done(_)) => return skip(Reason::AlreadyPopped),
            Ok(Claim::Busy) => return skip(Reason::PopInProgress),
            Err(e) => return Err(Stopped::on(e, report, conv)),
        };
        if held.pending_intent().is_some() {
            // An earlier pop was sent and its answer lost.
            let outcome = json!({"decision": "skipped", "reason": Reason::PopOutcomeUnknown});
            held.complete(fx.records(), outcome)
                .await
                .map_err(|e| Stopped::on(e, report.clone(), conv))?;
            return skip(Reason::PopOutcomeUnknown);
        }
        let offer = Offer {
            user_id: &user_id,
            agent,
            call_id: event
                .entry_point_call_id
                .as_deref()
                .unwrap_or(&conv.dialpad_call_id),
        };
        let Tried { report, then } =
            match self.pop(&mut held, &scoped, &offer, &report, rang_at).await {
                Ok(t) => t,
                Err(e) => {
                    let keep = e.is_transient()
                        && e.code != Some(NOT_SENT)
                        && held.pending_intent().is_some();
                    if let Err(e2) = held.release(fx.records(), keep, &e.to_string()).await {
                        return Err(Stopped::on(e2, report, conv));
                    }
                    return Err(Stopped::on(e, report, conv));
                }
            };
        let reason = report.reason.map(|r| r.as_str());
        let written = match then {
            Then::Settled => {
                let outcome = json!({"decision": report.decision, "reason": reason});
                held.complete(fx.records(), outcome).await
            }
            Then::Open { maybe_sent } => held
                .release(fx.records(), maybe_sent, reason.unwrap_or_default())
                .await
                .map(|_| true),
        };
        written.map_err(|e| Stopped::on(e, report.clone(), conv))?;
        Ok(Decided::about(report, conv.clone()))
    }

    /// Asks the CRM what to pop, then pops it, with the intent recorded first.
    async fn pop(
        &self,
        held: &mut Held,
        scoped: &Scoped,
        offer: &Offer<'_>,
        report: &Report,
        rang_at: i64,
    ) -> Result<Tried> {
        let (fx, clients) = (&self.fx, &self.worker.clients);
        let crm = match clients.crm(&scoped.inst, &scoped.enablement).await {
            Ok(c) => c,
            Err(e) => return Ok(Tried::unavailable(report, Reason::CrmUnavailable, &e)),
        };
        let cx = Cx {
            fx,
            conv: &scoped.conv,
            enablement: &scoped.enablement,
        };
        let (sent, detail) = match crm.plan_pop(&cx, offer).await {
            Ok(PopPlan::Skip {
                decision,
                reason,
                detail,
            }) => {
                return Ok(Tried::settled(
                    report
                        .clone()
                        .decision(decision)
                        .reason(Reason::Crm(reason))
                        .detail(detail),
                ));
            }
            Ok(PopPlan::Page { uri, detail }) => (Pop::Page(uri), detail),
            Ok(PopPlan::Crm { request, detail }) => (Pop::Crm(request), detail),
            Err(e) => return Ok(Tried::unavailable(report, Reason::CrmUnavailable, &e)),
        };
        let detail = format!("{detail} for user {}", offer.user_id);
        if self.too_late(rang_at) {
            return Ok(Tried::settled(
                report
                    .clone()
                    .reason(Reason::PopTooLate)
                    .detail(format!("{detail}: found too late to pop")),
            ));
        }
        fx.time_for_a_write()?;
        let (result, unavailable) = match &sent {
            Pop::Page(uri) => {
                let dialpad = match clients.dialpad(&scoped.inst).await {
                    Ok(d) => d,
                    Err(e) => {
                        return Ok(Tried::unavailable(report, Reason::DialpadUnavailable, &e))
                    }
                };
                held.intend(fx.records(), json!({"user_id": offer.user_id, "uri": uri}))
                    .await?;
                (
                    dialpad.screen_pop(offer.user_id, uri).await,
                    Reason::DialpadUnavailable,
                )
            }
            Pop::Crm(request) => {
                held.intend(
                    fx.records(),
                    json!({"user_id": offer.user_id, "request": request}),
                )
                .await?;
                (
                    crm.send_pop(request).await.map(|()| PopOutcome::Sent),
                    Reason::CrmUnavailable,
                )
            }
        };
        let report = report.clone();
        Ok(match result {
            Ok(PopOutcome::Sent) => {
                crate::telemetry::ring_to_pop(self.worker.clock.now_ms() - rang_at);
                Tried::settled(report.decision(Decision::Popped).detail(detail))
            }
            Ok(PopOutcome::RateLimited) => {
                Tried::settled(report.reason(Reason::RateLimited).detail(detail))
            }
            Err(e) if e.is_unknown_outcome() => Tried::settled(
                report
                    .reason(Reason::PopOutcomeUnknown)
                    .detail(format!("{detail}: {e}")),
            ),
            Err(e) if e.is_transient() => Tried {
                report: report
                    .decision(Decision::Failed)
                    .reason(unavailable)
                    .detail(e.to_string()),
                then: Then::Open {
                    maybe_sent: e.code != Some(NOT_SENT),
                },
            },
            Err(e) => Tried::settled(
                report
                    .decision(Decision::Failed)
                    .reason(e.code.map_or(Reason::PopRejected, Reason::Failure))
                    .detail(e.to_string()),
            ),
        })
    }
}
