use std::collections::BTreeSet;

use chrono::TimeZone;

use super::*;
use llbridge_domain::conversation::{CallCenter, EmailSource};
use llbridge_domain::event::Link;

// 2026-01-06T14:40:04.987Z → 14:45:02.300Z; in America/Los_Angeles, 06:40 → 06:45 the same day.

/// The status step: its table, the current and target statuses.
mod status;
const STARTED: i64 = 1_767_710_404_987;
const ENDED: i64 = STARTED + 297_313;

fn l(id: &str, label: &str) -> Labeled {
    Labeled {
        id: id.into(),
        label: label.into(),
    }
}

fn conv() -> Conversation {
    Conversation {
        key: "5829361047752704".into(),
        legs: vec!["5829361047752704".into(), "6208917392220160".into()],
        dialpad_call_id: "6208917392220160".into(),
        caller_number: Some("+16505550199".into()),
        direction: Some(Direction::Inbound),
        call_center: Some(CallCenter {
            id: "4716644561813504".into(),
            number: Some("+14155550100".into()),
            office_id: None,
        }),
        agent: Some(agent(Some("Ana@Example.com "))),
        started_at: Some(STARTED),
        connected_at: Some(STARTED + 4_883),
        ended_at: Some(ENDED),
        duration_ms: Some(292_431.512),
        answered: true,
        dispositions: vec!["Left Voicemail".into()],
        recap: vec![],
        action_items: vec![],
        voicemail: false,
        links: vec![Link {
            kind: LinkKind::Public,
            url: "https://dialpad.com/shared/call/AbC123".into(),
        }],
        ended: true,
        last_event_at: ENDED + 60_000,
        events: 8,
        custom_data: None,
    }
}

fn agent(email: Option<&str>) -> Agent {
    Agent {
        user_id: Some("58293610".into()),
        call_id: "5829361047752704".into(),
        email: email.map(Into::into),
        email_source: EmailSource::OperatorLeg,
        name: Some("Ana Agent".into()),
        phone: Some("+14155550123".into()),
    }
}

fn settings() -> EventModeSettings {
    let rules = [
        ("Follow-Up Needed", None, "Contacted"),
        ("Tour Booked", Some("New Lead"), "Tour Scheduled"),
        ("Tour Booked", None, "Contacted"),
        ("Connected – Interested", None, "Interested"),
        ("Connected~Interested", Some("New Lead"), "Tour Scheduled"),
        ("Connected", None, "Contacted"),
        ("Only If Lead", Some("New Lead"), "Contacted"),
        ("Ghost", None, "No Such Status"),
    ];
    EventModeSettings {
        event_type: "Phone Call".into(),
        default_staff_email: "frontdesk@example.com".into(),
        disposition_status_map: rules
            .iter()
            .map(|(d, r, s)| StatusRule {
                disposition: (*d).into(),
                required_status: r.map(Into::into),
                status: (*s).into(),
            })
            .collect(),
        disposition_task_result_map: [
            ("Left Voicemail", "Left Message"),
            ("Connected - Interested", "Spoke With Family"),
            ("Voicemail", "Left Message"),
            ("Unknown Result", "No Such Result"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect(),
        result_type_mapping: vec![Direction::Inbound],
    }
}

fn staff() -> Vec<Staff> {
    let s = |id: &str, email: Option<&str>| Staff {
        id: id.into(),
        email: email.map(Into::into),
        first_name: None,
        last_name: None,
    };
    vec![
        s("30", Some("FrontDesk@example.com")),
        s("21", Some(" ana@example.com")),
        s("20", Some("ana@EXAMPLE.com")),
        s("40", None),
    ]
}

fn task_types() -> Vec<Labeled> {
    vec![l("T1", "Email"), l("T2", "phone call")]
}

fn task_results() -> Vec<Labeled> {
    vec![
        l("R1", "Left Message"),
        l("R2", "Spoke with family"),
        l("R3", "Phone Call"),
    ]
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn task(id: &str, due: Option<DateTime<Utc>>) -> Task {
    Task {
        id: id.into(),
        type_id: Some("T2".into()),
        family_id: Some("F1".into()),
        due,
        is_completed: false,
        is_canceled: false,
        raw: serde_json::Value::Null,
    }
}

fn now() -> DateTime<Utc> {
    utc(2026, 1, 7, 9, 0)
}

struct TaskWorld {
    conv: Conversation,
    settings: EventModeSettings,
    center: Option<Center>,
    task_types: Vec<Labeled>,
    task_results: Vec<Labeled>,
    tasks: Vec<Task>,
    staff: Option<Staff>,
}

impl TaskWorld {
    fn new() -> TaskWorld {
        TaskWorld {
            conv: conv(),
            settings: settings(),
            center: None,
            task_types: task_types(),
            task_results: task_results(),
            tasks: vec![task("K1", Some(utc(2026, 1, 6, 17, 0)))],
            staff: staff().into_iter().next(),
        }
    }

    fn plan(&self) -> Result<TaskCompletionPlan, Skipped> {
        plan_task_completion(&TaskContext {
            conversation: &self.conv,
            settings: &self.settings,
            family_id: "F1",
            center: self.center.as_ref(),
            task_types: &self.task_types,
            task_results: &self.task_results,
            tasks: &self.tasks,
            staff: self.staff.as_ref(),
            now: now(),
        })
    }

    fn skip(&self) -> &'static str {
        match self.plan() {
            Ok(p) => panic!("expected a skip, got {p:?}"),
            Err(s) => s.code(),
        }
    }
}

#[test]
fn codes_are_unique_snake_case_and_belong_to_their_step() {
    let codes: BTreeSet<&str> = SkipReason::ALL.iter().map(SkipReason::code).collect();
    assert_eq!(codes.len(), SkipReason::ALL.len());
    for r in SkipReason::ALL {
        let c = r.code();
        assert!(
            c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
            "{c}"
        );
        let prefix = match r.step() {
            Step::Task => "task_",
            Step::Event => "event_",
            Step::Status => "status_",
        };
        assert!(c.starts_with(prefix), "{c}");
        assert_eq!(r.to_string(), c);
    }
    let s = Skipped::new(SkipReason::StatusNotInMap, "x");
    assert_eq!(s.to_string(), "status_not_in_map: x");
}

// --- Staff -------------------------------------------------------------------------------------

#[test]
fn staff_by_agent_email_trimmed_and_case_insensitive() {
    let staff = staff();
    let m = resolve_staff(
        Some(&agent(Some(" ANA@example.COM"))),
        &staff,
        "frontdesk@example.com",
    )
    .unwrap();
    // Two records share the e-mail: the smallest id.
    assert_eq!(m.staff.id, "20");
    assert_eq!(m.rule, StaffRule::AgentEmail);
    assert_eq!(m.rule.code(), "agent_email");
}

#[test]
fn staff_falls_back_to_the_default_email() {
    let staff = staff();
    for a in [
        Some(agent(Some("bob@example.com"))),
        Some(agent(None)),
        Some(agent(Some("  "))),
        None,
    ] {
        let m = resolve_staff(a.as_ref(), &staff, " FRONTDESK@example.com").unwrap();
        assert_eq!(m.staff.id, "30");
        assert_eq!(m.rule, StaffRule::DefaultStaffEmail);
        assert_eq!(m.rule.code(), "default_staff_email");
    }
}

#[test]
fn no_staff() {
    let staff = staff();
    let e = resolve_staff(
        Some(&agent(Some("bob@example.com"))),
        &staff,
        "nobody@example.com",
    )
    .unwrap_err();
    assert_eq!(e.code(), "event_no_staff");
    assert!(e.detail.contains("nobody@example.com"));
    let e = resolve_staff(None, &[], "frontdesk@example.com").unwrap_err();
    assert_eq!(e.reason, SkipReason::EventNoStaff);
}

// --- Step 1: task -----------------------------------------------------------------------------

#[test]
fn completes_the_due_phone_call_task() {
    let w = TaskWorld::new();
    let p = w.plan().unwrap();
    assert_eq!(
        p,
        TaskCompletionPlan {
            task_id: "K1".into(),
            completion: TaskCompletion {
                completed_at: Utc.with_ymd_and_hms(2026, 1, 6, 14, 45, 2).unwrap(),
                completed_by_staff_id: "30".into(),
                result_type_id: "R1".into(),
                result_description:
                    "Completed by Dialpad inbound call 6208917392220160 (disposition: Left Voicemail)"
                        .into(),
            },
            mapping_key: "Left Voicemail".into(),
            result_label: "Left Message".into(),
        }
    );
}

#[test]
fn task_skip_conditions() {
    type Setup = fn(&mut TaskWorld);
    let cases: [(&str, Setup, &str); 14] = [
        (
            "no disposition",
            |w| w.conv.dispositions.clear(),
            "task_no_disposition",
        ),
        (
            "blank disposition",
            |w| w.conv.dispositions = vec![" ".into()],
            "task_no_disposition",
        ),
        (
            "not mapped",
            |w| w.conv.dispositions = vec!["Wrong Number".into()],
            "task_no_result_mapping",
        ),
        (
            "outbound not enabled",
            |w| w.conv.direction = Some(Direction::Outbound),
            "task_direction_not_enabled",
        ),
        (
            "unknown direction",
            |w| w.conv.direction = None,
            "task_direction_not_enabled",
        ),
        (
            "empty Result Type Mapping",
            |w| w.settings.result_type_mapping.clear(),
            "task_direction_not_enabled",
        ),
        (
            "no Phone Call type",
            |w| w.task_types = vec![l("T1", "Email")],
            "task_type_not_found",
        ),
        ("no task", |w| w.tasks.clear(), "task_none_due_today"),
        (
            "due tomorrow",
            |w| w.tasks = vec![task("K1", Some(utc(2026, 1, 7, 10, 0)))],
            "task_none_due_today",
        ),
        (
            "overdue",
            |w| w.tasks = vec![task("K1", Some(utc(2026, 1, 5, 10, 0)))],
            "task_none_due_today",
        ),
        (
            "completed or canceled",
            |w| {
                w.tasks[0].is_completed = true;
                let mut c = task("K2", Some(utc(2026, 1, 6, 10, 0)));
                c.is_canceled = true;
                w.tasks.push(c);
            },
            "task_none_due_today",
        ),
        (
            "result unknown",
            |w| w.conv.dispositions = vec!["Unknown Result".into()],
            "task_result_not_found",
        ),
        ("no staff", |w| w.staff = None, "task_no_staff"),
        (
            "no due date",
            |w| w.tasks[0].due = None,
            "task_none_due_today",
        ),
    ];
    for (name, setup, code) in cases {
        let mut w = TaskWorld::new();
        setup(&mut w);
        assert_eq!(w.skip(), code, "{name}");
    }
}

#[test]
fn task_of_another_type_or_family_is_never_taken() {
    let mut w = TaskWorld::new();
    w.tasks[0].type_id = Some("T1".into());
    assert_eq!(w.skip(), "task_none_due_today");
    let mut w = TaskWorld::new();
    w.tasks[0].family_id = Some("F2".into());
    assert_eq!(w.skip(), "task_none_due_today");
    // Read without type or family: taken as listed.
    let mut w = TaskWorld::new();
    w.tasks[0].type_id = None;
    w.tasks[0].family_id = None;
    assert_eq!(w.plan().unwrap().task_id, "K1");
}

#[test]
fn the_earliest_due_task_of_today_is_completed() {
    let mut w = TaskWorld::new();
    w.tasks = vec![
        task("K9", Some(utc(2026, 1, 6, 23, 0))),
        task("K3", Some(utc(2026, 1, 6, 8, 0))),
        task("K2", Some(utc(2026, 1, 6, 8, 0))),
        task("K1", Some(utc(2026, 1, 5, 8, 0))),
    ];
    assert_eq!(w.plan().unwrap().task_id, "K2");
}

#[test]
fn due_today_is_in_the_centers_time_zone() {
    // The call ends 2026-01-06 14:45Z. In Auckland (+13:00) that is 2026-01-07 03:45.
    let center = |tz: Option<&str>| Center {
        id: "C1".into(),
        name: "Main".into(),
        active: true,
        call_center_phone: None,
        timezone: tz.map(Into::into),
    };
    let due_nz_today = task("NZ", Some(utc(2026, 1, 6, 20, 0))); // 2026-01-07 09:00 NZDT
    let due_utc_today = task("UT", Some(utc(2026, 1, 6, 9, 0))); // 2026-01-06 22:00 NZDT
    let mut w = TaskWorld::new();
    w.tasks = vec![due_nz_today.clone(), due_utc_today.clone()];
    // UTC: both on 01-06; the earliest.
    assert_eq!(w.plan().unwrap().task_id, "UT");
    w.center = Some(center(Some("Pacific/Auckland")));
    assert_eq!(w.plan().unwrap().task_id, "NZ");
    // An invalid zone is UTC.
    w.center = Some(center(Some("Mars/Olympus")));
    assert_eq!(w.plan().unwrap().task_id, "UT");
    // Los Angeles (-8): the call ends 06:45 on 01-06; a task due 01-07 03:00Z is 01-06 19:00 there.
    w.center = Some(center(Some("America/Los_Angeles")));
    w.tasks = vec![task("LA", Some(utc(2026, 1, 7, 3, 0)))];
    assert_eq!(w.plan().unwrap().task_id, "LA");
    w.center = None;
    assert_eq!(w.skip(), "task_none_due_today");
}

#[test]
fn center_tz_reads_the_zone() {
    assert_eq!(center_tz(None).name(), "UTC");
    let c = Center {
        id: "1".into(),
        name: "x".into(),
        active: true,
        call_center_phone: None,
        timezone: Some(" America/Chicago ".into()),
    };
    assert_eq!(center_tz(Some(&c)).name(), "America/Chicago");
    // Any case, as the database spells it.
    let c = Center {
        timezone: Some("america/chicago".into()),
        ..c
    };
    assert_eq!(center_tz(Some(&c)).name(), "America/Chicago");
    let c = Center {
        timezone: Some("Mars/Olympus".into()),
        ..c
    };
    assert_eq!(center_tz(Some(&c)).name(), "UTC");
}

#[test]
fn task_result_map_uses_label_lookup() {
    // Dashes and case: "Connected – Interested" finds "Connected - Interested".
    let mut w = TaskWorld::new();
    w.conv.dispositions = vec!["connected – interested".into()];
    let p = w.plan().unwrap();
    assert_eq!(p.mapping_key, "Connected - Interested");
    assert_eq!(p.completion.result_type_id, "R2");
    // Two-level: the sub-disposition.
    w.conv.dispositions = vec!["No Answer~Voicemail".into()];
    assert_eq!(w.plan().unwrap().mapping_key, "Voicemail");
    // Two-level: the category.
    w.conv.dispositions = vec!["Left Voicemail~Busy".into()];
    assert_eq!(w.plan().unwrap().mapping_key, "Left Voicemail");
    // The full label first.
    let mut map = BTreeMap::new();
    map.insert("A~B".to_owned(), "full".to_owned());
    map.insert("b".to_owned(), "sub".to_owned());
    map.insert("A".to_owned(), "category".to_owned());
    assert_eq!(lookup_disposition(&map, "a ~ b"), Some(("A~B", "full")));
    assert_eq!(lookup_disposition(&map, "X~B"), Some(("b", "sub")));
    assert_eq!(lookup_disposition(&map, "A~Y"), Some(("A", "category")));
    assert_eq!(lookup_disposition(&map, "X~Y"), None);
}

#[test]
fn without_any_call_time_the_completion_is_now() {
    let mut w = TaskWorld::new();
    w.conv.started_at = None;
    w.conv.connected_at = None;
    w.conv.ended_at = None;
    w.conv.last_event_at = 0;
    w.tasks = vec![task("K1", Some(utc(2026, 1, 7, 17, 0)))];
    assert_eq!(w.plan().unwrap().completion.completed_at, now());
}

// --- Step 2: event ----------------------------------------------------------------------------

fn event_ctx<'a>(
    c: &'a Conversation,
    s: &'a EventModeSettings,
    results: &'a [Labeled],
    staff: Option<&'a Staff>,
    task: Option<&'a str>,
) -> EventContext<'a> {
    EventContext {
        conversation: c,
        settings: s,
        family_id: "F1",
        center_id: Some("C1"),
        task_results: results,
        staff,
        completed_task_id: task,
        link_type: Some(LinkKind::Public),
        include_recap: true,
        now: now(),
    }
}

#[test]
fn the_crm_event() {
    let (c, s, r, st) = (conv(), settings(), task_results(), staff());
    let e = plan_event(&event_ctx(&c, &s, &r, Some(&st[0]), Some("K1"))).unwrap();
    assert_eq!(
        e,
        NewEvent {
            family_id: "F1".into(),
            center_id: Some("C1".into()),
            staff_id: "30".into(),
            type_id: "R3".into(),
            date_time: Utc.with_ymd_and_hms(2026, 1, 6, 14, 40, 4).unwrap(),
            description: "Inbound Dialpad call\nDuration: 4m 52s\nDisposition: Left Voicemail\n\
                          Recording: https://dialpad.com/shared/call/AbC123\n\
                          Dialpad call ID: 6208917392220160"
                .into(),
            task_id: Some("K1".into()),
        }
    );
    // No completed task: no link.
    let e = plan_event(&event_ctx(&c, &s, &r, Some(&st[0]), None)).unwrap();
    assert_eq!(e.task_id, None);
}

#[test]
fn the_event_description_leaves_out_what_is_missing() {
    let mut c = conv();
    c.direction = Some(Direction::Outbound);
    c.dispositions.clear();
    c.links.clear();
    c.answered = false;
    c.duration_ms = Some(0.0);
    assert_eq!(
        event_description(&c, Some(LinkKind::Public), true),
        "Outbound Dialpad call (not answered)\nDuration: 0s\nDialpad call ID: 6208917392220160"
    );
    // A link of another kind than the configured one is not used; unset: none.
    let c = conv();
    assert!(!event_description(&c, Some(LinkKind::Recording), true).contains("Recording:"));
    assert!(!event_description(&c, None, true).contains("Recording:"));
}

#[test]
fn the_recap_follows_the_listed_fields_unless_turned_off() {
    let mut c = conv();
    c.recap = vec![
        "Summary: Asked about infant openings.".into(),
        "Action items:\n- Send the tuition sheet\n- Book a tour".into(),
    ];
    let d = event_description(&c, None, true);
    assert!(
        d.ends_with("Dialpad call ID: 6208917392220160\nSummary: Asked about infant openings.\nAction items:\n- Send the tuition sheet\n- Book a tour"),
        "{d}"
    );
    assert!(describes_call(&d, "6208917392220160"));
    assert!(!event_description(&c, None, false).contains("Summary"));
}

#[test]
fn event_skip_conditions() {
    let (c, r, st) = (conv(), task_results(), staff());
    let s = settings();
    let e = plan_event(&event_ctx(&c, &s, &r, None, None)).unwrap_err();
    assert_eq!(e.code(), "event_no_staff");
    let mut s2 = settings();
    s2.event_type = "Tour".into();
    let e = plan_event(&event_ctx(&c, &s2, &r, Some(&st[0]), None)).unwrap_err();
    assert_eq!(e.code(), "event_type_not_found");
    assert!(e.detail.contains("\"Tour\""));
    // Staff is checked first.
    let e = plan_event(&event_ctx(&c, &s2, &r, None, None)).unwrap_err();
    assert_eq!(e.code(), "event_no_staff");
}

#[test]
fn human_durations() {
    let cases = [
        (0, "0s"),
        (-5, "0s"),
        (499, "0s"),
        (500, "1s"),
        (45_000, "45s"),
        (59_600, "1m 0s"),
        (292_431, "4m 52s"),
        (3_723_000, "1h 2m 3s"),
    ];
    for (ms, want) in cases {
        assert_eq!(human_duration(ms), want, "{ms}");
    }
}

// --- Step 3: status ---------------------------------------------------------------------------

#[test]
fn an_event_is_found_by_its_call_id_line_exactly() {
    let d = "Inbound Dialpad call\nDuration: 4m 52s\nDialpad call ID: 6208917392220160";
    assert!(describes_call(d, "6208917392220160"));
    assert!(
        !describes_call(d, "620891739222016"),
        "a prefix is another call"
    );
    assert!(!describes_call(d, "62089173922201601"));
    assert!(!describes_call(
        "Notes about 6208917392220160",
        "6208917392220160"
    ));
    assert!(describes_call("Dialpad call ID:  42 ", "42"));
}

#[test]
fn the_centers_day_follows_daylight_saving_time() {
    let chicago = CenterZone::named("America/Chicago").unwrap();
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    // Before the switch (CST, -6): 2026-03-08 05:30Z is 03-07 23:30.
    assert_eq!(chicago.date(utc(2026, 3, 8, 5, 30)), day(2026, 3, 7));
    // After it (CDT, -5): 2026-03-09 05:30Z is 03-09 00:30, not 03-08 23:30.
    assert_eq!(chicago.date(utc(2026, 3, 9, 5, 30)), day(2026, 3, 9));
    assert_eq!(
        CenterZone::utc().date(utc(2026, 3, 9, 5, 30)),
        day(2026, 3, 9)
    );
    assert_eq!(chicago.date(utc(2026, 11, 2, 5, 30)), day(2026, 11, 1));
}
