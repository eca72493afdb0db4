//! The sandbox's writes: F3, K2, E1, K3, X1 and P1, each checking its body as the contract
//! says and refusing what a tenant would refuse.

use super::*;

impl LineLeaderSandbox {
    /// F3.
    pub fn post_family(&self, body: &Value) -> Op<SbFamily> {
        let mut d = self.data();
        let center_id = id_field(body, "center_id")?;
        if !d.centers.iter().any(|c| c.id == center_id) {
            return Err(Refusal::bad("center_id: no such center"));
        }
        let source = id_field(body, "source_type_id")?;
        if !d.source_types.iter().any(|t| t.id == source) {
            return Err(Refusal::bad("source_type_id: no such source type"));
        }
        let inquiry = id_field(body, "inquiry_type_id")?;
        if !d.inquiry_types.iter().any(|t| t.id == inquiry) {
            return Err(Refusal::bad("inquiry_type_id: no such inquiry type"));
        }
        let g = body
            .get("primary_guardian")
            .filter(|g| g.is_object())
            .ok_or_else(|| Refusal::bad("primary_guardian: an object is required"))?;
        let name = |k: &str| -> Op<String> {
            match g.get(k) {
                Some(Value::String(s)) => Ok(s.clone()),
                None | Some(Value::Null) => Ok(String::new()),
                _ => Err(Refusal::bad(format!(
                    "primary_guardian.{k}: a string is required"
                ))),
            }
        };
        let (first_name, last_name) = (name("first_name")?, name("last_name")?);
        let phone = g
            .get("primary_phone")
            .and_then(|p| p.get("number"))
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::bad("primary_guardian.primary_phone.number is required"))?;
        if Phone::parse(phone).is_none() {
            return Err(Refusal::bad(
                "primary_guardian.primary_phone.number: not a phone number",
            ));
        }
        let status_id = d
            .statuses
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case("New Lead"))
            .or(d.statuses.first())
            .map(|s| s.id)
            .unwrap_or(0);
        let family = SbFamily {
            id: d.next_id(Kind::Family),
            created_date: now_secs(),
            center_id,
            status_id,
            first_name,
            last_name,
            phone: phone.to_owned(),
            origin: "api".into(),
        };
        d.families.push(family.clone());
        Ok(family)
    }

    /// K2: the whole task is replaced.
    pub fn put_task(&self, id: u64, body: &Value) -> Op<SbTask> {
        let mut d = self.data();
        let obj = body
            .as_object()
            .ok_or_else(|| Refusal::bad("the body must be the task object"))?;
        let Some(index) = d.tasks.iter().position(|t| t.id == id) else {
            return Err(Refusal::not_found("no such task"));
        };
        for (k, v) in obj {
            if v.get("values").is_some() || (v.is_object() && v.get("id").is_some()) {
                return Err(Refusal::bad(format!(
                    "{k}: writes take plain ids, not link objects"
                )));
            }
        }
        if let Some(body_id) = obj.get("id") {
            if as_id(body_id) != Some(id) {
                return Err(Refusal::bad("id: does not match the path"));
            }
        }
        let type_id = id_field(body, "type")?;
        if !d.task_types.iter().any(|t| t.id == type_id) {
            return Err(Refusal::bad("type: no such task type"));
        }
        let family_id = id_field(body, "family")?;
        if !d.families.iter().any(|f| f.id == family_id) {
            return Err(Refusal::bad("family: no such family"));
        }
        let due = time_field(body, "due_date_time")?
            .ok_or_else(|| Refusal::bad("due_date_time is required"))?;
        let is_completed = bool_field(body, "is_completed")?;
        let is_canceled = bool_field(body, "is_canceled")?;
        let completed_at = time_field(body, "completed_date_time")?;
        let by = opt_id_field(body, "completed_by_user_id")?;
        if let Some(by) = by {
            if !d.staff.iter().any(|s| s.id == by) {
                return Err(Refusal::bad("completed_by_user_id: no such staff"));
            }
        }
        let result = opt_id_field(body, "result_type")?;
        if let Some(r) = result {
            if !d.task_results.iter().any(|t| t.id == r) {
                return Err(Refusal::bad("result_type: no such task result"));
            }
        }
        if is_completed && (completed_at.is_none() || by.is_none() || result.is_none()) {
            return Err(Refusal::bad(
                "a completed task needs completed_date_time, completed_by_user_id and result_type",
            ));
        }
        let description = match obj.get("description") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            _ => return Err(Refusal::bad("description: a string is required")),
        };
        let result_description = match obj.get("result_description") {
            Some(Value::String(s)) => Some(s.clone()),
            None | Some(Value::Null) => None,
            _ => return Err(Refusal::bad("result_description: a string is required")),
        };
        let task = &mut d.tasks[index];
        *task = SbTask {
            id,
            family_id,
            type_id,
            due_date_time: due,
            description,
            is_completed,
            is_canceled,
            completed_date_time: completed_at,
            completed_by_user_id: by,
            result_type: result,
            result_description,
            puts: task.puts + 1,
            assigned_to_staff_id: task.assigned_to_staff_id,
            origin: task.origin.clone(),
        };
        Ok(task.clone())
    }

    /// E1: the new event's id.
    pub fn post_event(&self, body: &Value) -> Op<u64> {
        let mut d = self.data();
        let family_id = id_field(body, "family_id")?;
        let family_center = d
            .families
            .iter()
            .find(|f| f.id == family_id)
            .map(|f| f.center_id)
            .ok_or_else(|| Refusal::bad("family_id: no such family"))?;
        let staff_id = id_field(body, "staff_id")?;
        if !d.staff.iter().any(|s| s.id == staff_id) {
            return Err(Refusal::bad("staff_id: no such staff"));
        }
        let type_id = id_field(body, "type_id")?;
        if !d.task_results.iter().any(|t| t.id == type_id) {
            return Err(Refusal::bad("type_id: no such event type"));
        }
        let center_id = opt_id_field(body, "center_id")?;
        if let Some(c) = center_id {
            if !d.centers.iter().any(|x| x.id == c) {
                return Err(Refusal::bad("center_id: no such center"));
            }
        }
        let task_id = opt_id_field(body, "task_id")?;
        if let Some(t) = task_id {
            if !d.tasks.iter().any(|x| x.id == t) {
                return Err(Refusal::bad("task_id: no such task"));
            }
        }
        let date_time =
            time_field(body, "date_time")?.ok_or_else(|| Refusal::bad("date_time is required"))?;
        let description = str_field(body, "description", false)?;
        let id = d.next_id(Kind::Event);
        d.events.push(SbEvent {
            id,
            family_id,
            center_id: center_id.or(Some(family_center)),
            staff_id,
            type_id,
            date_time,
            description,
            task_id,
        });
        Ok(id)
    }

    /// K3: a new open task of a family.
    pub fn post_task(&self, body: &Value) -> Op<u64> {
        let mut d = self.data();
        let family_id = id_field(body, "family_id")?;
        if !d.families.iter().any(|f| f.id == family_id) {
            return Err(Refusal::bad("family_id: no such family"));
        }
        let type_id = id_field(body, "type_id")?;
        if !d.task_types.iter().any(|t| t.id == type_id) {
            return Err(Refusal::bad("type_id: no such task type"));
        }
        let assigned = opt_id_field(body, "assigned_to_staff_id")?;
        if let Some(s) = assigned {
            if !d.staff.iter().any(|x| x.id == s) {
                return Err(Refusal::bad("assigned_to_staff_id: no such staff"));
            }
        }
        let due = time_field(body, "due_date_time")?
            .ok_or_else(|| Refusal::bad("due_date_time is required"))?;
        let description = str_field(body, "description", false)?;
        let id = d.next_id(Kind::Task);
        let mut task = SbTask::open(id, family_id, type_id, due);
        task.description = description;
        task.assigned_to_staff_id = assigned;
        task.origin = "created".into();
        d.tasks.push(task);
        Ok(id)
    }

    /// X1.
    pub fn put_family_status(&self, family_id: u64, body: &Value) -> Op<SbFamily> {
        let mut d = self.data();
        let status_id = id_field(body, "status_id")?;
        if !d.statuses.iter().any(|s| s.id == status_id) {
            return Err(Refusal::bad("status_id: no such status"));
        }
        let Some(family) = d.families.iter_mut().find(|f| f.id == family_id) else {
            return Err(Refusal::not_found("no such family"));
        };
        let from = family.status_id;
        family.status_id = status_id;
        let family = family.clone();
        // PUT is idempotent: setting the status a family already has changes nothing.
        if from != status_id {
            d.status_changes.push(SbStatusChange {
                family_id,
                from_status_id: from,
                to_status_id: status_id,
                at: now_secs(),
            });
        }
        Ok(family)
    }

    /// P1: the new phone log's id.
    pub fn post_phone_log(&self, body: &Value) -> Op<u64> {
        let mut d = self.data();
        let direction = str_field(body, "direction", true)?;
        if direction != "Inbound" && direction != "Outbound" {
            return Err(Refusal::bad("direction: Inbound or Outbound"));
        }
        let ani = str_field(body, "ani", true)?;
        if ani.len() != 10 || !ani.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Refusal::bad("ani: ten digits NPANXXXXXX"));
        }
        let dnis = match body.get("dnis") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            _ => return Err(Refusal::bad("dnis: a string is required")),
        };
        let start = time_field(body, "start_date_time")?
            .ok_or_else(|| Refusal::bad("start_date_time is required"))?;
        let end = time_field(body, "end_date_time")?
            .ok_or_else(|| Refusal::bad("end_date_time is required"))?;
        if end < start {
            return Err(Refusal::bad("end_date_time is before start_date_time"));
        }
        let disposition = str_field(body, "disposition", true)?;
        let recording_url = match body.get("recording_url") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            _ => return Err(Refusal::bad("recording_url: a string is required")),
        };
        let external_call_id = str_field(body, "external_call_id", true)?;
        let family_id = id_field(body, "family_id")?;
        if !d.families.iter().any(|f| f.id == family_id) {
            return Err(Refusal::bad("family_id: no such family"));
        }
        let center_id = opt_id_field(body, "center_id")?;
        if let Some(c) = center_id {
            if !d.centers.iter().any(|x| x.id == c) {
                return Err(Refusal::bad("center_id: no such center"));
            }
        }
        let id = d.next_id(Kind::PhoneLog);
        d.phone_logs.push(SbPhoneLog {
            id,
            direction,
            ani,
            dnis,
            start_date_time: start,
            end_date_time: end,
            disposition,
            recording_url,
            external_call_id,
            family_id,
            center_id,
        });
        Ok(id)
    }

    // ---- JSON views --------------------------------------------------------------------
}

fn as_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn opt_id_field(body: &Value, key: &str) -> Op<Option<u64>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(_)) => Err(Refusal::bad(format!(
            "{key}: writes take plain ids, not link objects"
        ))),
        Some(v) => as_id(v)
            .map(Some)
            .ok_or_else(|| Refusal::bad(format!("{key}: not an id"))),
    }
}

fn id_field(body: &Value, key: &str) -> Op<u64> {
    opt_id_field(body, key)?.ok_or_else(|| Refusal::bad(format!("{key} is required")))
}

fn time_field(body: &Value, key: &str) -> Op<Option<DateTime<Utc>>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_whole_seconds(s)
            .map(Some)
            .map_err(|e| Refusal::bad(format!("{key}: {e}"))),
        Some(_) => Err(Refusal::bad(format!(
            "{key}: a timestamp string is required"
        ))),
    }
}

fn bool_field(body: &Value, key: &str) -> Op<bool> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(Refusal::bad(format!("{key}: true or false"))),
    }
}

fn str_field(body: &Value, key: &str, required: bool) -> Op<String> {
    match body.get(key) {
        Some(Value::String(s)) if !(required && s.trim().is_empty()) => Ok(s.clone()),
        None | Some(Value::Null) if !required => Ok(String::new()),
        _ => Err(Refusal::bad(format!("{key}: a string is required"))),
    }
}
