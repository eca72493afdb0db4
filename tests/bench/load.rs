//! The local host's webhook under `wrk` (Debian's package) on 127.0.0.1, with the worker
//! running: events per second, latency percentiles, and every accepted event counted in the
//! ledger afterwards. Each event is the end of a different call, signed beforehand; `wrk`'s
//! Lua script sends each once and stops its thread when its share is sent.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use llbridge_tests::events::Call;
use llbridge_tests::local::temp_dir;
use llbridge_tests::webhook::sign;
use serde_json::json;

use crate::pop::start_host;
use crate::Args;

const SCRIPT: &str = r#"
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
local bodies = {}
local sent = 0
function init(args)
  local threads = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % threads == id then bodies[#bodies + 1] = line end
    i = i + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/jwt"
end
function request()
  sent = sent + 1
  local body = bodies[math.min(sent, #bodies)]
  return wrk.format(nil, nil, nil, body)
end
function response(status, headers, body)
  if sent >= #bodies then wrk.thread:stop() end
end
"#;

pub async fn run(args: &Args) {
    let seconds = args.num("seconds", 20).min(30);
    let connections = args.num("connections", 32);
    let threads = args.num("threads", 1);
    let events = args.num("events", 60_000);
    let dir = temp_dir("llbridge-load");
    let bodies = dir.join("bodies.txt");
    let script = dir.join("load.lua");
    let t0 = Utc::now().timestamp_millis() - 300_000;
    {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(&bodies).unwrap_or_else(|e| panic!("bodies: {e}")),
        );
        for seed in 1..=events {
            let call = Call::new(seed, "+14158159602", t0);
            writeln!(f, "{}", sign(&call.cc_hangup(295_200)))
                .unwrap_or_else(|e| panic!("bodies: {e}"));
        }
    }
    std::fs::write(&script, SCRIPT).unwrap_or_else(|e| panic!("script: {e}"));

    // The seed's default: call logs wait 3 minutes in the queue, pops off (no agent rings).
    let host = start_host(json!({"screen_pop": false})).await;
    let url = host.webhook_url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("wrk")
            .args([
                "--latency",
                "-t",
                &threads.to_string(),
                "-c",
                &connections.to_string(),
                "-d",
                &format!("{seconds}s"),
                "-s",
            ])
            .arg(&script)
            .arg(&url)
            .arg("--")
            .arg(&bodies)
            .arg(threads.to_string())
            .output()
    })
    .await
    .unwrap_or_else(|e| panic!("wrk: {e}"))
    .unwrap_or_else(|e| panic!("wrk (apt-get install wrk): {e}"));
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    let non_2xx: u64 = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    // The worker merges every accepted event and opens its call's ledger record; the call
    // logs themselves wait their 3 minutes.
    let drained = host
        .settle(Duration::from_secs(60), Duration::from_secs(120))
        .await;
    let entries = llbridge_usecases::ledger::between(
        host.store.as_ref(),
        t0 - 3_600_000,
        Utc::now().timestamp_millis() + 3_600_000,
    )
    .await
    .unwrap_or_else(|e| panic!("ledger: {e}"));
    println!(
        "events signed: {events}; non-2xx answers: {non_2xx}; worker drained: {drained}; calls in the ledger: {}; jobs left (call logs due later): {}",
        entries.len(),
        host.pending().await
    );
    host.stop().await;
}
