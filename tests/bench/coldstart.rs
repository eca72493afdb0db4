//! Cold start: each `bootstrap` is run as Lambda runs it, against a small Lambda Runtime API
//! served here, with DynamoDB, SQS and Secrets Manager on moto. Measured per start: exec → the
//! first `GET /next` (init), exec → the response to a real event, and the peak RSS (VmHWM).
//! The floor (`tests/floor`, the smallest `lambda_runtime` function, same release settings)
//! runs in the same loop, interleaved with the functions.
//!
//! The events: for `ingest`, an API Gateway request carrying a signed Dialpad event; for
//! `worker`, the SQS message that event queued.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use llbridge_aws::DynamoStore;
use llbridge_tests::events::Call;
use llbridge_tests::moto::{self, Moto};
use llbridge_tests::webhook::sign_with;
use serde_json::{json, Value};

use crate::{percentile, sorted, Args};

const WEBHOOK_SECRET: &str = "a-bench-webhook-secret";
const ROUTER_SECRET: &str = "a-bench-router-secret-0123456789abcdef";

/// What the runtime API saw of one start.
#[derive(Default)]
struct Seen {
    event: Value,
    first_poll: Option<Instant>,
    responded: Option<Instant>,
    response: Option<String>,
    polls: usize,
}

type Shared = Arc<Mutex<Seen>>;

async fn next(State(seen): State<Shared>) -> (HeaderMap, String) {
    let (first, event) = {
        let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
        s.polls += 1;
        if s.first_poll.is_none() {
            s.first_poll = Some(Instant::now());
        }
        (s.polls == 1, s.event.clone())
    };
    if !first {
        // The second poll: the function is idle; it is stopped while it waits.
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut h = HeaderMap::new();
    let deadline = Utc::now().timestamp_millis() + 30_000;
    for (k, v) in [
        (
            "lambda-runtime-aws-request-id",
            "bench-request-1".to_owned(),
        ),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
        ),
        ("lambda-runtime-trace-id", "Root=1-bench".to_owned()),
        ("content-type", "application/json".to_owned()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    (h, event.to_string())
}

async fn respond(
    State(seen): State<Shared>,
    Path(_id): Path<String>,
    body: String,
) -> &'static str {
    let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
    s.responded.get_or_insert_with(Instant::now);
    s.response.get_or_insert(body);
    "{}"
}

async fn start_api(seen: Shared) -> SocketAddr {
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(respond),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(respond))
        .route("/2018-06-01/runtime/init/error", post(|| async { "{}" }))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// Peak resident set of a live process, in MB.
fn peak_rss_mb(child: &Child) -> f64 {
    std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

struct Start {
    init_ms: f64,
    response_ms: f64,
    rss_mb: f64,
    response: String,
}

async fn one_start(path: &str, env: &BTreeMap<String, String>, event: &Value) -> Start {
    let seen: Shared = Arc::new(Mutex::new(Seen {
        event: event.clone(),
        ..Seen::default()
    }));
    let api = start_api(seen.clone()).await;
    let exec = Instant::now();
    let mut child = Command::new(path)
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let (first_poll, responded, response) = loop {
        {
            let s = seen.lock().unwrap_or_else(|e| e.into_inner());
            if let (Some(f), Some(r)) = (s.first_poll, s.responded) {
                if s.polls >= 2 {
                    break (f, r, s.response.clone().unwrap_or_default());
                }
            }
        }
        assert!(Instant::now() < deadline, "{path} did not answer its event");
        tokio::time::sleep(Duration::from_micros(500)).await;
    };
    let rss_mb = peak_rss_mb(&child);
    let _ = child.kill();
    let _ = child.wait();
    Start {
        init_ms: (first_poll - exec).as_secs_f64() * 1000.0,
        response_ms: (responded - exec).as_secs_f64() * 1000.0,
        rss_mb,
        response,
    }
}

/// A table with the example config pushed, a queue, and the secret it names.
async fn resources(m: &Moto) -> BTreeMap<String, String> {
    let sdk = m.sdk_config().await;
    let table = moto::unique("bench");
    moto::create_table(&sdk, &table).await;
    let queue = moto::create_queue(&sdk, &moto::unique("bench-jobs")).await;
    moto::create_secret(
        &sdk,
        "llbridge",
        &json!({
            "dialpad_webhook_secret": WEBHOOK_SECRET,
            "dialpad_api_key": "bench-key",
            "lineleader_main_username": "bench",
            "lineleader_main_password": "bench-password",
            "leadsquared_call_log_url": "https://example.com/log",
            "leadsquared_agent_popup_url": "https://example.com/pop",
            "leadsquared_action_key": "a-bench-action-key-0123456789abcdef",
            "router_enrollment_secret": ROUTER_SECRET
        })
        .to_string(),
    )
    .await;
    let config = std::fs::read_to_string(format!(
        "{}/../infra/config/deployed.example.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("config: {e}"));
    let store = DynamoStore::new(&sdk, table.clone());
    if let Err(e) =
        llbridge_usecases::config_store::push(&store, &config, llbridge_crm_registry::crms()).await
    {
        panic!("config push: {e:?}");
    }
    let mut env = BTreeMap::new();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", m.endpoint().to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/bench".to_owned()),
        ("LLBRIDGE_TABLE", table),
        ("LLBRIDGE_QUEUE_URL", queue.clone()),
        ("LLBRIDGE_METRICS_NAMESPACE", "llbridge/bench".to_owned()),
    ] {
        env.insert(k.to_owned(), v);
    }
    env
}

/// API Gateway's HTTP API request for a signed event of the example config's call center:
/// its call-center leg hanging up, which queues a merge job at once (and the call log, due
/// 3 minutes later). The merge writes to DynamoDB only: the worker's figure is its own.
fn webhook_request(seed: u64) -> Value {
    let mut call = Call::new(seed, "+14158159602", Utc::now().timestamp_millis());
    call.call_center = "4716644561813504".into();
    let body = sign_with(&call.cc_hangup(295_200), WEBHOOK_SECRET);
    json!({
        "version": "2.0", "routeKey": "POST /dialpad/events", "rawPath": "/dialpad/events",
        "rawQueryString": "", "headers": {"content-type": "application/jwt"},
        "requestContext": {"accountId": "123456789012", "apiId": "bench", "domainName": "bench.example.com",
            "domainPrefix": "bench", "http": {"method": "POST", "path": "/dialpad/events",
            "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "bench", "routeKey": "POST /dialpad/events", "stage": "$default",
            "time": "02/Dec/2026:00:00:00 +0000", "timeEpoch": 0},
        "body": body, "isBase64Encoded": false
    })
}

/// API Gateway's HTTP API request of a Dialpad call router (the example config's
/// `enrollment`) for a caller. The config's LineLeader is not reachable from here: the answer is
/// the fallback (`crm_unavailable`), as fast as the connection fails.
fn route_request(seed: u64) -> Value {
    let body = sign_with(
        &json!({"call_id": 7_300_000_000_000_000_u64 + seed, "external_number": "+14158159602",
            "exp": Utc::now().timestamp() + 60}),
        ROUTER_SECRET,
    );
    json!({
        "version": "2.0", "routeKey": "POST /dialpad/route/{name}", "rawPath": "/dialpad/route/enrollment",
        "rawQueryString": "", "headers": {"content-type": "application/jwt"},
        "pathParameters": {"name": "enrollment"},
        "requestContext": {"accountId": "123456789012", "apiId": "bench", "domainName": "bench.example.com",
            "domainPrefix": "bench", "http": {"method": "POST", "path": "/dialpad/route/enrollment",
            "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "bench", "routeKey": "POST /dialpad/route/{name}", "stage": "$default",
            "time": "02/Dec/2026:00:00:00 +0000", "timeEpoch": 0},
        "body": body, "isBase64Encoded": false
    })
}

/// The SQS event of the messages waiting in `queue` (taken off it).
async fn sqs_event(m: &Moto, queue: &str) -> Value {
    let sdk = m.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let got = sqs
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(1)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap_or_else(|e| panic!("receive: {e}"));
    let records: Vec<Value> = got
        .messages()
        .iter()
        .map(|msg| {
            json!({"messageId": msg.message_id(), "receiptHandle": msg.receipt_handle(),
                "body": msg.body(), "attributes": {"ApproximateReceiveCount": "1",
                "SentTimestamp": "0", "SenderId": "bench", "ApproximateFirstReceiveTimestamp": "0"},
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench", "awsRegion": "us-east-1"})
        })
        .collect();
    assert!(!records.is_empty(), "the ingest queued no job");
    json!({"Records": records})
}

pub async fn run(args: &Args) {
    let runs = args.num("runs", 10) as usize;
    let built = |name: &str| {
        args.one(name)
            .unwrap_or_else(|| format!("{}/../target/release/{name}", env!("CARGO_MANIFEST_DIR")))
    };
    let (floor, ingest, worker) = (built("floor"), built("ingest"), built("worker"));
    let router = built("router");
    let with_router = std::path::Path::new(&router).exists();
    let m = Moto::start().unwrap_or_else(|e| panic!("moto: {e}"));
    let env = resources(&m).await;
    let queue = env["LLBRIDGE_QUEUE_URL"].clone();

    let mut figures: BTreeMap<&str, Vec<Start>> = BTreeMap::new();
    for r in 0..runs {
        let hello = json!({"hello": "world"});
        let f = one_start(&floor, &env, &hello).await;
        figures.entry("floor").or_default().push(f);
        let i = one_start(&ingest, &env, &webhook_request(r as u64 + 1)).await;
        assert!(
            i.response.contains("\"statusCode\":200"),
            "ingest: {}",
            i.response
        );
        figures.entry("ingest").or_default().push(i);
        let job = sqs_event(&m, &queue).await;
        let w = one_start(&worker, &env, &job).await;
        assert!(
            w.response.contains("batchItemFailures"),
            "worker: {}",
            w.response
        );
        figures.entry("worker").or_default().push(w);
        if with_router {
            let r = one_start(&router, &env, &route_request(r as u64 + 1)).await;
            assert!(
                r.response.contains("\"statusCode\":200") && r.response.contains("route"),
                "router: {}",
                r.response
            );
            figures.entry("router").or_default().push(r);
        }
    }
    let median =
        |v: &[Start], f: fn(&Start) -> f64| percentile(&sorted(v.iter().map(f).collect()), 50.0);
    let floor_init = median(&figures["floor"], |s| s.init_ms);
    println!("cold start, {runs} starts each, interleaved; medians:");
    println!("  bootstrap  size     init (exec -> first poll)   first response   peak RSS");
    for (name, path) in [
        ("floor", &floor),
        ("ingest", &ingest),
        ("worker", &worker),
        ("router", &router),
    ] {
        let Some(v) = figures.get(name) else {
            continue;
        };
        let size = std::fs::metadata(path)
            .map(|m| m.len() as f64 / 1_048_576.0)
            .unwrap_or(f64::NAN);
        let init = median(v, |s| s.init_ms);
        println!(
            "  {name:<9}  {size:>4.1} MB  {init:>6.1} ms ({:.2}x floor)      {:>7.1} ms     {:>5.1} MB",
            init / floor_init,
            median(v, |s| s.response_ms),
            median(v, |s| s.rss_mb),
        );
    }
}
