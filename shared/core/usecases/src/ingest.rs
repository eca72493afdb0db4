//! The webhook: verify, parse, decide scope, enqueue, answer.
//!
//! Answers: 200 `accepted`/`ignored`; 401 bad signature; 400 malformed; 413 too large; 405 not
//! a POST; 5xx only when our own queue, store or config failed, so that Dialpad retries.

use std::sync::Arc;
use std::time::Duration;

use llbridge_dialpad_webhook::webhook::{self, VerifyError};
use llbridge_domain::config::MIN_WEBHOOK_SECRET_LEN;
use llbridge_domain::event::{CallEvent, Direction, EventError};
use llbridge_domain::scope::{self, Decision, IgnoreReason};
use llbridge_domain::text::{self, Shape, TextError, TextEvent};
use llbridge_domain::Installation;
use serde_json::{json, value::RawValue, Value};

use crate::jobs::{JobKind, JobMessage, Source};
use crate::ports::{Clock, ConfigSource, Queue, Records, Secrets, Store};
use crate::state::{self, Merged};
use crate::telemetry;

/// The decisions of the webhook's log lines (metric filters count them).
pub mod decision {
    pub const ACCEPTED: &str = "accepted";
    pub const IGNORED: &str = "ignored";
    pub const REJECTED: &str = "rejected";
    pub const ERROR: &str = "error";
    pub const ALL: [&str; 4] = [ACCEPTED, IGNORED, REJECTED, ERROR];
}

/// An HTTP answer: status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: Value,
}

impl Response {
    fn new(status: u16, body: Value) -> Response {
        Response { status, body }
    }
}

/// Why an event was refused (a 4xx).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Verify(VerifyError),
    Event(EventError),
    Text(TextError),
}

impl Rejection {
    pub fn response(&self) -> Response {
        match self {
            Rejection::Verify(e) => Response::new(
                e.status(),
                json!({"status": "rejected", "reason": e.code(), "detail": e.to_string()}),
            ),
            Rejection::Event(e) => Response::new(
                400,
                json!({"status": "rejected", "reason": e.code(), "detail": e.to_string()}),
            ),
            Rejection::Text(e) => Response::new(
                400,
                json!({"status": "rejected", "reason": e.code(), "detail": e.to_string()}),
            ),
        }
    }
}

/// What the webhook decided for one event.
#[derive(Debug)]
pub enum Outcome {
    /// Record the event, and queue the jobs [`jobs`] says.
    Accept {
        event: CallEvent,
        /// The event's JSON exactly as Dialpad sent it.
        raw: Box<RawValue>,
        scope: Option<String>,
        plan: Plan,
    },
    Ignore {
        event: CallEvent,
        reason: IgnoreReason,
    },
    /// A text of an enablement that logs texts: queue its job.
    Text {
        text: TextEvent,
        raw: Box<RawValue>,
        scope: String,
    },
    /// A text out of scope, or a delivery update.
    IgnoreText {
        text: TextEvent,
        reason: &'static str,
    },
}

/// What the enablement of an accepted event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Call logs wait for the log delay.
    pub task_queue: bool,
    pub screen_pop: bool,
}

/// Verify + parse + scope: the pure part of the webhook.
pub fn prepare(inst: &Installation, secrets: &[&[u8]], body: &[u8]) -> Result<Outcome, Rejection> {
    let payload =
        webhook::verify(body, secrets, inst.dialpad.allow_unsigned).map_err(Rejection::Verify)?;
    let json = payload.json();
    let raw: Box<RawValue> = serde_json::from_slice(json)
        .map_err(|e| Rejection::Event(EventError::NotJson(e.to_string())))?;
    // Parsed once into a value, which both kinds of event are read from.
    let value: Value = serde_json::from_str(raw.get())
        .map_err(|e| Rejection::Event(EventError::NotJson(e.to_string())))?;
    if text::shape(&value) == Shape::Text {
        let t = TextEvent::from_value(&value).map_err(Rejection::Text)?;
        if t.is_delivery_status() {
            return Ok(Outcome::IgnoreText {
                text: t,
                reason: text::ignored::DELIVERY_STATUS,
            });
        }
        return Ok(match text::scope(inst, &t) {
            Ok(e) => Outcome::Text {
                scope: e.scope.to_string(),
                text: t,
                raw,
            },
            Err(reason) => Outcome::IgnoreText { text: t, reason },
        });
    }
    let event = CallEvent::from_value(&value).map_err(Rejection::Event)?;
    let (plan, scope) = match scope::decide(inst, &event) {
        Decision::Ignored(reason) => return Ok(Outcome::Ignore { event, reason }),
        Decision::Enabled { enablement, .. } => (
            Plan {
                task_queue: enablement.enable_task_queue,
                screen_pop: enablement.screen_pop,
            },
            Some(enablement.scope.to_string()),
        ),
        // The worker decides once it sees the linked legs; plan for the most any enablement
        // could need.
        Decision::Pending => (
            Plan {
                task_queue: inst.enablements.iter().any(|e| e.enable_task_queue),
                screen_pop: inst.enablements.iter().any(|e| e.screen_pop),
            },
            None,
        ),
    };
    Ok(Outcome::Accept {
        event,
        raw,
        scope,
        plan,
    })
}

/// The jobs an accepted event needs. `merged`: what recording the event in the store found,
/// or `None` when the store could not take it (then every event goes to the worker, which
/// merges it).
///
/// * a leg's end: its call log (after the log delay with the task queue), and at once a job
///   that opens the conversation's ledger record;
/// * an agent offered an inbound call: the screen pop;
/// * a detail that goes into the log, once the log was decided: the late path;
/// * anything else: nothing; the event is in the store for the call log to read.
pub fn jobs(
    event: &CallEvent,
    raw: &RawValue,
    plan: Plan,
    merged: Option<Merged>,
    log_delay: Duration,
    now_ms: i64,
) -> Vec<(JobMessage, Duration)> {
    let job = |kind| {
        let mut m = JobMessage::new(kind, raw.to_owned(), now_ms);
        m.merged = merged.is_some();
        m
    };
    let mut jobs = Vec::with_capacity(2);
    if event.state.ends_leg() {
        let delay = if plan.task_queue {
            log_delay
        } else {
            Duration::ZERO
        };
        if delay > Duration::ZERO {
            jobs.push((job(JobKind::Merge), Duration::ZERO));
        }
        jobs.push((job(JobKind::CallLog), delay));
    } else if plan.screen_pop
        && event.direction == Some(Direction::Inbound)
        && event.state.offers_agent()
        && event.is_user_leg()
    {
        jobs.push((job(JobKind::ScreenPop), Duration::ZERO));
    } else {
        let late = event.state.goes_into_the_log() && merged.is_some_and(|m| m.logged);
        if merged.is_none() || late {
            jobs.push((job(JobKind::Merge), Duration::ZERO));
        }
    }
    jobs
}

/// The webhook use case.
pub struct Ingest {
    pub config: Arc<dyn ConfigSource>,
    pub secrets: Arc<dyn Secrets>,
    pub queue: Arc<dyn Queue>,
    /// Where each accepted event is recorded before the answer (its leg's record).
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The deploy's call-log delay (default 180 s).
    pub log_delay: Duration,
}

impl Ingest {
    /// Handles one webhook request.
    pub async fn handle(&self, method: &str, body: &[u8]) -> Response {
        if !method.eq_ignore_ascii_case("POST") {
            return Response::new(
                405,
                json!({"status": "rejected", "reason": "method_not_allowed", "detail": "POST call events to this URL"}),
            );
        }
        if body.len() > webhook::MAX_BODY {
            return Rejection::Verify(VerifyError::TooLarge).response();
        }
        let inst = match self.config.installation().await {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(decision = decision::ERROR, reason = "config_unavailable", error = %e, "webhook: config unavailable");
                telemetry::webhook_event(decision::ERROR, "config_unavailable");
                return Response::new(
                    503,
                    json!({"status": "error", "reason": "config_unavailable"}),
                );
            }
        };
        let mut secrets = Vec::with_capacity(inst.dialpad.webhook_secrets.len());
        for (i, r) in inst.dialpad.webhook_secrets.iter().enumerate() {
            match self.secrets.get(r).await {
                // A secret stored short in Secrets Manager (literal ones are refused by
                // validation) verifies nothing: too easy to guess.
                Ok(s) if s.expose().chars().count() < MIN_WEBHOOK_SECRET_LEN => {
                    tracing::error!(decision = decision::ERROR, reason = "webhook_secret_too_short",
                        path = %format!("$.dialpad.webhook_secrets[{i}]"),
                        "webhook: a webhook secret is shorter than {MIN_WEBHOOK_SECRET_LEN} characters; it is not used");
                }
                Ok(s) => secrets.push(s),
                Err(e) => {
                    tracing::error!(decision = decision::ERROR, reason = "secret_unavailable", error = %e, "webhook: a webhook secret could not be read");
                    telemetry::webhook_event(decision::ERROR, "secret_unavailable");
                    return Response::new(
                        503,
                        json!({"status": "error", "reason": "secret_unavailable"}),
                    );
                }
            }
        }
        // Not one secret to verify with: the fault is ours, not the event's. A 503 makes
        // Dialpad retry (and the 5xx alarm fire); a 401 would lose the event for good.
        if secrets.is_empty() && !inst.dialpad.webhook_secrets.is_empty() {
            tracing::error!(
                decision = decision::ERROR,
                reason = "no_usable_webhook_secret",
                "webhook: no webhook secret can be used; every event is answered 503 until one can"
            );
            telemetry::webhook_event(decision::ERROR, "no_usable_webhook_secret");
            return Response::new(
                503,
                json!({"status": "error", "reason": "no_usable_webhook_secret"}),
            );
        }
        let keys: Vec<&[u8]> = secrets.iter().map(|s| s.expose().as_bytes()).collect();
        let now = self.clock.now_ms();
        match prepare(&inst, &keys, body) {
            Err(rej) => {
                let resp = rej.response();
                // The call id the body claims (unverified), to find the line by the call.
                let claimed = webhook::claimed_call_id(body).unwrap_or_default();
                tracing::warn!(
                    decision = decision::REJECTED,
                    call_id = %claimed,
                    status = resp.status,
                    reason = resp.body["reason"].as_str().unwrap_or_default(),
                    detail = resp.body["detail"].as_str().unwrap_or_default(),
                    "webhook: event rejected"
                );
                telemetry::webhook_event(
                    decision::REJECTED,
                    resp.body["reason"].as_str().unwrap_or_default(),
                );
                resp
            }
            Ok(Outcome::Ignore { event, reason }) => {
                tracing::info!(
                    decision = decision::IGNORED,
                    reason = reason.code(),
                    call_id = %event.call_id,
                    state = event.state.as_str(),
                    "webhook: event out of scope"
                );
                telemetry::webhook_event(decision::IGNORED, reason.code());
                Response::new(200, json!({"status": "ignored", "reason": reason.code()}))
            }
            Ok(Outcome::IgnoreText { text, reason }) => {
                tracing::info!(
                    decision = decision::IGNORED,
                    reason,
                    sms_id = %text.id,
                    "webhook: text not logged"
                );
                telemetry::webhook_event(decision::IGNORED, reason);
                Response::new(
                    200,
                    json!({"status": "ignored", "reason": reason, "sms_id": text.id}),
                )
            }
            Ok(Outcome::Text { text, raw, scope }) => {
                let job = JobMessage::new(JobKind::Text, raw, now);
                if let Err(e) = self.queue.send(&job.to_json(), Duration::ZERO).await {
                    tracing::error!(decision = decision::ERROR, reason = "queue_unavailable", sms_id = %text.id, error = %e, "webhook: could not enqueue a text");
                    telemetry::webhook_event(decision::ERROR, "queue_unavailable");
                    return Response::new(
                        503,
                        json!({"status": "error", "reason": "queue_unavailable"}),
                    );
                }
                tracing::info!(
                    decision = decision::ACCEPTED,
                    sms_id = %text.id,
                    scope = %scope,
                    jobs = ?["text"],
                    "webhook: text accepted"
                );
                telemetry::webhook_event(decision::ACCEPTED, "");
                Response::new(
                    200,
                    json!({"status": "accepted", "sms_id": text.id, "jobs": ["text"]}),
                )
            }
            Ok(Outcome::Accept {
                event,
                raw,
                scope,
                plan,
            }) => {
                self.accept(&event, &raw, plan, scope.as_deref(), Source::Webhook, now)
                    .await
            }
        }
    }

    /// Records an accepted event in its leg and queues the jobs it needs.
    async fn accept(
        &self,
        event: &CallEvent,
        raw: &RawValue,
        plan: Plan,
        scope: Option<&str>,
        source: Source,
        now: i64,
    ) -> Response {
        // Recorded before the answer: every event acknowledged is in the state that the call
        // log reads, however long its queue is. A store that cannot take it leaves the merge
        // to the worker.
        let records = Records {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
        };
        let merged = match state::merge_event(records, event, source).await {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(call_id = %event.call_id, reason = "store_unavailable", error = %e,
                    "webhook: could not record the event; the worker will");
                None
            }
        };
        let mut jobs = jobs(event, raw, plan, merged, self.log_delay, now);
        for (m, _) in &mut jobs {
            m.source = source;
        }
        let batch: Vec<(String, Duration)> = jobs.iter().map(|(m, d)| (m.to_json(), *d)).collect();
        let sent = if batch.is_empty() {
            Ok(())
        } else {
            self.queue.send_batch(&batch).await
        };
        if let Err(e) = sent {
            tracing::error!(decision = decision::ERROR, reason = "queue_unavailable", call_id = %event.call_id, error = %e, "webhook: could not enqueue");
            telemetry::webhook_event(decision::ERROR, "queue_unavailable");
            return Response::new(
                503,
                json!({"status": "error", "reason": "queue_unavailable"}),
            );
        }
        let kinds: Vec<&str> = jobs.iter().map(|(m, _)| m.job.as_str()).collect();
        tracing::info!(
            decision = decision::ACCEPTED,
            call_id = %event.call_id,
            state = event.state.as_str(),
            scope = scope.unwrap_or("pending"),
            source = source.as_str(),
            jobs = ?kinds,
            recorded = merged.is_some(),
            late = merged.is_some_and(|m| m.logged),
            "webhook: event accepted"
        );
        telemetry::webhook_event(decision::ACCEPTED, "");
        Response::new(
            200,
            json!({"status": "accepted", "call_id": event.call_id, "state": event.state.as_str(), "jobs": kinds,
                "late": merged.is_some_and(|m| m.logged)}),
        )
    }

    /// A disposition a CRM posted for the Dialpad call `call_id` (LeadSquared's popup: the
    /// id llbridge sent it). It is merged into the call's leg as a `dispositions` event of
    /// now, so the latest disposition wins, Dialpad's or the CRM's: before the call log, the
    /// log carries it; after, it takes the late path (`late_event_after_log`). A call not
    /// heard of yet keeps it for when its events arrive.
    pub async fn crm_disposition(&self, call_id: &str, value: &str, origin: &str) -> Response {
        let now = self.clock.now_ms();
        let body = json!({
            "call_id": call_id,
            "state": "dispositions",
            "event_timestamp": now,
            "call_dispositions": [{"name": value}],
            "llbridge_origin": origin,
        });
        let Ok(raw) = serde_json::value::to_raw_value(&body) else {
            return Response::new(500, json!({"status": "error", "reason": "internal"}));
        };
        let event = match CallEvent::from_value(&body) {
            Ok(e) => e,
            Err(e) => {
                return Response::new(
                    400,
                    json!({"status": "rejected", "reason": e.code(), "detail": e.to_string()}),
                )
            }
        };
        let plan = Plan {
            task_queue: false,
            screen_pop: false,
        };
        self.accept(&event, &raw, plan, None, Source::Crm, now)
            .await
    }
}
