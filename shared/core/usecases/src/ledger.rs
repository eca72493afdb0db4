//! The call ledger: one record per conversation in the store, kept 35 days.
//!
//! It is opened when a leg of the conversation ends (pending, with the time its call log is
//! due) and settled by the call-log job with what that job decided: the scope, the family
//! (rule, or why none, with the candidates), each effect with its outcome and LineLeader ids,
//! and the decision and reason. How the conversation reached the product is kept too: from
//! Dialpad's webhook, or found by the reconciler in Dialpad's call list. An hourly index (by
//! the call's start) lets `report` read a period without scanning the table.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::claim::DONE_TTL_SECS;
use crate::error::{Error, Result};
use crate::jobs::Source;
use crate::outcome::Decision;
use crate::ports::{Clock, Records, Store};
use crate::state::{self, update};
use llbridge_domain::phone;
use llbridge_domain::Conversation;

/// One conversation's record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Entry {
    /// The conversation's anchor (its stable key).
    pub conversation: String,
    pub legs: BTreeSet<String>,
    /// The Dialpad call id quoted in LineLeader.
    pub dialpad_call_id: String,
    /// `webhook`, or `reconciliation` when the reconciler found the call; set by the first
    /// opener.
    pub source: Option<Source>,
    /// The enablement that applies (`call_center:<id>`, ...).
    pub scope: Option<String>,
    /// The caller's number, last four digits only.
    pub caller: Option<String>,
    pub direction: Option<String>,
    /// The agent who answered (or placed) the call: name, else e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Epoch ms, from Dialpad.
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// Epoch ms: when the ledger first heard of the conversation, and when its log is due.
    pub opened_at: i64,
    pub due_at: Option<i64>,
    /// Epoch ms: when a job of the conversation is next expected to run (its log's delay, a
    /// re-check of a call not over, a retry, the reconciler's feeding); none once the log is
    /// decided. A job is alive until [`ALIVE_GRACE`] after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<i64>,
    /// The call log's decision, once final ([`Decision::is_final_log`]), and its reason code.
    pub decision: Option<Decision>,
    pub reason: Option<String>,
    pub detail: Option<String>,
    /// The family decision: `{id, rule, center_rule}`, or `{dropped, detail, candidates}`.
    pub family: Option<Value>,
    /// Each effect's recorded outcome, LineLeader ids included.
    pub effects: Option<Value>,
    /// Call-log jobs that ran for it, and the last failure's reason.
    pub attempts: u32,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    /// Times a job of it was replayed from the dead letters.
    pub replays: u32,
    /// What was done with details that came after the log: `{at, event, reason, detail,
    /// outcome}` each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub late: Vec<Value>,
    pub updated_at: i64,
}

/// The effects a call log may have (their claims `step#<conversation>#<name>`), beside each
/// follow-up task's (`follow_up#<key>`, named in the record).
pub const STEPS: &[&str] = &[
    "phone_log",
    "task",
    "event",
    "status",
    "late_task",
    "late_status",
    "leadsquared_call_log",
    "webhook_call_log",
    "text_event",
];

impl Entry {
    /// The names of the effects the conversation's log may have claimed: [`STEPS`], and the
    /// follow-up tasks its effects name.
    pub fn steps(&self) -> Vec<String> {
        let follow_ups = self
            .effects
            .as_ref()
            .and_then(|x| x.get("follow_ups"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("key").and_then(Value::as_str))
            .map(|k| format!("follow_up#{k}"));
        STEPS
            .iter()
            .map(|s| (*s).to_owned())
            .chain(follow_ups)
            .collect()
    }

    pub fn is_final(&self) -> bool {
        self.decision.is_some()
    }

    pub fn recovered(&self) -> bool {
        self.source == Some(Source::Reconciliation)
    }

    /// Whether a job of the conversation is alive: due, being retried or re-checked, or just
    /// fed, and not decided. (A job that died is redelivered within [`ALIVE_GRACE`].)
    pub fn job_alive(&self, now_ms: i64) -> bool {
        !self.is_final()
            && self
                .next_attempt_at
                .or(self.due_at)
                .is_some_and(|t| now_ms < t + ALIVE_GRACE.as_millis() as i64)
    }

    /// The hour (UTC) the conversation is indexed under: its start, else when it was heard of.
    fn hour(&self) -> String {
        hour_of(self.started_at.unwrap_or(self.opened_at))
    }
}

fn hour_of(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .format("%Y-%m-%dT%H")
        .to_string()
}

use crate::keys::{ledger as key, ledger_hour as hour_key, ledger_hour_shard as shard_key};

/// How long after its expected run a job counts as alive: longer than a job, its redelivery
/// after the worker dies (the queue's visibility timeout, 6 minutes) and a re-check (5).
pub const ALIVE_GRACE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// How many items an hour's index is spread over: a busy hour's conversations in one item
/// would make every opening rewrite the whole list (and its writers collide).
pub const HOUR_SHARDS: u32 = 64;

/// The shard of an anchor: FNV-1a of its text, stable across releases.
fn shard_of(anchor: &str) -> u32 {
    let hash = anchor.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % u64::from(HOUR_SHARDS)) as u32
}

fn expires(clock: &dyn Clock) -> Option<i64> {
    Some(clock.now_secs() + DONE_TTL_SECS)
}

/// Reads a conversation's record.
pub async fn get(store: &dyn Store, anchor: &str) -> Result<Option<Entry>> {
    match store.get(&key(anchor)).await? {
        Some(item) => serde_json::from_str(&item.value)
            .map(Some)
            .map_err(|e| Error::permanent("store", format!("ledger {anchor}: {e}"))),
        None => Ok(None),
    }
}

/// The record of the conversation any of whose legs is `call_id`, with its anchor.
pub async fn find(store: &dyn Store, call_id: &str) -> Result<Option<(String, Entry)>> {
    let Some(anchor) = state::anchor_of(store, call_id).await? else {
        return Ok(None);
    };
    Ok(get(store, &anchor).await?.map(|e| (anchor, e)))
}

/// Applies `f` to a record as stored (a new one when `e` is the default): returns whether it
/// changed.
fn apply(e: &mut Entry, anchor: &str, now: i64, f: &mut impl FnMut(&mut Entry)) -> bool {
    if e.conversation.is_empty() {
        e.conversation = anchor.to_owned();
        e.opened_at = now;
    }
    let before = e.clone();
    f(e);
    let changed = *e != before;
    if changed {
        e.updated_at = now;
    }
    changed
}

/// Changes a record (creating it when absent) and returns it as written.
async fn change(
    records: Records<'_>,
    anchor: &str,
    mut f: impl FnMut(&mut Entry),
) -> Result<Entry> {
    let Records { store, clock } = records;
    let now = clock.now_ms();
    let mut written = Entry::default();
    update(store, &key(anchor), expires(clock), |e: &mut Entry| {
        let changed = apply(e, anchor, now, &mut f);
        written = e.clone();
        changed
    })
    .await?;
    Ok(written)
}

/// Opens the record of a conversation whose leg ended (or completes what it knows). The
/// first opener sets how the conversation reached the product. Returns the record.
pub async fn open(
    records: Records<'_>,
    conv: &Conversation,
    anchor: &str,
    scope: Option<&str>,
    source: Source,
    due_at: i64,
) -> Result<Entry> {
    let entry = change(records, anchor, |e| {
        // The first opener says how the conversation reached the product, and the webhook
        // wins: a conversation is recovered only when the webhook delivered none of it.
        if source != Source::Crm && (e.source.is_none() || source == Source::Webhook) {
            e.source = Some(source);
        }
        if source == Source::Webhook && e.decision == Some(Decision::RecoveredByReconciliation) {
            e.decision = Some(Decision::Logged);
        }
        if !e.is_final() {
            e.next_attempt_at = Some(e.next_attempt_at.map_or(due_at, |t| t.max(due_at)));
        }
        e.legs.extend(conv.legs.iter().cloned());
        e.dialpad_call_id = conv.dialpad_call_id.clone();
        if let Some(s) = scope {
            e.scope = Some(s.to_owned());
        }
        e.caller = conv.caller_number.as_deref().map(phone::mask);
        e.direction = conv.direction.map(|d| d.as_str().to_owned());
        if let Some(a) = &conv.agent {
            e.agent = a
                .name
                .clone()
                .or_else(|| a.email.clone())
                .or(e.agent.take());
        }
        e.started_at = conv.started_at.or(e.started_at);
        e.ended_at = conv.ended_at.or(e.ended_at);
        if e.due_at.is_none() {
            e.due_at = Some(due_at);
        }
    })
    .await?;
    index(records, &entry.hour(), anchor).await?;
    Ok(entry)
}

/// Lists the anchor in its hour's index (in its shard).
async fn index(records: Records<'_>, hour: &str, anchor: &str) -> Result<()> {
    update(
        records.store,
        &shard_key(hour, shard_of(anchor)),
        expires(records.clock),
        |set: &mut BTreeSet<String>| set.insert(anchor.to_owned()),
    )
    .await
}

/// Anchors the conversation (see [`state::anchor`]) and opens its record: returns the anchor
/// and the record.
pub async fn anchor_and_open(
    records: Records<'_>,
    conv: &Conversation,
    scope: Option<&str>,
    source: Source,
    due_at: i64,
) -> Result<(String, Entry)> {
    let anchor = state::anchor(records, conv).await?;
    let entry = open(records, conv, &anchor, scope, source, due_at).await?;
    Ok((anchor, entry))
}

/// What a call-log job decided for good.
#[derive(Debug, Clone)]
pub struct Settled {
    pub decision: Decision,
    pub reason: Option<String>,
    pub detail: String,
    pub family: Option<Value>,
    pub effects: Option<Value>,
}

impl Settled {
    /// The decision alone: no reason, detail, family or effects.
    pub fn new(decision: Decision) -> Settled {
        Settled {
            decision,
            reason: None,
            detail: String::new(),
            family: None,
            effects: None,
        }
    }

    /// Writes this decision into a record. A conversation the webhook delivered any of (the
    /// record says so by now) is not a recovered one.
    fn onto(&self, e: &mut Entry, now: i64) {
        let recovered = self.decision == Decision::RecoveredByReconciliation;
        let decision = if recovered && e.source == Some(Source::Webhook) {
            Decision::Logged
        } else {
            self.decision
        };
        e.decision = Some(decision);
        e.reason = self.reason.clone();
        e.detail = Some(self.detail.clone());
        if self.family.is_some() {
            e.family = self.family.clone();
        }
        if self.effects.is_some() {
            e.effects = self.effects.clone();
        }
        e.attempts += 1;
        e.last_attempt_at = Some(now);
        e.next_attempt_at = None;
    }
}

/// Records a call log's final decision.
pub async fn settle(records: Records<'_>, anchor: &str, s: Settled) -> Result<Entry> {
    let now = records.clock.now_ms();
    change(records, anchor, |e| s.onto(e, now)).await
}

/// Completes the call log's claim with `outcome` and records its final decision in the
/// ledger, in one transaction: a job that dies, or a store that fails, between the two leaves
/// neither, and the job's retry logs (finding every effect done) and settles again. Returns
/// the record as written, or `None` when the claim's lease was lost (nothing written).
pub async fn settle_with_claim(
    records: Records<'_>,
    held: crate::claim::Held,
    outcome: Value,
    anchor: &str,
    s: Settled,
) -> Result<Option<Entry>> {
    let now = records.clock.now_ms();
    let mut written = Entry::default();
    let done = held
        .complete_with(
            records,
            outcome,
            DONE_TTL_SECS,
            &key(anchor),
            DONE_TTL_SECS,
            |e: &mut Entry| {
                apply(e, anchor, now, &mut |e: &mut Entry| s.onto(e, now));
                written = e.clone();
            },
        )
        .await?;
    Ok(done.then_some(written))
}

/// Records what was done with a detail that came after the log (a late disposition applied,
/// follow-up tasks created): one item of [`Entry::late`] per event state.
pub async fn note_late(
    records: Records<'_>,
    anchor: &str,
    event: &str,
    reason: &str,
    detail: &str,
    outcome: &Value,
) -> Result<()> {
    let now = records.clock.now_ms();
    let item = serde_json::json!({
        "at": now,
        "event": event,
        "reason": reason,
        "detail": detail,
        "outcome": outcome,
    });
    change(records, anchor, |e| {
        // A retried job's note replaces its own.
        e.late
            .retain(|l| l.get("event").and_then(Value::as_str) != Some(event));
        e.late.push(item.clone());
    })
    .await?;
    Ok(())
}

/// Records an attempt that did not settle the conversation: a retry (`next_attempt_at`, when
/// it comes), or a job given up (`final_decision`), for the conversation of `conv`'s legs, if
/// it has a record.
pub async fn note_failure(
    records: Records<'_>,
    conv: &Conversation,
    reason: &str,
    final_decision: Option<Decision>,
    next_attempt_at: Option<i64>,
) -> Result<()> {
    let Records { store, clock } = records;
    let mut anchor = None;
    for leg in &conv.legs {
        if let Some(a) = state::anchor_of(store, leg).await? {
            anchor = Some(a);
            break;
        }
    }
    let Some(anchor) = anchor else {
        return Ok(());
    };
    let now = clock.now_ms();
    change(records, &anchor, |e| {
        e.attempts += 1;
        e.last_attempt_at = Some(now);
        e.last_error = Some(reason.to_owned());
        if let Some(d) = final_decision {
            if !e.is_final() {
                e.decision = Some(d);
                e.reason = Some(reason.to_owned());
                e.next_attempt_at = None;
            }
        } else if !e.is_final() {
            e.next_attempt_at = next_attempt_at;
        }
    })
    .await?;
    Ok(())
}

/// Notes that a job of the conversation was replayed from the dead letters: it may settle
/// again.
pub async fn note_replay(records: Records<'_>, call_id: &str) -> Result<()> {
    let store = records.store;
    let Some(anchor) = state::anchor_of(store, call_id).await? else {
        return Ok(());
    };
    let now = records.clock.now_ms();
    change(records, &anchor, |e| {
        e.replays += 1;
        if e.decision == Some(Decision::Failed) {
            e.decision = None;
            e.next_attempt_at = Some(now);
        }
    })
    .await?;
    Ok(())
}

/// Every record of the conversations that started within `[from_ms, to_ms]`.
pub async fn between(store: &dyn Store, from_ms: i64, to_ms: i64) -> Result<Vec<Entry>> {
    let mut anchors = BTreeSet::new();
    let mut at = from_ms - from_ms.rem_euclid(3_600_000);
    while at <= to_ms {
        let hour = hour_of(at);
        let keys: Vec<String> = std::iter::once(hour_key(&hour))
            .chain((0..HOUR_SHARDS).map(|s| shard_key(&hour, s)))
            .collect();
        let items = futures_util::future::join_all(keys.iter().map(|k| store.get(k))).await;
        for item in items {
            if let Some(item) = item? {
                let set: BTreeSet<String> = serde_json::from_str(&item.value)
                    .map_err(|e| Error::permanent("store", format!("ledger index: {e}")))?;
                anchors.extend(set);
            }
        }
        at += 3_600_000;
    }
    let anchors: Vec<String> = anchors.into_iter().collect();
    let mut out = Vec::with_capacity(anchors.len());
    // Read 32 at a time: a day of a busy center is thousands of records.
    for chunk in anchors.chunks(32) {
        for e in futures_util::future::join_all(chunk.iter().map(|a| get(store, a))).await {
            if let Some(e) = e? {
                let t = e.started_at.unwrap_or(e.opened_at);
                if (from_ms..=to_ms).contains(&t) {
                    out.push(e);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{Condition, Item};
    use std::collections::HashMap;
    use std::sync::Mutex;

    const T0: i64 = 1_780_000_000_000;

    struct Fixed;
    impl Clock for Fixed {
        fn now_ms(&self) -> i64 {
            T0
        }
    }

    /// Versioned items in a map: enough of a store for the index.
    #[derive(Default)]
    struct Map(Mutex<HashMap<String, (String, u64)>>);

    #[async_trait::async_trait]
    impl Store for Map {
        async fn get(&self, key: &str) -> Result<Option<Item>> {
            let map = self
                .0
                .lock()
                .map_err(|_| Error::transient("t", "poisoned"))?;
            Ok(map.get(key).map(|(value, version)| Item {
                value: value.clone(),
                version: *version,
                expires_at: None,
            }))
        }
        async fn put(
            &self,
            key: &str,
            value: &str,
            _expires_at: Option<i64>,
            condition: Condition,
        ) -> Result<Option<u64>> {
            let mut map = self
                .0
                .lock()
                .map_err(|_| Error::transient("t", "poisoned"))?;
            let current = map.get(key).map(|(_, v)| *v);
            let holds = match condition {
                Condition::Absent => current.is_none(),
                Condition::Version(v) => current == Some(v),
                Condition::Any => true,
            };
            if !holds {
                return Ok(None);
            }
            let version = current.unwrap_or(0) + 1;
            map.insert(key.to_owned(), (value.to_owned(), version));
            Ok(Some(version))
        }
        async fn delete(&self, key: &str, _version: Option<u64>) -> Result<bool> {
            let mut map = self
                .0
                .lock()
                .map_err(|_| Error::transient("t", "poisoned"))?;
            Ok(map.remove(key).is_some())
        }

        async fn transact(&self, writes: &[crate::ports::Write]) -> Result<Option<Vec<u64>>> {
            let mut out = Vec::new();
            for w in writes {
                match self
                    .put(&w.key, &w.value, w.expires_at, w.condition)
                    .await?
                {
                    Some(v) => out.push(v),
                    None => return Ok(None),
                }
            }
            Ok(Some(out))
        }
    }

    #[tokio::test]
    async fn an_hour_is_read_from_every_shard_and_from_the_unsharded_index() {
        let store = Map::default();
        let records = Records {
            store: &store,
            clock: &Fixed,
        };
        let hour = hour_of(T0);
        let anchors: Vec<String> = (0..100).map(|i| format!("62089173922{i:05}")).collect();
        for a in &anchors {
            change(records, a, |e| e.started_at = Some(T0))
                .await
                .expect("entry");
            index(records, &hour, a).await.expect("index");
        }
        let shards: BTreeSet<u32> = anchors.iter().map(|a| shard_of(a)).collect();
        assert!(shards.len() > 8, "spread: {shards:?}");
        // A record indexed before the index had shards.
        change(records, "legacy", |e| e.started_at = Some(T0))
            .await
            .expect("entry");
        store
            .put(&hour_key(&hour), "[\"legacy\"]", None, Condition::Absent)
            .await
            .expect("legacy index");

        let found = between(&store, T0 - 1, T0 + 1).await.expect("between");
        assert_eq!(found.len(), 101);
        assert!(found.iter().any(|e| e.conversation == "legacy"));
        assert!(between(&store, T0 + 1, T0 + 2)
            .await
            .expect("between")
            .is_empty());
    }
}

/// How long a contact's last agent is kept (longer than any `last_agent_days`).
pub const LAST_AGENT_TTL_SECS: i64 = 90 * 24 * 3600;

/// The agent of a contact's last answered call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastAgent {
    /// The agent's Dialpad user id.
    pub user_id: String,
    /// When the call was (epoch ms).
    pub at_ms: i64,
    pub call_id: String,
}

/// Notes the agent of a contact's answered call, unless a later call is noted already.
pub async fn note_last_agent(
    records: Records<'_>,
    connection: &str,
    contact_id: &str,
    agent: LastAgent,
) -> Result<()> {
    let expires = Some(records.clock.now_secs() + LAST_AGENT_TTL_SECS);
    crate::state::update(
        records.store,
        &crate::keys::last_agent(connection, contact_id),
        expires,
        |current: &mut Option<LastAgent>| {
            if current.as_ref().is_some_and(|c| c.at_ms >= agent.at_ms) {
                return false;
            }
            *current = Some(agent.clone());
            true
        },
    )
    .await
}

/// The agent of a contact's last answered call, if one is noted.
pub async fn last_agent(
    store: &dyn Store,
    connection: &str,
    contact_id: &str,
) -> Result<Option<LastAgent>> {
    match store
        .get(&crate::keys::last_agent(connection, contact_id))
        .await?
    {
        Some(item) => Ok(serde_json::from_str::<Option<LastAgent>>(&item.value).unwrap_or(None)),
        None => Ok(None),
    }
}
