//! Once-only work across concurrent and retried jobs: a claim is a lease in the store that
//! becomes a permanent "done" record when the work succeeds, and is released when it fails so
//! a retry can take it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ports::{Clock, Condition, Store};

/// "Done" records are kept this long (retries and late duplicates come within minutes).
pub const DONE_TTL_SECS: i64 = 30 * 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ClaimRecord {
    status: String,
    owner: String,
    #[serde(default)]
    outcome: Option<serde_json::Value>,
}

/// A held claim.
#[derive(Debug, Clone)]
pub struct Held {
    pub key: String,
    owner: String,
    version: u64,
}

#[derive(Debug, Clone)]
pub enum Claim {
    /// This caller does the work.
    Acquired(Held),
    /// The work was done; here is what was recorded.
    Done(serde_json::Value),
    /// Someone else holds the lease right now.
    Busy,
}

fn record(status: &str, owner: &str, outcome: Option<serde_json::Value>) -> Result<String> {
    serde_json::to_string(&ClaimRecord {
        status: status.to_owned(),
        owner: owner.to_owned(),
        outcome,
    })
    .map_err(|e| Error::permanent("store", e.to_string()))
}

/// Tries to take the claim `key` for `lease_secs`. An expired lease is taken over.
pub async fn acquire(
    store: &dyn Store,
    clock: &dyn Clock,
    key: &str,
    lease_secs: i64,
) -> Result<Claim> {
    let owner = uuid::Uuid::new_v4().to_string();
    let value = record("in_progress", &owner, None)?;
    let expires = Some(clock.now_secs() + lease_secs);
    if let Some(version) = store.put(key, &value, expires, Condition::Absent).await? {
        return Ok(Claim::Acquired(Held {
            key: key.to_owned(),
            owner,
            version,
        }));
    }
    match store.get(key).await? {
        Some(item) => {
            let rec: ClaimRecord = serde_json::from_str(&item.value)
                .map_err(|e| Error::permanent("store", format!("claim {key} unreadable: {e}")))?;
            if rec.status == "done" {
                Ok(Claim::Done(rec.outcome.unwrap_or_default()))
            } else {
                Ok(Claim::Busy)
            }
        }
        // It expired between the two calls: the caller may simply try again later.
        None => Ok(Claim::Busy),
    }
}

/// Marks the work done, keeping `outcome` for [`DONE_TTL_SECS`].
pub async fn complete(
    store: &dyn Store,
    clock: &dyn Clock,
    held: &Held,
    outcome: serde_json::Value,
) -> Result<()> {
    complete_for(store, clock, held, outcome, DONE_TTL_SECS).await
}

/// Marks the work done, keeping `outcome` for `ttl_secs`.
pub async fn complete_for(
    store: &dyn Store,
    clock: &dyn Clock,
    held: &Held,
    outcome: serde_json::Value,
    ttl_secs: i64,
) -> Result<()> {
    let value = record("done", &held.owner, Some(outcome))?;
    let expires = Some(clock.now_secs() + ttl_secs);
    match store
        .put(&held.key, &value, expires, Condition::Version(held.version))
        .await?
    {
        Some(_) => Ok(()),
        // The lease ran out and someone else took over: write anyway, the work is done.
        None => store
            .put(&held.key, &value, expires, Condition::Any)
            .await
            .map(|_| ()),
    }
}

/// Gives the claim up so that a retry can take it.
pub async fn release(store: &dyn Store, held: &Held) -> Result<()> {
    store
        .delete(&held.key, Some(held.version))
        .await
        .map(|_| ())
}
