//! The LeadSquared contract, on the embedded adapter (the sandbox's state) and on
//! `HttpLeadSquared` against the sandbox server; then what only the HTTP client does: keys in
//! the URL and never in a message, lost answers, throttling, no connection.

use std::time::Duration;

use llbridge_crm_leadsquared::{HttpLeadSquared, LeadSquared, Posted};
use llbridge_sandbox::{FaultRule, Faults, LeadSquaredConfig, LeadSquaredSandbox};
use llbridge_tests::leadsquared::{self as suite, call_log, HttpHarness};
use llbridge_usecases::ports::Secret;
use llbridge_usecases::ErrorKind;

macro_rules! contract {
    ($($case:ident;)*) => {
        mod embedded {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let sb = LeadSquaredSandbox::new(LeadSquaredConfig::default(), Faults::default());
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
                    suite::$case(&h.client(), &h.sandbox).await;
                }
            )*
        }
    };
}

contract! {
    call_log_round_trip;
    duplicates_are_refused;
    invalid_call_logs_are_rejected;
    agent_popups;
}

const LOG_CALL: &str = "/v2/Telephony.svc/LogCall";

#[tokio::test]
async fn wrong_keys_are_a_rejection_that_never_shows_the_keys() {
    let h = HttpHarness::start().await;
    let url = h
        .call_log_url()
        .replace("secretKey=sandbox-secret-key", "secretKey=wrong-key");
    let client = HttpLeadSquared::new(reqwest::Client::new(), Secret::new(url), None).unwrap();
    let err = client.post_call_log(&call_log("1")).await.unwrap_err();
    assert_eq!(err.code, Some("leadsquared_rejected"), "{err}");
    assert!(err.message.contains("401"), "{err}");
    assert!(!err.to_string().contains("wrong-key"), "{err}");
    assert!(h.sandbox.call_logs().is_empty());
    assert!(
        h.sandbox.requests().iter().all(|r| !r
            .query
            .as_deref()
            .unwrap_or_default()
            .contains("wrong-key")),
        "the sandbox does not record secret keys either"
    );
}

#[tokio::test]
async fn urls_must_be_https_except_to_loopback() {
    for url in [
        "http://telephony.leadsquared.com/v2/Telephony.svc/LogCall?accessKey=a&secretKey=b",
        "ftp://127.0.0.1/x",
        "not a url secretKey=b",
    ] {
        let err = HttpLeadSquared::new(reqwest::Client::new(), Secret::new(url), None)
            .err()
            .expect(url);
        assert!(!err.to_string().contains("secretKey"), "{err}");
    }
}

#[tokio::test]
async fn a_lost_answer_is_an_unknown_outcome_and_posting_again_finds_the_log() {
    let h = HttpHarness::start().await;
    let client = h.client_with(Duration::from_secs(2));
    for lost in [
        FaultRule::lose_answer("POST", LOG_CALL, 503, 1.0),
        FaultRule::stall_after_write("POST", LOG_CALL, 1.0),
    ] {
        h.sandbox.reset();
        h.sandbox.set_faults(Faults {
            hang_ms: 3_000,
            rules: vec![FaultRule {
                times: Some(1),
                ..lost
            }],
            ..Faults::default()
        });
        let err = client.post_call_log(&call_log("2")).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnknownOutcome, "{err}");
        assert_eq!(h.sandbox.call_logs().len(), 1, "the write happened");
        let again = client.post_call_log(&call_log("2")).await.unwrap();
        assert!(matches!(again, Posted::Duplicate { .. }), "{again:?}");
        assert_eq!(h.sandbox.call_logs().len(), 1);
    }
}

#[tokio::test]
async fn throttled_and_unreachable_requests_are_sent_again_only_when_not_taken() {
    let h = HttpHarness::start().await;
    h.sandbox.set_faults(Faults {
        rules: vec![FaultRule::fail("POST", LOG_CALL, 429, Some(1))],
        ..Faults::default()
    });
    let posted = h.client().post_call_log(&call_log("3")).await.unwrap();
    assert!(matches!(posted, Posted::Logged { .. }));
    assert_eq!(h.sandbox.requests().len(), 2, "the 429, then the log");
    assert_eq!(h.sandbox.call_logs().len(), 1);

    // A 500 is answered after a possible write: never sent again by the client.
    h.sandbox.reset();
    h.sandbox.set_faults(Faults {
        rules: vec![FaultRule::fail("POST", LOG_CALL, 500, Some(1))],
        ..Faults::default()
    });
    let err = h.client().post_call_log(&call_log("4")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnknownOutcome);
    assert_eq!(h.sandbox.requests().len(), 1);

    // Nobody listening: not sent.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("http://{closed}{LOG_CALL}?accessKey=a&secretKey=b");
    let client = HttpLeadSquared::new(reqwest::Client::new(), Secret::new(url), None)
        .unwrap()
        .with_budget(Duration::from_secs(4));
    let err = client.post_call_log(&call_log("5")).await.unwrap_err();
    assert_eq!(err.code, Some(llbridge_usecases::NOT_SENT), "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_connection_without_a_popup_url_refuses_popups() {
    let h = HttpHarness::start().await;
    let client =
        HttpLeadSquared::new(reqwest::Client::new(), Secret::new(h.call_log_url()), None).unwrap();
    let err = client
        .show_agent_popup(&serde_json::json!({"SourceNumber": "+16505550199"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, Some("leadsquared_rejected"));
    assert!(h.sandbox.requests().is_empty());
}
