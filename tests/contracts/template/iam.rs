use super::*;

/// The DynamoDB statements of a role: the leading keys each may touch, by its condition
/// operator (`StringEquals`, `StringLike`), with its actions.
fn table_grants(t: &Value, role: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
    statements(t)
        .into_iter()
        .filter(|(owner, st)| {
            owner == role
                && st.get("Effect").and_then(Value::as_str) == Some("Allow")
                && strings(get(st, &["Action"]))
                    .iter()
                    .any(|a| a.as_str().is_some_and(|a| a.starts_with("dynamodb:")))
        })
        .map(|(_, st)| {
            let actions = strings(get(st, &["Action"]))
                .into_iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            let condition = st.get("Condition").and_then(Value::as_mapping);
            let (op, keys) = condition
                .and_then(|c| c.iter().next())
                .map(|(op, v)| {
                    let keys = strings(get(v, &["dynamodb:LeadingKeys"]))
                        .into_iter()
                        .filter_map(|k| k.as_str().map(str::to_owned))
                        .collect();
                    (op.as_str().unwrap_or_default().to_owned(), keys)
                })
                .unwrap_or_default();
            (op, keys, actions)
        })
        .collect()
}

#[test]
fn the_ingest_may_read_the_config_and_record_call_legs_only() {
    let t = template();
    let grants = table_grants(&t, "IngestRole");
    assert_eq!(
        grants,
        vec![
            (
                "ForAllValues:StringEquals".to_owned(),
                vec![CONFIG_KEY.to_owned()],
                vec!["dynamodb:GetItem".to_owned()]
            ),
            (
                "ForAllValues:StringLike".to_owned(),
                vec!["leg#*".to_owned()],
                vec!["dynamodb:GetItem".to_owned(), "dynamodb:PutItem".to_owned()]
            ),
        ],
        "no token, no ledger, no claims for the webhook"
    );
    assert_eq!(
        llbridge_usecases::keys::leg("1"),
        "leg#1",
        "the key the grant names"
    );
}

#[test]
fn the_connector_may_read_the_config_and_write_call_legs_and_clicks_only() {
    let t = template();
    let grants = table_grants(&t, "ConnectorRole");
    assert_eq!(
        grants,
        vec![
            (
                "ForAllValues:StringEquals".to_owned(),
                vec![CONFIG_KEY.to_owned()],
                vec!["dynamodb:GetItem".to_owned()]
            ),
            (
                "ForAllValues:StringLike".to_owned(),
                vec!["leg#*".to_owned(), "click#*".to_owned()],
                vec!["dynamodb:GetItem".to_owned(), "dynamodb:PutItem".to_owned()]
            ),
        ],
        "no token, no ledger, no other claims for the connector"
    );
    assert!(llbridge_usecases::keys::click("5", "+14158159602").starts_with("click#"));
}

#[test]
fn the_router_reads_last_agents_and_writes_only_its_notes_and_the_token() {
    let t = template();
    let grants = table_grants(&t, "RouterRole");
    let writes: Vec<_> = grants
        .iter()
        .filter(|(_, _, actions)| actions.iter().any(|a| a != "dynamodb:GetItem"))
        .flat_map(|(_, keys, _)| keys.clone())
        .collect();
    assert_eq!(writes, ["route#*", "llbridge#token#*"], "{grants:?}");
    assert!(llbridge_usecases::keys::route("1").starts_with("route#"));
    assert!(llbridge_usecases::keys::last_agent("main", "1001").starts_with("contact#agent#"));
    assert!(llbridge_usecases::keys::token("main").starts_with("llbridge#token#"));
}

#[test]
fn the_reconciler_writes_only_its_own_items() {
    let t = template();
    let grants = table_grants(&t, "ReconcilerRole");
    let writes: Vec<_> = grants
        .iter()
        .filter(|(_, _, actions)| {
            actions
                .iter()
                .any(|a| a != "dynamodb:GetItem" && a != "dynamodb:BatchGetItem")
        })
        .collect();
    assert_eq!(writes.len(), 1, "{grants:?}");
    assert_eq!(writes[0].0, "ForAllValues:StringLike");
    assert_eq!(writes[0].1, vec!["reconcile#*".to_owned()], "{grants:?}");
    // Every key it writes starts so.
    for key in [
        llbridge_usecases::keys::RECONCILE_WORK.to_owned(),
        llbridge_usecases::keys::RECONCILE_LEASE.to_owned(),
        llbridge_usecases::keys::reconcile_fed("6208917392220160"),
    ] {
        assert!(key.starts_with("reconcile#"), "{key}");
    }
    let reads: Vec<_> = grants
        .iter()
        .filter(|(_, _, actions)| actions.contains(&"dynamodb:BatchGetItem".to_owned()))
        .collect();
    assert_eq!(reads.len(), 1, "{grants:?}");
    assert!(
        !reads[0].1.is_empty(),
        "reads are limited to the items it reads: {grants:?}"
    );
}

#[test]
fn the_worker_may_not_write_the_config() {
    let t = template();
    let denied: Vec<&Value> = statements(&t)
        .into_iter()
        .filter(|(owner, st)| {
            owner == "WorkerRole" && st.get("Effect").and_then(Value::as_str) == Some("Deny")
        })
        .map(|(_, st)| st)
        .collect();
    assert_eq!(denied.len(), 1, "{denied:?}");
    let actions: BTreeSet<&str> = strings(get(denied[0], &["Action"]))
        .into_iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        actions,
        BTreeSet::from([
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem"
        ])
    );
    let keys = get(
        denied[0],
        &[
            "Condition",
            "ForAnyValue:StringLike",
            "dynamodb:LeadingKeys",
        ],
    );
    let keys: Vec<&str> = strings(keys)
        .into_iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(keys, vec!["config#*"]);
    assert!(CONFIG_KEY.starts_with("config#"));
}

/// Every IAM statement of the template's roles and policies, with where it is.
pub(super) fn statements(t: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    let mut docs: Vec<(String, &Value)> = Vec::new();
    for (name, r) in resources(t) {
        let name = name.as_str().unwrap_or_default().to_owned();
        let ty = r.get("Type").and_then(Value::as_str).unwrap_or_default();
        let Some(p) = r.get("Properties") else {
            continue;
        };
        match ty {
            "AWS::IAM::Role" => {
                for pol in p
                    .get("Policies")
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                {
                    docs.push((name.clone(), get(pol, &["PolicyDocument"])));
                }
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
                docs.push((name, get(p, &["PolicyDocument"])));
            }
            "AWS::Serverless::Function" => {
                for pol in p
                    .get("Policies")
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                {
                    if pol.get("Statement").is_some() {
                        docs.push((name.clone(), pol));
                    }
                }
            }
            _ => {}
        }
    }
    for (name, doc) in docs {
        match get(doc, &["Statement"]) {
            Value::Sequence(s) => out.extend(s.iter().map(|st| (name.clone(), st))),
            st => out.push((name, st)),
        }
    }
    out
}

pub(super) fn strings(v: &Value) -> Vec<&Value> {
    match v {
        Value::Sequence(s) => s.iter().collect(),
        other => vec![other],
    }
}

/// Actions that have no resource-level permissions: `Resource: "*"` is the only option.
const UNSCOPABLE: &[&str] = &[
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
];

#[test]
fn no_iam_statement_grants_every_action_or_every_resource() {
    let t = template();
    let all = statements(&t);
    assert!(!all.is_empty(), "no IAM statements found");
    for (owner, st) in all {
        let actions: Vec<&str> = strings(get(st, &["Action"]))
            .into_iter()
            .filter_map(Value::as_str)
            .collect();
        for a in &actions {
            assert!(!a.contains('*'), "{owner}: wildcard action {a} in {st:?}");
        }
        for r in strings(get(st, &["Resource"])) {
            if r.as_str() == Some("*") {
                assert!(
                    actions.iter().all(|a| UNSCOPABLE.contains(a)),
                    "{owner}: Resource \"*\" for {actions:?}, which can name their resources"
                );
            }
        }
        assert!(st.get("NotAction").is_none() && st.get("NotResource").is_none());
    }
}

fn role_actions(t: &Value, function: &str) -> BTreeSet<String> {
    let p = get(resource(t, function), &["Properties"]);
    assert!(
        p.get("Policies").is_none(),
        "{function}: use its explicit role only"
    );
    let (role, _) = get_att_target(get(p, &["Role"])).expect("Role: !GetAtt X.Arn");
    let r = get(resource(t, &role), &["Properties"]);
    assert!(
        r.get("ManagedPolicyArns").is_none(),
        "{role}: no managed policies (they grant on *)"
    );
    statements(t)
        .into_iter()
        .filter(|(owner, _)| *owner == role)
        .flat_map(|(_, st)| strings(get(st, &["Action"])))
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn each_function_has_only_the_actions_it_uses() {
    let t = template();
    let set = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        role_actions(&t, "IngestFunction"),
        set(&[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "secretsmanager:GetSecretValue",
            "sqs:SendMessage",
        ])
    );
    assert_eq!(
        role_actions(&t, "WorkerFunction"),
        set(&[
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "secretsmanager:GetSecretValue",
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
            "sqs:SendMessage",
        ])
    );
    assert_eq!(
        role_actions(&t, "ConnectorFunction"),
        set(&[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "secretsmanager:GetSecretValue",
            "sqs:SendMessage",
        ])
    );
    assert_eq!(
        role_actions(&t, "RouterFunction"),
        set(&[
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "secretsmanager:GetSecretValue",
        ])
    );
    assert_eq!(
        role_actions(&t, "ReconcilerFunction"),
        set(&[
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "secretsmanager:GetSecretValue",
            "sqs:SendMessage",
        ])
    );
}
