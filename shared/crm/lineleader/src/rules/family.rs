//! Family matching by the caller's number (`docs/rules.md`, "Family matching").
//!
//! The search results of `GET /families/search` are first re-checked: a family is a candidate
//! only when one of its phones, normalized, is the caller's number (the search may match loosely
//! or on another field); the rest are reported in [`FamilyMatch::rejected_ids`]. Duplicate
//! results (same id, e.g. across pages) count once, the first copy with the caller's number
//! being kept. Then:
//!
//! * one candidate → it ([`FamilyRule::Single`]);
//! * none → [`FamilyDecision::NoMatch`]: the caller creates one ([`new_family`]);
//! * several, narrowed step by step; the first step that leaves exactly one decides:
//!   1. [`FamilyRule::CenterFilter`]: keep the families in the matched center; when none is (or
//!      no center matched), keep them all;
//!   2. [`FamilyRule::RecencyWindow`]: keep the families created within 10 minutes (inclusive)
//!      of the newest creation date;
//!   3. [`FamilyRule::StatusPriority`]: keep the families whose status ranks highest;
//! * still several → [`FamilyDecision::Ambiguous`]: the event is dropped (log code
//!   [`FamilyDecision::code`] `"family_ambiguous"`), neither pop nor log.
//!
//! Choices:
//!
//! * **Families without a creation date** cannot be shown to be within the window: when at
//!   least one candidate has a date, the undated ones are dropped at step 2; when none has one,
//!   step 2 keeps them all. A creation date later than `now` (clock skew, bad data) counts as
//!   `now`, so that it cannot push every other family out of the window.
//! * **Status priority**: the ordered priority list is the Status Prioritization names resolved
//!   against the `/statuses` list (names not found there are ignored, and reported in
//!   [`FamilyMatch::unresolved_priority_names`]); only when no name is configured, the legacy
//!   Family Status Priority IDs. A family ranks at the position of its status in that list (by
//!   status id; a family read without a status id but with a status name ranks by name);
//!   families whose status is not in the list rank after all that are, and tie with each other.
//!   With an empty list the step keeps everyone.
//! * The outcome does not depend on the order of the search results; ambiguous candidates are
//!   listed in id order.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::rules::records::{Family, Labeled, NewFamily};
use llbridge_domain::labels::{find_by_label, same_label};
use llbridge_domain::lenient::id_order;
use llbridge_domain::phone::Phone;

/// The recency window of step 2.
pub const RECENCY_WINDOW_MINUTES: i64 = 10;

/// First name of an auto-created family's guardian.
pub const PLACEHOLDER_FIRST_NAME: &str = "Unknown";
/// Last name of an auto-created family's guardian, followed by the number's last four digits.
pub const PLACEHOLDER_LAST_NAME_PREFIX: &str = "Caller";

/// The rule that decided a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyRule {
    /// Exactly one family has the caller's number.
    Single,
    /// Exactly one of them is in the matched center.
    CenterFilter,
    /// Exactly one of them was created within 10 minutes of the newest.
    RecencyWindow,
    /// Exactly one of them has the highest-priority status.
    StatusPriority,
}

impl FamilyRule {
    /// `single`, `center_filter`, `recency_window` or `status_priority`.
    pub fn code(&self) -> &'static str {
        match self {
            FamilyRule::Single => "single",
            FamilyRule::CenterFilter => "center_filter",
            FamilyRule::RecencyWindow => "recency_window",
            FamilyRule::StatusPriority => "status_priority",
        }
    }
}

/// What to do with the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FamilyDecision {
    /// Use this family.
    Matched { family_id: String, rule: FamilyRule },
    /// No family has the caller's number: create one.
    NoMatch,
    /// Several families remain after every rule: drop the event.
    Ambiguous { candidate_ids: Vec<String> },
}

impl FamilyDecision {
    /// `family_matched`, `family_no_match` or `family_ambiguous`.
    pub fn code(&self) -> &'static str {
        match self {
            FamilyDecision::Matched { .. } => "family_matched",
            FamilyDecision::NoMatch => "family_no_match",
            FamilyDecision::Ambiguous { .. } => "family_ambiguous",
        }
    }
}

/// The decision and what the logs should say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyMatch {
    pub decision: FamilyDecision,
    /// Search results dropped because none of their phones is the caller's number (id order).
    pub rejected_ids: Vec<String>,
    /// Status Prioritization names not found in the statuses list.
    pub unresolved_priority_names: Vec<String>,
}

/// What the matching needs besides the search results.
#[derive(Debug, Clone, Copy)]
pub struct FamilyContext<'a> {
    /// The matched center's id, if a center matched.
    pub center_id: Option<&'a str>,
    /// `/statuses`.
    pub statuses: &'a [Labeled],
    /// Status Prioritization, most prioritary first.
    pub status_prioritization: &'a [String],
    /// Family Status Priority IDs (legacy), used only when `status_prioritization` is empty.
    pub family_status_priority_ids: &'a [String],
    pub now: DateTime<Utc>,
}

/// One entry of the priority list: a status id (resolved from a name, or legacy), with the name
/// it was resolved from.
struct Priority<'a> {
    id: &'a str,
    name: Option<&'a str>,
}

fn priorities<'a>(ctx: &FamilyContext<'a>) -> (Vec<Priority<'a>>, Vec<String>) {
    let names: Vec<&String> = ctx
        .status_prioritization
        .iter()
        .filter(|n| !n.trim().is_empty())
        .collect();
    if names.is_empty() {
        let ids = ctx
            .family_status_priority_ids
            .iter()
            .map(|id| Priority {
                id: id.trim(),
                name: None,
            })
            .collect();
        return (ids, Vec::new());
    }
    let mut list = Vec::new();
    let mut unresolved = Vec::new();
    for name in names {
        match find_by_label(ctx.statuses, name) {
            Some(s) => list.push(Priority {
                id: s.id.as_str(),
                name: Some(name.as_str()),
            }),
            None => unresolved.push(name.clone()),
        }
    }
    (list, unresolved)
}

/// The rank of a family's status: its position in the list, or the list's length when absent.
fn rank(family: &Family, list: &[Priority<'_>]) -> usize {
    list.iter()
        .position(|p| match family.status_id.as_deref() {
            Some(status_id) => status_id.trim() == p.id,
            None => match (family.status_name.as_deref(), p.name) {
                (Some(status_name), Some(name)) => same_label(status_name, name),
                _ => false,
            },
        })
        .unwrap_or(list.len())
}

/// True when one of the family's phones is the caller's number.
pub fn has_number(family: &Family, caller: &Phone) -> bool {
    family
        .phones
        .iter()
        .filter_map(|p| Phone::parse(p))
        .any(|p| p == *caller)
}

/// Decides which family a caller is (see the module documentation).
pub fn match_family(caller: &Phone, results: &[Family], ctx: &FamilyContext<'_>) -> FamilyMatch {
    // Deduplicate by id; a copy with the caller's number is preferred to one without.
    let mut by_id: BTreeMap<&str, &Family> = BTreeMap::new();
    for f in results {
        match by_id.get(f.id.as_str()) {
            Some(kept) if has_number(kept, caller) || !has_number(f, caller) => {}
            _ => {
                by_id.insert(f.id.as_str(), f);
            }
        }
    }
    let mut rejected_ids: Vec<String> = Vec::new();
    let mut candidates: Vec<&Family> = Vec::new();
    for f in by_id.values() {
        if has_number(f, caller) {
            candidates.push(f);
        } else {
            rejected_ids.push(f.id.clone());
        }
    }
    candidates.sort_by(|a, b| id_order(&a.id, &b.id));
    rejected_ids.sort_by(|a, b| id_order(a, b));
    let (list, unresolved_priority_names) = priorities(ctx);
    let decision = decide(candidates, ctx, &list);
    FamilyMatch {
        decision,
        rejected_ids,
        unresolved_priority_names,
    }
}

fn decide(
    candidates: Vec<&Family>,
    ctx: &FamilyContext<'_>,
    list: &[Priority<'_>],
) -> FamilyDecision {
    let matched = |f: &Family, rule| FamilyDecision::Matched {
        family_id: f.id.clone(),
        rule,
    };
    let mut left = match candidates.as_slice() {
        [] => return FamilyDecision::NoMatch,
        [only] => return matched(only, FamilyRule::Single),
        _ => candidates,
    };

    // 1. The matched center, when any candidate is in it.
    if let Some(center) = ctx.center_id.map(str::trim) {
        let in_center: Vec<&Family> = left
            .iter()
            .copied()
            .filter(|f| f.center_id.as_deref().map(str::trim) == Some(center))
            .collect();
        if !in_center.is_empty() {
            left = in_center;
        }
    }
    if let [only] = left.as_slice() {
        return matched(only, FamilyRule::CenterFilter);
    }

    // 2. Created within the window of the newest.
    let created = |f: &Family| f.created.map(|c| c.min(ctx.now));
    if let Some(newest) = left.iter().filter_map(|f| created(f)).max() {
        let since = newest - Duration::minutes(RECENCY_WINDOW_MINUTES);
        left.retain(|f| created(f).is_some_and(|c| c >= since));
    }
    if let [only] = left.as_slice() {
        return matched(only, FamilyRule::RecencyWindow);
    }

    // 3. The highest-priority status.
    if let Some(best) = left.iter().map(|f| rank(f, list)).min() {
        left.retain(|f| rank(f, list) == best);
    }
    if let [only] = left.as_slice() {
        return matched(only, FamilyRule::StatusPriority);
    }

    FamilyDecision::Ambiguous {
        candidate_ids: left.iter().map(|f| f.id.clone()).collect(),
    }
}

/// The family to create for an unknown caller. The primary guardian gets a placeholder name
/// that staff will recognise and replace: first name `"Unknown"`, last name `"Caller 9602"`
/// (the number's last four digits, so that several new callers can be told apart in lists);
/// the phone is the caller's ten digits NPANXXXXXX for NANP numbers, else E.164.
pub fn new_family(
    caller: &Phone,
    center_id: &str,
    source_type_id: &str,
    inquiry_type_id: &str,
) -> NewFamily {
    let digits = caller.ten_digits();
    let last_four = &digits[digits.len().saturating_sub(4)..];
    NewFamily {
        center_id: center_id.to_owned(),
        source_type_id: source_type_id.to_owned(),
        inquiry_type_id: inquiry_type_id.to_owned(),
        first_name: PLACEHOLDER_FIRST_NAME.to_owned(),
        last_name: format!("{PLACEHOLDER_LAST_NAME_PREFIX} {last_four}"),
        phone: if caller.is_nanp() {
            digits
        } else {
            caller.e164().to_owned()
        },
    }
}

#[cfg(test)]
mod tests;
