//! The core of the document, read with two CRMs made for the test: `plain` (the default: a
//! connection with a URL and a password, enablement keys of its own) and `quiet` (it cannot pop).

use super::*;
use serde_json::json;

/// A CRM's connection of the test: a URL and a password.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlainConnection {
    pub url: String,
    pub password: SecretRef,
    pub pops: bool,
}

impl ConnectionSettings for PlainConnection {
    fn boxed_clone(&self) -> Box<dyn ConnectionSettings> {
        Box::new(self.clone())
    }
    fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)> {
        vec![("password", &self.password)]
    }
    fn screen_pop(&self) -> Result<bool, &'static str> {
        if self.pops {
            Ok(true)
        } else {
            Err("a quiet connection has no screen pop: set screen_pop to false")
        }
    }
}

/// An enablement's settings of the test CRMs: their one key, and whether they log.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlainSettings {
    pub center: Option<String>,
    pub logs: bool,
}

impl EnablementSettings for PlainSettings {
    fn boxed_clone(&self) -> Box<dyn EnablementSettings> {
        Box::new(self.clone())
    }
    fn logs_calls(&self) -> bool {
        self.logs
    }
    fn pops_through_dialpad(&self) -> bool {
        true
    }
}

pub(crate) struct Plain {
    kind: &'static str,
    pops: bool,
}

impl CrmConfig for Plain {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn call_log_types(&self) -> &'static [&'static str] {
        if self.pops {
            &["plain_log"]
        } else {
            &["quiet_log"]
        }
    }
    fn steps(&self) -> &'static [&'static str] {
        &[]
    }
    fn enablement_keys(&self) -> &'static [&'static str] {
        if self.pops {
            &["default_center_name"]
        } else {
            &["quiet_key"]
        }
    }
    fn connection(
        &self,
        w: &mut Walk,
        path: &str,
        value: &Value,
    ) -> Option<Box<dyn ConnectionSettings>> {
        let o = w.object(value, path, &["type", "base_url", "username", "password"])?;
        let url = w
            .required(o, path, "base_url")
            .and_then(|u| w.api_url(u, &format!("{path}.base_url")));
        let password = w
            .required(o, path, "password")
            .and_then(|s| w.secret(s, &format!("{path}.password")));
        Some(Box::new(PlainConnection {
            url: url?,
            password: password?,
            pops: self.pops,
        }))
    }
    fn enablement(
        &self,
        w: &mut Walk,
        path: &str,
        o: &Obj,
        _cx: &EnablementCx<'_>,
    ) -> Option<Box<dyn EnablementSettings>> {
        let center = w.opt_string(o, path, "default_center_name");
        Some(Box::new(PlainSettings {
            center,
            logs: o.get("call_log").is_some(),
        }))
    }
}

pub(crate) static PLAIN: Plain = Plain {
    kind: "plain",
    pops: true,
};
static QUIET: Plain = Plain {
    kind: "quiet",
    pops: false,
};
pub(crate) static TEST_CRMS: [&dyn CrmConfig; 2] = [&PLAIN, &QUIET];

fn valid() -> Value {
    json!({
      "dialpad": {
        "webhook_secrets": ["s3cret-webhook-value", {"secret": "llbridge/dialpad", "key": "next"}],
        "api_key": {"secret": "llbridge/dialpad", "key": "api_key"}
      },
      "connections": {
        "main": {"base_url": "https://crm.example", "password": "p4ss"},
        "q": {"type": "quiet", "base_url": "https://quiet.example", "password": "p4ss"}
      },
      "enablements": [
        {"scope": {"level": "call_center", "id": "4716644561813504"}, "connection": "main",
         "default_center_name": "Main", "call_log": {}},
        {"scope": {"level": "company"}, "connection": "q", "screen_pop": false}
      ]
    })
}

fn errors_of(doc: &Value) -> Vec<ConfigError> {
    match Installation::from_value(doc, &TEST_CRMS) {
        Ok(_) => Vec::new(),
        Err(ConfigErrors(e)) => e,
    }
}

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
fn each_crm_reads_its_own_part() {
    let inst = Installation::from_value(&valid(), &TEST_CRMS).unwrap();
    assert_eq!(
        inst.connections["main"].kind, "plain",
        "no type: the first CRM"
    );
    assert_eq!(inst.connections["q"].kind, "quiet");
    let main = inst.connections["main"]
        .settings::<PlainConnection>()
        .unwrap();
    assert_eq!(main.url, "https://crm.example");
    let e = &inst.enablements[0];
    assert_eq!(
        e.settings::<PlainSettings>()
            .and_then(|s| s.center.as_deref()),
        Some("Main")
    );
    assert!(e.logs_calls() && e.screen_pop, "pops by default");
    assert!(!inst.enablements[1].logs_calls());
    let paths: Vec<String> = inst.secret_refs().into_iter().map(|(p, _)| p).collect();
    assert!(paths.contains(&"$.connections.main.password".to_owned()));
    assert!(paths.contains(&"$.connections.q.password".to_owned()));
    assert_eq!(inst.clone(), inst, "a clone is equal");
}

#[test]
fn another_crms_key_is_refused_with_whose_it_is() {
    assert_rejected(
        |d| d["enablements"][1]["default_center_name"] = json!("Main"),
        "$.enablements[1].default_center_name",
        "applies to plain connections only; this enablement's connection is a quiet one",
    );
    assert_rejected(
        |d| d["enablements"][0]["quiet_key"] = json!(1),
        "$.enablements[0].quiet_key",
        "applies to quiet connections only",
    );
    assert_rejected(
        |d| d["enablements"][0]["call_log"] = json!({"type": "quiet_log"}),
        "$.enablements[0].call_log.type",
        "is for quiet connections; this enablement's connection is a plain one (plain_log)",
    );
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
}

#[test]
fn a_crm_that_cannot_pop_says_why() {
    let mut doc = valid();
    doc["enablements"][1]
        .as_object_mut()
        .unwrap()
        .remove("screen_pop");
    let inst = Installation::from_value(&doc, &TEST_CRMS).unwrap();
    assert!(!inst.enablements[1].screen_pop, "off by default");
    assert_rejected(
        |d| d["enablements"][1]["screen_pop"] = json!(true),
        "$.enablements[1].screen_pop",
        "is on, but a quiet connection has no screen pop",
    );
}

#[test]
fn a_pop_through_dialpad_needs_the_api_key() {
    assert_rejected(
        |d| {
            d["dialpad"].as_object_mut().unwrap().remove("api_key");
        },
        "$.dialpad.api_key",
        "$.enablements[0] has screen_pop on",
    );
}

#[test]
fn unknown_and_missing_connections() {
    assert_rejected(
        |d| d["connections"]["main"]["type"] = json!("salesforce"),
        "$.connections.main.type",
        "not a CRM this product knows (plain, quiet)",
    );
    assert_rejected(
        |d| d["enablements"][0]["connection"] = json!("other"),
        "$.enablements[0].connection",
        "not defined in $.connections",
    );
    // An invalid connection is reported once, at its own path.
    let mut doc = valid();
    doc["connections"]["main"]["base_url"] = json!("::");
    let errs = errors_of(&doc);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].path, "$.connections.main.base_url");
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
fn webhook_secrets_are_long_enough_and_unsigned_events_need_one() {
    assert_rejected(
        |d| d["dialpad"]["webhook_secrets"] = json!(["fifteen-chars-x"]),
        "$.dialpad.webhook_secrets[0]",
        "16",
    );
    assert_rejected(
        |d| {
            d["dialpad"]["webhook_secrets"] = json!([]);
            d["dialpad"]["allow_unsigned"] = json!(true);
        },
        "$.dialpad.allow_unsigned",
        "webhook secret",
    );
}

#[test]
fn api_urls_are_https_except_to_loopback_and_never_metadata() {
    for (url, ok) in [
        ("https://crm.example", true),
        ("http://127.0.0.1:8081", true),
        ("http://localhost:8081", true),
        ("http://[::1]:8081", true),
        ("http://crm.example", false),
        ("http://10.0.0.5", false),
        ("https://169.254.169.254/latest/meta-data", false),
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
            let errs = errors_of(&doc);
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
fn secrets_never_show_in_debug_output() {
    let inst = Installation::from_value(&valid(), &TEST_CRMS).unwrap();
    let dbg = format!("{inst:?}");
    assert!(!dbg.contains("s3cret") && !dbg.contains("p4ss"), "{dbg}");
    assert!(dbg.contains("llbridge/dialpad#api_key"));
}

#[test]
fn not_json_is_one_error_at_the_root() {
    let errs = Installation::from_json("{", &TEST_CRMS).unwrap_err().0;
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].path, "$");
}
