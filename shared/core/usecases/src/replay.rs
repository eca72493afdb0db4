//! `llbridge replay`: conversations whose log the CRM refused for good (a 4xx: a wrong
//! `api.paths` value, a missing type) run again once the setting is fixed. What was written
//! stays written: only the effects the CRM refused, and the log's own claim, are opened again;
//! every other effect finds its claim done. The ledger counts the replay.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::claim;
use crate::error::Result;
use crate::jobs::{JobKind, JobMessage};
use crate::keys;
use crate::ledger::{self, Entry};
use crate::ports::{Queue, Records};
use crate::state;

/// One conversation put back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replayed {
    pub conversation: String,
    pub dialpad_call_id: String,
    /// The effects opened again (the others stay done).
    pub reopened: Vec<String>,
}

/// Whether a ledger record is a conversation whose log was refused with `reason` (any reason
/// when `None`).
pub fn refused(e: &Entry, reason: Option<&str>) -> bool {
    e.decision == Some(crate::outcome::Decision::Failed)
        && reason.is_none_or(|r| e.reason.as_deref() == Some(r))
}

/// Puts the conversation of `anchor` back: its refused effects and its log's claim opened
/// again, its ledger record pending, one call-log job queued. `None` when it has no record, or
/// no event to queue.
pub async fn replay(
    records: Records<'_>,
    queue: &dyn Queue,
    anchor: &str,
) -> Result<Option<Replayed>> {
    let Some(entry) = ledger::get(records.store, anchor).await? else {
        return Ok(None);
    };
    // The job carries one of the conversation's own events: a leg's end.
    let Some(leg) = entry.legs.iter().next() else {
        return Ok(None);
    };
    let events = state::load_events(records.store, leg).await?;
    let Some(end) = events
        .iter()
        .filter(|e| e.state.ends_leg())
        .max_by_key(|e| e.event_timestamp)
    else {
        return Ok(None);
    };
    let mut reopened = Vec::new();
    for step in entry.steps() {
        let refused = |v: &claim::View| {
            v.outcome
                .as_ref()
                .is_some_and(|o| o.get("how").and_then(Value::as_str) == Some("rejected"))
        };
        if claim::reopen(records, &keys::step(anchor, &step), refused).await? {
            reopened.push(step);
        }
    }
    claim::reopen(records, &keys::log_claim(anchor), |_| true).await?;
    ledger::note_replay(records, leg).await?;
    // The event is in the store already (`merged`): the job needs only its leg and state.
    let event = serde_json::json!({
        "call_id": end.call_id,
        "state": end.state.as_str(),
        "event_timestamp": end.event_timestamp,
    });
    let raw = serde_json::value::to_raw_value(&event)
        .map_err(|e| crate::Error::permanent("replay", format!("{anchor}: {e}")))?;
    let mut msg = JobMessage::new(JobKind::CallLog, raw, records.clock.now_ms());
    msg.merged = true;
    queue.send(&msg.to_json(), Duration::ZERO).await?;
    tracing::info!(job = "replay", decision = "replayed", conversation = %anchor,
        reopened = ?reopened, "a refused call log runs again");
    Ok(Some(Replayed {
        conversation: anchor.to_owned(),
        dialpad_call_id: entry.dialpad_call_id,
        reopened,
    }))
}
