//! The call log of one conversation: Phone Log mode, or Event mode's three independent steps.
//!
//! Each Event-mode step is done at most once per conversation: it runs under its own claim,
//! whose "done" record keeps what it did (or why it was skipped), so a retried job redoes only
//! the steps that failed.

use chrono::{TimeZone, Utc};
use llbridge_domain::config::{CallLogMode, Enablement, EventModeSettings};
use llbridge_domain::crm::{Staff, TypeList};
use llbridge_domain::event_mode::{self, EventContext, SkipReason, Skipped, TaskContext};
use llbridge_domain::phone_log::build_phone_log;
use llbridge_domain::{Conversation, Installation};
use serde_json::{json, Value};

use crate::claim::{self, Claim};
use crate::error::{Error, Result};
use crate::matching::{self, Matched};
use crate::ports::{Clients, Clock, LineLeader, Store};

/// How long a step's claim is held before a retry may take it over.
const STEP_LEASE_SECS: i64 = 120;

/// What became of a call log.
#[derive(Debug, Clone, PartialEq)]
pub enum LogResult {
    /// Written (in Event mode: every step done or skipped).
    Logged { detail: String, outcome: Value },
    /// Not written, and retrying cannot change that.
    Dropped {
        reason: &'static str,
        detail: String,
    },
}

/// Logs one conversation under an enablement.
pub async fn run(
    store: &dyn Store,
    clock: &dyn Clock,
    clients: &dyn Clients,
    inst: &Installation,
    enablement: &Enablement,
    conv: &Conversation,
) -> Result<LogResult> {
    let Some(mode) = &enablement.call_log else {
        return Ok(LogResult::Dropped {
            reason: "call_log_disabled",
            detail: String::new(),
        });
    };
    let ll = clients.lineleader(inst, &enablement.connection).await?;
    let matched =
        match matching::match_or_create(ll.as_ref(), store, clock, conv, enablement).await? {
            Ok(m) => m,
            Err(d) => {
                return Ok(LogResult::Dropped {
                    reason: d.reason,
                    detail: d.detail,
                })
            }
        };
    match mode {
        CallLogMode::PhoneLog => phone_log(ll.as_ref(), conv, &matched, enablement).await,
        CallLogMode::Event(settings) => {
            event_mode(
                store,
                clock,
                ll.as_ref(),
                conv,
                &matched,
                enablement,
                settings,
            )
            .await
        }
    }
}

async fn phone_log(
    ll: &dyn LineLeader,
    conv: &Conversation,
    matched: &Matched,
    enablement: &Enablement,
) -> Result<LogResult> {
    let center_id = matched.center.as_ref().map(|c| c.id.as_str());
    let log = match build_phone_log(
        conv,
        &matched.family_id,
        center_id,
        enablement.call_log_link_type,
    ) {
        Ok(log) => log,
        Err(e) => {
            return Ok(LogResult::Dropped {
                reason: e.code(),
                detail: e.to_string(),
            })
        }
    };
    let id = ll.create_phone_log(&log).await?;
    Ok(LogResult::Logged {
        detail: format!(
            "phone log {id} on family {} (family {}, center {}), disposition \"{}\"",
            matched.family_id, matched.rule, matched.center_rule, log.disposition
        ),
        outcome: json!({"phone_log_id": id, "family_id": matched.family_id}),
    })
}

/// One Event-mode step's result.
enum Step {
    Done(Value),
    Skipped(Skipped),
}

fn step_line(
    conv: &Conversation,
    family_id: &str,
    step: &str,
    decision: &str,
    reason: &str,
    detail: &str,
) {
    tracing::info!(
        job = "call_log",
        step,
        decision,
        reason,
        conversation = %conv.key,
        dialpad_call_id = %conv.dialpad_call_id,
        family_id,
        detail,
        "worker decision"
    );
}

/// Runs `work` once per conversation under the claim `step#<conversation>#<name>`.
async fn once<F, Fut>(
    store: &dyn Store,
    clock: &dyn Clock,
    conv: &Conversation,
    family_id: &str,
    name: &'static str,
    work: F,
) -> Result<Value>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Step>>,
{
    let key = format!("step#{}#{name}", conv.key);
    let held = match claim::acquire(store, clock, &key, STEP_LEASE_SECS).await? {
        Claim::Acquired(h) => h,
        Claim::Done(outcome) => {
            step_line(
                conv,
                family_id,
                name,
                "already_done",
                "",
                &outcome.to_string(),
            );
            return Ok(outcome);
        }
        Claim::Busy => {
            return Err(Error::transient(
                "store",
                format!("step {name} is being done by another job"),
            ))
        }
    };
    match work().await {
        Ok(Step::Done(outcome)) => {
            claim::complete(store, clock, &held, outcome.clone()).await?;
            step_line(conv, family_id, name, "done", "", &outcome.to_string());
            Ok(outcome)
        }
        Ok(Step::Skipped(s)) => {
            let outcome = json!({"skipped": s.code(), "detail": s.detail});
            claim::complete(store, clock, &held, outcome.clone()).await?;
            step_line(conv, family_id, name, "skipped", s.code(), &s.detail);
            Ok(outcome)
        }
        Err(e) => {
            claim::release(store, &held).await?;
            step_line(
                conv,
                family_id,
                name,
                "failed",
                if e.is_transient() {
                    "transient_failure"
                } else {
                    "permanent_failure"
                },
                &e.to_string(),
            );
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn event_mode(
    store: &dyn Store,
    clock: &dyn Clock,
    ll: &dyn LineLeader,
    conv: &Conversation,
    matched: &Matched,
    enablement: &Enablement,
    settings: &EventModeSettings,
) -> Result<LogResult> {
    let family_id = matched.family_id.as_str();
    let now = Utc
        .timestamp_millis_opt(clock.now_ms())
        .single()
        .unwrap_or_else(Utc::now);

    // Staff is read once for steps 1 and 2; its failure fails both, not step 3.
    let staff: Result<Vec<Staff>> = ll.staff().await;
    let resolve = |staff: &Vec<Staff>| -> std::result::Result<Staff, Skipped> {
        event_mode::resolve_staff(conv.agent.as_ref(), staff, &settings.default_staff_email)
            .map(|m| m.staff.clone())
    };

    // Step 1: complete the due "Phone Call" task.
    let task = once(store, clock, conv, family_id, "task", || async {
        let staff = staff.as_ref().map_err(Clone::clone)?;
        let resolved = resolve(staff).ok();
        let task_types = ll.types(TypeList::Task).await?;
        let task_results = ll.types(TypeList::TaskResult).await?;
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
            Err(s) if s.reason != SkipReason::TaskNoneDueToday => return Ok(Step::Skipped(s)),
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
        let plan = match event_mode::plan_task_completion(&ctx) {
            Ok(p) => p,
            Err(s) => return Ok(Step::Skipped(s)),
        };
        let Some(task) = tasks.iter().find(|t| t.id == plan.task_id) else {
            return Err(Error::permanent(
                "lineleader",
                "the planned task is not in the task list",
            ));
        };
        ll.complete_task(task, &plan.completion).await?;
        Ok(Step::Done(
            json!({"task_id": plan.task_id, "result": plan.result_label}),
        ))
    })
    .await;
    let completed_task_id = task
        .as_ref()
        .ok()
        .and_then(|o| o.get("task_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);

    // Step 2: the CRM event.
    let event = once(store, clock, conv, family_id, "event", || async {
        let staff = staff.as_ref().map_err(Clone::clone)?;
        let resolved = match resolve(staff) {
            Ok(s) => s,
            Err(s) => return Ok(Step::Skipped(s)),
        };
        let task_results = ll.types(TypeList::TaskResult).await?;
        let ctx = EventContext {
            conversation: conv,
            settings,
            family_id,
            center_id: matched.center.as_ref().map(|c| c.id.as_str()),
            task_results: &task_results,
            staff: Some(&resolved),
            completed_task_id: completed_task_id.as_deref(),
            link_type: enablement.call_log_link_type,
            now,
        };
        let new = match event_mode::plan_event(&ctx) {
            Ok(e) => e,
            Err(s) => return Ok(Step::Skipped(s)),
        };
        let id = ll.create_event(&new).await?;
        Ok(Step::Done(
            json!({"event_id": id, "staff_id": resolved.id, "task_id": completed_task_id}),
        ))
    })
    .await;

    // Step 3: the disposition-driven status change.
    let status = once(store, clock, conv, family_id, "status", || async {
        let Some(family) = ll.family(family_id).await? else {
            return Err(Error::permanent(
                "lineleader",
                format!("family {family_id} not found"),
            ));
        };
        let statuses = ll.statuses().await?;
        let change = match event_mode::plan_status_change(
            conv.disposition(),
            &settings.disposition_status_map,
            &family,
            &statuses,
        ) {
            Ok(c) => c,
            Err(s) => return Ok(Step::Skipped(s)),
        };
        ll.set_family_status(family_id, &change.status_id).await?;
        Ok(Step::Done(
            json!({"status": change.status_label, "rule": change.rule_key}),
        ))
    })
    .await;

    let failed: Vec<String> = [("task", &task), ("event", &event), ("status", &status)]
        .iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect();
    if !failed.is_empty() {
        // The done steps are recorded; the retry redoes only the failed ones.
        return Err(Error::transient(
            "lineleader",
            format!("event-mode step(s) failed: {}", failed.join("; ")),
        ));
    }
    let outcome = json!({
        "family_id": family_id,
        "task": task.unwrap_or_default(),
        "event": event.unwrap_or_default(),
        "status": status.unwrap_or_default(),
    });
    Ok(LogResult::Logged {
        detail: format!(
            "event mode on family {family_id} ({}, center {}): {outcome}",
            matched.rule, matched.center_rule
        ),
        outcome,
    })
}
