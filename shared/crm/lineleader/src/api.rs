//! The LineLeader API of one connection, as this product uses it (`docs/lineleader-api.md`):
//! the port the LineLeader CRM adapter ([`crate::sink`]) works through. [`crate::HttpLineLeader`]
//! is its HTTP implementation; the sandbox's state implements it too (the embedded adapter).

use crate::rules::paths::{Endpoint, SearchFormat, DEFAULT_SEARCH_PARAM};
use async_trait::async_trait;
use llbridge_usecases::Result;

use crate::rules::records::{
    Center, Family, Labeled, LoggedEvent, LoggedPhoneLog, NewEvent, NewFamily, NewTask, PhoneLog,
    Staff, Task, TaskCompletion, TypeList,
};

/// The answer to a lookup that some tenants cannot give (an endpoint they lack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    Answered(T),
    /// The tenant answered records that do not carry the key they were filtered by (it
    /// ignores the filter, or leaves the key out): what it gave can prove a record is there,
    /// never that it is not. The records, and why, for the log line.
    Unfiltered(T, String),
    /// The tenant cannot answer (404 or 405 on the route); the reason, for the log line.
    Unsupported(String),
}

/// What completing a task did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskWrite {
    /// The task was open and is now completed.
    Completed,
    /// It was completed already (by an earlier attempt or by someone else); left as is.
    AlreadyCompleted,
}

/// What a `GET` of an endpoint's path answered (`doctor`'s probe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// The path probed, ids shown as `{id}`.
    pub path: String,
    /// The HTTP status.
    pub status: u16,
    /// The answer's reason, when it gave one.
    pub reason: String,
}

/// The LineLeader API of one connection. Implementations handle login,
/// token refresh, paging and lenient reads; errors are classed transient or permanent.
#[async_trait]
pub trait LineLeader: Send + Sync {
    /// C1, every page.
    async fn centers(&self) -> Result<Vec<Center>>;
    /// S1.
    async fn statuses(&self) -> Result<Vec<Labeled>>;
    /// T1..T4.
    async fn types(&self, list: TypeList) -> Result<Vec<Labeled>>;
    /// U1, every page.
    async fn staff(&self) -> Result<Vec<Staff>>;
    /// F1: families whose phone matches `number` (any form; sent in the connection's
    /// parameter and format, NPANXXXXXX by default), as the server returns them (the caller
    /// re-checks the numbers). A number that is not one finds nothing.
    async fn search_families(&self, number: &str) -> Result<Vec<Family>>;
    /// F2.
    async fn family(&self, id: &str) -> Result<Option<Family>>;
    /// F3. An answer lost after sending is an unknown outcome (search the number again).
    async fn create_family(&self, family: &NewFamily) -> Result<Family>;
    /// K1: the open (not completed, not canceled) tasks of a family, of one task type.
    async fn open_tasks(&self, family_id: &str, type_id: &str) -> Result<Vec<Task>>;
    /// K1 without a family: one page of open tasks of any family and type (doctor's sample
    /// of families); `Unsupported` when the tenant lists tasks only per family.
    async fn open_tasks_sample(&self) -> Result<Lookup<Vec<Task>>>;
    /// K2: GET-modify-PUT of the task `task_id`, completed; a task already completed is left
    /// as is. Safe to repeat.
    async fn complete_task(&self, task_id: &str, completion: &TaskCompletion) -> Result<TaskWrite>;
    /// K2 without the GET: `task` as K1 listed it moments ago, completed with a PUT of that
    /// record. For a first attempt only; a retry uses [`LineLeader::complete_task`], which
    /// finds an earlier attempt's completion.
    async fn complete_read_task(
        &self,
        task: &Task,
        completion: &TaskCompletion,
    ) -> Result<TaskWrite>;
    /// K1: every task of a family, of any type, completed and canceled ones too (a follow-up
    /// task created before is found among them by its description); `Unsupported` when the
    /// tenant cannot list them.
    async fn family_tasks(&self, family_id: &str) -> Result<Lookup<Vec<Task>>>;
    /// K3: returns the new task's id. An answer lost after sending is an unknown outcome.
    async fn create_task(&self, task: &NewTask) -> Result<String>;
    /// E1: returns the new event's id. An answer lost after sending is an unknown outcome.
    async fn create_event(&self, event: &NewEvent) -> Result<String>;
    /// E2: the family's timeline events.
    async fn family_events(&self, family_id: &str) -> Result<Lookup<Vec<LoggedEvent>>>;
    /// X1. Safe to repeat.
    async fn set_family_status(&self, family_id: &str, status_id: &str) -> Result<()>;
    /// P1: returns the new phone log's id. An answer lost after sending is an unknown outcome.
    async fn create_phone_log(&self, log: &PhoneLog) -> Result<String>;
    /// `doctor`: a `GET` of an endpoint's path (`{id}` replaced by `id`; a search, a list or a
    /// lookup with a harmless query), and nothing else: what it answered. Writes nothing.
    async fn probe(&self, endpoint: Endpoint, id: Option<&str>, number: &str) -> Result<Probed>;
    /// The family search's number parameter and format.
    fn search_param(&self) -> (String, SearchFormat) {
        (DEFAULT_SEARCH_PARAM.to_owned(), SearchFormat::TenDigits)
    }
    /// P2: the phone logs of a family that carry this Dialpad call id.
    async fn phone_logs_for_call(
        &self,
        external_call_id: &str,
        family_id: &str,
    ) -> Result<Lookup<Vec<LoggedPhoneLog>>>;
}

impl<T> Lookup<Vec<T>> {
    /// What the lookup says of the record `pick` chooses: found (its `outcome`), not there, or
    /// unanswerable (a tenant that cannot list, or does not filter, and lacks it).
    pub fn find(
        self,
        pick: impl Fn(&T) -> bool,
        outcome: impl FnOnce(&T) -> serde_json::Value,
    ) -> llbridge_usecases::effect::Found {
        use llbridge_usecases::effect::Found;
        match self {
            Lookup::Answered(items) => items
                .iter()
                .find(|i| pick(i))
                .map_or(Found::No, |i| Found::Yes(outcome(i))),
            Lookup::Unfiltered(items, why) => items
                .iter()
                .find(|i| pick(i))
                .map_or(Found::Unanswerable(why), |i| Found::Yes(outcome(i))),
            Lookup::Unsupported(why) => Found::Unanswerable(why),
        }
    }
}
