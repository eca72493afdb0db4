//! `llbridge config validate FILE`: every error with its JSON path, non-zero exit on any; a
//! one-line summary and exit 0 when valid.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

fn valid() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/config/local.json"
    ))
    .expect("sample config");
    serde_json::from_str(&text).expect("sample config is JSON")
}

fn validate(doc: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("llbridge-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file: PathBuf = dir.join(format!("{:x}.json", md5ish(doc)));
    std::fs::write(&file, doc).expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_llbridge"))
        .args(["config", "validate"])
        .arg(&file)
        .output()
        .expect("run llbridge");
    let _ = std::fs::remove_file(&file);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn md5ish(s: &str) -> u64 {
    s.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ b as u64).wrapping_mul(1099511628211)
    })
}

#[test]
fn the_sample_config_is_valid() {
    let (code, out) = validate(&valid().to_string());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("config valid: 1 connection(s), 1 enablement(s)"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1);
}

#[test]
fn each_invalid_case_of_config_md_is_rejected_with_its_path() {
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("unknown key", Box::new(|d| d["enablements"][0]["screen_popp"] = json!(true)), "$.enablements[0].screen_popp: unknown key"),
        ("missing connection", Box::new(|d| d["enablements"][0]["connection"] = json!("backup")), "$.enablements[0].connection: names the connection \"backup\""),
        ("duplicate scope", Box::new(|d| {
            let e = d["enablements"][0].clone();
            d["enablements"].as_array_mut().unwrap().push(e);
        }), "$.enablements[1].scope: another enablement already has the scope"),
        ("event mode without event_type", Box::new(|d| d["enablements"][0]["call_log"] = json!({"type": "event", "default_staff_email": "a@b.co"})), "$.enablements[0].call_log.event_type: is required"),
        ("event mode without default_staff_email", Box::new(|d| d["enablements"][0]["call_log"] = json!({"type": "event", "event_type": "Phone Call"})), "$.enablements[0].call_log.default_staff_email: is required"),
        ("malformed status key", Box::new(|d| d["enablements"][0]["call_log"] = json!({"type": "event", "event_type": "Phone Call", "default_staff_email": "a@b.co", "disposition_status_map": {"Tour Booked (New Lead": "Tour Scheduled"}})), "$.enablements[0].call_log.disposition_status_map[\"Tour Booked (New Lead\"]: malformed key"),
        ("bad direction", Box::new(|d| d["enablements"][0]["call_log"] = json!({"type": "event", "event_type": "Phone Call", "default_staff_email": "a@b.co", "result_type_mapping": ["inbound", "both"]})), "$.enablements[0].call_log.result_type_mapping[1]: \"both\" is not a call direction"),
        ("bad URL", Box::new(|d| d["enablements"][0]["screen_pop_base_url"] = json!("app.lineleader.com")), "$.enablements[0].screen_pop_base_url: \"app.lineleader.com\" is not a valid URL"),
        ("template without family_id", Box::new(|d| d["enablements"][0]["screen_pop_url_template"] = json!("{base}/#/families")), "$.enablements[0].screen_pop_url_template: must contain {family_id}"),
        ("LineLeader key on a LeadSquared enablement", Box::new(|d| {
            d["connections"]["lsq"] = json!({"type": "leadsquared", "call_log_url": "sandbox"});
            d["enablements"].as_array_mut().unwrap().push(json!({
                "scope": {"level": "call_center", "id": "4716644561813777"}, "connection": "lsq",
                "default_center_name": "Main Street", "call_log": {"type": "leadsquared"}}));
        }), "$.enablements[1].default_center_name: applies to LineLeader connections only"),
        ("a webhook secret that does not decode", Box::new(|d| {
            d["connections"]["hook"] = json!({"type": "webhook", "url": "https://hooks.example.com/calls", "secret": "whsec_not base64!"});
        }), "$.connections.hook.secret: is not a Standard Webhooks secret"),
        ("a webhook over plain http", Box::new(|d| {
            d["connections"]["hook"] = json!({"type": "webhook", "url": "http://hooks.example.com/calls", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"});
        }), "$.connections.hook.url: \"http://hooks.example.com/calls\" is plain http"),
        ("a webhook to a metadata address", Box::new(|d| {
            d["connections"]["hook"] = json!({"type": "webhook", "url": "https://169.254.169.254/latest", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"});
        }), "$.connections.hook.url: \"https://169.254.169.254/latest\" points at a link-local address"),
    ];
    for (name, edit, expected) in cases {
        let mut doc = valid();
        edit(&mut doc);
        let (code, out) = validate(&doc.to_string());
        assert_eq!(code, 1, "{name}: {out}");
        assert!(
            out.contains(expected),
            "{name}: expected {expected:?} in\n{out}"
        );
    }
}

#[test]
fn all_errors_are_printed_at_once() {
    let mut doc = valid();
    doc["enablements"][0]["connection"] = json!("backup");
    doc["connections"]["main"]["base_url"] = json!("nope");
    doc["dialpad"]["allow_unsigned"] = json!("yes");
    let (code, out) = validate(&doc.to_string());
    assert_eq!(code, 1);
    assert!(out.contains("3 error(s)"), "{out}");
}

#[test]
fn not_json_is_an_error_at_the_root() {
    let (code, out) = validate("{ nope");
    assert_eq!(code, 1);
    assert!(out.contains("error: $: not valid JSON"), "{out}");
}
