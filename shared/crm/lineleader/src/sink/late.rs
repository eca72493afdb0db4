//! Details that came after the call was logged, still acted on once:
//!
//! * a late disposition, in Event mode: the task and status steps that were skipped for want
//!   of a disposition when the call was logged run again, with the same rules and reason codes, under their own claims
//!   (`late_task`, `late_status`): `late_disposition_applied`;
//! * late action items or a late voicemail, with `follow_up_tasks`: the follow-ups not
//!   created yet are (the claims are the log's own, so none is created twice):
//!   `late_follow_ups_created`.

use crate::config::{CallLogMode, LineLeaderSettings};
use crate::rules::event_mode::SkipReason;
use crate::rules::follow_up;
use chrono::{TimeZone, Utc};
use llbridge_domain::CallState;
use serde_json::{json, Value};

use llbridge_usecases::crm::{Cx, LateDetail, LateLog};
use llbridge_usecases::effect::Ran;
use llbridge_usecases::{Error, Result};

use super::matching::Matched;
use super::steps::{StaffCache, Steps};
use crate::api::LineLeader;

/// A late disposition ran the skipped Event-mode steps.
pub const LATE_DISPOSITION_APPLIED: &str = "late_disposition_applied";
/// Late details created follow-up tasks.
pub const LATE_FOLLOW_UPS_CREATED: &str = "late_follow_ups_created";

/// Whether the log recorded this step as skipped for want of a disposition (`code`).
fn was_skipped(effects: &Value, step: &str, code: SkipReason) -> bool {
    effects
        .get(step)
        .and_then(|s| s.get("skipped"))
        .and_then(Value::as_str)
        == Some(code.code())
}

/// What a late detail still does, once; `None`: nothing.
pub async fn run(
    ll: &dyn LineLeader,
    cx: &Cx<'_>,
    settings: &LineLeaderSettings,
    anchor: &str,
    late: &LateDetail<'_>,
) -> Result<Option<LateLog>> {
    let Some(family_id) = late.family.get("id").and_then(Value::as_str) else {
        return Ok(None);
    };
    let event_mode = match &settings.call_log {
        Some(CallLogMode::Event(e)) => Some(e),
        _ => None,
    };
    let disposition = late.state == CallState::Dispositions && cx.conv.disposition().is_some();
    let (redo_task, redo_status) = match event_mode {
        Some(_) if disposition => (
            was_skipped(late.effects, "task", SkipReason::TaskNoDisposition),
            was_skipped(late.effects, "status", SkipReason::StatusNoDisposition),
        ),
        _ => (false, false),
    };
    let now = Utc
        .timestamp_millis_opt(cx.fx.clock.now_ms())
        .single()
        .unwrap_or_else(Utc::now);
    let follow_ups = match &settings.follow_up_tasks {
        Some(f)
            if matches!(
                late.state,
                CallState::RecapActionItems | CallState::VoicemailUploaded | CallState::Voicemail
            ) =>
        {
            Some((f, follow_up::plan(cx.conv, f, now)))
        }
        _ => None,
    }
    .filter(|(_, planned)| !planned.is_empty());
    if !redo_task && !redo_status && follow_ups.is_none() {
        return Ok(None);
    }

    // The family the log was written on, and its center.
    let center_id = late.family.get("center_id").and_then(Value::as_str);
    let center = match center_id {
        Some(id) => ll.centers().await?.into_iter().find(|c| c.id == id),
        None => None,
    };
    let matched = Matched {
        family_id: family_id.to_owned(),
        center,
        rule: "logged",
        center_rule: "logged",
        read: None,
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
    let staff = StaffCache::new(ll);
    let mut outcome = json!({"family_id": family_id});
    let mut said = Vec::new();
    let mut reason = LATE_FOLLOW_UPS_CREATED;
    if let Some(settings) = event_mode.filter(|_| redo_task || redo_status) {
        reason = LATE_DISPOSITION_APPLIED;
        let listed = std::sync::Mutex::new(None);
        // The log's own claims: a step skipped for want of a disposition stayed open, and
        // whichever comes first with the disposition (a retry of the log, or this) runs it.
        let task_claim = claim_of(cx, anchor, "task", SkipReason::TaskNoDisposition).await?;
        let status_claim = claim_of(cx, anchor, "status", SkipReason::StatusNoDisposition).await?;
        let task = async {
            if !redo_task {
                return None;
            }
            let r = steps
                .task_step(task_claim, settings, now, &staff, &listed)
                .await;
            steps.report("late_task", &r);
            Some(r)
        };
        let status = async {
            if !redo_status {
                return None;
            }
            let r = steps.status_step(status_claim, settings).await;
            steps.report("late_status", &r);
            Some(r)
        };
        let (task, status) = tokio::join!(task, status);
        let mut failed = Vec::new();
        for (name, r) in [("task", task), ("status", status)] {
            match r {
                None => {}
                Some(Ok(ran)) => {
                    said.push(format!("{name} {}", summary(&ran)));
                    outcome[name] = ran.outcome;
                }
                Some(Err(e)) => failed.push((name, e)),
            }
        }
        if let Some((_, first)) = failed.first() {
            let listed: Vec<String> = failed.iter().map(|(n, e)| format!("{n}: {e}")).collect();
            return Err(Error::transient(
                "lineleader",
                format!("late disposition step(s) not done: {}", listed.join("; ")),
            )
            .with_code(first.reason())
            .with_retry_after(failed.iter().filter_map(|(_, e)| e.retry_after).max()));
        }
    }
    if let Some((settings, planned)) = &follow_ups {
        let done = steps.follow_ups(planned, settings, &staff).await?;
        if done.fresh == 0 && said.is_empty() {
            // Every one was created with the log (or by an earlier late detail).
            return Ok(None);
        }
        said.push(format!("{} new follow-up task(s)", done.fresh));
        outcome["follow_ups"] = done.outcome;
    }
    Ok(Some(LateLog {
        reason,
        detail: format!(
            "{} after the log, on family {family_id}: {}",
            late.state.as_str(),
            said.join(", ")
        ),
        outcome,
    }))
}

/// The claim a late step runs under: the log's own (`task`, `status`), unless an earlier
/// release recorded that claim done as skipped for want of a disposition: then its own
/// (`late_task`, `late_status`), as that release did.
async fn claim_of(
    cx: &Cx<'_>,
    anchor: &str,
    step: &'static str,
    code: SkipReason,
) -> Result<&'static str> {
    let recorded = cx.fx.step(anchor, step).recorded().await?;
    let done_as_skipped = recorded
        .as_ref()
        .and_then(|o| o.get("skipped"))
        .and_then(Value::as_str)
        == Some(code.code());
    Ok(match (done_as_skipped, step) {
        (true, "task") => "late_task",
        (true, _) => "late_status",
        (false, _) => step,
    })
}

/// A step's outcome in a few words: `done`, `skipped (reason)`...
fn summary(ran: &Ran) -> String {
    match ran.outcome.get("skipped").and_then(Value::as_str) {
        Some(code) => format!("skipped ({code})"),
        None => ran.first_how().as_str().to_owned(),
    }
}
