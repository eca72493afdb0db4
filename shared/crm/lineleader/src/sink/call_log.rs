//! The call log of one conversation: Phone Log mode, or Event mode's three independent steps.
//!
//! Every write is an [`Effects::run`] effect under its own claim `step#<conversation>#<name>`:
//! recorded as an intent before the request, looked up in LineLeader before it is written
//! again (phone log: P2 by the Dialpad call id; event: E2 and the call id in its description;
//! task: the task chosen the first time, read back; status: the family read back), and
//! recorded with LineLeader's id when done. A retried job redoes only what is not recorded.

use crate::config::{CallLogMode, EventModeSettings, LineLeaderSettings};
use crate::rules::event_mode::{self, EventContext, SkipReason, Skipped, TaskContext};
use crate::rules::phone_log::build_phone_log;
use crate::rules::records::{NewEvent, PhoneLog, Staff, Task, TaskCompletion, TypeList};
use chrono::{DateTime, TimeZone, Utc};
use llbridge_domain::Conversation;
use serde_json::{json, Value};

use llbridge_usecases::crm::{Cx, LogResult, Logged};
use llbridge_usecases::effect::{Found, How, Plan, Ran};
use llbridge_usecases::{Error, Result};

use super::matching;
use super::steps::{from_intent, intent_of, unresolved, StaffCache, Steps};
use crate::api::{LineLeader, TaskWrite};

/// While the task step keeps failing on its first deliveries, the event waits for it (the
/// retry is coming anyway), so that it links the completed task; from this delivery on it is
/// created without the link (a failing step never stops the others for long).
pub const EVENT_WAITS_FOR_TASK_DELIVERIES: u32 = 3;

/// Logs one conversation: the family, then Phone Log mode or Event mode. `anchor` is the
/// conversation's stable key.
pub async fn run(
    ll: &dyn LineLeader,
    cx: &Cx<'_>,
    settings: &LineLeaderSettings,
    anchor: &str,
) -> Result<Logged> {
    let Some(mode) = &settings.call_log else {
        return Ok(Logged {
            result: LogResult::Dropped {
                reason: "call_log_disabled",
                detail: String::new(),
            },
            contact: None,
        });
    };
    let pinned = matching::pinned(ll, cx.fx, anchor).await?;
    let found = match pinned {
        Some(m) => Ok(m),
        None => match matching::match_or_create(ll, cx.fx, cx.conv, settings).await? {
            Ok(m) => Ok(matching::pin(ll, cx.fx, anchor, m).await?),
            Err(d) => Err(d),
        },
    };
    let matched = match found {
        Ok(m) => m,
        Err(d) => {
            let contact = d.to_json();
            let detail = match &settings.follow_up_tasks {
                Some(f) => super::follow_up::not_created(cx.conv, f, cx.fx, &d.detail),
                None => d.detail,
            };
            return Ok(Logged {
                result: LogResult::Dropped {
                    reason: d.reason,
                    detail,
                },
                contact: Some(contact),
            });
        }
    };
    let steps = Steps {
        fx: cx.fx,
        ll,
        conv: cx.conv,
        matched: &matched,
        enablement: cx.enablement,
        unknown_outcome: settings.unknown_outcome,
        anchor,
    };
    let result = match mode {
        CallLogMode::PhoneLog => steps.phone_log().await,
        CallLogMode::Event(settings) => steps.event_mode(settings).await,
    }?;
    let result = match &settings.follow_up_tasks {
        Some(f) => steps.with_follow_ups(result, f).await?,
        None => result,
    };
    Ok(Logged {
        result,
        contact: Some(matched.to_json()),
    })
}

impl Steps<'_> {
    async fn phone_log(&self) -> Result<LogResult> {
        let (conv, matched) = (self.conv, self.matched);
        let center_id = matched.center.as_ref().map(|c| c.id.as_str());
        let log = match build_phone_log(
            conv,
            &matched.family_id,
            center_id,
            self.enablement.call_log_link_type,
        ) {
            Ok(log) => log,
            Err(e) => {
                return Ok(LogResult::Dropped {
                    reason: e.code(),
                    detail: e.to_string(),
                })
            }
        };
        let ll = self.ll;
        let ran = self
            .fx
            .step(self.anchor, "phone_log")
            .when_unknown(self.unknown_outcome)
            .run(
                || async { Ok(Plan::Write(intent_of("phone log", &log)?)) },
                |intent| async move {
                    let log: PhoneLog = from_intent("phone log", intent)?;
                    let found = ll
                        .phone_logs_for_call(&log.external_call_id, &log.family_id)
                        .await?;
                    Ok(found.find(
                        |_| true,
                        |p| json!({"phone_log_id": p.id, "family_id": log.family_id}),
                    ))
                },
                |intent| async move {
                    let log: PhoneLog = from_intent("phone log", intent)?;
                    let id = ll.create_phone_log(&log).await?;
                    Ok(json!({"phone_log_id": id, "family_id": log.family_id}))
                },
            )
            .await;
        self.report("phone_log", &ran);
        let ran = ran?;
        let outcome = ran.outcome.clone();
        if let Some(reason) = unresolved(&ran) {
            return Ok(LogResult::Unresolved {
                reason,
                detail: format!("phone log on family {}: {outcome}", matched.family_id),
                outcome,
            });
        }
        let id = outcome
            .get("phone_log_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Ok(LogResult::Logged {
            detail: format!(
                "phone log {id} on family {} (family {}, center {}), disposition \"{}\"{}",
                matched.family_id,
                matched.rule,
                matched.center_rule,
                log.disposition,
                match ran.first_how() {
                    How::FoundOnLookup => ", found after a lost answer",
                    How::PossibleDuplicate => ", written again: possible duplicate",
                    _ => "",
                }
            ),
            outcome,
        })
    }

    async fn event_mode(&self, settings: &EventModeSettings) -> Result<LogResult> {
        let (matched, ll) = (self.matched, self.ll);
        let family_id = matched.family_id.as_str();
        let now = Utc
            .timestamp_millis_opt(self.fx.clock.now_ms())
            .single()
            .unwrap_or_else(Utc::now);

        // Staff is read once for steps 1 and 2, and only when one of them plans.
        let staff = StaffCache::new(ll);
        // The task step's choice as K1 listed it, for a PUT without reading it again.
        let listed: std::sync::Mutex<Option<Task>> = std::sync::Mutex::new(None);

        // Steps 1 and 2 (the event links the completed task) run beside step 3.
        let task_then_event = async {
            let task = self.task_step("task", settings, now, &staff, &listed).await;
            self.report("task", &task);
            let completed_task_id = task
                .as_ref()
                .ok()
                .filter(|r| !matches!(r.first_how(), How::Rejected | How::Skipped))
                .and_then(|r| r.outcome.get("task_id"))
                .and_then(Value::as_str)
                .map(str::to_owned);

            // Step 2: the CRM event, once the task step is settled (it links the task).
            let wait_for_task = matches!(&task, Err(e) if e.is_transient())
                && self.fx.delivery < EVENT_WAITS_FOR_TASK_DELIVERIES;
            let event = if wait_for_task {
                Err(Error::transient(
                    "worker",
                    "the event waits for the task step (retried with this job), to link its task",
                )
                .with_code("waiting_for_task_step"))
            } else {
                self.event_step(settings, now, &staff, completed_task_id.as_deref())
                    .await
            };
            self.report("event", &event);

            (task, event)
        };

        let status_step = async {
            let status = self.status_step("status", settings).await;
            self.report("status", &status);
            status
        };
        let ((task, event), status) = tokio::join!(task_then_event, status_step);

        let steps = [("task", &task), ("event", &event), ("status", &status)];
        let failed: Vec<String> = steps
            .iter()
            .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
            .collect();
        if !failed.is_empty() {
            // The settled steps are recorded; the retry redoes only the others.
            return Err(Error::transient(
                "lineleader",
                format!("event-mode step(s) not done: {}", failed.join("; ")),
            )
            .with_code(
                steps
                    .iter()
                    .find_map(|(_, r)| r.as_ref().err().map(Error::reason))
                    .unwrap_or("transient_failure"),
            )
            .with_retry_after(
                steps
                    .iter()
                    .filter_map(|(_, r)| r.as_ref().err().and_then(|e| e.retry_after))
                    .max(),
            ));
        }
        let outcome_of =
            |r: &Result<Ran>| r.as_ref().map(|r| r.outcome.clone()).unwrap_or_default();
        let outcome = json!({
            "family_id": family_id,
            "task": outcome_of(&task),
            "event": outcome_of(&event),
            "status": outcome_of(&status),
        });
        let unresolved_step = steps
            .iter()
            .find_map(|(name, r)| r.as_ref().ok().and_then(unresolved).map(|why| (name, why)));
        if let Some((name, reason)) = unresolved_step {
            return Ok(LogResult::Unresolved {
                reason,
                detail: format!("event mode on family {family_id}: step {name}: {outcome}"),
                outcome,
            });
        }
        Ok(LogResult::Logged {
            detail: format!(
                "event mode on family {family_id} ({}, center {}): {outcome}",
                matched.rule, matched.center_rule
            ),
            outcome,
        })
    }

    /// Step 2: the CRM event. Its description carries the Dialpad call id, which is how an
    /// earlier attempt's event is found (E2).
    async fn event_step(
        &self,
        settings: &EventModeSettings,
        now: DateTime<Utc>,
        staff: &StaffCache<'_>,
        completed_task_id: Option<&str>,
    ) -> Result<Ran> {
        let (conv, matched, ll) = (self.conv, self.matched, self.ll);
        let family_id = matched.family_id.as_str();
        let call_id = conv.dialpad_call_id.clone();
        self.fx
            .step(self.anchor, "event")
            .when_unknown(self.unknown_outcome)
            .run(
                || async {
                    let staff = staff.get().await?;
                    let resolved = match resolve_staff(conv, &staff, settings) {
                        Ok(s) => s,
                        Err(s) => return Ok(Plan::Skip(skipped(&s))),
                    };
                    let task_results = ll.types(TypeList::TaskResult).await?;
                    let ctx = EventContext {
                        conversation: conv,
                        settings,
                        family_id,
                        center_id: matched.center.as_ref().map(|c| c.id.as_str()),
                        task_results: &task_results,
                        staff: Some(&resolved),
                        completed_task_id,
                        link_type: self.enablement.call_log_link_type,
                        include_recap: self.enablement.include_recap,
                        now,
                    };
                    Ok(match event_mode::plan_event(&ctx) {
                        Ok(e) => Plan::Write(intent_of("event", &e)?),
                        Err(s) => Plan::Skip(skipped(&s)),
                    })
                },
                |intent| {
                    let call_id = call_id.clone();
                    async move {
                        let new: NewEvent = from_intent("event", intent)?;
                        let events = ll.family_events(&new.family_id).await?;
                        Ok(events.find(
                            |e| event_mode::describes_call(&e.description, &call_id),
                            |e| {
                                json!({
                                    "event_id": e.id,
                                    "staff_id": new.staff_id,
                                    "task_id": new.task_id,
                                })
                            },
                        ))
                    }
                },
                |intent| async move {
                    let new: NewEvent = from_intent("event", intent)?;
                    let id = ll.create_event(&new).await?;
                    Ok(json!({"event_id": id, "staff_id": new.staff_id, "task_id": new.task_id}))
                },
            )
            .await
    }

    /// Step 1: complete the due "Phone Call" task. The task is chosen once, and the intent
    /// keeps it: a retry completes that task or finds it completed, never the next one.
    pub(super) async fn task_step(
        &self,
        name: &str,
        settings: &EventModeSettings,
        now: DateTime<Utc>,
        staff: &StaffCache<'_>,
        listed: &std::sync::Mutex<Option<Task>>,
    ) -> Result<Ran> {
        let (conv, matched, ll) = (self.conv, self.matched, self.ll);
        let family_id = matched.family_id.as_str();
        self.fx
            .step(self.anchor, name)
            .when_unknown(self.unknown_outcome)
            .run(
                || async {
                    // Independent reads, together (each is cached once read).
                    let (staff, task_types, task_results) = tokio::try_join!(
                        staff.get(),
                        ll.types(TypeList::Task),
                        ll.types(TypeList::TaskResult)
                    )?;
                    let resolved = resolve_staff(conv, &staff, settings).ok();
                    let mut ctx = TaskContext {
                        conversation: conv,
                        settings,
                        family_id,
                        center: matched.center.as_ref(),
                        task_types: &task_types,
                        task_results: &task_results,
                        tasks: &[],
                        staff: resolved.as_ref(),
                        now,
                    };
                    // Read the family's tasks only when every other condition holds.
                    let tasks;
                    match event_mode::plan_task_completion(&ctx) {
                        Err(s) if s.reason != SkipReason::TaskNoneDueToday => {
                            return Ok(skip_or_later(&s))
                        }
                        _ => {
                            let type_id = llbridge_domain::labels::find_by_label(
                                &task_types,
                                event_mode::PHONE_CALL_TASK_TYPE,
                            )
                            .map(|t| t.id.clone())
                            .unwrap_or_default();
                            tasks = ll.open_tasks(family_id, &type_id).await?;
                            ctx.tasks = &tasks;
                        }
                    }
                    Ok(match event_mode::plan_task_completion(&ctx) {
                        Ok(p) => {
                            if let Ok(mut cell) = listed.lock() {
                                *cell = tasks.iter().find(|t| t.id == p.task_id).cloned();
                            }
                            Plan::Write(json!({
                                "task_id": p.task_id,
                                "result": p.result_label,
                                "completion": intent_of("task", &p.completion)?,
                            }))
                        }
                        Err(s) => skip_or_later(&s),
                    })
                },
                // The write reads the task first (unless this attempt just listed it): a
                // completed one is the earlier attempt's.
                |_| async { Ok(Found::No) },
                |intent| async move {
                    let task_id = intent["task_id"].as_str().unwrap_or_default().to_owned();
                    let completion: TaskCompletion =
                        from_intent("task", intent["completion"].clone())?;
                    let just_listed = listed.lock().ok().and_then(|mut c| c.take());
                    let wrote = match just_listed.filter(|t| t.id == task_id) {
                        Some(task) => ll.complete_read_task(&task, &completion).await?,
                        None => ll.complete_task(&task_id, &completion).await?,
                    };
                    Ok(json!({
                        "task_id": task_id,
                        "result": intent["result"],
                        "found_completed": wrote == TaskWrite::AlreadyCompleted,
                    }))
                },
            )
            .await
    }

    /// Step 3: the disposition-driven status change. The target is kept in the intent; a
    /// retry reads the family and changes it only when it is not there yet.
    pub(super) async fn status_step(
        &self,
        name: &str,
        settings: &EventModeSettings,
    ) -> Result<Ran> {
        let (conv, matched, ll) = (self.conv, self.matched, self.ll);
        let family_id = matched.family_id.as_str();
        self.fx
            .step(self.anchor, name)
            .when_unknown(self.unknown_outcome)
            .run(
                || async {
                    // The family as this job's search read it (when the search gave its
                    // status), else as it is now.
                    let family = match &matched.read {
                        Some(read) if read.status_id.is_some() => Some(read.clone()),
                        _ => ll.family(family_id).await?,
                    };
                    let Some(family) = family else {
                        return Err(Error::permanent(
                            "lineleader",
                            format!("family {family_id} not found"),
                        )
                        .with_code("lineleader_rejected"));
                    };
                    let statuses = ll.statuses().await?;
                    Ok(
                        match event_mode::plan_status_change(
                            conv.disposition(),
                            &settings.disposition_status_map,
                            &family,
                            &statuses,
                        ) {
                            Ok(c) => Plan::Write(json!({
                                "family_id": family_id,
                                "status_id": c.status_id,
                                "status": c.status_label,
                                "rule": c.rule_key,
                            })),
                            Err(s) => skip_or_later(&s),
                        },
                    )
                },
                |intent| async move {
                    let family_id = intent["family_id"].as_str().unwrap_or_default();
                    let target = intent["status_id"].as_str().unwrap_or_default();
                    let Some(family) = ll.family(family_id).await? else {
                        return Ok(Found::No);
                    };
                    if family.status_id.as_deref() == Some(target) {
                        return Ok(Found::Yes(json!({
                            "status": intent["status"], "rule": intent["rule"]
                        })));
                    }
                    // Not changed: the family may have moved meanwhile; the rule's condition
                    // (`Disposition (Required Status)`) is checked again before writing.
                    let statuses = ll.statuses().await?;
                    Ok(
                        match event_mode::plan_status_change(
                            conv.disposition(),
                            &settings.disposition_status_map,
                            &family,
                            &statuses,
                        ) {
                            Ok(_) => Found::No,
                            Err(s) => Found::Moot(skipped(&s)),
                        },
                    )
                },
                |intent| async move {
                    let family_id = intent["family_id"].as_str().unwrap_or_default();
                    let target = intent["status_id"].as_str().unwrap_or_default();
                    ll.set_family_status(family_id, target).await?;
                    Ok(json!({"status": intent["status"], "rule": intent["rule"]}))
                },
            )
            .await
    }
}

/// The agent's staff record, else the default staff's.
fn resolve_staff(
    conv: &Conversation,
    staff: &[Staff],
    settings: &EventModeSettings,
) -> std::result::Result<Staff, Skipped> {
    event_mode::resolve_staff(conv.agent.as_ref(), staff, &settings.default_staff_email)
        .map(|m| m.staff.clone())
}

fn skipped(s: &Skipped) -> Value {
    json!({"skipped": s.code(), "detail": s.detail})
}

/// A step skipped for want of a disposition is not done: the disposition may still come, and
/// whichever attempt (a retry, or the late path) first has it runs the step, once.
fn skip_or_later(s: &Skipped) -> Plan {
    match s.reason {
        SkipReason::TaskNoDisposition | SkipReason::StatusNoDisposition => Plan::Later(skipped(s)),
        _ => Plan::Skip(skipped(s)),
    }
}
