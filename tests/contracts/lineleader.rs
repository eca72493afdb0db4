//! The LineLeader port contract, on the embedded adapter (the sandbox's state) and on
//! `HttpLineLeader` against the sandbox server; then what only the HTTP client does: login and
//! token sharing, retries, timeouts, caching, whole-second timestamps.

use std::sync::Arc;
use std::time::Duration;

use llbridge_crm_lineleader::rules::records::{TaskCompletion, TypeList};
use llbridge_crm_lineleader::LineLeader;
use llbridge_crm_lineleader::{http_client, HttpLineLeader, RetryPolicy};
use llbridge_memory::{ManualClock, SystemClock};
use llbridge_sandbox::{Envelope, FaultRule, Faults, LineLeaderSandbox};
use llbridge_tests::lineleader::{self as suite, big_dataset, with_millis, HttpHarness};
use llbridge_usecases::ports::{Clock, Secret, Store};
use serde_json::Value;

macro_rules! contract {
    ($($case:ident $(with $data:expr)?;)*) => {
        mod embedded {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let sb = LineLeaderSandbox::demo();
                    $( sb.reset($data); )?
                    suite::$case(&sb, &sb).await;
                }
            )*
        }
        mod http {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let h = HttpHarness::start().await;
                    $( h.sandbox.reset($data); )?
                    let client = h.client();
                    suite::$case(&client, &h.sandbox).await;
                    assert_no_milliseconds(&h.sandbox);
                }
            )*
        }
    };
}

contract! {
    reference_data;
    paging with big_dataset(226, 147);
    search_typed_forms;
    create_family;
    task_round_trip;
    created_tasks;
    events;
    status_change;
    phone_logs;
    lookups;
}

/// No request body carried a timestamp with a fraction of a second.
fn assert_no_milliseconds(sb: &LineLeaderSandbox) {
    fn walk(v: &Value, path: &str) {
        match v {
            Value::String(s) => {
                let looks_like_time = s.len() > 19 && s.as_bytes().get(10) == Some(&b'T');
                if looks_like_time {
                    assert_eq!(s.len(), 20, "{path}: {s}");
                    assert!(!s.contains('.'), "{path}: {s}");
                }
            }
            Value::Object(m) => m.iter().for_each(|(k, v)| walk(v, &format!("{path}.{k}"))),
            Value::Array(a) => a.iter().for_each(|v| walk(v, path)),
            _ => {}
        }
    }
    for r in sb.requests() {
        walk(&r.body, &format!("{} {}", r.method, r.path));
    }
}

const LOGIN: &str = "/api/v3/login";
const REFRESH: &str = "/api/v3/login/refresh";
const SEARCH: &str = "/api/v3/families/search";

#[tokio::test]
async fn http_paging_asks_for_pages_of_100() {
    let h = HttpHarness::start().await;
    h.sandbox.reset(big_dataset(226, 0));
    let centers = h.client().centers().await.expect("centers");
    assert_eq!(centers.len(), 230);
    let queries: Vec<String> = h
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v3/centers")
        .filter_map(|r| r.query)
        .collect();
    assert_eq!(
        queries,
        vec![
            "limit=100&offset=0",
            "limit=100&offset=100",
            "limit=100&offset=200"
        ]
    );
}

#[tokio::test]
async fn http_reads_every_list_envelope() {
    for envelope in [Envelope::Data, Envelope::Items, Envelope::Bare] {
        let h = HttpHarness::start().await;
        h.sandbox.reset(big_dataset(120, 0));
        let mut config = h.sandbox.config();
        config.envelope = envelope;
        h.sandbox.set_config(config);
        let client = h.client();
        assert_eq!(
            client.centers().await.expect("centers").len(),
            124,
            "{envelope:?}"
        );
        assert_eq!(
            client.statuses().await.expect("statuses").len(),
            5,
            "{envelope:?}"
        );
        assert_eq!(
            client
                .search_families("4158159602")
                .await
                .expect("search")
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn twenty_concurrent_calls_on_a_cold_cache_log_in_once() {
    let h = HttpHarness::start().await;
    let client = Arc::new(h.client());
    let calls = (0..20).map(|_| {
        let c = client.clone();
        tokio::spawn(async move { c.search_families("4158159602").await })
    });
    for call in calls {
        let found = call.await.expect("join").expect("search");
        assert_eq!(found.len(), 1);
    }
    assert_eq!(h.count("POST", LOGIN), 1);
    assert_eq!(h.count("GET", SEARCH), 20);
}

#[tokio::test]
async fn concurrent_workers_sharing_the_store_log_in_once() {
    let h = HttpHarness::start().await;
    // Four clients (as four Lambda instances) share the token store.
    let workers: Vec<Arc<HttpLineLeader>> = (0..4).map(|_| Arc::new(h.client())).collect();
    let mut calls = Vec::new();
    for w in &workers {
        for _ in 0..5 {
            let w = w.clone();
            calls.push(tokio::spawn(async move {
                w.search_families("4158159612").await
            }));
        }
    }
    for call in calls {
        call.await.expect("join").expect("search");
    }
    assert_eq!(h.count("POST", LOGIN), 1);
    assert_eq!(h.count("GET", SEARCH), 20);
    let key = workers[0].token_key();
    assert!(
        h.store.get(key).await.expect("store").is_some(),
        "the token is shared"
    );
    let lease = h.store.get(&format!("{key}#lease")).await.expect("store");
    assert!(lease.is_none(), "the renewal lease was released");
}

#[tokio::test]
async fn a_revoked_token_causes_one_login_and_no_lost_request() {
    let h = HttpHarness::start().await;
    let client = h.client();
    client.search_families("4158159602").await.expect("first");
    assert_eq!(h.count("POST", LOGIN), 1);
    h.sandbox.revoke_tokens();
    let found = client
        .search_families("4158159602")
        .await
        .expect("after revoke");
    assert_eq!(found.len(), 1, "the rejected request was sent again");
    let log: Vec<(String, String, u16)> = h
        .sandbox
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path, r.status))
        .collect();
    let expected: Vec<(String, String, u16)> = [
        ("POST", LOGIN, 200),
        ("GET", SEARCH, 200),
        ("GET", SEARCH, 401),
        ("POST", LOGIN, 200),
        ("GET", SEARCH, 200),
    ]
    .iter()
    .map(|(m, p, s)| (m.to_string(), p.to_string(), *s))
    .collect();
    assert_eq!(log, expected);
    // Another worker sharing the store picks up the new token without logging in.
    h.client()
        .search_families("4158159602")
        .await
        .expect("other worker");
    assert_eq!(h.count("POST", LOGIN), 2);
}

#[tokio::test]
async fn concurrent_requests_with_a_revoked_token_log_in_again_once() {
    let h = HttpHarness::start().await;
    let client = Arc::new(h.client());
    client.search_families("4158159602").await.expect("warm");
    h.sandbox.revoke_tokens();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.search_families("4158159602").await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.expect("join").expect("search").len(), 1);
    }
    assert_eq!(h.count("POST", LOGIN), 2);
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_before_use() {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let h = HttpHarness::start_with(LineLeaderSandbox::demo(), clock.clone()).await;
    let client = h.client();
    client.search_families("4158159602").await.expect("first");
    // 57 minutes later the 1-hour token is within the renewal margin: A2, not A1.
    clock.advance(Duration::from_secs(57 * 60));
    client.search_families("4158159602").await.expect("second");
    assert_eq!(h.count("POST", LOGIN), 1);
    assert_eq!(h.count("POST", REFRESH), 1);
    assert!(h.sandbox.requests().iter().all(|r| r.status != 401));
    // When the refresh token is refused too, the client logs in.
    h.sandbox.revoke_tokens();
    clock.advance(Duration::from_secs(57 * 60));
    client.search_families("4158159602").await.expect("third");
    assert_eq!(h.count("POST", REFRESH), 2);
    assert_eq!(h.count("POST", LOGIN), 2);
}

#[tokio::test]
async fn a_short_lived_token_that_expires_mid_run_is_replaced() {
    let sandbox = LineLeaderSandbox::demo();
    let mut config = sandbox.config();
    config.token_lifetime_secs = 2;
    sandbox.set_config(config);
    let h = HttpHarness::start_with(sandbox, Arc::new(SystemClock)).await;
    let client = h.client();
    client.search_families("4158159602").await.expect("first");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let found = client
        .search_families("4158159602")
        .await
        .expect("after expiry");
    assert_eq!(found.len(), 1);
    let renewals = h.count("POST", LOGIN) + h.count("POST", REFRESH);
    assert_eq!(renewals, 2, "one login, then one renewal");
}

#[tokio::test]
async fn wrong_credentials_open_a_circuit_without_leaking_them() {
    let h = HttpHarness::start().await;
    let client = h.client_as("sandbox", "hunter2-secret");
    let err = client.statuses().await.expect_err("login rejected");
    assert!(err.is_transient(), "the credentials may be fixed: {err}");
    assert_eq!(err.code, Some("lineleader_login_rejected"));
    assert!(!err.message.contains("hunter2"), "{err}");
    assert!(err.message.contains("login"), "{err}");
    assert_eq!(h.count("POST", LOGIN), 1, "a rejected login is not retried");
    assert_eq!(h.count("GET", "/api/v3/statuses"), 0);
    // The circuit is open: other jobs, and other workers sharing the store, do not try again.
    for c in [&client, &h.client_as("sandbox", "hunter2-secret")] {
        let again = c
            .search_families("4158159602")
            .await
            .expect_err("circuit open");
        assert_eq!(again.code, Some("lineleader_login_rejected"), "{again}");
        assert!(!again.message.contains("hunter2"), "{again}");
    }
    assert_eq!(
        h.count("POST", LOGIN),
        1,
        "one login attempt while the circuit is open"
    );
    let logged = &h.sandbox.requests()[0].body;
    assert_eq!(logged["password"], "***");
    assert!(!format!("{client:?}").contains("hunter2"));
}

#[tokio::test]
async fn a_new_password_is_not_held_back_by_the_old_ones_circuit() {
    let h = HttpHarness::start().await;
    h.client_as("sandbox", "the-old-password")
        .statuses()
        .await
        .expect_err("rejected");
    // The password is fixed (a rotation): the next client logs in at once.
    h.client_as("sandbox", "sandbox")
        .statuses()
        .await
        .expect("the new password is tried at once");
    assert_eq!(h.count("POST", LOGIN), 2);
}

#[tokio::test]
async fn the_circuit_closes_after_its_time() {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let h = HttpHarness::start_with(LineLeaderSandbox::demo(), clock.clone()).await;
    let client = h.client_as("sandbox", "wrong");
    client.statuses().await.expect_err("rejected");
    client.statuses().await.expect_err("circuit open");
    assert_eq!(h.count("POST", LOGIN), 1);
    clock.advance(Duration::from_secs(301));
    client.statuses().await.expect_err("rejected again");
    assert_eq!(
        h.count("POST", LOGIN),
        2,
        "one more attempt once the circuit closed"
    );
}

#[tokio::test]
async fn a_post_whose_answer_is_lost_is_an_unknown_outcome_and_not_resent() {
    let h = HttpHarness::start().await;
    let client = h.client();
    client.statuses().await.expect("warm the token");
    for status in [500, 502, 503, 504] {
        h.sandbox.set_faults(Faults {
            rules: vec![FaultRule::lose_answer("POST", "/events", status, 1.0)],
            ..Faults::default()
        });
        h.sandbox.clear_requests();
        let err = client
            .create_event(&suite::event(&format!("lost {status}"), None))
            .await
            .expect_err("answer lost");
        assert!(err.is_unknown_outcome(), "{status}: {err}");
        assert_eq!(h.count("POST", "/api/v3/events"), 1, "{status}: not resent");
    }
    let events = h.sandbox.state().data.events;
    assert_eq!(events.len(), 4, "each took effect once");
    // A PUT is safe to repeat: it is sent again.
    h.sandbox.set_faults(Faults {
        rules: vec![FaultRule {
            times: Some(1),
            ..FaultRule::lose_answer("PUT", "/families/*/status", 503, 1.0)
        }],
        ..Faults::default()
    });
    h.sandbox.clear_requests();
    client
        .set_family_status("1001", "3")
        .await
        .expect("repeated");
    assert_eq!(h.count("PUT", "/api/v3/families/1001/status"), 2);
    assert_eq!(
        h.sandbox.state().data.status_changes.len(),
        1,
        "the repeat changed nothing"
    );
}

#[tokio::test]
async fn server_errors_and_throttling_are_retried() {
    let h = HttpHarness::start().await;
    let client = h.client();
    client.statuses().await.expect("warm the token");
    h.sandbox.set_faults(Faults {
        rules: vec![
            FaultRule::fail("GET", "/families/search", 500, Some(2)),
            FaultRule::fail("POST", "/in-contact/phone-logs", 429, Some(1)),
        ],
        ..Faults::default()
    });
    h.sandbox.clear_requests();
    assert_eq!(
        client
            .search_families("4158159602")
            .await
            .expect("search")
            .len(),
        1
    );
    let statuses: Vec<u16> = h
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.path == SEARCH)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![500, 500, 200]);
    suite::phone_logs(&client, &h.sandbox).await;
    let posts: Vec<u16> = h
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v3/in-contact/phone-logs")
        .map(|r| r.status)
        .collect();
    assert_eq!(
        posts,
        vec![429, 201, 400],
        "throttled once, then created; the bad one once"
    );
}

#[tokio::test]
async fn persistent_server_errors_end_as_transient_after_a_few_tries() {
    let h = HttpHarness::start().await;
    let client = h.client();
    h.sandbox.set_faults(Faults {
        rules: vec![FaultRule::fail("PUT", "/tasks/*", 500, None)],
        ..Faults::default()
    });
    let task = client
        .open_tasks("1001", "31")
        .await
        .expect("tasks")
        .into_iter()
        .next()
        .expect("a task");
    let completion = TaskCompletion {
        completed_at: with_millis(),
        completed_by_staff_id: "201".into(),
        result_type_id: "43".into(),
        result_description: "x".into(),
    };
    let started = std::time::Instant::now();
    let err = client
        .complete_task(&task.id, &completion)
        .await
        .expect_err("500s");
    assert!(err.is_transient(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let puts = h
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .count();
    assert_eq!(puts, 4, "the first try and 3 retries");
    assert!(
        !h.sandbox
            .task_by_id(task.id.parse().unwrap())
            .unwrap()
            .is_completed
    );
}

#[tokio::test]
async fn other_client_errors_are_permanent_and_not_retried() {
    let h = HttpHarness::start().await;
    let client = h.client();
    h.sandbox.set_faults(Faults {
        rules: vec![FaultRule::fail("PUT", "/families/*/status", 422, None)],
        ..Faults::default()
    });
    let err = client
        .set_family_status("1001", "2")
        .await
        .expect_err("422");
    assert!(!err.is_transient());
    assert!(err.message.contains("422"), "{err}");
    assert!(err.message.contains("/families/{id}/status"), "{err}");
    assert_eq!(h.count("PUT", "/api/v3/families/1001/status"), 1);
}

#[tokio::test]
async fn a_timed_out_read_is_retried_but_a_timed_out_create_is_not() {
    let h = HttpHarness::start().await;
    let client = h.client().with_timeout(Duration::from_millis(300));
    client.statuses().await.expect("warm the token");
    h.sandbox.set_faults(Faults {
        hang_ms: 800,
        rules: vec![
            FaultRule {
                timeout: true,
                times: Some(1),
                ..FaultRule::fail("GET", "/families/search", 0, None)
            },
            FaultRule {
                timeout: true,
                times: Some(1),
                ..FaultRule::fail("POST", "/events", 0, None)
            },
        ],
        ..Faults::default()
    });
    assert_eq!(
        client
            .search_families("4158159602")
            .await
            .expect("retried")
            .len(),
        1
    );
    let err = client
        .create_event(&suite::event("x", None))
        .await
        .expect_err("timed out");
    assert!(err.is_unknown_outcome(), "{err}");
    let searches: Vec<u16> = h
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.path == SEARCH)
        .map(|r| r.status)
        .collect();
    assert_eq!(
        searches,
        vec![0, 200],
        "the client gave up on the first, then retried"
    );
    assert_eq!(
        h.count("POST", "/api/v3/events"),
        1,
        "a create that may have happened is not resent"
    );
}

#[tokio::test]
async fn reference_data_is_cached_but_families_and_tasks_are_not() {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let h = HttpHarness::start_with(LineLeaderSandbox::demo(), clock.clone()).await;
    let client = h.client().with_cache_ttl(Duration::from_secs(600));
    for _ in 0..3 {
        client.centers().await.expect("centers");
        client.statuses().await.expect("statuses");
        client.types(TypeList::TaskResult).await.expect("results");
        client.types(TypeList::Task).await.expect("task types");
        client.staff().await.expect("staff");
        client.search_families("4158159602").await.expect("search");
        client.open_tasks("1001", "31").await.expect("tasks");
    }
    for path in [
        "centers",
        "statuses",
        "types/tasks/results",
        "types/tasks",
        "staff",
    ] {
        assert_eq!(h.count("GET", &format!("/api/v3/{path}")), 1, "{path}");
    }
    assert_eq!(h.count("GET", SEARCH), 3);
    assert_eq!(h.count("GET", "/api/v3/tasks"), 3);
    clock.advance(Duration::from_secs(601));
    client.centers().await.expect("centers");
    assert_eq!(
        h.count("GET", "/api/v3/centers"),
        2,
        "re-read after the TTL"
    );
}

#[tokio::test]
async fn a_second_family_search_page_is_read_when_the_total_says_so() {
    let h = HttpHarness::start().await;
    // 130 families with one number: the search pages too.
    h.sandbox.with_data(|d| {
        for i in 0..130u64 {
            let mut f = d.families[0].clone();
            f.id = 8000 + i;
            f.phone = "312-555-7777".into();
            d.families.push(f);
        }
    });
    let found = h
        .client()
        .search_families("3125557777")
        .await
        .expect("search");
    assert_eq!(found.len(), 130);
    assert_eq!(h.count("GET", SEARCH), 2);
}

#[tokio::test]
async fn no_retry_policy_fails_at_once() {
    let h = HttpHarness::start().await;
    let client = HttpLineLeader::new(
        "",
        &h.server.url(),
        Secret::new("sandbox"),
        Secret::new("sandbox"),
        h.store.clone(),
        h.clock.clone(),
        http_client(Duration::from_secs(5)).expect("http"),
    )
    .with_retry(RetryPolicy::none());
    h.sandbox.set_faults(Faults {
        rules: vec![FaultRule::fail("GET", "/statuses", 503, Some(1))],
        ..Faults::default()
    });
    let err = client.statuses().await.expect_err("503");
    assert!(err.is_transient());
    assert_eq!(h.count("GET", "/api/v3/statuses"), 1);
    assert_eq!(client.statuses().await.expect("then ok").len(), 5);
}

#[tokio::test]
async fn a_request_never_takes_longer_than_its_budget() {
    let h = HttpHarness::start().await;
    // The first request of a process pays one-off setup costs; it is not what is measured.
    h.client().centers().await.expect("warm the token");
    let client = h
        .client()
        .with_timeout(Duration::from_millis(200))
        .with_budget(Duration::from_millis(500));
    client
        .search_families("4158159602")
        .await
        .expect("a normal request");
    h.sandbox.set_faults(Faults {
        hang_ms: 700,
        rules: vec![FaultRule {
            timeout: true,
            ..FaultRule::fail("GET", "/families/search", 0, None)
        }],
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    let err = client
        .search_families("4158159602")
        .await
        .expect_err("hangs");
    assert!(err.is_transient(), "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    let hung = h.count("GET", SEARCH) - 1;
    assert!((2..=4).contains(&hung), "retried within the budget: {hung}");
    assert!(err.message.contains("within 500 ms"), "{err}");
}

/// A server that logs anyone in, then answers every other request with a body that never
/// ends (well, 16 MB).
fn endless_answers() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let mut stream = reader.into_inner();
            if head.starts_with("POST /api/v3/login") {
                let json = r#"{"token": "t", "refresh_token": "r"}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
                    json.len()
                );
            } else {
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n[",
                );
                let chunk = vec![b' '; 64 * 1024];
                for _ in 0..256 {
                    if stream.write_all(&chunk).is_err() {
                        break;
                    }
                }
            }
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_endless_answer_is_not_read_into_memory() {
    let url = endless_answers();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Arc::new(llbridge_memory::MemoryStore::new(clock.clone()));
    let client = HttpLineLeader::new(
        "hostile",
        &url,
        Secret::new("u"),
        Secret::new("p"),
        store,
        clock,
        http_client(Duration::from_secs(5)).expect("client"),
    )
    .with_retry(RetryPolicy::none());
    let err = client.statuses().await.expect_err("too large");
    assert!(
        err.message.contains("not read"),
        "refused past {} bytes: {err}",
        llbridge_crm_lineleader::MAX_RESPONSE
    );
    assert!(!err.is_transient(), "{err}");
}
