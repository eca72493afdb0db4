//! The `LineLeader` port over [`HttpLineLeader`]: each endpoint's request and how its answer
//! is read, on top of the client's transport (retries, login, paging, the caches).

use crate::rules::records::{
    Center, Family, Labeled, LoggedEvent, LoggedPhoneLog, NewEvent, NewFamily, NewTask, PhoneLog,
    Staff, Task, TaskCompletion, TypeList,
};
use async_trait::async_trait;

use crate::api::{LineLeader, Lookup, Probed, TaskWrite};
use crate::rules::paths::{Endpoint, SearchFormat};
use llbridge_domain::phone::{self, Phone};
use llbridge_usecases::{Error, Result};
use reqwest::Method;

use crate::endpoints::{self as ep, PAGE_LIMIT};

use super::*;

#[async_trait]
impl LineLeader for HttpLineLeader {
    async fn centers(&self) -> Result<Vec<Center>> {
        self.cache
            .centers
            .get_or_fetch(
                || self.now_ms(),
                self.ttl_ms(),
                || async {
                    let items = self
                        .all_pages(&self.paths.get(Endpoint::Centers), &[])
                        .await?;
                    Ok(items.iter().filter_map(ep::center).collect())
                },
            )
            .await
    }

    async fn statuses(&self) -> Result<Vec<Labeled>> {
        self.cache
            .statuses
            .get_or_fetch(
                || self.now_ms(),
                self.ttl_ms(),
                || async {
                    let items = self.list(&self.paths.get(Endpoint::Statuses)).await?;
                    Ok(items.iter().filter_map(ep::labeled).collect())
                },
            )
            .await
    }

    async fn types(&self, list: TypeList) -> Result<Vec<Labeled>> {
        self.cache
            .types(list)
            .get_or_fetch(
                || self.now_ms(),
                self.ttl_ms(),
                || async {
                    let items = self.list(&self.paths.get(ep::type_list(list))).await?;
                    Ok(items.iter().filter_map(ep::labeled).collect())
                },
            )
            .await
    }

    async fn staff(&self) -> Result<Vec<Staff>> {
        self.cache
            .staff
            .get_or_fetch(
                || self.now_ms(),
                self.ttl_ms(),
                || async {
                    let items = self
                        .all_pages(&self.paths.get(Endpoint::Staff), &[])
                        .await?;
                    Ok(items.iter().filter_map(ep::staff).collect())
                },
            )
            .await
    }

    async fn search_families(&self, number: &str) -> Result<Vec<Family>> {
        let Some(number) = Phone::parse(number) else {
            return Ok(Vec::new());
        };
        // A search that finds nothing may answer 404.
        let items = self
            .pages(
                &self.paths.get(Endpoint::FamilySearch),
                &self.paths.search_query(&number),
            )
            .await?
            .unwrap_or_default();
        let families: Vec<Family> = items.iter().filter_map(ep::family_record).collect();
        tracing::debug!(connection = %self.name, phone = %phone::mask(number.e164()),
            found = families.len(), "LineLeader family search");
        Ok(families)
    }

    async fn family(&self, id: &str) -> Result<Option<Family>> {
        let path = self.paths.with_id(Endpoint::Family, id);
        let reply = self.call(Method::GET, &path, &[], None, true).await?;
        match reply.status {
            404 => return Ok(None),
            405 => {
                return Err(Error::permanent(
                    PORT,
                    format!("GET {}: HTTP 405", self.paths.template(Endpoint::Family)),
                )
                .with_code("lineleader_rejected"))
            }
            _ => {}
        }
        ep::family_record(&reply.body).map(Some).ok_or_else(|| {
            Error::permanent(
                PORT,
                format!(
                    "GET {}: unreadable family",
                    self.paths.template(Endpoint::Family)
                ),
            )
        })
    }

    async fn create_family(&self, family: &NewFamily) -> Result<Family> {
        let (id, resp) = self
            .create(Endpoint::Families, &ep::new_family_body(family))
            .await?;
        let read = ep::family_record(&resp);
        let created = Family {
            id,
            created: read.as_ref().and_then(|f| f.created),
            center_id: read
                .as_ref()
                .and_then(|f| f.center_id.clone())
                .or_else(|| Some(family.center_id.clone())),
            status_id: read.as_ref().and_then(|f| f.status_id.clone()),
            status_name: read.as_ref().and_then(|f| f.status_name.clone()),
            phones: read
                .as_ref()
                .map(|f| f.phones.clone())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| vec![family.phone.clone()]),
            guardian_first_name: read
                .as_ref()
                .and_then(|f| f.guardian_first_name.clone())
                .or_else(|| Some(family.first_name.clone())),
            guardian_last_name: read
                .as_ref()
                .and_then(|f| f.guardian_last_name.clone())
                .or_else(|| Some(family.last_name.clone())),
        };
        tracing::info!(connection = %self.name, family = %created.id,
            phone = %phone::mask(&family.phone), "LineLeader family created");
        Ok(created)
    }

    async fn open_tasks(&self, family_id: &str, type_id: &str) -> Result<Vec<Task>> {
        let items = self
            .pages(
                &self.paths.get(Endpoint::Tasks),
                &ep::open_tasks_query(family_id, type_id),
            )
            .await?
            .unwrap_or_default();
        Ok(items
            .iter()
            .filter_map(ep::task_record)
            .filter(|t| !t.is_completed && !t.is_canceled)
            .filter(|t| t.family_id.as_deref().is_none_or(|f| f == family_id))
            .filter(|t| t.type_id.as_deref().is_none_or(|f| f == type_id))
            .collect())
    }

    async fn open_tasks_sample(&self) -> Result<Lookup<Vec<Task>>> {
        let mut query = ep::open_tasks_sample_query();
        query.extend(ep::page_query(PAGE_LIMIT, 0));
        let reply = self
            .call(
                Method::GET,
                &self.paths.get(Endpoint::Tasks),
                &query,
                None,
                true,
            )
            .await?;
        if matches!(reply.status, 404 | 405) {
            return Ok(Lookup::Unsupported(format!(
                "GET {} without family_id answers {}",
                self.paths.template(Endpoint::Tasks),
                reply.status
            )));
        }
        let items = ep::list_items(&reply.body).ok_or_else(|| {
            Error::permanent(
                PORT,
                format!(
                    "GET {}: the response is not a list",
                    self.paths.template(Endpoint::Tasks)
                ),
            )
        })?;
        Ok(Lookup::Answered(
            items
                .iter()
                .filter_map(ep::task_record)
                .filter(|t| !t.is_completed && !t.is_canceled)
                .collect(),
        ))
    }

    async fn complete_task(&self, task_id: &str, completion: &TaskCompletion) -> Result<TaskWrite> {
        let path = self.paths.with_id(Endpoint::Task, task_id);
        let reply = self.call(Method::GET, &path, &[], None, true).await?;
        if matches!(reply.status, 404 | 405) {
            return Err(Error::permanent(
                PORT,
                format!(
                    "GET {}: the task no longer exists",
                    self.paths.template(Endpoint::Task)
                ),
            )
            .with_code("lineleader_rejected"));
        }
        let current = ep::task_record(&reply.body).ok_or_else(|| {
            Error::permanent(
                PORT,
                format!(
                    "GET {}: unreadable task",
                    self.paths.template(Endpoint::Task)
                ),
            )
        })?;
        self.complete_read_task(&current, completion).await
    }

    async fn complete_read_task(
        &self,
        task: &Task,
        completion: &TaskCompletion,
    ) -> Result<TaskWrite> {
        if task.is_completed {
            tracing::info!(connection = %self.name, task = %task.id,
                "LineLeader task already completed; left as is");
            return Ok(TaskWrite::AlreadyCompleted);
        }
        let body = ep::completed_task_body(&task.raw, completion);
        let path = self.paths.with_id(Endpoint::Task, &task.id);
        self.call_ok(Method::PUT, &path, &[], Some(&body), true)
            .await?;
        tracing::info!(connection = %self.name, task = %task.id, "LineLeader task completed");
        Ok(TaskWrite::Completed)
    }

    async fn family_tasks(&self, family_id: &str) -> Result<Lookup<Vec<Task>>> {
        Ok(
            match self
                .lookup_pages(
                    &self.paths.get(Endpoint::Tasks),
                    &ep::family_tasks_query(family_id),
                )
                .await?
            {
                Lookup::Answered(items) | Lookup::Unfiltered(items, _) => {
                    let tasks: Vec<Task> = items.iter().filter_map(ep::task_record).collect();
                    filtered_by(tasks, "K1", "family_id", family_id, |t| {
                        t.family_id.as_deref()
                    })
                }
                Lookup::Unsupported(why) => Lookup::Unsupported(why),
            },
        )
    }

    async fn probe(&self, endpoint: Endpoint, id: Option<&str>, number: &str) -> Result<Probed> {
        let path = self.paths.with_id(endpoint, id.unwrap_or("0"));
        let number = Phone::parse(number)
            .ok_or_else(|| Error::permanent(PORT, "probe: not a phone number"))?;
        let query = ep::probe_query(&self.paths, endpoint, id.unwrap_or("0"), &number);
        let token = match endpoint {
            Endpoint::Login | Endpoint::LoginRefresh => None,
            _ => Some(self.tokens.get(self).await?),
        };
        let reply = self
            .send(&Method::GET, &path, &query, None, token.as_deref(), true)
            .await?;
        Ok(Probed {
            path: ep::label(&path),
            status: reply.status,
            reason: reason(&reply.body),
        })
    }

    fn search_param(&self) -> (String, SearchFormat) {
        let (param, format) = self.paths.search_param();
        (param.to_owned(), format)
    }

    async fn create_task(&self, task: &NewTask) -> Result<String> {
        let (id, _) = self
            .create(Endpoint::Tasks, &ep::new_task_body(task))
            .await?;
        tracing::info!(connection = %self.name, task = %id, family = %task.family_id,
            "LineLeader task created");
        Ok(id)
    }

    async fn create_event(&self, event: &NewEvent) -> Result<String> {
        let (id, _) = self
            .create(Endpoint::Events, &ep::new_event_body(event))
            .await?;
        tracing::info!(connection = %self.name, event = %id, family = %event.family_id,
            "LineLeader event created");
        Ok(id)
    }

    async fn family_events(&self, family_id: &str) -> Result<Lookup<Vec<LoggedEvent>>> {
        Ok(
            match self
                .lookup_pages(
                    &self.paths.get(Endpoint::Events),
                    &ep::family_events_query(family_id),
                )
                .await?
            {
                Lookup::Answered(items) | Lookup::Unfiltered(items, _) => {
                    let events: Vec<LoggedEvent> =
                        items.iter().filter_map(ep::logged_event).collect();
                    filtered_by(events, "E2", "family_id", family_id, |e| {
                        e.family_id.as_deref()
                    })
                }
                Lookup::Unsupported(why) => Lookup::Unsupported(why),
            },
        )
    }

    async fn set_family_status(&self, family_id: &str, status_id: &str) -> Result<()> {
        let body = ep::status_body(status_id);
        self.call_ok(
            Method::PUT,
            &self.paths.with_id(Endpoint::FamilyStatus, family_id),
            &[],
            Some(&body),
            true,
        )
        .await?;
        tracing::info!(connection = %self.name, family = %family_id, status = %status_id,
            "LineLeader family status changed");
        Ok(())
    }

    async fn create_phone_log(&self, log: &PhoneLog) -> Result<String> {
        let (id, _) = self
            .create(Endpoint::PhoneLogs, &ep::phone_log_body(log))
            .await?;
        tracing::info!(connection = %self.name, phone_log = %id, family = %log.family_id,
            ani = %phone::mask(&log.ani), "LineLeader phone log created");
        Ok(id)
    }

    async fn phone_logs_for_call(
        &self,
        external_call_id: &str,
        family_id: &str,
    ) -> Result<Lookup<Vec<LoggedPhoneLog>>> {
        let query = ep::phone_logs_query(external_call_id, family_id);
        Ok(
            match self
                .lookup_pages(&self.paths.get(Endpoint::PhoneLogs), &query)
                .await?
            {
                // Re-checked here: a tenant may ignore a filter it does not know.
                Lookup::Answered(items) | Lookup::Unfiltered(items, _) => {
                    let logs: Vec<LoggedPhoneLog> =
                        items.iter().filter_map(ep::logged_phone_log).collect();
                    match filtered_by(logs, "P2", "external_call_id", external_call_id, |p| {
                        p.external_call_id.as_deref()
                    }) {
                        // Only the matching ones: a found phone log is found either way.
                        Lookup::Unfiltered(logs, why) => {
                            let mine: Vec<LoggedPhoneLog> = logs
                                .into_iter()
                                .filter(|p| p.external_call_id.as_deref() == Some(external_call_id))
                                .collect();
                            if mine.is_empty() {
                                Lookup::Unfiltered(mine, why)
                            } else {
                                Lookup::Answered(mine)
                            }
                        }
                        other => other,
                    }
                }
                Lookup::Unsupported(why) => Lookup::Unsupported(why),
            },
        )
    }
}

/// A lookup's records as a filter on `key` = `value` should have given them: every record
/// carrying the key with that value answers the question; a record without it, or with
/// another value, means the tenant did not filter (`Unfiltered`: a record found among them is
/// there, a record not found may be there still).
fn filtered_by<T>(
    records: Vec<T>,
    endpoint: &str,
    key: &str,
    value: &str,
    of: impl Fn(&T) -> Option<&str>,
) -> Lookup<Vec<T>> {
    let missing = records.iter().filter(|r| of(r).is_none()).count();
    let other = records
        .iter()
        .filter(|r| of(r).is_some_and(|v| v != value))
        .count();
    if missing == 0 && other == 0 {
        return Lookup::Answered(records);
    }
    let why = format!(
        "{endpoint} filtered by {key} answered {} record(s), {missing} without {key} and {other} with another one: this tenant does not filter, so a record not found may still be there",
        records.len()
    );
    Lookup::Unfiltered(records, why)
}
