use super::*;
use proptest::prelude::*;
use serde_json::json;

/// One answered inbound call-center call: two agents rung, Ana answers; the call-center leg
/// hangs up; a disposition and a recording come later.
pub fn answered_call() -> Vec<CallEvent> {
    let cc = 6208917392220160_u64;
    let ana = 5829361047752704_u64;
    let bob = 5829361047752999_u64;
    let common = |v: serde_json::Value| {
        let mut v = v;
        v["direction"] = json!("inbound");
        v["internal_number"] = json!("+14155550100");
        v["external_number"] = json!("+16505550199");
        CallEvent::from_value(&v).unwrap()
    };
    let agent = |id: u64, name: &str, email: &str| json!({"id": id / 1000, "type": "user", "name": name, "email": email});
    let ep = json!({"id": 4716644561813504_u64, "type": "callcenter", "name": "Enrollment", "phone": "+14155550100"});
    vec![
        common(
            json!({"call_id": ana, "entry_point_call_id": cc, "state": "ringing", "event_timestamp": 1767710405123_i64,
            "date_started": 1767710404987_i64, "target": agent(ana, "Ana Agent", "ana@example.com"), "entry_point_target": ep}),
        ),
        common(
            json!({"call_id": bob, "entry_point_call_id": cc, "state": "ringing", "event_timestamp": 1767710405200_i64,
            "date_started": 1767710404990_i64, "target": agent(bob, "Bob Agent", "bob@example.com"), "entry_point_target": ep}),
        ),
        common(
            json!({"call_id": ana, "entry_point_call_id": cc, "state": "connected", "event_timestamp": 1767710409900_i64,
            "date_started": 1767710404987_i64, "date_connected": 1767710409870_i64, "target": agent(ana, "Ana Agent", "ana@example.com"), "entry_point_target": ep}),
        ),
        common(
            json!({"call_id": bob, "entry_point_call_id": cc, "state": "hangup", "event_timestamp": 1767710409950_i64,
            "date_started": 1767710404990_i64, "date_ended": 1767710409940_i64, "target": agent(bob, "Bob Agent", "bob@example.com"), "entry_point_target": ep}),
        ),
        common(
            json!({"call_id": ana, "entry_point_call_id": cc, "state": "hangup", "event_timestamp": 1767710702400_i64,
            "date_started": 1767710404987_i64, "date_connected": 1767710409870_i64, "date_ended": 1767710702300_i64, "duration": 292430.0,
            "target": agent(ana, "Ana Agent", "ana@example.com"), "entry_point_target": ep}),
        ),
        common(
            json!({"call_id": cc, "master_call_id": 6031987721523200_u64, "operator_call_id": ana, "state": "hangup",
            "event_timestamp": 1767710702456_i64, "date_started": 1767710398001_i64, "date_connected": 1767710409870_i64,
            "date_ended": 1767710702301_i64, "duration": 292431.512,
            "target": {"id": 4716644561813504_u64, "type": "call_center", "name": "Enrollment", "phone": "+14155550100"},
            "entry_point_target": {"id": 124, "type": "office", "name": "Acme HQ"},
            "was_recorded": true, "public_call_review_share_link": "https://dialpad.com/shared/call/AbC123"}),
        ),
        common(
            json!({"call_id": cc, "operator_call_id": ana, "state": "dispositions", "event_timestamp": 1767710761002_i64,
            "target": {"id": 4716644561813504_u64, "type": "call_center"}, "call_dispositions": [{"name": "Follow-Up Needed"}]}),
        ),
        common(
            json!({"call_id": ana, "entry_point_call_id": cc, "state": "recording", "event_timestamp": 1767710790000_i64,
            "target": agent(ana, "Ana Agent", "ana@example.com"),
            "recording_details": [{"id": 1, "recording_type": "call", "url": "https://dialpad.com/r/1", "duration": 290000}]}),
        ),
    ]
}

#[test]
fn the_merged_record_knows_the_call() {
    let c = merge(&answered_call()).unwrap();
    assert_eq!(c.key, "5829361047752704");
    assert_eq!(c.dialpad_call_id, "6208917392220160");
    assert_eq!(c.caller_number.as_deref(), Some("+16505550199"));
    assert_eq!(c.direction, Some(Direction::Inbound));
    let cc = c.call_center.as_ref().unwrap();
    assert_eq!(cc.id, "4716644561813504");
    assert_eq!(cc.number.as_deref(), Some("+14155550100"));
    assert_eq!(cc.office_id.as_deref(), Some("124"));
    let a = c.agent.as_ref().unwrap();
    assert_eq!(a.call_id, "5829361047752704");
    assert_eq!(a.email.as_deref(), Some("ana@example.com"));
    assert_eq!(a.email_source, EmailSource::OperatorLeg);
    assert_eq!(c.started_at, Some(1767710398001));
    assert_eq!(c.connected_at, Some(1767710409870));
    assert_eq!(c.ended_at, Some(1767710702301));
    assert_eq!(c.duration_ms, Some(292431.512));
    assert!(c.answered);
    assert_eq!(c.disposition(), Some("Follow-Up Needed"));
    assert_eq!(
        c.link(LinkKind::Public),
        Some("https://dialpad.com/shared/call/AbC123")
    );
    assert_eq!(c.link(LinkKind::Recording), Some("https://dialpad.com/r/1"));
    assert!(c.ended);
    assert_eq!(c.legs.len(), 4, "cc, ana, bob and the master leg");
}

#[test]
fn a_missed_call_has_no_agent() {
    let events: Vec<CallEvent> = answered_call()
        .into_iter()
        .filter(|e| e.state != CallState::Connected && e.call_id != "5829361047752704")
        .map(|mut e| {
            e.operator_call_id = None;
            e.date_connected = None;
            e
        })
        .collect();
    let c = merge(&events).unwrap();
    assert!(!c.answered);
    assert_eq!(c.agent, None);
}

#[test]
fn an_agent_leg_alone_is_not_ended_until_its_hangup() {
    let events: Vec<CallEvent> = answered_call().into_iter().take(3).collect();
    assert!(!merge(&events).unwrap().ended);
}

#[test]
fn the_call_center_leg_hangup_ends_the_call_even_if_agent_hangups_are_lost() {
    let events: Vec<CallEvent> = answered_call()
        .into_iter()
        .filter(|e| !(e.is_user_leg() && e.state == CallState::Hangup))
        .collect();
    assert!(merge(&events).unwrap().ended);
    let without_cc_hangup: Vec<CallEvent> = answered_call()
        .into_iter()
        .filter(|e| !(e.is_call_center_leg() && e.state == CallState::Hangup))
        .collect();
    assert!(!merge(&without_cc_hangup).unwrap().ended);
}

#[test]
fn an_unanswered_agent_leg_ending_does_not_end_the_call() {
    // Bob's phone rang and stopped; the call-center leg has sent nothing yet.
    let events: Vec<CallEvent> = answered_call()
        .into_iter()
        .filter(|e| e.call_id == "5829361047752999")
        .collect();
    assert!(!merge(&events).unwrap().ended);
}

#[test]
fn a_late_ringing_never_undoes_a_hangup() {
    let mut events = answered_call();
    events.reverse();
    let c = merge(&events).unwrap();
    assert!(c.ended);
    assert_eq!(c.ended_at, Some(1767710702301));
}

#[test]
fn outbound_calls_are_attributed_to_the_caller() {
    let e = CallEvent::from_value(
        &json!({"call_id": 10, "state": "hangup", "direction": "outbound",
        "event_timestamp": 5, "date_started": 1, "date_connected": 2, "date_ended": 4,
        "external_number": "+16505550199",
        "target": {"id": 9, "type": "user", "email": "ana@example.com"},
        "proxy_target": {"id": 77, "type": "callcenter", "phone": "+14155550100"}}),
    )
    .unwrap();
    let c = merge(&[e]).unwrap();
    assert_eq!(c.direction, Some(Direction::Outbound));
    let a = c.agent.unwrap();
    assert_eq!(a.email_source, EmailSource::TargetUser);
    assert_eq!(c.call_center.unwrap().id, "77");
    assert_eq!(c.duration_ms, Some(2.0));
}

#[test]
fn the_agents_number_the_recap_and_voicemail_are_kept() {
    let mut events = answered_call();
    for e in events.iter_mut() {
        if e.call_id == "5829361047752704" {
            if let Some(t) = e.target.as_mut() {
                t.phone = Some("+14155550123".into());
            }
        }
    }
    let recap = |ts: i64, fields: serde_json::Value| {
        let mut v = json!({"call_id": 6208917392220160_u64, "event_timestamp": ts,
            "target": {"id": 4716644561813504_u64, "type": "call_center"}});
        v.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        CallEvent::from_value(&v).unwrap()
    };
    events.push(recap(
        1767710800000,
        json!({"state": "recap_action_items", "recap_action_items": ["Book a tour"]}),
    ));
    events.push(recap(
        1767710800001,
        json!({"state": "recap_summary", "recap_summary": "An early draft."}),
    ));
    events.push(recap(
        1767710800002,
        json!({"state": "recap_summary", "recap_summary": "Asked about infant openings."}),
    ));
    let c = merge(&events).unwrap();
    assert_eq!(
        c.agent.as_ref().and_then(|a| a.phone.as_deref()),
        Some("+14155550123")
    );
    assert_eq!(
        c.recap,
        [
            "Summary: Asked about infant openings.",
            "Action items:\n- Book a tour"
        ]
    );
    assert_eq!(
        recap_text(&c).as_deref(),
        Some("Summary: Asked about infant openings.\nAction items:\n- Book a tour")
    );
    let long = Conversation {
        recap: vec![format!("Summary: {}", "é".repeat(2 * RECAP_LIMIT))],
        ..c.clone()
    };
    let cut = recap_text(&long).unwrap_or_default();
    assert_eq!(cut.chars().count(), RECAP_LIMIT);
    assert!(cut.ends_with('…'));
    assert!(!c.voicemail);

    let missed: Vec<CallEvent> = answered_call()
        .into_iter()
        .filter(|e| e.is_call_center_leg())
        .map(|mut e| {
            e.operator_call_id = None;
            e.date_connected = None;
            if e.state == CallState::Hangup {
                e.state = CallState::Voicemail;
            }
            e
        })
        .collect();
    let c = merge(&missed).unwrap();
    assert!(c.voicemail && !c.answered && c.ended);
}

fn shuffled_with_duplicates() -> impl Strategy<Value = Vec<CallEvent>> {
    let base = answered_call();
    let n = base.len();
    (proptest::collection::vec(0..n, 0..6), Just(base)).prop_flat_map(|(dups, base)| {
        let mut all = base.clone();
        all.extend(dups.iter().map(|&i| base[i].clone()));
        Just(all).prop_shuffle()
    })
}

proptest! {
    #[test]
    fn merging_is_independent_of_order_and_duplication(events in shuffled_with_duplicates()) {
        let expected = merge(&answered_call()).unwrap();
        prop_assert_eq!(merge(&events).unwrap(), expected);
    }
}
