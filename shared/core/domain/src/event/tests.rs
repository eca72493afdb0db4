use super::*;
use serde_json::json;

#[test]
fn every_named_state_has_a_known_phase_and_the_phases_do_not_overlap() {
    for (name, state) in STATES {
        assert_ne!(state.phase(), Phase::Unknown, "{name}");
        let flags = [state.ends_leg(), state.is_live(), state.goes_into_the_log()];
        assert!(flags.iter().filter(|f| **f).count() <= 1, "{name}");
        assert_eq!(CallState::from((*name).to_owned()).as_str(), *name);
    }
    let odd = CallState::from("Teleported".to_owned());
    assert_eq!(odd.phase(), Phase::Unknown);
    assert!(!odd.ends_leg() && !odd.is_live() && !odd.goes_into_the_log());
    assert_eq!(CallState::from("VOICEMAIL".to_owned()).phase(), Phase::Ends);
}

pub const AGENT_RINGING: &str = r#"{"call_id": 5829361047752704, "entry_point_call_id": 6208917392220160, "state": "ringing",
 "direction": "inbound", "event_timestamp": 1767710405123, "date_started": 1767710404987,
 "internal_number": "+14155550100", "external_number": "+16505550199",
 "group_id": "CallCenter:4716644561813504",
 "target": {"id": 5150000000000001, "type": "user", "name": "Ana Agent", "email": "ana@example.com", "phone": "+14155550123"},
 "entry_point_target": {"id": 4716644561813504, "type": "callcenter", "name": "Enrollment", "phone": "+14155550100"},
 "proxy_target": {}, "contact": {"id": 5600392044183552, "type": "local", "phone": "+16505550199"}}"#;

pub const CC_HANGUP: &str = r#"{"call_id": 6208917392220160, "master_call_id": 6031987721523200, "operator_call_id": 5829361047752704,
 "state": "hangup", "direction": "inbound", "event_timestamp": 1767710702456,
 "date_started": 1767710398001, "date_connected": 1767710409870, "date_ended": 1767710702301,
 "duration": 292431.512, "internal_number": "+14155550100", "external_number": "+16505550199",
 "target": {"id": 4716644561813504, "type": "call_center", "name": "Enrollment", "phone": "+14155550100"},
 "entry_point_target": {"id": 124, "type": "office", "name": "Acme HQ"},
 "was_recorded": true, "public_call_review_share_link": "https://dialpad.com/shared/call/AbC123"}"#;

pub const DISPOSITIONS: &str = r#"{"call_id": 6208917392220160, "operator_call_id": 5829361047752704, "state": "dispositions",
 "direction": "inbound", "event_timestamp": 1767710761002,
 "target": {"id": 4716644561813504, "type": "call_center"},
 "call_dispositions": [{"name": "Follow-Up Needed"}]}"#;

fn parse(s: &str) -> CallEvent {
    CallEvent::parse(s.as_bytes()).unwrap().0
}

#[test]
fn agent_leg_ringing_example() {
    let e = parse(AGENT_RINGING);
    assert_eq!(e.call_id, "5829361047752704");
    assert_eq!(e.entry_point_call_id.as_deref(), Some("6208917392220160"));
    assert_eq!(e.state, CallState::Ringing);
    assert_eq!(e.direction, Some(Direction::Inbound));
    assert_eq!(e.event_timestamp, 1767710405123);
    let t = e.target.as_ref().unwrap();
    assert_eq!(t.kind, Some(PartyKind::User));
    assert_eq!(t.email.as_deref(), Some("ana@example.com"));
    assert_eq!(t.id.as_deref(), Some("5150000000000001"));
    let ep = e.entry_point_target.as_ref().unwrap();
    assert_eq!(ep.kind, Some(PartyKind::CallCenter));
    assert_eq!(ep.id.as_deref(), Some("4716644561813504"));
    assert_eq!(e.proxy_target, None, "{{}} reads as absent");
    assert_eq!(e.group_id.as_deref(), Some("CallCenter:4716644561813504"));
    assert!(e.is_user_leg());
}

#[test]
fn call_center_leg_hangup_example() {
    let e = parse(CC_HANGUP);
    assert_eq!(e.state, CallState::Hangup);
    assert!(e.is_call_center_leg(), "type call_center spelling");
    assert_eq!(e.operator_call_id.as_deref(), Some("5829361047752704"));
    assert_eq!(e.duration_ms, Some(292431.512));
    assert_eq!(e.was_recorded, Some(true));
    assert_eq!(
        e.links,
        vec![Link {
            kind: LinkKind::Public,
            url: "https://dialpad.com/shared/call/AbC123".into()
        }]
    );
    assert_eq!(
        e.linked_ids(),
        vec![
            "5829361047752704".to_string(),
            "6031987721523200".to_string()
        ]
    );
}

#[test]
fn dispositions_example() {
    let e = parse(DISPOSITIONS);
    assert_eq!(e.state, CallState::Dispositions);
    assert_eq!(e.dispositions, vec!["Follow-Up Needed".to_string()]);
}

#[test]
fn ids_as_strings_or_numbers_above_2_pow_53() {
    let e = parse(
        r#"{"call_id": "9007199254740993", "master_call_id": 9007199254740995, "state": "hangup"}"#,
    );
    assert_eq!(e.call_id, "9007199254740993");
    assert_eq!(e.master_call_id.as_deref(), Some("9007199254740995"));
}

#[test]
fn junk_link_ids_are_absent() {
    for junk in [r#"null"#, r#""""#, "0", r#""null""#] {
        let body = format!(
            r#"{{"call_id": 1, "state": "ringing", "entry_point_call_id": {junk}, "master_call_id": {junk}, "operator_call_id": {junk}}}"#
        );
        let e = parse(&body);
        assert!(e.linked_ids().is_empty(), "{body}");
    }
}

#[test]
fn both_call_center_spellings() {
    for t in ["callcenter", "call_center", "CallCenter"] {
        let e = parse(&format!(
            r#"{{"call_id": 1, "state": "hangup", "target": {{"id": 7, "type": "{t}"}}}}"#
        ));
        assert!(e.is_call_center_leg(), "{t}");
    }
}

#[test]
fn booleans_as_strings() {
    let e = parse(
        r#"{"call_id": 1, "state": "hangup", "was_recorded": "TRUE", "is_transferred": "FALSE"}"#,
    );
    assert_eq!(e.was_recorded, Some(true));
    assert_eq!(e.is_transferred, Some(false));
}

#[test]
fn dates_as_strings_and_float_durations() {
    let e = parse(
        r#"{"call_id": 1, "state": "hangup", "date_started": "1767710398001", "date_ended": 1767710702301.0, "duration": "1500.25", "total_duration": 2000.5}"#,
    );
    assert_eq!(e.date_started, Some(1767710398001));
    assert_eq!(e.date_ended, Some(1767710702301));
    assert_eq!(e.duration_ms, Some(1500.25));
    assert_eq!(e.total_duration_ms, Some(2000.5));
}

#[test]
fn unknown_states_and_fields_are_kept_not_fatal() {
    let (e, raw) = CallEvent::parse(
        br#"{"call_id": 1, "state": "hologram", "brand_new_field": {"x": [1,2]}}"#,
    )
    .unwrap();
    assert_eq!(e.state, CallState::Other("hologram".into()));
    assert_eq!(e.state.as_str(), "hologram");
    assert_eq!(raw["brand_new_field"]["x"][1], json!(2));
}

#[test]
fn dispositions_in_every_shape() {
    let cases = [
        (json!("Left Voicemail"), vec!["Left Voicemail"]),
        (json!(["A", "B"]), vec!["A", "B"]),
        (
            json!([{"name": "A"}, {"disposition": "B"}, {"label": "C"}]),
            vec!["A", "B", "C"],
        ),
        (json!([{"id": 3}, null, ""]), vec![]),
        (
            json!("Sales~Connected – Interested"),
            vec!["Sales~Connected – Interested"],
        ),
    ];
    for key in ["call_dispositions", "dispositions"] {
        for (v, want) in &cases {
            let body = json!({"call_id": 1, "state": "dispositions", key: v});
            let e = CallEvent::from_value(&body).unwrap();
            assert_eq!(e.dispositions, *want, "{key}: {v}");
        }
    }
}

#[test]
fn recaps_in_every_shape() {
    let cases = [
        (
            json!({"recap_summary": "Parent asked about infant openings."}),
            vec!["Parent asked about infant openings."],
        ),
        (
            json!({"recap_action_items": ["Send the tuition sheet", " ", "Book a tour"]}),
            vec!["Send the tuition sheet", "Book a tour"],
        ),
        (
            json!({"recap_outcome": {"text": "Tour booked"}, "recap_purposes": [{"title": "Enrollment"}]}),
            vec!["Tour booked", "Enrollment"],
        ),
        (
            json!({"recap_summary": null, "recap_outcome": {"id": 4}}),
            vec![],
        ),
    ];
    for (fields, want) in cases {
        let mut body = json!({"call_id": 1, "state": "recap_summary"});
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let e = CallEvent::from_value(&body).unwrap();
        assert_eq!(e.recap, want, "{fields}");
    }
    let long = "x".repeat(MAX_RECAP + 10);
    let e = CallEvent::from_value(
        &json!({"call_id": 1, "state": "recap_summary", "recap_summary": long}),
    )
    .unwrap()
    .clipped();
    assert_eq!(e.recap[0].len(), MAX_RECAP);
}

#[test]
fn recording_links_of_every_kind() {
    let e = CallEvent::from_value(&json!({
        "call_id": 1, "state": "recording",
        "recording_details": [{"id": 1, "recording_type": "call", "url": "https://r/1"},
                               {"id": 2, "recording_type": "admincallrecording", "url": "https://r/2"}],
        "recording_url": ["https://r/1", "https://r/3"],
        "admin_recording_urls": ["https://r/4"],
        "company_call_review_share_link": "https://c/1",
        "voicemail_link": "https://v/1"
    }))
    .unwrap();
    let kinds: Vec<(LinkKind, &str)> = e.links.iter().map(|l| (l.kind, l.url.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            (LinkKind::Company, "https://c/1"),
            (LinkKind::Recording, "https://r/1"),
            (LinkKind::Recording, "https://r/3"),
            (LinkKind::AdminRecording, "https://r/2"),
            (LinkKind::AdminRecording, "https://r/4"),
            (LinkKind::Voicemail, "https://v/1"),
        ]
    );
}

#[test]
fn malformed_bodies_are_errors_not_panics() {
    assert!(matches!(
        CallEvent::parse(b"nope"),
        Err(EventError::NotJson(_))
    ));
    assert_eq!(
        CallEvent::parse(b"[1]").unwrap_err(),
        EventError::NotAnObject
    );
    assert_eq!(
        CallEvent::parse(br#"{"state":"hangup"}"#).unwrap_err(),
        EventError::NoCallId
    );
    assert_eq!(
        CallEvent::parse(br#"{"call_id":"null","state":"hangup"}"#).unwrap_err(),
        EventError::NoCallId
    );
    assert_eq!(
        CallEvent::parse(br#"{"call_id":5}"#).unwrap_err(),
        EventError::NoState
    );
    // Fields of the wrong type read as absent.
    let e = CallEvent::from_value(
        &json!({"call_id": 1, "state": "hangup", "target": "x", "duration": {}, "direction": 3}),
    )
    .unwrap();
    assert_eq!(e.target, None);
    assert_eq!(e.duration_ms, None);
    assert_eq!(e.direction, None);
}
