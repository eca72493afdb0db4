//! `doctor`'s checks of a LineLeader connection and its enablements: everything the setup
//! guide asks an admin to ensure, read from the tenant. Nothing is written.

use crate::config::{CallLogMode, EventModeSettings, FollowUpSettings, LineLeaderSettings};
use crate::rules::center::{match_center, CenterRule};
use crate::rules::event_mode::{staff_by_email, PHONE_CALL_TASK_TYPE};
use crate::rules::records::{Labeled, TypeList};
use llbridge_domain::labels::find_by_label;
use llbridge_domain::phone::{self, Phone};
use llbridge_usecases::checks::{Check, Probe};

use super::matching::SOURCE_TYPE;
use crate::api::{LineLeader, Lookup};
use crate::endpoints as ep;
use crate::rules::paths::Endpoint;
use crate::token::LOGIN_REJECTED;

/// The connection: its credentials log in; how many staff lack an email address; whether the
/// tenant answers the lookups that settle a write whose answer was lost (P2, E2).
pub async fn connection(ll: &dyn LineLeader, scope: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    match ll.centers().await {
        Ok(centers) => checks.push(Check::pass(
            scope,
            "lineleader_login",
            format!("logged in; {} centers", centers.len()),
        )),
        Err(e) => {
            let fix = if e.is_transient() && e.reason() != LOGIN_REJECTED {
                "LineLeader did not answer: check the connection's base_url and the network, then run doctor again"
            } else {
                "check the connection's base_url, username and password (LineLeader support issues the integration's credentials)"
            };
            checks.push(Check::fail(scope, "lineleader_login", e.to_string(), fix));
            return checks;
        }
    }
    match ll.staff().await {
        Ok(staff) => {
            let without = staff
                .iter()
                .filter(|s| s.email.as_deref().is_none_or(|e| e.trim().is_empty()))
                .count();
            checks.push(if without == 0 {
                Check::pass(scope, "staff_emails", format!("all {} staff have an email address", staff.len()))
            } else {
                Check::warn(
                    scope,
                    "staff_emails",
                    format!("{without} of {} staff have no email address: Event-mode calls of those agents are attributed to the default staff", staff.len()),
                    "give each staff record the email address of its Dialpad user",
                )
            });
        }
        Err(e) => checks.push(Check::fail(
            scope,
            "staff_emails",
            e.to_string(),
            "LineLeader must answer GET /staff",
        )),
    }
    let fix = "with unknown_outcome \"retry\" (the default) such a write may be repeated (possible_duplicate); \"hold\" reports it as needs_review instead";
    match ll.phone_logs_for_call("0", "0").await {
        Ok(Lookup::Answered(_)) => checks.push(Check::pass(scope, "lookup_phone_logs", "phone logs can be looked up by Dialpad call id (P2): a phone log whose answer was lost is found, not repeated")),
        Ok(Lookup::Unsupported(why)) => checks.push(Check::warn(scope, "lookup_phone_logs", format!("the tenant cannot look phone logs up (P2: {why})"), fix)),
        Ok(Lookup::Unfiltered(_, why)) => checks.push(Check::warn(scope, "lookup_phone_logs", format!("the phone-log lookup does not honour its filter: asked for a Dialpad call id that does not exist, it answered records ({why})"), fix)),
        Err(e) => checks.push(Check::warn(scope, "lookup_phone_logs", format!("the phone-log lookup (P2) failed: {e}"), fix)),
    }
    match ll.family_events("0").await {
        Ok(Lookup::Answered(_)) => checks.push(Check::pass(scope, "lookup_events", "timeline events can be looked up (E2): an event whose answer was lost is found, not repeated")),
        Ok(Lookup::Unsupported(why)) => checks.push(Check::warn(scope, "lookup_events", format!("the tenant cannot look events up (E2: {why})"), fix)),
        Ok(Lookup::Unfiltered(_, why)) => checks.push(Check::warn(scope, "lookup_events", format!("the event lookup does not honour its filter: asked for a family that does not exist, it answered records ({why})"), fix)),
        Err(e) => checks.push(Check::warn(scope, "lookup_events", format!("the event lookup (E2) failed: {e}"), fix)),
    }
    let (phones, sample) = family_phones(ll, scope).await;
    checks.push(phones);
    checks.extend(endpoints(ll, scope, &sample).await);
    checks
}

/// A number no family is expected to have, for probes without a sampled family.
const PROBE_NUMBER: &str = "+12025550100";

/// Every endpoint the client uses, probed with a `GET` and nothing else: confirmed (it
/// answers: 2xx, or 405 where the client only writes), missing (404 of a route the client
/// reads: the override to set), unknown (a 404 of a route it only writes to, any other
/// answer, or no record to read it with). Then whether the family search
/// finds a sampled family by its number (its parameter and format).
async fn endpoints(ll: &dyn LineLeader, scope: &str, sample: &Sample) -> Vec<Check> {
    const CHECK: &str = "api_endpoint";
    let Sample {
        task_id,
        family_id,
        number,
    } = sample;
    let mut checks = Vec::new();
    let mut search_answers = false;
    for e in Endpoint::ALL {
        let name = e.name();
        let id = match e {
            Endpoint::Family | Endpoint::FamilyStatus => family_id.as_deref(),
            Endpoint::Task => task_id.as_deref(),
            _ => None,
        };
        let set = |default: &str| {
            format!(
                "set \"api\": {{\"paths\": {{\"{name}\": \"<the tenant's path>\"}}}} in this connection: the path to {} (the default is {default})",
                ep::purpose(e)
            )
        };
        let default = ep::default_path(e);
        if e.takes_id() && id.is_none() {
            checks.push(Check::warn(
                scope,
                CHECK,
                format!("{name}: unknown — no open task to read a record with"),
                "create one open task in LineLeader and run doctor again",
            ));
            continue;
        }
        let probed = match ll
            .probe(e, id, number.as_deref().unwrap_or(PROBE_NUMBER))
            .await
        {
            Ok(p) => p,
            Err(err) => {
                checks.push(Check::warn(
                    scope,
                    CHECK,
                    format!("{name}: unknown — {err}"),
                    "run doctor again once LineLeader answers",
                ));
                continue;
            }
        };
        let said = format!(
            "GET {} answers {}{}",
            probed.path,
            probed.status,
            if probed.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", probed.reason)
            }
        );
        let writes = if ep::write_only(e) {
            " (written to, not read)"
        } else {
            ""
        };
        match probed.status {
            200..=299 => {
                search_answers |= e == Endpoint::FamilySearch;
                checks.push(Check::pass(
                    scope,
                    CHECK,
                    format!("{name}: confirmed — {said}"),
                ));
            }
            405 if ep::write_only(e) || matches!(e, Endpoint::Events | Endpoint::PhoneLogs) => {
                checks.push(Check::pass(
                    scope,
                    CHECK,
                    format!("{name}: confirmed{writes} — {said}: the route exists"),
                ));
            }
            404 if e == Endpoint::PhoneLogs => checks.push(Check::warn(
                scope,
                CHECK,
                format!(
                    "{name}: missing, or the tenant lacks only the phone-log lookup (P2) — {said}"
                ),
                set(default),
            )),
            // A route the client only writes to: many servers answer a GET of it 404, not
            // 405, so a 404 proves nothing.
            404 if ep::write_only(e) => checks.push(Check::warn(
                scope,
                CHECK,
                format!("{name}: unknown{writes} — {said}: a route that is only written to may answer a GET 404 and still take the write"),
                set(default),
            )),
            404 => checks.push(Check::fail(
                scope,
                CHECK,
                format!("{name}: missing — {said}"),
                set(default),
            )),
            400 if e == Endpoint::FamilySearch => {
                let (param, format) = ll.search_param();
                checks.push(Check::fail(scope, "family_search_param", format!("family_search: the route exists but refuses the number — {said}; it was sent as {param}={}", format.as_str()), "set \"api\": {\"family_search_param\": \"<the tenant's parameter>\", \"family_search_format\": \"ten_digits\" | \"e164\" | \"digits\"} in this connection"));
            }
            _ => checks.push(Check::warn(
                scope,
                CHECK,
                format!("{name}: unknown — {said}"),
                set(default),
            )),
        }
    }
    // The search answers: does it find a family by its own number?
    if let (true, Some(id), Some(number)) = (search_answers, &family_id, &number) {
        match ll.search_families(number).await {
            Ok(found) if found.iter().any(|f| &f.id == id) => checks.push(Check::pass(scope, "family_search_param", format!("searching family {id}'s number ({}) finds it", phone::mask(number)))),
            Ok(found) => checks.push(Check::warn(scope, "family_search_param", format!("searching family {id}'s number ({}) did not find it ({} other result(s)): the search parameter or the number's format may differ", phone::mask(number), found.len()), "set \"api\": {\"family_search_param\": ..., \"family_search_format\": \"ten_digits\" | \"e164\" | \"digits\"} in this connection to what the tenant's family search takes")),
            Err(e) => checks.push(Check::warn(scope, "family_search_param", format!("the family search failed: {e}"), "run doctor again once LineLeader answers")),
        }
    }
    checks
}

/// How many families [`family_phones`] reads at most.
pub const FAMILY_SAMPLE: usize = 20;

/// A sample of families (those with open tasks: the ones enrollment is working on) whose
/// primary guardian's phone is not a number the matching can normalize: their calls would
/// not find them, and would create a second family.
/// The first sampled task and its family (with a phone that parses), for the probes of the
/// endpoints that name a record.
#[derive(Debug, Default)]
struct Sample {
    task_id: Option<String>,
    family_id: Option<String>,
    number: Option<String>,
}

async fn family_phones(ll: &dyn LineLeader, scope: &str) -> (Check, Sample) {
    const CHECK: &str = "family_phones";
    let by_hand = "look at a few families' phone numbers in LineLeader: each primary guardian's phone must be a full number, ideally E.164 (+15551234567)";
    let unsampled = |why: String| {
        Check::warn(
            scope,
            CHECK,
            format!("families could not be sampled: {why}"),
            by_hand,
        )
    };
    let mut sample = Sample::default();
    let tasks = match ll.open_tasks_sample().await {
        Ok(Lookup::Answered(tasks)) => tasks,
        Ok(Lookup::Unsupported(why)) | Ok(Lookup::Unfiltered(_, why)) => {
            return (unsampled(why), sample)
        }
        Err(e) => return (unsampled(e.to_string()), sample),
    };
    if let Some(t) = tasks.iter().find(|t| t.family_id.is_some()) {
        sample.task_id = Some(t.id.clone());
        sample.family_id = t.family_id.clone();
    }
    let mut ids: Vec<String> = Vec::new();
    for id in tasks.into_iter().filter_map(|t| t.family_id) {
        if ids.len() < FAMILY_SAMPLE && !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return (
            Check::pass(scope, CHECK, "no open tasks: no families to sample"),
            sample,
        );
    }
    let mut read = 0;
    let mut bad = Vec::new();
    for id in &ids {
        match ll.family(id).await {
            Ok(Some(family)) => {
                read += 1;
                if sample.family_id.as_ref() == Some(id) {
                    sample.number = family
                        .phones
                        .iter()
                        .find(|p| Phone::parse(p).is_some())
                        .cloned();
                }
                let phones: Vec<&String> = family
                    .phones
                    .iter()
                    .filter(|p| !p.trim().is_empty())
                    .collect();
                if phones.is_empty() {
                    bad.push(format!("family {id} (no phone)"));
                } else if phones.iter().all(|p| Phone::parse(p).is_none()) {
                    bad.push(format!("family {id} (phone {})", phone::mask(phones[0])));
                }
            }
            Ok(None) => {}
            Err(e) => return (unsampled(e.to_string()), sample),
        }
    }
    if bad.is_empty() {
        let check = Check::pass(
            scope,
            CHECK,
            format!("{read} families with open tasks sampled: every phone is a full number"),
        );
        return (check, sample);
    }
    let check = Check::warn(
        scope,
        CHECK,
        format!("{} of {read} families with open tasks sampled have no phone that can be matched: {}", bad.len(), bad.join(", ")),
        "give each primary guardian a full phone number, ideally E.164 (+15551234567): a call from such a family cannot find it, and a caller nobody matches becomes a new family",
    );
    (check, sample)
}

/// One enablement's settings against the tenant.
pub async fn enablement(
    ll: &dyn LineLeader,
    probe: &Probe<'_>,
    settings: &LineLeaderSettings,
) -> Vec<Check> {
    let scope = probe.scope.as_str();
    let mut checks = Vec::new();
    match ll.centers().await {
        Ok(centers) => checks.push(center(&centers, probe, settings)),
        Err(e) => {
            checks.push(Check::fail(
                scope,
                "center_match",
                e.to_string(),
                "LineLeader must answer GET /centers",
            ));
            return checks;
        }
    }
    let sources = types(ll, TypeList::FamilySource, scope, &mut checks).await;
    labeled(scope, SOURCE_TYPE, "family_source_type", "family source type", format!("add a family source type labeled \"{SOURCE_TYPE}\" in LineLeader's type settings: new callers cannot become families without it"), &mut checks, &sources);
    let inquiries = types(ll, TypeList::FamilyInquiry, scope, &mut checks).await;
    let inquiry = settings.family_inquiry_type.clone();
    labeled(scope, &inquiry, "family_inquiry_type", "family inquiry type", format!("add a family inquiry type labeled \"{inquiry}\" in LineLeader, or set crm.family_inquiry_type to one that exists"), &mut checks, &inquiries);

    let event = match &settings.call_log {
        Some(CallLogMode::Event(e)) => Some(e),
        _ => None,
    };
    let needs_statuses = !settings.status_prioritization.is_empty() || event.is_some();
    if needs_statuses {
        match ll.statuses().await {
            Ok(statuses) => statuses_named(&statuses, settings, event, scope, &mut checks),
            Err(e) => checks.push(Check::fail(
                scope,
                "statuses",
                e.to_string(),
                "LineLeader must answer GET /statuses",
            )),
        }
    }
    if let Some(event) = event {
        let task_types = types(ll, TypeList::Task, scope, &mut checks).await;
        labeled(scope, PHONE_CALL_TASK_TYPE, "task_type", "task type", format!("add a task type labeled \"{PHONE_CALL_TASK_TYPE}\": due tasks cannot be completed without it"), &mut checks, &task_types);
        let results = types(ll, TypeList::TaskResult, scope, &mut checks).await;
        let event_type = event.event_type.clone();
        labeled(scope, &event_type, "event_type", "task result (event type)", format!("add \"{event_type}\" to the task results (/types/tasks/results), or set call_log.event_type to one that exists: no timeline event is created without it"), &mut checks, &results);
        if let Some(results) = &results {
            for (disposition, result) in &event.disposition_task_result_map {
                if find_by_label(results, result).is_none() {
                    checks.push(Check::fail(scope, "task_result", format!("the task result \"{result}\" (mapped from \"{disposition}\") does not exist"), format!("add the task result \"{result}\" in LineLeader, or change call_log.disposition_task_result_map[\"{disposition}\"]")));
                }
            }
        }
        default_staff(ll, event, scope, &mut checks).await;
    }
    if let Some(f) = &settings.follow_up_tasks {
        follow_up_tasks(ll, f, scope, &mut checks).await;
    }
    if let Some(t) = &settings.texts {
        let results = types(ll, TypeList::TaskResult, scope, &mut checks).await;
        let name = t.event_type.clone();
        labeled(scope, &name, "text_event_type", "task result (text event type)", format!("add \"{name}\" to the task results (/types/tasks/results), or set texts.event_type to one that exists: no text is logged without it"), &mut checks, &results);
        checks.push(Check::warn(
            scope,
            "text_content",
            "Dialpad sends a text's content only to an API key with the message_content_export scope; without it each text is logged without its words",
            "give the company API key the message_content_export scope (Dialpad: Admin settings > API keys)",
        ));
    }
    checks
}

/// `follow_up_tasks`: its task type exists, and its default staff (when it has its own) is a
/// staff record.
async fn follow_up_tasks(
    ll: &dyn LineLeader,
    f: &FollowUpSettings,
    scope: &str,
    checks: &mut Vec<Check>,
) {
    let task_types = types(ll, TypeList::Task, scope, checks).await;
    let name = f.task_type.clone();
    labeled(scope, &name, "follow_up_task_type", "task type (follow_up_tasks)", format!("add a task type labeled \"{name}\" in LineLeader, or set follow_up_tasks.task_type to one that exists: no follow-up task is created without it"), checks, &task_types);
    if let Some(email) = &f.default_staff_email {
        match ll.staff().await {
            Ok(staff) if staff_by_email(&staff, email).is_some() => checks.push(Check::pass(scope, "follow_up_staff", format!("follow-up tasks without an agent go to {email}"))),
            Ok(_) => checks.push(Check::warn(scope, "follow_up_staff", format!("no staff record has the email {email}: follow-up tasks without an agent are created unassigned"), "add a staff record with that email, or set follow_up_tasks.default_staff_email to a staff member's email")),
            Err(e) => checks.push(Check::fail(scope, "follow_up_staff", e.to_string(), "LineLeader must answer GET /staff")),
        }
    }
}

/// Whether the list has the label `name`; nothing when the list could not be read.
fn labeled(
    scope: &str,
    name: &str,
    check: &'static str,
    what: &str,
    fix: String,
    checks: &mut Vec<Check>,
    items: &Option<Vec<Labeled>>,
) {
    match items {
        Some(items) if find_by_label(items, name).is_some() => checks.push(Check::pass(
            scope,
            check,
            format!("{what} \"{name}\" exists"),
        )),
        Some(_) => checks.push(Check::fail(
            scope,
            check,
            format!("no {what} \"{name}\""),
            fix,
        )),
        None => {}
    }
}

fn center(
    centers: &[crate::rules::records::Center],
    probe: &Probe<'_>,
    settings: &LineLeaderSettings,
) -> Check {
    let scope = probe.scope.as_str();
    let number = probe.call_center_number.as_deref();
    let default = &settings.default_center_name;
    match (match_center(centers, number, default), number) {
        (Some(m), Some(n)) if m.rule == CenterRule::CallCenterPhone => Check::pass(scope, "center_match", format!("the call center's number {n} is the Call Center Phone of \"{}\"", m.center.name)),
        (Some(m), Some(n)) => Check::warn(scope, "center_match", format!("no center's Call Center Phone is the call center's number {n}; the default center \"{}\" is used", m.center.name), format!("set the Call Center Phone of the call center's LineLeader center to {n}: matching families by center needs it")),
        (Some(m), None) => Check::warn(scope, "center_match", format!("the call center's number is not known (no call of it in Dialpad's call list for 7 days); the default center \"{}\" resolves", m.center.name), "make a test call to the call center and run doctor again"),
        (None, Some(n)) => Check::fail(scope, "center_match", format!("no center's Call Center Phone is {n}, and no center is named \"{default}\": new callers cannot become families"), format!("set the Call Center Phone of the call center's LineLeader center to {n}, or crm.default_center_name to a center's name")),
        (None, None) => Check::fail(scope, "center_match", format!("no center is named \"{default}\", and the call center's number is not known (no call of it for 7 days)"), "set crm.default_center_name to a center's name, and the center's Call Center Phone to the Dialpad call center's number"),
    }
}

async fn types(
    ll: &dyn LineLeader,
    list: TypeList,
    scope: &str,
    checks: &mut Vec<Check>,
) -> Option<Vec<Labeled>> {
    match ll.types(list).await {
        Ok(items) => Some(items),
        Err(e) => {
            checks.push(Check::fail(
                scope,
                "type_list",
                format!("{list:?}: {e}"),
                "LineLeader must answer the type lists (/types/...)",
            ));
            None
        }
    }
}

/// Every status named in Status Prioritization and the Disposition Status Map (targets and
/// required statuses) exists.
fn statuses_named(
    statuses: &[Labeled],
    settings: &LineLeaderSettings,
    event: Option<&EventModeSettings>,
    scope: &str,
    checks: &mut Vec<Check>,
) {
    let mut named: Vec<(String, String)> = settings
        .status_prioritization
        .iter()
        .map(|s| (s.clone(), "crm.status_prioritization".to_owned()))
        .collect();
    for rule in event
        .map(|e| e.disposition_status_map.as_slice())
        .unwrap_or_default()
    {
        let key = format!("call_log.disposition_status_map[\"{}\"]", rule.disposition);
        named.push((rule.status.clone(), key.clone()));
        if let Some(required) = &rule.required_status {
            named.push((required.clone(), key));
        }
    }
    let missing: Vec<_> = named
        .iter()
        .filter(|(s, _)| find_by_label(statuses, s).is_none())
        .collect();
    if missing.is_empty() {
        checks.push(Check::pass(
            scope,
            "statuses",
            format!("all {} statuses named exist", named.len()),
        ));
    }
    for (status, key) in missing {
        checks.push(Check::fail(
            scope,
            "statuses",
            format!("the status \"{status}\" ({key}) does not exist"),
            format!("add the status \"{status}\" in LineLeader, or change {key}"),
        ));
    }
}

async fn default_staff(
    ll: &dyn LineLeader,
    event: &EventModeSettings,
    scope: &str,
    checks: &mut Vec<Check>,
) {
    let email = &event.default_staff_email;
    match ll.staff().await {
        Ok(staff) if staff_by_email(&staff, email).is_some() => checks.push(Check::pass(scope, "default_staff", format!("{email} is a staff record"))),
        Ok(_) => checks.push(Check::fail(scope, "default_staff", format!("no staff record has the email {email}"), format!("add a staff record with the email {email}, or set call_log.default_staff_email to a staff member's email: calls of agents unknown to LineLeader get no event"))),
        Err(e) => checks.push(Check::fail(scope, "default_staff", e.to_string(), "LineLeader must answer GET /staff")),
    }
}

/// A router's center names: each is a LineLeader center (names compared without case).
pub async fn centers_named(ll: &dyn LineLeader, scope: &str, names: &[String]) -> Vec<Check> {
    if names.is_empty() {
        return Vec::new();
    }
    let centers = match ll.centers().await {
        Ok(c) => c,
        Err(e) => {
            return vec![Check::fail(
                scope,
                "routing_centers",
                e.to_string(),
                "LineLeader must answer GET /centers",
            )]
        }
    };
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| {
            !centers
                .iter()
                .any(|c| llbridge_domain::labels::same_label(&c.name, n))
        })
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        vec![Check::pass(
            scope,
            "routing_centers",
            format!(
                "every mapped center ({}) is a LineLeader center",
                names.len()
            ),
        )]
    } else {
        vec![Check::fail(
            scope,
            "routing_centers",
            format!("no LineLeader center is named {}", missing.join(", ")),
            "use the centers' names as LineLeader shows them in the routing entry's centers",
        )]
    }
}
