//! One call center on LineLeader, one on LeadSquared, through the real webhook and worker:
//! each LeadSquared conversation posts exactly one call log with the fields of the connector
//! (and inbound calls pop the agent popup once), also when LeadSquared takes a call log and
//! its answer is lost; LineLeader conversations behave as before.

use super::BACKEND;
use llbridge_usecases::jobs::JobKind;
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use llbridge_sandbox::{FaultRule, Faults, SbCallLog};
use llbridge_tests::configs::{
    enablement, leadsquared_enablement, CALL_CENTER, LEADSQUARED_CALL_CENTER, LEADSQUARED_PHONE,
};
use llbridge_tests::events::Call;
use llbridge_tests::scenario::{answered, Scenario};
use llbridge_usecases::effect::Timing;
use llbridge_usecases::worker::RetryPolicy;
use serde_json::{json, Value};

const AGENT_PHONE: &str = "+14155550123";
const LOG_CALL: &str = "/v2/Telephony.svc/LogCall";

fn enablements() -> Vec<Value> {
    vec![
        enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"enable_task_queue": false, "screen_pop": false}),
        ),
        leadsquared_enablement(LEADSQUARED_CALL_CENTER, json!({})),
    ]
}

fn on_leadsquared(mut c: Call) -> Call {
    c.call_center = LEADSQUARED_CALL_CENTER.into();
    c.call_center_phone = LEADSQUARED_PHONE.into();
    c
}

fn time(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The call logs LeadSquared took, by `CallSessionId`.
fn logs_by_session(s: &Scenario) -> BTreeMap<String, Vec<SbCallLog>> {
    let mut by: BTreeMap<String, Vec<SbCallLog>> = BTreeMap::new();
    for l in s.leadsquared().call_logs() {
        by.entry(l.field("CallSessionId").unwrap_or_default())
            .or_default()
            .push(l);
    }
    by
}

/// The kinds of LeadSquared conversation: answered inbound, missed inbound, inbound to
/// voicemail, outbound.
fn conversations(s: &Scenario, seed: u64) -> [(Call, Vec<Value>); 4] {
    let answered_in = on_leadsquared(s.live_call(seed, &format!("+1650888{:04}", seed)));
    let missed = on_leadsquared(s.live_call(seed + 1, &format!("+1650888{:04}", seed + 1)));
    let voicemail = on_leadsquared(s.live_call(seed + 2, &format!("+1650888{:04}", seed + 2)));
    let outbound = on_leadsquared(s.live_call(seed + 3, &format!("+1650888{:04}", seed + 3)));
    [
        (
            answered_in.clone(),
            vec![
                answered_in.agent("ringing", 200),
                answered_in.agent("connected", 5_100),
                answered_in.cc_hangup(295_200),
                answered_in.dispositions(&["Tour Scheduled"], 296_000),
            ],
        ),
        (
            missed.clone(),
            vec![
                missed.agent("ringing", 200),
                missed.cc_unanswered("hangup", 40_100),
            ],
        ),
        (
            voicemail.clone(),
            vec![voicemail.cc_unanswered("voicemail", 40_100)],
        ),
        (
            outbound.clone(),
            vec![
                outbound.outbound("calling", 10),
                outbound.outbound("connected", 8_000),
                outbound.outbound("hangup", 100_000),
            ],
        ),
    ]
}

#[tokio::test]
async fn each_leadsquared_conversation_posts_one_call_log_beside_lineleader() {
    let s = Scenario::start_with(BACKEND, enablements(), None, Duration::from_secs(1)).await;
    let [(a, a_events), (m, m_events), (v, v_events), (o, o_events)] = conversations(&s, 10);
    let lineleader_call = s.call(1, "+16505550142");
    for events in [&a_events, &m_events, &v_events, &o_events] {
        s.play(events).await;
    }
    s.play(&answered(&lineleader_call)).await;
    s.settle().await;

    let logs = logs_by_session(&s);
    assert_eq!(logs.len(), 4, "{logs:#?}");
    let posted = s
        .leadsquared()
        .requests()
        .iter()
        .filter(|r| r.path == LOG_CALL)
        .count();
    assert_eq!(posted, 4, "each call log posted once");
    let one = |id: u64| {
        let l = &logs[&id.to_string()];
        assert_eq!(l.len(), 1, "one call log for {id}");
        l[0].body.clone()
    };
    assert_eq!(
        one(a.cc_leg),
        json!({
            "SourceNumber": a.caller,
            "DestinationNumber": AGENT_PHONE,
            "DisplayNumber": LEADSQUARED_PHONE,
            "StartTime": time(a.t0),
            "EndTime": time(a.t0 + 295_100),
            "CallDuration": 290,
            "Status": "Answered",
            "Direction": "Inbound",
            "CallSessionId": a.cc_leg.to_string(),
            "ResourceURL": format!("https://dialpad.com/shared/call/{}", a.cc_leg),
            "CallNotes": "Tour Scheduled",
        })
    );
    let missed = one(m.cc_leg);
    assert_eq!(missed["Status"], "Missed");
    assert_eq!(missed["CallDuration"], 0);
    assert_eq!(missed["SourceNumber"], json!(m.caller));
    assert_eq!(
        missed["DestinationNumber"], LEADSQUARED_PHONE,
        "nobody answered: the call center"
    );
    assert_eq!(one(v.cc_leg)["Status"], "Voicemail");
    let out = one(o.agent_leg);
    assert_eq!(
        (
            &out["Direction"],
            &out["Status"],
            &out["SourceNumber"],
            &out["DestinationNumber"],
            &out["DisplayNumber"],
            &out["CallDuration"]
        ),
        (
            &json!("Outbound"),
            &json!("Answered"),
            &json!(AGENT_PHONE),
            &json!(o.caller),
            &json!(LEADSQUARED_PHONE),
            &json!(92)
        )
    );

    // The agent popups: one per agent offered an inbound call, with the caller and the agent.
    let popups = s.leadsquared().popups();
    let callers: Vec<&str> = popups
        .iter()
        .filter_map(|p| p.body["SourceNumber"].as_str())
        .collect();
    assert_eq!(
        callers,
        [a.caller.as_str(), m.caller.as_str()],
        "{popups:#?}"
    );
    assert_eq!(popups[0].body["AgentEmail"], "ana@example.com");
    assert_eq!(popups[0].body["CallSessionId"], a.cc_leg.to_string());

    // LineLeader: the LineLeader call, and nothing of the LeadSquared ones.
    let phone_logs = s.phone_logs();
    assert_eq!(phone_logs.len(), 1);
    assert_eq!(
        phone_logs[0].external_call_id,
        lineleader_call.cc_leg.to_string()
    );
    let searched: Vec<String> = s
        .lineleader()
        .requests()
        .iter()
        .filter_map(|r| r.query.clone())
        .collect();
    assert!(
        searched.iter().all(|q| !q.contains("6508880")),
        "no LineLeader request about a LeadSquared caller: {searched:?}"
    );
    assert!(s.dialpad().pops().is_empty(), "LeadSquared pops itself");

    let logged: Vec<_> = s
        .host
        .reports()
        .into_iter()
        .filter(|r| r.job == Some(JobKind::CallLog) && r.decision == "logged")
        .collect();
    assert_eq!(logged.len(), 5, "{logged:#?}");
    s.host.stop().await;
}

#[tokio::test]
async fn lost_answers_still_give_one_call_log_per_conversation() {
    let rounds = 4_u64;
    let s = Scenario::start_tuned(BACKEND, enablements(), None, Duration::from_secs(1), |o| {
        // Requests time out after 0.8 s, before the 1 s stalls end.
        o.timing = Timing::for_job_budget(Duration::from_secs(4));
        o.retry = RetryPolicy {
            first: Duration::from_millis(100),
            max: Duration::from_secs(1),
            horizon: Duration::from_secs(60),
        };
        o.sandbox.leadsquared_faults = Faults {
            hang_ms: 1_000,
            rules: vec![
                FaultRule::lose_answer("POST", "*", 503, 0.3),
                FaultRule::stall_after_write("POST", "*", 0.3),
            ],
            ..Faults::default()
        };
        o.sandbox.lineleader_faults = Faults {
            rules: vec![FaultRule::lose_answer(
                "POST",
                "/in-contact/phone-logs",
                503,
                0.3,
            )],
            ..Faults::default()
        };
    })
    .await;
    let mut lineleader_calls = Vec::new();
    for r in 0..rounds {
        for (_, events) in conversations(&s, 100 + 10 * r) {
            s.play(&events).await;
        }
        let c = s.call(200 + r, &format!("+1650999{r:04}"));
        s.play(&answered(&c)).await;
        lineleader_calls.push(c);
    }
    let total = (rounds * 5) as usize;
    s.settle_until(async || s.settled_logs().len() >= total)
        .await;
    assert!(
        s.host.drain(Duration::from_secs(60)).await,
        "the queue did not drain"
    );

    let decisions: BTreeMap<_, _> = s
        .settled_logs()
        .into_iter()
        .map(|(conversation, (decision, _))| (conversation, decision))
        .collect();
    assert_eq!(decisions.len(), total, "{decisions:#?}");
    assert!(decisions.values().all(|d| d == "logged"), "{decisions:#?}");
    let logs = logs_by_session(&s);
    assert_eq!(logs.len(), (rounds * 4) as usize);
    for (session, l) in &logs {
        assert_eq!(
            l.len(),
            1,
            "CallSessionId {session} logged {} times",
            l.len()
        );
    }
    // A call log is posted again only after its answer was lost, and then once.
    let mut posts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in s
        .leadsquared()
        .requests()
        .iter()
        .filter(|r| r.path == LOG_CALL)
    {
        let session = r.body["CallSessionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let e = posts.entry(session).or_default();
        e.0 += 1;
        // Status 0: the client gave up waiting (a stall) before any answer.
        e.1 += usize::from(r.answer_lost || r.status == 0);
    }
    for (session, (sent, lost)) in &posts {
        assert_eq!(
            *sent,
            1 + lost,
            "{session}: {sent} posts, {lost} answers lost"
        );
    }
    let lost: usize = posts.values().map(|p| p.1).sum();
    assert!(lost > 0, "some call logs lost their answer");
    let mut phone_logs: Vec<String> = s
        .phone_logs()
        .into_iter()
        .map(|p| p.external_call_id)
        .collect();
    phone_logs.sort();
    let mut want: Vec<String> = lineleader_calls
        .iter()
        .map(|c| c.cc_leg.to_string())
        .collect();
    want.sort();
    assert_eq!(phone_logs, want, "one phone log per LineLeader call");
    s.host.stop().await;
}
