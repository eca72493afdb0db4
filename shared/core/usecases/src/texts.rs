//! The ledger of texts: one record per Dialpad SMS, kept 35 days like the calls', and an
//! hourly index (by when the text was sent) that `report` reads.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use llbridge_domain::phone;
use llbridge_domain::text::TextEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::claim::DONE_TTL_SECS;
use crate::error::{Error, Result};
use crate::outcome::Decision;
use crate::ports::{Records, Store};
use crate::state::update;

/// One text's record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TextEntry {
    /// Dialpad's SMS id.
    pub sms_id: String,
    /// Epoch ms: when Dialpad says it was sent, and when the ledger first heard of it.
    pub sent_at: i64,
    pub opened_at: i64,
    pub direction: Option<String>,
    /// The contact's number, last four digits only.
    pub contact: Option<String>,
    pub scope: Option<String>,
    /// `logged`, `dropped` (with the reason), `failed`...; `None` while pending.
    pub decision: Option<Decision>,
    pub reason: Option<String>,
    pub detail: Option<String>,
    /// The family (or why none, with the candidates).
    pub family: Option<Value>,
    /// The CRM event's recorded outcome.
    pub effects: Option<Value>,
    pub attempts: u32,
    pub updated_at: i64,
}

fn key(sms_id: &str) -> String {
    format!("ledger#text#{sms_id}")
}

fn hour_key(hour: &str) -> String {
    format!("ledger#texts#{hour}")
}

fn hour_of(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .format("%Y-%m-%dT%H")
        .to_string()
}

/// Reads a text's record.
pub async fn get(store: &dyn Store, sms_id: &str) -> Result<Option<TextEntry>> {
    match store.get(&key(sms_id)).await? {
        Some(item) => serde_json::from_str(&item.value)
            .map(Some)
            .map_err(|e| Error::permanent("store", format!("text ledger {sms_id}: {e}"))),
        None => Ok(None),
    }
}

/// Opens the record of a text (or completes it), and indexes it by its hour.
pub async fn open(
    records: Records<'_>,
    text: &TextEvent,
    scope: Option<&str>,
) -> Result<TextEntry> {
    let Records { store, clock } = records;
    let now = clock.now_ms();
    let expires = Some(clock.now_secs() + DONE_TTL_SECS);
    let sent_at = if text.created_ms > 0 {
        text.created_ms
    } else {
        now
    };
    let mut written = TextEntry::default();
    update(store, &key(&text.id), expires, |e: &mut TextEntry| {
        let before = e.clone();
        if e.sms_id.is_empty() {
            e.sms_id = text.id.clone();
            e.opened_at = now;
            e.sent_at = sent_at;
        }
        e.direction = text.direction.map(|d| d.as_str().to_owned());
        e.contact = text.contact_number().map(phone::mask);
        if let Some(s) = scope {
            e.scope = Some(s.to_owned());
        }
        let changed = *e != before;
        if changed {
            e.updated_at = now;
        }
        written = e.clone();
        changed
    })
    .await?;
    update(
        store,
        &hour_key(&hour_of(written.sent_at)),
        expires,
        |ids: &mut BTreeSet<String>| ids.insert(text.id.clone()),
    )
    .await?;
    Ok(written)
}

/// Records what was decided for a text.
pub async fn settle(
    records: Records<'_>,
    sms_id: &str,
    decision: Decision,
    reason: Option<&str>,
    detail: &str,
    family: Option<Value>,
    effects: Option<Value>,
) -> Result<TextEntry> {
    let Records { store, clock } = records;
    let now = clock.now_ms();
    let expires = Some(clock.now_secs() + DONE_TTL_SECS);
    let mut written = TextEntry::default();
    update(store, &key(sms_id), expires, |e: &mut TextEntry| {
        if e.sms_id.is_empty() {
            e.sms_id = sms_id.to_owned();
            e.opened_at = now;
            e.sent_at = now;
        }
        e.decision = Some(decision);
        e.reason = reason.map(str::to_owned);
        e.detail = Some(detail.to_owned());
        if family.is_some() {
            e.family = family.clone();
        }
        if effects.is_some() {
            e.effects = effects.clone();
        }
        e.attempts += 1;
        e.updated_at = now;
        written = e.clone();
        true
    })
    .await?;
    Ok(written)
}

/// Every text sent in `[from_ms, to_ms)`.
pub async fn between(store: &dyn Store, from_ms: i64, to_ms: i64) -> Result<Vec<TextEntry>> {
    let mut hours = Vec::new();
    let mut hour = from_ms - from_ms.rem_euclid(3_600_000);
    while hour < to_ms {
        hours.push(hour_key(&hour_of(hour)));
        hour += 3_600_000;
    }
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for item in store.get_many(&hours).await?.into_iter().flatten() {
        if let Ok(list) = serde_json::from_str::<BTreeSet<String>>(&item.value) {
            ids.extend(list);
        }
    }
    let keys: Vec<String> = ids.iter().map(|i| key(i)).collect();
    let mut out = Vec::new();
    for item in store.get_many(&keys).await?.into_iter().flatten() {
        if let Ok(e) = serde_json::from_str::<TextEntry>(&item.value) {
            if (from_ms..to_ms).contains(&e.sent_at) {
                out.push(e);
            }
        }
    }
    Ok(out)
}
