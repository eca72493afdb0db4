//! The reconciler over a busy day: `--calls` calls spread over the last 24 hours, each in
//! Dialpad's call list (two legs: the call center's and the agent's) and already logged, as
//! the webhook leaves them; one pass over the whole day, timed. On the embedded store, or on
//! DynamoDB on moto (`--aws`). The pass paces its pages as deployed (`--pace-ms`, 100) and the
//! call list answers after `--latency-ms` (0) a page of `--page-size` (50) legs.
//!
//! Prints the legs reconciled per second and the passes a 24-hour window of the peak day
//! (section 5 of BENCHMARKS.md: 10,000 calls) needs within a pass's budget on Lambda (the
//! reconciler's 300 s timeout less 20 s).

use std::time::{Duration, Instant};

use chrono::Utc;
use llbridge_domain::CallEvent;
use llbridge_local_host::Options;
use llbridge_sandbox::Faults;
use llbridge_tests::configs::{self, CALL_CENTER};
use llbridge_tests::events::Call;
use llbridge_usecases::jobs::Source;
use llbridge_usecases::ports::{Records, SystemClock};
use llbridge_usecases::{ledger, state};
use serde_json::json;

use crate::Args;

/// The calls of the peak day (BENCHMARKS.md, section 5).
const PEAK_DAY_CALLS: f64 = 10_000.0;
/// What a pass may take on Lambda: its 300 s less the margin it keeps.
const LAMBDA_BUDGET_SECS: f64 = 280.0;

pub async fn run(args: &Args) {
    let calls = args.num("calls", 10_000);
    let aws = args.flags_has("aws");
    let pace = Duration::from_millis(args.num("pace-ms", 100));
    let latency = args.num("latency-ms", 0);
    let page = args.num("page-size", 50) as usize;
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
    opts.reconcile.pace = pace;
    opts.reconcile.budget = Duration::from_secs(3600);
    opts.sandbox.dialpad.call_page_size = page;
    if aws {
        llbridge_tests::aws::use_aws_adapters(&mut opts).await;
    }
    let host = llbridge_local_host::start(opts)
        .await
        .unwrap_or_else(|e| panic!("host: {e}"));
    let sb = host
        .sandboxes
        .as_ref()
        .unwrap_or_else(|| panic!("sandboxes"));
    sb.dialpad.set_faults(Faults {
        latency_ms: latency,
        ..Faults::default()
    });

    // The day: every call in the list, and logged (its legs merged, its ledger settled).
    let now = Utc::now().timestamp_millis();
    let records = Records {
        store: host.store.as_ref(),
        clock: &SystemClock,
    };
    let began = Instant::now();
    for i in 0..calls {
        let t0 = now - 24 * 3_600_000 + (i as i64) * (23 * 3_600_000 / calls.max(1) as i64);
        let c = Call::new(10_000 + i, &format!("+1650{:07}", i), t0);
        let mut conv = None;
        for leg in c.protos() {
            sb.dialpad.add_call(leg.clone());
            let mut e = leg;
            e["event_timestamp"] = json!(t0 + 295_000);
            let event = CallEvent::from_value(&e).unwrap_or_else(|e| panic!("{e}"));
            state::merge_event(records, &event, Source::Webhook)
                .await
                .unwrap_or_else(|e| panic!("merge: {e}"));
            conv = Some(event.call_id);
        }
        let conv = state::load(host.store.as_ref(), &conv.unwrap_or_default())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("merged"));
        let (anchor, _) = ledger::anchor_and_open(records, &conv, None, Source::Webhook, t0)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        ledger::settle(
            records,
            &anchor,
            ledger::Settled::new(llbridge_usecases::outcome::Decision::Logged),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    eprintln!(
        "reconcile bench: {calls} calls set up in {:.1} s",
        began.elapsed().as_secs_f64()
    );

    let began = Instant::now();
    let pass = host
        .reconciler
        .pass(Some(Duration::from_secs(25 * 3600)))
        .await
        .unwrap_or_else(|e| panic!("pass: {e}"));
    let took = began.elapsed().as_secs_f64();
    let rate = pass.legs as f64 / took;
    let legs_per_call = pass.legs as f64 / calls.max(1) as f64;
    let passes = (PEAK_DAY_CALLS * legs_per_call / (rate * LAMBDA_BUDGET_SECS)).ceil();
    println!(
        "reconciler, {} store, {calls} calls over 24 h ({} legs, pages of {page}, pace {} ms, call list latency {latency} ms):",
        if aws { "DynamoDB (moto)" } else { "embedded" },
        pass.legs,
        pace.as_millis()
    );
    println!(
        "  one pass over the day: {took:.1} s, {} pages; {} accounted, {} fed, {} out of scope",
        pass.pages,
        pass.accounted,
        pass.fed.len(),
        pass.out_of_scope
    );
    println!("  legs reconciled per second: {rate:.0}");
    println!(
        "  a 24-hour window of the peak day ({PEAK_DAY_CALLS} calls, {:.0} legs) within {LAMBDA_BUDGET_SECS} s passes: {passes}",
        PEAK_DAY_CALLS * legs_per_call
    );
    host.stop().await;
}
