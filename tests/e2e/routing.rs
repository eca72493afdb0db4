//! Call routing while the phone rings: Dialpad's router posts the call, signed with the
//! router's secret, and the answer sends a known family to its center's target, the family of
//! a recent answered call to that agent, a LeadSquared lead to its owner, and anything else
//! (unknown, ambiguous, unmapped, a stalled CRM, a late answer) to the fallback; a bad
//! signature is 401. `dialpad connect` makes one Dialpad router per entry, and the Dialpad
//! sandbox plays a routed call through it.

use super::BACKEND;
use std::time::{Duration, Instant};

use llbridge_domain::config::{RouteEntry, SecretRef, Target};
use llbridge_sandbox::{FaultRule, Faults};
use llbridge_tests::configs::{self, leadsquared_enablement, CALL_CENTER, LEADSQUARED_CALL_CENTER};
use llbridge_tests::scenario::{answered, Scenario};
use llbridge_tests::webhook::{post, sign_with};
use llbridge_usecases::connect::{self, Change, RouterPlan};
use serde_json::{json, Value};

const SECRET: &str = "router-secret-0123456789abcdef0123456789";
const OAK_PARK_CC: &str = "4716644561813601";
const FALLBACK_CC: &str = "4716644561813504";
const ANA: &str = "5150000000000001";
const BEN: &str = "5150000000000002";

fn target(kind: &str, id: &str) -> Target {
    Target {
        target_type: kind.into(),
        target_id: id.into(),
    }
}

fn entry(connection: &str, prefer_last_agent: bool, deadline_ms: u64) -> RouteEntry {
    RouteEntry {
        secret: SecretRef::Literal(SECRET.into()),
        connection: connection.into(),
        office_id: "5630409049792512".into(),
        fallback: target("callcenter", FALLBACK_CC),
        centers: [("oak park".to_owned(), target("callcenter", OAK_PARK_CC))].into(),
        prefer_last_agent,
        last_agent_days: 30,
        deadline_ms,
    }
}

/// A host whose LineLeader sandbox has the demo families, with the router `enrollment` on
/// LineLeader and `riverside` on LeadSquared.
async fn scenario(prefer_last_agent: bool, deadline_ms: u64) -> Scenario {
    let enablements = vec![
        configs::enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"enable_task_queue": false}),
        ),
        leadsquared_enablement(LEADSQUARED_CALL_CENTER, json!({})),
    ];
    let now = chrono::Utc::now();
    let mut data = llbridge_sandbox::Dataset::demo(now);
    // Two families with one number, created together, of the same status: no rule decides.
    let twin = |id| {
        llbridge_tests::scenario::family(
            id,
            "+14158159688",
            101,
            1,
            now - chrono::Duration::days(2),
        )
    };
    data.families.extend([twin(1101), twin(1102)]);
    Scenario::start_tuned(
        BACKEND,
        enablements,
        Some(data),
        Duration::from_secs(1),
        |o| {
            o.installation.routing.insert(
                "enrollment".into(),
                entry("main", prefer_last_agent, deadline_ms),
            );
            o.installation
                .routing
                .insert("riverside".into(), entry("lsq", false, deadline_ms));
        },
    )
    .await
}

fn routed_call(call_id: u64, caller: &str) -> Value {
    json!({"call_id": call_id, "external_number": caller, "internal_number": "+14155550150",
        "direction": "inbound", "exp": chrono::Utc::now().timestamp() + 60})
}

/// Posts a routing request as Dialpad does; the status and the answer.
async fn route(s: &Scenario, router: &str, call_id: u64, caller: &str) -> (u16, Value) {
    let url = format!("http://{}/dialpad/route/{router}", s.host.addr);
    post(&url, sign_with(&routed_call(call_id, caller), SECRET)).await
}

fn to(answer: &Value) -> (String, String) {
    assert_eq!(answer["action"], "route", "{answer}");
    (
        answer["target_type"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        answer["target_id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| answer["target_id"].to_string()),
    )
}

/// Why the router sent the call `call_id` where it did, as the ledger noted it.
async fn reason(s: &Scenario, call_id: &str) -> String {
    llbridge_usecases::route::noted(s.host.store.as_ref(), call_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|r| r.reason.as_str().to_owned())
        .unwrap_or_default()
}

fn pair(kind: &str, id: &str) -> (String, String) {
    (kind.to_owned(), id.to_owned())
}

#[tokio::test]
async fn families_reach_their_center_and_everyone_else_the_fallback() {
    let s = scenario(false, 1500).await;
    // Maya Lopez, family 1001, at Oak Park (typed "(415) 815-9602").
    let (status, answer) = route(&s, "enrollment", 9001, "+14158159602").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(to(&answer), pair("callcenter", OAK_PARK_CC));
    // Liam Patel, family 1003, at Elm Street: no target mapped.
    let (_, answer) = route(&s, "enrollment", 9002, "+14158159622").await;
    assert_eq!(to(&answer), pair("callcenter", FALLBACK_CC));
    // Nobody has this number; no family is created.
    let families_before = s.lineleader().state().data.families.len();
    let (_, answer) = route(&s, "enrollment", 9003, "+14158159699").await;
    assert_eq!(to(&answer), pair("callcenter", FALLBACK_CC));
    assert_eq!(s.lineleader().state().data.families.len(), families_before);
    // Two families share this number, and no rule decides between them.
    let (_, answer) = route(&s, "enrollment", 9004, "+14158159688").await;
    assert_eq!(to(&answer), pair("callcenter", FALLBACK_CC));
    for (call, why) in [
        ("9001", "family_center"),
        ("9002", "no_mapping"),
        ("9003", "unknown_caller"),
        ("9004", "family_ambiguous"),
    ] {
        assert_eq!(reason(&s, call).await, why, "call {call}");
    }

    // A repeat caller costs LineLeader nothing: the owner is kept five minutes.
    let searches = || {
        s.lineleader()
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/families/search"))
            .count()
    };
    let before = searches();
    let (_, answer) = route(&s, "enrollment", 9005, "+14158159602").await;
    assert_eq!(to(&answer), pair("callcenter", OAK_PARK_CC));
    assert_eq!(searches(), before);

    // The trace tells where the call went and why.
    let trace = llbridge_usecases::trace::trace(s.host.store.as_ref(), "9001")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no trace"));
    let text = trace.render();
    assert!(
        text.contains(&format!(
            "routed to Oak Park's call center {OAK_PARK_CC} (family 1001's center)"
        )),
        "{text}"
    );

    // Not signed with the router's secret: 401, and nothing decided.
    let url = format!("http://{}/dialpad/route/enrollment", s.host.addr);
    let (status, answer) = post(
        &url,
        sign_with(
            &routed_call(9006, "+14158159602"),
            "another-secret-0123456789abcdef012345",
        ),
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    let (status, _) = post(&url, routed_call(9007, "+14158159602").to_string()).await;
    assert_eq!(status, 401);
    s.stop().await;
}

#[tokio::test]
async fn a_stalled_lineleader_gets_the_fallback_within_the_deadline() {
    let s = scenario(false, 400).await;
    s.lineleader().set_faults(Faults {
        rules: vec![FaultRule::slow_answer("GET", "/families/search", 5_000)],
        ..Faults::default()
    });
    let started = Instant::now();
    let (status, answer) = route(&s, "enrollment", 9101, "+14158159602").await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(to(&answer), pair("callcenter", FALLBACK_CC));
    assert!(
        took < Duration::from_millis(2_500),
        "answered at the deadline, not when LineLeader did: {took:?}"
    );
    assert_eq!(reason(&s, "9101").await, "deadline");
    s.stop().await;
}

#[tokio::test]
async fn a_family_whose_last_call_was_answered_goes_to_that_agent() {
    let s = scenario(true, 1500).await;
    // Before any call: the center.
    let (_, answer) = route(&s, "enrollment", 9201, "+14158159612").await;
    assert_eq!(to(&answer), pair("callcenter", OAK_PARK_CC));
    // Noah Kim (family 1002) calls; Ana answers; the call is logged.
    let call = s.call(21, "+14158159612");
    s.play(&answered(&call)).await;
    let logged = s.settle_until(async || !s.settled_logs().is_empty()).await;
    assert!(logged);
    let (_, answer) = route(&s, "enrollment", 9202, "+14158159612").await;
    assert_eq!(
        to(&answer),
        pair("user", ANA),
        "Ana took the family's last call"
    );
    assert_eq!(reason(&s, "9202").await, "last_agent");
    // Ana goes off: the center again.
    s.dialpad().set_config(llbridge_sandbox::DialpadConfig {
        users: llbridge_sandbox::default_users()
            .into_iter()
            .map(|mut u| {
                u.is_available = u.id != ANA;
                u
            })
            .collect(),
        ..s.dialpad().config()
    });
    let (_, answer) = route(&s, "enrollment", 9203, "+14158159612").await;
    assert_eq!(to(&answer), pair("callcenter", OAK_PARK_CC));
    s.stop().await;
}

#[tokio::test]
async fn a_leadsquared_lead_goes_to_its_owner() {
    let s = scenario(false, 1500).await;
    let mut config = s.leadsquared().config();
    config.owners.insert(
        "14155550199".into(),
        llbridge_sandbox::leadsquared::SbOwner {
            user_id: "u-7".into(),
            first_name: "Ben".into(),
            last_name: "Agent".into(),
            email_address: "Ben@Example.com".into(),
        },
    );
    config.owners.insert(
        "14155550198".into(),
        llbridge_sandbox::leadsquared::SbOwner {
            user_id: "u-8".into(),
            first_name: "Zed".into(),
            last_name: "Nobody".into(),
            email_address: "zed@example.com".into(),
        },
    );
    s.leadsquared().set_config(config);
    let (_, answer) = route(&s, "riverside", 9301, "+14155550199").await;
    assert_eq!(to(&answer), pair("user", BEN));
    assert_eq!(reason(&s, "9301").await, "lead_owner");
    // An owner who is no Dialpad user, and a number without a lead: the fallback.
    let (_, answer) = route(&s, "riverside", 9302, "+14155550198").await;
    assert_eq!(to(&answer), pair("callcenter", FALLBACK_CC));
    assert_eq!(reason(&s, "9302").await, "no_dialpad_user");
    let (_, answer) = route(&s, "riverside", 9303, "+14155550197").await;
    assert_eq!(to(&answer), pair("callcenter", FALLBACK_CC));
    s.stop().await;
}

#[tokio::test]
async fn dialpad_connect_makes_one_router_per_entry_and_dialpad_plays_a_routed_call() {
    let s = scenario(false, 1500).await;
    let plans: Vec<RouterPlan> = ["enrollment", "riverside"]
        .iter()
        .map(|n| RouterPlan {
            name: (*n).into(),
            secret: SECRET.into(),
            numbers: if *n == "enrollment" {
                vec!["+14155550150".into()]
            } else {
                Vec::new()
            },
        })
        .collect();
    let hook = s.host.webhook_url();
    let lines = connect::routers(s.dialpad(), &s.host.installation, &hook, &plans, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let changes: Vec<(Change, &str)> = lines.iter().map(|l| (l.change, l.object)).collect();
    assert_eq!(
        changes,
        [
            (Change::Created, "router"),
            (Change::Created, "router number"),
            (Change::Created, "router")
        ],
        "{lines:#?}"
    );
    let again = connect::routers(s.dialpad(), &s.host.installation, &hook, &plans, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        again.iter().all(|l| l.change == Change::Unchanged),
        "{again:#?}"
    );
    assert_eq!(s.dialpad().routers().len(), 2);

    // Dialpad plays a call from Maya on the enrollment router.
    let router_id = lines[0].id.clone();
    let played = s
        .dialpad()
        .route_call(&router_id, "+14158159602")
        .await
        .unwrap_or_else(|| panic!("no such router"));
    assert_eq!(played.status, 200, "{played:?}");
    assert_eq!(
        (played.target_type.as_str(), played.target_id.as_str()),
        ("callcenter", OAK_PARK_CC)
    );
    s.stop().await;
}
