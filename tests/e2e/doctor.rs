//! `doctor` against sandboxes set up right, and wrong in each way the setup guide lists: each
//! failure is reported with its check and its fix, and nothing is written.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use llbridge_memory::{MemorySecrets, MemoryStore};
use llbridge_sandbox::{Dataset, LineLeaderConfig, Sandboxes};
use llbridge_tests::configs::{self, left_voicemail_event_mode, CALL_CENTER};
use llbridge_tests::events::Call;
use llbridge_usecases::connect::{self, Change};
use llbridge_usecases::doctor::{self, Check, Checkup, Verdict};

/// The router secret of the setups.
const ROUTER_SECRET: &str = "router-secret-0123456789abcdef0123456789";

/// The webhook URL of the setups.
const HOOK_URL: &str = "https://llbridge.example.com/dialpad/events";
use llbridge_usecases::ports::{Clock, SystemClock};
use serde_json::{json, Value};

/// A setup: the sandboxes' data and LineLeader settings, the config, Dialpad's call list.
struct Setup {
    data: Dataset,
    lineleader: LineLeaderConfig,
    enablement: Value,
    /// The Dialpad key of the config.
    dialpad_key: &'static str,
    /// A call of the call center in Dialpad's call list (its number: +14155550100).
    recent_call: bool,
    /// The connection's `api`, if any.
    api: Option<Value>,
    /// How the LineLeader sandbox misbehaves.
    faults: llbridge_sandbox::Faults,
    /// Dialpad's webhook and subscriptions, as `llbridge dialpad connect` leaves them, then
    /// changed by this.
    wiring: Wiring,
    /// The config's `routing`, if any.
    routing: Option<Value>,
}

/// What is done to Dialpad's subscriptions before the checkup.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wiring {
    /// `dialpad connect` ran.
    Connected,
    /// `dialpad connect` ran, then someone took `dispositions` off the subscription.
    WithoutDispositions,
    /// Nothing is wired.
    Nothing,
}

impl Setup {
    /// Everything right: Event mode on the demo data, whose center "Oak Park" has the call
    /// center's number.
    fn right() -> Setup {
        let mut enablement = configs::enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"default_center_name": "Oak Park", "call_log": left_voicemail_event_mode()}),
        );
        enablement["status_prioritization"] = json!(["Enrolled", "New Lead"]);
        Setup {
            data: Dataset::demo(Utc::now()),
            lineleader: LineLeaderConfig {
                username: "llbridge".into(),
                password: "sandbox-password".into(),
                ..LineLeaderConfig::default()
            },
            enablement,
            dialpad_key: "sandbox-dialpad-key",
            recent_call: true,
            api: None,
            faults: llbridge_sandbox::Faults::default(),
            wiring: Wiring::Connected,
            routing: None,
        }
    }

    async fn run(self) -> (Checkup, Sandboxes) {
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        let options = llbridge_sandbox::Options {
            data: Some(self.data),
            lineleader: self.lineleader,
            lineleader_faults: self.faults,
            ..llbridge_sandbox::Options::default()
        };
        let sb = llbridge_sandbox::start(local, local, options)
            .await
            .unwrap_or_else(|e| panic!("sandboxes: {e}"));
        if self.recent_call {
            let call = Call::new(1, "+16505550199", Utc::now().timestamp_millis() - 3_600_000);
            sb.dialpad.add_call(call.cc_hangup(300_000));
        }
        let mut doc = configs::document(vec![self.enablement], &sb.lineleader_url, &sb.dialpad_url);
        doc["dialpad"]["api_key"] = json!(self.dialpad_key);
        if let Some(api) = self.api {
            doc["connections"]["main"]["api"] = api;
        }
        if let Some(routing) = self.routing {
            doc["routing"] = routing;
        }
        let inst = configs::installation(&doc);
        if self.wiring != Wiring::Nothing {
            let lines =
                connect::connect(&sb.dialpad, &inst, HOOK_URL, "an-old-webhook-secret", false)
                    .await
                    .unwrap_or_else(|e| panic!("connect: {e}"));
            assert!(
                lines.iter().all(|l| l.change == Change::Created),
                "{lines:?}"
            );
            let plans: Vec<connect::RouterPlan> = inst
                .routing
                .keys()
                .map(|name| connect::RouterPlan {
                    name: name.clone(),
                    secret: ROUTER_SECRET.into(),
                    numbers: Vec::new(),
                })
                .collect();
            connect::routers(&sb.dialpad, &inst, HOOK_URL, &plans, false)
                .await
                .unwrap_or_else(|e| panic!("connect routers: {e}"));
        }
        if self.wiring == Wiring::WithoutDispositions {
            use llbridge_usecases::ports::Dialpad;
            for mut sub in Dialpad::call_subscriptions(&sb.dialpad)
                .await
                .unwrap_or_default()
            {
                sub.call_states.retain(|s| s != "dispositions");
                sb.dialpad
                    .save_call_subscription(&sub)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let clients = llbridge_crm_registry::HttpClients::new(
            Arc::new(MemorySecrets::new()),
            Arc::new(MemoryStore::new(clock.clone())),
            clock.clone(),
        )
        .unwrap_or_else(|e| panic!("clients: {e}"));
        let checkup = doctor::run(&inst, &clients, clock.now_ms()).await;
        (checkup, sb)
    }
}

fn with(checkup: &Checkup, verdict: Verdict) -> Vec<&Check> {
    checkup
        .checks
        .iter()
        .filter(|c| c.verdict == verdict)
        .collect()
}

/// The one failure (or warning) of the run: its check code, and its detail and fix contain
/// the words given.
fn only(checkup: &Checkup, verdict: Verdict, check: &str, detail: &str, fix: &str) {
    let found = with(checkup, verdict);
    assert_eq!(found.len(), 1, "{:#?}", checkup.checks);
    let c = found[0];
    assert_eq!(c.check, check, "{c:#?}");
    assert!(c.detail.contains(detail), "{c:#?}");
    assert!(c.fix.as_deref().is_some_and(|f| f.contains(fix)), "{c:#?}");
}

async fn checkup_of(edit: impl FnOnce(&mut Setup)) -> Checkup {
    let mut setup = Setup::right();
    edit(&mut setup);
    let (checkup, sb) = setup.run().await;
    let writes: Vec<_> = sb
        .lineleader
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.path != "/api/v3/login")
        .collect();
    assert!(writes.is_empty(), "doctor wrote to LineLeader: {writes:?}");
    sb.shutdown().await;
    checkup
}

#[tokio::test]
async fn a_subscription_lacking_dispositions_fails_with_dialpad_connect_as_the_fix() {
    let c = checkup_of(|s| s.wiring = Wiring::WithoutDispositions).await;
    only(
        &c,
        Verdict::Fail,
        "dialpad_subscriptions",
        "lacks dispositions",
        "llbridge dialpad connect",
    );
    let c = checkup_of(|s| s.wiring = Wiring::Nothing).await;
    only(
        &c,
        Verdict::Fail,
        "dialpad_subscriptions",
        &format!("callcenter {CALL_CENTER}: no enabled call-event subscription"),
        "llbridge dialpad connect",
    );
}

fn routing(centers: Value, fallback: &str) -> Value {
    json!({"enrollment": {"secret": ROUTER_SECRET, "connection": "main",
        "office_id": "5630409049792512",
        "fallback": {"target_type": "callcenter", "target_id": fallback},
        "centers": centers}})
}

#[tokio::test]
async fn routing_is_checked_against_lineleader_and_dialpad() {
    let right = routing(
        json!({"Oak Park": {"target_type": "callcenter", "target_id": "4716644561813601"}}),
        "4716644561813504",
    );
    let c = checkup_of(|s| s.routing = Some(right.clone())).await;
    assert!(c.ok(), "{:#?}", c.checks);
    for check in ["routing_targets", "routing_router", "routing_centers"] {
        assert!(
            c.checks
                .iter()
                .any(|x| x.check == check && x.verdict == Verdict::Pass),
            "{check}: {:#?}",
            c.checks
        );
    }
    let c = checkup_of(|s| {
        s.routing = Some(routing(
            json!({"Nowhere": {"target_type": "callcenter", "target_id": "4716644561813601"}}),
            "4716644561813504",
        ))
    })
    .await;
    only(&c, Verdict::Fail, "routing_centers", "Nowhere", "centers");
    let c = checkup_of(|s| {
        s.routing = Some(right.clone());
        s.wiring = Wiring::Nothing;
    })
    .await;
    assert!(
        c.checks.iter().any(|x| x.check == "routing_router"
            && x.verdict == Verdict::Fail
            && x.fix
                .as_deref()
                .is_some_and(|f| f.contains("dialpad connect"))),
        "{:#?}",
        c.checks
    );
    let c = checkup_of(|s| {
        s.routing = Some(routing(json!({}), "999"));
        // Dialpad would refuse a router whose default target does not exist.
        s.wiring = Wiring::Nothing;
    })
    .await;
    assert!(
        c.checks.iter().any(|x| x.check == "routing_targets"
            && x.verdict == Verdict::Fail
            && x.detail.contains("999")),
        "{:#?}",
        c.checks
    );
}

#[tokio::test]
async fn a_right_setup_passes_every_check() {
    let c = checkup_of(|_| {}).await;
    assert!(c.ok(), "{:#?}", c.checks);
    assert!(with(&c, Verdict::Warn).is_empty(), "{:#?}", c.checks);
    for check in [
        "dialpad_call_list",
        "dialpad_subscriptions",
        "dialpad_screen_pop",
        "lineleader_login",
        "staff_emails",
        "lookup_phone_logs",
        "lookup_events",
        "center_match",
        "family_source_type",
        "family_inquiry_type",
        "statuses",
        "task_type",
        "event_type",
        "default_staff",
        "family_phones",
        "api_endpoint",
        "family_search_param",
    ] {
        assert!(
            c.checks
                .iter()
                .any(|x| x.check == check && x.verdict == Verdict::Pass),
            "{check} not passed: {:#?}",
            c.checks
        );
    }
}

/// A tenant that serves phone logs and the family search elsewhere, the search taking its
/// number as `phone_number`.
fn tenant_with_other_routes(s: &mut Setup) {
    s.lineleader.paths = [
        ("phone_logs", "/calls/phone-logs"),
        ("family_search", "/families/lookup"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    s.lineleader.search_param = "phone_number".into();
}

#[tokio::test]
async fn endpoints_a_tenant_serves_elsewhere_are_named_with_the_key_to_set() {
    let c = checkup_of(tenant_with_other_routes).await;
    let flagged: Vec<&Check> = c
        .checks
        .iter()
        .filter(|x| x.check == "api_endpoint" && x.verdict != Verdict::Pass)
        .collect();
    assert_eq!(flagged.len(), 2, "{flagged:#?}");
    for name in ["phone_logs", "family_search"] {
        let x = flagged
            .iter()
            .find(|x| x.detail.starts_with(&format!("{name}: missing")))
            .unwrap_or_else(|| panic!("{name} flagged: {flagged:#?}"));
        assert!(
            x.fix
                .as_deref()
                .is_some_and(|f| f.contains(&format!("\"paths\": {{\"{name}\"")),),
            "{x:#?}"
        );
    }
    // Every other endpoint is confirmed.
    let confirmed = c
        .checks
        .iter()
        .filter(|x| x.check == "api_endpoint" && x.verdict == Verdict::Pass)
        .count();
    assert_eq!(confirmed, 15, "{:#?}", c.checks);

    // The paths set, not the parameter: the search refuses the number.
    let c = checkup_of(|s| {
        tenant_with_other_routes(s);
        s.api = Some(json!({"paths": {"phone_logs": "/calls/phone-logs", "family_search": "/families/lookup"}}));
    })
    .await;
    only(
        &c,
        Verdict::Fail,
        "family_search_param",
        "phone=",
        "family_search_param",
    );

    // Everything set: all confirmed, and the search finds a family by its number.
    let c = checkup_of(|s| {
        tenant_with_other_routes(s);
        s.api = Some(json!({
            "paths": {"phone_logs": "/calls/phone-logs", "family_search": "/families/lookup"},
            "family_search_param": "phone_number", "family_search_format": "e164"
        }));
    })
    .await;
    assert!(c.ok(), "{:#?}", c.checks);
    assert!(with(&c, Verdict::Warn).is_empty(), "{:#?}", c.checks);
    assert!(c
        .checks
        .iter()
        .any(|x| x.check == "family_search_param" && x.verdict == Verdict::Pass));
}

#[tokio::test]
async fn wrong_credentials_fail_the_login() {
    let c = checkup_of(|s| s.lineleader.password = "another".into()).await;
    only(
        &c,
        Verdict::Fail,
        "lineleader_login",
        "",
        "username and password",
    );
}

#[tokio::test]
async fn a_wrong_dialpad_key_fails_the_call_list() {
    let c = checkup_of(|s| s.dialpad_key = "a-revoked-key").await;
    let fails = with(&c, Verdict::Fail);
    assert_eq!(fails.len(), 1, "{:#?}", c.checks);
    assert_eq!(fails[0].check, "dialpad_call_list");
    assert!(fails[0]
        .fix
        .as_deref()
        .is_some_and(|f| f.contains("calls:list")));
}

#[tokio::test]
async fn a_call_center_number_no_center_has_falls_back_to_the_default_center_with_a_warning() {
    let c = checkup_of(|s| s.data.centers[0].phone = Some("+14155559999".into())).await;
    assert!(c.ok());
    only(
        &c,
        Verdict::Warn,
        "center_match",
        "+14155550100",
        "Call Center Phone",
    );
}

#[tokio::test]
async fn neither_the_number_nor_the_default_center_name_matching_fails() {
    let c = checkup_of(|s| {
        s.data.centers[0].phone = None;
        s.enablement["default_center_name"] = json!("Main Street");
    })
    .await;
    only(
        &c,
        Verdict::Fail,
        "center_match",
        "Main Street",
        "default_center_name",
    );
}

#[tokio::test]
async fn no_recent_call_leaves_the_number_unknown_with_a_warning() {
    let c = checkup_of(|s| s.recent_call = false).await;
    assert!(c.ok());
    only(&c, Verdict::Warn, "center_match", "not known", "test call");
}

#[tokio::test]
async fn a_missing_phone_call_source_type_fails() {
    let c = checkup_of(|s| s.data.source_types.retain(|t| t.name != "Phone Call")).await;
    only(
        &c,
        Verdict::Fail,
        "family_source_type",
        "Phone Call",
        "family source type",
    );
}

#[tokio::test]
async fn a_missing_inquiry_type_fails() {
    let c = checkup_of(|s| s.data.inquiry_types.retain(|t| t.name != "Phone")).await;
    only(
        &c,
        Verdict::Fail,
        "family_inquiry_type",
        "Phone",
        "family_inquiry_type",
    );
}

#[tokio::test]
async fn families_whose_phone_cannot_be_matched_are_named_with_a_warning() {
    let c = checkup_of(|s| {
        // 1004 and 1002 have open tasks; 1003's only task is canceled.
        s.data.families[3].phone = "815-9632 (ask for mom)".into();
        s.data.families[1].phone = " ".into();
        s.data.families[2].phone = "n/a".into();
    })
    .await;
    assert!(c.ok(), "{:#?}", c.checks);
    only(
        &c,
        Verdict::Warn,
        "family_phones",
        "2 of 3 families",
        "E.164",
    );
    let warn = with(&c, Verdict::Warn)[0];
    assert!(
        warn.detail.contains("family 1004 (phone ***9632)"),
        "{warn:#?}"
    );
    assert!(warn.detail.contains("family 1002 (no phone)"), "{warn:#?}");
    assert!(!warn.detail.contains("1003"), "{warn:#?}");
    assert!(
        !warn.detail.contains("815"),
        "the number is masked: {warn:#?}"
    );
}

#[tokio::test]
async fn a_missing_phone_call_task_type_fails() {
    let c = checkup_of(|s| s.data.task_types.retain(|t| t.name != "Phone Call")).await;
    only(&c, Verdict::Fail, "task_type", "Phone Call", "task type");
}

#[tokio::test]
async fn follow_up_tasks_of_a_task_type_that_does_not_exist_fail() {
    let c = checkup_of(|s| {
        s.enablement["follow_up_tasks"] = json!({"task_type": "Callback"});
    })
    .await;
    only(
        &c,
        Verdict::Fail,
        "follow_up_task_type",
        "Callback",
        "follow_up_tasks.task_type",
    );
    let c = checkup_of(|s| {
        s.enablement["follow_up_tasks"] = json!({"task_type": "Phone Call"});
    })
    .await;
    assert!(c.ok(), "{:#?}", c.checks);
    assert!(c
        .checks
        .iter()
        .any(|x| x.check == "follow_up_task_type" && x.verdict == Verdict::Pass));
}

#[tokio::test]
async fn a_missing_event_type_fails() {
    let c =
        checkup_of(|s| s.enablement["call_log"]["event_type"] = json!("Phone Conversation")).await;
    only(
        &c,
        Verdict::Fail,
        "event_type",
        "Phone Conversation",
        "call_log.event_type",
    );
}

#[tokio::test]
async fn a_mapped_task_result_that_does_not_exist_fails() {
    let c = checkup_of(|s| {
        s.enablement["call_log"]["disposition_task_result_map"] =
            json!({"Left Voicemail": "Left Message", "Tour Booked": "Tour Confirmed"})
    })
    .await;
    only(
        &c,
        Verdict::Fail,
        "task_result",
        "Tour Confirmed",
        "disposition_task_result_map[\"Tour Booked\"]",
    );
}

#[tokio::test]
async fn every_status_named_must_exist_the_required_status_too() {
    let c = checkup_of(|s| {
        s.enablement["call_log"]["disposition_status_map"] =
            json!({"Left Voicemail (Fresh Lead)": "Contacted", "Tour Booked": "Touring"});
        s.enablement["status_prioritization"] = json!(["Enrolled", "Waitlisted"]);
    })
    .await;
    let fails: Vec<&str> = with(&c, Verdict::Fail)
        .iter()
        .map(|f| f.detail.as_str())
        .collect();
    assert_eq!(fails.len(), 3, "{:#?}", c.checks);
    for status in ["\"Fresh Lead\"", "\"Touring\"", "\"Waitlisted\""] {
        assert!(
            fails.iter().any(|d| d.contains(status)),
            "{status}: {fails:?}"
        );
    }
    assert!(with(&c, Verdict::Fail)
        .iter()
        .all(|f| f.check == "statuses" && f.fix.is_some()));
}

#[tokio::test]
async fn a_default_staff_email_no_staff_has_fails() {
    let c = checkup_of(|s| {
        s.enablement["call_log"]["default_staff_email"] = json!("nobody@example.com")
    })
    .await;
    only(
        &c,
        Verdict::Fail,
        "default_staff",
        "nobody@example.com",
        "default_staff_email",
    );
}

#[tokio::test]
async fn staff_without_an_email_address_is_a_warning() {
    let c = checkup_of(|s| s.data.staff[1].email_address = None).await;
    assert!(c.ok());
    only(&c, Verdict::Warn, "staff_emails", "1 of", "email address");
}

#[tokio::test]
async fn a_tenant_without_the_lookups_is_told_which_policy_applies() {
    let c = checkup_of(|s| {
        s.lineleader.phone_log_lookup = false;
        s.lineleader.event_lookup = false;
    })
    .await;
    assert!(c.ok());
    let warns = with(&c, Verdict::Warn);
    let codes: Vec<&str> = warns.iter().map(|w| w.check).collect();
    assert_eq!(
        codes,
        vec!["lookup_phone_logs", "lookup_events", "api_endpoint"],
        "{:#?}",
        c.checks
    );
    assert!(warns[..2].iter().all(|w| w
        .fix
        .as_deref()
        .is_some_and(|f| f.contains("unknown_outcome"))));
    // P2's 404 cannot be told from a missing phone-log route: said, not failed.
    assert!(
        warns[2]
            .detail
            .starts_with("phone_logs: missing, or the tenant lacks only the phone-log lookup"),
        "{:#?}",
        warns[2]
    );
}

#[tokio::test]
async fn lookups_that_ignore_their_filter_are_told_apart_from_lookups_that_answer() {
    let c = checkup_of(|s| {
        s.lineleader.lookups_ignore_filters = true;
        // A tenant with one phone log and one event: what an unfiltered lookup shows.
        let now = Utc::now();
        s.data.phone_logs.push(llbridge_sandbox::SbPhoneLog {
            id: 70,
            direction: "Inbound".into(),
            ani: "4158159602".into(),
            dnis: None,
            start_date_time: now,
            end_date_time: now,
            disposition: "Dialpad".into(),
            recording_url: None,
            external_call_id: "6208917392220160".into(),
            family_id: 1001,
            center_id: Some(101),
        });
        s.data.events.push(llbridge_sandbox::SbEvent {
            id: 80,
            family_id: 1001,
            center_id: Some(101),
            staff_id: 1,
            type_id: 41,
            date_time: now,
            description: "Inbound call".into(),
            task_id: None,
        });
    })
    .await;
    assert!(c.ok());
    let warns = with(&c, Verdict::Warn);
    let codes: Vec<&str> = warns.iter().map(|w| w.check).collect();
    assert_eq!(
        codes,
        vec!["lookup_phone_logs", "lookup_events"],
        "{:#?}",
        c.checks
    );
    assert!(
        warns
            .iter()
            .all(|w| w.detail.contains("does not honour its filter")
                && w.fix
                    .as_deref()
                    .is_some_and(|f| f.contains("unknown_outcome"))),
        "{warns:#?}"
    );
}

#[tokio::test]
async fn a_404_of_a_route_only_written_to_is_unknown_and_hides_no_other_check() {
    // The tenant answers a GET of its write-only routes 404, not 405; and the event type is
    // wrong: that must still be said.
    let c = checkup_of(|s| {
        s.faults = llbridge_sandbox::Faults {
            rules: vec![
                llbridge_sandbox::FaultRule::fail("GET", "/families", 404, None),
                llbridge_sandbox::FaultRule::fail("GET", "/families/*/status", 404, None),
            ],
            ..Default::default()
        };
        s.enablement["call_log"]["event_type"] = json!("Phone Conversation");
    })
    .await;
    let fails = with(&c, Verdict::Fail);
    let failed: Vec<&str> = fails.iter().map(|f| f.check).collect();
    assert_eq!(failed, vec!["event_type"], "{:#?}", c.checks);
    let unknown: Vec<&str> = with(&c, Verdict::Warn)
        .into_iter()
        .filter(|w| w.check == "api_endpoint")
        .map(|w| w.detail.as_str())
        .collect();
    assert_eq!(unknown.len(), 2, "{unknown:?}");
    assert!(
        unknown
            .iter()
            .all(|d| d.contains("unknown (written to, not read)")),
        "{unknown:?}"
    );
}
