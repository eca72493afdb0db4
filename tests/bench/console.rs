//! The console over a day of the peak center: `--calls` (10,000) calls spread over 22 of the
//! last 24 hours in the ledger (most logged, some dropped, failed or held for review, each with
//! its agent and family), then the overview of the day (and of 7 days) and the first page of
//! its calls,
//! each requested `--runs` (10) times through the local host as a signed-in browser does.
//! On the embedded store, or on DynamoDB on moto (`--aws`).
//!
//! Prints each page's render time (p50 and the slowest), and, for comparison, reading the
//! day record by record (what the overview did before the index carried rows).

use std::time::Instant;

use chrono::Utc;
use std::collections::BTreeMap;

use chrono::TimeZone;
use futures_util::StreamExt;
use llbridge_local_host::Options;
use llbridge_tests::configs::{self, CALL_CENTER};
use llbridge_usecases::jobs::Source;
use llbridge_usecases::ledger::{self, Entry};
use llbridge_usecases::outcome::Decision;
use llbridge_usecases::ports::Condition;
use serde_json::json;

use crate::{percentile, sorted, Args};

pub async fn run(args: &Args) {
    let calls = args.num("calls", 10_000);
    let runs = args.num("runs", 10).max(1);
    let aws = args.flags_has("aws");
    let doc = configs::document(
        vec![configs::enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"enable_task_queue": true, "screen_pop": false}),
        )],
        "sandbox",
        "sandbox",
    );
    let mut opts = Options::new(
        configs::installation(&doc),
        "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
    );
    if aws {
        llbridge_tests::aws::use_aws_adapters(&mut opts).await;
    }
    let host = llbridge_local_host::start(opts)
        .await
        .unwrap_or_else(|e| panic!("host: {e}"));
    // The day's records, written as the worker leaves them (each call's record, and the
    // hour's rows in the index). They are put directly, not through the worker's
    // transactions: moto copies the whole table for every TransactWriteItems, so a day
    // written that way takes hours on moto (DynamoDB does not).
    let now = Utc::now().timestamp_millis();
    let scope = format!("call_center:{CALL_CENTER}");
    let began = Instant::now();
    let store = host.store.as_ref();
    let mut hours: BTreeMap<String, BTreeMap<String, ledger::Row>> = BTreeMap::new();
    let entries: Vec<Entry> = (0..calls)
        .map(|i| {
            let at = now - 23 * 3_600_000 + (i as i64) * (22 * 3_600_000 / calls.max(1) as i64);
            let id = format!("{}", 7_000_000_000_000_000 + i);
            let (decision, reason) = match i % 100 {
                0..=2 => (Decision::Dropped, Some("family_ambiguous")),
                3 => (Decision::Failed, Some("lineleader_rejected")),
                4 => (Decision::NeedsReview, Some("needs_review")),
                _ => (Decision::Logged, None),
            };
            Entry {
                conversation: id.clone(),
                legs: [id.clone(), format!("{}", 8_000_000_000_000_000 + i)].into(),
                dialpad_call_id: id,
                source: Some(Source::Webhook),
                scope: Some(scope.clone()),
                caller: Some(format!("***{:04}", i % 10_000)),
                direction: Some("inbound".into()),
                agent: Some(format!("Agent {}", i % 200)),
                started_at: Some(at),
                ended_at: Some(at + 295_000),
                opened_at: at + 295_000,
                due_at: Some(at + 475_000),
                decision: Some(decision),
                reason: reason.map(str::to_owned),
                detail: Some(String::new()),
                family: Some(json!({"id": (1_000 + i % 700).to_string(), "rule": "phone"})),
                effects: Some(json!({"phone_log": {"outcome": "created", "id": 50_000 + i}})),
                attempts: 1,
                last_attempt_at: Some(at + 475_000),
                updated_at: at + 475_000,
                ..Entry::default()
            }
        })
        .collect();
    for e in &entries {
        let hour = Utc
            .timestamp_millis_opt(e.started_at.unwrap_or_default())
            .single()
            .unwrap_or_default()
            .format("%Y-%m-%dT%H")
            .to_string();
        hours
            .entry(hour)
            .or_default()
            .insert(e.conversation.clone(), e.row());
    }
    let puts: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                format!("ledger#{}", e.conversation),
                serde_json::to_string(e).unwrap_or_default(),
            )
        })
        .chain(hours.iter().map(|(hour, rows)| {
            (
                format!("ledger#hour#{hour}"),
                serde_json::to_string(rows).unwrap_or_default(),
            )
        }))
        .collect();
    let expires = Some(now / 1000 + 24 * 3600);
    futures_util::stream::iter(puts)
        .for_each_concurrent(8, |(key, value)| async move {
            store
                .put(&key, &value, expires, Condition::Any)
                .await
                .unwrap_or_else(|e| panic!("put {key}: {e}"));
        })
        .await;
    let store_name = if aws { "DynamoDB (moto)" } else { "embedded" };
    eprintln!(
        "console bench: {calls} calls set up in {:.1} s on the {store_name} store",
        began.elapsed().as_secs_f64()
    );

    let base = format!("http://{}", host.addr);
    let (http, cookie) = llbridge_tests::console::signed_in(&base).await;

    println!("console, {store_name} store, {calls} calls over the last 24 h, {runs} runs each:");
    for (name, path, expect) in [
        (
            "overview of the day",
            "/_llbridge/console/?period=24h",
            format!("<b>{calls}</b>calls"),
        ),
        (
            "overview of 7 days",
            "/_llbridge/console/?period=7d",
            format!("<b>{calls}</b>calls"),
        ),
        (
            "first page of the day's calls",
            "/_llbridge/console/calls?period=24h",
            format!("<p>{calls} call(s)</p>"),
        ),
    ] {
        let mut took = Vec::new();
        for _ in 0..runs {
            let began = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .header(reqwest::header::COOKIE, &cookie)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let status = r.status().as_u16();
            let page = r.text().await.unwrap_or_default();
            took.push(began.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200, "{page}");
            assert!(
                page.contains(&expect),
                "{name}: {expect} not in the page: {page}"
            );
        }
        let took = sorted(took);
        println!(
            "  {name}: p50 {:.0} ms, slowest {:.0} ms",
            percentile(&took, 50.0),
            percentile(&took, 100.0)
        );
    }

    // For comparison: the day read record by record.
    let mut took = Vec::new();
    for _ in 0..runs.min(3) {
        let began = Instant::now();
        let n = ledger::between(
            host.store.as_ref(),
            now - 24 * 3_600_000,
            Utc::now().timestamp_millis(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .len();
        took.push(began.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(n as u64, calls);
    }
    let took = sorted(took);
    println!(
        "  the day's records read one by one (not done by the pages): p50 {:.0} ms",
        percentile(&took, 50.0)
    );
    host.stop().await;
}
