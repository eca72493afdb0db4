//! The LineLeader sandbox's data set: what `POST /_sandbox/reset` takes and `GET
//! /_sandbox/state` returns, and the demo data.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbCenter {
    pub id: u64,
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    /// The call center phone, E.164.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
}

/// A status or a type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbLabel {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbStaff {
    pub id: u64,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbFamily {
    pub id: u64,
    pub created_date: DateTime<Utc>,
    pub center_id: u64,
    pub status_id: u64,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    /// The primary guardian's phone, as typed.
    pub phone: String,
    /// How the family was made: `seed` or `api`.
    #[serde(default = "seed")]
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbTask {
    pub id: u64,
    pub family_id: u64,
    pub type_id: u64,
    pub due_date_time: DateTime<Utc>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub is_completed: bool,
    #[serde(default)]
    pub is_canceled: bool,
    #[serde(default)]
    pub completed_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_by_user_id: Option<u64>,
    #[serde(default)]
    pub result_type: Option<u64>,
    #[serde(default)]
    pub result_description: Option<String>,
    /// How many times the task was written with `PUT`.
    #[serde(default)]
    pub puts: u32,
    #[serde(default)]
    pub assigned_to_staff_id: Option<u64>,
    /// `seed`, or `created` for a task created through the API (K3).
    #[serde(default = "seed")]
    pub origin: String,
}

impl SbTask {
    /// An open task of a family, as staff create them.
    pub fn open(id: u64, family_id: u64, type_id: u64, due: DateTime<Utc>) -> SbTask {
        SbTask {
            id,
            family_id,
            type_id,
            due_date_time: due,
            description: "Call back".into(),
            is_completed: false,
            is_canceled: false,
            completed_date_time: None,
            completed_by_user_id: None,
            result_type: None,
            result_description: None,
            puts: 0,
            assigned_to_staff_id: None,
            origin: seed(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbEvent {
    pub id: u64,
    pub family_id: u64,
    pub center_id: Option<u64>,
    pub staff_id: u64,
    pub type_id: u64,
    pub date_time: DateTime<Utc>,
    pub description: String,
    pub task_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbPhoneLog {
    pub id: u64,
    /// `Inbound` or `Outbound`.
    pub direction: String,
    pub ani: String,
    pub dnis: Option<String>,
    pub start_date_time: DateTime<Utc>,
    pub end_date_time: DateTime<Utc>,
    pub disposition: String,
    pub recording_url: Option<String>,
    pub external_call_id: String,
    pub family_id: u64,
    pub center_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbStatusChange {
    pub family_id: u64,
    pub from_status_id: u64,
    pub to_status_id: u64,
    pub at: DateTime<Utc>,
}

/// The whole state of the LineLeader sandbox. Every list may be omitted in a seed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dataset {
    pub centers: Vec<SbCenter>,
    pub statuses: Vec<SbLabel>,
    pub source_types: Vec<SbLabel>,
    pub inquiry_types: Vec<SbLabel>,
    pub task_types: Vec<SbLabel>,
    pub task_results: Vec<SbLabel>,
    pub staff: Vec<SbStaff>,
    pub families: Vec<SbFamily>,
    pub tasks: Vec<SbTask>,
    pub events: Vec<SbEvent>,
    pub phone_logs: Vec<SbPhoneLog>,
    pub status_changes: Vec<SbStatusChange>,
}

fn yes() -> bool {
    true
}

fn seed() -> String {
    "seed".into()
}

fn labels(first_id: u64, names: &[&str]) -> Vec<SbLabel> {
    names
        .iter()
        .zip(first_id..)
        .map(|(n, id)| SbLabel {
            id,
            name: (*n).to_owned(),
        })
        .collect()
}

/// Demo family `(first_name, last_name, typed phone, center, status)`.
type DemoFamily = (&'static str, &'static str, &'static str, u64, u64);

impl Dataset {
    /// The demo data, with tasks due relative to `now`:
    ///
    /// * centers 101 "Oak Park" (+14155550100, America/Los_Angeles), 102 "Elm Street"
    ///   (+14155550101, America/Chicago), 103 "Maple Grove" (+16175550102, America/New_York),
    ///   104 "Closed Campus" (inactive, no phone);
    /// * statuses 1 New Lead, 2 Contacted, 3 Tour Scheduled, 4 Enrolled, 5 Lost;
    /// * source types 11 Phone Call, 12 Website, 13 Walk-In; inquiry types 21 Phone, 22 Email,
    ///   23 Web Form; task types 31 Phone Call, 32 Email, 33 Tour; task results 41 Phone Call,
    ///   42 Left Message, 43 Spoke With Family, 44 No Answer, 45 Tour Booked, 46 Text Message;
    /// * staff 201 ana@example.com, 202 ben@example.com, 203 frontdesk@example.com;
    /// * families 1001.. with numbers typed `(415) 815-9602`, `415-815-9602`, `+14158159602`
    ///   (two families of one number, in different centers) and `4158159603`, `6505550199`...;
    /// * "Phone Call" tasks due today, yesterday and tomorrow, one completed, one canceled.
    pub fn demo(now: DateTime<Utc>) -> Dataset {
        let today = now.date_naive();
        let at = |days: i64, hour: u32| {
            (today + Duration::days(days))
                .and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default())
                .and_utc()
        };
        let center = |id, name: &str, phone: Option<&str>, tz: Option<&str>, active| SbCenter {
            id,
            name: name.to_owned(),
            active,
            phone: phone.map(str::to_owned),
            timezone: tz.map(str::to_owned),
        };
        let staff = |id, email: &str, first: &str, last: &str| SbStaff {
            id,
            email_address: Some(email.to_owned()),
            first_name: first.to_owned(),
            last_name: last.to_owned(),
        };
        let families: [DemoFamily; 6] = [
            ("Maya", "Lopez", "(415) 815-9602", 101, 1),
            ("Noah", "Kim", "415-815-9612", 101, 2),
            ("Liam", "Patel", "+14158159622", 102, 3),
            ("Emma", "Nguyen", "4158159632", 103, 4),
            ("Olivia", "Brown", "+16505550199", 101, 1),
            ("Olivia", "Brown", "650.555.0199", 102, 5),
        ];
        let families = families
            .iter()
            .zip(1001..)
            .map(
                |((first, last, phone, center_id, status_id), id)| SbFamily {
                    id,
                    created_date: at(-30 + id as i64 - 1001, 15),
                    center_id: *center_id,
                    status_id: *status_id,
                    first_name: (*first).to_owned(),
                    last_name: (*last).to_owned(),
                    phone: (*phone).to_owned(),
                    origin: seed(),
                },
            )
            .collect();
        let task = |id, family_id, type_id, due, done: bool, canceled: bool| SbTask {
            id,
            family_id,
            type_id,
            due_date_time: due,
            description: format!("Follow up with family {family_id}"),
            is_completed: done,
            is_canceled: canceled,
            completed_date_time: None,
            completed_by_user_id: None,
            result_type: None,
            result_description: None,
            puts: 0,
            assigned_to_staff_id: None,
            origin: seed(),
        };
        Dataset {
            centers: vec![
                center(
                    101,
                    "Oak Park",
                    Some("+14155550100"),
                    Some("America/Los_Angeles"),
                    true,
                ),
                center(
                    102,
                    "Elm Street",
                    Some("+14155550101"),
                    Some("America/Chicago"),
                    true,
                ),
                center(
                    103,
                    "Maple Grove",
                    Some("+16175550102"),
                    Some("America/New_York"),
                    true,
                ),
                center(104, "Closed Campus", None, Some("America/Denver"), false),
            ],
            statuses: labels(
                1,
                &[
                    "New Lead",
                    "Contacted",
                    "Tour Scheduled",
                    "Enrolled",
                    "Lost",
                ],
            ),
            source_types: labels(11, &["Phone Call", "Website", "Walk-In"]),
            inquiry_types: labels(21, &["Phone", "Email", "Web Form"]),
            task_types: labels(31, &["Phone Call", "Email", "Tour"]),
            task_results: labels(
                41,
                &[
                    "Phone Call",
                    "Left Message",
                    "Spoke With Family",
                    "No Answer",
                    "Tour Booked",
                    "Text Message",
                ],
            ),
            staff: vec![
                staff(201, "ana@example.com", "Ana", "Agent"),
                staff(202, "ben@example.com", "Ben", "Baker"),
                staff(203, "frontdesk@example.com", "Front", "Desk"),
            ],
            families,
            tasks: vec![
                task(5001, 1001, 31, at(0, 17), false, false),
                task(5002, 1001, 31, at(1, 17), false, false),
                task(5003, 1001, 32, at(0, 18), false, false),
                task(5004, 1002, 31, at(-1, 16), false, false),
                task(5005, 1002, 31, at(0, 16), true, false),
                task(5006, 1003, 31, at(0, 19), false, true),
                task(5007, 1004, 31, at(0, 20), false, false),
            ],
            events: Vec::new(),
            phone_logs: Vec::new(),
            status_changes: Vec::new(),
        }
    }

    pub(crate) fn next_id(&self, of: Kind) -> u64 {
        let max = match of {
            Kind::Family => self.families.iter().map(|f| f.id).max(),
            Kind::Event => self.events.iter().map(|e| e.id).max(),
            Kind::PhoneLog => self.phone_logs.iter().map(|l| l.id).max(),
            Kind::Task => self.tasks.iter().map(|t| t.id).max(),
        };
        let base = match of {
            Kind::Family => 1000,
            Kind::Event => 7000,
            Kind::PhoneLog => 9000,
            Kind::Task => 5000,
        };
        max.unwrap_or(base).max(base) + 1
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Family,
    Event,
    PhoneLog,
    Task,
}
