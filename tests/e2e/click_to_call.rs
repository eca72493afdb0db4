//! LeadSquared's connector, the telephony side: a click in LeadSquared starts one Dialpad call
//! for the right agent and number (also when LeadSquared sends it twice, or twice at once);
//! a wrong key, a premium number, a number of another country and an unknown agent start
//! none, each with its reason and never with the keyword; the outbound call that follows is
//! logged once with its `LeadId`; a disposition picked in LeadSquared's popup before the log
//! is in its `CallNotes`, one after it takes the late path.

use super::BACKEND;
use std::time::Duration;

use llbridge_sandbox::Faults;
use llbridge_tests::configs::{
    leadsquared_enablement, ACTION_KEY, LEADSQUARED_CALL_CENTER, LEADSQUARED_PHONE,
};
use llbridge_tests::events::Call;
use llbridge_tests::scenario::Scenario;
use serde_json::{json, Value};

const ANA: &str = "5150000000000001";
const LEAD_NUMBER: &str = "+14158159602";

async fn scenario() -> Scenario {
    Scenario::start_with(
        BACKEND,
        vec![leadsquared_enablement(LEADSQUARED_CALL_CENTER, json!({}))],
        None,
        Duration::from_secs(1),
    )
    .await
}

/// How a request is sent: JSON, a form, or query parameters of a GET.
#[derive(Clone, Copy)]
enum As {
    Json,
    Form,
    Query,
}

async fn post(
    s: &Scenario,
    path: &str,
    key: Option<&str>,
    how: As,
    params: &Value,
) -> (u16, String) {
    let url = format!("http://{}{path}", s.host.addr);
    let client = reqwest::Client::new();
    let pairs: Vec<(String, String)> = params
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect();
    let mut req = match how {
        As::Json => client.post(&url).json(params),
        As::Form => client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&pairs)
                    .finish(),
            ),
        As::Query => client.get(&url).query(&pairs),
    };
    if let Some(k) = key {
        req = req.header("X-Llbridge-Key", k);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

async fn click(s: &Scenario, key: Option<&str>, how: As, params: Value) -> (u16, Value) {
    let (status, text) = post(s, "/leadsquared/click-to-call", key, how, &params).await;
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    if status != 200 {
        assert!(
            !text.to_lowercase().contains("ok"),
            "a refusal must not contain the keyword: {text}"
        );
    }
    (status, body)
}

fn lead_click(number: &str) -> Value {
    json!({
        "agent_email": "Ana@Example.com",
        "phone_number": number,
        "lead_id": "lead-42",
        "virtual_number": LEADSQUARED_PHONE,
    })
}

#[tokio::test]
async fn a_click_starts_one_call_for_the_right_user_and_number_also_when_sent_twice() {
    let s = scenario().await;
    let (status, first) = click(&s, Some(ACTION_KEY), As::Json, lead_click(LEAD_NUMBER)).await;
    assert_eq!(status, 200, "{first}");
    assert!(
        first.to_string().contains("OK"),
        "the response keyword: {first}"
    );
    // LeadSquared did not hear back and sends it again, as a form this time.
    let (status, again) = click(&s, Some(ACTION_KEY), As::Form, lead_click("14158159602")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["call_id"], first["call_id"], "the first call's id");
    assert_eq!(again["repeated"], true);

    let started = s.dialpad().started_calls();
    assert_eq!(started.len(), 1, "{started:#?}");
    let call = &started[0];
    assert_eq!(json!(call.call_id), first["call_id"]);
    assert_eq!(call.user_id, ANA);
    assert_eq!(call.phone_number, LEAD_NUMBER);
    assert_eq!(call.group_id.as_deref(), Some(LEADSQUARED_CALL_CENTER));
    assert_eq!(call.group_type.as_deref(), Some("callcenter"));
    assert_eq!(call.outbound_caller_id.as_deref(), Some(LEADSQUARED_PHONE));
    assert!(
        call.custom_data
            .as_deref()
            .is_some_and(|d| d.contains("lead-42")),
        "{call:?}"
    );

    // Two clicks at once on another number: one call, both answered with its id.
    let params = lead_click("+14158159603");
    let (a, b) = tokio::join!(
        click(&s, Some(ACTION_KEY), As::Json, params.clone()),
        click(&s, Some(ACTION_KEY), As::Query, params)
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    assert_eq!(a.1["call_id"], b.1["call_id"]);
    assert_eq!(s.dialpad().started_calls().len(), 2);
    s.stop().await;
}

#[tokio::test]
async fn refused_clicks_start_no_call_and_say_why() {
    let s = scenario().await;
    let cases = [
        (
            Some("wrong-key-wrong-key-wrong-key-wrong"),
            lead_click(LEAD_NUMBER),
            401,
            "bad_key",
        ),
        (None, lead_click(LEAD_NUMBER), 401, "bad_key"),
        (
            Some(ACTION_KEY),
            lead_click("+19005551234"),
            422,
            "number_not_allowed",
        ),
        (
            Some(ACTION_KEY),
            lead_click("+442079460958"),
            422,
            "number_not_allowed",
        ),
        (
            Some(ACTION_KEY),
            lead_click("+18764561234"),
            422,
            "number_not_allowed",
        ),
        (
            Some(ACTION_KEY),
            json!({"agent_email": "nobody@example.com", "phone_number": LEAD_NUMBER}),
            404,
            "no_dialpad_user",
        ),
        (
            Some(ACTION_KEY),
            json!({"phone_number": LEAD_NUMBER}),
            400,
            "missing_agent_email",
        ),
    ];
    for (key, params, status, reason) in cases {
        let (got, body) = click(&s, key, As::Json, params.clone()).await;
        assert_eq!(
            (got, body["reason"].as_str()),
            (status, Some(reason)),
            "{params}: {body}"
        );
    }
    // Bounded like the webhook: 64 KiB.
    let mut big = lead_click(LEAD_NUMBER);
    big["padding"] = json!("x".repeat(70 * 1024));
    let (got, body) = click(&s, Some(ACTION_KEY), As::Json, big).await;
    assert_eq!(
        (got, body["reason"].as_str()),
        (413, Some("body_too_large"))
    );
    assert!(s.dialpad().started_calls().is_empty());

    // Dialpad's limit: 5 calls a minute per user.
    for i in 0..5 {
        let (got, body) = click(
            &s,
            Some(ACTION_KEY),
            As::Json,
            lead_click(&format!("+1415815970{i}")),
        )
        .await;
        assert_eq!(got, 200, "{body}");
    }
    let (got, body) = click(&s, Some(ACTION_KEY), As::Json, lead_click("+14158159709")).await;
    assert_eq!(
        (got, body["reason"].as_str()),
        (429, Some("dialpad_rate_limited"))
    );
    assert_eq!(s.dialpad().started_calls().len(), 5);
    s.stop().await;
}

#[tokio::test]
async fn a_start_whose_answer_is_lost_is_not_sent_again() {
    let s = scenario().await;
    s.dialpad().set_faults(Faults {
        rules: vec![llbridge_sandbox::FaultRule::lose_answer(
            "POST",
            "/api/v2/call",
            502,
            1.0,
        )],
        ..Faults::default()
    });
    let (got, body) = click(&s, Some(ACTION_KEY), As::Json, lead_click(LEAD_NUMBER)).await;
    assert_eq!(
        (got, body["reason"].as_str()),
        (504, Some("dialpad_outcome_unknown")),
        "{body}"
    );
    s.dialpad().set_faults(Faults::default());
    let (got, body) = click(&s, Some(ACTION_KEY), As::Json, lead_click(LEAD_NUMBER)).await;
    assert_eq!(
        (got, body["reason"].as_str()),
        (504, Some("dialpad_outcome_unknown")),
        "{body}"
    );
    assert_eq!(
        s.dialpad().started_calls().len(),
        1,
        "the agent's phone rang once: the repeat did not start another call"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_outbound_call_that_follows_is_logged_once_with_its_lead_id() {
    let s = scenario().await;
    let (status, body) = click(&s, Some(ACTION_KEY), As::Json, lead_click(LEAD_NUMBER)).await;
    assert_eq!(status, 200, "{body}");
    let started = s.dialpad().started_calls().remove(0);
    // Dialpad's events of the call, custom_data passed through.
    let mut call: Call = s.live_call(70, LEAD_NUMBER);
    call.agent_leg = started.call_id.parse().unwrap_or_else(|e| panic!("{e}"));
    call.call_center = LEADSQUARED_CALL_CENTER.into();
    call.call_center_phone = LEADSQUARED_PHONE.into();
    call.custom_data = started.custom_data.clone();
    s.play(&[
        call.outbound("calling", 10),
        call.outbound("connected", 8_000),
        call.outbound("hangup", 100_000),
    ])
    .await;
    let logged = s
        .settle_until(async || !s.leadsquared().call_logs().is_empty())
        .await;
    assert!(logged);
    s.settle().await;
    let logs = s.leadsquared().call_logs();
    assert_eq!(logs.len(), 1, "{logs:#?}");
    assert_eq!(logs[0].body["CallSessionId"], started.call_id);
    assert_eq!(logs[0].body["LeadId"], "lead-42");
    assert_eq!(logs[0].body["Direction"], "Outbound");
    assert_eq!(logs[0].body["DestinationNumber"], LEAD_NUMBER);
    s.stop().await;
}

async fn dispose(s: &Scenario, how: As, params: Value) -> (u16, Value) {
    let (status, text) = post(
        s,
        "/leadsquared/disposition",
        Some(ACTION_KEY),
        how,
        &params,
    )
    .await;
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

#[tokio::test]
async fn a_disposition_from_leadsquared_is_in_the_call_log_and_a_late_one_takes_the_late_path() {
    let s = scenario().await;
    let mut known = s.live_call(71, "+14158159611");
    known.call_center = LEADSQUARED_CALL_CENTER.into();
    known.call_center_phone = LEADSQUARED_PHONE.into();
    // Picked in the popup while the call is on: the popup's CallSessionId.
    s.play(&[known.agent("ringing", 200), known.agent("connected", 5_100)])
        .await;
    let (status, body) = dispose(
        &s,
        As::Json,
        json!({"callSessionId": known.cc_leg.to_string(), "dispositionValue": "Tour Booked",
            "customerNumber": "4158159611"}),
    )
    .await;
    assert_eq!((status, &body["status"]), (200, &json!("OK")), "{body}");
    // One for a call Dialpad has not told of yet: kept, and merged when its events arrive.
    let mut early = s.live_call(72, "+14158159612");
    early.call_center = LEADSQUARED_CALL_CENTER.into();
    early.call_center_phone = LEADSQUARED_PHONE.into();
    let (status, body) = dispose(
        &s,
        As::Form,
        json!({"call_session_id": early.cc_leg.to_string(), "disposition": "Callback Requested"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    s.play(&[known.cc_hangup(295_200)]).await;
    s.play(&[
        early.agent("ringing", 200),
        early.agent("connected", 5_100),
        early.cc_hangup(295_200),
    ])
    .await;
    // Settled: logged, and the legs marked so (a detail from now on is a late one).
    let done = s.settle_until(async || s.settled_logs().len() >= 2).await;
    assert!(done);
    let notes = |id: u64| {
        s.leadsquared()
            .call_logs()
            .into_iter()
            .filter(|l| l.field("CallSessionId") == Some(id.to_string()))
            .map(|l| l.body["CallNotes"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(notes(known.cc_leg), [json!("Tour Booked")]);
    assert_eq!(notes(early.cc_leg), [json!("Callback Requested")]);

    // After the log: the late path, said in the answer; nothing is posted twice.
    let (status, body) = dispose(
        &s,
        As::Json,
        json!({"callSessionId": known.cc_leg.to_string(), "dispositionValue": "Enrolled"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["late"], true, "{body}");
    s.settle().await;
    assert_eq!(notes(known.cc_leg).len(), 1, "one call log");

    // Without the key, nothing is merged.
    let (status, text) = post(
        &s,
        "/leadsquared/disposition",
        None,
        As::Json,
        &json!({"callSessionId": "123", "dispositionValue": "X"}),
    )
    .await;
    assert_eq!(status, 401, "{text}");
    s.stop().await;
}
