//! Conversation state in the store: one record per leg (its events and its links to other
//! legs); a conversation is loaded by walking the links from any of its legs.
//!
//! A leg record keeps each event as the rules read it ([`CallEvent`], texts and lists
//! clipped), not as Dialpad sent it: a transcription or recap event of tens of kilobytes takes
//! a few hundred bytes, so a leg's record stays far below DynamoDB's 400 KB item limit. A leg
//! keeps at most [`MAX_EVENTS_PER_LEG`] events; past that, the oldest live-state events
//! (ringing, connected, hold...) make room, never the ones that end the leg or come after it.

use std::collections::{BTreeSet, VecDeque};

use llbridge_domain::conversation::{self, Conversation};
use llbridge_domain::CallEvent;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::jobs::Source;
use crate::ports::{Condition, Records, Store};

/// Leg records live a week: long enough for late post-hangup events and retried jobs.
pub const LEG_TTL_SECS: i64 = 7 * 24 * 3600;
/// At most this many legs are walked for one conversation.
pub const MAX_LEGS: usize = 64;
/// At most this many events are kept per leg.
pub const MAX_EVENTS_PER_LEG: usize = 200;
/// A leg's record stays under this many bytes (DynamoDB takes 400 KB an item).
pub const MAX_LEG_BYTES: usize = 300_000;
/// Optimistic-concurrency attempts for one record update.
const WRITE_ATTEMPTS: usize = 16;

#[derive(Debug, Default, Serialize, Deserialize)]
struct LegRecord {
    /// The leg's events as the rules read them.
    #[serde(default)]
    calls: Vec<CallEvent>,
    /// Events as Dialpad sent them (records written before events were kept clipped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    events: Vec<Box<RawValue>>,
    /// Other legs this leg is linked to (both directions).
    #[serde(default)]
    links: BTreeSet<String>,
    /// An event of this leg came from Dialpad's webhook (not only from the reconciler).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    webhook: bool,
    /// The conversation's call log was decided: a detail merged from now on is a late one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    logged: bool,
}

/// What merging an event found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Merged {
    /// The conversation's log was decided before this event was merged.
    pub logged: bool,
}

impl LegRecord {
    /// The record's size as stored, in bytes.
    fn bytes(&self) -> usize {
        serde_json::to_vec(self).map_or(usize::MAX, |v| v.len())
    }

    /// Makes room by dropping the oldest live-state event (ringing, connected, hold...), else
    /// the oldest detail another event of its state came after (a recap or a disposition
    /// sent again: the latest is the one read); never a leg's end. False when none is left.
    fn evict(&mut self) -> bool {
        let superseded = |i: usize| {
            let e = &self.calls[i];
            !e.state.ends_leg()
                && self.calls.iter().any(|later| {
                    later.state == e.state && later.event_timestamp > e.event_timestamp
                })
        };
        let victim = self
            .calls
            .iter()
            .position(|e| e.state.is_live())
            .or_else(|| (0..self.calls.len()).find(|i| superseded(*i)));
        match victim {
            Some(i) => {
                self.calls.remove(i);
                true
            }
            None => false,
        }
    }

    /// Adds an event unless it is there already; makes room when the leg is full, by count
    /// ([`MAX_EVENTS_PER_LEG`]) or by size ([`MAX_LEG_BYTES`]).
    fn add(&mut self, event: CallEvent) -> bool {
        if self.calls.contains(&event) {
            return false;
        }
        let full = |why: &str, event: &CallEvent| {
            tracing::warn!(call_id = %event.call_id, state = event.state.as_str(),
                decision = "dropped", reason = "leg_full", detail = why,
                "a leg holds too many events; this one is not kept");
        };
        if self.calls.len() + self.events.len() >= MAX_EVENTS_PER_LEG && !self.evict() {
            full("200 events", &event);
            return false;
        }
        self.calls.push(event);
        while self.bytes() > MAX_LEG_BYTES {
            if !self.evict() {
                if let Some(event) = self.calls.pop() {
                    full("300 KB", &event);
                }
                return false;
            }
        }
        true
    }
}

use crate::keys::leg as leg_key;

/// Reads, changes and conditionally writes one record until no concurrent writer interferes.
/// `change` returns false when there is nothing to write.
pub async fn update<T, F>(
    store: &dyn Store,
    key: &str,
    expires_at: Option<i64>,
    mut change: F,
) -> Result<()>
where
    T: Default + Serialize + for<'de> Deserialize<'de>,
    F: FnMut(&mut T) -> bool,
{
    for _ in 0..WRITE_ATTEMPTS {
        let current = store.get(key).await?;
        let (mut value, condition) = match &current {
            Some(item) => (
                serde_json::from_str::<T>(&item.value).map_err(|e| {
                    Error::permanent("store", format!("record {key} is unreadable: {e}"))
                })?,
                Condition::Version(item.version),
            ),
            None => (T::default(), Condition::Absent),
        };
        if !change(&mut value) {
            return Ok(());
        }
        let text = serde_json::to_string(&value)
            .map_err(|e| Error::permanent("store", format!("record {key}: {e}")))?;
        if store
            .put(key, &text, expires_at, condition)
            .await?
            .is_some()
        {
            return Ok(());
        }
    }
    Err(Error::transient(
        "store",
        format!("record {key}: too many concurrent writers"),
    ))
}

/// Adds an event to its leg's record (duplicates are skipped) and links the legs it names.
/// `source` says how it reached the product: a leg that heard from the webhook says so.
pub async fn merge_event(
    records: Records<'_>,
    event: &CallEvent,
    source: Source,
) -> Result<Merged> {
    let Records { store, clock } = records;
    let expires = Some(clock.now_secs() + LEG_TTL_SECS);
    let links = event.linked_ids();
    let kept = event.clipped();
    let mut merged = Merged::default();
    update(
        store,
        &leg_key(&event.call_id),
        expires,
        |rec: &mut LegRecord| {
            merged.logged = rec.logged;
            let mut changed = rec.add(kept.clone());
            for l in &links {
                changed |= rec.links.insert(l.clone());
            }
            if source == Source::Webhook && !rec.webhook {
                rec.webhook = true;
                changed = true;
            }
            changed
        },
    )
    .await?;
    for l in &links {
        update(store, &leg_key(l), expires, |rec: &mut LegRecord| {
            rec.links.insert(event.call_id.clone())
        })
        .await?;
    }
    Ok(merged)
}

/// Marks every leg of a conversation whose log was decided: a detail merged into one of them
/// from now on is a late one (the webhook then queues a job for it).
pub async fn mark_logged(records: Records<'_>, legs: &[String]) -> Result<()> {
    let Records { store, clock } = records;
    let expires = Some(clock.now_secs() + LEG_TTL_SECS);
    for leg in legs {
        update(store, &leg_key(leg), expires, |rec: &mut LegRecord| {
            !std::mem::replace(&mut rec.logged, true)
        })
        .await?;
    }
    Ok(())
}

/// The events of a conversation, and whether any of its legs heard from the webhook.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub events: Vec<CallEvent>,
    pub heard_from_webhook: bool,
}

/// Every event of the conversation that `call_id` belongs to.
pub async fn load_events(store: &dyn Store, call_id: &str) -> Result<Vec<CallEvent>> {
    Ok(load_legs(store, call_id).await?.events)
}

/// Every event of the conversation that `call_id` belongs to, and where its legs heard from.
pub async fn load_legs(store: &dyn Store, call_id: &str) -> Result<Loaded> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut todo: VecDeque<String> = VecDeque::from([call_id.to_owned()]);
    let mut events = Vec::new();
    let mut heard_from_webhook = false;
    while let Some(id) = todo.pop_front() {
        if seen.len() >= MAX_LEGS {
            tracing::warn!(
                call_id,
                legs = seen.len(),
                "conversation has too many legs; the rest are left out"
            );
            break;
        }
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some(item) = store.get(&leg_key(&id)).await? else {
            continue;
        };
        let rec: LegRecord = serde_json::from_str(&item.value)
            .map_err(|e| Error::permanent("store", format!("leg {id} is unreadable: {e}")))?;
        heard_from_webhook |= rec.webhook;
        events.extend(rec.calls);
        for raw in &rec.events {
            if let Ok(v) = serde_json::from_str(raw.get()) {
                if let Ok(e) = CallEvent::from_value(&v) {
                    events.push(e);
                }
            }
        }
        todo.extend(rec.links.into_iter().filter(|l| !seen.contains(l)));
    }
    Ok(Loaded {
        events,
        heard_from_webhook,
    })
}

/// Whether an event that ends the leg `call_id` (hangup, missed, voicemail) was merged.
pub async fn leg_ended(store: &dyn Store, call_id: &str) -> Result<bool> {
    match store.get(&leg_key(call_id)).await? {
        Some(item) => ended_in(call_id, &item.value),
        None => Ok(false),
    }
}

/// Whether the stored record of the leg `call_id` (as read) holds an event that ends it.
pub fn ended_in(call_id: &str, value: &str) -> Result<bool> {
    let rec: LegRecord = serde_json::from_str(value)
        .map_err(|e| Error::permanent("store", format!("leg {call_id} is unreadable: {e}")))?;
    Ok(rec.calls.iter().any(|e| e.state.ends_leg())
        || rec.events.iter().any(|raw| {
            serde_json::from_str::<serde_json::Value>(raw.get())
                .ok()
                .and_then(|v| CallEvent::from_value(&v).ok())
                .is_some_and(|e| e.state.ends_leg())
        }))
}

/// The merged record of the conversation `call_id` belongs to.
pub async fn load(store: &dyn Store, call_id: &str) -> Result<Option<Conversation>> {
    Ok(conversation::merge(&load_events(store, call_id).await?))
}

/// The merged record of the conversation `call_id` belongs to, and whether the webhook
/// delivered any of its events.
pub async fn load_heard(store: &dyn Store, call_id: &str) -> Result<Option<(Conversation, bool)>> {
    let loaded = load_legs(store, call_id).await?;
    Ok(conversation::merge(&loaded.events).map(|c| (c, loaded.heard_from_webhook)))
}

use crate::keys::anchor as anchor_key;

/// The anchor a leg was given, if its conversation was ever anchored.
pub async fn anchor_of(store: &dyn Store, leg: &str) -> Result<Option<String>> {
    Ok(store.get(&anchor_key(leg)).await?.map(|i| i.value))
}

/// The key under which a conversation's call log and its effects are recorded: the
/// conversation's key when its log is first claimed, kept for every leg known then. A job
/// that later sees the conversation under another key (a leg with a smaller id turned up)
/// finds the first one through any of its legs, so nothing is logged twice under two keys.
pub async fn anchor(records: Records<'_>, conv: &Conversation) -> Result<String> {
    let store = records.store;
    for leg in &conv.legs {
        if let Some(item) = store.get(&anchor_key(leg)).await? {
            return adopt(records, conv, &item.value).await;
        }
    }
    adopt(records, conv, &conv.key).await
}

/// Points every leg of `conv` at `key`; when another key got to a leg first, that one wins
/// and the legs already pointed are moved over to it.
async fn adopt(records: Records<'_>, conv: &Conversation, key: &str) -> Result<String> {
    let Records { store, clock } = records;
    let expires = Some(clock.now_secs() + crate::claim::DONE_TTL_SECS);
    let mut pointed = Vec::new();
    for leg in &conv.legs {
        let k = anchor_key(leg);
        if store
            .put(&k, key, expires, Condition::Absent)
            .await?
            .is_some()
        {
            pointed.push(k);
            continue;
        }
        let Some(item) = store.get(&k).await? else {
            continue;
        };
        if item.value != key {
            let winner = item.value;
            for p in &pointed {
                store.put(p, &winner, expires, Condition::Any).await?;
            }
            return Ok(winner);
        }
    }
    Ok(key.to_owned())
}
