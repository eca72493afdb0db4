use chrono::{DateTime, TimeZone, Utc};

use super::*;
use llbridge_domain::conversation::{Agent, CallCenter, EmailSource};
use llbridge_domain::event::Link;

/// 2026-01-06T14:40:04.987Z
const STARTED: i64 = 1_767_710_404_987;

/// An answered inbound call of 4m 52s with a disposition and every kind of link.
pub(crate) fn call() -> Conversation {
    Conversation {
        key: "5829361047752704".into(),
        legs: vec!["5829361047752704".into(), "6208917392220160".into()],
        dialpad_call_id: "6208917392220160".into(),
        caller_number: Some("+16505550199".into()),
        direction: Some(Direction::Inbound),
        call_center: Some(CallCenter {
            id: "4716644561813504".into(),
            number: Some("+14155550100".into()),
            office_id: Some("124".into()),
        }),
        agent: Some(Agent {
            user_id: Some("5829361047752".into()),
            call_id: "5829361047752704".into(),
            email: Some("ana@example.com".into()),
            email_source: EmailSource::OperatorLeg,
            name: Some("Ana Agent".into()),
            phone: Some("+14155550123".into()),
        }),
        started_at: Some(STARTED),
        connected_at: Some(STARTED + 4_883),
        ended_at: Some(STARTED + 297_313),
        duration_ms: Some(292_431.512),
        answered: true,
        dispositions: vec!["Follow-Up Needed".into(), "Other".into()],
        recap: vec![],
        action_items: vec![],
        voicemail: false,
        links: vec![
            Link {
                kind: LinkKind::Public,
                url: "https://dialpad.com/shared/call/AbC123".into(),
            },
            Link {
                kind: LinkKind::Company,
                url: "https://dialpad.com/company/call/AbC123".into(),
            },
            Link {
                kind: LinkKind::Recording,
                url: "https://dialpad.com/r/1".into(),
            },
            Link {
                kind: LinkKind::AdminRecording,
                url: "https://dialpad.com/admin/r/1".into(),
            },
        ],
        ended: true,
        last_event_at: STARTED + 385_013,
        events: 8,
        custom_data: None,
    }
}

fn utc(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 6, h, m, s).unwrap()
}

#[test]
fn the_phone_log_of_an_answered_inbound_call() {
    let log = build_phone_log(&call(), "F1", Some("C1"), Some(LinkKind::Public)).unwrap();
    assert_eq!(
        log,
        PhoneLog {
            direction: LogDirection::Inbound,
            ani: "6505550199".into(),
            dnis: Some("4155550100".into()),
            start: utc(14, 40, 4),
            end: utc(14, 45, 2),
            disposition: "Follow-Up Needed".into(),
            recording_url: Some("https://dialpad.com/shared/call/AbC123".into()),
            external_call_id: "6208917392220160".into(),
            family_id: "F1".into(),
            center_id: Some("C1".into()),
        }
    );
}

#[test]
fn timestamps_are_whole_seconds() {
    let log = build_phone_log(&call(), "F1", None, None).unwrap();
    assert_eq!(log.start.timestamp_subsec_nanos(), 0);
    assert_eq!(log.end.timestamp_subsec_nanos(), 0);
    assert_eq!(
        log.start
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "2026-01-06T14:40:04Z"
    );
    assert_eq!(log.center_id, None);
}

#[test]
fn outbound_keeps_the_family_number_as_ani() {
    let mut c = call();
    c.direction = Some(Direction::Outbound);
    let log = build_phone_log(&c, "F1", None, None).unwrap();
    assert_eq!(log.direction, LogDirection::Outbound);
    assert_eq!(log.ani, "6505550199");
    assert_eq!(log.dnis.as_deref(), Some("4155550100"));
}

#[test]
fn unknown_direction_logs_inbound() {
    let mut c = call();
    c.direction = None;
    assert_eq!(log_direction(&c), LogDirection::Inbound);
}

#[test]
fn ani_and_dnis_from_any_written_form() {
    let mut c = call();
    c.caller_number = Some("(650) 555-0199".into());
    c.call_center.as_mut().unwrap().number = Some("1-415-555-0100".into());
    let log = build_phone_log(&c, "F1", None, None).unwrap();
    assert_eq!(log.ani, "6505550199");
    assert_eq!(log.dnis.as_deref(), Some("4155550100"));

    c.caller_number = Some("+44 20 7946 0958".into());
    assert_eq!(
        build_phone_log(&c, "F1", None, None).unwrap().ani,
        "442079460958"
    );
}

#[test]
fn dnis_is_absent_when_unknown() {
    let mut c = call();
    c.call_center.as_mut().unwrap().number = Some("n/a".into());
    assert_eq!(build_phone_log(&c, "F1", None, None).unwrap().dnis, None);
    c.call_center = None;
    assert_eq!(build_phone_log(&c, "F1", None, None).unwrap().dnis, None);
}

#[test]
fn disposition_falls_back_to_dialpad() {
    let mut c = call();
    c.dispositions.clear();
    assert_eq!(
        build_phone_log(&c, "F1", None, None).unwrap().disposition,
        "Dialpad"
    );
    c.dispositions = vec!["  ".into()];
    assert_eq!(log_disposition(&c), "Dialpad");
    c.dispositions = vec![" Connected~Interested ".into()];
    assert_eq!(log_disposition(&c), "Connected~Interested");
}

#[test]
fn the_recording_link_is_the_configured_kind() {
    let cases = [
        (None, None),
        (
            Some(LinkKind::Public),
            Some("https://dialpad.com/shared/call/AbC123"),
        ),
        (
            Some(LinkKind::Company),
            Some("https://dialpad.com/company/call/AbC123"),
        ),
        (Some(LinkKind::Recording), Some("https://dialpad.com/r/1")),
        (
            Some(LinkKind::AdminRecording),
            Some("https://dialpad.com/admin/r/1"),
        ),
        (Some(LinkKind::Voicemail), None),
    ];
    for (kind, want) in cases {
        let log = build_phone_log(&call(), "F1", None, kind).unwrap();
        assert_eq!(log.recording_url.as_deref(), want, "{kind:?}");
    }
}

#[test]
fn errors_have_codes() {
    let mut c = call();
    c.caller_number = None;
    let e = build_phone_log(&c, "F1", None, None).unwrap_err();
    assert_eq!(e, PhoneLogError::NoCallerNumber);
    assert_eq!(e.code(), "phone_log_no_caller_number");
    c.caller_number = Some("  ".into());
    assert_eq!(
        build_phone_log(&c, "F1", None, None).unwrap_err(),
        PhoneLogError::NoCallerNumber
    );
    c.caller_number = Some("anonymous".into());
    let e = build_phone_log(&c, "F1", None, None).unwrap_err();
    assert_eq!(e, PhoneLogError::UnparsableCallerNumber);
    assert_eq!(e.code(), "phone_log_unparsable_caller_number");

    let mut c = call();
    c.started_at = None;
    c.connected_at = None;
    c.ended_at = None;
    c.last_event_at = 0;
    let e = build_phone_log(&c, "F1", None, None).unwrap_err();
    assert_eq!(e, PhoneLogError::NoCallTimes);
    assert_eq!(e.code(), "phone_log_no_call_times");
}

#[test]
fn time_fallbacks() {
    // (started, connected, ended, duration ms, last event) → (start, end) as seconds after 14:40:00
    let base = utc(14, 40, 0).timestamp_millis();
    type Case = (
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<f64>,
        i64,
        Option<(i64, i64)>,
    );
    let cases: [Case; 8] = [
        (
            Some(5_500),
            Some(9_000),
            Some(300_999),
            Some(290_000.0),
            400_000,
            Some((5, 300)),
        ),
        // No start: connected.
        (
            None,
            Some(9_000),
            Some(300_000),
            None,
            400_000,
            Some((9, 300)),
        ),
        // Only the end and a duration: end minus duration.
        (
            None,
            None,
            Some(300_000),
            Some(60_000.0),
            400_000,
            Some((240, 300)),
        ),
        // Only the end.
        (None, None, Some(300_000), None, 400_000, Some((300, 300))),
        // No end: start plus duration.
        (
            Some(5_000),
            None,
            None,
            Some(60_400.0),
            400_000,
            Some((5, 65)),
        ),
        (
            Some(5_000),
            Some(6_000),
            None,
            Some(60_400.0),
            400_000,
            Some((5, 66)),
        ),
        // An end before the start is moved to the start.
        (
            Some(10_000),
            None,
            Some(2_000),
            None,
            400_000,
            Some((10, 10)),
        ),
        // Nothing but the latest event.
        (None, None, None, None, 400_000, Some((400, 400))),
    ];
    for (i, (started, connected, ended, duration, last, want)) in cases.into_iter().enumerate() {
        let mut c = call();
        c.started_at = started.map(|v| base + v);
        c.connected_at = connected.map(|v| base + v);
        c.ended_at = ended.map(|v| base + v);
        c.duration_ms = duration;
        c.last_event_at = base + last;
        let got =
            call_times(&c).map(|(s, e)| (s.timestamp() - base / 1000, e.timestamp() - base / 1000));
        assert_eq!(got, want, "case {i}");
    }
}

#[test]
fn duration_fallback() {
    let mut c = call();
    assert_eq!(duration_ms(&c), Some(292_432));
    c.duration_ms = None;
    assert_eq!(duration_ms(&c), Some(292_430));
    c.duration_ms = Some(f64::NAN);
    assert_eq!(duration_ms(&c), Some(292_430));
    c.connected_at = None;
    c.duration_ms = None;
    assert_eq!(duration_ms(&c), None);
    c.duration_ms = Some(-5.0);
    assert_eq!(duration_ms(&c), Some(0));
}
