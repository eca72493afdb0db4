//! Scope: the call center an event belongs to, and the enablement that applies to it.
//!
//! Only contact-center calls are in scope. The most specific enablement wins: call center, else
//! office, else company. An agent leg may carry no call-center marker of its own; it is then
//! in scope through its link to the call-center leg, which only the worker (with the
//! conversation's other legs) can see.

use serde::Serialize;

use crate::config::{Enablement, Installation, ScopeLevel};
use crate::event::{CallEvent, PartyKind};

/// Why an event is out of scope. The codes appear in logs and in the webhook's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IgnoreReason {
    /// A call on a user's own line, not routed through a call center.
    UserLine,
    /// A department (or call queue that is not a call center) call.
    Department,
    /// An office main-line call not routed through a call center.
    OfficeLine,
    /// A call-center call whose call center, office and company have no enablement.
    NotEnabled,
}

impl IgnoreReason {
    pub fn code(&self) -> &'static str {
        match self {
            IgnoreReason::UserLine => "user_line",
            IgnoreReason::Department => "department",
            IgnoreReason::OfficeLine => "office_line",
            IgnoreReason::NotEnabled => "not_enabled",
        }
    }
}

/// Where one event places its call, from its own fields only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A contact-center call of this call center (and office, when the event tells it).
    CallCenter {
        id: String,
        office_id: Option<String>,
        /// The call center's phone number, when the event carries it.
        number: Option<String>,
    },
    /// A leg linked to other legs, whose own fields do not name a call center.
    Linked,
    OutOfScope(IgnoreReason),
}

fn is(p: &Option<crate::event::Party>, kind: &PartyKind) -> bool {
    p.as_ref().is_some_and(|p| p.is(kind))
}

fn group_call_center(group_id: Option<&str>) -> Option<String> {
    let g = group_id?;
    let (prefix, id) = g.split_once(':')?;
    let prefix = prefix.trim().to_ascii_lowercase().replace('_', "");
    let id = id.trim();
    (prefix == "callcenter"
        && !id.is_empty()
        && id.chars().all(|c| c.is_ascii_digit())
        && id != "0")
        .then(|| id.to_owned())
}

fn group_is_department(group_id: Option<&str>) -> bool {
    group_id
        .and_then(|g| g.split_once(':'))
        .is_some_and(|(p, _)| p.trim().eq_ignore_ascii_case("department"))
}

/// Places one event from its own fields.
pub fn place(e: &CallEvent) -> Placement {
    let office_id = e
        .entry_point_target
        .as_ref()
        .filter(|p| p.is(&PartyKind::Office))
        .and_then(|p| p.id.clone());
    let cc = |p: &Option<crate::event::Party>| {
        p.as_ref()
            .filter(|p| p.is(&PartyKind::CallCenter))
            .and_then(|p| p.id.clone().map(|id| (id, p.phone.clone())))
    };
    if let Some((id, number)) = cc(&e.target) {
        // The call-center leg: its own number is the internal number when the target has none.
        let number = number.or_else(|| e.internal_number.clone());
        return Placement::CallCenter {
            id,
            office_id,
            number,
        };
    }
    // Without the call center's own phone, its number is the internal number: the number dialed
    // (inbound) or the caller id used (outbound through the call center).
    let internal = || e.internal_number.clone();
    if let Some((id, number)) = cc(&e.entry_point_target) {
        let number = number.or_else(internal);
        return Placement::CallCenter {
            id,
            office_id,
            number,
        };
    }
    if let Some(id) = group_call_center(e.group_id.as_deref()) {
        let number = internal();
        return Placement::CallCenter {
            id,
            office_id,
            number,
        };
    }
    if let Some((id, number)) = cc(&e.proxy_target) {
        // An outbound call placed with a call center's caller id (Dialer campaigns).
        let number = number.or_else(internal);
        return Placement::CallCenter {
            id,
            office_id,
            number,
        };
    }
    if is(&e.target, &PartyKind::Department)
        || is(&e.entry_point_target, &PartyKind::Department)
        || group_is_department(e.group_id.as_deref())
    {
        return Placement::OutOfScope(IgnoreReason::Department);
    }
    if is(&e.target, &PartyKind::Office) || is(&e.entry_point_target, &PartyKind::Office) {
        return Placement::OutOfScope(IgnoreReason::OfficeLine);
    }
    let linked = e.entry_point_call_id.is_some()
        || e.operator_call_id.is_some()
        || e.master_call_id.as_ref().is_some_and(|m| *m != e.call_id);
    if linked {
        Placement::Linked
    } else {
        Placement::OutOfScope(IgnoreReason::UserLine)
    }
}

/// The enablement for a call center (and office, when known): call center, else office, else
/// company.
pub fn select<'a>(
    inst: &'a Installation,
    call_center_id: &str,
    office_id: Option<&str>,
) -> Option<(usize, &'a Enablement)> {
    let find = |level: ScopeLevel, id: Option<&str>| {
        inst.enablements.iter().enumerate().find(|(_, e)| {
            e.scope.level == level && (level == ScopeLevel::Company || e.scope.id.as_deref() == id)
        })
    };
    find(ScopeLevel::CallCenter, Some(call_center_id))
        .or_else(|| office_id.and_then(|o| find(ScopeLevel::Office, Some(o))))
        .or_else(|| find(ScopeLevel::Company, None))
}

/// What the webhook does with one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision<'a> {
    /// In scope, under this enablement (its index in the config).
    Enabled {
        index: usize,
        enablement: &'a Enablement,
    },
    /// Possibly in scope: the worker decides once it sees the linked legs.
    Pending,
    Ignored(IgnoreReason),
}

/// Decides the scope of one event, from its own fields and the config.
pub fn decide<'a>(inst: &'a Installation, e: &CallEvent) -> Decision<'a> {
    match place(e) {
        Placement::OutOfScope(r) => Decision::Ignored(r),
        Placement::Linked => Decision::Pending,
        Placement::CallCenter { id, office_id, .. } => {
            match select(inst, &id, office_id.as_deref()) {
                Some((index, enablement)) => Decision::Enabled { index, enablement },
                None => {
                    let office_enablements = inst
                        .enablements
                        .iter()
                        .any(|e| e.scope.level == ScopeLevel::Office);
                    if office_id.is_none() && office_enablements {
                        Decision::Pending
                    } else {
                        Decision::Ignored(IgnoreReason::NotEnabled)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inst(enablements: serde_json::Value) -> Installation {
        Installation::from_value(&json!({
            "dialpad": {"allow_unsigned": true, "webhook_secrets": ["a-long-enough-secret"]},
            "connections": {"main": {"base_url": "https://ll.example", "username": "u", "password": "p"}},
            "enablements": enablements
        }), &crate::config::tests::TEST_CRMS)
        .unwrap()
    }

    fn en(level: &str, id: Option<&str>) -> serde_json::Value {
        let mut scope = json!({"level": level});
        if let Some(id) = id {
            scope["id"] = json!(id);
        }
        json!({"scope": scope, "connection": "main", "screen_pop": false, "default_center_name": "Main"})
    }

    fn ev(v: serde_json::Value) -> CallEvent {
        CallEvent::from_value(&v).unwrap()
    }

    #[test]
    fn call_center_from_each_marker() {
        let cases = [
            json!({"call_id": 1, "state": "hangup", "target": {"id": 77, "type": "callcenter"}}),
            json!({"call_id": 1, "state": "hangup", "target": {"id": "77", "type": "call_center"}}),
            json!({"call_id": 1, "state": "ringing", "target": {"id": 5, "type": "user"}, "entry_point_target": {"id": 77, "type": "callcenter"}}),
            json!({"call_id": 1, "state": "ringing", "target": {"id": 5, "type": "user"}, "group_id": "CallCenter:77"}),
            json!({"call_id": 1, "state": "calling", "direction": "outbound", "target": {"id": 5, "type": "user"}, "proxy_target": {"id": 77, "type": "callcenter"}}),
        ];
        for c in cases {
            match place(&ev(c.clone())) {
                Placement::CallCenter { id, .. } => assert_eq!(id, "77", "{c}"),
                other => panic!("{c}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_call_centers_number_falls_back_to_the_internal_number() {
        let e = ev(
            json!({"call_id": 1, "state": "ringing", "direction": "inbound", "internal_number": "+14155550100",
            "target": {"id": 5, "type": "user"}, "group_id": "CallCenter:77"}),
        );
        match place(&e) {
            Placement::CallCenter { number, .. } => {
                assert_eq!(number.as_deref(), Some("+14155550100"))
            }
            other => panic!("{other:?}"),
        }
        let e = ev(
            json!({"call_id": 1, "state": "ringing", "internal_number": "+14155550100",
            "target": {"id": 5, "type": "user"}, "entry_point_target": {"id": 77, "type": "callcenter", "phone": "+14155550199"}}),
        );
        match place(&e) {
            Placement::CallCenter { number, .. } => assert_eq!(
                number.as_deref(),
                Some("+14155550199"),
                "its own phone first"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn out_of_scope_lines() {
        let user_line =
            json!({"call_id": 1, "state": "ringing", "target": {"id": 5, "type": "user"}});
        assert_eq!(
            place(&ev(user_line)),
            Placement::OutOfScope(IgnoreReason::UserLine)
        );
        let dept =
            json!({"call_id": 1, "state": "ringing", "target": {"id": 5, "type": "department"}});
        assert_eq!(
            place(&ev(dept)),
            Placement::OutOfScope(IgnoreReason::Department)
        );
        let dept_group = json!({"call_id": 1, "state": "ringing", "target": {"id": 5, "type": "user"}, "group_id": "Department:9", "entry_point_call_id": 3});
        assert_eq!(
            place(&ev(dept_group)),
            Placement::OutOfScope(IgnoreReason::Department)
        );
        let office =
            json!({"call_id": 1, "state": "ringing", "target": {"id": 5, "type": "office"}});
        assert_eq!(
            place(&ev(office)),
            Placement::OutOfScope(IgnoreReason::OfficeLine)
        );
    }

    #[test]
    fn agent_leg_without_markers_is_linked() {
        let e = json!({"call_id": 1, "state": "recording", "target": {"id": 5, "type": "user"}, "entry_point_call_id": 2});
        assert_eq!(place(&ev(e)), Placement::Linked);
        let e = json!({"call_id": 1, "state": "recording", "target": {"id": 5, "type": "user"}, "master_call_id": 1});
        assert_eq!(
            place(&ev(e)),
            Placement::OutOfScope(IgnoreReason::UserLine),
            "a self-link is no link"
        );
    }

    #[test]
    fn most_specific_enablement_wins() {
        let i = inst(json!([
            en("company", None),
            en("office", Some("124")),
            en("call_center", Some("77"))
        ]));
        let cc = ev(
            json!({"call_id": 1, "state": "hangup", "target": {"id": 77, "type": "callcenter"}, "entry_point_target": {"id": 124, "type": "office"}}),
        );
        assert!(matches!(
            decide(&i, &cc),
            Decision::Enabled { index: 2, .. }
        ));
        let other_cc = ev(
            json!({"call_id": 1, "state": "hangup", "target": {"id": 78, "type": "callcenter"}, "entry_point_target": {"id": 124, "type": "office"}}),
        );
        assert!(matches!(
            decide(&i, &other_cc),
            Decision::Enabled { index: 1, .. }
        ));
        let other_office = ev(
            json!({"call_id": 1, "state": "hangup", "target": {"id": 78, "type": "callcenter"}, "entry_point_target": {"id": 125, "type": "office"}}),
        );
        assert!(matches!(
            decide(&i, &other_office),
            Decision::Enabled { index: 0, .. }
        ));
    }

    #[test]
    fn not_enabled_call_centers_are_ignored() {
        let i = inst(json!([en("call_center", Some("77"))]));
        let e = ev(
            json!({"call_id": 1, "state": "hangup", "target": {"id": 78, "type": "callcenter"}}),
        );
        assert_eq!(decide(&i, &e), Decision::Ignored(IgnoreReason::NotEnabled));
    }

    #[test]
    fn unknown_office_with_office_enablements_is_pending() {
        let i = inst(json!([en("office", Some("124"))]));
        let e = ev(
            json!({"call_id": 1, "state": "ringing", "target": {"id": 5, "type": "user"}, "group_id": "CallCenter:78"}),
        );
        assert_eq!(decide(&i, &e), Decision::Pending);
    }
}
