//! `doctor`: what an admin must get right before the first call, checked against the live
//! Dialpad API and every CRM connection, each failure with its fix. Read-only: the CRMs are
//! only read; Dialpad gets one call-list page and one screen pop addressed to no user.

use std::collections::BTreeMap;
use std::time::Duration;

use llbridge_domain::config::{Enablement, ScopeLevel};
use llbridge_domain::event::CallEvent;
use llbridge_domain::Installation;
use serde::Serialize;

use crate::ports::{CallQuery, Clients};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Works, but not as well as it could (a fallback is in use, something cannot be checked).
    Warn,
    /// Calls will go wrong until it is fixed.
    Fail,
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// One check: what was checked, where, how it came out, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `dialpad`, `connection NAME` or `enablement SCOPE`.
    pub scope: String,
    /// A stable code: `lineleader_login`, `center_match`, ...
    pub check: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do; set for every warning and failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(scope: &str, check: &'static str, detail: impl Into<String>) -> Check {
        Check {
            scope: scope.to_owned(),
            check,
            verdict: Verdict::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn warn(
        scope: &str,
        check: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check::flagged(Verdict::Warn, scope, check, detail.into(), fix.into())
    }

    pub fn fail(
        scope: &str,
        check: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check::flagged(Verdict::Fail, scope, check, detail.into(), fix.into())
    }

    fn flagged(
        verdict: Verdict,
        scope: &str,
        check: &'static str,
        detail: String,
        fix: String,
    ) -> Check {
        Check {
            verdict,
            fix: Some(fix),
            ..Check::pass(scope, check, detail)
        }
    }
}

/// What a CRM's checks of one enablement get to know.
pub struct Probe<'a> {
    pub inst: &'a Installation,
    pub enablement: &'a Enablement,
    /// How the enablement is named in the checks (`enablement call_center:123`).
    pub scope: String,
    /// The Dialpad call center's number, as its recent calls show it; `None` when no call of
    /// it was seen.
    pub call_center_number: Option<String>,
}

/// The outcome of all checks.
#[derive(Debug, Clone, Serialize)]
pub struct Checkup {
    pub checks: Vec<Check>,
}

impl Checkup {
    /// No check failed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.verdict != Verdict::Fail)
    }

    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }
}

/// How far back the call list is read for the call centers' numbers.
pub const CALL_LIST_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// Pages of the call list read at most.
const CALL_LIST_PAGES: usize = 5;

/// Runs every check of `inst`.
pub async fn run(inst: &Installation, clients: &dyn Clients, now_ms: i64) -> Checkup {
    let mut checks = Vec::new();
    let numbers = dialpad(inst, clients, now_ms, &mut checks).await;
    // The connections checked, and whether they can be used at all: an enablement of a
    // connection whose login failed is not checked further (every check would fail the same
    // way); one whose other checks failed (an endpoint a probe could not find) is.
    let mut connections: BTreeMap<String, bool> = BTreeMap::new();
    for enablement in &inst.enablements {
        let scope = format!("enablement {}", enablement.scope);
        let crm = match clients.crm(inst, enablement).await {
            Ok(crm) => crm,
            Err(e) => {
                checks.push(Check::fail(
                    &scope,
                    "crm_connection",
                    format!("connection {}: {e}", enablement.connection),
                    "check the connection's settings and its secret references",
                ));
                continue;
            }
        };
        let usable = match connections.get(&enablement.connection) {
            Some(usable) => *usable,
            None => {
                let connection = format!("connection {}", enablement.connection);
                let found = crm.checkup_connection(&connection).await;
                let usable = !found
                    .iter()
                    .any(|c| c.verdict == Verdict::Fail && c.check.ends_with("_login"));
                checks.extend(found);
                connections.insert(enablement.connection.clone(), usable);
                usable
            }
        };
        if !usable {
            continue;
        }
        let number = match (&enablement.scope.level, &enablement.scope.id) {
            (ScopeLevel::CallCenter, Some(id)) => numbers.get(id).cloned(),
            _ => None,
        };
        let probe = Probe {
            inst,
            enablement,
            scope,
            call_center_number: number,
        };
        checks.extend(crm.checkup(&probe).await);
    }
    Checkup { checks }
}

/// The Dialpad API key (the call list, the screen-pop scope); returns the numbers of the call
/// centers seen in the call list, by call center id.
async fn dialpad(
    inst: &Installation,
    clients: &dyn Clients,
    now_ms: i64,
    checks: &mut Vec<Check>,
) -> BTreeMap<String, String> {
    const SCOPE: &str = "dialpad";
    let mut numbers = BTreeMap::new();
    let pops = inst.enablements.iter().any(|e| e.screen_pop);
    if inst.dialpad.api_key.is_none() {
        let fix =
            "set dialpad.api_key (a company-admin key with the screen_pop and calls:list scopes)";
        checks.push(if pops {
            Check::fail(SCOPE, "dialpad_api_key", "no API key: screen pops cannot be sent, and missed webhooks cannot be recovered", fix)
        } else {
            Check::warn(SCOPE, "dialpad_api_key", "no API key: calls whose webhook Dialpad gave up on cannot be recovered from the call list", fix)
        });
        return numbers;
    }
    let api = match clients.dialpad(inst).await {
        Ok(api) => api,
        Err(e) => {
            checks.push(Check::fail(
                SCOPE,
                "dialpad_api_key",
                e.to_string(),
                "check dialpad.api_key and its secret reference",
            ));
            return numbers;
        }
    };
    let mut query = CallQuery {
        started_after: now_ms - CALL_LIST_WINDOW.as_millis() as i64,
        started_before: now_ms,
        cursor: None,
    };
    let mut seen = 0;
    for _ in 0..CALL_LIST_PAGES {
        match api.list_calls(&query).await {
            Ok(page) => {
                seen += page.items.len();
                for item in &page.items {
                    let Ok(event) = CallEvent::from_value(item) else {
                        continue;
                    };
                    if let Some(cc) =
                        llbridge_domain::conversation::merge(&[event]).and_then(|c| c.call_center)
                    {
                        if let Some(n) = cc.number {
                            numbers.entry(cc.id).or_insert(n);
                        }
                    }
                }
                match page.cursor {
                    Some(c) => query.cursor = Some(c),
                    None => break,
                }
            }
            Err(e) => {
                let fix = if e.is_transient() {
                    "Dialpad did not answer: check dialpad.api_base_url and the network, then run doctor again"
                } else {
                    "use a company-admin API key with the calls:list scope (Dialpad: Admin settings > API keys)"
                };
                checks.push(Check::fail(SCOPE, "dialpad_call_list", e.to_string(), fix));
                return numbers;
            }
        }
    }
    checks.push(Check::pass(
        SCOPE,
        "dialpad_call_list",
        format!("the API key lists calls ({seen} legs in the last 7 days read)"),
    ));
    if pops {
        // Addressed to no user: Dialpad checks the key and its scope before the user.
        match api.screen_pop("0", "about:blank").await {
            Err(e) if e.to_string().contains("HTTP 401") || e.to_string().contains("HTTP 403") => {
                checks.push(Check::fail(
                    SCOPE,
                    "dialpad_screen_pop",
                    e.to_string(),
                    "give the API key the screen_pop scope",
                ))
            }
            _ => checks.push(Check::pass(
                SCOPE,
                "dialpad_screen_pop",
                "the API key may send screen pops",
            )),
        }
    }
    numbers
}
