//! The metrics the functions emit, checked against CloudWatch's Embedded Metric Format
//! specification, after a few real calls through the local host: each document is valid EMF,
//! and the metrics named are the code's (`telemetry::is_metric`).

use super::BACKEND;
use chrono::{Duration as Minutes, Utc};
use llbridge_tests::scenario::{data, family, Scenario};
use llbridge_usecases::telemetry;
use serde_json::{json, Value};

/// The units CloudWatch accepts.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The problems of one document under the specification; none when it is valid EMF.
fn emf_problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(aws) = doc.get("_aws").and_then(Value::as_object) else {
        return vec!["no _aws object".into()];
    };
    if aws.get("Timestamp").and_then(Value::as_u64).is_none() {
        problems.push("_aws.Timestamp is not epoch milliseconds".into());
    }
    let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
        return vec!["no _aws.CloudWatchMetrics array".into()];
    };
    for d in directives {
        let ns = d["Namespace"].as_str().unwrap_or_default();
        if ns.is_empty() || ns.len() > 1024 {
            problems.push(format!("namespace {ns:?}"));
        }
        for set in d["Dimensions"].as_array().into_iter().flatten() {
            let Some(set) = set.as_array() else {
                problems.push("a dimension set is not an array".into());
                continue;
            };
            if set.len() > 30 {
                problems.push("more than 30 dimensions in a set".into());
            }
            for name in set {
                let name = name.as_str().unwrap_or_default();
                match doc.get(name).and_then(Value::as_str) {
                    Some(v) if !v.is_empty() && v.len() <= 1024 => {}
                    v => problems.push(format!("dimension {name} has the value {v:?}")),
                }
            }
        }
        let metrics = d["Metrics"].as_array().cloned().unwrap_or_default();
        if metrics.is_empty() || metrics.len() > 100 {
            problems.push(format!("{} metrics in a directive", metrics.len()));
        }
        for m in &metrics {
            let name = m["Name"].as_str().unwrap_or_default();
            if let Some(unit) = m.get("Unit") {
                if !unit.as_str().is_some_and(|u| UNITS.contains(&u)) {
                    problems.push(format!("{name}: unit {unit}"));
                }
            }
            let ok = match doc.get(name) {
                Some(Value::Number(_)) => true,
                Some(Value::Array(values)) => {
                    !values.is_empty() && values.len() <= 100 && values.iter().all(Value::is_number)
                }
                _ => false,
            };
            if !ok {
                problems.push(format!("metric {name} has no numeric value"));
            }
        }
    }
    problems
}

#[tokio::test]
async fn the_metrics_are_valid_emf_and_named_as_the_code_names_them() {
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace("llbridge/test")
        .init()
        .unwrap_or_else(|e| panic!("the recorder: {e}"));
    telemetry::describe();
    // The latency budgets start afresh, as after a flush: the other suites of this binary
    // spent them before the recorder was there.
    telemetry::flushed();

    // A known caller, popped and logged; a new caller, who becomes a family.
    let now = Utc::now();
    let s = Scenario::start(
        BACKEND,
        json!({"enable_task_queue": false}),
        Some(data(
            now,
            vec![family(
                1003,
                "(650) 555-0142",
                101,
                1,
                now - Minutes::days(3),
            )],
        )),
    )
    .await;
    let known = s.live_call(1, "+16505550142");
    s.play(&[
        known.agent("ringing", 200),
        known.agent("connected", 5_100),
        known.cc_hangup(295_200),
    ])
    .await;
    let new = s.call(2, "+16505550177");
    s.play(&[new.cc_hangup(295_200)]).await;
    s.settle().await;
    s.stop().await;

    let mut out = Vec::new();
    collector
        .flush(&mut out)
        .unwrap_or_else(|e| panic!("flush: {e}"));
    let docs: Vec<Value> = String::from_utf8_lossy(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!docs.is_empty(), "no metrics written");
    let mut named = std::collections::BTreeSet::new();
    for doc in &docs {
        let problems = emf_problems(doc);
        assert!(problems.is_empty(), "{problems:?} in {doc}");
        for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            named.insert(m["Name"].as_str().unwrap_or_default().to_owned());
        }
    }
    for name in &named {
        assert!(telemetry::is_metric(name), "{name} is not the code's");
    }
    for expected in [
        telemetry::WEBHOOK_EVENTS,
        telemetry::JOBS,
        telemetry::EFFECTS,
        telemetry::FAMILIES_CREATED,
        telemetry::REQUEST_MS,
        telemetry::RING_TO_POP_MS,
    ] {
        assert!(named.contains(expected), "{expected} missing: {named:?}");
    }
    let latency = docs
        .iter()
        .find(|d| {
            d["service"] == "lineleader"
                && d["endpoint"]
                    .as_str()
                    .is_some_and(|e| e.contains("/families/search"))
        })
        .unwrap_or_else(|| panic!("no latency of the family search: {docs:#?}"));
    assert_eq!(latency["outcome"], "2xx");
    assert_eq!(
        latency["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
        "Milliseconds"
    );
}
