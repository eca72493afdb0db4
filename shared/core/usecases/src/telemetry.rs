//! The product's metrics, through the `metrics` facade: the functions emit them in CloudWatch's
//! Embedded Metric Format (namespace `llbridge/<stack>`), each label a dimension; without a
//! recorder (the local host) they cost nothing. Names and labels are the dashboard's.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Webhook events by decision (`accepted`, `ignored`, `rejected`, `error`) and reason.
pub const WEBHOOK_EVENTS: &str = "webhook_events";
/// Jobs by kind, decision and reason: logs written, drops by reason, pops by outcome,
/// recoveries, failures.
pub const JOBS: &str = "jobs";
/// Exactly-once effects by how they ended (`written`, `found_on_lookup`, `possible_duplicate`,
/// `needs_review`, `skipped`, `rejected`, `already_done`).
pub const EFFECTS: &str = "effects";
/// Writes whose answer was lost (a timeout or a 5xx after sending).
pub const UNKNOWN_OUTCOMES: &str = "unknown_outcomes";
/// Families created for new callers.
pub const FAMILIES_CREATED: &str = "families_created";
/// CRM and Dialpad requests, by service, endpoint and outcome (status class, `timeout`,
/// `failed`): errors by endpoint.
pub const REQUESTS: &str = "requests";
/// Their latency in milliseconds, by the same dimensions.
pub const REQUEST_MS: &str = "request_ms";
/// From the webhook receiving a ring to the screen pop being sent, in milliseconds.
pub const RING_TO_POP_MS: &str = "ring_to_pop_ms";
/// Legs the reconciler listed, by what it did with them (`fed`, `accounted`, `alive`,
/// `too_recent`, `out_of_scope`).
pub const RECONCILED_LEGS: &str = "reconciled_legs";
/// Reconciliation passes that stopped with calls left to look at, by why (`budget`,
/// `too_many_pages`, `list_failed`).
pub const RECONCILE_TRUNCATED: &str = "reconcile_truncated";

/// The counters.
pub const COUNTERS: [&str; 8] = [
    WEBHOOK_EVENTS,
    JOBS,
    EFFECTS,
    UNKNOWN_OUTCOMES,
    FAMILIES_CREATED,
    REQUESTS,
    RECONCILED_LEGS,
    RECONCILE_TRUNCATED,
];
/// The latencies, in milliseconds.
pub const LATENCIES: [&str; 3] = [REQUEST_MS, RING_TO_POP_MS, ROUTE_MS];

/// How long a call router's answer took, from receipt (ms).
pub const ROUTE_MS: &str = "route_ms";

/// Whether the code emits a metric of this name (the template's names are compared with it).
pub fn is_metric(name: &str) -> bool {
    COUNTERS.contains(&name) || LATENCIES.contains(&name)
}

/// Latency values kept per label set between two flushes. The EMF collector holds at most 100
/// and blocks the recording thread beyond, so later values of an invocation are left out (the
/// `requests` counter still counts every request).
const MAX_VALUES: usize = 90;

static VALUES: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

/// Whether one more value of the label set `key` may be recorded before the next flush.
fn admit(key: String) -> bool {
    let Ok(mut values) = VALUES.lock() else {
        return false;
    };
    let n = values.entry(key).or_insert(0);
    *n += 1;
    *n <= MAX_VALUES
}

/// The metrics were flushed: latencies may be recorded afresh.
pub fn flushed() {
    if let Ok(mut values) = VALUES.lock() {
        values.clear();
    }
}

/// Units for the metrics (counts, and milliseconds for the latencies); once, after the
/// recorder is installed.
pub fn describe() {
    for counter in COUNTERS {
        metrics::describe_counter!(counter, metrics::Unit::Count, "");
    }
    for latency in LATENCIES {
        metrics::describe_histogram!(latency, metrics::Unit::Milliseconds, "");
    }
}

/// A dimension's value: CloudWatch takes no empty one.
fn dimension(value: &str) -> String {
    if value.is_empty() {
        "none".to_owned()
    } else {
        value.to_owned()
    }
}

pub fn webhook_event(decision: &'static str, reason: &str) {
    metrics::counter!(WEBHOOK_EVENTS, "decision" => decision, "reason" => dimension(reason))
        .increment(1);
}

pub fn job(job: &'static str, decision: &'static str, reason: &'static str) {
    metrics::counter!(JOBS, "job" => job, "decision" => decision, "reason" => dimension(reason))
        .increment(1);
}

pub fn effect(how: &'static str) {
    metrics::counter!(EFFECTS, "how" => how).increment(1);
}

pub fn unknown_outcome() {
    metrics::counter!(UNKNOWN_OUTCOMES).increment(1);
}

pub fn family_created() {
    metrics::counter!(FAMILIES_CREATED).increment(1);
}

/// One request to `service` (`lineleader`, `dialpad`, `leadsquared`): its endpoint (a path
/// with ids replaced), how it ended (`2xx`, `4xx`, `5xx`, `timeout`, `no_connection`) and how
/// long it took.
pub fn request(service: &'static str, endpoint: &str, outcome: &str, took: Duration) {
    let labels = [
        ("service", service.to_owned()),
        ("endpoint", dimension(endpoint)),
        ("outcome", dimension(outcome)),
    ];
    metrics::counter!(REQUESTS, &labels).increment(1);
    if admit(format!("{REQUEST_MS} {service} {endpoint} {outcome}")) {
        metrics::histogram!(REQUEST_MS, &labels).record(took.as_secs_f64() * 1000.0);
    }
}

/// The status class of an HTTP status: `2xx`, `4xx`, ...
pub fn status_class(status: u16) -> String {
    format!("{}xx", status / 100)
}

/// What a reconciliation pass did with the legs it listed: how many it `fed`, found
/// `accounted`, `alive`, `too_recent` or `out_of_scope`.
pub fn reconcile_legs(counts: &[(&'static str, usize)]) {
    for (what, n) in counts {
        metrics::counter!(RECONCILED_LEGS, "outcome" => *what).increment(*n as u64);
    }
}

/// A reconciliation pass stopped with calls left to look at.
pub fn reconcile_truncated(why: &str) {
    metrics::counter!(RECONCILE_TRUNCATED, "reason" => dimension(why)).increment(1);
}

pub fn route_ms(ms: u64) {
    if admit(ROUTE_MS.to_owned()) {
        metrics::histogram!(ROUTE_MS).record(ms as f64);
    }
}

pub fn ring_to_pop(ms: i64) {
    if admit(RING_TO_POP_MS.to_owned()) {
        metrics::histogram!(RING_TO_POP_MS).record(ms.max(0) as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_values_stop_short_of_the_collectors_limit_until_the_next_flush() {
        let key = || "test-key".to_owned();
        let admitted = (0..150).filter(|_| admit(key())).count();
        assert_eq!(admitted, MAX_VALUES);
        flushed();
        assert!(admit(key()));
    }
}
