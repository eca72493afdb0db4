//! The webhook CRM: the `Crm` port of the use cases. One call record per conversation, an
//! effect of the use case's exactly-once steps under the step `webhook_call_log`; no screen pop
//! (the config refuses one).

use std::sync::Arc;

use async_trait::async_trait;
use llbridge_usecases::checks::Check;
use llbridge_usecases::crm::{Crm, Cx, LogResult, Logged, Offer, PopPlan};
use llbridge_usecases::effect::{Found, How, Plan};
use llbridge_usecases::outcome::Decision;
use llbridge_usecases::{Error, ErrorKind, Result};
use serde_json::{json, Value};

use crate::client::{HttpWebhook, Received, REJECTED};
use crate::record;

/// The name of the call record's step (its claim and its ledger entry).
pub const CALL_LOG_STEP: &str = "webhook_call_log";

/// The `webhook-id` of `doctor`'s test post.
pub const DOCTOR_ID: &str = "llbridge-doctor";

/// The webhook CRM of one connection.
pub struct WebhookCrm {
    client: Arc<HttpWebhook>,
}

impl WebhookCrm {
    pub fn new(client: Arc<HttpWebhook>) -> WebhookCrm {
        WebhookCrm { client }
    }
}

/// The `webhook-id` of a conversation's call record: the same on every attempt.
pub fn webhook_id(anchor: &str) -> String {
    format!("llbridge-call-{anchor}")
}

#[async_trait]
impl Crm for WebhookCrm {
    async fn plan_pop(&self, _cx: &Cx<'_>, _offer: &Offer<'_>) -> Result<PopPlan> {
        Ok(PopPlan::Skip {
            decision: Decision::Dropped,
            reason: "screen_pop_not_supported",
            detail: "a webhook connection has no screen pop".to_owned(),
        })
    }

    async fn send_pop(&self, _request: &Value) -> Result<()> {
        Err(Error::permanent(
            "webhook",
            "a webhook connection has no screen pop",
        ))
    }

    async fn log(&self, cx: &Cx<'_>, anchor: &str) -> Result<Logged> {
        if !cx.enablement.logs_calls() {
            return Ok(Logged {
                result: LogResult::Dropped {
                    reason: "call_log_disabled",
                    detail: String::new(),
                },
                contact: None,
            });
        }
        let id = webhook_id(anchor);
        let client = self.client.as_ref();
        let event = record::event(
            cx.conv,
            cx.enablement.call_log_link_type,
            cx.enablement.include_recap,
        );
        let ran = cx
            .fx
            .step(anchor, CALL_LOG_STEP)
            .run(
                || async {
                    let body = serde_json::to_value(&event)
                        .map_err(|e| Error::permanent("webhook", format!("call record: {e}")))?;
                    Ok(Plan::Write(json!({"webhook_id": id, "body": body})))
                },
                // A receiver cannot be asked, and need not be: the same record posted again
                // with the same `webhook-id` is the receiver's to deduplicate.
                |_intent| async { Ok(Found::No) },
                |intent| async move {
                    let id = intent["webhook_id"].as_str().unwrap_or_default().to_owned();
                    let body = intent["body"].to_string();
                    Ok(match client.post(&id, body.as_bytes()).await? {
                        Received::Now(status) => json!({"webhook_id": id, "status": status}),
                        Received::Before => json!({"webhook_id": id, "received_before": true}),
                    })
                },
            )
            .await;
        cx.log_step(CALL_LOG_STEP, REJECTED, &ran);
        let ran = ran?;
        let outcome = ran.outcome;
        let result = if ran.how == How::Rejected {
            LogResult::Unresolved {
                reason: REJECTED,
                detail: format!("call record {id}: {outcome}"),
                outcome,
            }
        } else {
            LogResult::Logged {
                detail: format!(
                    "call record {id} posted to {} ({:?}, {} s)",
                    client.host(),
                    event.data.status,
                    event.data.talk_seconds
                ),
                outcome,
            }
        };
        Ok(Logged {
            result,
            contact: None,
        })
    }

    /// A signed empty post with the `webhook-id` `llbridge-doctor`: the receiver answers, and
    /// takes the signature.
    async fn checkup_connection(&self, scope: &str) -> Vec<Check> {
        let host = self.client.host().to_owned();
        vec![match self.client.post(DOCTOR_ID, b"").await {
            Ok(_) => Check::pass(
                scope,
                "webhook_answers",
                format!("{host} took a signed test post (webhook-id {DOCTOR_ID})"),
            ),
            Err(e) if e.code == Some(REJECTED) => Check::fail(
                scope,
                "webhook_answers",
                format!("{host} refused a signed test post: {}", e.message),
                "make the receiver accept posts signed with the connection's secret (webhook-id llbridge-doctor, an empty body)",
            ),
            Err(e) if e.kind == ErrorKind::Permanent => Check::fail(
                scope,
                "webhook_answers",
                e.message.clone(),
                "fix the connection's url and secret",
            ),
            Err(e) => Check::fail(
                scope,
                "webhook_answers",
                format!("{host} does not answer: {}", e.message),
                "check that the receiver is up and reachable from the stack",
            ),
        }]
    }
}
