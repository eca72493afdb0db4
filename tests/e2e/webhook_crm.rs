//! The webhook CRM through the real webhook and worker: a receiver that checks every signature
//! with the Standard Webhooks reference verification gets every conversation, each under one
//! `webhook-id` on every attempt, also when a quarter of its answers are lost after it took the
//! post; `doctor` checks that the URL answers a signed test post.

use super::BACKEND;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use llbridge_memory::{MemorySecrets, MemoryStore, SystemClock};
use llbridge_sandbox::Server;
use llbridge_tests::configs::{self, webhook_enablement, WEBHOOK_CALL_CENTER, WEBHOOK_PHONE};
use llbridge_tests::events::Call;
use llbridge_tests::receiver::{Post, Receiver};
use llbridge_tests::scenario::Scenario;
use llbridge_usecases::doctor::{self, Verdict};
use llbridge_usecases::ports::Clock;
use serde_json::{json, Value};

fn on_the_webhook(mut c: Call) -> Call {
    c.call_center = WEBHOOK_CALL_CENTER.into();
    c.call_center_phone = WEBHOOK_PHONE.into();
    c
}

/// Answered inbound, missed inbound, voicemail, outbound: four conversations from `seed` on.
fn conversations(s: &Scenario, seed: u64) -> Vec<(Call, Vec<Value>)> {
    let call = |n: u64| on_the_webhook(s.live_call(seed + n, &format!("+1650777{:04}", seed + n)));
    let (a, m, v, o) = (call(0), call(1), call(2), call(3));
    vec![
        (
            a.clone(),
            vec![
                a.agent("ringing", 200),
                a.agent("connected", 5_100),
                a.cc_hangup(295_200),
                a.dispositions(&["Tour Scheduled"], 296_000),
            ],
        ),
        (
            m.clone(),
            vec![m.agent("ringing", 200), m.cc_unanswered("hangup", 40_100)],
        ),
        (v.clone(), vec![v.cc_unanswered("voicemail", 40_100)]),
        (
            o.clone(),
            vec![
                o.outbound("calling", 10),
                o.outbound("connected", 8_000),
                o.outbound("hangup", 100_000),
            ],
        ),
    ]
}

async fn start(receiver: &Server) -> Scenario {
    Scenario::start_tuned(
        BACKEND,
        vec![webhook_enablement(WEBHOOK_CALL_CENTER, json!({}))],
        None,
        Duration::from_secs(1),
        |o| Receiver::wire(&mut o.installation, receiver),
    )
    .await
}

/// The posts by `webhook-id`.
fn by_id(posts: &[Post]) -> BTreeMap<String, Vec<Post>> {
    let mut by: BTreeMap<String, Vec<Post>> = BTreeMap::new();
    for p in posts {
        by.entry(p.id.clone()).or_default().push(p.clone());
    }
    by
}

#[tokio::test]
async fn every_conversation_reaches_the_receiver_under_one_id_also_when_a_quarter_of_the_answers_are_lost(
) {
    let (receiver, server) = Receiver::start().await;
    receiver.lose_every(4);
    let s = start(&server).await;
    // The Dialpad id each conversation's record carries: the outbound one's is its agent leg.
    let mut calls = Vec::new();
    for round in 0..4 {
        for (i, (call, events)) in conversations(&s, 10 + round * 10).into_iter().enumerate() {
            s.play(&events).await;
            calls.push(if i == 3 { call.agent_leg } else { call.cc_leg });
        }
    }
    let all_in = async || {
        let ids = by_id(&receiver.posts());
        ids.len() == calls.len()
            && ids.values().all(|p| p.iter().any(|p| p.status != 503))
            && s.settled_logs().len() == calls.len()
    };
    assert!(s.settle_until(all_in).await, "{:#?}", receiver.posts());

    let posts = receiver.posts();
    assert!(posts.iter().all(|p| p.verified), "{posts:#?}");
    let ids = by_id(&posts);
    assert_eq!(ids.len(), calls.len(), "one webhook-id per conversation");
    let lost = posts.iter().filter(|p| p.status == 503).count();
    assert!(lost >= 3, "a quarter of the answers were lost: {lost}");
    for (id, attempts) in &ids {
        assert!(
            attempts.iter().all(|p| p.body == attempts[0].body),
            "{id}: the same record on every attempt"
        );
        let answered = attempts.iter().filter(|p| p.status != 503).count();
        assert_eq!(answered, 1, "{id}: posted again only until it was answered");
    }
    // Each call is in exactly one record, the one of its conversation.
    for id in &calls {
        let id = id.to_string();
        let records: Vec<&Post> = ids
            .values()
            .map(|a| &a[0])
            .filter(|p| p.body["data"]["call_id"] == id.as_str())
            .collect();
        assert_eq!(records.len(), 1, "call {id}: {posts:#?}");
    }
    let statuses: Vec<&str> = ids
        .values()
        .filter_map(|a| a[0].body["data"]["status"].as_str())
        .collect();
    for status in ["answered", "missed", "voicemail"] {
        assert!(statuses.contains(&status), "{statuses:?}");
    }
    let logged = s.settled_logs();
    assert_eq!(logged.len(), calls.len(), "{logged:#?}");
    assert!(
        logged.values().all(|(decision, _)| decision == "logged"),
        "{logged:#?}"
    );
    s.stop().await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_record_carries_the_call() {
    let (receiver, server) = Receiver::start().await;
    let s = start(&server).await;
    let calls = conversations(&s, 90);
    let (a, events) = &calls[0];
    s.play(events).await;
    assert!(s.settle_until(async || !receiver.posts().is_empty()).await);
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let body = &posts[0].body;
    assert_eq!(body["type"], "call.completed");
    let d = &body["data"];
    assert_eq!(d["call_id"], a.cc_leg.to_string());
    assert_eq!(d["direction"], "inbound");
    assert_eq!(d["from_number"], json!(a.caller));
    assert_eq!(d["to_number"], WEBHOOK_PHONE);
    assert_eq!(d["status"], "answered");
    assert_eq!(d["disposition"], "Tour Scheduled");
    assert_eq!(d["talk_seconds"], 290);
    assert_eq!(d["agent_email"], "ana@example.com");
    assert_eq!(d["call_center"]["id"], WEBHOOK_CALL_CENTER);
    assert_eq!(
        d["recording_url"],
        format!("https://dialpad.com/shared/call/{}", a.cc_leg)
    );
    assert!(s.dialpad().pops().is_empty(), "a webhook has no screen pop");
    s.stop().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_refused_post_is_said_once_and_not_posted_again() {
    let (receiver, server) = Receiver::start().await;
    let s = Scenario::start_tuned(
        BACKEND,
        vec![webhook_enablement(WEBHOOK_CALL_CENTER, json!({}))],
        None,
        Duration::from_secs(1),
        |o| {
            Receiver::wire(&mut o.installation, &server);
            if let Some(c) = o
                .installation
                .connections
                .get_mut("hook")
                .and_then(|c| c.settings_mut::<llbridge_crm_webhook::WebhookConnection>())
            {
                c.url = format!("{}/elsewhere", server.url());
            }
        },
    )
    .await;
    let (_, events) = &conversations(&s, 70)[1];
    s.play(events).await;
    s.settle().await;
    let logged = s.settled_logs();
    assert_eq!(
        logged.values().collect::<Vec<_>>(),
        [&("failed".to_owned(), Some("webhook_rejected".to_owned()))],
        "{logged:#?}"
    );
    assert!(receiver.posts().is_empty());
    s.stop().await;
    server.shutdown().await;
}

async fn doctor_of(url: &str, secret: &str) -> Vec<(Verdict, String, String)> {
    let mut doc = configs::document(
        vec![webhook_enablement(WEBHOOK_CALL_CENTER, json!({}))],
        "sandbox",
        "sandbox",
    );
    doc["connections"]["hook"]["url"] = json!(url);
    doc["connections"]["hook"]["secret"] = json!(secret);
    let inst = configs::installation(&doc);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let clients = llbridge_crm_registry::HttpClients::new(
        Arc::new(MemorySecrets::new()),
        Arc::new(MemoryStore::new(clock.clone())),
        clock.clone(),
    )
    .unwrap_or_else(|e| panic!("clients: {e}"));
    doctor::run(&inst, &clients, clock.now_ms())
        .await
        .checks
        .into_iter()
        .filter(|c| c.check == "webhook_answers")
        .map(|c| (c.verdict, c.detail, c.fix.unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn doctor_posts_a_signed_test_and_says_who_did_not_take_it() {
    let (receiver, server) = Receiver::start().await;
    let url = format!("{}/hooks/calls", server.url());
    let ok = doctor_of(&url, llbridge_tests::receiver::SECRET).await;
    assert_eq!(ok.len(), 1, "{ok:#?}");
    assert_eq!(ok[0].0, Verdict::Pass, "{ok:#?}");
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].id, "llbridge-doctor");
    assert!(posts[0].verified, "signed with the connection's secret");

    let wrong = doctor_of(&url, "whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ==").await;
    assert_eq!(wrong[0].0, Verdict::Fail, "{wrong:#?}");
    assert!(
        wrong[0].1.contains("refused a signed test post"),
        "{wrong:#?}"
    );

    server.shutdown().await;
    let down = doctor_of(&url, llbridge_tests::receiver::SECRET).await;
    assert_eq!(down[0].0, Verdict::Fail, "{down:#?}");
    assert!(down[0].1.contains("does not answer"), "{down:#?}");
}
