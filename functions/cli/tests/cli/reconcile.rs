//! No call unaccounted for: the webhook never receives half of the calls (they exist only in
//! Dialpad's call list), and the reconciler, running every second in `llbridge local`, gets
//! each of them logged once; the delivered ones are not logged again and keep their
//! dispositions; a call of a call center nobody enabled stays unlogged. Then `llbridge report`
//! and `llbridge trace` tell it, as an admin would run them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::Utc;
use llbridge_sandbox::{Dataset, Options, Sandboxes};
use llbridge_tests::events::{Call, CALL_CENTER};
use llbridge_tests::local::{deliver, temp_dir, write_json, LocalHost};
use serde_json::{json, Value};

const SECRET: &str = "reconcile-test-webhook-secret";
/// A call center with no enablement.
const OTHER_CALL_CENTER: &str = "4716644561819999";

fn config(sb: &Sandboxes) -> Value {
    json!({
        "dialpad": {"webhook_secrets": [SECRET], "api_base_url": sb.dialpad_url, "api_key": "sandbox-dialpad-key"},
        "connections": {"main": {"base_url": sb.lineleader_url, "username": "sandbox", "password": "sandbox"}},
        "enablements": [{
            "scope": {"level": "call_center", "id": CALL_CENTER},
            "connection": "main",
            "screen_pop": false,
            "default_center_name": "Oak Park",
            "enable_task_queue": true,
            "call_log": {"type": "phone_log"}
        }]
    })
}

async fn start() -> (Sandboxes, LocalHost, std::path::PathBuf) {
    start_on(false).await
}

/// The sandboxes and `llbridge local` on them, its reconciler every second; on DynamoDB and
/// SQS on moto when `aws`.
async fn start_on(aws: bool) -> (Sandboxes, LocalHost, std::path::PathBuf) {
    let mut data = Dataset::demo(Utc::now());
    data.families.clear();
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let sb = llbridge_sandbox::start(
        local,
        local,
        Options {
            data: Some(data),
            ..Options::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("sandboxes: {e}"));
    let dir = temp_dir("llbridge-reconcile");
    write_json(&dir.join("config.json"), &config(&sb));
    let mut args = vec![
        "--log-delay-secs".to_owned(),
        "1".into(),
        "--reconcile-every-secs".into(),
        "1".into(),
    ];
    if aws {
        let moto = llbridge_tests::moto::shared();
        args.extend([
            "--aws-endpoint".into(),
            moto.endpoint().to_owned(),
            "--table".into(),
            llbridge_tests::moto::unique("reconcile"),
            "--queue".into(),
            llbridge_tests::moto::unique("reconcile-jobs"),
        ]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut host = LocalHost::new(
        env!("CARGO_BIN_EXE_llbridge"),
        &dir.join("config.json"),
        dir.join("host.log"),
        &args,
    );
    host.spawn();
    host.wait_ready().await;
    (sb, host, dir)
}

fn call(i: u64) -> Call {
    Call::new(
        100 + i,
        &format!("+1650999{i:04}"),
        Utc::now().timestamp_millis() - 300_000,
    )
}

/// Phone logs by the Dialpad call id they carry.
fn logs(sb: &Sandboxes) -> BTreeMap<String, Vec<(u64, String)>> {
    let mut out: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for p in sb.lineleader.state().data.phone_logs {
        out.entry(p.external_call_id)
            .or_default()
            .push((p.id, p.disposition));
    }
    out
}

async fn wait_for(what: &str, host: &LocalHost, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: not within 60 s; the host's log ends with:\n{}",
            host.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calls_the_webhook_missed_are_logged_once_and_reported() {
    the_missed_calls_are_logged_once_and_reported(false).await;
}

/// The same on DynamoDB and SQS (moto): delays and redeliveries are real, and a merge can
/// wait behind a log job; every disposition the webhook acknowledged is still in its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_and_sqs_the_calls_the_webhook_missed_are_logged_once_and_reported() {
    the_missed_calls_are_logged_once_and_reported(true).await;
}

async fn the_missed_calls_are_logged_once_and_reported(aws: bool) {
    let (sb, host, dir) = start_on(aws).await;
    let url = host.webhook_url();
    let calls: Vec<Call> = (0..20).map(call).collect();
    let (delivered, missed) = calls.split_at(10);
    for c in delivered {
        let mut events = vec![c.agent("ringing", 200), c.agent("connected", 5_100)];
        events.push(c.dispositions(&["Follow-Up Needed"], 296_000));
        events.push(c.agent("hangup", 295_050));
        events.push(c.cc_hangup(295_200));
        for e in &events {
            deliver(&url, e, SECRET).await;
        }
    }
    wait_for("the delivered calls logged", &host, || {
        logs(&sb).len() == 10
    })
    .await;
    // Dialpad's call list has every call, the delivered ones too, and one of a call center
    // nobody enabled.
    let mut other = call(99);
    other.call_center = OTHER_CALL_CENTER.into();
    for c in calls.iter().chain([&other]) {
        for leg in c.protos() {
            sb.dialpad.add_call(leg);
        }
    }
    wait_for("the missed calls recovered", &host, || {
        logs(&sb).len() == 20
    })
    .await;
    // A few more passes: nothing more may happen.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let logs = logs(&sb);
    assert_eq!(logs.len(), 20, "{logs:?}");
    for c in delivered {
        let mine = &logs[&c.cc_leg.to_string()];
        assert_eq!(mine.len(), 1, "delivered {}: {mine:?}", c.cc_leg);
        assert_eq!(mine[0].1, "Follow-Up Needed", "the disposition is kept");
    }
    for c in missed {
        let mine = &logs[&c.cc_leg.to_string()];
        assert_eq!(mine.len(), 1, "missed {}: {mine:?}", c.cc_leg);
    }
    assert!(!logs.contains_key(&other.cc_leg.to_string()), "not enabled");
    // A pass on demand finds nothing left to do.
    let pass = host.cli(&["reconcile", "--since", "1h", "--url", &host.url()]);
    assert!(
        stdout(&pass).contains("42 leg(s) listed") && stdout(&pass).contains(": 0 fed"),
        "{}",
        stdout(&pass)
    );

    let report = host.cli(&["report", "--json", "--since", "1h", "--url", &host.url()]);
    assert!(report.status.success(), "{}", stdout(&report));
    let r: Value = serde_json::from_str(&stdout(&report)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r["calls"], 20, "{r}");
    assert_eq!(
        (&r["logged"], &r["recovered"]),
        (&json!(20), &json!(10)),
        "{r}"
    );
    assert_eq!(r["dropped"], json!({}));
    for k in ["failed", "pending", "needs_review", "dead_letters"] {
        assert_eq!(r[k], 0, "{k}: {r}");
    }
    // `llbridge console --url` against the running `llbridge local`, as README shows: a URL
    // that works once, whose session shows the report's numbers.
    if !aws {
        let console = host.cli(&["console", "--url", &host.url()]);
        let printed = stdout(&console);
        assert!(console.status.success(), "{printed}");
        let url = printed
            .split_whitespace()
            .find(|w| w.contains("/_llbridge/console?token="))
            .unwrap_or_else(|| panic!("no console URL in: {printed}"))
            .to_owned();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let cookie = llbridge_tests::console::trade(&http, &url).await;
        let overview = http
            .get(format!("{}/_llbridge/console/?period=24h", host.url()))
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .text()
            .await
            .unwrap_or_default();
        assert!(overview.contains("<b>20</b>calls"), "{overview}");
        assert!(overview.contains("<b>10</b>recovered"), "{overview}");
        assert_eq!(
            http.get(&url)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .status()
                .as_u16(),
            401,
            "the URL works once"
        );
    }
    let text = host.cli(&["report", "--since", "1h", "--url", &host.url()]);
    assert!(
        stdout(&text).contains("20 logged (10 recovered by reconciliation)")
            && stdout(&text).contains("0 unaccounted for"),
        "{}",
        stdout(&text)
    );

    // Any leg of a recovered call tells how it was logged.
    let recovered = &missed[0];
    let trace = host.cli(&[
        "trace",
        &recovered.agent_leg.to_string(),
        "--json",
        "--url",
        &host.url(),
    ]);
    assert!(trace.status.success(), "{}", stdout(&trace));
    let t: Value = serde_json::from_str(&stdout(&trace)).unwrap_or_else(|e| panic!("{e}"));
    let ledger = &t["ledger"];
    assert_eq!(ledger["decision"], "recovered_by_reconciliation", "{t}");
    assert_eq!(ledger["source"], "reconciliation");
    let log = &logs[&recovered.cc_leg.to_string()][0];
    assert_eq!(ledger["effects"]["phone_log_id"], log.0.to_string(), "{t}");
    let family = ledger["family"]["id"].as_str().unwrap_or_default();
    let created = sb.lineleader.state().data.families;
    let fam = created.iter().find(|f| f.id.to_string() == family);
    assert_eq!(
        fam.map(|f| f.phone.as_str()),
        Some(&recovered.caller[2..]),
        "{t}"
    );
    let text = host.cli(&["trace", &recovered.cc_leg.to_string(), "--url", &host.url()]);
    let text = stdout(&text);
    assert!(
        text.contains("recovered_by_reconciliation") && text.contains("phone_log"),
        "{text}"
    );
    assert!(
        !text.contains(&recovered.caller[2..]),
        "numbers masked: {text}"
    );
    drop(host);
    sb.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_hangup_the_webhook_lost_ends_logged() {
    let (sb, host, dir) = start().await;
    let c = call(0);
    // The webhook hears the ring, then goes down: the hangups never arrive.
    deliver(&host.webhook_url(), &c.agent("ringing", 200), SECRET).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(logs(&sb).is_empty());
    for leg in c.protos() {
        sb.dialpad.add_call(leg);
    }
    wait_for("the call logged", &host, || logs(&sb).len() == 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(logs(&sb).len(), 1, "once");
    let trace = host.cli(&[
        "trace",
        &c.cc_leg.to_string(),
        "--json",
        "--url",
        &host.url(),
    ]);
    let t: Value = serde_json::from_str(&stdout(&trace)).unwrap_or_else(|e| panic!("{e}"));
    // The webhook delivered the ring: not a call it missed, though the reconciler ended it.
    assert_eq!(t["ledger"]["decision"], "logged", "{t}");
    assert_eq!(t["ledger"]["source"], "webhook", "{t}");
    let states: Vec<&str> = t["legs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["events"].as_array().into_iter().flatten())
        .filter_map(|e| e["state"].as_str())
        .collect();
    assert!(
        states.contains(&"ringing"),
        "the delivered ring merged: {states:?}"
    );
    drop(host);
    sb.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// `report`, `trace` and `dlq` against a stack's table and queues (DynamoDB and SQS on moto),
/// as an admin runs them with the stack's outputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_trace_and_dlq_read_a_deployed_stack() {
    use llbridge_aws::{DynamoStore, SqsQueue};
    use llbridge_tests::moto;
    use llbridge_usecases::jobs::{JobKind, JobMessage};
    use llbridge_usecases::ports::{GivenUp, Queue, SystemClock};
    use llbridge_usecases::{ledger, state};

    let m = moto::shared();
    let sdk = m.sdk_config().await;
    let table = moto::unique("cli-ledger");
    moto::create_table(&sdk, &table).await;
    let queues = llbridge_aws::provision::ensure_queues(
        &aws_sdk_sqs::Client::new(&sdk),
        &moto::unique("cli-jobs"),
        30,
        60,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let store = DynamoStore::new(&sdk, table.clone());
    let rec = llbridge_usecases::ports::Records {
        store: &store,
        clock: &SystemClock,
    };
    // One conversation, merged and logged, as the worker leaves it.
    let c = call(7);
    for e in [c.agent("connected", 5_100), c.cc_hangup(295_200)] {
        let e = llbridge_domain::CallEvent::from_value(&e).unwrap_or_else(|e| panic!("{e}"));
        state::merge_event(rec, &e, llbridge_usecases::jobs::Source::Webhook)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let conv = state::load(&store, &c.cc_leg.to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("merged"));
    let now = Utc::now().timestamp_millis();
    let (anchor, _) = ledger::anchor_and_open(
        rec,
        &conv,
        Some("call_center:x"),
        llbridge_usecases::jobs::Source::Webhook,
        now,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    ledger::settle(
        rec,
        &anchor,
        ledger::Settled {
            effects: Some(json!({"phone_log_id": "9001"})),
            ..ledger::Settled::new(llbridge_usecases::outcome::Decision::Logged)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    // And jobs given up: this call's, and 24 others (more than a receive brings).
    let sqs = SqsQueue::new(&sdk, queues.queue_url.clone())
        .with_dead_letter_queue(queues.dead_letter_url.clone());
    for (i, event) in std::iter::once(c.cc_hangup(295_200))
        .chain((0..24).map(|i| call(200 + i).cc_hangup(295_200)))
        .enumerate()
    {
        let raw = serde_json::value::to_raw_value(&event).unwrap_or_else(|e| panic!("{e}"));
        let body = JobMessage::new(JobKind::CallLog, raw, now).to_json();
        sqs.dead_letter(
            &body,
            &GivenUp {
                reason: "transient_failure".into(),
                detail: "LineLeader down".into(),
                deliveries: if i == 0 { 29 } else { 28 },
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }

    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_llbridge"))
            .args(args)
            .env("AWS_ENDPOINT_URL", m.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .output()
            .unwrap_or_else(|e| panic!("run llbridge: {e}"))
    };
    // The stack named, its table and queues from its outputs.
    let name = crate::stack::stack(
        &table,
        &queues.queue_url,
        &queues.dead_letter_url,
        "llbridge",
    )
    .await;
    let stack = ["--stack", name.as_str()];
    let mut args = vec!["report", "--json", "--since", "1h"];
    args.extend(stack);
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (&r["calls"], &r["logged"], &r["dead_letters"]),
        (&json!(1), &json!(1), &json!(25)),
        "{r}"
    );

    let leg = c.agent_leg.to_string();
    let out = run(&["trace", &leg, "--table", &table]);
    assert!(
        stdout(&out).contains("outcome: logged") && stdout(&out).contains("9001"),
        "{}",
        stdout(&out)
    );

    let mut args = vec!["dlq", "list"];
    args.extend(stack);
    let out = run(&args);
    let text = stdout(&out);
    assert!(
        text.contains(&c.cc_leg.to_string())
            && text.contains("transient_failure")
            && text.contains("29 deliveries"),
        "{text}"
    );
    let mut args = vec!["dlq", "replay", "--all"];
    args.extend(stack);
    let out = run(&args);
    assert!(
        stdout(&out).contains("25 job(s) back in the job queue"),
        "the queue drained: {}",
        stdout(&out)
    );
    let entry = ledger::get(&store, &anchor)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        entry.map(|e| e.replays),
        Some(1),
        "the ledger shows the replay"
    );
    let depth = moto::queue_depth(
        &sdk,
        queues.queue_url.rsplit('/').next().unwrap_or_default(),
    )
    .await;
    assert_eq!(depth.map(|d| d.0), Some(25), "back in the job queue");
}

/// The outage drill: five hours of calls the webhook never received, a slow call list (300 ms
/// a page, five legs a page) whose first page fails twice, passes of 2 s at most. An admin
/// asks for six hours at once; the pass runs out of time and the scheduled ones finish the
/// work: every call logged once, and the report exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outage_drill_five_hours_of_missed_calls_are_logged_once_and_reported_exactly() {
    use llbridge_sandbox::{DialpadConfig, FaultRule, Faults};
    let mut data = Dataset::demo(Utc::now());
    data.families.clear();
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let sb = llbridge_sandbox::start(
        local,
        local,
        Options {
            data: Some(data),
            dialpad: DialpadConfig {
                call_page_size: 5,
                ..DialpadConfig::default()
            },
            dialpad_faults: Faults {
                latency_ms: 300,
                rules: vec![FaultRule::fail("GET", "/api/v2/call", 503, Some(2))],
                ..Faults::default()
            },
            ..Options::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("sandboxes: {e}"));
    let now = Utc::now().timestamp_millis();
    let calls: Vec<Call> = (0..40)
        .map(|i| {
            let t0 = now - 5 * 3_600_000 + i * 7 * 60_000;
            Call::new(500 + i as u64, &format!("+1650333{i:04}"), t0)
        })
        .collect();
    for c in &calls {
        for leg in c.protos() {
            sb.dialpad.add_call(leg);
        }
    }
    let dir = temp_dir("llbridge-drill");
    write_json(&dir.join("config.json"), &config(&sb));
    let mut host = LocalHost::new(
        env!("CARGO_BIN_EXE_llbridge"),
        &dir.join("config.json"),
        dir.join("host.log"),
        &[
            "--log-delay-secs",
            "1",
            "--reconcile-every-secs",
            "1",
            "--reconcile-budget-secs",
            "2",
        ],
    );
    host.spawn();
    host.wait_ready().await;
    let asked = host.cli(&["reconcile", "--since", "6h", "--url", &host.url()]);
    assert!(asked.status.success(), "{}", stdout(&asked));
    let started = Instant::now();
    while logs(&sb).len() < calls.len() && started.elapsed() < Duration::from_secs(150) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A few more passes: nothing more may happen.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let logs = logs(&sb);
    for c in &calls {
        let mine = logs.get(&c.cc_leg.to_string()).map_or(0, Vec::len);
        assert_eq!(
            mine,
            1,
            "call {} logged once; {}",
            c.cc_leg,
            host.log_tail()
        );
    }
    assert_eq!(logs.len(), calls.len());
    let report = host.cli(&["report", "--json", "--since", "6h", "--url", &host.url()]);
    assert!(report.status.success(), "{}", stdout(&report));
    let r: Value = serde_json::from_str(&stdout(&report)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (&r["calls"], &r["logged"], &r["recovered"]),
        (&json!(40), &json!(40), &json!(40)),
        "{r}"
    );
    assert_eq!(r["dropped"], json!({}));
    for k in ["failed", "pending", "needs_review", "dead_letters"] {
        assert_eq!(r[k], 0, "{k}: {r}");
    }
    // The passes ran out of time and said so.
    let log = std::fs::read_to_string(dir.join("host.log")).unwrap_or_default();
    assert!(
        log.contains("\"decision\":\"truncated\""),
        "a pass stopped with calls left"
    );
    drop(host);
    sb.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
