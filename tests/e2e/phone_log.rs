//! Phone Log mode end to end: the phone log LineLeader receives, field by field.

use super::BACKEND;
use chrono::{TimeZone, Utc};
use llbridge_tests::scenario::{answered, data, log_now, Scenario};
use llbridge_usecases::jobs::JobKind;
use llbridge_usecases::worker::{Decision, Reason};
use serde_json::json;

fn secs(ms: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(ms.div_euclid(1000), 0)
        .single()
        .unwrap_or_default()
}

#[tokio::test]
async fn every_field_of_an_answered_inbound_call() {
    let s = Scenario::with_known_family(
        BACKEND,
        json!({"enable_task_queue": true, "screen_pop": false, "call_log_link_type": "public"}),
    )
    .await;
    let call = s.call(1, "+14158159602");
    let mut events = answered(&call);
    events.push(call.dispositions(&["Follow-Up Needed"], 296_000));
    s.play(&events).await;
    s.settle().await;
    let logs = s.phone_logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = &logs[0];
    assert_eq!(log.direction, "Inbound");
    assert_eq!(log.ani, "4158159602", "ANI is ten digits NPANXXXXXX");
    assert_eq!(log.dnis.as_deref(), Some("4155550100"));
    assert_eq!(log.start_date_time, secs(call.t0));
    assert_eq!(log.end_date_time, secs(call.t0 + 295_100));
    assert_eq!(log.disposition, "Follow-Up Needed");
    assert_eq!(
        log.recording_url.as_deref(),
        Some(format!("https://dialpad.com/shared/call/{}", call.cc_leg).as_str())
    );
    assert_eq!(
        log.external_call_id,
        call.cc_leg.to_string(),
        "the Dialpad call id, for traceability"
    );
    assert_eq!(log.family_id, 1001);
    assert_eq!(log.center_id, Some(101));
    // On the wire: whole-second timestamps.
    let bodies = s.bodies("POST", "/in-contact/phone-logs");
    assert_eq!(bodies.len(), 1);
    for k in ["start_date_time", "end_date_time"] {
        let t = bodies[0][k].as_str().unwrap_or_default();
        assert!(t.ends_with('Z') && !t.contains('.'), "{k} = {t}");
    }
    s.stop().await;
}

#[tokio::test]
async fn without_a_disposition_the_log_says_dialpad() {
    let s = Scenario::with_known_family(BACKEND, log_now()).await;
    s.play(&answered(&s.call(1, "+14158159602"))).await;
    s.settle().await;
    let logs = s.phone_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].disposition, "Dialpad");
    assert_eq!(
        logs[0].recording_url, None,
        "no link type configured: no link"
    );
    s.stop().await;
}

#[tokio::test]
async fn the_link_follows_the_link_type() {
    for (link_type, expect_recording) in
        [("recording", true), ("public", false), ("company", false)]
    {
        let s = Scenario::with_known_family(BACKEND, json!({"enable_task_queue": false, "screen_pop": false, "call_log_link_type": link_type})).await;
        let call = s.call(1, "+14158159602");
        // The recording arrives before the hangup here, so the immediate log has it.
        s.play(&[
            call.agent("connected", 5_100),
            call.recording(290_000),
            call.cc_hangup(295_200),
        ])
        .await;
        s.settle().await;
        let logs = s.phone_logs();
        assert_eq!(logs.len(), 1, "{link_type}");
        let want = match link_type {
            "recording" => Some(format!("https://dialpad.com/r/{}", call.agent_leg)),
            "public" => Some(format!("https://dialpad.com/shared/call/{}", call.cc_leg)),
            _ => None,
        };
        assert_eq!(
            logs[0].recording_url, want,
            "{link_type} (recording link expected: {expect_recording})"
        );
        s.stop().await;
    }
}

#[tokio::test]
async fn a_disposition_after_hangup_within_the_log_delay_is_logged() {
    let s = Scenario::with_known_family(
        BACKEND,
        json!({"enable_task_queue": true, "screen_pop": false}),
    )
    .await;
    let call = s.call(1, "+14158159602");
    s.play(&answered(&call)).await;
    // After the hangup, before the (2 s) log delay runs out.
    s.run_due(std::time::Duration::from_millis(500)).await;
    assert!(s.phone_logs().is_empty(), "the log waits for the delay");
    s.send(&call.dispositions(&["Left Voicemail"], 330_000))
        .await;
    s.settle().await;
    let logs = s.phone_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].disposition, "Left Voicemail");
    s.stop().await;
}

#[tokio::test]
async fn disposition_wait_secs_gets_a_late_disposition_into_the_log() {
    let s = Scenario::with_known_family(
        BACKEND,
        json!({"enable_task_queue": true, "screen_pop": false, "disposition_wait_secs": 10}),
    )
    .await;
    let call = s.call(1, "+14158159602");
    s.play(&answered(&call)).await;
    // Past the log delay, the answered call has no disposition: it waits up to 10 s more.
    if BACKEND.is_aws() {
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    } else {
        let three_secs = std::time::Duration::from_secs(3);
        assert!(
            s.host
                .settle(three_secs, std::time::Duration::from_secs(60))
                .await
        );
        assert!(s.host.reports().iter().any(|r| r
            .reason
            .is_some_and(|w| w.as_str() == "waiting_for_disposition")));
    }
    assert!(s.phone_logs().is_empty(), "waits for the disposition");
    s.send(&call.dispositions(&["Left Voicemail"], 330_000))
        .await;
    assert!(s.settle_until(async || s.phone_logs().len() == 1).await);
    let logs = s.phone_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].disposition, "Left Voicemail");
    s.stop().await;
}

#[tokio::test]
async fn a_disposition_after_the_log_changes_nothing_and_says_so() {
    let s = Scenario::with_known_family(BACKEND, log_now()).await;
    let call = s.call(1, "+14158159602");
    s.play(&answered(&call)).await;
    s.settle().await;
    assert_eq!(s.phone_logs().len(), 1);
    s.send(&call.dispositions(&["Tour Booked"], 330_000)).await;
    s.settle().await;
    let logs = s.phone_logs();
    assert_eq!(logs.len(), 1, "not logged again");
    assert_eq!(logs[0].disposition, "Dialpad");
    if !BACKEND.is_aws() {
        let late: Vec<_> = s
            .host
            .reports()
            .into_iter()
            .filter(|r| {
                r.reason
                    .is_some_and(|w| w.as_str() == "late_event_after_log")
            })
            .collect();
        assert_eq!(late.len(), 1, "{late:?}");
        assert!(late[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("dispositions came after the call was logged")));
    }
    s.stop().await;
}

#[tokio::test]
async fn a_missed_inbound_call_is_logged_and_its_caller_becomes_a_family() {
    let now = Utc::now();
    let s = Scenario::start(BACKEND, log_now(), Some(data(now, vec![]))).await;
    let call = s.call(1, "+16505550142");
    let mut ring = call.agent("ringing", 200);
    let mut agent_hangup = call.agent("hangup", 20_000);
    agent_hangup.as_object_mut().map(|o| {
        o.remove("date_connected");
        o.remove("duration")
    });
    let mut cc = call.cc_hangup(20_100);
    let o = cc.as_object_mut().unwrap();
    o.remove("operator_call_id");
    o.remove("date_connected");
    o.insert("date_ended".into(), json!(call.t0 + 20_000));
    ring["state"] = json!("ringing");
    s.play(&[ring, agent_hangup, cc]).await;
    s.settle().await;
    assert_eq!(s.created_families().len(), 1, "no lead is lost");
    let logs = s.phone_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].direction, "Inbound");
    assert_eq!(logs[0].ani, "6505550142");
    s.stop().await;
}

#[tokio::test]
async fn an_outbound_dialer_call_is_logged_outbound_and_never_popped() {
    let s = Scenario::with_known_family(
        BACKEND,
        json!({"enable_task_queue": false, "screen_pop": true}),
    )
    .await;
    let t0 = s.now.timestamp_millis() - 120_000;
    let leg = |state: &str, dt: i64| {
        let mut e = json!({
            "call_id": 8100000000000001_u64, "state": state, "direction": "outbound",
            "event_timestamp": t0 + dt, "date_started": t0,
            "internal_number": "+14155550100", "external_number": "+14158159602",
            "target": {"id": 5150000000000001_u64, "type": "user", "email": "ana@example.com"},
            "proxy_target": {"id": 4716644561813504_u64, "type": "callcenter", "phone": "+14155550100"}
        });
        if state != "calling" {
            e["date_connected"] = json!(t0 + 8_000);
        }
        if state == "hangup" {
            e["date_ended"] = json!(t0 + 100_000);
            e["duration"] = json!(92_000.0);
        }
        e
    };
    s.play(&[
        leg("calling", 10),
        leg("connected", 8_000),
        leg("hangup", 100_000),
    ])
    .await;
    s.settle().await;
    let logs = s.phone_logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].direction, "Outbound");
    assert_eq!(
        logs[0].ani, "4158159602",
        "ANI is the family's number in both directions"
    );
    assert_eq!(logs[0].family_id, 1001);
    assert!(s.dialpad().pops().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn an_outage_delays_the_log_and_loses_nothing() {
    use llbridge_sandbox::{FaultRule, Faults};
    let s = Scenario::with_known_family(BACKEND, log_now()).await;
    // LineLeader answers 503 to every search for a while (the suites retry 100 ms doubling to
    // 1 s, for 2.5 s).
    s.lineleader().set_faults(Faults {
        rules: vec![FaultRule::fail("GET", "/families/search", 503, None)],
        ..Faults::default()
    });
    s.play(&answered(&s.call(1, "+14158159602"))).await;
    // The first delivery fails after the client's own retries of one request (about 1.5 s).
    s.run_due(std::time::Duration::from_secs(3)).await;
    assert!(s.phone_logs().is_empty());
    s.lineleader().set_faults(Faults::default());
    s.settle().await;
    assert_eq!(s.phone_logs().len(), 1, "logged once LineLeader is back");
    let retries = s
        .host
        .reports()
        .iter()
        .filter(|r| r.job == Some(JobKind::CallLog) && r.decision == "retry")
        .count();
    assert!(retries >= 1, "retried meanwhile");
    assert!(s.host.dead_letters().await.is_empty());
    s.stop().await;
}

#[tokio::test]
async fn a_malformed_job_is_acknowledged_with_its_reason_not_retried() {
    let s = Scenario::with_known_family(BACKEND, log_now()).await;
    s.host
        .queue
        .send(
            "{\"v\": 1, \"job\": \"call_log\"}",
            std::time::Duration::ZERO,
        )
        .await
        .expect("queued");
    s.settle().await;
    let reports = s.host.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(
        (reports[0].decision, reports[0].reason),
        (Decision::Failed, Some(Reason::Failure("malformed_message")))
    );
    assert_eq!(s.host.pending().await, 0, "acknowledged");
    assert!(s.host.dead_letters().await.is_empty());
    s.stop().await;
}
