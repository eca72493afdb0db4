//! The Dialpad port contract (screen pop), on the embedded adapter (the sandbox's state) and on
//! `HttpDialpad` against the sandbox server; then what only the HTTP client does.

use std::time::Duration;

use llbridge_dialpad_api::client::{HttpDialpad, PopFailure};
use llbridge_dialpad_api::DialpadApi;
use llbridge_sandbox::{DialpadConfig, DialpadSandbox, FaultRule, Faults, Server};
use llbridge_usecases::ports::{CallSubscription, Dialpad, PopOutcome, StartCall};
use serde_json::json;

const AGENT: &str = "5150000000000001";
const URI: &str = "https://app.lineleader.com/#/families/1001";

async fn pops_are_delivered(dp: &dyn Dialpad, sb: &DialpadSandbox) {
    assert_eq!(
        dp.screen_pop(AGENT, URI).await.expect("pop"),
        PopOutcome::Sent
    );
    let sent = sb.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].user_id.as_str(), sent[0].uri.as_str()),
        (AGENT, URI)
    );
}

async fn the_sixth_pop_in_a_minute_is_rate_limited(dp: &dyn Dialpad, sb: &DialpadSandbox) {
    for i in 0..5 {
        let uri = format!("https://app.lineleader.com/#/families/{i}");
        assert_eq!(
            dp.screen_pop(AGENT, &uri).await.expect("pop"),
            PopOutcome::Sent,
            "{i}"
        );
    }
    assert_eq!(
        dp.screen_pop(AGENT, URI).await.expect("pop"),
        PopOutcome::RateLimited
    );
    assert_eq!(
        dp.screen_pop("42", URI).await.expect("pop"),
        PopOutcome::Sent,
        "per user"
    );
    assert_eq!(sb.sent().len(), 6);
    assert_eq!(sb.pops().len(), 7);
}

async fn users_are_found_by_email_without_case(dp: &dyn Dialpad, _sb: &DialpadSandbox) {
    let ana = dp
        .find_user("ANA@example.com")
        .await
        .expect("lookup")
        .expect("Ana");
    assert_eq!(ana.id, AGENT);
    assert_eq!(ana.available, Some(true));
    assert_eq!(
        dp.find_user("nobody@example.com").await.expect("lookup"),
        None
    );
}

async fn a_call_is_started_for_the_user_and_limited_per_minute(
    dp: &dyn Dialpad,
    sb: &DialpadSandbox,
) {
    let call = |n: u32| StartCall {
        user_id: AGENT.into(),
        phone_number: format!("+1415815960{n}"),
        group: Some(("4716644561813504".into(), "callcenter".into())),
        outbound_caller_id: Some("+14155550100".into()),
        custom_data: Some(r#"{"leadsquared_lead_id":"L1"}"#.into()),
    };
    let id = dp.start_call(&call(0)).await.expect("start");
    let started = sb.started_calls();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].call_id, id);
    assert_eq!(started[0].group_id.as_deref(), Some("4716644561813504"));
    assert_eq!(
        started[0].custom_data.as_deref(),
        call(0).custom_data.as_deref()
    );
    for n in 1..5 {
        dp.start_call(&call(n)).await.expect("start");
    }
    let limited = dp
        .start_call(&call(5))
        .await
        .expect_err("the sixth in a minute");
    assert_eq!(limited.code, Some("dialpad_rate_limited"));
    let mut unknown = call(6);
    unknown.user_id = "42".into();
    let refused = dp.start_call(&unknown).await.expect_err("no such user");
    assert_eq!(refused.code, Some("dialpad_rejected"));
    assert!(!refused.is_transient());
}

async fn webhooks_and_subscriptions_are_created_listed_and_patched(
    dp: &dyn Dialpad,
    _sb: &DialpadSandbox,
) {
    let hook = dp
        .create_webhook(
            "https://h.example.com/dialpad/events",
            "a-secret-of-the-webhook",
        )
        .await
        .expect("webhook");
    assert_eq!(dp.webhooks().await.expect("list"), vec![hook.clone()]);
    assert_eq!(hook.secret.as_deref(), Some("a-secret-of-the-webhook"));
    let moved = dp
        .update_webhook(&hook.id, &hook.hook_url, "another-secret-of-the-hook")
        .await
        .expect("patch");
    assert_eq!(moved.secret.as_deref(), Some("another-secret-of-the-hook"));
    let sub = dp
        .save_call_subscription(&CallSubscription {
            webhook_id: Some(hook.id.clone()),
            target_type: Some("callcenter".into()),
            target_id: Some("4716644561813504".into()),
            call_states: vec!["hangup".into()],
            enabled: true,
            ..CallSubscription::default()
        })
        .await
        .expect("subscription");
    assert!(!sub.id.is_empty());
    assert_eq!(sub.webhook_id.as_deref(), Some(hook.id.as_str()));
    let mut more = sub.clone();
    more.call_states.push("dispositions".into());
    dp.save_call_subscription(&more).await.expect("patch");
    let listed = dp.call_subscriptions().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].call_states, ["hangup", "dispositions"]);
    assert_eq!(listed[0].target_id.as_deref(), Some("4716644561813504"));
}

struct Harness {
    sandbox: DialpadSandbox,
    server: Server,
}

impl Harness {
    async fn start() -> Harness {
        let sandbox = DialpadSandbox::new(DialpadConfig::default(), Faults::default());
        let server = sandbox
            .serve(([127, 0, 0, 1], 0).into())
            .await
            .expect("bind");
        Harness { sandbox, server }
    }

    fn client_with_key(&self, key: &str) -> HttpDialpad {
        HttpDialpad::new(&self.server.url(), key, reqwest::Client::new())
            .with_retry_delay(Duration::from_millis(10))
    }

    fn client(&self) -> HttpDialpad {
        self.client_with_key(&DialpadConfig::default().api_key)
    }

    fn posts(&self) -> Vec<u16> {
        self.sandbox
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .map(|r| r.status)
            .collect()
    }
}

macro_rules! contract {
    ($($case:ident;)*) => {
        mod embedded {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let sb = DialpadSandbox::new(DialpadConfig::default(), Faults::default());
                    super::$case(&sb, &sb).await;
                }
            )*
        }
        mod http {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let h = Harness::start().await;
                    super::$case(&DialpadApi(h.client()), &h.sandbox).await;
                }
            )*
        }
    };
}

contract! {
    pops_are_delivered;
    the_sixth_pop_in_a_minute_is_rate_limited;
    users_are_found_by_email_without_case;
    a_call_is_started_for_the_user_and_limited_per_minute;
    webhooks_and_subscriptions_are_created_listed_and_patched;
}

#[tokio::test]
async fn a_call_start_whose_answer_is_lost_is_an_unknown_outcome() {
    let h = Harness::start().await;
    h.sandbox.set_faults(Faults {
        rules: vec![FaultRule::lose_answer("POST", "/api/v2/call", 502, 1.0)],
        ..Faults::default()
    });
    let e = h
        .client()
        .start_call(&StartCall {
            user_id: AGENT.into(),
            phone_number: "+14158159602".into(),
            group: None,
            outbound_caller_id: None,
            custom_data: None,
        })
        .await
        .expect_err("lost");
    assert!(e.is_unknown_outcome(), "{e}");
    assert_eq!(h.sandbox.started_calls().len(), 1, "it did start");
}

#[tokio::test]
async fn the_request_carries_the_key_and_the_uri() {
    let h = Harness::start().await;
    h.client().screen_pop(AGENT, URI).await.expect("pop");
    let r = &h.sandbox.requests()[0];
    assert_eq!(r.path, format!("/api/v2/users/{AGENT}/screenpop"));
    assert_eq!(r.body, json!({ "screen_pop_uri": URI }));
}

#[tokio::test]
async fn a_rate_limited_pop_is_not_retried() {
    let h = Harness::start().await;
    let client = h.client();
    for _ in 0..6 {
        client.screen_pop(AGENT, URI).await.expect("pop");
    }
    assert_eq!(h.posts(), vec![200, 200, 200, 200, 200, 429]);
}

#[tokio::test]
async fn a_wrong_key_is_permanent_and_not_retried() {
    let h = Harness::start().await;
    let err = h
        .client_with_key("wrong-key")
        .screen_pop(AGENT, URI)
        .await
        .expect_err("401");
    assert_eq!(err.kind, PopFailure::Rejected);
    assert!(!err.message.contains("wrong-key"), "{err}");
    assert_eq!(h.posts(), vec![401]);
    assert!(h.sandbox.pops().is_empty());
}

#[tokio::test]
async fn a_server_error_is_an_unknown_outcome_and_not_sent_again() {
    let h = Harness::start().await;
    for status in [500, 503] {
        h.sandbox.set_faults(Faults {
            rules: vec![FaultRule::fail(
                "POST",
                "/api/v2/users/*/screenpop",
                status,
                Some(1),
            )],
            ..Faults::default()
        });
        let err = h.client().screen_pop(AGENT, URI).await.expect_err("5xx");
        assert_eq!(err.kind, PopFailure::Unknown, "{status}: {err}");
    }
    assert_eq!(
        h.posts(),
        vec![500, 503],
        "a pop that was sent is never sent again: a second one would reload the agent's page"
    );
}

#[tokio::test]
async fn a_timeout_is_an_unknown_outcome_reported_quickly() {
    let h = Harness::start().await;
    h.sandbox.set_faults(Faults {
        hang_ms: 600,
        rules: vec![FaultRule {
            timeout: true,
            times: Some(1),
            ..FaultRule::default()
        }],
        ..Faults::default()
    });
    let client = h.client().with_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let err = client.screen_pop(AGENT, URI).await.expect_err("timed out");
    assert_eq!(err.kind, PopFailure::Unknown, "{err}");
    assert!(started.elapsed() < Duration::from_millis(600));
    assert_eq!(h.sandbox.requests().len(), 1, "not sent again");
}

#[tokio::test]
async fn a_pop_that_cannot_connect_was_not_sent() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let client = HttpDialpad::new(&url, "k", reqwest::Client::new())
        .with_retry_delay(Duration::from_millis(10));
    let err = client.screen_pop(AGENT, URI).await.expect_err("refused");
    assert_eq!(err.kind, PopFailure::NotSent, "{err}");
}

#[tokio::test]
async fn bad_requests_get_a_json_reason() {
    let h = Harness::start().await;
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/api/v2/users/{AGENT}/screenpop", h.server.url()))
        .bearer_auth(DialpadConfig::default().api_key)
        .body("not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert!(body["error"].is_string());
    assert!(h.sandbox.pops().is_empty());
}
