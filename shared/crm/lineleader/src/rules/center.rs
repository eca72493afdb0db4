//! Center matching (`docs/rules.md`, "Center matching").
//!
//! 1. **By phone** ([`CenterRule::CallCenterPhone`]): the LineLeader center whose
//!    `call_center_phone` is the Dialpad call center's number, compared normalized
//!    ([`llbridge_domain::phone::Phone`]), never as raw text.
//! 2. **By name** ([`CenterRule::DefaultCenterName`]): the center whose name is the enablement's
//!    Default Center Name, compared as labels ([`crate::labels`]: case-insensitive, whitespace and
//!    dashes normalized).
//! 3. Else no center: the caller drops the event when a family would have to be created
//!    (log code [`NO_CENTER`]).
//!
//! Inactive centers: a retired location's old number must not capture calls, so an inactive
//! center never matches by phone; the call then falls back to the Default Center Name. By name,
//! an active center is preferred, but the configured default is honoured even when it is
//! inactive, since an admin named it explicitly. When several centers qualify under one rule,
//! the one with the smallest id wins (numeric order for numeric ids), whatever the order of the
//! list.

use crate::rules::records::Center;
use llbridge_domain::labels::label_key;
use llbridge_domain::phone::Phone;

/// Log code when no center resolves.
pub const NO_CENTER: &str = "no_center";

/// Which rule matched the center.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CenterRule {
    /// The center's Call Center Phone is the Dialpad call center's number.
    CallCenterPhone,
    /// The center's name is the Default Center Name.
    DefaultCenterName,
}

impl CenterRule {
    /// `"call_center_phone"` or `"default_center_name"`.
    pub fn code(&self) -> &'static str {
        match self {
            CenterRule::CallCenterPhone => "call_center_phone",
            CenterRule::DefaultCenterName => "default_center_name",
        }
    }
}

/// A matched center and the rule that matched it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CenterMatch<'a> {
    pub center: &'a Center,
    pub rule: CenterRule,
}

/// The center of a call (see the module documentation). `call_center_number` is the Dialpad
/// call center's number, in any written form.
pub fn match_center<'a>(
    centers: &'a [Center],
    call_center_number: Option<&str>,
    default_center_name: &str,
) -> Option<CenterMatch<'a>> {
    let smallest = |it: &mut dyn Iterator<Item = &'a Center>| {
        it.min_by(|a, b| llbridge_domain::lenient::id_order(&a.id, &b.id))
    };

    if let Some(number) = call_center_number.and_then(Phone::parse) {
        let mut by_phone = centers.iter().filter(|c| {
            c.active
                && c.call_center_phone
                    .as_deref()
                    .and_then(Phone::parse)
                    .is_some_and(|p| p == number)
        });
        if let Some(center) = smallest(&mut by_phone) {
            return Some(CenterMatch {
                center,
                rule: CenterRule::CallCenterPhone,
            });
        }
    }

    let name = label_key(default_center_name);
    if name.is_empty() {
        return None;
    }
    let name = name.as_str();
    let named = |active: bool| {
        centers
            .iter()
            .filter(move |c| c.active == active && label_key(&c.name) == name)
    };
    smallest(&mut named(true))
        .or_else(|| smallest(&mut named(false)))
        .map(|center| CenterMatch {
            center,
            rule: CenterRule::DefaultCenterName,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn center(id: &str, name: &str, active: bool, phone: Option<&str>) -> Center {
        Center {
            id: id.into(),
            name: name.into(),
            active,
            call_center_phone: phone.map(Into::into),
            timezone: None,
        }
    }

    fn centers() -> Vec<Center> {
        vec![
            center("10", "Main Street", true, Some("+14155550100")),
            center("11", "Oak Park", true, Some("+14155550111")),
            center("12", "Old Town", false, Some("+14155550122")),
            center("13", "Hill – Side", true, None),
            center("14", "Retired", false, None),
        ]
    }

    fn matched(number: Option<&str>, default: &str) -> Option<(String, &'static str)> {
        let cs = centers();
        match_center(&cs, number, default).map(|m| (m.center.id.clone(), m.rule.code()))
    }

    #[test]
    fn table() {
        type Case<'a> = (Option<&'a str>, &'a str, Option<(&'a str, &'a str)>);
        let cases: [Case; 12] = [
            // By phone, in any written form.
            (
                Some("+14155550111"),
                "Main Street",
                Some(("11", "call_center_phone")),
            ),
            (
                Some("(415) 555-0111"),
                "Main Street",
                Some(("11", "call_center_phone")),
            ),
            (
                Some("4155550111"),
                "Nowhere",
                Some(("11", "call_center_phone")),
            ),
            // Unknown number: the default center, case-insensitively.
            (
                Some("+14155559999"),
                "main street",
                Some(("10", "default_center_name")),
            ),
            (
                Some("+14155559999"),
                "MAIN  STREET ",
                Some(("10", "default_center_name")),
            ),
            // No number, or not a number: the default center.
            (None, "Oak Park", Some(("11", "default_center_name"))),
            (
                Some("anonymous"),
                "Oak Park",
                Some(("11", "default_center_name")),
            ),
            // Dashes in names.
            (None, "hill - side", Some(("13", "default_center_name"))),
            // An inactive center never matches by phone.
            (
                Some("+14155550122"),
                "Main Street",
                Some(("10", "default_center_name")),
            ),
            // The default name is honoured even when inactive.
            (None, "Retired", Some(("14", "default_center_name"))),
            // Nothing.
            (Some("+14155559999"), "Nowhere", None),
            (None, "  ", None),
        ];
        for (number, default, want) in cases {
            let want = want.map(|(id, rule)| (id.to_owned(), rule));
            assert_eq!(matched(number, default), want, "{number:?} / {default:?}");
        }
    }

    #[test]
    fn ties_go_to_the_smallest_id_whatever_the_order() {
        let mut cs = vec![
            center("9", "Dup", true, Some("+14155550100")),
            center("100", "Dup", true, Some("4155550100")),
            center("20", "Dup", false, Some("+14155550100")),
        ];
        for _ in 0..3 {
            cs.rotate_left(1);
            let m = match_center(&cs, Some("+14155550100"), "x");
            assert_eq!(m.map(|m| m.center.id.as_str()), Some("9"));
            let m = match_center(&cs, None, "dup");
            assert_eq!(m.map(|m| m.center.id.as_str()), Some("9"));
        }
    }

    #[test]
    fn an_active_center_is_preferred_by_name() {
        let cs = vec![
            center("1", "Main", false, None),
            center("2", "main", true, None),
        ];
        let m = match_center(&cs, None, "MAIN");
        assert_eq!(m.map(|m| m.center.id.as_str()), Some("2"));
    }
}
