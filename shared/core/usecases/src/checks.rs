//! What a check of `doctor` says: [`Check`]s with their [`Verdict`], and what a CRM's checks of
//! one enablement get to know ([`Probe`]).

use llbridge_domain::config::Enablement;
use llbridge_domain::Installation;
use serde::Serialize;

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
