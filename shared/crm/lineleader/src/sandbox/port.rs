//! The embedded adapter: the sandbox's state as the `LineLeader` port, no HTTP in between.
//! Writes go through the same validation as the HTTP API, with the bodies the contract
//! describes.

use crate::rules::paths::Endpoint;
use crate::rules::records::{
    Center, Family, Labeled, LogDirection, LoggedEvent, LoggedPhoneLog, NewEvent, NewFamily,
    NewTask, PhoneLog, Staff, Task, TaskCompletion, TypeList,
};
use crate::{LineLeader, Lookup, Probed, TaskWrite};
use async_trait::async_trait;
use llbridge_usecases::{Error, Result};
use serde_json::{json, Value};

use super::{ts, LineLeaderSandbox, Refusal, SbFamily, SbLabel, SbTask};

const PORT: &str = "lineleader";

fn fail(what: &str, r: Refusal) -> Error {
    let message = format!("{what}: HTTP {}: {}", r.status, r.reason);
    if r.status >= 500 || r.status == 429 {
        Error::transient(PORT, message)
    } else {
        Error::permanent(PORT, message)
    }
}

/// Ids are numbers in the sandbox; anything else names no record.
fn num(id: &str) -> Option<u64> {
    id.trim().parse().ok()
}

fn plain(id: &str) -> Value {
    num(id)
        .map(Value::from)
        .unwrap_or_else(|| Value::String(id.to_owned()))
}

fn labeled(l: &SbLabel) -> Labeled {
    Labeled {
        id: l.id.to_string(),
        label: l.name.clone(),
    }
}

impl LineLeaderSandbox {
    fn domain_family(&self, f: &SbFamily) -> Family {
        let status_name = self.with_data(|d| {
            d.statuses
                .iter()
                .find(|s| s.id == f.status_id)
                .map(|s| s.name.clone())
        });
        Family {
            id: f.id.to_string(),
            created: Some(f.created_date),
            center_id: Some(f.center_id.to_string()),
            status_id: Some(f.status_id.to_string()),
            status_name,
            phones: vec![f.phone.clone()],
            guardian_first_name: Some(f.first_name.clone()).filter(|s| !s.is_empty()),
            guardian_last_name: Some(f.last_name.clone()).filter(|s| !s.is_empty()),
        }
    }

    fn domain_task(&self, t: &SbTask) -> Task {
        Task {
            id: t.id.to_string(),
            type_id: Some(t.type_id.to_string()),
            family_id: Some(t.family_id.to_string()),
            due: Some(t.due_date_time),
            is_completed: t.is_completed,
            is_canceled: t.is_canceled,
            raw: self.task_json(t),
        }
    }
}

#[async_trait]
impl LineLeader for LineLeaderSandbox {
    async fn centers(&self) -> Result<Vec<Center>> {
        Ok(self.with_data(|d| {
            d.centers
                .iter()
                .map(|c| Center {
                    id: c.id.to_string(),
                    name: c.name.clone(),
                    active: c.active,
                    call_center_phone: c.phone.clone(),
                    timezone: c.timezone.clone(),
                })
                .collect()
        }))
    }

    async fn statuses(&self) -> Result<Vec<Labeled>> {
        Ok(self.with_data(|d| d.statuses.iter().map(labeled).collect()))
    }

    async fn types(&self, list: TypeList) -> Result<Vec<Labeled>> {
        Ok(self.with_data(|d| {
            let l = match list {
                TypeList::FamilySource => &d.source_types,
                TypeList::FamilyInquiry => &d.inquiry_types,
                TypeList::Task => &d.task_types,
                TypeList::TaskResult => &d.task_results,
            };
            l.iter().map(labeled).collect()
        }))
    }

    async fn staff(&self) -> Result<Vec<Staff>> {
        Ok(self.with_data(|d| {
            d.staff
                .iter()
                .map(|s| Staff {
                    id: s.id.to_string(),
                    email: s.email_address.clone(),
                    first_name: Some(s.first_name.clone()).filter(|x| !x.is_empty()),
                    last_name: Some(s.last_name.clone()).filter(|x| !x.is_empty()),
                })
                .collect()
        }))
    }

    async fn search_families(&self, number: &str) -> Result<Vec<Family>> {
        let found = self
            .search_phone(number)
            .map_err(|r| fail("GET /families/search", r))?;
        Ok(found.iter().map(|f| self.domain_family(f)).collect())
    }

    async fn family(&self, id: &str) -> Result<Option<Family>> {
        Ok(num(id)
            .and_then(|id| self.family_by_id(id))
            .map(|f| self.domain_family(&f)))
    }

    async fn create_family(&self, family: &NewFamily) -> Result<Family> {
        let body = json!({
            "center_id": plain(&family.center_id),
            "source_type_id": plain(&family.source_type_id),
            "inquiry_type_id": plain(&family.inquiry_type_id),
            "primary_guardian": {
                "first_name": family.first_name,
                "last_name": family.last_name,
                "primary_phone": { "number": family.phone },
            },
        });
        let created = self
            .post_family(&body)
            .map_err(|r| fail("POST /families", r))?;
        Ok(self.domain_family(&created))
    }

    async fn open_tasks(&self, family_id: &str, type_id: &str) -> Result<Vec<Task>> {
        let (Some(f), Some(t)) = (num(family_id), num(type_id)) else {
            return Ok(Vec::new());
        };
        Ok(self
            .task_list(Some(f), Some(t), false)
            .iter()
            .filter(|t| !t.is_completed && !t.is_canceled)
            .map(|t| self.domain_task(t))
            .collect())
    }

    async fn open_tasks_sample(&self) -> Result<Lookup<Vec<Task>>> {
        Ok(Lookup::Answered(
            self.task_list(None, None, false)
                .iter()
                .filter(|t| !t.is_canceled)
                .take(100)
                .map(|t| self.domain_task(t))
                .collect(),
        ))
    }

    async fn complete_task(&self, task_id: &str, c: &TaskCompletion) -> Result<TaskWrite> {
        let gone = || Error::permanent(PORT, "GET /tasks/{id}: the task no longer exists");
        let id = num(task_id).ok_or_else(gone)?;
        let current = self.task_by_id(id).ok_or_else(gone)?;
        if current.is_completed {
            return Ok(TaskWrite::AlreadyCompleted);
        }
        let body = json!({
            "id": current.id,
            "type": current.type_id,
            "family": current.family_id,
            "description": current.description,
            "due_date_time": ts(&current.due_date_time),
            "is_completed": true,
            "is_canceled": current.is_canceled,
            "completed_date_time": ts(&c.completed_at),
            "completed_by_user_id": plain(&c.completed_by_staff_id),
            "result_type": plain(&c.result_type_id),
            "result_description": c.result_description,
        });
        self.put_task(id, &body)
            .map(|_| TaskWrite::Completed)
            .map_err(|r| fail("PUT /tasks/{id}", r))
    }

    async fn complete_read_task(&self, task: &Task, c: &TaskCompletion) -> Result<TaskWrite> {
        if task.is_completed {
            return Ok(TaskWrite::AlreadyCompleted);
        }
        // In memory, the record read and the current one are the same.
        self.complete_task(&task.id, c).await
    }

    async fn family_tasks(&self, family_id: &str) -> Result<Lookup<Vec<Task>>> {
        let Some(f) = num(family_id) else {
            return Ok(Lookup::Answered(Vec::new()));
        };
        Ok(Lookup::Answered(
            self.task_list(Some(f), None, true)
                .iter()
                .map(|t| self.domain_task(t))
                .collect(),
        ))
    }

    async fn probe(&self, endpoint: Endpoint, _id: Option<&str>, _number: &str) -> Result<Probed> {
        // The embedded adapter has no routes to miss: every endpoint answers as documented.
        let write_only = matches!(
            endpoint,
            Endpoint::Login | Endpoint::LoginRefresh | Endpoint::Families | Endpoint::FamilyStatus
        );
        Ok(Probed {
            path: endpoint.name().to_owned(),
            status: if write_only { 405 } else { 200 },
            reason: String::new(),
        })
    }

    async fn create_task(&self, task: &NewTask) -> Result<String> {
        let mut body = json!({
            "family_id": plain(&task.family_id),
            "type_id": plain(&task.type_id),
            "due_date_time": ts(&task.due),
            "description": task.description,
        });
        if let Some(s) = &task.assigned_to_staff_id {
            body["assigned_to_staff_id"] = plain(s);
        }
        self.post_task(&body)
            .map(|id| id.to_string())
            .map_err(|r| fail("POST /tasks", r))
    }

    async fn create_event(&self, event: &NewEvent) -> Result<String> {
        let mut body = json!({
            "family_id": plain(&event.family_id),
            "staff_id": plain(&event.staff_id),
            "type_id": plain(&event.type_id),
            "date_time": ts(&event.date_time),
            "description": event.description,
        });
        if let Some(c) = &event.center_id {
            body["center_id"] = plain(c);
        }
        if let Some(t) = &event.task_id {
            body["task_id"] = plain(t);
        }
        self.post_event(&body)
            .map(|id| id.to_string())
            .map_err(|r| fail("POST /events", r))
    }

    async fn family_events(&self, family_id: &str) -> Result<Lookup<Vec<LoggedEvent>>> {
        if !self.config().event_lookup {
            return Ok(Lookup::Unsupported("GET /events: HTTP 405".into()));
        }
        if self.config().lookups_ignore_filters {
            let all = self
                .event_list(None)
                .into_iter()
                .map(|e| LoggedEvent {
                    id: e.id.to_string(),
                    family_id: None,
                    type_id: Some(e.type_id.to_string()),
                    task_id: e.task_id.map(|t| t.to_string()),
                    description: e.description,
                })
                .collect();
            return Ok(Lookup::Unfiltered(
                all,
                "E2 ignores its family filter".into(),
            ));
        }
        let Some(f) = num(family_id) else {
            return Ok(Lookup::Answered(Vec::new()));
        };
        Ok(Lookup::Answered(
            self.event_list(Some(f))
                .into_iter()
                .map(|e| LoggedEvent {
                    id: e.id.to_string(),
                    family_id: Some(e.family_id.to_string()),
                    type_id: Some(e.type_id.to_string()),
                    task_id: e.task_id.map(|t| t.to_string()),
                    description: e.description,
                })
                .collect(),
        ))
    }

    async fn phone_logs_for_call(
        &self,
        external_call_id: &str,
        family_id: &str,
    ) -> Result<Lookup<Vec<LoggedPhoneLog>>> {
        if !self.config().phone_log_lookup {
            return Ok(Lookup::Unsupported(
                "GET /in-contact/phone-logs: HTTP 404".into(),
            ));
        }
        if self.config().lookups_ignore_filters {
            return Ok(Lookup::Unfiltered(
                Vec::new(),
                "P2 ignores its filters and leaves external_call_id out".into(),
            ));
        }
        Ok(Lookup::Answered(
            self.phone_log_list(Some(external_call_id), num(family_id))
                .into_iter()
                .map(|p| LoggedPhoneLog {
                    id: p.id.to_string(),
                    external_call_id: Some(p.external_call_id),
                    family_id: Some(p.family_id.to_string()),
                })
                .collect(),
        ))
    }

    async fn set_family_status(&self, family_id: &str, status_id: &str) -> Result<()> {
        let id = num(family_id)
            .ok_or_else(|| Error::permanent(PORT, "PUT /families/{id}/status: HTTP 404"))?;
        self.put_family_status(id, &json!({ "status_id": plain(status_id) }))
            .map(|_| ())
            .map_err(|r| fail("PUT /families/{id}/status", r))
    }

    async fn create_phone_log(&self, log: &PhoneLog) -> Result<String> {
        let mut body = json!({
            "direction": match log.direction {
                LogDirection::Inbound => "Inbound",
                LogDirection::Outbound => "Outbound",
            },
            "ani": log.ani,
            "start_date_time": ts(&log.start),
            "end_date_time": ts(&log.end),
            "disposition": log.disposition,
            "external_call_id": log.external_call_id,
            "family_id": plain(&log.family_id),
        });
        if let Some(d) = &log.dnis {
            body["dnis"] = Value::String(d.clone());
        }
        if let Some(u) = &log.recording_url {
            body["recording_url"] = Value::String(u.clone());
        }
        if let Some(c) = &log.center_id {
            body["center_id"] = plain(c);
        }
        self.post_phone_log(&body)
            .map(|id| id.to_string())
            .map_err(|r| fail("POST /in-contact/phone-logs", r))
    }
}
