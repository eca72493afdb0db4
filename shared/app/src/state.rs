//! Conversation state in the store: one record per leg (its events and its links to other
//! legs); a conversation is loaded by walking the links from any of its legs.

use std::collections::{BTreeSet, VecDeque};

use llbridge_domain::conversation::{self, Conversation};
use llbridge_domain::CallEvent;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::ports::{Clock, Condition, Store};

/// Leg records live a week: long enough for late post-hangup events and retried jobs.
pub const LEG_TTL_SECS: i64 = 7 * 24 * 3600;
/// At most this many legs are walked for one conversation.
pub const MAX_LEGS: usize = 64;
/// Optimistic-concurrency attempts for one record update.
const WRITE_ATTEMPTS: usize = 16;

#[derive(Debug, Default, Serialize, Deserialize)]
struct LegRecord {
    /// The leg's events, as Dialpad sent them.
    #[serde(default)]
    events: Vec<Box<RawValue>>,
    /// Other legs this leg is linked to (both directions).
    #[serde(default)]
    links: BTreeSet<String>,
}

fn leg_key(call_id: &str) -> String {
    format!("leg#{call_id}")
}

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

/// Adds an event to its leg's record (exact duplicates are skipped) and links the legs it names.
pub async fn merge_event(
    store: &dyn Store,
    clock: &dyn Clock,
    event: &CallEvent,
    raw: &RawValue,
) -> Result<()> {
    let expires = Some(clock.now_secs() + LEG_TTL_SECS);
    let links = event.linked_ids();
    update(
        store,
        &leg_key(&event.call_id),
        expires,
        |rec: &mut LegRecord| {
            let mut changed = false;
            if !rec.events.iter().any(|e| e.get() == raw.get()) {
                rec.events.push(raw.to_owned());
                changed = true;
            }
            for l in &links {
                changed |= rec.links.insert(l.clone());
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
    Ok(())
}

/// Every event of the conversation that `call_id` belongs to.
pub async fn load_events(store: &dyn Store, call_id: &str) -> Result<Vec<CallEvent>> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut todo: VecDeque<String> = VecDeque::from([call_id.to_owned()]);
    let mut events = Vec::new();
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
        for raw in &rec.events {
            if let Ok(e) =
                CallEvent::from_value(&serde_json::from_str(raw.get()).unwrap_or_default())
            {
                events.push(e);
            }
        }
        todo.extend(rec.links.into_iter().filter(|l| !seen.contains(l)));
    }
    Ok(events)
}

/// The merged record of the conversation `call_id` belongs to.
pub async fn load(store: &dyn Store, call_id: &str) -> Result<Option<Conversation>> {
    Ok(conversation::merge(&load_events(store, call_id).await?))
}
