use super::*;
use llbridge_domain::conversation::merge;
use llbridge_domain::event::Party;
use llbridge_domain::CallEvent;
use serde_json::json;

const CC: u64 = 6208917392220160;
const ANA: u64 = 5829361047752704;

fn event(v: Value) -> CallEvent {
    CallEvent::from_value(&v).unwrap()
}

fn cc_target() -> Value {
    json!({"id": 4716644561813504_u64, "type": "call_center", "name": "Enrollment", "phone": "+14155550100"})
}

fn ana() -> Value {
    json!({"id": 5150000000000001_u64, "type": "user", "name": "Ana Agent", "email": "ana@example.com", "phone": "(415) 555-0123"})
}

/// An inbound call Ana answered: 292.9 s of talk, a disposition and a recap.
fn answered() -> Conversation {
    let common = json!({"direction": "inbound", "internal_number": "+14155550100", "external_number": "+16505550199"});
    let with = |v: Value| {
        let mut v = v;
        v.as_object_mut()
            .unwrap()
            .extend(common.as_object().unwrap().clone());
        event(v)
    };
    merge(&[
        with(json!({"call_id": ANA, "entry_point_call_id": CC, "state": "connected", "event_timestamp": 1767710409900_i64,
            "date_started": 1767710404987_i64, "date_connected": 1767710409870_i64, "target": ana()})),
        with(json!({"call_id": CC, "operator_call_id": ANA, "state": "hangup", "event_timestamp": 1767710702456_i64,
            "date_started": 1767710398001_i64, "date_connected": 1767710409870_i64, "date_ended": 1767710702301_i64,
            "duration": 292931.512, "target": cc_target(), "public_call_review_share_link": "https://dialpad.com/shared/call/AbC123"})),
        with(json!({"call_id": CC, "state": "dispositions", "event_timestamp": 1767710761002_i64,
            "target": cc_target(), "call_dispositions": [{"name": "Tour Scheduled"}]})),
        with(json!({"call_id": CC, "state": "recap_summary", "event_timestamp": 1767710761003_i64,
            "target": cc_target(), "recap_summary": "Asked about infant openings."})),
    ])
    .unwrap()
}

/// An inbound call nobody answered; `state` ends the call-center leg.
fn unanswered(state: &str) -> Conversation {
    merge(&[event(
        json!({"call_id": CC, "state": state, "direction": "inbound", "event_timestamp": 1767710460000_i64,
            "date_started": 1767710400000_i64, "date_ended": 1767710459000_i64, "duration": 59000.0,
            "external_number": "+16505550199", "target": cc_target()}),
    )])
    .unwrap()
}

#[test]
fn an_answered_inbound_call() {
    let log = call_log(&answered(), Some(LinkKind::Public), true).unwrap();
    assert_eq!(
        serde_json::to_value(&log).unwrap(),
        json!({
            "SourceNumber": "+16505550199",
            "DestinationNumber": "+14155550123",
            "DisplayNumber": "+14155550100",
            "StartTime": "2026-01-06 14:39:58",
            "EndTime": "2026-01-06 14:45:02",
            "CallDuration": 292,
            "Status": "Answered",
            "Direction": "Inbound",
            "CallSessionId": CC.to_string(),
            "ResourceURL": "https://dialpad.com/shared/call/AbC123",
            "CallNotes": "Tour Scheduled\n\nSummary: Asked about infant openings.",
        })
    );
}

#[test]
fn a_missed_inbound_call_goes_to_the_call_center_and_lasts_nothing() {
    let without = call_log(&answered(), Some(LinkKind::Public), false).unwrap();
    assert_eq!(
        without.call_notes.as_deref(),
        Some("Tour Scheduled"),
        "include_recap off"
    );
    let log = call_log(&unanswered("hangup"), Some(LinkKind::Recording), true).unwrap();
    assert_eq!(log.status, CallStatus::Missed);
    assert_eq!(log.call_duration, 0);
    assert_eq!(log.source_number, "+16505550199");
    assert_eq!(log.destination_number, "+14155550100");
    assert_eq!(log.display_number, "+14155550100");
    assert_eq!(log.resource_url, None, "no link of the configured kind");
    assert_eq!(log.call_notes, None);
    let json = serde_json::to_value(&log).unwrap();
    assert!(json.get("ResourceURL").is_none() && json.get("CallNotes").is_none());
}

#[test]
fn a_call_that_reached_voicemail() {
    assert_eq!(
        call_log(&unanswered("voicemail"), None, true)
            .unwrap()
            .status,
        CallStatus::Voicemail
    );
}

#[test]
fn an_outbound_call_goes_from_the_agent_to_the_lead() {
    let conv = merge(&[event(
        json!({"call_id": ANA, "state": "hangup", "direction": "outbound", "event_timestamp": 1767710460000_i64,
            "date_started": 1767710400000_i64, "date_connected": 1767710405000_i64, "date_ended": 1767710459000_i64,
            "duration": 54000.0, "external_number": "650-555-0199", "target": ana(),
            "proxy_target": {"id": 4716644561813504_u64, "type": "callcenter", "phone": "+14155550100"}}),
    )])
    .unwrap();
    let log = call_log(&conv, None, true).unwrap();
    assert_eq!(log.direction, CallDirection::Outbound);
    assert_eq!(log.source_number, "+14155550123");
    assert_eq!(log.destination_number, "+16505550199");
    assert_eq!(log.display_number, "+14155550100");
    assert_eq!(log.status, CallStatus::Answered);
    assert_eq!(log.call_duration, 54);
    assert_eq!(log.call_session_id, ANA.to_string());
}

#[test]
fn calls_that_cannot_be_posted_say_why() {
    let mut anonymous = unanswered("hangup");
    anonymous.caller_number = Some("anonymous".into());
    assert_eq!(
        call_log(&anonymous, None, true).unwrap_err().code(),
        "leadsquared_no_lead_number"
    );
    let mut nowhere = unanswered("hangup");
    nowhere.call_center = None;
    assert_eq!(
        call_log(&nowhere, None, true).unwrap_err().code(),
        "leadsquared_no_display_number"
    );
}

#[test]
fn the_agent_popup_names_the_caller_and_the_agent() {
    let agent = Party {
        id: Some("5150000000000001".into()),
        kind: None,
        name: Some("Bob Agent".into()),
        email: Some("bob@example.com".into()),
        phone: None,
    };
    let offer = Offer {
        user_id: "5150000000000001",
        agent: &agent,
        call_id: "6208917392220160",
    };
    let popup = agent_popup(&answered(), &offer).unwrap();
    assert_eq!(
        serde_json::to_value(&popup).unwrap(),
        json!({
            "SourceNumber": "+16505550199",
            "DestinationNumber": "+14155550100",
            "DisplayNumber": "+14155550100",
            "Direction": "Inbound",
            "CallSessionId": "6208917392220160",
            "AgentEmail": "bob@example.com",
            "AgentName": "Bob Agent",
        })
    );
}

#[test]
fn answers_are_read_leniently() {
    let done = |id: Option<&str>| Answer::Done {
        id: id.map(str::to_owned),
    };
    let cases: Vec<(u16, &str, Answer)> = vec![
        (
            200,
            r#"{"Status":"Success","Message":{"Id":"b8c4"}}"#,
            done(Some("b8c4")),
        ),
        (200, "", done(None)),
        (201, r#"{"RequestId": 42}"#, done(Some("42"))),
        (
            200,
            r#"{"Status":"Error","ExceptionMessage":"Duplicate CallSessionId"}"#,
            Answer::Duplicate("Duplicate CallSessionId".into()),
        ),
        (
            200,
            r#"{"Status":"Error","ExceptionMessage":"Invalid DisplayNumber"}"#,
            Answer::Refused("Invalid DisplayNumber".into()),
        ),
        (409, "conflict", Answer::Duplicate("conflict".into())),
        (
            400,
            r#"{"message":"a call log with this CallSessionId already exists"}"#,
            Answer::Duplicate("a call log with this CallSessionId already exists".into()),
        ),
        (
            401,
            r#"{"Status":"Error","Message":"Invalid AccessKey"}"#,
            Answer::Refused("HTTP 401: Invalid AccessKey".into()),
        ),
        (429, "", Answer::Throttled),
        (503, "", Answer::Unknown("HTTP 503".into())),
        (
            500,
            r#"{"Status":"Error","ExceptionType":"MXDuplicateEntryException","ExceptionMessage":"Duplicate entry"}"#,
            Answer::Duplicate("Duplicate entry".into()),
        ),
        (408, "", Answer::Unknown("HTTP 408".into())),
    ];
    for (status, body, want) in cases {
        assert_eq!(
            read_answer(status, body.as_bytes()),
            want,
            "{status} {body}"
        );
    }
}
