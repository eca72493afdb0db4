//! `llbridge report`: the coverage of a period, from the call ledger. Every conversation in
//! scope is logged (some recovered by reconciliation), dropped with a reason, failed, held for
//! review, or pending (its log not due yet, or being retried); any other is unaccounted for.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ledger::{self, Entry, Row};
use crate::outcome::Decision;
use crate::ports::Records;

/// A conversation without an outcome is pending while its log is due for less than this, or
/// while a job of it ran this recently (it is being retried); past that it is unaccounted for.
pub const PENDING_GRACE: Duration = Duration::from_secs(30 * 60);

/// The coverage of a period. Serialized, it has exactly the keys `llbridge report --json`
/// promises.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// The period's start, ISO-8601 UTC.
    pub since: String,
    /// Conversations in scope that started in the period.
    pub calls: usize,
    /// Logged, recovered ones included.
    pub logged: usize,
    /// Logged after the reconciler found them in Dialpad's call list.
    pub recovered: usize,
    /// Reason code → count.
    pub dropped: BTreeMap<String, usize>,
    pub failed: usize,
    pub pending: usize,
    pub needs_review: usize,
    /// Jobs in the dead-letter queue now.
    pub dead_letters: usize,
    /// The texts of the period.
    pub texts: TextCounts,
    /// The conversations unaccounted for (not in the JSON: `calls` minus everything else).
    #[serde(skip)]
    pub unaccounted: Vec<String>,
}

/// The texts of a period: received (every text in scope the worker saw), logged, dropped by
/// reason, failed (or held for review), pending.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextCounts {
    pub received: usize,
    pub logged: usize,
    pub dropped: BTreeMap<String, usize>,
    pub failed: usize,
    pub pending: usize,
}

impl TextCounts {
    pub fn of(entries: &[crate::texts::TextEntry]) -> TextCounts {
        let mut t = TextCounts::default();
        for e in entries {
            t.received += 1;
            match e.decision {
                Some(Decision::Logged) => t.logged += 1,
                Some(Decision::Dropped | Decision::Skipped) => {
                    let reason = e.reason.clone().unwrap_or_else(|| "unknown".into());
                    *t.dropped.entry(reason).or_default() += 1;
                }
                Some(_) => t.failed += 1,
                None => t.pending += 1,
            }
        }
        t
    }
}

impl Coverage {
    /// Counts the rows of a period; `undecided` are the records of its rows without a
    /// decision (whether each is pending or unaccounted for is read from its record).
    pub fn of(
        entries: &[Row],
        undecided: &HashMap<String, Entry>,
        since_ms: i64,
        now_ms: i64,
        dead_letters: usize,
    ) -> Coverage {
        let mut c = Coverage {
            since: Utc
                .timestamp_millis_opt(since_ms)
                .single()
                .unwrap_or_default()
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            dead_letters,
            ..Coverage::default()
        };
        let grace = PENDING_GRACE.as_millis() as i64;
        for e in entries {
            c.calls += 1;
            match e.decision {
                Some(Decision::Logged) => c.logged += 1,
                Some(Decision::RecoveredByReconciliation) => {
                    c.logged += 1;
                    c.recovered += 1;
                }
                Some(Decision::Dropped | Decision::Skipped) => {
                    let reason = e.reason.clone().unwrap_or_else(|| "unknown".into());
                    *c.dropped.entry(reason).or_default() += 1;
                }
                Some(Decision::NeedsReview) => c.needs_review += 1,
                // A job given up, or a decision a call log never settles with: failed.
                Some(
                    Decision::Failed
                    | Decision::GaveUp
                    | Decision::Retry
                    | Decision::Merged
                    | Decision::Popped
                    | Decision::Deferred,
                ) => c.failed += 1,
                None => {
                    let pending = undecided.get(&e.anchor).is_some_and(|r| {
                        let due = r.due_at.unwrap_or(r.opened_at);
                        let recent = r.last_attempt_at.is_some_and(|t| now_ms - t < grace);
                        r.decision.is_some()
                            || now_ms < due + grace
                            || recent
                            || r.job_alive(now_ms)
                    });
                    if pending {
                        c.pending += 1;
                    } else {
                        c.unaccounted.push(e.anchor.clone());
                    }
                }
            }
        }
        c.unaccounted.sort();
        c
    }

    /// One line an admin can read out: "412 calls, 409 logged (...), ...".
    pub fn summary(&self) -> String {
        let dropped: usize = self.dropped.values().sum();
        let reasons: Vec<String> = self
            .dropped
            .iter()
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        format!(
            "since {}: {} contact-center calls, {} logged ({} recovered by reconciliation), {} dropped{}, {} failed, {} need review, {} pending, {} unaccounted for; {} job(s) in the dead-letter queue",
            self.since,
            self.calls,
            self.logged,
            self.recovered,
            dropped,
            if reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", reasons.join(", "))
            },
            self.failed,
            self.needs_review,
            self.pending,
            self.unaccounted.len(),
            self.dead_letters
        ) + &if self.texts.received > 0 {
            let dropped: usize = self.texts.dropped.values().sum();
            let reasons: Vec<String> = self
                .texts
                .dropped
                .iter()
                .map(|(r, n)| format!("{n} {r}"))
                .collect();
            format!(
                "; {} texts, {} logged, {} dropped{}, {} failed, {} pending",
                self.texts.received,
                self.texts.logged,
                dropped,
                if reasons.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", reasons.join(", "))
                },
                self.texts.failed,
                self.texts.pending
            )
        } else {
            String::new()
        }
    }
}

/// The coverage of the conversations that started in the last `period`.
pub async fn coverage(
    records: Records<'_>,
    period: Duration,
    dead_letters: usize,
) -> Result<Coverage> {
    let now = records.clock.now_ms();
    let since = now - period.as_millis() as i64;
    Ok(coverage_between(records, since, now, dead_letters).await?.0)
}

/// The coverage of the conversations that started within `[since_ms, until_ms]` (read from
/// the ledger's hourly index), with the rows it counted.
pub async fn coverage_between(
    records: Records<'_>,
    since_ms: i64,
    until_ms: i64,
    dead_letters: usize,
) -> Result<(Coverage, Vec<Row>)> {
    let Records { store, clock } = records;
    let rows = ledger::rows_between(store, since_ms, until_ms).await?;
    let undecided: Vec<String> = rows
        .iter()
        .filter(|r| r.decision.is_none())
        .map(|r| r.anchor.clone())
        .collect();
    let undecided: HashMap<String, Entry> = ledger::records_of(store, &undecided)
        .await?
        .into_iter()
        .map(|e| (e.conversation.clone(), e))
        .collect();
    let mut c = Coverage::of(&rows, &undecided, since_ms, clock.now_ms(), dead_letters);
    c.texts = TextCounts::of(&crate::texts::between(store, since_ms, until_ms + 1).await?);
    Ok((c, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(anchor: &str, decision: Option<&str>, reason: Option<&str>, source: &str) -> Entry {
        Entry {
            conversation: anchor.into(),
            decision: decision.and_then(Decision::parse),
            reason: reason.map(str::to_owned),
            source: serde_json::from_value(serde_json::json!(source)).ok(),
            opened_at: 0,
            due_at: Some(1_000),
            ..Entry::default()
        }
    }

    #[test]
    fn every_conversation_lands_in_one_bucket() {
        let hour = 3_600_000;
        let mut stuck = entry("stuck", None, None, "webhook");
        stuck.due_at = Some(0);
        let mut retrying = entry("retrying", None, None, "webhook");
        retrying.due_at = Some(0);
        retrying.last_attempt_at = Some(2 * hour - 1_000);
        let entries = vec![
            entry("a", Some("logged"), None, "webhook"),
            entry(
                "b",
                Some("recovered_by_reconciliation"),
                None,
                "reconciliation",
            ),
            entry("c", Some("dropped"), Some("family_ambiguous"), "webhook"),
            entry("d", Some("dropped"), Some("family_ambiguous"), "webhook"),
            entry("e", Some("skipped"), Some("call_log_disabled"), "webhook"),
            entry("f", Some("failed"), Some("lineleader_rejected"), "webhook"),
            entry("g", Some("needs_review"), Some("needs_review"), "webhook"),
            entry("h", None, None, "webhook"),
            stuck,
            retrying,
        ];
        let rows: Vec<Row> = entries.iter().map(Entry::row).collect();
        let undecided: HashMap<String, Entry> = entries
            .iter()
            .filter(|e| e.decision.is_none())
            .map(|e| (e.conversation.clone(), e.clone()))
            .collect();
        let c = Coverage::of(&rows, &undecided, 0, 2 * hour, 3);
        assert_eq!(c.calls, 10);
        assert_eq!((c.logged, c.recovered), (2, 1));
        assert_eq!(c.dropped.get("family_ambiguous"), Some(&2));
        assert_eq!(c.dropped.get("call_log_disabled"), Some(&1));
        assert_eq!((c.failed, c.needs_review), (1, 1));
        // "h" is due at 1 s (not pending past the grace), "retrying" ran a second ago.
        assert_eq!(c.pending, 1);
        assert_eq!(c.unaccounted, vec!["h".to_string(), "stuck".to_string()]);
        let json = serde_json::to_value(&c).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            vec![
                "calls",
                "dead_letters",
                "dropped",
                "failed",
                "logged",
                "needs_review",
                "pending",
                "recovered",
                "since",
                "texts"
            ]
        );
        assert!(c.summary().contains("2 unaccounted for"), "{}", c.summary());
    }
}
