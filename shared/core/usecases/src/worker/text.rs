//! A text job: a Dialpad SMS event, logged once in its enablement's CRM (its ledger record
//! opened first, settled with the decision).

use llbridge_domain::text::{self, TextEvent};
use llbridge_domain::Installation;
use serde_json::Value;

use super::{unreadable, Decided, Decision, Outcome, Reason, Report, Stopped, Worker};
use crate::crm::{LogResult, TextCx};
use crate::effect::Effects;
use crate::error::Error;
use crate::jobs::JobKind;
use crate::texts;

impl Report {
    /// A report of a text job.
    pub(crate) fn text(text: &TextEvent, decision: Decision) -> Report {
        Report {
            job: Some(JobKind::Text),
            decision,
            reason: None,
            call_id: text.id.clone(),
            state: "sms".into(),
            conversation: None,
            dialpad_call_id: None,
            scope: None,
            detail: None,
        }
    }
}

/// The key a text's effects and ledger record are kept under.
pub fn anchor(sms_id: &str) -> String {
    format!("text#{sms_id}")
}

impl Worker {
    /// The Dialpad user who sent an outbound text (`sender_id`, else a user target), with the
    /// e-mail Dialpad has for them; `None` for an inbound text.
    async fn sender(&self, inst: &Installation, t: &TextEvent) -> Option<(String, Option<String>)> {
        if t.direction != Some(llbridge_domain::event::Direction::Outbound) {
            return None;
        }
        let id = t.sender_id.clone().or_else(|| {
            (t.target.kind.as_deref() == Some("user"))
                .then(|| t.target.id.clone())
                .flatten()
        })?;
        let email = match self.clients.dialpad(inst).await {
            Ok(d) => d
                .user(&id)
                .await
                .ok()
                .flatten()
                .and_then(|u| u.emails.into_iter().next()),
            Err(_) => None,
        };
        Some((id, email))
    }

    pub(super) async fn text_job(&self, value: &Value, fx: Effects<'_>) -> Outcome {
        let t = TextEvent::from_value(value).map_err(|e| {
            let e = unreadable("unusable text", e);
            Box::new(Stopped {
                report: Report::unreadable(&e),
                error: e,
                conv: None,
            })
        })?;
        tracing::Span::current().record("call_id", t.id.as_str());
        let report = Report::text(&t, Decision::Logged);
        let stop = |e: Error, r: &Report| {
            Box::new(Stopped {
                report: r.clone().failed(&e),
                error: e,
                conv: None,
            })
        };
        let inst = self
            .config
            .installation()
            .await
            .map_err(|e| stop(e.with_code("config_unavailable"), &report))?;
        let records = fx.records();
        let enablement = match text::scope(&inst, &t) {
            Ok(e) => e,
            Err(reason) => {
                texts::settle(
                    records,
                    &t.id,
                    Decision::Dropped,
                    Some(reason),
                    "out of scope",
                    None,
                    None,
                )
                .await
                .map_err(|e| stop(e, &report))?;
                return Ok(Decided {
                    report: report
                        .decision(Decision::Dropped)
                        .reason(Reason::Crm(reason))
                        .detail("the text is out of scope"),
                    conv: None,
                });
            }
        };
        let report = report.scope(enablement);
        let scope = enablement.scope.to_string();
        texts::open(records, &t, Some(&scope))
            .await
            .map_err(|e| stop(e, &report))?;
        let sender = self.sender(&inst, &t).await;
        let anchor = anchor(&t.id);
        let logged = async {
            let crm = self.clients.crm(&inst, enablement).await?;
            let cx = TextCx {
                fx: &fx,
                text: &t,
                enablement,
                sender: sender.as_ref().map(|(id, e)| (id.as_str(), e.as_deref())),
                anchor: &anchor,
            };
            crm.log_text(&cx).await
        }
        .await
        .map_err(|e| stop(e, &report))?;
        let (decision, reason, detail, effects) = match logged.result {
            LogResult::Logged { detail, outcome } => {
                (Decision::Logged, None, detail, Some(outcome))
            }
            LogResult::Dropped { reason, detail } => {
                (Decision::Dropped, Some(reason), detail, None)
            }
            LogResult::Unresolved {
                reason,
                detail,
                outcome,
            } => {
                let d = if reason == "needs_review" {
                    Decision::NeedsReview
                } else {
                    Decision::Failed
                };
                (d, Some(reason), detail, Some(outcome))
            }
        };
        texts::settle(
            records,
            &t.id,
            decision,
            reason,
            &detail,
            logged.contact,
            effects,
        )
        .await
        .map_err(|e| stop(e, &report))?;
        let mut report = report.decision(decision).detail(detail);
        if let Some(r) = reason {
            report = report.reason(Reason::Crm(r));
        }
        Ok(Decided { report, conv: None })
    }
}
