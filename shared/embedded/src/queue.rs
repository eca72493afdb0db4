use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use llbridge_app::ports::{Clock, DeadLetter, GivenUp, Queue, Received};
use llbridge_app::{Error, Result};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
struct Message {
    id: String,
    body: String,
    visible_at_ms: i64,
    receive_count: u32,
    receipt: Option<String>,
}

#[derive(Default)]
struct State {
    messages: VecDeque<Message>,
    dead: Vec<DeadLetter>,
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
            st.messages.push_back(Message {
                id: uuid::Uuid::new_v4().to_string(),
                body: d.body.clone(),
                visible_at_ms: now,
                receive_count: 0,
                receipt: None,
            });
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
                    .iter()
                    .filter(|m| m.receipt.is_some() && m.visible_at_ms > now)
                    .count()
            })
            .unwrap_or(0)
    }

    /// The earliest time (epoch ms) at which a message becomes visible, if any is waiting.
    pub fn next_visible_at(&self) -> Option<i64> {
        self.lock()
            .ok()?
            .messages
            .iter()
            .map(|m| m.visible_at_ms)
            .min()
    }

    fn take_visible(&self, max: usize) -> Result<Vec<Received>> {
        let now = self.clock.now_ms();
        let mut st = self.lock()?;
        let mut out = Vec::new();
        let mut dead = Vec::new();
        for m in st.messages.iter_mut() {
            if out.len() >= max {
                break;
            }
            if m.visible_at_ms > now {
                continue;
            }
            if m.receive_count >= self.max_receives {
                dead.push(m.id.clone());
                continue;
            }
            m.receive_count += 1;
            let receipt = format!("{}#{}", m.id, m.receive_count);
            m.receipt = Some(receipt.clone());
            m.visible_at_ms = now + self.visibility.as_millis() as i64;
            out.push(Received {
                id: m.id.clone(),
                receipt,
                body: m.body.clone(),
                receive_count: m.receive_count,
            });
        }
        for id in dead {
            if let Some(pos) = st.messages.iter().position(|m| m.id == id) {
                if let Some(m) = st.messages.remove(pos) {
                    st.dead.push(DeadLetter {
                        body: m.body,
                        reason: None,
                        detail: None,
                        deliveries: Some(m.receive_count),
                    });
                }
            }
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
        let msg = Message {
            id: uuid::Uuid::new_v4().to_string(),
            body: body.to_owned(),
            visible_at_ms: self.clock.now_ms() + delay.as_millis() as i64,
            receive_count: 0,
            receipt: None,
        };
        self.lock()?.messages.push_back(msg);
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
        if let Some(pos) = st
            .messages
            .iter()
            .position(|m| m.receipt.as_deref() == Some(receipt))
        {
            st.messages.remove(pos);
        }
        Ok(())
    }

    async fn release(&self, receipt: &str, delay: Duration) -> Result<()> {
        let now = self.clock.now_ms();
        let mut st = self.lock()?;
        if let Some(m) = st
            .messages
            .iter_mut()
            .find(|m| m.receipt.as_deref() == Some(receipt))
        {
            m.visible_at_ms = now + delay.as_millis() as i64;
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
