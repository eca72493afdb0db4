//! Ring to pop: from the webhook POST of a ringing event to the Dialpad screen-pop request for a
//! known family, through the local host (its worker woken by the queue, no polling). The floor,
//! measured the same way in the same run, interleaved: one client doing the two round trips the
//! pop needs (the LineLeader family search, then the Dialpad pop), nothing else.

use std::time::Duration;

use chrono::Utc;
use llbridge_local_host::{Host, Options};
use llbridge_sandbox::Faults;
use llbridge_tests::configs::{self, CALL_CENTER};
use llbridge_tests::events::Call;
use llbridge_tests::scenario::{data, family};
use llbridge_tests::webhook::sign;
use serde_json::{json, Value};

use crate::{percentile, sorted, Args};

const CALLER: &str = "+14158159602";

/// Epoch milliseconds, with the fraction.
fn now_ms() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1000.0
}

pub async fn start_host(overrides: Value) -> Host {
    let doc = configs::document(
        vec![configs::enablement(
            "call_center",
            Some(CALL_CENTER),
            overrides,
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
        vec![family(
            1001,
            "(415) 815-9602",
            101,
            1,
            now - chrono::Duration::days(3),
        )],
    ));
    // Pops are limited per agent: every call rings another agent.
    opts.sandbox.dialpad.pops_per_minute = usize::MAX;
    llbridge_local_host::start(opts)
        .await
        .unwrap_or_else(|e| panic!("host: {e}"))
}

/// Waits for the `n`-th Dialpad request; returns when it arrived (epoch ms).
async fn arrival(host: &Host, n: usize) -> f64 {
    let dialpad = &host.sandboxes.as_ref().expect("sandboxes").dialpad;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(r) = dialpad.requests().get(n - 1) {
            return r.at_ms as f64;
        }
        assert!(std::time::Instant::now() < deadline, "no pop");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

pub async fn run(args: &Args) {
    let calls = args.num("calls", 100) as usize;
    let latency = args.num("latency-ms", 0);
    let host = start_host(json!({"enable_task_queue": false, "screen_pop": true})).await;
    let sb = host.sandboxes.as_ref().expect("sandboxes");
    let faults = Faults {
        latency_ms: latency,
        ..Faults::default()
    };
    sb.lineleader.set_faults(faults.clone());
    sb.dialpad.set_faults(faults);

    let http = reqwest::Client::new();
    let webhook = host.webhook_url();
    let ll = format!("{}/api/v3", sb.lineleader_url);
    let token = crate::lineleader_token(&http, &ll).await;

    let mut product = Vec::new();
    let mut floor = Vec::new();
    let mut n = 0;
    let warmup = 5;
    for i in 0..(calls + warmup) {
        // The product: a ringing event for a new agent.
        let mut call = Call::new(i as u64 + 1, CALLER, Utc::now().timestamp_millis());
        call.agent_id = 5_150_000_000_000_001 + i as u64;
        let body = sign(&call.agent("ringing", 200));
        let sent = now_ms();
        let status = http
            .post(&webhook)
            .body(body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        assert_eq!(status, 200, "webhook");
        n += 1;
        let at = arrival(&host, n).await;
        if i >= warmup {
            product.push(at - sent);
        }

        // The floor: the search, then the pop, one client, nothing else.
        let sent = now_ms();
        let found = http
            .get(format!("{ll}/families/search"))
            .query(&[("phone", "4158159602")])
            .bearer_auth(&token)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("search: {e}"));
        let _ = found.bytes().await;
        let popped = http
            .post(format!(
                "{}/api/v2/users/{}/screenpop",
                sb.dialpad_url,
                6_150_000_000_000_001 + i as u64
            ))
            .bearer_auth("sandbox-dialpad-key")
            .json(&json!({"screen_pop_uri": "https://app.lineleader.test/#/families/1001"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("pop: {e}"));
        let _ = popped.bytes().await;
        n += 1;
        let at = arrival(&host, n).await;
        if i >= warmup {
            floor.push(at - sent);
        }
    }
    let (product, floor) = (sorted(product), sorted(floor));
    let (p50, f50) = (percentile(&product, 50.0), percentile(&floor, 50.0));
    println!("ring to pop, sandbox latency {latency} ms per request, {calls} calls (interleaved with the floor):");
    println!(
        "  product: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
        p50,
        percentile(&product, 90.0),
        percentile(&product, 99.0)
    );
    println!(
        "  floor (search + pop, one client): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
        f50,
        percentile(&floor, 90.0),
        percentile(&floor, 99.0)
    );
    println!(
        "  product - floor at p50: {:.1} ms (target <= 5 ms); ratio {:.2}",
        p50 - f50,
        p50 / f50.max(0.001)
    );
    host.stop().await;
}
