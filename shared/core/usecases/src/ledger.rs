//! The call ledger: one record per conversation in the store, kept 35 days.
//!
//! It is opened when a leg of the conversation ends (pending, with the time its call log is
//! due) and settled by the call-log job with what that job decided: the scope, the family
//! (rule, or why none, with the candidates), each effect with its outcome and LineLeader ids,
//! and the decision and reason. How the conversation reached the product is kept too: from
//! Dialpad's webhook, or found by the reconciler in Dialpad's call list.
//!
//! An hourly index (by the call's start, spread over [`HOUR_SHARDS`] items an hour) carries a
//! [`Row`] of each record: what `report` and the console's overview and list read. A record
//! and its row are written in one transaction, so a period is read from its index alone,
//! never record by record.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::claim::{Completion, DONE_TTL_SECS};
use crate::error::{Error, Result};
use crate::jobs::Source;
use crate::outcome::Decision;
use crate::ports::{Clock, Condition, Records, Store, Write};
use crate::state;
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

    /// The record's row in the hourly index.
    pub fn row(&self) -> Row {
        Row {
            anchor: self.conversation.clone(),
            at: self.started_at.unwrap_or(self.opened_at),
            decision: self.decision,
            reason: self.reason.clone(),
            source: self.source,
            scope: self.scope.clone(),
            direction: self.direction.clone(),
            caller: self.caller.clone(),
            agent: self.agent.clone(),
            family: self
                .family
                .as_ref()
                .and_then(|f| f.get("id"))
                .and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }),
            call: self.dialpad_call_id.clone(),
        }
    }

    /// The hour (UTC) the conversation is indexed under: its start, else when it was heard of.
    fn hour(&self) -> String {
        hour_of(self.started_at.unwrap_or(self.opened_at))
    }
}

/// A record as the hourly index carries it: what the report counts and the console lists.
/// It is written when the record is opened and when its decision is made (see [`prepare`]),
/// so a call not decided yet may show what its first job knew; whether such a call is
/// pending is read from its record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Row {
    /// The conversation's anchor (the index's key for the row).
    #[serde(skip)]
    pub anchor: String,
    /// Epoch ms: the call's start, else when the ledger heard of it.
    #[serde(rename = "t")]
    pub at: i64,
    #[serde(rename = "d", skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(rename = "r", skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(rename = "src", skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(rename = "s", skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(rename = "dir", skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// The caller's last four digits.
    #[serde(rename = "c", skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    #[serde(rename = "a", skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The family's CRM id.
    #[serde(rename = "f", skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// The Dialpad call id quoted in the CRM.
    #[serde(rename = "id")]
    pub call: String,
}

/// One item of an hour's index: anchor → row. An index written before rows were kept is a
/// list of anchors; its anchors have no row (`None`) and are read from their records.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
struct Shard(BTreeMap<String, Option<Row>>);

impl<'de> Deserialize<'de> for Shard {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Shard, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Rows(BTreeMap<String, Option<Row>>),
            Anchors(BTreeSet<String>),
        }
        Ok(Shard(match Stored::deserialize(d)? {
            Stored::Rows(rows) => rows,
            Stored::Anchors(anchors) => anchors.into_iter().map(|a| (a, None)).collect(),
        }))
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
/// A shard is rewritten, whole, with each change of one of its rows: at the peak hour of
/// BENCHMARKS.md section 5 (4,170 calls) a shard holds about 33 rows, 6 KB.
pub const HOUR_SHARDS: u32 = 128;

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

/// Attempts at one record change whose writes collide with another writer's.
const WRITE_ATTEMPTS: usize = 16;

/// A record change made ready: the record as it will be, and the conditional writes of the
/// record and its index row (none when both are as stored).
struct Prepared {
    entry: Entry,
    writes: Vec<Write>,
}

fn parse<T: for<'de> Deserialize<'de> + Default>(
    item: Option<&crate::ports::Item>,
    key: &str,
) -> Result<(T, Condition)> {
    match item {
        Some(item) => Ok((
            serde_json::from_str(&item.value).map_err(|e| {
                Error::permanent("store", format!("record {key} is unreadable: {e}"))
            })?,
            Condition::Version(item.version),
        )),
        None => Ok((T::default(), Condition::Absent)),
    }
}

fn encode<T: Serialize>(value: &T, key: &str) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::permanent("store", format!("record {key}: {e}")))
}

/// Reads a record, applies `f` to it, and makes the writes of the record and of its index
/// row: the row in the shard of the record's hour, and out of its former hour's shard when
/// its start moved.
async fn prepare(
    records: Records<'_>,
    anchor: &str,
    f: &mut impl FnMut(&mut Entry),
) -> Result<Prepared> {
    let Records { store, clock } = records;
    let now = clock.now_ms();
    let expires_at = expires(clock);
    let record_key = key(anchor);
    let (mut entry, condition) =
        parse::<Entry>(store.get(&record_key).await?.as_ref(), &record_key)?;
    let former_hour = (!entry.conversation.is_empty()).then(|| entry.hour());
    let mut writes = Vec::new();
    let changed = apply(&mut entry, anchor, now, f);
    if former_hour.is_none() && !changed {
        // No record, and nothing to write: no row either.
        return Ok(Prepared { entry, writes });
    }
    if changed {
        writes.push(Write {
            key: record_key,
            value: encode(&entry, anchor)?,
            expires_at,
            condition,
        });
    }
    let hour = entry.hour();
    let row = entry.row();
    let shard = shard_key(&hour, shard_of(anchor));
    let (mut rows, condition) = parse::<Shard>(store.get(&shard).await?.as_ref(), &shard)?;
    // The row is rewritten when it is new, when the decision changes, and once decided when
    // anything in it changes: a call not decided yet is only counted as such (the report
    // reads its record), so what its next jobs learn (the other leg's id, the scope, the
    // agent) waits for its decision, and most of a call's changes leave its shard alone.
    let stale = match rows.0.get(anchor) {
        Some(Some(old)) => old.decision != row.decision || (row.decision.is_some() && *old != row),
        _ => true,
    };
    if stale {
        rows.0.insert(anchor.to_owned(), Some(row));
        writes.push(Write {
            key: shard.clone(),
            value: encode(&rows, &shard)?,
            expires_at,
            condition,
        });
    }
    if let Some(former) = former_hour.filter(|h| *h != hour) {
        let shard = shard_key(&former, shard_of(anchor));
        let (mut rows, condition) = parse::<Shard>(store.get(&shard).await?.as_ref(), &shard)?;
        if rows.0.remove(anchor).is_some() {
            writes.push(Write {
                key: shard.clone(),
                value: encode(&rows, &shard)?,
                expires_at,
                condition,
            });
        }
    }
    Ok(Prepared { entry, writes })
}

/// Changes a record (creating it when absent) and its index row, in one transaction, and
/// returns the record as written.
async fn change(
    records: Records<'_>,
    anchor: &str,
    mut f: impl FnMut(&mut Entry),
) -> Result<Entry> {
    for _ in 0..WRITE_ATTEMPTS {
        let Prepared { entry, writes } = prepare(records, anchor, &mut f).await?;
        if writes.is_empty() || records.store.transact(&writes).await?.is_some() {
            return Ok(entry);
        }
    }
    Err(Error::transient(
        "store",
        format!("ledger {anchor}: too many concurrent writers"),
    ))
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
    Ok(entry)
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
    for _ in 0..WRITE_ATTEMPTS {
        let Prepared { entry, writes } =
            prepare(records, anchor, &mut |e: &mut Entry| s.onto(e, now)).await?;
        match held
            .complete_alongside(records, outcome.clone(), DONE_TTL_SECS, writes)
            .await?
        {
            Completion::Done => return Ok(Some(entry)),
            Completion::LeaseLost => return Ok(None),
            Completion::Conflict => {}
        }
    }
    Err(Error::transient(
        "store",
        format!("ledger {anchor}: too many concurrent writers"),
    ))
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

/// The index of the hours of `[from_ms, to_ms]`: each anchor with its row (`None` for an
/// anchor listed before rows were kept).
async fn indexed(
    store: &dyn Store,
    from_ms: i64,
    to_ms: i64,
) -> Result<BTreeMap<String, Option<Row>>> {
    let mut keys = Vec::new();
    let mut at = from_ms - from_ms.rem_euclid(3_600_000);
    while at <= to_ms {
        let hour = hour_of(at);
        keys.push(hour_key(&hour));
        keys.extend((0..HOUR_SHARDS).map(|s| shard_key(&hour, s)));
        at += 3_600_000;
    }
    let mut index: BTreeMap<String, Option<Row>> = BTreeMap::new();
    for item in store.get_many(&keys).await?.into_iter().flatten() {
        let Shard(rows) = serde_json::from_str(&item.value)
            .map_err(|e| Error::permanent("store", format!("ledger index: {e}")))?;
        for (anchor, row) in rows {
            let slot = index.entry(anchor).or_default();
            if row.is_some() {
                *slot = row;
            }
        }
    }
    Ok(index)
}

/// Reads the records of `anchors` (those that exist).
pub async fn records_of(store: &dyn Store, anchors: &[String]) -> Result<Vec<Entry>> {
    let keys: Vec<String> = anchors.iter().map(|a| key(a)).collect();
    let mut out = Vec::with_capacity(keys.len());
    for (anchor, item) in anchors.iter().zip(store.get_many(&keys).await?) {
        if let Some(item) = item {
            out.push(
                serde_json::from_str(&item.value)
                    .map_err(|e| Error::permanent("store", format!("ledger {anchor}: {e}")))?,
            );
        }
    }
    Ok(out)
}

/// The rows of the conversations that started within `[from_ms, to_ms]`, from the hourly
/// index alone (a record is read only for an anchor listed before rows were kept), latest
/// first.
pub async fn rows_between(store: &dyn Store, from_ms: i64, to_ms: i64) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut unrowed = Vec::new();
    for (anchor, row) in indexed(store, from_ms, to_ms).await? {
        match row {
            Some(mut row) => {
                row.anchor = anchor;
                rows.push(row);
            }
            None => unrowed.push(anchor),
        }
    }
    rows.extend(records_of(store, &unrowed).await?.iter().map(Entry::row));
    rows.retain(|r| (from_ms..=to_ms).contains(&r.at));
    rows.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.anchor.cmp(&b.anchor)));
    Ok(rows)
}

/// Every record of the conversations that started within `[from_ms, to_ms]`.
pub async fn between(store: &dyn Store, from_ms: i64, to_ms: i64) -> Result<Vec<Entry>> {
    let anchors: Vec<String> = indexed(store, from_ms, to_ms)
        .await?
        .into_iter()
        .filter(|(_, row)| {
            row.as_ref()
                .is_none_or(|r| (from_ms..=to_ms).contains(&r.at))
        })
        .map(|(anchor, _)| anchor)
        .collect();
    let mut out = records_of(store, &anchors).await?;
    out.retain(|e| (from_ms..=to_ms).contains(&e.started_at.unwrap_or(e.opened_at)));
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
    async fn an_hour_is_read_from_its_rows_and_from_indexes_written_before_rows() {
        let store = Map::default();
        let records = Records {
            store: &store,
            clock: &Fixed,
        };
        let hour = hour_of(T0);
        let anchors: Vec<String> = (0..100).map(|i| format!("62089173922{i:05}")).collect();
        for a in &anchors {
            change(records, a, |e| {
                e.started_at = Some(T0);
                e.decision = Some(Decision::Logged);
            })
            .await
            .expect("entry");
        }
        let shards: BTreeSet<u32> = anchors.iter().map(|a| shard_of(a)).collect();
        assert!(shards.len() > 8, "spread: {shards:?}");
        // Records indexed before rows were kept: a list of anchors, unsharded or sharded.
        for (legacy, index) in [
            ("legacy".to_owned(), hour_key(&hour)),
            ("legacy-shard".to_owned(), shard_key(&hour, 63)),
        ] {
            let entry = Entry {
                conversation: legacy.clone(),
                started_at: Some(T0),
                decision: Some(Decision::Dropped),
                reason: Some("family_ambiguous".into()),
                ..Entry::default()
            };
            store
                .put(
                    &key(&legacy),
                    &serde_json::to_string(&entry).expect("json"),
                    None,
                    Condition::Absent,
                )
                .await
                .expect("legacy record");
            let listed = match store.get(&index).await.expect("get") {
                Some(item) => {
                    let mut v: Value = serde_json::from_str(&item.value).expect("json");
                    v.as_object_mut()
                        .expect("rows")
                        .insert(legacy.clone(), Value::Null);
                    v.to_string()
                }
                None => format!("[\"{legacy}\"]"),
            };
            store
                .put(&index, &listed, None, Condition::Any)
                .await
                .expect("legacy index");
        }

        let found = between(&store, T0 - 1, T0 + 1).await.expect("between");
        assert_eq!(found.len(), 102);
        let rows = rows_between(&store, T0 - 1, T0 + 1).await.expect("rows");
        assert_eq!(rows.len(), 102);
        let legacy = rows
            .iter()
            .find(|r| r.anchor == "legacy")
            .expect("legacy row");
        assert_eq!(legacy.reason.as_deref(), Some("family_ambiguous"));
        assert!(rows.iter().any(|r| r.anchor == "legacy-shard"));
        assert_eq!(
            rows.iter()
                .filter(|r| r.decision == Some(Decision::Logged))
                .count(),
            100
        );
        // The rows come from the index alone: a record not read is still counted.
        store.delete(&key(&anchors[0]), None).await.expect("delete");
        let rows = rows_between(&store, T0 - 1, T0 + 1).await.expect("rows");
        assert_eq!(rows.len(), 102);
        assert!(rows.iter().any(|r| r.anchor == anchors[0]));
        assert!(between(&store, T0 + 1, T0 + 2)
            .await
            .expect("between")
            .is_empty());
        assert!(rows_between(&store, T0 + 1, T0 + 2)
            .await
            .expect("rows")
            .is_empty());
    }

    #[tokio::test]
    async fn a_row_follows_its_record_and_leaves_the_hour_its_call_no_longer_started_in() {
        let store = Map::default();
        let records = Records {
            store: &store,
            clock: &Fixed,
        };
        let hour = 3_600_000;
        // Heard of first without a start (indexed under when it was heard of), then its
        // start is known, two hours before.
        change(records, "a", |e| e.reason = Some("x".into()))
            .await
            .expect("open");
        assert_eq!(
            rows_between(&store, T0 - 1, T0 + 1)
                .await
                .expect("rows")
                .len(),
            1
        );
        change(records, "a", |e| e.started_at = Some(T0 - 2 * hour))
            .await
            .expect("start");
        assert!(rows_between(&store, T0 - hour, T0 + 1)
            .await
            .expect("rows")
            .is_empty());
        let shard = shard_key(&hour_of(T0), shard_of("a"));
        let left: Shard =
            serde_json::from_str(&store.get(&shard).await.expect("get").expect("item").value)
                .expect("shard");
        assert!(left.0.is_empty(), "{left:?}");
        let rows = rows_between(&store, T0 - 3 * hour, T0 + 1)
            .await
            .expect("rows");
        assert_eq!(rows.len(), 1);
        // A decision reaches the row.
        settle(records, "a", Settled::new(Decision::NeedsReview))
            .await
            .expect("settle");
        let rows = rows_between(&store, T0 - 3 * hour, T0 + 1)
            .await
            .expect("rows");
        assert_eq!(rows[0].decision, Some(Decision::NeedsReview));
        assert_eq!(
            rows[0],
            get(&store, "a").await.expect("get").expect("entry").row()
        );
        // A change that changes nothing writes nothing; a record that does not exist gets no row.
        let version = |k: String| {
            let store = &store;
            async move { store.get(&k).await.expect("get").map(|i| i.version) }
        };
        let before = version(key("a")).await;
        change(records, "a", |_| {}).await.expect("noop");
        assert_eq!(version(key("a")).await, before);
        change(records, "ghost", |_| {}).await.expect("noop");
        assert_eq!(version(key("ghost")).await, None);
        assert_eq!(
            rows_between(&store, T0 - 3 * hour, T0 + 1)
                .await
                .expect("rows")
                .len(),
            1
        );
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
