//! Routing while the phone rings: the answer of `/dialpad/route/<name>` on the local host, from
//! the POST of a signed request to its answer, side by side in one run, interleaved:
//!
//! * a repeat caller (a known family whose owner the router holds: no LineLeader request);
//! * a first-time caller (a known family never routed: one family search, then the centers,
//!   cached);
//! * the floor: one client doing only the family search.
//!
//! Then, with LineLeader's family search stalled, how long the fallback takes against the
//! entry's deadline.

use std::time::{Duration, Instant};

use chrono::Utc;
use llbridge_domain::config::{RouteEntry, SecretRef, Target};
use llbridge_local_host::{Host, Options};
use llbridge_sandbox::{FaultRule, Faults};
use llbridge_tests::configs::{self, CALL_CENTER};
use llbridge_tests::scenario::{data, family};
use llbridge_tests::webhook::sign_with;
use serde_json::{json, Value};

use crate::{percentile, sorted, Args};

const SECRET: &str = "bench-router-secret-0123456789abcdef0123";

fn caller(i: usize) -> String {
    format!("+1415816{:04}", i)
}

async fn start_host(families: usize, latency: u64, deadline_ms: u64) -> Host {
    let doc = configs::document(
        vec![configs::enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"enable_task_queue": false}),
        )],
        "sandbox",
        "sandbox",
    );
    let mut opts = Options::new(
        configs::installation(&doc),
        "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
    );
    let now = Utc::now();
    opts.sandbox.data = Some(data(
        now,
        (0..families)
            .map(|i| {
                family(
                    2000 + i as u64,
                    &caller(i),
                    101,
                    1,
                    now - chrono::Duration::days(3),
                )
            })
            .collect(),
    ));
    opts.installation.routing.insert(
        "enrollment".into(),
        RouteEntry {
            secret: SecretRef::Literal(SECRET.into()),
            connection: "main".into(),
            office_id: "5630409049792512".into(),
            fallback: Target {
                target_type: "callcenter".into(),
                target_id: "4716644561813504".into(),
            },
            centers: [(
                "Oak Park".to_owned(),
                Target {
                    target_type: "callcenter".into(),
                    target_id: "4716644561813601".into(),
                },
            )]
            .into(),
            prefer_last_agent: false,
            last_agent_days: 30,
            deadline_ms,
        },
    );
    let host = llbridge_local_host::start(opts)
        .await
        .unwrap_or_else(|e| panic!("host: {e}"));
    if let Some(sb) = &host.sandboxes {
        sb.lineleader.set_faults(Faults {
            latency_ms: latency,
            ..Faults::default()
        });
    }
    host
}

/// One routing request; its answer and how long it took (ms).
async fn route(http: &reqwest::Client, url: &str, call_id: u64, number: &str) -> (Value, f64) {
    let body = sign_with(
        &json!({"call_id": call_id, "external_number": number,
            "exp": Utc::now().timestamp() + 60}),
        SECRET,
    );
    let sent = Instant::now();
    let answer: Value = http
        .post(url)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("route: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("route: {e}"));
    (answer, sent.elapsed().as_secs_f64() * 1000.0)
}

fn line(name: &str, v: &[f64]) -> String {
    format!(
        "{name}: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        percentile(v, 50.0),
        percentile(v, 90.0),
        percentile(v, 99.0)
    )
}

pub async fn run(args: &Args) {
    let calls = args.num("calls", 200) as usize;
    let latency = args.num("latency-ms", 0);
    let host = start_host(calls + 10, latency, 1500).await;
    let sb = host.sandboxes.as_ref().expect("sandboxes");
    let http = reqwest::Client::new();
    let url = format!("http://{}/dialpad/route/enrollment", host.addr);
    let ll = format!("{}/api/v3", sb.lineleader_url);
    let token = crate::lineleader_token(&http, &ll).await;

    // The repeat caller, routed once before the run.
    let repeat = caller(calls + 5);
    let (first, _) = route(&http, &url, 1, &repeat).await;
    assert_eq!(first["target_id"], "4716644561813601", "{first}");
    let searches = || {
        sb.lineleader
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/families/search"))
            .count()
    };
    let (mut warm, mut new, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    let warmup = 5;
    let searches_before = searches();
    let mut warm_searches = 0;
    for i in 0..(calls + warmup) {
        let before = searches();
        let (a, ms) = route(&http, &url, 100 + i as u64, &repeat).await;
        assert_eq!(a["target_id"], "4716644561813601", "{a}");
        warm_searches += searches() - before;
        if i >= warmup {
            warm.push(ms);
        }
        let (a, ms) = route(&http, &url, 10_000 + i as u64, &caller(i)).await;
        assert_eq!(a["target_id"], "4716644561813601", "{a}");
        if i >= warmup {
            new.push(ms);
        }
        let sent = Instant::now();
        let found = http
            .get(format!("{ll}/families/search"))
            .query(&[("phone", caller(i).trim_start_matches("+1").to_owned())])
            .bearer_auth(&token)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("search: {e}"));
        let _ = found.bytes().await;
        if i >= warmup {
            floor.push(sent.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let (warm, new, floor) = (sorted(warm), sorted(new), sorted(floor));
    println!("router answer, sandbox latency {latency} ms per request, {calls} calls each (interleaved):");
    println!("  {}", line("repeat caller (owner held)", &warm));
    println!("  {}", line("first-time caller          ", &new));
    println!("  {}", line("floor (the family search)  ", &floor));
    for (name, v) in [("repeat", &warm), ("first-time", &new)] {
        println!(
            "  {name} - floor: p50 {:+.2} ms (target <= +2), p99 {:+.2} ms (target <= +5)",
            percentile(v, 50.0) - percentile(&floor, 50.0),
            percentile(v, 99.0) - percentile(&floor, 99.0)
        );
    }
    println!(
        "  LineLeader searches for {} repeat calls: {warm_searches} (all searches in the run: {})",
        calls + warmup,
        searches() - searches_before
    );
    host.stop().await;

    // LineLeader stalled: the fallback at the deadline.
    let deadline = args.num("deadline-ms", 1500);
    let stalled = start_host(20, 0, deadline).await;
    if let Some(sb) = &stalled.sandboxes {
        sb.lineleader.set_faults(Faults {
            rules: vec![FaultRule::slow_answer("GET", "/families/search", 10_000)],
            ..Faults::default()
        });
    }
    let url = format!("http://{}/dialpad/route/enrollment", stalled.addr);
    let mut times = Vec::new();
    for i in 0..10 {
        let (a, ms) = route(&http, &url, 20_000 + i, &caller(i as usize)).await;
        assert_eq!(a["target_id"], "4716644561813504", "the fallback: {a}");
        times.push(ms);
    }
    let times = sorted(times);
    println!(
        "LineLeader stalled (its search answers after 10 s), deadline {deadline} ms, 10 calls: fallback answered in p50 {:.1} ms, max {:.1} ms (target <= deadline + 50 = {} ms)",
        percentile(&times, 50.0),
        times.last().copied().unwrap_or(f64::NAN),
        deadline + 50
    );
    stalled.stop().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}
