//! Event mode (`docs/rules.md`): the three steps on the matched family, as pure decisions. Each step
//! returns the action to take or a [`Skipped`] with a [`SkipReason`]; the steps are independent
//! (a skip or failure in one does not stop the others), except that the CRM event is linked to
//! the task that step 1 actually completed.
//!
//! The caller runs, in order: [`resolve_staff`], [`plan_task_completion`] (then the task update),
//! [`plan_event`] (with the completed task's id, if any), [`plan_status_change`].
//!
//! # Log codes
//!
//! Every code the domain gives the logs, in one place (an operator searches the logs by them).
//!
//! | code | step | meaning |
//! |---|---|---|
//! | `call_center_phone` | center | matched by the center's Call Center Phone ([`crate::center::CenterRule`]) |
//! | `default_center_name` | center | matched by the Default Center Name |
//! | `no_center` | center | no center resolved ([`crate::center::NO_CENTER`]); the event is dropped when a family must be created |
//! | `family_matched` / `family_no_match` / `family_ambiguous` | family | [`crate::family::FamilyDecision::code`]; ambiguous: the event is dropped |
//! | `single` / `center_filter` / `recency_window` / `status_priority` | family | the rule that picked the family ([`crate::family::FamilyRule::code`]) |
//! | `phone_log_no_caller_number` | phone log | the call has no caller number ([`crate::rules::phone_log::PhoneLogError`]) |
//! | `phone_log_unparsable_caller_number` | phone log | the caller number is not a phone number |
//! | `phone_log_no_call_times` | phone log | the call has no usable time |
//! | `agent_email` / `default_staff_email` | staff | the rule that resolved the staff ([`StaffRule::code`]) |
//! | `task_no_disposition` | task | the call has no disposition |
//! | `task_no_result_mapping` | task | the disposition has no entry in the Disposition Task Result Map |
//! | `task_direction_not_enabled` | task | the call's direction (or an unknown one) is not in Result Type Mapping |
//! | `task_type_not_found` | task | no task type labelled "Phone Call" in `/types/tasks` |
//! | `task_none_due_today` | task | no open "Phone Call" task due today on the family |
//! | `task_result_not_found` | task | the mapped task result name is not in `/types/tasks/results` |
//! | `task_no_staff` | task | no staff resolved to complete the task as |
//! | `event_no_staff` | event | neither the agent's e-mail nor the Default Staff Email matches a staff record |
//! | `event_type_not_found` | event | the configured Event Type is not in `/types/tasks/results` |
//! | `status_no_disposition` | status | the call has no disposition |
//! | `status_not_in_map` | status | the disposition is not in the Disposition Status Map |
//! | `status_condition_failed` | status | only conditional entries match, and the family's current status is not their required status |
//! | `status_target_not_found` | status | the target status name is not in `/statuses` |
//! | `status_unchanged` | status | the family already has the target status: nothing to do |
//!
//! # Rules and choices
//!
//! * **Dispositions**: the conversation's disposition ([`Conversation::disposition`]). Map keys
//!   are looked up as labels ([`crate::labels`]: case-insensitive, whitespace and dashes
//!   normalized, so `"Connected – Interested"` is `"Connected - Interested"`), for the full
//!   label, then for a two-level `"Category~Sub"` the sub-disposition, then the category
//!   ([`disposition_candidates`]); the first level with a matching key wins.
//! * **Task**: a task of the "Phone Call" type (a task read without a type is taken as the type
//!   it was listed under; one of another type is never taken), of the family (same rule), not
//!   completed, not canceled, whose due date is the day of the call's end in the center's time
//!   zone (the Center's IANA zone when it has a valid one, else UTC). Overdue tasks of earlier
//!   days are not completed. Several: the earliest due (then the smallest id). The completion:
//!   the mapped result, completed at the call's end, by the resolved staff, with a description
//!   naming the call.
//! * **Staff**: the staff whose `email` is the agent's e-mail (trimmed, case-insensitive); the
//!   agent's e-mail already follows the operator-leg rule (`EmailSource`); else the Default
//!   Staff Email's staff; several records with one e-mail: the smallest id.
//! * **CRM event**: dated at the call's start; its description holds the direction, the talk
//!   time (`"4m 52s"`), the disposition (if any), the recording link of the configured Call Log
//!   Link Type (if set and present), and the Dialpad call id.
//! * **Status**: within a level, a conditional entry whose required status is the family's
//!   current status wins over an unconditional entry; else the unconditional entry applies; when
//!   only conditional entries match and none holds, the next level is tried (so
//!   `"Connected~Interested (New Lead)"` can be backed by `"Connected"`), and
//!   `status_condition_failed` is reported only when no level applies. A family already in the
//!   target status is skipped (`status_unchanged`): the update would change nothing and could
//!   set off LineLeader workflows again.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::{EventModeSettings, StatusRule};
use crate::rules::records::{Center, Family, Labeled, NewEvent, Staff, Task, TaskCompletion};
use llbridge_domain::call_record::{call_times, duration_ms, recording_url};
use llbridge_domain::conversation::{recap_text, Agent, Conversation};
use llbridge_domain::event::{Direction, LinkKind};
use llbridge_domain::labels::{find_by_label, same_label};
use llbridge_domain::lenient::id_order;

pub use llbridge_domain::labels::disposition_candidates;

/// The task type whose due task is completed.
pub const PHONE_CALL_TASK_TYPE: &str = "Phone Call";

/// The step a skip belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Task,
    Event,
    Status,
}

/// Why a step was skipped. [`SkipReason::code`] is the log code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    TaskNoDisposition,
    TaskNoResultMapping,
    TaskDirectionNotEnabled,
    TaskTypeNotFound,
    TaskNoneDueToday,
    TaskResultNotFound,
    TaskNoStaff,
    EventNoStaff,
    EventTypeNotFound,
    StatusNoDisposition,
    StatusNotInMap,
    StatusConditionFailed,
    StatusTargetNotFound,
    StatusUnchanged,
}

impl SkipReason {
    pub const ALL: [SkipReason; 14] = [
        SkipReason::TaskNoDisposition,
        SkipReason::TaskNoResultMapping,
        SkipReason::TaskDirectionNotEnabled,
        SkipReason::TaskTypeNotFound,
        SkipReason::TaskNoneDueToday,
        SkipReason::TaskResultNotFound,
        SkipReason::TaskNoStaff,
        SkipReason::EventNoStaff,
        SkipReason::EventTypeNotFound,
        SkipReason::StatusNoDisposition,
        SkipReason::StatusNotInMap,
        SkipReason::StatusConditionFailed,
        SkipReason::StatusTargetNotFound,
        SkipReason::StatusUnchanged,
    ];

    /// The log code (see the module documentation).
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::TaskNoDisposition => "task_no_disposition",
            SkipReason::TaskNoResultMapping => "task_no_result_mapping",
            SkipReason::TaskDirectionNotEnabled => "task_direction_not_enabled",
            SkipReason::TaskTypeNotFound => "task_type_not_found",
            SkipReason::TaskNoneDueToday => "task_none_due_today",
            SkipReason::TaskResultNotFound => "task_result_not_found",
            SkipReason::TaskNoStaff => "task_no_staff",
            SkipReason::EventNoStaff => "event_no_staff",
            SkipReason::EventTypeNotFound => "event_type_not_found",
            SkipReason::StatusNoDisposition => "status_no_disposition",
            SkipReason::StatusNotInMap => "status_not_in_map",
            SkipReason::StatusConditionFailed => "status_condition_failed",
            SkipReason::StatusTargetNotFound => "status_target_not_found",
            SkipReason::StatusUnchanged => "status_unchanged",
        }
    }

    pub fn step(&self) -> Step {
        match self {
            SkipReason::TaskNoDisposition
            | SkipReason::TaskNoResultMapping
            | SkipReason::TaskDirectionNotEnabled
            | SkipReason::TaskTypeNotFound
            | SkipReason::TaskNoneDueToday
            | SkipReason::TaskResultNotFound
            | SkipReason::TaskNoStaff => Step::Task,
            SkipReason::EventNoStaff | SkipReason::EventTypeNotFound => Step::Event,
            SkipReason::StatusNoDisposition
            | SkipReason::StatusNotInMap
            | SkipReason::StatusConditionFailed
            | SkipReason::StatusTargetNotFound
            | SkipReason::StatusUnchanged => Step::Status,
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A skipped step: the reason, and a detail for the log line (labels and ids, never a phone
/// number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub reason: SkipReason,
    pub detail: String,
}

impl Skipped {
    fn new(reason: SkipReason, detail: impl Into<String>) -> Skipped {
        Skipped {
            reason,
            detail: detail.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        self.reason.code()
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.code(), self.detail)
    }
}

/// The conversation's disposition, trimmed; `None` when absent or blank.
fn disposition_of(conversation: &Conversation) -> Option<&str> {
    conversation
        .disposition()
        .map(str::trim)
        .filter(|d| !d.is_empty())
}

/// Looks a disposition up in a Disposition Task Result Map: the full label, then the
/// sub-disposition, then the category. Returns the key as written and its value.
pub fn lookup_disposition<'m>(
    map: &'m BTreeMap<String, String>,
    disposition: &str,
) -> Option<(&'m str, &'m str)> {
    disposition_candidates(disposition).iter().find_map(|c| {
        map.iter()
            .find(|(k, _)| same_label(k, c))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    })
}

// ---------------------------------------------------------------------------------------------
// Staff

/// Which rule resolved the staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRule {
    /// The staff's e-mail is the agent's.
    AgentEmail,
    /// The staff's e-mail is the Default Staff Email.
    DefaultStaffEmail,
}

impl StaffRule {
    /// `agent_email` or `default_staff_email`.
    pub fn code(&self) -> &'static str {
        match self {
            StaffRule::AgentEmail => "agent_email",
            StaffRule::DefaultStaffEmail => "default_staff_email",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaffMatch<'a> {
    pub staff: &'a Staff,
    pub rule: StaffRule,
}

pub fn staff_by_email<'a>(staff: &'a [Staff], email: &str) -> Option<&'a Staff> {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return None;
    }
    staff
        .iter()
        .filter(|s| {
            s.email
                .as_deref()
                .is_some_and(|e| e.trim().to_lowercase() == email)
        })
        .min_by(|a, b| id_order(&a.id, &b.id))
}

/// The staff the call is attributed to: the agent's, else the Default Staff Email's; skipped
/// with `event_no_staff` when neither matches.
pub fn resolve_staff<'a>(
    agent: Option<&Agent>,
    staff: &'a [Staff],
    default_staff_email: &str,
) -> Result<StaffMatch<'a>, Skipped> {
    let agent_email = agent.and_then(|a| a.email.as_deref());
    if let Some(found) = agent_email.and_then(|e| staff_by_email(staff, e)) {
        return Ok(StaffMatch {
            staff: found,
            rule: StaffRule::AgentEmail,
        });
    }
    if let Some(found) = staff_by_email(staff, default_staff_email) {
        return Ok(StaffMatch {
            staff: found,
            rule: StaffRule::DefaultStaffEmail,
        });
    }
    let agent_part = match agent_email {
        Some(_) => "the agent's e-mail matches no staff",
        None => "the call has no agent e-mail",
    };
    Err(Skipped::new(
        SkipReason::EventNoStaff,
        format!(
            "{agent_part}, and the Default Staff Email \"{}\" matches no staff",
            default_staff_email.trim()
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// Step 1: task auto-completion

/// The time zone of "today": the center's IANA zone when known, else UTC.
#[derive(Debug, Clone)]
pub struct CenterZone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl CenterZone {
    pub fn utc() -> Self {
        Self {
            name: "UTC".into(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    /// The zone named `name` (IANA, any case, surrounding blanks ignored); `None` if unknown.
    pub fn named(name: &str) -> Option<Self> {
        let name = name.trim();
        let tz = jiff::tz::TimeZone::get(name).ok()?;
        let name = tz.iana_name().unwrap_or(name).to_string();
        Some(Self { name, tz })
    }

    /// The IANA name, as the database spells it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The calendar day of `at` in this zone.
    pub fn date(&self, at: DateTime<Utc>) -> NaiveDate {
        let local = i32::try_from(at.timestamp_subsec_nanos())
            .ok()
            .and_then(|nanos| jiff::Timestamp::new(at.timestamp(), nanos).ok())
            .map(|ts| self.tz.to_datetime(ts).date())
            .and_then(|d| {
                NaiveDate::from_ymd_opt(
                    i32::from(d.year()),
                    u32::try_from(d.month()).ok()?,
                    u32::try_from(d.day()).ok()?,
                )
            });
        // Beyond the years the database covers (±9999), the UTC day.
        local.unwrap_or_else(|| at.date_naive())
    }
}

/// The time zone of "today": the center's IANA zone when valid, else UTC.
pub fn center_tz(center: Option<&Center>) -> CenterZone {
    center
        .and_then(|c| c.timezone.as_deref())
        .and_then(CenterZone::named)
        .unwrap_or_else(CenterZone::utc)
}

/// The open "Phone Call" task of the family due on the day of `at` in `tz`: the earliest due,
/// then the smallest id.
pub fn due_task<'a>(
    tasks: &'a [Task],
    phone_call_type_id: &str,
    family_id: &str,
    at: DateTime<Utc>,
    tz: &CenterZone,
) -> Option<&'a Task> {
    let day = tz.date(at);
    let same = |v: Option<&str>, want: &str| v.is_none_or(|v| v.trim() == want.trim());
    tasks
        .iter()
        .filter(|t| !t.is_completed && !t.is_canceled)
        .filter(|t| same(t.type_id.as_deref(), phone_call_type_id))
        .filter(|t| same(t.family_id.as_deref(), family_id))
        .filter_map(|t| t.due.map(|due| (due, t)))
        .filter(|(due, _)| tz.date(*due) == day)
        .min_by(|(a, ta), (b, tb)| a.cmp(b).then_with(|| id_order(&ta.id, &tb.id)))
        .map(|(_, t)| t)
}

/// What step 1 needs.
#[derive(Debug, Clone, Copy)]
pub struct TaskContext<'a> {
    pub conversation: &'a Conversation,
    pub settings: &'a EventModeSettings,
    pub family_id: &'a str,
    /// The matched center (for its time zone).
    pub center: Option<&'a Center>,
    /// `/types/tasks`.
    pub task_types: &'a [Labeled],
    /// `/types/tasks/results`.
    pub task_results: &'a [Labeled],
    /// The family's tasks.
    pub tasks: &'a [Task],
    /// The resolved staff.
    pub staff: Option<&'a Staff>,
    /// Used only when the call has no usable time.
    pub now: DateTime<Utc>,
}

/// Step 1's action: complete this task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCompletionPlan {
    pub task_id: String,
    pub completion: TaskCompletion,
    /// The Disposition Task Result Map key that matched, as written.
    pub mapping_key: String,
    /// The task result's label.
    pub result_label: String,
}

/// The description written on the completed task.
pub fn task_result_description(conversation: &Conversation, disposition: &str) -> String {
    format!(
        "Completed by Dialpad {} call {} (disposition: {disposition})",
        direction_word(conversation.direction),
        conversation.dialpad_call_id
    )
}

fn direction_word(direction: Option<Direction>) -> &'static str {
    match direction {
        Some(d) => d.as_str(),
        None => "unknown-direction",
    }
}

/// Step 1: which task to complete, and how; or why not.
pub fn plan_task_completion(ctx: &TaskContext<'_>) -> Result<TaskCompletionPlan, Skipped> {
    use SkipReason::*;
    let conv = ctx.conversation;
    let disposition = disposition_of(conv)
        .ok_or_else(|| Skipped::new(TaskNoDisposition, "the call has no disposition"))?;
    let (mapping_key, result_name) = lookup_disposition(
        &ctx.settings.disposition_task_result_map,
        disposition,
    )
    .ok_or_else(|| {
        Skipped::new(
            TaskNoResultMapping,
            format!("disposition \"{disposition}\" is not in the Disposition Task Result Map"),
        )
    })?;
    match conv.direction {
        Some(d) if ctx.settings.result_type_mapping.contains(&d) => {}
        d => {
            return Err(Skipped::new(
                TaskDirectionNotEnabled,
                format!(
                    "direction {} is not in Result Type Mapping",
                    direction_word(d)
                ),
            ))
        }
    }
    let task_type = find_by_label(ctx.task_types, PHONE_CALL_TASK_TYPE).ok_or_else(|| {
        Skipped::new(
            TaskTypeNotFound,
            format!("no task type \"{PHONE_CALL_TASK_TYPE}\" in /types/tasks"),
        )
    })?;
    let tz = center_tz(ctx.center);
    let ended = call_times(conv).map_or(ctx.now, |(_, end)| end);
    let task = due_task(ctx.tasks, &task_type.id, ctx.family_id, ended, &tz).ok_or_else(|| {
        Skipped::new(
            TaskNoneDueToday,
            format!(
                "no open \"{PHONE_CALL_TASK_TYPE}\" task due {} ({}) on family {}",
                tz.date(ended),
                tz.name(),
                ctx.family_id
            ),
        )
    })?;
    let result = find_by_label(ctx.task_results, result_name).ok_or_else(|| {
        Skipped::new(
            TaskResultNotFound,
            format!("task result \"{result_name}\" (mapped from \"{mapping_key}\") is not in /types/tasks/results"),
        )
    })?;
    let staff = ctx
        .staff
        .ok_or_else(|| Skipped::new(TaskNoStaff, "no staff resolved to complete the task as"))?;
    Ok(TaskCompletionPlan {
        task_id: task.id.clone(),
        completion: TaskCompletion {
            completed_at: ended,
            completed_by_staff_id: staff.id.clone(),
            result_type_id: result.id.clone(),
            result_description: task_result_description(conv, disposition),
        },
        mapping_key: mapping_key.to_owned(),
        result_label: result.label.clone(),
    })
}

// ---------------------------------------------------------------------------------------------
// Step 2: the CRM event

/// A talk time for people: `"0s"`, `"45s"`, `"4m 52s"`, `"1h 2m 3s"` (rounded to the second).
pub fn human_duration(ms: i64) -> String {
    let total = ms.max(0).saturating_add(500) / 1000;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// The CRM event's description: one fact a line, then the Dialpad Ai recap (when asked for and
/// there is one), its parts labelled.
pub fn event_description(
    conversation: &Conversation,
    link_type: Option<LinkKind>,
    include_recap: bool,
) -> String {
    let mut lines = Vec::new();
    let direction = match conversation.direction {
        Some(Direction::Inbound) => "Inbound",
        Some(Direction::Outbound) => "Outbound",
        None => "Unknown-direction",
    };
    let answered = if conversation.answered {
        ""
    } else {
        " (not answered)"
    };
    lines.push(format!("{direction} Dialpad call{answered}"));
    lines.push(format!(
        "Duration: {}",
        human_duration(duration_ms(conversation).unwrap_or(0))
    ));
    if let Some(d) = disposition_of(conversation) {
        lines.push(format!("Disposition: {d}"));
    }
    if let Some(url) = recording_url(conversation, link_type) {
        lines.push(format!("Recording: {url}"));
    }
    lines.push(format!("{CALL_ID_LINE}{}", conversation.dialpad_call_id));
    if let Some(recap) = recap_text(conversation).filter(|_| include_recap) {
        lines.push(recap);
    }
    lines.join("\n")
}

/// The line of an event description that names the Dialpad call.
const CALL_ID_LINE: &str = "Dialpad call ID: ";

/// Whether an event's description is the one written for the Dialpad call `call_id` (its
/// "Dialpad call ID" line, exactly: `123` is not `1234`).
pub fn describes_call(description: &str, call_id: &str) -> bool {
    description
        .lines()
        .filter_map(|l| l.trim().strip_prefix(CALL_ID_LINE.trim_end()))
        .any(|id| id.trim() == call_id)
}

/// What step 2 needs.
#[derive(Debug, Clone, Copy)]
pub struct EventContext<'a> {
    pub conversation: &'a Conversation,
    pub settings: &'a EventModeSettings,
    pub family_id: &'a str,
    pub center_id: Option<&'a str>,
    /// `/types/tasks/results`.
    pub task_results: &'a [Labeled],
    /// The resolved staff.
    pub staff: Option<&'a Staff>,
    /// The task step 1 completed, if it did.
    pub completed_task_id: Option<&'a str>,
    /// The enablement's Call Log Link Type.
    pub link_type: Option<LinkKind>,
    /// The enablement's `include_recap`.
    pub include_recap: bool,
    /// Used only when the call has no usable time.
    pub now: DateTime<Utc>,
}

/// Step 2: the CRM event to create, or why not.
pub fn plan_event(ctx: &EventContext<'_>) -> Result<NewEvent, Skipped> {
    let staff = ctx.staff.ok_or_else(|| {
        Skipped::new(
            SkipReason::EventNoStaff,
            "no staff resolved from the agent's e-mail or the Default Staff Email",
        )
    })?;
    let event_type =
        find_by_label(ctx.task_results, &ctx.settings.event_type).ok_or_else(|| {
            Skipped::new(
                SkipReason::EventTypeNotFound,
                format!(
                    "event type \"{}\" is not in /types/tasks/results",
                    ctx.settings.event_type
                ),
            )
        })?;
    let started = call_times(ctx.conversation).map_or(ctx.now, |(start, _)| start);
    Ok(NewEvent {
        family_id: ctx.family_id.to_owned(),
        center_id: ctx.center_id.map(str::to_owned),
        staff_id: staff.id.clone(),
        type_id: event_type.id.clone(),
        date_time: started,
        description: event_description(ctx.conversation, ctx.link_type, ctx.include_recap),
        task_id: ctx.completed_task_id.map(str::to_owned),
    })
}

// ---------------------------------------------------------------------------------------------
// Step 3: the status change

/// Step 3's action: set the family's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub status_id: String,
    pub status_label: String,
    /// The Disposition Status Map key that applied, as written (`"Tour Booked (New Lead)"`).
    pub rule_key: String,
    pub conditional: bool,
}

fn rule_key(rule: &StatusRule) -> String {
    match &rule.required_status {
        Some(r) => format!("{} ({r})", rule.disposition),
        None => rule.disposition.clone(),
    }
}

/// The family's current status name: as read, else resolved from its id.
fn current_status<'a>(family: &'a Family, statuses: &'a [Labeled]) -> Option<&'a str> {
    family
        .status_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| {
            let id = family.status_id.as_deref()?.trim();
            statuses
                .iter()
                .find(|s| s.id.trim() == id)
                .map(|s| s.label.as_str())
        })
}

/// True when the family's current status is the named one (by name, or by the id the name
/// resolves to).
fn has_status(family: &Family, statuses: &[Labeled], name: &str) -> bool {
    if current_status(family, statuses).is_some_and(|c| same_label(c, name)) {
        return true;
    }
    match (family.status_id.as_deref(), find_by_label(statuses, name)) {
        (Some(id), Some(s)) => id.trim() == s.id.trim(),
        _ => false,
    }
}

/// Step 3: the status to set, or why not. `disposition` is the call's.
pub fn plan_status_change(
    disposition: Option<&str>,
    rules: &[StatusRule],
    family: &Family,
    statuses: &[Labeled],
) -> Result<StatusChange, Skipped> {
    use SkipReason::*;
    let disposition = disposition
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| Skipped::new(StatusNoDisposition, "the call has no disposition"))?;
    let mut failed: Vec<&StatusRule> = Vec::new();
    let mut chosen: Option<&StatusRule> = None;
    for candidate in disposition_candidates(disposition) {
        let matching: Vec<&StatusRule> = rules
            .iter()
            .filter(|r| same_label(&r.disposition, &candidate))
            .collect();
        let conditional = matching.iter().copied().find(|r| {
            r.required_status
                .as_deref()
                .is_some_and(|req| has_status(family, statuses, req))
        });
        let unconditional = matching
            .iter()
            .copied()
            .find(|r| r.required_status.is_none());
        if let Some(rule) = conditional.or(unconditional) {
            chosen = Some(rule);
            break;
        }
        failed.extend(matching);
    }
    let Some(rule) = chosen else {
        if failed.is_empty() {
            return Err(Skipped::new(
                StatusNotInMap,
                format!("disposition \"{disposition}\" is not in the Disposition Status Map"),
            ));
        }
        let keys: Vec<String> = failed
            .iter()
            .map(|r| format!("\"{}\"", rule_key(r)))
            .collect();
        return Err(Skipped::new(
            StatusConditionFailed,
            format!(
                "the family's current status \"{}\" is not the required status of {}",
                current_status(family, statuses).unwrap_or("(none)"),
                keys.join(", ")
            ),
        ));
    };
    let target = find_by_label(statuses, &rule.status).ok_or_else(|| {
        Skipped::new(
            StatusTargetNotFound,
            format!(
                "target status \"{}\" (from \"{}\") is not in /statuses",
                rule.status,
                rule_key(rule)
            ),
        )
    })?;
    if has_status(family, statuses, &target.label) {
        return Err(Skipped::new(
            StatusUnchanged,
            format!("the family already has status \"{}\"", target.label),
        ));
    }
    Ok(StatusChange {
        status_id: target.id.clone(),
        status_label: target.label.clone(),
        rule_key: rule_key(rule),
        conditional: rule.required_status.is_some(),
    })
}

#[cfg(test)]
mod tests;
