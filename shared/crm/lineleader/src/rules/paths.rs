//! The LineLeader endpoints the product uses, named for what they do: the names a connection's
//! `api.paths` overrides them by (`docs/lineleader-api.md`). Their default paths are the
//! LineLeader client's business; here are the names, which take an id, and how the family
//! search sends its number.

use std::collections::BTreeMap;

use serde::Serialize;

use llbridge_domain::phone::Phone;

/// One endpoint (a path; the methods on it are the client's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Login,
    LoginRefresh,
    Centers,
    Statuses,
    Staff,
    FamilySearch,
    Families,
    Family,
    FamilyStatus,
    Tasks,
    Task,
    Events,
    PhoneLogs,
    TypesFamilySource,
    TypesFamilyInquiry,
    TypesTasks,
    TypesTaskResults,
}

impl Endpoint {
    pub const ALL: [Endpoint; 17] = [
        Endpoint::Login,
        Endpoint::LoginRefresh,
        Endpoint::Centers,
        Endpoint::Statuses,
        Endpoint::Staff,
        Endpoint::FamilySearch,
        Endpoint::Families,
        Endpoint::Family,
        Endpoint::FamilyStatus,
        Endpoint::Tasks,
        Endpoint::Task,
        Endpoint::Events,
        Endpoint::PhoneLogs,
        Endpoint::TypesFamilySource,
        Endpoint::TypesFamilyInquiry,
        Endpoint::TypesTasks,
        Endpoint::TypesTaskResults,
    ];

    /// The name in `api.paths`.
    pub fn name(&self) -> &'static str {
        match self {
            Endpoint::Login => "login",
            Endpoint::LoginRefresh => "login_refresh",
            Endpoint::Centers => "centers",
            Endpoint::Statuses => "statuses",
            Endpoint::Staff => "staff",
            Endpoint::FamilySearch => "family_search",
            Endpoint::Families => "families",
            Endpoint::Family => "family",
            Endpoint::FamilyStatus => "family_status",
            Endpoint::Tasks => "tasks",
            Endpoint::Task => "task",
            Endpoint::Events => "events",
            Endpoint::PhoneLogs => "phone_logs",
            Endpoint::TypesFamilySource => "types_family_source",
            Endpoint::TypesFamilyInquiry => "types_family_inquiry",
            Endpoint::TypesTasks => "types_tasks",
            Endpoint::TypesTaskResults => "types_task_results",
        }
    }

    pub fn parse(name: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Whether its path names one record: it must hold `{id}`.
    pub fn takes_id(&self) -> bool {
        matches!(
            self,
            Endpoint::Family | Endpoint::FamilyStatus | Endpoint::Task
        )
    }

    /// Every name, for messages.
    pub fn names() -> Vec<&'static str> {
        Endpoint::ALL.iter().map(Endpoint::name).collect()
    }
}

/// How the family search sends the caller's number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchFormat {
    /// NPANXXXXXX (NANP numbers; other countries: E.164 without the `+`).
    #[default]
    TenDigits,
    /// `+14158159602`.
    E164,
    /// Every digit of E.164: `14158159602`.
    Digits,
}

impl SearchFormat {
    pub const ALL: [SearchFormat; 3] = [
        SearchFormat::TenDigits,
        SearchFormat::E164,
        SearchFormat::Digits,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            SearchFormat::TenDigits => "ten_digits",
            SearchFormat::E164 => "e164",
            SearchFormat::Digits => "digits",
        }
    }

    pub fn parse(s: &str) -> Option<SearchFormat> {
        SearchFormat::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The number as the search sends it.
    pub fn format(&self, phone: &Phone) -> String {
        match self {
            SearchFormat::TenDigits => phone.ten_digits(),
            SearchFormat::E164 => phone.e164().to_owned(),
            SearchFormat::Digits => phone.e164().trim_start_matches('+').to_owned(),
        }
    }
}

/// The parameter the family search sends the number in unless configured.
pub const DEFAULT_SEARCH_PARAM: &str = "phone";

/// A connection's `api`: the paths that differ from the defaults, and the family search's
/// parameter and number format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    pub paths: BTreeMap<Endpoint, String>,
    pub family_search_param: String,
    pub family_search_format: SearchFormat,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            paths: BTreeMap::new(),
            family_search_param: DEFAULT_SEARCH_PARAM.to_owned(),
            family_search_format: SearchFormat::TenDigits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_three_take_an_id() {
        for e in Endpoint::ALL {
            assert_eq!(Endpoint::parse(e.name()), Some(e));
        }
        let with_id: Vec<&str> = Endpoint::ALL
            .iter()
            .filter(|e| e.takes_id())
            .map(Endpoint::name)
            .collect();
        assert_eq!(with_id, ["family", "family_status", "task"]);
    }

    #[test]
    fn the_number_in_each_format() {
        let p = Phone::parse("(415) 815-9602").expect("a number");
        assert_eq!(SearchFormat::TenDigits.format(&p), "4158159602");
        assert_eq!(SearchFormat::E164.format(&p), "+14158159602");
        assert_eq!(SearchFormat::Digits.format(&p), "14158159602");
    }
}
