use super::*;

/// The valid document with a LeadSquared connection `lsq` and a call center enabled on it.
fn with_leadsquared() -> Value {
    let mut doc = valid();
    doc["connections"]["lsq"] = json!({
        "type": "leadsquared",
        "call_log_url": {"secret": "llbridge/leadsquared", "key": "call_log_url"},
        "agent_popup_url": "https://telephony-in21.leadsquared.com/api/popup?accessKey=a&secretKey=b"
    });
    doc["enablements"].as_array_mut().unwrap().push(json!({
        "scope": {"level": "call_center", "id": "5000000000000001"},
        "connection": "lsq",
        "call_log_link_type": "recording",
        "call_log": {"type": "leadsquared"}
    }));
    doc
}

#[test]
fn a_leadsquared_connection_and_enablement() {
    let inst = parse_value(&with_leadsquared()).unwrap();
    let Some(c) = inst.connections["lsq"].settings::<LeadSquaredConnection>() else {
        panic!("lsq is a LeadSquared connection");
    };
    assert_eq!(
        c.call_log_url,
        SecretRef::Managed {
            secret: "llbridge/leadsquared".into(),
            key: "call_log_url".into()
        }
    );
    assert!(matches!(c.agent_popup_url, Some(SecretRef::Literal(_))));
    let e = &inst.enablements[2];
    assert_eq!(
        e.settings::<LeadSquaredSettings>(),
        Some(&LeadSquaredSettings { call_log: true })
    );
    assert!(
        e.logs_calls() && e.screen_pop,
        "the agent popup is on when there is a URL"
    );
    assert!(lineleader(e).is_none());
    let paths: Vec<String> = inst.secret_refs().into_iter().map(|(p, _)| p).collect();
    assert!(paths.contains(&"$.connections.lsq.call_log_url".to_owned()));
    assert!(paths.contains(&"$.connections.lsq.agent_popup_url".to_owned()));

    // No popup URL: no popups by default, and asking for them is an error.
    let mut doc = with_leadsquared();
    doc["connections"]["lsq"]
        .as_object_mut()
        .unwrap()
        .remove("agent_popup_url");
    let inst = parse_value(&doc).unwrap();
    assert!(!inst.enablements[2].screen_pop);
    doc["enablements"][2]["screen_pop"] = json!(true);
    let errs = errors_of(&doc);
    assert!(
        errs.iter()
            .any(|e| e.path == "$.enablements[2].screen_pop"
                && e.message.contains("agent_popup_url")),
        "{errs:?}"
    );
    // No call_log: no call logs.
    let mut doc = with_leadsquared();
    doc["enablements"][2]
        .as_object_mut()
        .unwrap()
        .remove("call_log");
    assert!(!parse_value(&doc).unwrap().enablements[2].logs_calls());
}

#[test]
fn leadsquared_enablements_refuse_lineleader_settings() {
    for (key, value) in [
        ("default_center_name", json!("Main Street")),
        ("screen_pop_base_url", json!("https://app.lineleader.com")),
        ("unknown_outcome", json!("hold")),
    ] {
        let mut doc = with_leadsquared();
        doc["enablements"][2][key] = value;
        let errs = errors_of(&doc);
        assert!(
            errs.iter()
                .any(|e| e.path == format!("$.enablements[2].{key}")
                    && e.message.contains("LineLeader connections only")),
            "{key}: {errs:?}"
        );
    }
    let mut doc = with_leadsquared();
    doc["enablements"][2]["call_log"] = json!({"type": "phone_log"});
    let errs = errors_of(&doc);
    assert!(
        errs.iter().any(
            |e| e.path == "$.enablements[2].call_log.type" && e.message.contains("leadsquared")
        ),
        "{errs:?}"
    );
    let mut doc = valid();
    doc["enablements"][1]["call_log"] = json!({"type": "leadsquared"});
    let errs = errors_of(&doc);
    assert!(
        errs.iter()
            .any(|e| e.path == "$.enablements[1].call_log.type"
                && e.message.contains("LeadSquared connections")),
        "{errs:?}"
    );
}

#[test]
fn leadsquared_urls_are_checked_like_api_urls() {
    for (url, needle) in [
        ("http://telephony.leadsquared.com/log", "plain http"),
        ("http://169.254.169.254/latest", "link-local"),
        ("not a url", "not a valid URL"),
    ] {
        let mut doc = with_leadsquared();
        doc["connections"]["lsq"]["call_log_url"] = json!(url);
        let errs = errors_of(&doc);
        assert!(
            errs.iter()
                .any(|e| e.path == "$.connections.lsq.call_log_url" && e.message.contains(needle)),
            "{url}: {errs:?}"
        );
    }
    let mut doc = with_leadsquared();
    doc["connections"]["lsq"]
        .as_object_mut()
        .unwrap()
        .remove("call_log_url");
    assert_eq!(
        errors_of(&doc)
            .iter()
            .map(|e| e.path.as_str())
            .collect::<Vec<_>>(),
        ["$.connections.lsq.call_log_url"]
    );
}

/// The valid document with a webhook connection `hook` and a call center enabled on it.
fn with_webhook() -> Value {
    let mut doc = valid();
    doc["connections"]["hook"] = json!({
        "type": "webhook",
        "url": "https://hooks.example.com/calls",
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    });
    doc["enablements"].as_array_mut().unwrap().push(json!({
        "scope": {"level": "call_center", "id": "4716644561813999"},
        "connection": "hook",
        "call_log": {"type": "webhook"}
    }));
    doc
}

#[test]
fn a_webhook_connection_and_enablement() {
    let inst = parse_value(&with_webhook()).unwrap();
    let e = &inst.enablements[2];
    assert!(e.logs_calls());
    assert!(!e.screen_pop, "a webhook has no screen pop");
    assert!(lineleader(e).is_none());
    let paths: Vec<String> = inst.secret_refs().into_iter().map(|(p, _)| p).collect();
    assert!(paths.contains(&"$.connections.hook.secret".to_owned()));
    let dbg = format!("{inst:?}");
    assert!(!dbg.contains("MfKQ9r8"), "{dbg}");
}

#[test]
fn a_webhook_refuses_bad_secrets_plain_http_metadata_and_other_crms_keys() {
    for (key, value, path, needle) in [
        (
            "secret",
            json!("whsec_not base64!"),
            "$.connections.hook.secret",
            "not base64",
        ),
        (
            "secret",
            json!("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "$.connections.hook.secret",
            "whsec_",
        ),
        (
            "url",
            json!("http://hooks.example.com/calls"),
            "$.connections.hook.url",
            "plain http",
        ),
        (
            "url",
            json!("https://169.254.169.254/latest"),
            "$.connections.hook.url",
            "link-local",
        ),
        (
            "url",
            json!("https://metadata.google.internal/x"),
            "$.connections.hook.url",
            "metadata",
        ),
    ] {
        let mut doc = with_webhook();
        doc["connections"]["hook"][key] = value;
        let errs = errors_of(&doc);
        assert!(
            errs.iter()
                .any(|e| e.path == path && e.message.contains(needle)),
            "{key}: {errs:?}"
        );
    }
    let mut doc = with_webhook();
    doc["connections"]["hook"]["url"] = json!("http://127.0.0.1:8099/calls");
    assert!(
        parse_value(&doc).is_ok(),
        "plain http to a loopback address"
    );
    for (key, value, needle) in [
        ("screen_pop", json!(true), "has no screen pop"),
        (
            "default_center_name",
            json!("Main"),
            "LineLeader connections only",
        ),
    ] {
        let mut doc = with_webhook();
        doc["enablements"][2][key] = value;
        let errs = errors_of(&doc);
        assert!(
            errs.iter()
                .any(|e| e.path == format!("$.enablements[2].{key}") && e.message.contains(needle)),
            "{key}: {errs:?}"
        );
    }
    let mut doc = with_webhook();
    doc["enablements"][2]["call_log"] = json!({"type": "leadsquared"});
    assert_rejected_in(
        &doc,
        "$.enablements[2].call_log.type",
        "is for LeadSquared connections",
    );
}

#[test]
fn click_to_call_takes_a_long_action_key_and_known_countries() {
    let mut doc = with_leadsquared();
    doc["connections"]["lsq"]["action_key"] =
        json!({"secret": "llbridge/leadsquared", "key": "action_key"});
    doc["connections"]["lsq"]["click_to_call"] =
        json!({"allowed_countries": ["us", "CA"], "call_center": "4716644561813777"});
    let inst = parse_value(&doc).unwrap();
    let Some(c) = inst.connections["lsq"].settings::<LeadSquaredConnection>() else {
        panic!("lsq is a LeadSquared connection");
    };
    assert_eq!(c.click_to_call.allowed_countries, ["US", "CA"]);
    assert_eq!(
        c.click_to_call.call_center.as_deref(),
        Some("4716644561813777")
    );
    let paths: Vec<String> = inst.secret_refs().into_iter().map(|(p, _)| p).collect();
    assert!(paths.contains(&"$.connections.lsq.action_key".to_owned()));

    // Without click_to_call: the US only.
    doc["connections"]["lsq"]
        .as_object_mut()
        .map(|o| o.remove("click_to_call"));
    let inst = parse_value(&doc).unwrap();
    let c = inst.connections["lsq"].settings::<LeadSquaredConnection>();
    assert_eq!(
        c.map(|c| c.click_to_call.allowed_countries.clone()),
        Some(vec!["US".to_owned()])
    );

    doc["connections"]["lsq"]["action_key"] = json!("too-short");
    assert_rejected_in(&doc, "$.connections.lsq.action_key", "shorter than 32");
    doc["connections"]["lsq"]["action_key"] = json!("x".repeat(32));
    doc["connections"]["lsq"]["click_to_call"] = json!({"allowed_countries": ["USA"]});
    assert_rejected_in(
        &doc,
        "$.connections.lsq.click_to_call.allowed_countries[0]",
        "not an ISO country code",
    );
    doc["connections"]["lsq"]["click_to_call"] = json!({"allowed_countries": []});
    assert_rejected_in(
        &doc,
        "$.connections.lsq.click_to_call.allowed_countries",
        "is empty",
    );
    doc["connections"]["lsq"]["click_to_call"] = json!({"allowed_country": ["US"]});
    assert_rejected_in(&doc, "$.connections.lsq.click_to_call.allowed_country", "");
}

fn assert_rejected_in(doc: &Value, path: &str, needle: &str) {
    let errs = errors_of(doc);
    assert!(
        errs.iter()
            .any(|e| e.path == path && e.message.contains(needle)),
        "{path}: {errs:?}"
    );
}

fn with_routing() -> Value {
    let mut doc = valid();
    doc["routing"] = json!({"enrollment": {
        "secret": {"secret": "llbridge/dialpad", "key": "router_enrollment"},
        "connection": "main", "office_id": 5630409049792512_u64,
        "fallback": {"target_type": "callcenter", "target_id": "4716644561813504"},
        "centers": {" Oak Park ": {"target_type": "callcenter", "target_id": 4716644561813601_u64}},
        "prefer_last_agent": true}});
    doc
}

#[test]
fn a_routing_entry_and_its_defaults() {
    let inst = parse_value(&with_routing()).unwrap();
    let r = &inst.routing["enrollment"];
    assert_eq!(r.connection, "main");
    assert_eq!(r.office_id, "5630409049792512");
    assert_eq!(r.fallback.target_id, "4716644561813504");
    assert_eq!(
        r.center("OAK PARK").map(|(_, t)| t.target_id.as_str()),
        Some("4716644561813601")
    );
    assert!(r.prefer_last_agent);
    assert_eq!((r.last_agent_days, r.deadline_ms), (30, 1500));
    let paths: Vec<String> = inst.secret_refs().into_iter().map(|(p, _)| p).collect();
    assert!(paths.contains(&"$.routing.enrollment.secret".to_owned()));
}

#[test]
fn routing_errors_name_their_path() {
    type Edit = fn(&mut Value);
    let cases: Vec<(Edit, &str, &str)> = vec![
        (
            |d| d["routing"]["enrollment"]["secret"] = json!("short"),
            "$.routing.enrollment.secret",
            "shorter than 32",
        ),
        (
            |d| d["routing"]["enrollment"]["connection"] = json!("nope"),
            "$.routing.enrollment.connection",
            "no connection is named",
        ),
        (
            |d| d["routing"]["enrollment"]["fallback"]["target_type"] = json!("queue"),
            "$.routing.enrollment.fallback.target_type",
            "is not one of",
        ),
        (
            |d| {
                d["routing"]["enrollment"]
                    .as_object_mut()
                    .map(|o| o.remove("office_id"));
            },
            "$.routing.enrollment.office_id",
            "is required",
        ),
        (
            |d| d["routing"]["enrollment"]["deadline_ms"] = json!(10_000),
            "$.routing.enrollment.deadline_ms",
            "from 200 to 4000",
        ),
        (
            |d| d["routing"]["enrollment"]["centers"]["Oak Park"] = json!("4716644561813601"),
            "$.routing.enrollment.centers.Oak Park",
            "expected",
        ),
        (
            |d| d["routing"]["bad name!"] = d["routing"]["enrollment"].clone(),
            "$.routing.bad name!",
            "letters, digits",
        ),
    ];
    for (edit, path, needle) in cases {
        let mut doc = with_routing();
        edit(&mut doc);
        assert_rejected_in(&doc, path, needle);
    }
    // A connection no enablement uses: its matching rules are unknown.
    let mut doc = with_routing();
    doc["connections"]["spare"] =
        json!({"base_url": "https://live.childcarecrm.com", "username": "u", "password": "p"});
    doc["routing"]["enrollment"]["connection"] = json!("spare");
    assert_rejected_in(
        &doc,
        "$.routing.enrollment.connection",
        "no enablement uses",
    );
}
