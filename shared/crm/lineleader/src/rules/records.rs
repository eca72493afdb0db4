//! LineLeader records as the domain sees them, whatever shape the API returned them in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A LineLeader center (location).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Center {
    pub id: String,
    pub name: String,
    pub active: bool,
    /// `call_center_phone.number_e164` (or its `number`), as given.
    pub call_center_phone: Option<String>,
    /// An IANA time zone, when LineLeader gives one.
    pub timezone: Option<String>,
}

pub use llbridge_domain::labels::Labeled;

/// Which type list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeList {
    /// `/types/family/source`
    FamilySource,
    /// `/types/family/inquiry`
    FamilyInquiry,
    /// `/types/tasks`
    Task,
    /// `/types/tasks/results`
    TaskResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    pub id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub center_id: Option<String>,
    pub status_id: Option<String>,
    pub status_name: Option<String>,
    /// The primary guardian's phone numbers, as typed in LineLeader.
    pub phones: Vec<String>,
    pub guardian_first_name: Option<String>,
    pub guardian_last_name: Option<String>,
}

/// A family to create for an unknown caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFamily {
    pub center_id: String,
    pub source_type_id: String,
    pub inquiry_type_id: String,
    pub first_name: String,
    pub last_name: String,
    /// The caller's number as ten digits (NANP) or E.164.
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub type_id: Option<String>,
    pub family_id: Option<String>,
    pub due: Option<DateTime<Utc>>,
    pub is_completed: bool,
    pub is_canceled: bool,
    /// The task as read, for the GET-modify-PUT update.
    pub raw: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCompletion {
    pub completed_at: DateTime<Utc>,
    pub completed_by_staff_id: String,
    pub result_type_id: String,
    pub result_description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub family_id: String,
    pub center_id: Option<String>,
    pub staff_id: String,
    pub type_id: String,
    pub date_time: DateTime<Utc>,
    pub description: String,
    pub task_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogDirection {
    Inbound,
    Outbound,
}

/// A phone log for the in-contact endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneLog {
    pub direction: LogDirection,
    /// The family's number, ten digits NPANXXXXXX.
    pub ani: String,
    /// The call center's number, ten digits.
    pub dnis: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub disposition: String,
    pub recording_url: Option<String>,
    pub external_call_id: String,
    pub family_id: String,
    pub center_id: Option<String>,
}

/// A timeline event as E2 returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedEvent {
    pub id: String,
    /// The family it is on, when the record says.
    #[serde(default)]
    pub family_id: Option<String>,
    pub type_id: Option<String>,
    pub task_id: Option<String>,
    pub description: String,
}

/// A phone log as P2 returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedPhoneLog {
    pub id: String,
    pub external_call_id: Option<String>,
    pub family_id: Option<String>,
}

/// A task to create (K3): a follow-up of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    pub family_id: String,
    pub type_id: String,
    pub due: DateTime<Utc>,
    pub description: String,
    pub assigned_to_staff_id: Option<String>,
}
