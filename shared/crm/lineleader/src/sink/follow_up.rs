//! Follow-up tasks (`follow_up_tasks`): after the call log's own steps, one LineLeader task
//! (K3) per follow-up the domain plans (a callback for a missed call or a voicemail, one per
//! Dialpad Ai action item), each an effect under its own claim
//! `step#<conversation>#follow_up#<key>`. A creation whose answer was lost is looked up among
//! the family's tasks (K1) by the follow-up's marker line before it is written again.

use crate::config::{AssignTo, FollowUpSettings};
use crate::rules::event_mode;
use crate::rules::follow_up::{self, FollowUp};
use crate::rules::records::{NewTask, TypeList};
use chrono::{DateTime, TimeZone, Utc};
use llbridge_domain::labels::find_by_label;
use llbridge_domain::Conversation;
use serde_json::{json, Value};

use llbridge_usecases::crm::LogResult;
use llbridge_usecases::effect::{Effects, How, Plan, Ran};
use llbridge_usecases::{Error, Result};

use super::steps::{from_intent, intent_of, unresolved, StaffCache, Steps};
use crate::api::Lookup;

pub use crate::rules::follow_up::{SKIP_CODES, TASK_TYPE_MISSING};

fn now_of(fx: &Effects<'_>) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(fx.clock.now_ms())
        .single()
        .unwrap_or_else(Utc::now)
}

/// The detail of a call log dropped before its family was known, saying which follow-ups
/// were not created.
pub fn not_created(
    conv: &Conversation,
    settings: &FollowUpSettings,
    fx: &Effects<'_>,
    detail: &str,
) -> String {
    let planned = follow_up::plan(conv, settings, now_of(fx));
    if planned.is_empty() {
        return detail.to_owned();
    }
    let kinds: Vec<&str> = planned.iter().map(|f| f.kind.as_str()).collect();
    format!(
        "{detail}; no follow-up task created ({}): no family to put it on",
        kinds.join(", ")
    )
}

/// What the follow-ups of one call came to.
pub struct FollowUps {
    pub outcome: Value,
    /// Tasks created now or by an earlier attempt.
    pub created: usize,
    /// Of those, the ones this job created (or found after a lost answer).
    pub fresh: usize,
    /// Why one needs an admin, if one does.
    pub unresolved: Option<&'static str>,
}

impl Steps<'_> {
    /// The call log's result with its follow-ups: their outcomes in `outcome.follow_ups`,
    /// their count in the detail. A follow-up that could not be settled fails the job (the
    /// log's own steps are recorded: the retry redoes only what is missing).
    pub(super) async fn with_follow_ups(
        &self,
        result: LogResult,
        settings: &FollowUpSettings,
    ) -> Result<LogResult> {
        let staff = StaffCache::new(self.ll);
        let planned = follow_up::plan(self.conv, settings, now_of(self.fx));
        if planned.is_empty() {
            return Ok(result);
        }
        let done = self.follow_ups(&planned, settings, &staff).await?;
        let note = format!("; {} follow-up task(s)", done.created);
        Ok(match result {
            LogResult::Logged {
                detail,
                mut outcome,
            } => {
                outcome["follow_ups"] = done.outcome;
                match done.unresolved {
                    Some(reason) => LogResult::Unresolved {
                        reason,
                        detail: format!("{detail}; a follow-up task needs review"),
                        outcome,
                    },
                    None => LogResult::Logged {
                        detail: format!("{detail}{note}"),
                        outcome,
                    },
                }
            }
            LogResult::Unresolved {
                reason,
                detail,
                mut outcome,
            } => {
                outcome["follow_ups"] = done.outcome;
                LogResult::Unresolved {
                    reason,
                    detail: format!("{detail}{note}"),
                    outcome,
                }
            }
            LogResult::Dropped { reason, detail } => LogResult::Dropped {
                reason,
                detail: format!("{detail}{note}"),
            },
        })
    }

    /// Creates each planned follow-up once. Every one is tried; the first failure is returned
    /// after all have run.
    pub(super) async fn follow_ups(
        &self,
        planned: &[FollowUp],
        settings: &FollowUpSettings,
        staff: &StaffCache<'_>,
    ) -> Result<FollowUps> {
        let mut outcomes = Vec::with_capacity(planned.len());
        let mut failures = Vec::new();
        let mut created = 0;
        let mut fresh = 0;
        let mut needs_admin = None;
        for fu in planned {
            let name = format!("follow_up#{}", fu.key);
            let ran = self.follow_up(fu, settings, staff).await;
            self.report(&name, &ran);
            match ran {
                Ok(ran) => {
                    if !matches!(
                        ran.first_how(),
                        How::Skipped | How::Rejected | How::NeedsReview
                    ) {
                        created += 1;
                    }
                    if matches!(
                        ran.how,
                        How::Written | How::FoundOnLookup | How::PossibleDuplicate
                    ) {
                        fresh += 1;
                    }
                    needs_admin = needs_admin.or(unresolved(&ran));
                    let mut o = ran.outcome.clone();
                    o["key"] = json!(fu.key);
                    o["kind"] = json!(fu.kind.as_str());
                    outcomes.push(o);
                }
                Err(e) => failures.push((fu.key.clone(), e)),
            }
        }
        if let Some((_, first)) = failures.first() {
            let listed: Vec<String> = failures.iter().map(|(k, e)| format!("{k}: {e}")).collect();
            return Err(Error::transient(
                "lineleader",
                format!("follow-up task(s) not created: {}", listed.join("; ")),
            )
            .with_code(first.reason())
            .with_retry_after(failures.iter().filter_map(|(_, e)| e.retry_after).max()));
        }
        Ok(FollowUps {
            outcome: Value::Array(outcomes),
            created,
            fresh,
            unresolved: needs_admin,
        })
    }

    /// One follow-up task, once.
    async fn follow_up(
        &self,
        fu: &FollowUp,
        settings: &FollowUpSettings,
        staff: &StaffCache<'_>,
    ) -> Result<Ran> {
        let ll = self.ll;
        let family_id = self.matched.family_id.as_str();
        let call_id = self.conv.dialpad_call_id.as_str();
        self.fx
            .step(self.anchor, &format!("follow_up#{}", fu.key))
            .when_unknown(self.unknown_outcome)
            .run(
                || async {
                    let types = ll.types(TypeList::Task).await?;
                    let Some(task_type) = find_by_label(&types, &settings.task_type) else {
                        return Ok(Plan::Skip(json!({
                            "skipped": TASK_TYPE_MISSING,
                            "detail": format!("LineLeader has no task type \"{}\"", settings.task_type),
                        })));
                    };
                    let assignee = self.assignee(settings, staff).await?;
                    let new = NewTask {
                        family_id: family_id.to_owned(),
                        type_id: task_type.id.clone(),
                        due: fu.due,
                        description: fu.description.clone(),
                        assigned_to_staff_id: assignee,
                    };
                    Ok(Plan::Write(intent_of("follow-up task", &new)?))
                },
                |intent| async move {
                    let new: NewTask = from_intent("follow-up task", intent)?;
                    let description = |t: &crate::rules::records::Task| {
                        t.raw.get("description").and_then(Value::as_str).map(str::to_owned)
                    };
                    let tasks = match ll.family_tasks(&new.family_id).await? {
                        // A task list without descriptions cannot show the follow-up.
                        Lookup::Answered(tasks)
                            if !tasks.is_empty() && tasks.iter().all(|t| description(t).is_none()) =>
                        {
                            Lookup::Unfiltered(
                                tasks,
                                "the task list (K1) gives no task descriptions".to_owned(),
                            )
                        }
                        other => other,
                    };
                    Ok(tasks.find(
                        |t| description(t).is_some_and(|d| follow_up::describes(&d, call_id, &fu.key)),
                        |t| {
                            json!({
                                "task_id": t.id,
                                "due": new.due,
                                "assigned_to": new.assigned_to_staff_id,
                            })
                        },
                    ))
                },
                |intent| async move {
                    let new: NewTask = from_intent("follow-up task", intent)?;
                    let id = ll.create_task(&new).await?;
                    Ok(json!({
                        "task_id": id,
                        "due": new.due,
                        "assigned_to": new.assigned_to_staff_id,
                    }))
                },
            )
            .await
    }

    /// The staff a follow-up task goes to: the agent's record (with `assign_to: agent`), else
    /// the default staff's; `None`: unassigned.
    async fn assignee(
        &self,
        settings: &FollowUpSettings,
        staff: &StaffCache<'_>,
    ) -> Result<Option<String>> {
        let agent = match settings.assign_to {
            AssignTo::Agent => self.conv.agent.as_ref(),
            AssignTo::DefaultStaff => None,
        };
        let default_email = settings.default_staff_email.as_deref().unwrap_or("");
        if agent.and_then(|a| a.email.as_deref()).is_none() && default_email.is_empty() {
            return Ok(None);
        }
        let staff = staff.get().await?;
        Ok(event_mode::resolve_staff(agent, &staff, default_email)
            .ok()
            .map(|m| m.staff.id.clone()))
    }
}
