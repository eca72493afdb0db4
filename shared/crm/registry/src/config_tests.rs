//! The whole config document with every CRM: the core's rules, and each CRM's part as the
//! registry puts them together.

use llbridge_crm_leadsquared::config::*;
use llbridge_crm_lineleader::config::*;
use llbridge_crm_lineleader::rules::paths::{ApiSettings, Endpoint, SearchFormat};
use llbridge_domain::config::*;
use llbridge_domain::event::{Direction, LinkKind};
use serde_json::{json, Value};

use crate::{parse, parse_value};

/// LeadSquared's and the webhook's parts beside LineLeader's.
mod other_crms;

fn lineleader(e: &Enablement) -> Option<&LineLeaderSettings> {
    e.settings::<LineLeaderSettings>()
}

fn valid() -> Value {
    json!({
      "dialpad": {
        "webhook_secrets": ["s3cret-webhook-value", {"secret": "llbridge/dialpad", "key": "webhook_secret_next"}],
        "allow_unsigned": false,
        "api_base_url": "https://dialpad.com",
        "api_key": {"secret": "llbridge/dialpad", "key": "api_key"}
      },
      "connections": {
        "main": {"base_url": "https://live.childcarecrm.com", "username": "u", "password": "p"}
      },
      "enablements": [
        {
          "scope": {"level": "call_center", "id": "4716644561813504"},
          "connection": "main",
          "screen_pop": true,
          "screen_pop_base_url": "https://app.lineleader.com",
          "screen_pop_url_template": "{base}/#/families/{family_id}",
          "default_center_name": "Main Street",
          "family_inquiry_type": "Phone",
          "call_log_link_type": "public",
          "enable_task_queue": true,
          "status_prioritization": ["Tour Scheduled", "New Lead"],
          "family_status_priority_ids": [],
          "call_log": {
            "type": "event",
            "event_type": "Phone Call",
            "default_staff_email": "frontdesk@example.com",
            "disposition_status_map": {"Follow-Up Needed": "Contacted", "Tour Booked (New Lead)": "Tour Scheduled"},
            "disposition_task_result_map": {"Left Voicemail": "Left Message"},
            "result_type_mapping": ["inbound", "outbound"]
          }
        },
        {
          "scope": {"level": "company"},
          "connection": "main",
          "screen_pop": false,
          "default_center_name": "Main Street"
        }
      ]
    })
}

fn errors_of(doc: &Value) -> Vec<ConfigError> {
    match parse_value(doc) {
        Ok(_) => Vec::new(),
        Err(ConfigErrors(e)) => e,
    }
}

/// Applies `edit` to the valid document and asserts an error at `path` mentioning `needle`.
fn assert_rejected(edit: impl FnOnce(&mut Value), path: &str, needle: &str) {
    let mut doc = valid();
    edit(&mut doc);
    let errs = errors_of(&doc);
    assert!(
        errs.iter()
            .any(|e| e.path == path && e.message.contains(needle)),
        "expected an error at {path} containing {needle:?}, got {errs:#?}"
    );
}

#[test]
fn the_documented_example_is_valid() {
    let inst = parse_value(&valid()).unwrap();
    assert_eq!(inst.enablements.len(), 2);
    let e = &inst.enablements[0];
    assert_eq!(e.scope.level, ScopeLevel::CallCenter);
    assert_eq!(e.scope.id.as_deref(), Some("4716644561813504"));
    assert_eq!(e.call_log_link_type, Some(LinkKind::Public));
    let ll = lineleader(e).unwrap();
    let CallLogMode::Event(ev) = ll.call_log.as_ref().unwrap() else {
        panic!("event mode expected")
    };
    assert_eq!(
        ev.result_type_mapping,
        vec![Direction::Inbound, Direction::Outbound]
    );
    assert!(ev.disposition_status_map.contains(&StatusRule {
        disposition: "Tour Booked".into(),
        required_status: Some("New Lead".into()),
        status: "Tour Scheduled".into()
    }));
    let c = lineleader(&inst.enablements[1]).unwrap();
    assert_eq!(c.family_inquiry_type, "Phone");
    assert_eq!(c.call_log, None, "absent call_log: no logging");
    assert!(!inst.enablements[1].logs_calls());
    assert_eq!(
        ll.screen_pop_url("77").as_deref(),
        Some("https://app.lineleader.com/#/families/77")
    );
    assert!(inst
        .summary()
        .starts_with("config valid: 1 connection(s), 2 enablement(s)"));
}

#[test]
fn unknown_keys_are_rejected_with_a_hint() {
    assert_rejected(
        |d| d["enablements"][0]["enable_task_que"] = json!(true),
        "$.enablements[0].enable_task_que",
        "did you mean \"enable_task_queue\"",
    );
    assert_rejected(
        |d| d["dialpad"]["extra"] = json!(1),
        "$.dialpad.extra",
        "unknown key",
    );
    assert_rejected(
        |d| d["enablements"][0]["call_log"]["event_typ"] = json!("x"),
        "$.enablements[0].call_log.event_typ",
        "unknown key",
    );
}

#[test]
fn missing_connection_is_rejected() {
    assert_rejected(
        |d| d["enablements"][0]["connection"] = json!("other"),
        "$.enablements[0].connection",
        "not defined in $.connections",
    );
}

#[test]
fn duplicate_scopes_are_rejected() {
    assert_rejected(
        |d| {
            d["enablements"][1]["scope"] =
                json!({"level": "call_center", "id": 4716644561813504_u64})
        },
        "$.enablements[1].scope",
        "already has the scope call_center:4716644561813504",
    );
}

#[test]
fn event_mode_needs_event_type_and_default_staff_email() {
    assert_rejected(
        |d| {
            d["enablements"][0]["call_log"]
                .as_object_mut()
                .unwrap()
                .remove("event_type");
        },
        "$.enablements[0].call_log.event_type",
        "is required",
    );
    assert_rejected(
        |d| {
            d["enablements"][0]["call_log"]
                .as_object_mut()
                .unwrap()
                .remove("default_staff_email");
        },
        "$.enablements[0].call_log.default_staff_email",
        "is required",
    );
    assert_rejected(
        |d| d["enablements"][0]["call_log"]["default_staff_email"] = json!("frontdesk"),
        "$.enablements[0].call_log.default_staff_email",
        "not an e-mail",
    );
}

#[test]
fn malformed_status_keys_are_rejected() {
    for bad in [
        "Tour Booked (New Lead",
        "Tour Booked New Lead)",
        "(New Lead)",
        "Tour Booked ()",
        "A (B) C",
        "A ((B))",
    ] {
        assert_rejected(
            |d| {
                d["enablements"][0]["call_log"]["disposition_status_map"] =
                    json!({bad: "Contacted"})
            },
            &format!(
                "$.enablements[0].call_log.disposition_status_map[{}]",
                serde_json::to_string(bad).unwrap()
            ),
            "malformed key",
        );
    }
}

#[test]
fn status_key_forms() {
    assert_eq!(
        parse_status_key("Follow-Up Needed"),
        Ok(("Follow-Up Needed".into(), None))
    );
    assert_eq!(
        parse_status_key(" Tour Booked  (New Lead) "),
        Ok(("Tour Booked".into(), Some("New Lead".into())))
    );
}

#[test]
fn directions_other_than_inbound_outbound_are_rejected() {
    assert_rejected(
        |d| d["enablements"][0]["call_log"]["result_type_mapping"] = json!(["inbound", "sideways"]),
        "$.enablements[0].call_log.result_type_mapping[1]",
        "not a call direction",
    );
}

#[test]
fn urls_that_do_not_parse_are_rejected() {
    assert_rejected(
        |d| d["connections"]["main"]["base_url"] = json!("live.childcarecrm.com"),
        "$.connections.main.base_url",
        "not a valid URL",
    );
    assert_rejected(
        |d| d["enablements"][0]["screen_pop_base_url"] = json!("ftp://x.example"),
        "$.enablements[0].screen_pop_base_url",
        "not an http(s) URL",
    );
    assert_rejected(
        |d| d["dialpad"]["api_base_url"] = json!("not a url"),
        "$.dialpad.api_base_url",
        "not a valid URL",
    );
}

#[test]
fn templates_without_family_id_are_rejected() {
    assert_rejected(
        |d| d["enablements"][0]["screen_pop_url_template"] = json!("{base}/#/families/"),
        "$.enablements[0].screen_pop_url_template",
        "must contain {family_id}",
    );
    assert_rejected(
        |d| {
            d["enablements"][0]["screen_pop_url_template"] =
                json!("{base}/#/families/{family}/{family_id}")
        },
        "$.enablements[0].screen_pop_url_template",
        "unknown placeholder",
    );
}

#[test]
fn other_rules() {
    assert_rejected(
        |d| d["enablements"][0]["scope"] = json!({"level": "team", "id": "1"}),
        "$.enablements[0].scope.level",
        "not one of call_center, office, company",
    );
    assert_rejected(
        |d| d["enablements"][0]["scope"] = json!({"level": "office"}),
        "$.enablements[0].scope.id",
        "is required for level office",
    );
    assert_rejected(
        |d| d["enablements"][0]["call_log_link_type"] = json!("private"),
        "$.enablements[0].call_log_link_type",
        "not one of public",
    );
    assert_rejected(
        |d| d["enablements"][0]["call_log"]["type"] = json!("crm"),
        "$.enablements[0].call_log.type",
        "not one of phone_log, event",
    );
    assert_rejected(
        |d| {
            d["enablements"][0]
                .as_object_mut()
                .unwrap()
                .remove("default_center_name");
        },
        "$.enablements[0].default_center_name",
        "is required",
    );
    assert_rejected(
        |d| {
            d["enablements"][0]
                .as_object_mut()
                .unwrap()
                .remove("screen_pop_base_url");
        },
        "$.enablements[0].screen_pop_base_url",
        "required when screen_pop is on",
    );
    assert_rejected(
        |d| d["enablements"][0]["call_log"] = json!({"type": "phone_log", "event_type": "x"}),
        "$.enablements[0].call_log.event_type",
        "applies only when call_log.type is \"event\"",
    );
    assert_rejected(
        |d| d["dialpad"]["webhook_secrets"] = json!([]),
        "$.dialpad.webhook_secrets",
        "at least one secret",
    );
    assert_rejected(
        |d| {
            d["dialpad"].as_object_mut().unwrap().remove("api_key");
        },
        "$.dialpad.api_key",
        "screen_pop on",
    );
    assert_rejected(
        |d| d["dialpad"]["api_key"] = json!({"secret": "x"}),
        "$.dialpad.api_key.key",
        "is required",
    );
    assert_rejected(
        |d| d["enablements"] = json!([]),
        "$.enablements",
        "at least one",
    );
    assert_rejected(
        |d| d["enablements"][0]["enable_task_queue"] = json!("yes"),
        "$.enablements[0].enable_task_queue",
        "expected true or false",
    );
    assert_rejected(
        |d| d["enablements"][0]["include_recap"] = json!("no"),
        "$.enablements[0].include_recap",
        "expected true or false",
    );
    for wrong in [json!(-1), json!(3601), json!(2.5), json!("60")] {
        assert_rejected(
            |d| d["enablements"][0]["disposition_wait_secs"] = wrong.clone(),
            "$.enablements[0].disposition_wait_secs",
            "expected a whole number from 0 to 3600",
        );
    }
}

#[test]
fn follow_up_tasks_are_off_by_default_and_validated() {
    let inst = parse_value(&valid()).expect("valid");
    let ll = lineleader(&inst.enablements[0]).expect("LineLeader");
    assert_eq!(ll.follow_up_tasks, None);

    let mut doc = valid();
    doc["enablements"][0]["follow_up_tasks"] = json!({"due_in_minutes": 30});
    let inst = parse_value(&doc).expect("valid");
    let f = lineleader(&inst.enablements[0])
        .and_then(|l| l.follow_up_tasks.clone())
        .expect("on");
    assert_eq!(f.task_type, "Phone Call");
    assert!(f.from_action_items && f.missed_calls);
    assert_eq!(f.due_in, std::time::Duration::from_secs(1800));
    assert_eq!(f.assign_to, AssignTo::Agent);
    assert_eq!(
        f.default_staff_email.as_deref(),
        Some("frontdesk@example.com"),
        "Event mode's default staff"
    );

    assert_rejected(
        |d| d["enablements"][0]["follow_up_tasks"] = json!({"assign_to": "manager"}),
        "$.enablements[0].follow_up_tasks.assign_to",
        "is not one of agent, default_staff",
    );
    assert_rejected(
        |d| d["enablements"][0]["follow_up_tasks"] = json!({"due_in_minutes": 20000}),
        "$.enablements[0].follow_up_tasks.due_in_minutes",
        "expected a whole number from 0 to 10080",
    );
    assert_rejected(
        |d| d["enablements"][0]["follow_up_tasks"] = json!({"missed_call": true}),
        "$.enablements[0].follow_up_tasks.missed_call",
        "did you mean \"missed_calls\"",
    );
    assert_rejected(
        |d| {
            d["enablements"][0]["call_log"] = json!({"type": "phone_log"});
            d["enablements"][0]["follow_up_tasks"] = json!({"assign_to": "default_staff"});
        },
        "$.enablements[0].follow_up_tasks.assign_to",
        "there is no default staff",
    );
    assert_rejected(
        |d| {
            d["enablements"][0]["call_log"] = Value::Null;
            d["enablements"][0]["follow_up_tasks"] = json!({});
        },
        "$.enablements[0].follow_up_tasks",
        "needs a call_log",
    );
    assert_rejected(
        |d| d["enablements"][0]["follow_up_tasks"] = json!({"default_staff_email": "desk"}),
        "$.enablements[0].follow_up_tasks.default_staff_email",
        "is not an e-mail address",
    );
}

#[test]
fn api_overrides_of_a_lineleader_connection() {
    let inst = parse_value(&valid()).expect("valid");
    let Some(main) = inst.connections["main"].settings::<LineLeaderConnection>() else {
        panic!("a LineLeader connection");
    };
    assert_eq!(
        main.api,
        ApiSettings::default(),
        "today's contract by default"
    );

    let mut doc = valid();
    doc["connections"]["main"]["api"] = json!({
        "paths": {"phone_logs": "/calls/phone-logs", "family": "/family/{id}"},
        "family_search_param": "phone_number",
        "family_search_format": "e164"
    });
    let inst = parse_value(&doc).expect("valid");
    let Some(main) = inst.connections["main"].settings::<LineLeaderConnection>() else {
        panic!("a LineLeader connection");
    };
    assert_eq!(
        main.api.paths.get(&Endpoint::PhoneLogs).map(String::as_str),
        Some("/calls/phone-logs")
    );
    assert_eq!(
        main.api.paths.get(&Endpoint::Family).map(String::as_str),
        Some("/family/{id}")
    );
    assert_eq!(main.api.family_search_param, "phone_number");
    assert_eq!(main.api.family_search_format, SearchFormat::E164);

    let api = |v: Value| move |d: &mut Value| d["connections"]["main"]["api"] = v;
    assert_rejected(
        api(json!({"paths": {"phone_log": "/x"}})),
        "$.connections.main.api.paths.phone_log",
        "is not an endpoint (did you mean \"phone_logs\"?)",
    );
    assert_rejected(
        api(json!({"paths": {"family_serch": "/x"}})),
        "$.connections.main.api.paths.family_serch",
        "did you mean \"family_search\"",
    );
    assert_rejected(
        api(json!({"paths": {"events": "events"}})),
        "$.connections.main.api.paths.events",
        "must start with /",
    );
    assert_rejected(
        api(json!({"paths": {"task": "/tasks"}})),
        "$.connections.main.api.paths.task",
        "must contain {id}",
    );
    assert_rejected(
        api(json!({"paths": {"staff": "/staff/{id}"}})),
        "$.connections.main.api.paths.staff",
        "takes no id",
    );
    assert_rejected(
        api(json!({"paths": {"centers": "/centers?all=1"}})),
        "$.connections.main.api.paths.centers",
        "bare path",
    );
    assert_rejected(
        api(json!({"family_search_format": "national"})),
        "$.connections.main.api.family_search_format",
        "is not one of ten_digits, e164, digits",
    );
    assert_rejected(
        api(json!({"family_search_param": "phone number"})),
        "$.connections.main.api.family_search_param",
        "is not a query parameter name",
    );
    assert_rejected(
        api(json!({"path": {}})),
        "$.connections.main.api.path",
        "did you mean \"paths\"",
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let mut doc = valid();
    doc["enablements"][0]["connection"] = json!("nope");
    doc["enablements"][0]["call_log"]["result_type_mapping"] = json!(["up"]);
    doc["connections"]["main"]["base_url"] = json!("::");
    let errs = errors_of(&doc);
    assert_eq!(errs.len(), 3, "{errs:#?}");
}

#[test]
fn unsigned_events_are_allowed_only_beside_a_webhook_secret() {
    let mut doc = valid();
    doc["dialpad"] = json!({"allow_unsigned": true, "api_key": "k"});
    let errs = errors_of(&doc);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].path, "$.dialpad.allow_unsigned");
    assert!(errs[0].message.contains("webhook secret"), "{}", errs[0]);
    doc["dialpad"]["webhook_secrets"] = json!(["sixteen-chars-ok"]);
    assert!(parse_value(&doc).is_ok());
}

#[test]
fn short_webhook_secrets_are_refused() {
    let mut doc = valid();
    doc["dialpad"]["webhook_secrets"] = json!(["fifteen-chars-x", "sixteen-chars-ok"]);
    let errs = errors_of(&doc);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].path, "$.dialpad.webhook_secrets[0]");
    assert!(errs[0].message.contains("16"), "{}", errs[0]);
}

#[test]
fn api_urls_are_https_except_to_loopback() {
    for (url, ok) in [
        ("https://live.childcarecrm.com", true),
        ("http://127.0.0.1:8081", true),
        ("http://localhost:8081", true),
        ("http://[::1]:8081", true),
        ("http://live.childcarecrm.com", false),
        ("http://10.0.0.5", false),
        ("https://169.254.169.254/latest/meta-data", false),
        ("http://169.254.169.254", false),
        ("https://[fe80::1]", false),
        ("https://[fd00:ec2::254]", false),
        ("https://metadata.google.internal", false),
        ("https://[::ffff:169.254.169.254]", false),
    ] {
        for path in ["$.connections.main.base_url", "$.dialpad.api_base_url"] {
            let mut doc = valid();
            if path.contains("connections") {
                doc["connections"]["main"]["base_url"] = json!(url);
            } else {
                doc["dialpad"]["api_base_url"] = json!(url);
            }
            let errs = parse_value(&doc).err().map(|e| e.0).unwrap_or_default();
            if ok {
                assert!(errs.is_empty(), "{url}: {errs:#?}");
            } else {
                assert_eq!(errs.len(), 1, "{url}: {errs:#?}");
                assert_eq!(errs[0].path, path, "{url}");
            }
        }
    }
}

#[test]
fn the_recap_is_in_call_logs_unless_turned_off() {
    let inst = parse_value(&valid()).unwrap();
    assert!(inst.enablements[0].include_recap);
    assert_eq!(
        inst.enablements[0].disposition_wait,
        std::time::Duration::ZERO
    );
    let mut doc = valid();
    doc["enablements"][0]["include_recap"] = json!(false);
    assert!(!parse_value(&doc).unwrap().enablements[0].include_recap);
}

#[test]
fn the_unknown_outcome_policy_is_retry_or_hold() {
    let inst = parse_value(&valid()).unwrap();
    assert_eq!(
        lineleader(&inst.enablements[0]).unwrap().unknown_outcome,
        UnknownOutcomePolicy::Retry
    );
    let mut doc = valid();
    doc["enablements"][0]["unknown_outcome"] = json!("hold");
    let inst = parse_value(&doc).unwrap();
    assert_eq!(
        lineleader(&inst.enablements[0]).unwrap().unknown_outcome,
        UnknownOutcomePolicy::Hold
    );
    doc["enablements"][0]["unknown_outcome"] = json!("maybe");
    let errs = errors_of(&doc);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].path, "$.enablements[0].unknown_outcome");
}

#[test]
fn secrets_never_show_in_debug_output() {
    let inst = parse_value(&valid()).unwrap();
    let dbg = format!("{inst:?}");
    assert!(!dbg.contains("s3cret"), "{dbg}");
    assert!(dbg.contains("llbridge/dialpad#api_key"));
}

#[test]
fn not_json_is_one_error_at_the_root() {
    let errs = parse("{").unwrap_err().0;
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].path, "$");
}

#[test]
fn a_connection_of_an_unknown_crm_is_refused() {
    assert_rejected(
        |d| d["connections"]["main"]["type"] = json!("salesforce"),
        "$.connections.main.type",
        "not a CRM this product knows",
    );
    let mut doc = valid();
    doc["connections"]["main"]["type"] = json!("lineleader");
    assert!(
        parse_value(&doc).is_ok(),
        "lineleader is the default, and may be said"
    );
}
