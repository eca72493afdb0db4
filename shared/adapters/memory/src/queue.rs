use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use llbridge_usecases::ports::{Clock, DeadLetter, GivenUp, Queue, Received};
use llbridge_usecases::{Error, Result};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
struct Message {
    id: String,
    body: String,
    visible_at_ms: i64,
    receive_count: u32,
    receipt: Option<String>,
}

/// The messages by sequence number, and indexes that keep every operation logarithmic: a
/// local host with a hundred thousand delayed jobs still receives and acks at once.
#[derive(Default)]
struct State {
    messages: HashMap<u64, Message>,
    /// `(visible_at_ms, seq)` of every message: the next visible one is the first.
    order: BTreeSet<(i64, u64)>,
    /// The current receipt of each message in flight.
    receipts: HashMap<String, u64>,
    next_seq: u64,
    dead: Vec<DeadLetter>,
}

impl State {
    fn push(&mut self, body: String, visible_at_ms: i64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert((visible_at_ms, seq));
        self.messages.insert(
            seq,
            Message {
                id: uuid::Uuid::new_v4().to_string(),
                body,
                visible_at_ms,
                receive_count: 0,
                receipt: None,
            },
        );
    }

    /// Makes the message `seq` visible at `at`.
    fn reschedule(&mut self, seq: u64, at: i64) {
        if let Some(m) = self.messages.get_mut(&seq) {
            self.order.remove(&(m.visible_at_ms, seq));
            m.visible_at_ms = at;
            self.order.insert((at, seq));
        }
    }

    fn remove(&mut self, seq: u64) -> Option<Message> {
        let m = self.messages.remove(&seq)?;
        self.order.remove(&(m.visible_at_ms, seq));
        if let Some(r) = &m.receipt {
            self.receipts.remove(r);
        }
        Some(m)
    }
}

/// An in-memory queue with SQS semantics: per-message delays, a visibility timeout, receive
/// counts and a dead-letter list (after `max_receives` deliveries, or when the worker gives a
/// message up). Time comes from the given clock, so tests can move it. A receiver waiting for
/// messages wakes as soon as one is sent or comes due: no polling delay.
pub struct MemoryQueue {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    notify: Notify,
    visibility: Duration,
    max_receives: u32,
}

impl MemoryQueue {
    pub fn new(clock: Arc<dyn Clock>) -> MemoryQueue {
        MemoryQueue::with_settings(clock, Duration::from_secs(30), 5)
    }

    pub fn with_settings(
        clock: Arc<dyn Clock>,
        visibility: Duration,
        max_receives: u32,
    ) -> MemoryQueue {
        MemoryQueue {
            clock,
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            visibility,
            max_receives,
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| Error::transient("queue", "queue state poisoned"))
    }

    /// Messages still in the queue, visible or not.
    pub fn len(&self) -> usize {
        self.lock().map(|s| s.messages.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bodies moved to the dead-letter list.
    pub fn dead_letters(&self) -> Vec<String> {
        self.dead_letters_with_reasons()
            .into_iter()
            .map(|d| d.body)
            .collect()
    }

    /// The dead-letter list, with the reasons.
    pub fn dead_letters_with_reasons(&self) -> Vec<DeadLetter> {
        self.lock().map(|s| s.dead.clone()).unwrap_or_default()
    }

    /// Takes the dead letters `pick` chooses off the list and queues them again, at once.
    /// Returns them.
    pub fn replay_dead_letters(&self, pick: &dyn Fn(&DeadLetter) -> bool) -> Vec<DeadLetter> {
        let now = self.clock.now_ms();
        let Ok(mut st) = self.lock() else {
            return Vec::new();
        };
        let (taken, kept): (Vec<DeadLetter>, Vec<DeadLetter>) = std::mem::take(&mut st.dead)
            .into_iter()
            .partition(|d| pick(d));
        st.dead = kept;
        for d in &taken {
            st.push(d.body.clone(), now);
        }
        drop(st);
        self.notify.notify_waiters();
        taken
    }

    /// Messages delivered and not yet acked or visible again.
    pub fn in_flight(&self) -> usize {
        let now = self.clock.now_ms();
        self.lock()
            .map(|s| {
                s.messages
                    .values()
                    .filter(|m| m.receipt.is_some() && m.visible_at_ms > now)
                    .count()
            })
            .unwrap_or(0)
    }

    /// The earliest time (epoch ms) at which a message becomes visible, if any is waiting.
    pub fn next_visible_at(&self) -> Option<i64> {
        self.lock().ok()?.order.first().map(|(at, _)| *at)
    }

    fn take_visible(&self, max: usize) -> Result<Vec<Received>> {
        let now = self.clock.now_ms();
        let mut guard = self.lock()?;
        let st = &mut *guard;
        let mut out = Vec::new();
        while out.len() < max {
            let Some(&(at, seq)) = st.order.first() else {
                break;
            };
            if at > now {
                break;
            }
            let exhausted = st
                .messages
                .get(&seq)
                .is_none_or(|m| m.receive_count >= self.max_receives);
            if exhausted {
                st.order.pop_first();
                if let Some(m) = st.remove(seq) {
                    st.dead.push(DeadLetter {
                        body: m.body,
                        reason: None,
                        detail: None,
                        deliveries: Some(m.receive_count),
                    });
                }
                continue;
            }
            st.reschedule(seq, now + self.visibility.as_millis() as i64);
            let Some(m) = st.messages.get_mut(&seq) else {
                continue;
            };
            m.receive_count += 1;
            let receipt = format!("{}#{}", m.id, m.receive_count);
            if let Some(old) = m.receipt.replace(receipt.clone()) {
                st.receipts.remove(&old);
            }
            out.push(Received {
                id: m.id.clone(),
                receipt: receipt.clone(),
                body: m.body.clone(),
                receive_count: m.receive_count,
            });
            st.receipts.insert(receipt, seq);
        }
        Ok(out)
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, body: &str, delay: Duration) -> Result<()> {
        if delay > Duration::from_secs(900) {
            return Err(Error::permanent("queue", "delay above 900 seconds"));
        }
        let at = self.clock.now_ms() + delay.as_millis() as i64;
        self.lock()?.push(body.to_owned(), at);
        self.notify.notify_waiters();
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Registered before looking, so a send in between still wakes this receiver.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let got = self.take_visible(max.max(1))?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            // Wake on a send or a release, or when the next delayed message comes due.
            let until_due = self
                .next_visible_at()
                .map(|at| Duration::from_millis((at - self.clock.now_ms()).max(1) as u64))
                .unwrap_or(Duration::MAX);
            let _ = tokio::time::timeout(until_due.min(deadline - now), notified).await;
        }
    }

    async fn ack(&self, receipt: &str) -> Result<()> {
        let mut st = self.lock()?;
        if let Some(seq) = st.receipts.get(receipt).copied() {
            st.remove(seq);
        }
        Ok(())
    }

    async fn release(&self, receipt: &str, delay: Duration) -> Result<()> {
        let now = self.clock.now_ms();
        let mut st = self.lock()?;
        if let Some(seq) = st.receipts.get(receipt).copied() {
            st.reschedule(seq, now + delay.as_millis() as i64);
        }
        drop(st);
        self.notify.notify_waiters();
        Ok(())
    }

    async fn dead_letter(&self, body: &str, given_up: &GivenUp) -> Result<()> {
        self.lock()?.dead.push(DeadLetter {
            body: body.to_owned(),
            reason: Some(given_up.reason.clone()),
            detail: Some(given_up.detail.clone()),
            deliveries: Some(given_up.deliveries),
        });
        Ok(())
    }
}
