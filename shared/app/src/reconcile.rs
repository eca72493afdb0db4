//! The reconciler: Dialpad retries a call event only three times within about 14 s, so an
//! outage of the webhook longer than that loses events for good. Every few minutes the
//! reconciler lists Dialpad's concluded calls (`GET /api/v2/call`) and feeds every
//! contact-center leg in scope whose conversation has no final outcome in the ledger through
//! the same pipeline as a webhook event (a call-log job: merge, then log; no screen pop, it is
//! too late). Conversations already logged are never logged again; the call-log job's claims
//! see to that.
//!
//! Windows overlap: each pass starts [`Settings::overlap`] before where the previous one ended
//! (the high-water mark in the store), so a call that started before a pass and ended after it
//! is seen by the next. A leg that ended less than the log delay ago is left for the next
//! pass: the webhook path is still on it. Requests are paced below Dialpad's limits (20 per
//! second per company, 1,200 list requests per minute).

use std::sync::Arc;
use std::time::Duration;

use llbridge_domain::scope::{self, Decision};
use llbridge_domain::CallEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::jobs::{JobKind, JobMessage, Source};
use crate::ledger;
use crate::ports::{CallQuery, Clients, Clock, ConfigSource, Queue, Store};
use crate::state;

/// Where the last complete pass ended (epoch ms).
pub const HIGH_WATER_KEY: &str = crate::keys::RECONCILE_HIGH_WATER;

/// How passes look back and pace themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Each pass starts this long before the previous one ended: calls that long or shorter,
    /// in progress during a pass, are seen by the next one.
    pub overlap: Duration,
    /// How far back the very first pass looks.
    pub first_lookback: Duration,
    /// The pause between two requests to Dialpad (100 ms: at most 10 per second).
    pub pace: Duration,
    /// No pass reads more pages than this.
    pub max_pages: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            overlap: Duration::from_secs(2 * 3600),
            first_lookback: Duration::from_secs(2 * 3600),
            pace: Duration::from_millis(100),
            max_pages: 2_000,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pass {
    /// The window, epoch ms.
    pub started_after: i64,
    pub started_before: i64,
    pub pages: usize,
    /// Legs listed.
    pub legs: usize,
    /// Legs of calls nobody enabled (user lines, other call centers).
    pub out_of_scope: usize,
    /// Legs whose conversation already has an outcome, or whose end reached the product and
    /// whose log is not due yet.
    pub accounted: usize,
    /// Legs that ended less than the log delay ago: for the next pass.
    pub too_recent: usize,
    /// Legs fed through the pipeline: their conversations had no outcome.
    pub fed: Vec<String>,
}

/// The reconciler's ports and settings.
pub struct Reconciler {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<dyn ConfigSource>,
    pub clients: Arc<dyn Clients>,
    /// The deploy's call-log delay, for enablements with the task queue.
    pub log_delay: Duration,
    pub settings: Settings,
}

/// A listed leg as a call event: the list gives no state or event time for a concluded leg,
/// so it reads as the leg's end.
fn as_event(item: &Value, now_ms: i64) -> Option<(Value, CallEvent)> {
    let mut v = item.clone();
    let o = v.as_object_mut()?;
    let ends = o
        .get("state")
        .and_then(Value::as_str)
        .is_some_and(|s| matches!(s, "hangup" | "missed" | "voicemail"));
    if !ends {
        o.insert("state".into(), Value::from("hangup"));
    }
    if !o.contains_key("event_timestamp") {
        let at = o.get("date_ended").cloned().unwrap_or(Value::from(now_ms));
        o.insert("event_timestamp".into(), at);
    }
    let event = CallEvent::from_value(&v).ok()?;
    Some((v, event))
}

impl Reconciler {
    async fn high_water(&self) -> Result<Option<i64>> {
        Ok(self
            .store
            .get(HIGH_WATER_KEY)
            .await?
            .and_then(|i| i.value.parse().ok()))
    }

    /// One pass: over the last `since` when given (on demand), else from the high-water mark
    /// less the overlap. The high-water mark moves only after a complete pass, so a failed one
    /// is resumed by the next.
    pub async fn pass(&self, since: Option<Duration>) -> Result<Pass> {
        let now = self.clock.now_ms();
        let inst = self.config.installation().await?;
        let dialpad = self.clients.dialpad(&inst).await?;
        let mark = self.high_water().await?;
        let after = match since {
            Some(s) => now - s.as_millis() as i64,
            None => {
                mark.unwrap_or(now - self.settings.first_lookback.as_millis() as i64)
                    - self.settings.overlap.as_millis() as i64
            }
        };
        let mut pass = Pass {
            started_after: after,
            started_before: now,
            ..Pass::default()
        };
        let mut cursor = None;
        loop {
            if pass.pages >= self.settings.max_pages {
                tracing::warn!(
                    decision = "truncated",
                    reason = "too_many_pages",
                    pages = pass.pages,
                    "reconciler: the call list is longer than a pass reads"
                );
                break;
            }
            if pass.pages > 0 {
                tokio::time::sleep(self.settings.pace).await;
            }
            let query = CallQuery {
                started_after: after,
                started_before: now,
                cursor: cursor.clone(),
            };
            let page = self.list(dialpad.as_ref(), &query).await?;
            pass.pages += 1;
            for item in &page.items {
                self.consider(&inst, item, now, &mut pass).await?;
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        if mark.is_none_or(|m| m < now) {
            self.store
                .put(
                    HIGH_WATER_KEY,
                    &now.to_string(),
                    None,
                    crate::ports::Condition::Any,
                )
                .await?;
        }
        tracing::info!(
            job = "reconcile",
            decision = "reconciled",
            started_after = pass.started_after,
            started_before = pass.started_before,
            pages = pass.pages,
            legs = pass.legs,
            fed = pass.fed.len(),
            accounted = pass.accounted,
            too_recent = pass.too_recent,
            out_of_scope = pass.out_of_scope,
            "reconciler: pass done"
        );
        Ok(pass)
    }

    /// One page, with a few patient retries when Dialpad throttles or fails.
    async fn list(
        &self,
        dialpad: &dyn crate::ports::Dialpad,
        query: &CallQuery,
    ) -> Result<crate::ports::CallPage> {
        let mut wait = Duration::from_secs(1);
        for _ in 0..3 {
            match dialpad.list_calls(query).await {
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, "reconciler: the call list failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                other => return other,
            }
        }
        dialpad.list_calls(query).await
    }

    async fn consider(
        &self,
        inst: &llbridge_domain::Installation,
        item: &Value,
        now: i64,
        pass: &mut Pass,
    ) -> Result<()> {
        pass.legs += 1;
        let Some((value, event)) = as_event(item, now) else {
            return Ok(());
        };
        let delay = match scope::decide(inst, &event) {
            Decision::Ignored(_) => {
                pass.out_of_scope += 1;
                return Ok(());
            }
            Decision::Enabled { enablement, .. } if !enablement.enable_task_queue => Duration::ZERO,
            _ => self.log_delay,
        };
        let ended = event
            .date_ended
            .unwrap_or(event.event_timestamp)
            .max(event.date_started.unwrap_or(0));
        if now - ended < delay.as_millis() as i64 {
            pass.too_recent += 1;
            return Ok(());
        }
        // Accounted for: the conversation has an outcome, or this leg's end reached the
        // product and its log is not due yet. Anything else is news: fed.
        let entry = ledger::find(self.store.as_ref(), &event.call_id)
            .await?
            .map(|(_, e)| e);
        let settled = entry.as_ref().is_some_and(|e| e.is_final());
        let waiting = entry
            .as_ref()
            .and_then(|e| e.due_at)
            .is_some_and(|d| d > now)
            && state::leg_ended(self.store.as_ref(), &event.call_id).await?;
        if settled || waiting {
            pass.accounted += 1;
            return Ok(());
        }
        let raw = serde_json::value::to_raw_value(&value)
            .map_err(|e| Error::permanent("reconcile", format!("leg {}: {e}", event.call_id)))?;
        let mut msg = JobMessage::new(JobKind::CallLog, raw, now);
        msg.source = Source::Reconciliation;
        self.queue.send(&msg.to_json(), Duration::ZERO).await?;
        tracing::info!(job = "reconcile", decision = "fed", reason = "no_outcome",
            call_id = %event.call_id, state = event.state.as_str(),
            "reconciler: a leg with no outcome goes through the pipeline");
        pass.fed.push(event.call_id);
        Ok(())
    }
}
