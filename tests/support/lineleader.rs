//! The LineLeader contract suite: one set of cases run against the embedded adapter (the
//! sandbox's state) and against `HttpLineLeader` talking to the sandbox server. Each case takes
//! the port under test and the sandbox whose state it checks.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use llbridge_crm_lineleader::rules::records::LogDirection;
use llbridge_crm_lineleader::rules::records::{
    NewEvent, NewFamily, NewTask, PhoneLog, Task, TaskCompletion, TypeList,
};
use llbridge_crm_lineleader::{http_client, HttpLineLeader, RetryPolicy};
use llbridge_crm_lineleader::{LineLeader, Lookup, TaskWrite};
use llbridge_memory::{MemoryStore, SystemClock};
use llbridge_sandbox::{Dataset, LineLeaderSandbox, SbCenter, SbStaff, Server};
use llbridge_usecases::ports::{Clock, Secret};

/// A time with milliseconds, to check that writes drop them.
pub fn with_millis() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_780_000_000_789)
        .single()
        .unwrap_or_default()
}

/// A CRM event on family 1001 by Ana (staff 201), of type "Phone Call" (41).
pub fn event(description: &str, task_id: Option<&str>) -> NewEvent {
    NewEvent {
        family_id: "1001".into(),
        center_id: None,
        staff_id: "201".into(),
        type_id: "41".into(),
        date_time: with_millis(),
        description: description.into(),
        task_id: task_id.map(str::to_owned),
    }
}

/// The demo data with `centers` extra centers and `staff` extra staff.
pub fn big_dataset(centers: usize, staff: usize) -> Dataset {
    let mut d = Dataset::demo(Utc::now());
    for i in 0..centers as u64 {
        d.centers.push(SbCenter {
            id: 2000 + i,
            name: format!("Center {i}"),
            active: true,
            phone: Some(format!("+1312555{:04}", i)),
            timezone: None,
        });
    }
    for i in 0..staff as u64 {
        d.staff.push(SbStaff {
            id: 3000 + i,
            email_address: Some(format!("staff{i}@example.com")),
            first_name: format!("S{i}"),
            last_name: "Staff".into(),
        });
    }
    d
}

fn label_of(
    list: &[llbridge_crm_lineleader::rules::records::Labeled],
    name: &str,
) -> Option<String> {
    list.iter()
        .find(|l| l.label.eq_ignore_ascii_case(name))
        .map(|l| l.id.clone())
}

/// Centers, statuses, the four type lists and staff, with their labels and fields.
pub async fn reference_data(ll: &dyn LineLeader, _sb: &LineLeaderSandbox) {
    let centers = ll.centers().await.expect("centers");
    assert_eq!(centers.len(), 4);
    let oak = centers
        .iter()
        .find(|c| c.name == "Oak Park")
        .expect("Oak Park");
    assert_eq!(oak.id, "101");
    assert_eq!(oak.call_center_phone.as_deref(), Some("+14155550100"));
    assert_eq!(oak.timezone.as_deref(), Some("America/Los_Angeles"));
    assert!(oak.active);
    let closed = centers.iter().find(|c| c.id == "104").expect("104");
    assert!(!closed.active);
    assert_eq!(closed.call_center_phone, None);

    let statuses = ll.statuses().await.expect("statuses");
    assert_eq!(label_of(&statuses, "tour scheduled").as_deref(), Some("3"));
    assert_eq!(statuses.len(), 5);
    let expect = [
        (TypeList::FamilySource, "Phone Call", "11"),
        (TypeList::FamilyInquiry, "Phone", "21"),
        (TypeList::Task, "Phone Call", "31"),
        (TypeList::TaskResult, "Spoke With Family", "43"),
        (TypeList::TaskResult, "Left Message", "42"),
    ];
    for (list, name, id) in expect {
        let types = ll.types(list).await.expect("types");
        assert_eq!(
            label_of(&types, name).as_deref(),
            Some(id),
            "{list:?} {name}"
        );
    }
    let staff = ll.staff().await.expect("staff");
    assert_eq!(staff.len(), 3);
    let ana = staff.iter().find(|s| s.id == "201").expect("201");
    assert_eq!(ana.email.as_deref(), Some("ana@example.com"));
    assert_eq!(ana.first_name.as_deref(), Some("Ana"));
}

/// Lists longer than one page (>100) come back whole. Expects `sb` loaded with
/// `big_dataset(226, 147)` and a port that has not read centers or staff yet.
pub async fn paging(ll: &dyn LineLeader, _sb: &LineLeaderSandbox) {
    let centers = ll.centers().await.expect("centers");
    assert_eq!(centers.len(), 230);
    let mut ids: Vec<&str> = centers.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 230, "no center twice");
    assert!(centers.iter().any(|c| c.id == "2225"));
    let staff = ll.staff().await.expect("staff");
    assert_eq!(staff.len(), 150);
    assert!(staff
        .iter()
        .any(|s| s.email.as_deref() == Some("staff146@example.com")));
}

/// Searching by ten digits finds families whatever the form their number was typed in.
pub async fn search_typed_forms(ll: &dyn LineLeader, _sb: &LineLeaderSandbox) {
    let cases = [
        ("4158159602", "1001", "(415) 815-9602"),
        ("4158159612", "1002", "415-815-9612"),
        ("4158159622", "1003", "+14158159622"),
        ("4158159632", "1004", "4158159632"),
    ];
    for (ten, id, typed) in cases {
        let found = ll.search_families(ten).await.expect("search");
        assert_eq!(found.len(), 1, "{ten}");
        assert_eq!(found[0].id, id);
        assert_eq!(found[0].phones, vec![typed.to_string()]);
    }
    let twins = ll.search_families("6505550199").await.expect("search");
    let mut centers: Vec<_> = twins.iter().filter_map(|f| f.center_id.clone()).collect();
    centers.sort();
    assert_eq!(centers, vec!["101".to_string(), "102".to_string()]);
    let f = &twins[0];
    assert!(f.created.is_some());
    assert!(f.status_id.is_some() && f.status_name.is_some());
    assert!(ll
        .search_families("2125550000")
        .await
        .expect("search")
        .is_empty());
}

/// F3 then F1 and F2 find the new family.
pub async fn create_family(ll: &dyn LineLeader, sb: &LineLeaderSandbox) {
    let created = ll
        .create_family(&NewFamily {
            center_id: "102".into(),
            source_type_id: "11".into(),
            inquiry_type_id: "21".into(),
            first_name: "Unknown".into(),
            last_name: "Caller 0123".into(),
            phone: "6175550123".into(),
        })
        .await
        .expect("create");
    assert_eq!(created.center_id.as_deref(), Some("102"));
    let found = ll.search_families("6175550123").await.expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, created.id);
    let read = ll
        .family(&created.id)
        .await
        .expect("family")
        .expect("exists");
    assert_eq!(read.status_name.as_deref(), Some("New Lead"));
    assert_eq!(read.guardian_last_name.as_deref(), Some("Caller 0123"));
    let state = sb.state();
    let stored: Vec<_> = state
        .data
        .families
        .iter()
        .filter(|f| f.origin == "api")
        .collect();
    assert_eq!(stored.len(), 1, "exactly one family created");
    assert_eq!(stored[0].phone, "6175550123");
    assert_eq!(stored[0].center_id, 102);
    assert!(ll.family("999999").await.expect("family").is_none());
    let err = ll
        .create_family(&NewFamily {
            center_id: "999".into(),
            source_type_id: "11".into(),
            inquiry_type_id: "21".into(),
            first_name: "A".into(),
            last_name: "B".into(),
            phone: "6175550124".into(),
        })
        .await
        .expect_err("unknown center");
    assert!(!err.is_transient(), "{err}");
}

/// K1 lists the open tasks of one type; K2 completes one, keeping the rest of the task.
pub async fn task_round_trip(ll: &dyn LineLeader, sb: &LineLeaderSandbox) {
    let mut open: Vec<String> = ll
        .open_tasks("1001", "31")
        .await
        .expect("tasks")
        .into_iter()
        .map(|t| t.id)
        .collect();
    open.sort();
    assert_eq!(open, vec!["5001".to_string(), "5002".to_string()]);
    assert!(
        ll.open_tasks("1003", "31").await.expect("tasks").is_empty(),
        "canceled"
    );
    let completed_other = ll.open_tasks("1002", "31").await.expect("tasks");
    assert_eq!(completed_other.len(), 1, "the completed one is left out");
    let Lookup::Answered(sample) = ll.open_tasks_sample().await.expect("sample") else {
        panic!("the sandbox lists tasks of every family");
    };
    let mut sampled: Vec<(String, Option<String>)> =
        sample.into_iter().map(|t| (t.id, t.family_id)).collect();
    sampled.sort();
    let of = |id: &str, family: &str| (id.to_owned(), Some(family.to_owned()));
    assert_eq!(
        sampled,
        vec![
            of("5001", "1001"),
            of("5002", "1001"),
            of("5003", "1001"),
            of("5004", "1002"),
            of("5007", "1004"),
        ],
        "open tasks of every family and type, none completed or canceled"
    );
    let task = ll
        .open_tasks("1001", "31")
        .await
        .expect("tasks")
        .into_iter()
        .find(|t| t.id == "5001")
        .expect("5001");
    assert!(task.due.is_some());
    let before = sb
        .state()
        .data
        .tasks
        .into_iter()
        .find(|t| t.id == 5001)
        .expect("5001");
    let completion = TaskCompletion {
        completed_at: with_millis(),
        completed_by_staff_id: "201".into(),
        result_type_id: "43".into(),
        result_description: "Spoke With Family".into(),
    };
    assert_eq!(
        ll.complete_task(&task.id, &completion)
            .await
            .expect("complete"),
        TaskWrite::Completed
    );
    let after = sb
        .state()
        .data
        .tasks
        .into_iter()
        .find(|t| t.id == 5001)
        .expect("5001");
    assert!(after.is_completed);
    assert_eq!(
        after.completed_date_time,
        Some(Utc.timestamp_opt(1_780_000_000, 0).unwrap())
    );
    assert_eq!(after.completed_by_user_id, Some(201));
    assert_eq!(after.result_type, Some(43));
    assert_eq!(
        after.result_description.as_deref(),
        Some("Spoke With Family")
    );
    assert_eq!(
        after.description, before.description,
        "the rest of the task is kept"
    );
    assert_eq!(after.due_date_time, before.due_date_time);
    assert_eq!((after.type_id, after.family_id), (31, 1001));
    assert_eq!(after.puts, 1);
    let open: Vec<String> = ll
        .open_tasks("1001", "31")
        .await
        .expect("tasks")
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(open, vec!["5002".to_string()]);
    // Completing it again changes nothing, and says so.
    assert_eq!(
        ll.complete_task(&task.id, &completion)
            .await
            .expect("again"),
        TaskWrite::AlreadyCompleted
    );
    let again = sb
        .state()
        .data
        .tasks
        .into_iter()
        .find(|t| t.id == 5001)
        .expect("5001");
    assert_eq!(again.puts, 1);

    // A task just listed is completed from its listing: one PUT, no GET of it.
    let listed = ll
        .open_tasks("1001", "31")
        .await
        .expect("tasks")
        .into_iter()
        .find(|t| t.id == "5002")
        .expect("5002");
    assert_eq!(
        ll.complete_read_task(&listed, &completion)
            .await
            .expect("complete"),
        TaskWrite::Completed
    );
    let task_5002 = |sb: &LineLeaderSandbox| {
        sb.state()
            .data
            .tasks
            .into_iter()
            .find(|t| t.id == 5002)
            .expect("5002")
    };
    let after = task_5002(sb);
    assert!(after.is_completed && after.puts == 1);
    assert_eq!(after.description, "Follow up with family 1001", "kept");
    assert_eq!(after.result_type, Some(43));
    assert!(
        !sb.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with("/tasks/5002")),
        "not read again"
    );
    // A record that was read completed is left as is.
    let read_completed = Task {
        is_completed: true,
        ..listed
    };
    assert_eq!(
        ll.complete_read_task(&read_completed, &completion)
            .await
            .expect("again"),
        TaskWrite::AlreadyCompleted
    );
    assert_eq!(task_5002(sb).puts, 1);
}

/// E1.
pub async fn events(ll: &dyn LineLeader, sb: &LineLeaderSandbox) {
    let id = ll
        .create_event(&NewEvent {
            family_id: "1001".into(),
            center_id: Some("101".into()),
            staff_id: "201".into(),
            type_id: "41".into(),
            date_time: with_millis(),
            description: "Inbound call, 4m52s, Follow-Up Needed".into(),
            task_id: Some("5001".into()),
        })
        .await
        .expect("event");
    let state = sb.state();
    assert_eq!(state.data.events.len(), 1);
    let e = &state.data.events[0];
    assert_eq!(e.id.to_string(), id);
    assert_eq!((e.family_id, e.staff_id, e.type_id), (1001, 201, 41));
    assert_eq!(e.center_id, Some(101));
    assert_eq!(e.task_id, Some(5001));
    assert_eq!(e.date_time, Utc.timestamp_opt(1_780_000_000, 0).unwrap());
    assert_eq!(e.description, "Inbound call, 4m52s, Follow-Up Needed");
    let err = ll
        .create_event(&NewEvent {
            family_id: "1001".into(),
            center_id: None,
            staff_id: "999".into(),
            type_id: "41".into(),
            date_time: with_millis(),
            description: String::new(),
            task_id: None,
        })
        .await
        .expect_err("unknown staff");
    assert!(!err.is_transient());
    assert_eq!(sb.state().data.events.len(), 1);
}

/// K3, and K1 finding the created task among a family's tasks (completed ones too).
pub async fn created_tasks(ll: &dyn LineLeader, sb: &LineLeaderSandbox) {
    let new = NewTask {
        family_id: "1001".into(),
        type_id: "31".into(),
        due: with_millis(),
        description: "Call back\nFollow-up ID: 77/callback".into(),
        assigned_to_staff_id: Some("203".into()),
    };
    let id = ll.create_task(&new).await.expect("task created");
    let state = sb.state();
    let t = state
        .data
        .tasks
        .iter()
        .find(|t| t.id.to_string() == id)
        .expect("in the sandbox");
    assert_eq!((t.family_id, t.type_id), (1001, 31));
    assert_eq!(t.assigned_to_staff_id, Some(203));
    assert_eq!(
        t.due_date_time,
        Utc.timestamp_opt(1_780_000_000, 0).unwrap()
    );
    assert!(!t.is_completed);
    let Lookup::Answered(tasks) = ll.family_tasks("1001").await.expect("K1") else {
        panic!("K1 answers");
    };
    let found = tasks.iter().find(|t| t.id == id).expect("listed");
    assert_eq!(
        found
            .raw
            .get("description")
            .and_then(serde_json::Value::as_str),
        Some(new.description.as_str())
    );
    assert!(
        tasks.iter().all(|t| t.family_id.as_deref() == Some("1001")),
        "only the family's"
    );
    let err = ll
        .create_task(&NewTask {
            type_id: "999".into(),
            ..new
        })
        .await
        .expect_err("unknown task type");
    assert!(!err.is_transient());
}

/// X1.
pub async fn status_change(ll: &dyn LineLeader, sb: &LineLeaderSandbox) {
    ll.set_family_status("1001", "3").await.expect("status");
    let read = ll.family("1001").await.expect("family").expect("exists");
    assert_eq!(read.status_id.as_deref(), Some("3"));
    assert_eq!(read.status_name.as_deref(), Some("Tour Scheduled"));
    let changes = sb.state().data.status_changes;
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (
            changes[0].family_id,
            changes[0].from_status_id,
            changes[0].to_status_id
        ),
        (1001, 1, 3)
    );
    let err = ll
        .set_family_status("1001", "99")
        .await
        .expect_err("unknown status");
    assert!(!err.is_transient());
    assert_eq!(sb.state().data.status_changes.len(), 1);
}

/// P1.
pub async fn phone_logs(ll: &dyn LineLeader, sb: &LineLeaderSandbox) {
    let log = PhoneLog {
        direction: LogDirection::Inbound,
        ani: "6505550199".into(),
        dnis: Some("4155550100".into()),
        start: with_millis(),
        end: with_millis() + chrono::Duration::milliseconds(292_431),
        disposition: "Follow-Up Needed".into(),
        recording_url: Some("https://dialpad.com/shared/call/AbC123".into()),
        external_call_id: "6208917392220160".into(),
        family_id: "1005".into(),
        center_id: Some("101".into()),
    };
    let id = ll.create_phone_log(&log).await.expect("phone log");
    let state = sb.state();
    assert_eq!(state.data.phone_logs.len(), 1);
    let p = &state.data.phone_logs[0];
    assert_eq!(p.id.to_string(), id);
    assert_eq!(p.direction, "Inbound");
    assert_eq!(p.ani, "6505550199");
    assert_eq!(p.dnis.as_deref(), Some("4155550100"));
    assert_eq!(
        p.start_date_time,
        Utc.timestamp_opt(1_780_000_000, 0).unwrap()
    );
    assert_eq!(
        p.end_date_time,
        Utc.timestamp_opt(1_780_000_293, 0).unwrap()
    );
    assert_eq!(p.disposition, "Follow-Up Needed");
    assert_eq!(
        p.recording_url.as_deref(),
        Some("https://dialpad.com/shared/call/AbC123")
    );
    assert_eq!(p.external_call_id, "6208917392220160");
    assert_eq!((p.family_id, p.center_id), (1005, Some(101)));
    let bad = PhoneLog {
        ani: "+16505550199".into(),
        ..log
    };
    let err = ll
        .create_phone_log(&bad)
        .await
        .expect_err("ani not ten digits");
    assert!(!err.is_transient());
    assert_eq!(sb.state().data.phone_logs.len(), 1);
}

/// P2 finds a phone log by its Dialpad call id, E2 lists a family's events; a tenant without
/// them says so instead of answering "none".
pub async fn lookups(ll: &dyn LineLeader, sb: &LineLeaderSandbox) {
    let log = PhoneLog {
        direction: LogDirection::Inbound,
        ani: "4158159602".into(),
        dnis: None,
        start: with_millis(),
        end: with_millis(),
        disposition: "Dialpad".into(),
        recording_url: None,
        external_call_id: "9007199254740993".into(),
        family_id: "1001".into(),
        center_id: None,
    };
    let id = ll.create_phone_log(&log).await.expect("phone log");
    match ll
        .phone_logs_for_call("9007199254740993", "1001")
        .await
        .expect("P2")
    {
        Lookup::Answered(found) => {
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].id, id);
        }
        other => panic!("P2 unanswered: {other:?}"),
    }
    match ll
        .phone_logs_for_call("9007199254740994", "1001")
        .await
        .expect("P2")
    {
        Lookup::Answered(found) => assert!(found.is_empty(), "another call id: {found:?}"),
        other => panic!("P2 unanswered: {other:?}"),
    }
    let event = ll
        .create_event(&event(
            "Inbound Dialpad call\nDialpad call ID: 9007199254740993",
            Some("5001"),
        ))
        .await
        .expect("event");
    match ll.family_events("1001").await.expect("E2") {
        Lookup::Answered(found) => {
            let e = found.iter().find(|e| e.id == event).expect("the event");
            assert!(e.description.contains("9007199254740993"));
            assert_eq!(e.task_id.as_deref(), Some("5001"));
        }
        other => panic!("E2 unanswered: {other:?}"),
    }
    match ll.family_events("1002").await.expect("E2") {
        Lookup::Answered(found) => assert!(found.is_empty()),
        other => panic!("E2 unanswered: {other:?}"),
    }
    let mut config = sb.config();
    config.phone_log_lookup = false;
    config.event_lookup = false;
    sb.set_config(config);
    assert!(matches!(
        ll.phone_logs_for_call("9007199254740993", "1001")
            .await
            .expect("P2"),
        Lookup::Unsupported(_)
    ));
    assert!(matches!(
        ll.family_events("1001").await.expect("E2"),
        Lookup::Unsupported(_)
    ));
}

// ---- HTTP harness ------------------------------------------------------------------------

/// The sandbox server and a way to make clients of it.
pub struct HttpHarness {
    pub sandbox: LineLeaderSandbox,
    pub server: Server,
    pub store: Arc<MemoryStore>,
    pub clock: Arc<dyn Clock>,
}

/// Quick retries, for tests.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(40),
        total_delay: Duration::from_secs(1),
    }
}

impl HttpHarness {
    /// The demo data, the system clock.
    pub async fn start() -> HttpHarness {
        HttpHarness::start_with(LineLeaderSandbox::demo(), Arc::new(SystemClock)).await
    }

    pub async fn start_with(sandbox: LineLeaderSandbox, clock: Arc<dyn Clock>) -> HttpHarness {
        let server = sandbox
            .serve(([127, 0, 0, 1], 0).into())
            .await
            .expect("bind the sandbox");
        HttpHarness {
            sandbox,
            server,
            store: Arc::new(MemoryStore::new(clock.clone())),
            clock,
        }
    }

    /// A new client (a new "worker") sharing this harness's token store.
    pub fn client(&self) -> HttpLineLeader {
        self.client_as("sandbox", "sandbox")
    }

    pub fn client_as(&self, username: &str, password: &str) -> HttpLineLeader {
        HttpLineLeader::new(
            "test",
            &self.server.url(),
            Secret::new(username),
            Secret::new(password),
            self.store.clone(),
            self.clock.clone(),
            http_client(Duration::from_secs(5)).expect("http client"),
        )
        .with_retry(fast_retries())
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.sandbox.count(method, path)
    }
}
