//! The reconciler: Dialpad retries a call event only three times within about 14 s, so an
//! outage of the webhook longer than that loses events for good. Every few minutes the
//! reconciler lists Dialpad's concluded calls (`GET /api/v2/call`) and feeds every
//! contact-center leg in scope whose conversation has no final outcome, and no job of it
//! alive, through the same pipeline as a webhook event (a call-log job: merge, then log; no
//! screen pop, it is too late). Conversations already logged are never logged again; the
//! call-log job's claims see to that.
//!
//! **Work that survives the pass.** What is still to be read is a list of windows of start
//! times kept in the store ([`Work`]). A scheduled pass adds the window from where the last
//! one ended (less [`Settings::overlap`], so that a call in progress during a pass is seen by
//! the next) to now; `llbridge reconcile --since` adds its own. A pass takes the windows
//! oldest first and reads each newest first, page by page; after each page the window
//! shrinks to `[from, oldest start read]` in the store. A pass that runs out of its time
//! budget, reaches its page limit or fails keeps the unread part, and the next pass resumes
//! it before it looks at newer calls: whatever the outage, every call is looked at, and a
//! window left unfinished is a `truncated` line and metric, never a silent skip.
//!
//! **No job storms.** A conversation is fed only when no job of it is alive: the ledger
//! knows when its next job is due (its log's delay, a re-check, a retry), and a leg fed by a
//! pass is marked for [`crate::ledger::ALIVE_GRACE`], so that a long CRM outage does not get
//! one more retrying job per call per pass.
//!
//! Store reads are batched per page (the legs' anchors and marks, then their ledger
//! records). Requests to Dialpad are paced below its limits (20 per second per company,
//! 1,200 list requests per minute). One pass runs at a time (a lease in the store).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use llbridge_domain::scope::{self, Decision};
use llbridge_domain::CallEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::claim::{self, Claim};
use crate::crm::Clients;
use crate::error::{Error, Result};
use crate::jobs::{JobKind, JobMessage, Source};
use crate::keys;
use crate::ledger::{Entry, ALIVE_GRACE};
use crate::ports::{CallQuery, Clock, ConfigSource, Queue, Records, Store};
use crate::state::update;

/// The decisions of the reconciler's log lines (`job`: `reconcile`): a pass done, a leg fed,
/// a pass that stopped with calls left, a pass left to a running one, a pass that failed.
pub const DECISIONS: [&str; 5] = ["reconciled", "fed", "truncated", "queued", "failed"];

/// How passes look back, pace and time themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Each scheduled window starts this long before the previous one ended: calls that long
    /// or shorter, in progress during a pass, are seen by the next one.
    pub overlap: Duration,
    /// How far back the very first pass looks.
    pub first_lookback: Duration,
    /// The pause between two requests to Dialpad (100 ms: at most 10 per second).
    pub pace: Duration,
    /// No pass reads more pages than this; the rest is for the next pass.
    pub max_pages: usize,
    /// How long a pass may take; it stops in time, keeping what it did not read. On Lambda,
    /// the invocation's remaining time less a margin.
    pub budget: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            overlap: Duration::from_secs(2 * 3600),
            first_lookback: Duration::from_secs(2 * 3600),
            pace: Duration::from_millis(100),
            max_pages: 2_000,
            budget: Duration::from_secs(240),
        }
    }
}

/// A window of start times still to be read: `[from, to)`, epoch ms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub id: u64,
    pub from: i64,
    pub to: i64,
    /// When it was added (epoch ms), and by whom: `scheduled` or `on_demand`.
    pub added_at: i64,
    pub origin: String,
    /// Passes that stopped inside it.
    #[serde(default)]
    pub truncated: u32,
    /// A pass read part of it (its upper end moved down).
    #[serde(default)]
    pub begun: bool,
}

/// The reconciler's work, in the store under [`keys::RECONCILE_WORK`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Work {
    /// Windows not read to their end, oldest first.
    pub windows: Vec<Window>,
    /// The end of the last scheduled window: the next one starts there (less the overlap).
    pub next_from: Option<i64>,
    pub next_id: u64,
}

impl Work {
    /// Adds `[from, to)`, less what the windows already there hold: the unread part of a
    /// window is never widened again (it would read again what its pass has read).
    fn add(&mut self, from: i64, to: i64, now: i64, origin: &str) {
        let mut pieces = vec![(from, to)];
        for w in &self.windows {
            pieces = pieces
                .into_iter()
                .flat_map(|(a, b)| [(a, b.min(w.from)), (a.max(w.to), b)])
                .filter(|(a, b)| a < b)
                .collect();
        }
        for (from, to) in pieces {
            self.next_id += 1;
            self.windows.push(Window {
                id: self.next_id,
                from,
                to,
                added_at: now,
                origin: origin.to_owned(),
                truncated: 0,
                begun: false,
            });
        }
        self.windows.sort_by_key(|w| w.from);
        // Windows no pass began that touch are one (a begun one keeps its place: oldest
        // first).
        let mut joined: Vec<Window> = Vec::with_capacity(self.windows.len());
        for w in self.windows.drain(..) {
            match joined.last_mut() {
                Some(last) if !last.begun && !w.begun && last.to == w.from => {
                    last.to = w.to;
                    last.added_at = last.added_at.min(w.added_at);
                }
                _ => joined.push(w),
            }
        }
        self.windows = joined;
    }

    /// Every call that started before this was looked at.
    pub fn covered_until(&self) -> Option<i64> {
        self.windows.iter().map(|w| w.from).min().or(self.next_from)
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pass {
    /// The span of the windows read, epoch ms.
    pub started_after: i64,
    pub started_before: i64,
    pub pages: usize,
    /// Legs listed.
    pub legs: usize,
    /// Legs of calls nobody enabled (user lines, other call centers).
    pub out_of_scope: usize,
    /// Legs whose conversation already has an outcome.
    pub accounted: usize,
    /// Legs whose conversation has a job alive (due, retried, re-checked, just fed): left to
    /// it.
    pub alive: usize,
    /// Legs that ended less than the log delay ago: for the next pass.
    pub too_recent: usize,
    /// Legs fed through the pipeline: their conversations had no outcome and no job, or
    /// their end was missing from a conversation whose job is alive (`merged` of them: a
    /// merge job, which the conversation's own job then logs).
    pub fed: Vec<String>,
    pub merged: usize,
    /// Windows read to their end, and windows left for the next pass.
    pub windows_done: usize,
    pub windows_left: usize,
    /// Why the pass stopped with windows left: `budget`, `too_many_pages`, `list_failed`.
    pub stopped: Option<String>,
    /// Every call that started before this (epoch ms) was looked at.
    pub covered_until: Option<i64>,
    /// Why the call list failed (`stopped`: `list_failed`).
    pub error: Option<String>,
    /// Another pass held the work: this one only added its window.
    pub queued: bool,
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
        .is_some_and(|s| llbridge_domain::CallState::from(s.to_owned()).ends_leg());
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

/// How long a pass on demand waits for a running pass to end before it leaves its window to
/// it.
const ON_DEMAND_PATIENCE: Duration = Duration::from_secs(15);

/// How much longer than its budget a pass's lease lasts (a pass that dies holds the work
/// that long).
const LEASE_MARGIN: Duration = Duration::from_secs(60);

/// Where one pass is, within its budget.
struct Clockwork {
    started: tokio::time::Instant,
    budget: Duration,
    slowest_page: Duration,
    pages: usize,
}

impl Clockwork {
    /// Whether another page (twice as slow as the slowest so far, its feeding included) fits
    /// the budget. The first page always does: every pass moves the work on.
    fn time_for_a_page(&self) -> bool {
        self.pages == 0 || self.started.elapsed() + self.slowest_page * 2 <= self.budget
    }

    /// Whether a pause of `wait` leaves time for a page after it.
    fn time_to_wait(&self, wait: Duration) -> bool {
        self.started.elapsed() + wait + self.slowest_page <= self.budget
    }
}

impl Reconciler {
    fn records(&self) -> Records<'_> {
        Records {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
        }
    }

    /// The work as stored; a store written before there was a work list gives its old
    /// high-water mark as where the next scheduled window starts.
    pub async fn work(&self) -> Result<Work> {
        match self.store.get(keys::RECONCILE_WORK).await? {
            Some(item) => serde_json::from_str(&item.value)
                .map_err(|e| Error::permanent("store", format!("reconciler work: {e}"))),
            None => Ok(Work {
                next_from: self
                    .store
                    .get(keys::RECONCILE_HIGH_WATER)
                    .await?
                    .and_then(|i| i.value.parse().ok()),
                ..Work::default()
            }),
        }
    }

    /// Changes the stored work (read, changed, written conditionally: concurrent additions
    /// are kept).
    async fn change_work(&self, mut f: impl FnMut(&mut Work)) -> Result<Work> {
        let legacy = self.work().await?;
        let mut written = Work::default();
        update(
            self.store.as_ref(),
            keys::RECONCILE_WORK,
            None,
            |w: &mut Work| {
                if *w == Work::default() {
                    *w = legacy.clone();
                }
                f(w);
                written = w.clone();
                true
            },
        )
        .await?;
        Ok(written)
    }

    /// One pass within the settings' budget: over the last `since` when given (on demand),
    /// else the scheduled window; and before it, every window earlier passes left.
    pub async fn pass(&self, since: Option<Duration>) -> Result<Pass> {
        self.pass_within(since, self.settings.budget).await
    }

    /// One pass that stops within `budget` (see the module's documentation). A call list
    /// that keeps failing stops the pass (`stopped`: `list_failed`, with the `error`); what it
    /// did not read is kept. `Err` only when the store, the queue or the config fail.
    pub async fn pass_within(&self, since: Option<Duration>, budget: Duration) -> Result<Pass> {
        let now = self.clock.now_ms();
        let add = |w: &mut Work| match since {
            Some(s) => w.add(now - s.as_millis() as i64, now, now, "on_demand"),
            None => {
                let from = w
                    .next_from
                    .unwrap_or(now - self.settings.first_lookback.as_millis() as i64)
                    - self.settings.overlap.as_millis() as i64;
                w.add(from, now, now, "scheduled");
                w.next_from = Some(w.next_from.map_or(now, |n| n.max(now)));
            }
        };
        // One pass at a time: the other adds its window and leaves it to the running one (a
        // pass on demand waits a little for it first).
        let lease = budget + LEASE_MARGIN;
        let patience = if since.is_some() {
            ON_DEMAND_PATIENCE
        } else {
            Duration::ZERO
        };
        let waited = tokio::time::Instant::now();
        let held = loop {
            match claim::acquire(self.records(), keys::RECONCILE_LEASE, lease).await? {
                Claim::Acquired(h) => break Some(h),
                _ if waited.elapsed() < patience => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => break None,
            }
        };
        let held = match held {
            Some(h) => h,
            None => {
                let work = self.change_work(add).await?;
                tracing::info!(
                    job = "reconcile",
                    decision = "queued",
                    reason = "pass_running",
                    windows = work.windows.len(),
                    "reconciler: another pass is running; its window is added to the work"
                );
                return Ok(Pass {
                    queued: true,
                    windows_left: work.windows.len(),
                    covered_until: work.covered_until(),
                    ..Pass::default()
                });
            }
        };
        let result = self.run(add, budget, now).await;
        if let Err(e) = held.release(self.records(), false, "pass over").await {
            tracing::warn!(error = %e, "reconciler: could not release the pass's lease");
        }
        result
    }

    async fn run(&self, add: impl FnMut(&mut Work), budget: Duration, now: i64) -> Result<Pass> {
        let mut clock = Clockwork {
            started: tokio::time::Instant::now(),
            budget,
            slowest_page: Duration::ZERO,
            pages: 0,
        };
        let work = self.change_work(add).await?;
        let inst = self.config.installation().await?;
        let dialpad = self.clients.dialpad(&inst).await?;
        let mut pass = Pass {
            started_after: work.windows.first().map_or(now, |w| w.from),
            started_before: work.windows.iter().map(|w| w.to).max().unwrap_or(now),
            ..Pass::default()
        };
        let mut failure = None;
        'windows: for window in &work.windows {
            let mut to = window.to;
            let mut cursor = None;
            loop {
                if pass.pages >= self.settings.max_pages {
                    pass.stopped = Some("too_many_pages".into());
                    break 'windows;
                }
                if !clock.time_for_a_page() {
                    pass.stopped = Some("budget".into());
                    break 'windows;
                }
                if pass.pages > 0 {
                    tokio::time::sleep(self.settings.pace).await;
                }
                let query = CallQuery {
                    started_after: window.from,
                    started_before: window.to,
                    cursor: cursor.clone(),
                };
                let began = tokio::time::Instant::now();
                let page = match self.list(dialpad.as_ref(), &query, &clock).await {
                    Ok(p) => p,
                    Err(e) => {
                        pass.stopped = Some("list_failed".into());
                        failure = Some(e);
                        break 'windows;
                    }
                };
                pass.pages += 1;
                clock.pages += 1;
                self.consider_page(&inst, &page.items, now, &mut pass)
                    .await?;
                clock.slowest_page = clock.slowest_page.max(began.elapsed());
                // Newest first: what is left is older than the oldest start read.
                let oldest = page
                    .items
                    .iter()
                    .filter_map(|i| llbridge_domain::lenient::millis(i.get("date_started")))
                    .min();
                if let Some(oldest) = oldest {
                    to = to.min(oldest + 1);
                }
                match page.cursor {
                    Some(c) => {
                        cursor = Some(c);
                        let id = window.id;
                        self.change_work(|w| {
                            if let Some(x) = w.windows.iter_mut().find(|x| x.id == id) {
                                x.to = x.to.min(to);
                                x.begun = true;
                            }
                        })
                        .await?;
                    }
                    None => {
                        let id = window.id;
                        self.change_work(|w| w.windows.retain(|x| x.id != id))
                            .await?;
                        pass.windows_done += 1;
                        break;
                    }
                }
            }
        }
        let left = if pass.stopped.is_some() {
            let stopped_in = work.windows.get(pass.windows_done).map(|w| w.id);
            self.change_work(|w| {
                if let Some(x) = w.windows.iter_mut().find(|x| Some(x.id) == stopped_in) {
                    x.truncated += 1;
                }
            })
            .await?
        } else {
            self.work().await?
        };
        pass.windows_left = left.windows.len();
        pass.covered_until = left.covered_until();
        if let Some(why) = &pass.stopped {
            let backlog_ms = left.windows.iter().map(|w| w.to - w.from).sum::<i64>();
            tracing::warn!(
                job = "reconcile",
                decision = "truncated",
                reason = why.as_str(),
                windows_left = pass.windows_left,
                backlog_ms,
                covered_until = pass.covered_until.unwrap_or_default(),
                pages = pass.pages,
                "reconciler: the pass stopped with calls left to look at; the next pass resumes them first"
            );
            crate::telemetry::reconcile_truncated(why);
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
            alive = pass.alive,
            too_recent = pass.too_recent,
            out_of_scope = pass.out_of_scope,
            windows_done = pass.windows_done,
            windows_left = pass.windows_left,
            "reconciler: pass done"
        );
        crate::telemetry::reconcile_legs(&[
            ("fed", pass.fed.len()),
            ("accounted", pass.accounted),
            ("alive", pass.alive),
            ("too_recent", pass.too_recent),
            ("out_of_scope", pass.out_of_scope),
        ]);
        pass.error = failure.map(|e| e.to_string());
        Ok(pass)
    }

    /// One page, with a few patient retries when Dialpad throttles or fails, as long as the
    /// pass's budget allows.
    async fn list(
        &self,
        dialpad: &dyn crate::ports::Dialpad,
        query: &CallQuery,
        clock: &Clockwork,
    ) -> Result<crate::ports::CallPage> {
        let mut wait = Duration::from_secs(1);
        for _ in 0..3 {
            match dialpad.list_calls(query).await {
                // Dialpad's Retry-After, if it asks for longer.
                Err(e)
                    if e.is_transient()
                        && clock.time_to_wait(wait.max(e.retry_after.unwrap_or_default())) =>
                {
                    let pause = wait.max(e.retry_after.unwrap_or_default());
                    tracing::warn!(error = %e, wait_ms = pause.as_millis() as u64,
                        "reconciler: the call list failed; trying again");
                    tokio::time::sleep(pause).await;
                    wait *= 2;
                }
                other => return other,
            }
        }
        dialpad.list_calls(query).await
    }

    /// Decides each leg of a page, with two batched reads: the legs' anchors and marks, then
    /// the ledger records of their conversations. Feeds the legs of conversations with no
    /// outcome and no job alive.
    async fn consider_page(
        &self,
        inst: &llbridge_domain::Installation,
        items: &[Value],
        now: i64,
        pass: &mut Pass,
    ) -> Result<()> {
        let mut candidates = Vec::new();
        for item in items {
            pass.legs += 1;
            let Some((value, event)) = as_event(item, now) else {
                continue;
            };
            let delay = match scope::decide(inst, &event) {
                Decision::Ignored(_) => {
                    pass.out_of_scope += 1;
                    continue;
                }
                Decision::Enabled { enablement, .. } if !enablement.enable_task_queue => {
                    Duration::ZERO
                }
                _ => self.log_delay,
            };
            let ended = event
                .date_ended
                .unwrap_or(event.event_timestamp)
                .max(event.date_started.unwrap_or(0));
            if now - ended < delay.as_millis() as i64 {
                pass.too_recent += 1;
                continue;
            }
            candidates.push((value, event));
        }
        if candidates.is_empty() {
            return Ok(());
        }
        // Per leg: its conversation's anchor, whether a pass fed it lately, whether its end
        // is in the store.
        let mut first: Vec<String> = Vec::with_capacity(candidates.len() * 3);
        for (_, e) in &candidates {
            first.push(keys::anchor(&e.call_id));
            first.push(keys::reconcile_fed(&e.call_id));
            first.push(keys::leg(&e.call_id));
        }
        let got = self.store.get_many(&first).await?;
        let mut anchors = Vec::with_capacity(candidates.len());
        let mut marked = Vec::with_capacity(candidates.len());
        for (i, (_, e)) in candidates.iter().enumerate() {
            anchors.push(got[3 * i].as_ref().map(|a| a.value.clone()));
            let ended = match &got[3 * i + 2] {
                Some(leg) => crate::state::ended_in(&e.call_id, &leg.value).unwrap_or(false),
                None => false,
            };
            marked.push((got[3 * i + 1].is_some(), ended));
        }
        let mut ledger_keys: Vec<String> =
            anchors.iter().flatten().map(|a| keys::ledger(a)).collect();
        ledger_keys.sort();
        ledger_keys.dedup();
        let entries: HashMap<String, Entry> = self
            .store
            .get_many(&ledger_keys)
            .await?
            .into_iter()
            .zip(&ledger_keys)
            .filter_map(|(item, key)| {
                let entry = serde_json::from_str::<Entry>(&item?.value).ok()?;
                Some((key.clone(), entry))
            })
            .collect();
        let mut feed = Vec::new();
        for (((value, event), anchor), (fed, ended)) in
            candidates.into_iter().zip(anchors).zip(marked)
        {
            let entry = anchor.and_then(|a| entries.get(&keys::ledger(&a)));
            let alive = entry.is_some_and(|e| e.job_alive(now));
            if entry.is_some_and(Entry::is_final) {
                pass.accounted += 1;
            } else if fed || (ended && alive) {
                // Its end is in the store (or on its way), and a job of its conversation will
                // log it: feeding it again would only add a job.
                pass.alive += 1;
            } else if alive {
                // A job of the conversation will log it, once the leg's end is in the store:
                // a merge, not one more call-log job retrying beside the first.
                feed.push((value, event, JobKind::Merge));
            } else {
                feed.push((value, event, JobKind::CallLog));
            }
        }
        self.feed(feed, now, pass).await
    }

    /// Sends the legs through the pipeline (call-log jobs, or merges into a conversation
    /// whose job is alive, from the reconciliation), and marks them fed.
    async fn feed(
        &self,
        legs: Vec<(Value, CallEvent, JobKind)>,
        now: i64,
        pass: &mut Pass,
    ) -> Result<()> {
        if legs.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::with_capacity(legs.len());
        for (value, event, kind) in &legs {
            let raw = serde_json::value::to_raw_value(value).map_err(|e| {
                Error::permanent("reconcile", format!("leg {}: {e}", event.call_id))
            })?;
            let mut msg = JobMessage::new(*kind, raw, now);
            msg.source = Source::Reconciliation;
            batch.push((msg.to_json(), Duration::ZERO));
        }
        for chunk in batch.chunks(10) {
            self.queue.send_batch(chunk).await?;
        }
        let marked_until = self.clock.now_secs() + ALIVE_GRACE.as_secs() as i64;
        for (_, event, kind) in legs {
            let key = keys::reconcile_fed(&event.call_id);
            self.store
                .put(
                    &key,
                    &now.to_string(),
                    Some(marked_until),
                    crate::ports::Condition::Any,
                )
                .await?;
            if kind == JobKind::Merge {
                tracing::info!(job = "reconcile", decision = "fed", reason = "leg_end_missing",
                    call_id = %event.call_id, state = event.state.as_str(),
                    "reconciler: a leg's end the webhook missed is merged; the conversation's job logs it");
                pass.merged += 1;
            } else {
                tracing::info!(job = "reconcile", decision = "fed", reason = "no_outcome",
                    call_id = %event.call_id, state = event.state.as_str(),
                    "reconciler: a leg with no outcome and no job goes through the pipeline");
            }
            pass.fed.push(event.call_id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_adds_only_what_the_work_does_not_hold_yet() {
        let mut w = Work::default();
        w.add(100, 200, 1, "on_demand");
        w.add(300, 400, 2, "scheduled");
        w.add(150, 320, 3, "scheduled");
        let spans: Vec<(i64, i64)> = w.windows.iter().map(|x| (x.from, x.to)).collect();
        assert_eq!(spans, vec![(100, 400)], "none begun: one window {w:?}");
        // A pass read the top of it.
        w.windows[0].to = 250;
        w.windows[0].begun = true;
        w.add(50, 600, 4, "on_demand");
        let spans: Vec<(i64, i64)> = w.windows.iter().map(|x| (x.from, x.to)).collect();
        assert_eq!(
            spans,
            vec![(50, 100), (100, 250), (250, 600)],
            "the begun one keeps its place, oldest first"
        );
        assert_eq!(w.covered_until(), Some(50));
        w.add(120, 130, 5, "on_demand");
        w.add(70, 70, 6, "on_demand");
        assert_eq!(w.windows.len(), 3, "nothing new, nothing added");
    }
}
