//! Concurrency end to end: racing jobs create one family; a cold token cache causes one login;
//! an expired token causes one re-login and loses no job.

use super::BACKEND;
use chrono::Utc;
use llbridge_sandbox::{FaultRule, Faults};
use llbridge_tests::scenario::{answered, data, log_now, Scenario};
use llbridge_tests::webhook::{post, sign};
use serde_json::json;

#[tokio::test]
async fn a_pop_job_and_a_log_job_for_a_new_caller_at_once_create_one_family() {
    for round in 0..5 {
        let now = Utc::now();
        let s = Scenario::start(
            BACKEND,
            json!({"enable_task_queue": false, "screen_pop": true}),
            Some(data(now, vec![])),
        )
        .await;
        // A slow search: both jobs are between their search and their create at once.
        s.lineleader().set_faults(Faults {
            rules: vec![FaultRule {
                method: Some("GET".into()),
                path: Some("/families/search".into()),
                latency_ms: 150,
                ..FaultRule::default()
            }],
            ..Faults::default()
        });
        let call = s.live_call(round, "+16505550142");
        let url = s.host.webhook_url();
        let (ring, hangup) = (
            sign(&call.agent("ringing", 200)),
            sign(&call.cc_hangup(295_200)),
        );
        let (a, b) = tokio::join!(post(&url, ring), post(&url, hangup));
        assert_eq!((a.0, b.0), (200, 200));
        s.settle().await;
        let created = s.created_families();
        assert_eq!(created.len(), 1, "round {round}: {created:?}");
        let logs = s.phone_logs();
        assert_eq!(logs.len(), 1, "round {round}");
        assert_eq!(logs[0].family_id, created[0].id);
        let pops = s.dialpad().sent();
        assert_eq!(pops.len(), 1, "round {round}");
        assert!(pops[0]
            .uri
            .ends_with(&format!("/families/{}", created[0].id)));
        s.stop().await;
    }
}

#[tokio::test]
async fn twenty_concurrent_jobs_on_a_cold_token_cache_log_in_once() {
    let s = Scenario::with_known_family(BACKEND, log_now()).await;
    let url = s.host.webhook_url();
    let bodies: Vec<String> = (0..20)
        .map(|i| sign(&s.call(i, "+14158159602").cc_hangup(295_200)))
        .collect();
    let posts = bodies.into_iter().map(|b| {
        let url = url.clone();
        async move { post(&url, b).await }
    });
    for (status, body) in futures_join_all(posts).await {
        assert_eq!(status, 200, "{body}");
    }
    s.settle().await;
    assert_eq!(s.phone_logs().len(), 20);
    assert_eq!(
        s.lineleader().count("POST", "/api/v3/login"),
        1,
        "{:?}",
        s.lineleader()
            .requests()
            .iter()
            .map(|r| &r.path)
            .collect::<Vec<_>>()
    );
    s.stop().await;
}

#[tokio::test]
async fn an_expired_token_mid_run_means_one_relogin_and_no_lost_job() {
    let s = Scenario::with_known_family(BACKEND, log_now()).await;
    s.play(&answered(&s.call(1, "+14158159602"))).await;
    s.settle().await;
    assert_eq!(s.phone_logs().len(), 1);
    s.lineleader().revoke_tokens();
    s.play(&answered(&s.call(2, "+14158159602"))).await;
    s.play(&answered(&s.call(3, "+14158159602"))).await;
    s.settle().await;
    assert_eq!(s.phone_logs().len(), 3, "no lost job");
    assert_eq!(
        s.lineleader().count("POST", "/api/v3/login"),
        2,
        "one login, one re-login"
    );
    s.stop().await;
}

/// Runs the futures concurrently and returns their outputs in order.
async fn futures_join_all<F>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap_or_else(|e| panic!("{e}")));
    }
    out
}
