//! `llbridge doctor --config FILE`: a table of checks with the fix under each failure, exit 1
//! on any failure and 0 when all pass; `--json` for scripts. (Each misconfiguration is covered
//! by the `doctor` suite of the `e2e` binary.)

use std::net::SocketAddr;
use std::process::Command;

use chrono::Utc;
use llbridge_sandbox::{LineLeaderConfig, Sandboxes};
use llbridge_tests::configs::{self, left_voicemail_event_mode, CALL_CENTER};
use llbridge_tests::events::Call;
use llbridge_tests::local::{temp_dir, write_json};
use serde_json::{json, Value};

async fn sandboxes() -> Sandboxes {
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let options = llbridge_sandbox::Options {
        lineleader: LineLeaderConfig {
            username: "llbridge".into(),
            password: "sandbox-password".into(),
            ..LineLeaderConfig::default()
        },
        ..llbridge_sandbox::Options::default()
    };
    let sb = llbridge_sandbox::start(local, local, options)
        .await
        .unwrap_or_else(|e| panic!("sandboxes: {e}"));
    let call = Call::new(1, "+16505550199", Utc::now().timestamp_millis() - 3_600_000);
    sb.dialpad.add_call(call.cc_hangup(300_000));
    sb
}

/// The config of the checks, written to a file.
fn config_file(sb: &Sandboxes, default_staff_email: &str) -> std::path::PathBuf {
    let mut call_log = left_voicemail_event_mode();
    call_log["default_staff_email"] = json!(default_staff_email);
    let enablement = configs::enablement(
        "call_center",
        Some(CALL_CENTER),
        json!({"default_center_name": "Oak Park", "call_log": call_log}),
    );
    let doc = configs::document(vec![enablement], &sb.lineleader_url, &sb.dialpad_url);
    let file = temp_dir("doctor").join("config.json");
    write_json(&file, &doc);
    file
}

fn run(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_llbridge"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run llbridge: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn doctor(sb: &Sandboxes, default_staff_email: &str, json: bool) -> (i32, String) {
    let file = config_file(sb, default_staff_email);
    let mut args = vec!["doctor".as_ref(), "--config".as_ref(), file.as_os_str()];
    if json {
        args.push("--json".as_ref());
    }
    run(&args)
}

fn connect(sb: &Sandboxes) -> (i32, String) {
    let file = config_file(sb, "frontdesk@example.com");
    run(&[
        "dialpad".as_ref(),
        "connect".as_ref(),
        "--config".as_ref(),
        file.as_os_str(),
        "--webhook-url".as_ref(),
        "https://llbridge.example.com/dialpad/events".as_ref(),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialpad_connect_creates_one_webhook_and_one_subscription_and_then_changes_nothing() {
    let sb = sandboxes().await;
    let (code, out) = doctor(&sb, "frontdesk@example.com", false);
    assert_eq!(code, 1, "nothing wired yet: {out}");
    assert!(out.contains("dialpad_subscriptions"), "{out}");
    assert!(out.contains("fix: run `llbridge dialpad connect`"), "{out}");

    let (code, out) = connect(&sb);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("created   webhook https://llbridge.example.com/dialpad/events"),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!("created   subscription callcenter {CALL_CENTER}")),
        "{out}"
    );
    for state in [
        "ringing",
        "hangup",
        "dispositions",
        "recording",
        "recap_summary",
    ] {
        assert!(lines[1].contains(state), "{state}: {out}");
    }

    let (code, again) = connect(&sb);
    assert_eq!(code, 0, "{again}");
    assert_eq!(again.lines().count(), 2, "{again}");
    assert!(again.lines().all(|l| l.starts_with("unchanged")), "{again}");
    assert_eq!(sb.dialpad.webhooks().len(), 1);
    assert_eq!(sb.dialpad.call_subscriptions().len(), 1);
    let hook = &sb.dialpad.webhooks()[0];
    assert_eq!(
        hook["signature"]["secret"], "an-old-webhook-secret",
        "signed with the config's first webhook secret"
    );
    sb.shutdown().await;
}

// Multi-threaded: the sandboxes serve while the test waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_exits_0_when_every_check_passes_and_1_with_the_fix_when_one_fails() {
    let sb = sandboxes().await;
    let (code, out) = connect(&sb);
    assert_eq!(code, 0, "{out}");
    let (code, out) = doctor(&sb, "frontdesk@example.com", false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 failed"), "{out}");
    assert!(out.contains("pass   connection main"), "{out}");

    let (code, out) = doctor(&sb, "nobody@example.com", false);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("fail   enablement call_center:"), "{out}");
    assert!(out.contains("default_staff"), "{out}");
    assert!(
        out.contains("fix: add a staff record with the email nobody@example.com"),
        "{out}"
    );
    assert!(out.contains("1 failed"), "{out}");

    let (code, out) = doctor(&sb, "nobody@example.com", true);
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let failed: Vec<&Value> = v["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["verdict"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert_eq!(failed[0]["check"], "default_staff");
    assert!(failed[0]["fix"].is_string());
    sb.shutdown().await;
}
