//! Checks of `template.yaml` that the linters do not make (cfn-lint misses dangling refs in
//! some places; see `infra/lint-template.sh` for the linters themselves).
//!
//! `cargo test -p llbridge-tests --test contracts template::`

use std::collections::{BTreeMap, BTreeSet};

use llbridge_aws::deployment::MAX_RETRY_HORIZON;
use llbridge_usecases::config_store::CONFIG_KEY;
use llbridge_usecases::effect::Timing;
use llbridge_usecases::worker::RetryPolicy;
use serde_yaml_ng::value::TaggedValue;
use serde_yaml_ng::{Mapping, Value};

/// What each function's role may do.
mod iam;
use iam::{statements, strings};

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for key in path {
        cur = cur
            .get(*key)
            .unwrap_or_else(|| panic!("template has no {}", path.join(".")));
    }
    cur
}

fn map(v: &Value) -> &Mapping {
    v.as_mapping()
        .unwrap_or_else(|| panic!("expected a mapping, found {v:?}"))
}

fn resources(t: &Value) -> &Mapping {
    map(get(t, &["Resources"]))
}

fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    get(t, &["Resources", name])
}

fn resources_of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a str, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(ty))
        .filter_map(|(k, r)| Some((k.as_str()?, r)))
        .collect()
}

fn number(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .unwrap_or_else(|| panic!("expected a number, found {v:?}"))
}

/// `!Tag value` as (tag, value).
fn tagged(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => {
            let TaggedValue { tag, value } = t.as_ref();
            Some((tag.to_string().trim_start_matches('!').to_owned(), value))
        }
        _ => None,
    }
}

/// The logical id of `!GetAtt X.Arn` / `!GetAtt [X, Arn]` / `{"Fn::GetAtt": ...}`.
fn get_att_target(v: &Value) -> Option<(String, String)> {
    let (tag, inner) = match tagged(v) {
        Some((tag, inner)) => (tag, inner),
        None => {
            let m = v.as_mapping()?;
            let (k, inner) = m.iter().next()?;
            (k.as_str()?.to_owned(), inner)
        }
    };
    if tag != "GetAtt" && tag != "Fn::GetAtt" {
        return None;
    }
    match inner {
        Value::String(s) => {
            let (id, attr) = s.split_once('.')?;
            Some((id.to_owned(), attr.to_owned()))
        }
        Value::Sequence(seq) => Some((
            seq.first()?.as_str()?.to_owned(),
            seq.get(1)?.as_str()?.to_owned(),
        )),
        _ => None,
    }
}

fn ref_target(v: &Value) -> Option<String> {
    match tagged(v) {
        Some((tag, Value::String(s))) if tag == "Ref" => Some(s.clone()),
        _ => v.get("Ref").and_then(Value::as_str).map(str::to_owned),
    }
}

fn function_timeout(t: &Value, name: &str) -> i64 {
    resource(t, name)
        .get("Properties")
        .and_then(|p| p.get("Timeout"))
        .or_else(|| t.get("Globals")?.get("Function")?.get("Timeout"))
        .map(number)
        .unwrap_or(3)
}

/// The worker: the function with an SQS event. Returns (function, event properties).
fn sqs_consumer(t: &Value) -> (&str, &Value) {
    let mut found = Vec::new();
    for (name, f) in resources_of_type(t, "AWS::Serverless::Function") {
        let Some(events) = f.get("Properties").and_then(|p| p.get("Events")) else {
            continue;
        };
        for (_, e) in map(events) {
            if e.get("Type").and_then(Value::as_str) == Some("SQS") {
                found.push((name, get(e, &["Properties"])));
            }
        }
    }
    assert_eq!(found.len(), 1, "exactly one SQS-triggered function");
    found[0]
}

fn job_queue(t: &Value) -> (String, &Value) {
    let (_, event) = sqs_consumer(t);
    let (queue, attr) = get_att_target(get(event, &["Queue"])).expect("Queue: !GetAtt X.Arn");
    assert_eq!(attr, "Arn");
    let q = resource(t, &queue);
    (queue, q)
}

#[test]
fn the_job_queue_redrives_only_after_the_workers_own_retries() {
    let t = template();
    let (queue, q) = job_queue(&t);
    let redrive = get(q, &["Properties", "RedrivePolicy"]);
    let max = number(get(redrive, &["maxReceiveCount"]));
    // The worker gives a job up itself, with its reason, after the retry horizon: the queue's
    // own count must never cut that short, even for the longest horizon allowed.
    let horizon = get(&t, &["Parameters", "RetryHorizonSeconds"]);
    let longest = number(get(horizon, &["MaxValue"])) as u64;
    assert!(
        longest <= MAX_RETRY_HORIZON.as_secs(),
        "the worker refuses horizons above {MAX_RETRY_HORIZON:?}"
    );
    assert!(number(get(horizon, &["MinValue"])) >= 600);
    let deliveries = RetryPolicy {
        horizon: std::time::Duration::from_secs(longest),
        ..RetryPolicy::default()
    }
    .deliveries();
    assert!(
        max > i64::from(deliveries),
        "{queue}: maxReceiveCount {max} <= {deliveries} deliveries within {longest} s"
    );
    let (dlq, attr) =
        get_att_target(get(redrive, &["deadLetterTargetArn"])).expect("deadLetterTargetArn");
    assert_eq!(attr, "Arn");
    assert_ne!(dlq, queue);
    assert_eq!(
        get(resource(&t, &dlq), &["Type"]).as_str(),
        Some("AWS::SQS::Queue")
    );
}

#[test]
fn the_visibility_timeout_is_at_least_6_times_the_worker_timeout() {
    let t = template();
    let (worker, _) = sqs_consumer(&t);
    let (queue, q) = job_queue(&t);
    let visibility = number(get(q, &["Properties", "VisibilityTimeout"]));
    let timeout = function_timeout(&t, worker);
    assert!(
        visibility >= 6 * timeout,
        "{queue}: VisibilityTimeout {visibility} < 6 x {worker} Timeout {timeout}"
    );
}

#[test]
fn leases_outlast_the_worker_and_writes_fit_its_timeout() {
    let t = template();
    let (worker, _) = sqs_consumer(&t);
    let timeout = function_timeout(&t, worker) as u64;
    let timing = Timing::default();
    assert!(
        timing.lease.as_secs() > timeout,
        "a lease of {:?} must outlast the {timeout} s invocation holding it",
        timing.lease
    );
    assert!(
        timing.write_budget.as_secs() * 2 < timeout,
        "a write of {:?} must fit the {timeout} s invocation with room to spare",
        timing.write_budget
    );
}

#[test]
fn the_worker_gives_jobs_up_to_the_dead_letter_queue_itself() {
    let t = template();
    let (_, q) = job_queue(&t);
    let (dlq, _) = get_att_target(get(
        q,
        &["Properties", "RedrivePolicy", "deadLetterTargetArn"],
    ))
    .expect("a dead-letter queue");
    let env = map(get(
        resource(&t, "WorkerFunction"),
        &["Properties", "Environment", "Variables"],
    ));
    let var = |k: &str| env.get(k).unwrap_or_else(|| panic!("worker: no {k}"));
    assert_eq!(
        ref_target(var("LLBRIDGE_DLQ_URL")).as_deref(),
        Some(dlq.as_str())
    );
    assert_eq!(
        ref_target(var("LLBRIDGE_RETRY_HORIZON_SECS")).as_deref(),
        Some("RetryHorizonSeconds")
    );
    let sends_to_dlq = statements(&t).into_iter().any(|(owner, st)| {
        owner == "WorkerRole"
            && strings(get(st, &["Action"]))
                .iter()
                .any(|a| a.as_str() == Some("sqs:SendMessage"))
            && strings(get(st, &["Resource"]))
                .iter()
                .any(|r| get_att_target(r).is_some_and(|(id, _)| id == dlq))
    });
    assert!(sends_to_dlq, "the worker may send to {dlq}");
}

#[test]
fn the_worker_reports_batch_item_failures() {
    let t = template();
    let (worker, event) = sqs_consumer(&t);
    let types = get(event, &["FunctionResponseTypes"])
        .as_sequence()
        .expect("FunctionResponseTypes is a list");
    assert!(
        types
            .iter()
            .any(|v| v.as_str() == Some("ReportBatchItemFailures")),
        "{worker}: no ReportBatchItemFailures"
    );
    assert!(number(get(event, &["BatchSize"])) >= 1);
    assert!(event.get("MaximumBatchingWindowInSeconds").is_some());
}

#[test]
fn the_table_is_keyed_by_pk_with_ttl_and_point_in_time_recovery() {
    let t = template();
    let tables = resources_of_type(&t, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "one table (single-table design)");
    let p = get(tables[0].1, &["Properties"]);
    let ttl = get(p, &["TimeToLiveSpecification"]);
    assert_eq!(get(ttl, &["AttributeName"]).as_str(), Some("ttl"));
    assert_eq!(get(ttl, &["Enabled"]).as_bool(), Some(true));
    assert_eq!(get(p, &["BillingMode"]).as_str(), Some("PAY_PER_REQUEST"));
    let key = &get(p, &["KeySchema"])[0];
    assert_eq!(get(key, &["AttributeName"]).as_str(), Some("pk"));
    assert_eq!(get(key, &["KeyType"]).as_str(), Some("HASH"));
    let attr = &get(p, &["AttributeDefinitions"])[0];
    assert_eq!(get(attr, &["AttributeType"]).as_str(), Some("S"));
    assert_eq!(
        get(
            p,
            &[
                "PointInTimeRecoverySpecification",
                "PointInTimeRecoveryEnabled"
            ]
        )
        .as_bool(),
        Some(true)
    );
}

#[test]
fn the_functions_are_lean_arm64_rust_builds_with_their_environment() {
    let t = template();
    for (name, binary) in [
        ("IngestFunction", "ingest"),
        ("WorkerFunction", "worker"),
        ("ReconcilerFunction", "reconciler"),
        ("ConnectorFunction", "connector"),
        ("RouterFunction", "router"),
    ] {
        let f = resource(&t, name);
        let p = get(f, &["Properties"]);
        assert_eq!(get(p, &["Runtime"]).as_str(), Some("provided.al2023"));
        assert_eq!(get(p, &["Handler"]).as_str(), Some("bootstrap"));
        assert_eq!(get(p, &["CodeUri"]).as_str(), Some("."));
        assert_eq!(get(p, &["Architectures"])[0].as_str(), Some("arm64"));
        assert_eq!(number(get(p, &["MemorySize"])), 128);
        assert_eq!(
            get(f, &["Metadata", "BuildMethod"]).as_str(),
            Some("rust-cargolambda")
        );
        assert_eq!(
            get(f, &["Metadata", "BuildProperties", "Binary"]).as_str(),
            Some(binary)
        );
        let env = map(get(p, &["Environment", "Variables"]));
        for var in [
            "LLBRIDGE_TABLE",
            "LLBRIDGE_QUEUE_URL",
            "LLBRIDGE_LOG_DELAY_SECS",
            "RUST_LOG",
        ] {
            assert!(env.contains_key(var), "{name}: no {var}");
        }
        // Its log group has a retention.
        let group = ref_target(get(p, &["LoggingConfig", "LogGroup"])).expect("LogGroup: !Ref");
        assert!(
            number(get(
                resource(&t, &group),
                &["Properties", "RetentionInDays"]
            )) > 0
        );
    }
    let ingest_events = map(get(
        resource(&t, "IngestFunction"),
        &["Properties", "Events"],
    ));
    let http = ingest_events
        .values()
        .find(|e| e.get("Type").and_then(Value::as_str) == Some("HttpApi"))
        .expect("an HttpApi event");
    assert_eq!(
        get(http, &["Properties", "Path"]).as_str(),
        Some("/dialpad/events")
    );
    assert_eq!(get(http, &["Properties", "Method"]).as_str(), Some("POST"));
    // LeadSquared's URLs go to the connector function: the webhook's cold start and
    // concurrency do not depend on them.
    let connector_paths: BTreeSet<&str> = map(get(
        resource(&t, "ConnectorFunction"),
        &["Properties", "Events"],
    ))
    .values()
    .filter(|e| e.get("Type").and_then(Value::as_str) == Some("HttpApi"))
    .filter_map(|e| get(e, &["Properties", "Path"]).as_str())
    .collect();
    let router_events = map(get(
        resource(&t, "RouterFunction"),
        &["Properties", "Events"],
    ));
    let route = router_events.values().next().expect("the router's event");
    assert_eq!(
        get(route, &["Properties", "Path"]).as_str(),
        Some("/dialpad/route/{name}")
    );
    assert_eq!(
        connector_paths,
        BTreeSet::from([
            llbridge_crm_leadsquared::actions::CLICK_TO_CALL_PATH,
            llbridge_crm_leadsquared::actions::DISPOSITION_PATH
        ])
    );
}

#[test]
fn parameters_and_outputs_are_there() {
    let t = template();
    let delay = get(&t, &["Parameters", "LogDelaySeconds"]);
    assert_eq!(number(get(delay, &["Default"])), 180);
    assert_eq!(number(get(delay, &["MinValue"])), 0);
    assert_eq!(number(get(delay, &["MaxValue"])), 900);
    for p in [
        "ConfigSecretName",
        "LogLevel",
        "AlarmEmail",
        "RetryHorizonSeconds",
    ] {
        get(&t, &["Parameters", p]);
    }
    for o in ["WebhookUrl", "TableName", "QueueUrl", "DeadLetterQueueUrl"] {
        get(&t, &["Outputs", o, "Value"]);
    }
}

#[test]
fn alarms_watch_the_dead_letter_queue_and_the_worker() {
    let t = template();
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    let watches = |metric: &str, target: &str| {
        alarms.iter().any(|(_, a)| {
            let p = get(a, &["Properties"]);
            get(p, &["MetricName"]).as_str() == Some(metric)
                && get(p, &["Dimensions"])
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .any(|d| {
                        let v = get(d, &["Value"]);
                        ref_target(v).as_deref() == Some(target)
                            || get_att_target(v).is_some_and(|(id, _)| id == target)
                    })
        })
    };
    let (worker, _) = sqs_consumer(&t);
    let (queue, q) = job_queue(&t);
    let (dlq, _) = get_att_target(get(
        q,
        &["Properties", "RedrivePolicy", "deadLetterTargetArn"],
    ))
    .unwrap_or_else(|| panic!("{queue} has no DLQ"));
    assert!(
        watches("ApproximateNumberOfMessagesVisible", &dlq),
        "no DLQ depth alarm"
    );
    assert!(watches("Errors", worker), "no worker errors alarm");
    let subscription = resources_of_type(&t, "AWS::SNS::Subscription");
    assert!(
        subscription
            .iter()
            .any(|(_, s)| s.get("Condition").is_some()),
        "the e-mail subscription depends on AlarmEmail"
    );
}

#[test]
fn the_reconciler_runs_on_a_schedule() {
    let t = template();
    let f = resource(&t, "ReconcilerFunction");
    let events = map(get(f, &["Properties", "Events"]));
    let schedule = events
        .values()
        .find(|e| e.get("Type").and_then(Value::as_str) == Some("Schedule"))
        .expect("a Schedule event");
    let (tag, rate) = tagged(get(schedule, &["Properties", "Schedule"])).expect("!Sub");
    assert_eq!(tag, "Sub");
    assert_eq!(
        rate.as_str(),
        Some("rate(${ReconcileEveryMinutes} minutes)")
    );
    let every = get(&t, &["Parameters", "ReconcileEveryMinutes"]);
    assert!(
        number(get(every, &["MinValue"])) >= 2,
        "rate(1 minutes) is no valid expression"
    );
    assert_eq!(number(get(every, &["Default"])), 10);
}

/// The names `${X}` / `${X.Attr}` of a `!Sub` string refers to (not `${!Literal}`).
fn sub_names(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find('}') else { break };
        let name = &rest[..end];
        if !name.starts_with('!') {
            out.push(name.split('.').next().unwrap_or(name).to_owned());
        }
        rest = &rest[end + 1..];
    }
    out
}

/// Every name referenced by Ref, GetAtt, Sub and Condition/If, with its kind.
fn references(v: &Value, out: &mut Vec<(&'static str, String)>) {
    if let Some((tag, inner)) = tagged(v) {
        match tag.as_str() {
            "Ref" => {
                if let Some(s) = inner.as_str() {
                    out.push(("Ref", s.to_owned()));
                }
            }
            "GetAtt" => {
                if let Some((id, _)) = get_att_target(v) {
                    out.push(("GetAtt", id));
                }
            }
            "Sub" => match inner {
                Value::String(s) => out.extend(sub_names(s).into_iter().map(|n| ("Sub", n))),
                Value::Sequence(seq) => {
                    let locals: BTreeSet<String> = seq
                        .get(1)
                        .and_then(Value::as_mapping)
                        .map(|m| {
                            m.keys()
                                .filter_map(|k| k.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    if let Some(s) = seq.first().and_then(Value::as_str) {
                        out.extend(
                            sub_names(s)
                                .into_iter()
                                .filter(|n| !locals.contains(n))
                                .map(|n| ("Sub", n)),
                        );
                    }
                }
                _ => {}
            },
            "If" => {
                if let Some(c) = inner.get(0).and_then(Value::as_str) {
                    out.push(("Condition", c.to_owned()));
                }
            }
            "Condition" => {
                if let Some(c) = inner.as_str() {
                    out.push(("Condition", c.to_owned()));
                }
            }
            _ => {}
        }
        references(inner, out);
        return;
    }
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                match k.as_str() {
                    Some("Ref") => {
                        if let Some(s) = child.as_str() {
                            out.push(("Ref", s.to_owned()));
                        }
                    }
                    Some("Fn::GetAtt") => {
                        let mut single = Mapping::new();
                        single.insert(k.clone(), child.clone());
                        if let Some((id, _)) = get_att_target(&Value::Mapping(single)) {
                            out.push(("GetAtt", id));
                        }
                    }
                    Some("Fn::Sub") => {
                        if let Some(s) = child.as_str() {
                            out.extend(sub_names(s).into_iter().map(|n| ("Sub", n)));
                        }
                    }
                    _ => {}
                }
                references(child, out);
            }
        }
        Value::Sequence(s) => s.iter().for_each(|c| references(c, out)),
        _ => {}
    }
}

#[test]
fn every_reference_names_an_existing_resource_or_parameter() {
    let t = template();
    let names = |section: &str| -> BTreeSet<String> {
        t.get(section)
            .and_then(Value::as_mapping)
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let resources = names("Resources");
    let parameters = names("Parameters");
    let conditions = names("Conditions");
    let mut found = Vec::new();
    for section in ["Globals", "Resources", "Outputs", "Conditions"] {
        if let Some(s) = t.get(section) {
            references(s, &mut found);
        }
    }
    // Resource-level `Condition: Name`.
    for r in resources_of_type_any(&t) {
        if let Some(c) = r.get("Condition").and_then(Value::as_str) {
            found.push(("Condition", c.to_owned()));
        }
    }
    assert!(found.len() > 20, "the walk found only {found:?}");
    let mut dangling = BTreeMap::new();
    for (kind, name) in found {
        let ok = match kind {
            "Condition" => conditions.contains(&name),
            "GetAtt" => resources.contains(&name),
            _ => {
                name.starts_with("AWS::") || resources.contains(&name) || parameters.contains(&name)
            }
        };
        if !ok {
            dangling.insert(name, kind);
        }
    }
    assert!(dangling.is_empty(), "dangling references: {dangling:?}");
}

fn resources_of_type_any(t: &Value) -> Vec<&Value> {
    resources(t).values().collect()
}

#[test]
fn the_reference_walk_catches_a_dangling_name() {
    let text = "Resources:\n  A:\n    Type: X\n    Properties:\n      B: !Sub arn:${Missing}:${AWS::Region}\n      C: !GetAtt Gone.Arn\n      D: {Ref: Nope}\n";
    let t: Value = serde_yaml_ng::from_str(text).expect("yaml");
    let mut found = Vec::new();
    references(&t, &mut found);
    let names: BTreeSet<String> = found.into_iter().map(|(_, n)| n).collect();
    let want: BTreeSet<String> = ["AWS::Region", "Gone", "Missing", "Nope"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, want);
}

/// The values a metric-filter pattern compares `$.FIELD` with (`$.decision = "logged"`).
fn compared(pattern: &str, field: &str) -> Vec<String> {
    let needle = format!("$.{field} = ");
    pattern
        .match_indices(&needle)
        .map(|(i, _)| {
            pattern[i + needle.len()..]
                .trim_start_matches('"')
                .split(['"', ' ', '}'])
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn metric_filters_count_decisions_the_code_logs() {
    use llbridge_usecases::ingest::decision;
    use llbridge_usecases::jobs::JobKind;
    use llbridge_usecases::worker::Decision;
    let t = template();
    let filters = resources_of_type(&t, "AWS::Logs::MetricFilter");
    assert!(filters.len() >= 8, "{} metric filters", filters.len());
    let worker_decisions: BTreeSet<&str> = Decision::ALL.iter().map(|d| d.as_str()).collect();
    let ingest_decisions: BTreeSet<&str> = decision::ALL.into_iter().collect();
    let reconciler_decisions: BTreeSet<&str> = llbridge_usecases::reconcile::DECISIONS
        .into_iter()
        .collect();
    let mut jobs: BTreeSet<&str> = JobKind::ALL.iter().map(|j| j.as_str()).collect();
    jobs.insert("reconcile");
    for (name, f) in &filters {
        let p = get(f, &["Properties"]);
        let pattern = get(p, &["FilterPattern"])
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no pattern"));
        let group = ref_target(get(p, &["LogGroupName"])).unwrap_or_default();
        let known = match group.as_str() {
            "IngestLogGroup" => &ingest_decisions,
            "WorkerLogGroup" => &worker_decisions,
            "ReconcilerLogGroup" => &reconciler_decisions,
            other => panic!("{name} reads {other}"),
        };
        let decisions = compared(pattern, "decision");
        assert!(!decisions.is_empty(), "{name}: {pattern}");
        for d in decisions {
            assert!(
                known.contains(d.as_str()),
                "{name}: no {group} line has decision {d}"
            );
        }
        for j in compared(pattern, "job") {
            assert!(jobs.contains(j.as_str()), "{name}: no job {j}");
        }
    }
}

/// The custom metrics the metric filters produce.
fn produced_metrics(t: &Value) -> BTreeSet<String> {
    resources_of_type(t, "AWS::Logs::MetricFilter")
        .iter()
        .flat_map(|(_, f)| {
            get(f, &["Properties", "MetricTransformations"])
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|m| get(m, &["MetricName"]).as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_alarm_says_what_to_do_notifies_both_ways_and_watches_a_metric_that_exists() {
    let t = template();
    let produced = produced_metrics(&t);
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 11, "{} alarms", alarms.len());
    let mut watched = BTreeSet::new();
    for (name, a) in &alarms {
        let p = get(a, &["Properties"]);
        assert!(
            get(p, &["AlarmDescription"])
                .as_str()
                .is_some_and(|d| d.len() > 40),
            "{name}: no description of what to do"
        );
        for key in ["AlarmActions", "OKActions"] {
            assert!(
                get(p, &[key]).as_sequence().is_some_and(|s| !s.is_empty()),
                "{name}: no {key}"
            );
        }
        let metric = get(p, &["MetricName"])
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if tagged(get(p, &["Namespace"])).is_some() {
            // The stack's own namespace: a metric filter must produce it.
            assert!(
                produced.contains(&metric),
                "{name}: nothing produces {metric}"
            );
        }
        watched.insert(metric);
    }
    for metric in [
        "5xx",
        "WebhookUnauthorized",
        "ApproximateAgeOfOldestMessage",
        "JobFailures",
        "CallsDropped",
        "CallsRecovered",
        "ApproximateNumberOfMessagesVisible",
        "Throttles",
    ] {
        assert!(watched.contains(metric), "no alarm on {metric}");
    }
}

#[test]
fn the_dashboard_shows_the_funnel_and_the_failures_from_metrics_that_exist() {
    let t = template();
    let produced = produced_metrics(&t);
    let (_, dashboard) = resources_of_type(&t, "AWS::CloudWatch::Dashboard")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no dashboard"));
    let body = get(dashboard, &["Properties", "DashboardBody"]);
    let (_, text) = tagged(body).unwrap_or_else(|| panic!("the body is a !Sub"));
    let text = text.as_str().unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}"));
    let mut shown = BTreeSet::new();
    for w in json["widgets"].as_array().into_iter().flatten() {
        for m in w["properties"]["metrics"].as_array().into_iter().flatten() {
            let ns = m[0].as_str().unwrap_or_default();
            let name = m[1].as_str().unwrap_or_default().to_owned();
            if ns.starts_with("llbridge/") {
                assert!(
                    produced.contains(&name) || llbridge_usecases::telemetry::is_metric(&name),
                    "nothing produces {name}"
                );
            }
            shown.insert(name);
        }
    }
    for funnel in [
        "WebhookAccepted",
        "ScreenPops",
        "CallsLogged",
        "CallsDropped",
        "JobFailures",
        llbridge_usecases::telemetry::RING_TO_POP_MS,
    ] {
        assert!(shown.contains(funnel), "the dashboard lacks {funnel}");
    }
}

#[test]
fn logs_and_queues_outlive_the_stack_and_the_outputs_name_the_log_groups() {
    let t = template();
    for ty in ["AWS::Logs::LogGroup", "AWS::SQS::Queue"] {
        for (name, r) in resources_of_type(&t, ty) {
            assert_eq!(
                r.get("DeletionPolicy").and_then(|v| v.as_str()),
                Some("Retain"),
                "{name}"
            );
        }
    }
    let outputs = map(get(&t, &["Outputs"]));
    for group in [
        "IngestLogGroup",
        "WorkerLogGroup",
        "ReconcilerLogGroup",
        "ConnectorLogGroup",
        "RouterLogGroup",
    ] {
        assert!(
            outputs
                .values()
                .any(|o| ref_target(get(o, &["Value"])).as_deref() == Some(group)),
            "no output names {group}"
        );
    }
}
