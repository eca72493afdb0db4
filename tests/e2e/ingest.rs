//! The webhook end to end over HTTP, through the local host.

use llbridge_usecases::jobs::JobKind;
use std::time::Duration;

use base64::Engine;
use llbridge_local_host::{Drive, Host, Options};
use llbridge_tests::configs::{self, CALL_CENTER};
use llbridge_tests::events::{user_line_ringing, Call};
use llbridge_tests::webhook::{post, sign, sign_with};
use serde_json::json;

async fn host() -> Host {
    let mut opts = Options::new(
        configs::call_center_config(),
        "127.0.0.1:0".parse().unwrap(),
    );
    opts.drive = Drive::stepped();
    llbridge_local_host::start(opts).await.unwrap()
}

fn call() -> Call {
    Call::new(1, "+16505550199", 1767710400000)
}

#[tokio::test]
async fn a_signed_event_is_accepted_and_reaches_the_worker() {
    let h = host().await;
    let (status, body) = post(&h.webhook_url(), sign(&call().agent("connected", 5_100))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "accepted");
    assert_eq!(body["call_id"], "5829361047752714");
    assert!(h.drain(Duration::from_secs(5)).await);
    let reports = h.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].job, Some(JobKind::ScreenPop));
    h.stop().await;
}

#[tokio::test]
async fn the_second_of_two_rotating_secrets_is_accepted() {
    let h = host().await;
    let (status, _) = post(
        &h.webhook_url(),
        sign_with(&call().cc_hangup(1), "an-old-webhook-secret"),
    )
    .await;
    assert_eq!(status, 200);
    h.stop().await;
}

#[tokio::test]
async fn a_wrongly_signed_event_gets_401_and_is_not_queued() {
    let h = host().await;
    let (status, body) = post(
        &h.webhook_url(),
        sign_with(&call().cc_hangup(1), "not-the-secret"),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["reason"], "bad_signature");
    assert_eq!(h.pending().await, 0);
    h.stop().await;
}

#[tokio::test]
async fn alg_none_gets_401() {
    let h = host().await;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let token = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&call().cc_hangup(1).to_string())
    );
    let (status, body) = post(&h.webhook_url(), token).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(h.pending().await, 0);
    h.stop().await;
}

#[tokio::test]
async fn unsigned_json_gets_401_when_not_allowed() {
    let h = host().await;
    let (status, body) = post(&h.webhook_url(), call().cc_hangup(1).to_string()).await;
    assert_eq!(status, 401);
    assert_eq!(body["reason"], "unsigned");
    h.stop().await;
}

#[tokio::test]
async fn garbage_gets_400_with_a_reason() {
    let h = host().await;
    for garbage in ["garbage", "a.b.c", ""] {
        let (status, body) = post(&h.webhook_url(), garbage.to_owned()).await;
        assert_eq!(status, 400, "{garbage}: {body}");
        assert_eq!(body["status"], "rejected");
        assert!(body["reason"].is_string());
    }
    // A correctly signed token whose payload is not a call event.
    let (status, body) = post(&h.webhook_url(), sign(&json!({"hello": "world"}))).await;
    assert_eq!(status, 400);
    assert_eq!(body["reason"], "no_call_id");
    assert_eq!(h.pending().await, 0);
    h.stop().await;
}

#[tokio::test]
async fn an_event_of_a_call_center_that_is_not_enabled_is_ignored() {
    let h = host().await;
    let mut other = call();
    other.call_center = "1111111111111111".into();
    assert_ne!(other.call_center, CALL_CENTER);
    let (status, body) = post(&h.webhook_url(), sign(&other.cc_hangup(1))).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ignored", "reason": "not_enabled"}));
    assert_eq!(h.pending().await, 0);
    h.stop().await;
}

#[tokio::test]
async fn a_user_line_event_is_ignored() {
    let h = host().await;
    let (status, body) = post(&h.webhook_url(), sign(&user_line_ringing())).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ignored", "reason": "user_line"}));
    assert_eq!(h.pending().await, 0);
    h.stop().await;
}

#[tokio::test]
async fn too_large_bodies_get_413_and_other_methods_405() {
    let h = host().await;
    let (status, body) = post(&h.webhook_url(), "a".repeat(64 * 1024 + 1)).await;
    assert_eq!(status, 413, "{body}");
    let resp = reqwest::get(h.webhook_url()).await.unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let health = reqwest::get(format!("http://{}/healthz", h.addr))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    h.stop().await;
}

#[tokio::test]
async fn a_base64_encoded_body_is_accepted() {
    let h = host().await;
    let token = sign(&call().cc_hangup(1));
    let wrapped = base64::engine::general_purpose::STANDARD.encode(token);
    let (status, _) = post(&h.webhook_url(), wrapped).await;
    assert_eq!(status, 200);
    h.stop().await;
}

#[tokio::test]
async fn a_hangup_queues_the_merge_now_and_the_call_log_after_the_delay() {
    let mut opts = Options::new(
        configs::call_center_config(),
        "127.0.0.1:0".parse().unwrap(),
    );
    opts.log_delay = Duration::from_secs(120);
    opts.drive = Drive::stepped();
    let h = llbridge_local_host::start(opts).await.unwrap();
    let (status, body) = post(&h.webhook_url(), sign(&call().cc_hangup(1))).await;
    assert_eq!(status, 200);
    assert_eq!(body["jobs"], json!(["merge", "call_log"]));
    assert!(h.settle(Duration::ZERO, Duration::from_secs(30)).await);
    // The merge ran; the call-log job waits for its delay.

    let jobs: Vec<_> = h.reports().iter().map(|r| r.job).collect();
    assert_eq!(jobs, vec![Some(JobKind::Merge)]);
    assert_eq!(h.pending().await, 1);
    h.stop().await;
}

/// The job queue with a backlog in front of the merges: every merge job waits `lag` more
/// than asked, as a merge does behind a long queue while a call-log job comes up.
struct Backlog {
    inner: std::sync::Arc<llbridge_memory::MemoryQueue>,
    lag: Duration,
}

#[async_trait::async_trait]
impl llbridge_usecases::ports::Queue for Backlog {
    async fn send(&self, body: &str, delay: Duration) -> llbridge_usecases::Result<()> {
        let behind = body.contains("\"job\":\"merge\"");
        let delay = if behind { delay + self.lag } else { delay };
        self.inner.send(body, delay).await
    }
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
    ) -> llbridge_usecases::Result<Vec<llbridge_usecases::ports::Received>> {
        self.inner.receive(max, wait).await
    }
    async fn ack(&self, receipt: &str) -> llbridge_usecases::Result<()> {
        self.inner.ack(receipt).await
    }
    async fn release(&self, receipt: &str, delay: Duration) -> llbridge_usecases::Result<()> {
        self.inner.release(receipt, delay).await
    }
    async fn dead_letter(
        &self,
        body: &str,
        given_up: &llbridge_usecases::ports::GivenUp,
    ) -> llbridge_usecases::Result<()> {
        self.inner.dead_letter(body, given_up).await
    }
}

#[async_trait::async_trait]
impl llbridge_local_host::QueueProbe for Backlog {
    async fn idle(&self, _horizon: Duration) -> bool {
        self.inner.in_flight() == 0 && self.inner.is_empty()
    }
    async fn pending(&self) -> usize {
        self.inner.len()
    }
    async fn dead_letters(&self) -> Vec<llbridge_usecases::ports::DeadLetter> {
        self.inner.dead_letters_with_reasons()
    }
    async fn replay_dead_letters(
        &self,
        pick: &(dyn for<'d> Fn(&'d llbridge_usecases::ports::DeadLetter) -> bool + Send + Sync),
    ) -> Vec<llbridge_usecases::ports::DeadLetter> {
        self.inner.replay_dead_letters(pick)
    }
    fn quiet_period(&self) -> Duration {
        Duration::from_millis(50)
    }
}

#[tokio::test]
async fn a_disposition_acknowledged_before_the_log_runs_is_in_it_whatever_the_queue_holds_up() {
    let now = chrono::Utc::now();
    let mut opts = Options::new(
        configs::installation(&configs::document(
            vec![configs::enablement(
                "call_center",
                Some(CALL_CENTER),
                json!({"screen_pop": false}),
            )],
            "sandbox",
            "sandbox",
        )),
        "127.0.0.1:0".parse().unwrap(),
    );
    opts.log_delay = Duration::from_secs(1);
    opts.sandbox.data = Some(llbridge_tests::scenario::data(now, vec![]));
    let clock: std::sync::Arc<dyn llbridge_usecases::ports::Clock> =
        std::sync::Arc::new(llbridge_memory::SystemClock);
    let backlog = std::sync::Arc::new(Backlog {
        inner: std::sync::Arc::new(llbridge_memory::MemoryQueue::new(clock)),
        lag: Duration::from_secs(4),
    });
    opts.queue = Some((backlog.clone(), backlog));
    let h = llbridge_local_host::start(opts).await.unwrap();
    let c = Call::new(3, "+16505550133", now.timestamp_millis() - 300_000);
    for e in [
        c.agent("connected", 5_100),
        c.cc_hangup(295_200),
        c.dispositions(&["Tour Booked"], 296_000),
    ] {
        let (status, body) = post(&h.webhook_url(), sign(&e)).await;
        assert_eq!(status, 200, "{body}");
    }
    let logs = || {
        h.sandboxes
            .as_ref()
            .map(|s| s.lineleader.state().data.phone_logs)
            .unwrap_or_default()
    };
    let started = std::time::Instant::now();
    while logs().is_empty() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logs = logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(
        logs[0].disposition, "Tour Booked",
        "acknowledged before the log ran"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_config_whose_every_webhook_secret_is_unusable_answers_503_so_that_dialpad_retries() {
    // The only secret, stored in the secret store, is too short to be used.
    let mut doc = configs::document(
        vec![configs::enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({}),
        )],
        "sandbox",
        "sandbox",
    );
    doc["dialpad"]["webhook_secrets"] =
        json!([{"secret": "llbridge", "key": "dialpad_webhook_secret"}]);
    let mut opts = Options::new(configs::installation(&doc), "127.0.0.1:0".parse().unwrap());
    opts.secrets = std::sync::Arc::new(
        llbridge_memory::MemorySecrets::new()
            .with("llbridge", r#"{"dialpad_webhook_secret": "short"}"#),
    );
    opts.drive = Drive::stepped();
    let h = llbridge_local_host::start(opts).await.unwrap();
    let (status, body) = post(&h.webhook_url(), sign_with(&call().cc_hangup(1), "short")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["reason"], "no_usable_webhook_secret");
    assert_eq!(h.pending().await, 0, "nothing queued");
    h.stop().await;
}
