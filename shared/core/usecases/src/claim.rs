//! Once-only work across concurrent, retried and crashed jobs.
//!
//! A claim is one record in the store. A job takes it with a *lease* (a time limit written in
//! the record) and gets the record's version as its fencing token: every later write of the
//! holder is conditional on that version, and every write moves it on. Records are never
//! deleted while they matter, so versions only grow: a holder whose lease ran out and was taken
//! over can neither complete nor release the claim of the new holder.
//!
//! Before an external write, the holder records its *intent* (what it is about to do, with the
//! ids). A holder that finds an intent without a result knows the previous attempt may have
//! written, and looks the effect up before writing again. When the work is done the record
//! becomes a permanent "done" record with its outcome.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::ports::{Condition, Records, Store, Write};

/// Claim records are kept this long (retries, late duplicates and the ledger's 35 days).
pub const DONE_TTL_SECS: i64 = 35 * 24 * 3600;

/// How many times taking a claim retries when another job writes the record at the same time.
const TAKE_ATTEMPTS: usize = 8;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    /// Nobody holds it; the work is not done.
    #[default]
    Open,
    /// A job holds it until `lease_until`.
    Held,
    Done,
    /// Records of an older format.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Record {
    #[serde(default)]
    status: Status,
    /// Epoch ms until which the holder may work.
    #[serde(default)]
    lease_until: i64,
    /// What the latest holder was about to do, and not yet done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    intent: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<Value>,
    /// How many times the claim was taken.
    #[serde(default)]
    attempts: u32,
    /// Why the latest holder let go without finishing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl Record {
    fn encode(&self, key: &str) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| Error::permanent("store", format!("claim {key}: {e}")))
    }
}

/// A held claim: its key, its fencing token and what the previous holder left.
#[derive(Debug, Clone)]
pub struct Held {
    pub key: String,
    version: u64,
    lease_until: i64,
    intent: Option<Value>,
    attempts: u32,
}

/// What [`Held::complete_alongside`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The claim and the other records are written.
    Done,
    /// The lease was taken over: nothing is written.
    LeaseLost,
    /// Another record was written meanwhile: nothing is written; read it again and retry.
    Conflict,
}

#[derive(Debug, Clone)]
pub enum Claim {
    /// This caller does the work.
    Acquired(Held),
    /// The work was done; here is what was recorded.
    Done(Value),
    /// Someone else holds the lease right now.
    Busy,
}

fn lease_lost(key: &str) -> Error {
    Error::transient(
        "store",
        format!("claim {key}: the lease ran out and another job took it over"),
    )
    .with_code("lease_lost")
}

/// Tries to take the claim `key` for `lease`. An open claim, or one whose lease ran out, is
/// taken over (its intent comes with it).
pub async fn acquire(records: Records<'_>, key: &str, lease: Duration) -> Result<Claim> {
    let Records { store, clock } = records;
    let expires = Some(clock.now_secs() + DONE_TTL_SECS);
    for _ in 0..TAKE_ATTEMPTS {
        let now = clock.now_ms();
        let lease_until = now + lease.as_millis() as i64;
        let current = store.get(key).await?;
        let (mut rec, condition) = match &current {
            None => (Record::default(), Condition::Absent),
            Some(item) => {
                let rec: Record = serde_json::from_str(&item.value).map_err(|e| {
                    Error::permanent("store", format!("claim {key} unreadable: {e}"))
                })?;
                match rec.status {
                    Status::Done => return Ok(Claim::Done(rec.outcome.unwrap_or_default())),
                    Status::Held if rec.lease_until > now => return Ok(Claim::Busy),
                    _ => (rec, Condition::Version(item.version)),
                }
            }
        };
        rec.status = Status::Held;
        rec.lease_until = lease_until;
        rec.attempts += 1;
        if let Some(version) = store
            .put(key, &rec.encode(key)?, expires, condition)
            .await?
        {
            return Ok(Claim::Acquired(Held {
                key: key.to_owned(),
                version,
                lease_until,
                intent: rec.intent,
                attempts: rec.attempts,
            }));
        }
    }
    Ok(Claim::Busy)
}

impl Held {
    /// What a previous holder was about to do when it stopped without a result: the effect
    /// may have happened, so look it up before writing again.
    pub fn pending_intent(&self) -> Option<&Value> {
        self.intent.as_ref()
    }

    /// How many times the claim was taken, this time included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Epoch ms at which this lease runs out.
    pub fn lease_until(&self) -> i64 {
        self.lease_until
    }

    async fn write(&mut self, records: Records<'_>, rec: &Record, ttl_secs: i64) -> Result<bool> {
        let Records { store, clock } = records;
        let expires = Some(clock.now_secs() + ttl_secs);
        match store
            .put(
                &self.key,
                &rec.encode(&self.key)?,
                expires,
                Condition::Version(self.version),
            )
            .await?
        {
            Some(v) => {
                self.version = v;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Records what is about to be done, before the request. Fails (`lease_lost`) when the
    /// lease was taken over: the caller must not write.
    pub async fn intend(&mut self, records: Records<'_>, intent: Value) -> Result<()> {
        let rec = Record {
            status: Status::Held,
            lease_until: self.lease_until,
            intent: Some(intent.clone()),
            outcome: None,
            attempts: self.attempts,
            note: None,
        };
        if self.write(records, &rec, DONE_TTL_SECS).await? {
            self.intent = Some(intent);
            Ok(())
        } else {
            Err(lease_lost(&self.key))
        }
    }

    /// Marks the work done, keeping `outcome` for [`DONE_TTL_SECS`]. Returns false when the
    /// lease was lost meanwhile (the new holder looks the effect up and finds it).
    pub async fn complete(self, records: Records<'_>, outcome: Value) -> Result<bool> {
        self.complete_for(records, outcome, DONE_TTL_SECS).await
    }

    /// Marks the work done, keeping `outcome` for `ttl_secs`.
    pub async fn complete_for(
        mut self,
        records: Records<'_>,
        outcome: Value,
        ttl_secs: i64,
    ) -> Result<bool> {
        let rec = Record {
            status: Status::Done,
            lease_until: 0,
            intent: self.intent.take(),
            outcome: Some(outcome),
            attempts: self.attempts,
            note: None,
        };
        let written = self.write(records, &rec, ttl_secs).await?;
        if !written {
            tracing::warn!(key = %self.key, decision = "lease_lost", reason = "lease_lost",
                "a claim's lease was taken over before its work was recorded");
        }
        Ok(written)
    }

    /// Marks the work done (as [`Held::complete_for`]) and, in the same transaction, makes
    /// `others` (conditional writes of other records): all, or none.
    pub async fn complete_alongside(
        &self,
        records: Records<'_>,
        outcome: Value,
        ttl_secs: i64,
        others: Vec<Write>,
    ) -> Result<Completion> {
        let Records { store, clock } = records;
        let rec = Record {
            status: Status::Done,
            lease_until: 0,
            intent: self.intent.clone(),
            outcome: Some(outcome),
            attempts: self.attempts,
            note: None,
        };
        let mut writes = vec![Write {
            key: self.key.clone(),
            value: rec.encode(&self.key)?,
            expires_at: Some(clock.now_secs() + ttl_secs),
            condition: Condition::Version(self.version),
        }];
        writes.extend(others);
        if store.transact(&writes).await?.is_some() {
            return Ok(Completion::Done);
        }
        // Which condition failed: the claim's (the lease was taken over), or another
        // record's (written meanwhile: the caller reads it again).
        let still_ours = store
            .get(&self.key)
            .await?
            .is_some_and(|i| i.version == self.version);
        if still_ours {
            Ok(Completion::Conflict)
        } else {
            tracing::warn!(key = %self.key, decision = "lease_lost", reason = "lease_lost",
                "a claim's lease was taken over before its work was recorded");
            Ok(Completion::LeaseLost)
        }
    }

    /// Gives the claim up so that a retry can take it. With `keep_intent` the intent stays for
    /// the next holder to resolve (the write may have happened); without it the next holder
    /// starts afresh (nothing was sent). `note` says why.
    pub async fn release(
        mut self,
        records: Records<'_>,
        keep_intent: bool,
        note: &str,
    ) -> Result<()> {
        let rec = Record {
            status: Status::Open,
            lease_until: 0,
            intent: if keep_intent {
                self.intent.take()
            } else {
                None
            },
            outcome: None,
            attempts: self.attempts,
            note: Some(note.to_owned()),
        };
        if !self.write(records, &rec, DONE_TTL_SECS).await? {
            tracing::warn!(key = %self.key, decision = "lease_lost", reason = "lease_lost",
                "a claim's lease was taken over before it was released");
        }
        Ok(())
    }
}

/// Opens a done claim again when `pick` says so (a replay of work the CRM refused): the next
/// job takes it afresh, with no intent. Returns whether it was opened.
pub async fn reopen(records: Records<'_>, key: &str, pick: impl Fn(&View) -> bool) -> Result<bool> {
    let Records { store, clock } = records;
    let Some(item) = store.get(key).await? else {
        return Ok(false);
    };
    let rec: Record = serde_json::from_str(&item.value)
        .map_err(|e| Error::permanent("store", format!("claim {key} unreadable: {e}")))?;
    if rec.status != Status::Done || !pick(&view_of(rec.clone())) {
        return Ok(false);
    }
    let open = Record {
        status: Status::Open,
        lease_until: 0,
        intent: None,
        outcome: None,
        attempts: rec.attempts,
        note: Some("opened again for a replay".into()),
    };
    Ok(store
        .put(
            key,
            &open.encode(key)?,
            Some(clock.now_secs() + DONE_TTL_SECS),
            Condition::Version(item.version),
        )
        .await?
        .is_some())
}

fn view_of(rec: Record) -> View {
    View {
        status: match rec.status {
            Status::Open => "open",
            Status::Held => "held",
            Status::Done => "done",
            Status::Unknown => "unknown",
        }
        .to_owned(),
        intent: rec.intent,
        outcome: rec.outcome,
        attempts: rec.attempts,
        note: rec.note,
    }
}

/// A claim as it stands, for `trace`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct View {
    /// `open`, `held`, `done`.
    pub status: String,
    pub intent: Option<Value>,
    pub outcome: Option<Value>,
    pub attempts: u32,
    pub note: Option<String>,
}

/// Reads the claim `key`, if any.
pub async fn view(store: &dyn Store, key: &str) -> Result<Option<View>> {
    let Some(item) = store.get(key).await? else {
        return Ok(None);
    };
    let rec: Record = serde_json::from_str(&item.value)
        .map_err(|e| Error::permanent("store", format!("claim {key} unreadable: {e}")))?;
    Ok(Some(view_of(rec)))
}
