//! The LeadSquared CRM: the `Crm` port of the use cases.
//!
//! * pop: the agent popup of an inbound call, with the caller's number and the agent; the use
//!   case records it as an intent and sends it through [`Crm::send_pop`].
//! * log: one call log per conversation, an effect of the use case's exactly-once machinery
//!   under the claim `step#<conversation>#leadsquared_call_log`. The call log is built once
//!   and kept in the intent; an attempt that finds the intent of an earlier one whose answer
//!   was lost posts the same call log again: LeadSquared refuses a second log with the same
//!   `CallSessionId`, and that refusal means "logged".

use std::sync::Arc;

use async_trait::async_trait;
use llbridge_domain::phone;
use llbridge_usecases::crm::{Crm, Cx, LogResult, Logged, Offer, Owner, PopPlan};
use llbridge_usecases::effect::{Found, How, Plan, Ran};
use llbridge_usecases::outcome::Decision;
use llbridge_usecases::{Error, Result};
use serde_json::{json, Value};

use crate::api::{LeadSquared, Posted};
use crate::client::REJECTED;
use crate::fields::{self, CallLog};

/// The name of the call log's effect (its claim and its ledger entry).
pub const CALL_LOG_STEP: &str = "leadsquared_call_log";

/// The LeadSquared CRM of one connection.
pub struct LeadSquaredCrm {
    api: Arc<dyn LeadSquared>,
}

impl LeadSquaredCrm {
    pub fn new(api: Arc<dyn LeadSquared>) -> LeadSquaredCrm {
        LeadSquaredCrm { api }
    }
}

fn to_value<T: serde::Serialize>(what: &str, v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::permanent("leadsquared", format!("{what}: {e}")))
}

#[async_trait]
impl Crm for LeadSquaredCrm {
    /// The lead's owner, from the connection's Call Route URL.
    async fn owner(
        &self,
        caller: &phone::Phone,
        _enablement: &llbridge_domain::config::Enablement,
        _now_ms: i64,
    ) -> Result<Owner> {
        let digits = caller.e164().trim_start_matches('+');
        Ok(match self.api.lead_owner(digits).await? {
            Some(email) => Owner::Person { email },
            None => Owner::Unknown,
        })
    }

    async fn checkup_connection(&self, scope: &str) -> Vec<llbridge_usecases::checks::Check> {
        // Connecting resolved the URLs' secret references; calling them would log a call or
        // pop an agent, so they are not called.
        vec![llbridge_usecases::checks::Check::pass(
            scope,
            "leadsquared_urls",
            "the call-log and agent-popup URLs resolve (not called: each request would log a call or pop an agent)",
        )]
    }

    async fn plan_pop(&self, cx: &Cx<'_>, offer: &Offer<'_>) -> Result<PopPlan> {
        match fields::agent_popup(cx.conv, offer) {
            Ok(popup) => Ok(PopPlan::Crm {
                detail: format!(
                    "agent popup of a call from {}",
                    phone::mask(&popup.source_number)
                ),
                request: to_value("agent popup", &popup)?,
            }),
            Err(why) => Ok(PopPlan::Skip {
                decision: Decision::Dropped,
                reason: why.code(),
                detail: why.describe().to_owned(),
            }),
        }
    }

    async fn send_pop(&self, request: &Value) -> Result<()> {
        self.api.show_agent_popup(request).await
    }

    async fn log(&self, cx: &Cx<'_>, anchor: &str) -> Result<Logged> {
        let dropped = |reason: &'static str, detail: &str| Logged {
            result: LogResult::Dropped {
                reason,
                detail: detail.to_owned(),
            },
            contact: None,
        };
        if !cx.enablement.logs_calls() {
            return Ok(dropped("call_log_disabled", ""));
        }
        let log = match fields::call_log(
            cx.conv,
            cx.enablement.call_log_link_type,
            cx.enablement.include_recap,
        ) {
            Ok(log) => log,
            Err(why) => return Ok(dropped(why.code(), why.describe())),
        };
        let api = self.api.as_ref();
        // Whether this post repeats one whose answer was lost: only then does a refusal as a
        // duplicate mean "logged" (by that post).
        let resent = std::sync::atomic::AtomicBool::new(false);
        let resent = &resent;
        let ran = cx
            .fx
            // LeadSquared answers the question itself: see the lookup.
            .step(anchor, CALL_LOG_STEP)
            .run(
                || async { Ok(Plan::Write(to_value("call log", &log)?)) },
                // There is no way to read call logs back, and none is needed: the same call
                // log posted again is refused as a duplicate of the first if that one landed.
                |_intent| async move {
                    resent.store(true, std::sync::atomic::Ordering::SeqCst);
                    Ok(Found::No)
                },
                |intent| async move {
                    let session = intent.get("CallSessionId").cloned().unwrap_or(Value::Null);
                    Ok(match api.post_call_log(&intent).await? {
                        Posted::Logged { id } => {
                            json!({"call_session_id": session, "leadsquared_id": id})
                        }
                        Posted::Duplicate { message }
                            if resent.load(std::sync::atomic::Ordering::SeqCst) =>
                        {
                            json!({"call_session_id": session, "duplicate_refused": message})
                        }
                        // On a first post, another call log already has this session id: not
                        // this one, which LeadSquared refuses.
                        Posted::Duplicate { message } => {
                            return Err(Error::permanent(
                                "leadsquared",
                                format!("refused as a duplicate on its first post: {message}"),
                            )
                            .with_code(REJECTED))
                        }
                    })
                },
            )
            .await;
        cx.log_step(CALL_LOG_STEP, REJECTED, &ran);
        let ran = ran?;
        Ok(Logged {
            result: result(&log, ran),
            contact: None,
        })
    }
}

/// The call log's outcome, for the use case.
fn result(log: &CallLog, ran: Ran) -> LogResult {
    let how = ran.first_how();
    let outcome = ran.outcome;
    if how == How::Rejected {
        return LogResult::Unresolved {
            reason: REJECTED,
            detail: format!("call log {}: {outcome}", log.call_session_id),
            outcome,
        };
    }
    let refused_as_duplicate = outcome.get("duplicate_refused").is_some();
    LogResult::Logged {
        detail: format!(
            "call log {} ({:?}, {:?}, {} s){}",
            log.call_session_id,
            log.direction,
            log.status,
            log.call_duration,
            if refused_as_duplicate {
                ", already in LeadSquared (refused as a duplicate)"
            } else {
                ""
            }
        ),
        outcome,
    }
}
