//! The webhook's answer, event by event, for whole calls: each call's five events (the ring,
//! the answer, the agent's and the call center's hangups, the disposition) posted in order,
//! one call after the other, to the local host with its worker running; on the embedded
//! adapters, or on DynamoDB and SQS on moto (`--aws`). Prints the answer latency by state
//! and the jobs (queue messages, worker invocations) per call once the worker is done.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use llbridge_local_host::Options;
use llbridge_tests::configs::{self, CALL_CENTER};
use llbridge_tests::events::Call;
use llbridge_tests::scenario::{data, family};
use llbridge_tests::webhook::sign;
use serde_json::json;

use crate::{percentile, sorted, Args};

pub async fn run(args: &Args) {
    let calls = args.num("calls", 200);
    let aws = args.flags_has("aws");
    let doc = configs::document(
        vec![configs::enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"enable_task_queue": true, "screen_pop": true}),
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
    opts.sandbox.dialpad.pops_per_minute = usize::MAX;
    opts.log_delay = Duration::from_secs(1);
    if aws {
        llbridge_tests::aws::use_aws_adapters(&mut opts).await;
    }
    let host = llbridge_local_host::start(opts)
        .await
        .unwrap_or_else(|e| panic!("host: {e}"));
    let http = reqwest::Client::new();
    let url = host.webhook_url();
    let mut by_state: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut all = Vec::new();
    let warmup = 5;
    for i in 0..calls + warmup {
        let mut c = Call::new(
            i + 1,
            "+14158159602",
            Utc::now().timestamp_millis() - 300_000,
        );
        c.agent_id = 5_150_000_000_000_001 + i;
        let events = [
            ("ringing", c.agent("ringing", 200)),
            ("connected", c.agent("connected", 5_100)),
            ("agent hangup", c.agent("hangup", 295_050)),
            ("cc hangup", c.cc_hangup(295_200)),
            (
                "dispositions",
                c.dispositions(&["Follow-Up Needed"], 296_000),
            ),
        ];
        for (state, e) in events {
            let body = sign(&e);
            let sent = Instant::now();
            let status = http
                .post(&url)
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            let ms = sent.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(status, 200, "webhook");
            if i >= warmup {
                by_state.entry(state).or_default().push(ms);
                all.push(ms);
            }
        }
    }
    // Every job run: the queue empty for three seconds (delayed jobs included).
    let started = Instant::now();
    let mut empty_since: Option<Instant> = None;
    while empty_since.is_none_or(|t| t.elapsed() < Duration::from_secs(3)) {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the queue did not drain"
        );
        if host.pending().await == 0 {
            empty_since.get_or_insert_with(Instant::now);
        } else {
            empty_since = None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let jobs = host.reports().len() as f64 / (calls + warmup) as f64;
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for r in host.reports() {
        *kinds.entry(r.job_name()).or_default() += 1;
    }
    println!(
        "webhook answers, {calls} calls x 5 events, {} adapters:",
        if aws { "AWS (moto)" } else { "embedded" }
    );
    let all = sorted(all);
    println!(
        "  all events: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        percentile(&all, 50.0),
        percentile(&all, 90.0),
        percentile(&all, 99.0)
    );
    for (state, v) in by_state {
        let v = sorted(v);
        println!(
            "  {state:>12}: p50 {:.2} ms, p99 {:.2} ms",
            percentile(&v, 50.0),
            percentile(&v, 99.0)
        );
    }
    println!(
        "  jobs per call: {jobs:.2} ({kinds:?} for {} calls)",
        calls + warmup
    );
    host.stop().await;
}
