use chrono::TimeZone;
use proptest::prelude::*;

use super::*;

const CALLER: &str = "+14158159602";

fn caller() -> Phone {
    Phone::parse(CALLER).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 28, 12, 0, 0).unwrap()
}

fn at(minutes_before_now: i64) -> Option<DateTime<Utc>> {
    Some(now() - Duration::minutes(minutes_before_now))
}

fn fam(
    id: &str,
    center: Option<&str>,
    created: Option<DateTime<Utc>>,
    status: Option<&str>,
) -> Family {
    Family {
        id: id.into(),
        created,
        center_id: center.map(Into::into),
        status_id: status.map(Into::into),
        status_name: None,
        phones: vec!["(415) 815-9602".into()],
        guardian_first_name: None,
        guardian_last_name: None,
    }
}

fn statuses() -> Vec<Labeled> {
    [
        ("1", "New Lead"),
        ("2", "Tour Scheduled"),
        ("3", "Enrolled"),
        ("4", "Contacted"),
    ]
    .iter()
    .map(|(id, label)| Labeled {
        id: (*id).into(),
        label: (*label).into(),
    })
    .collect()
}

struct Ctx {
    center: Option<&'static str>,
    names: Vec<String>,
    ids: Vec<String>,
    statuses: Vec<Labeled>,
}

impl Ctx {
    fn new() -> Ctx {
        Ctx {
            center: Some("C1"),
            names: vec!["Tour Scheduled".into(), "new lead".into()],
            ids: vec![],
            statuses: statuses(),
        }
    }

    fn run(&self, results: &[Family]) -> FamilyMatch {
        let ctx = FamilyContext {
            center_id: self.center,
            statuses: &self.statuses,
            status_prioritization: &self.names,
            family_status_priority_ids: &self.ids,
            now: now(),
        };
        match_family(&caller(), results, &ctx)
    }
}

fn matched(id: &str, rule: FamilyRule) -> FamilyDecision {
    FamilyDecision::Matched {
        family_id: id.into(),
        rule,
    }
}

fn ambiguous(ids: &[&str]) -> FamilyDecision {
    FamilyDecision::Ambiguous {
        candidate_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[test]
fn single_match() {
    let m = Ctx::new().run(&[fam("7", None, None, None)]);
    assert_eq!(m.decision, matched("7", FamilyRule::Single));
    assert_eq!(m.decision.code(), "family_matched");
    assert!(m.rejected_ids.is_empty());
}

#[test]
fn no_match() {
    let m = Ctx::new().run(&[]);
    assert_eq!(m.decision, FamilyDecision::NoMatch);
    assert_eq!(m.decision.code(), "family_no_match");
}

#[test]
fn search_results_are_rechecked_client_side() {
    let mut other = fam("8", Some("C1"), at(0), None);
    other.phones = vec!["415-815-9603".into(), "not a number".into()];
    let mut typed = fam("9", Some("C2"), at(60), None);
    typed.phones = vec!["".into(), "+1 415 815 9602".into()];
    let m = Ctx::new().run(&[other.clone(), typed]);
    assert_eq!(m.decision, matched("9", FamilyRule::Single));
    assert_eq!(m.rejected_ids, ["8"]);

    let m = Ctx::new().run(&[other]);
    assert_eq!(m.decision, FamilyDecision::NoMatch);
    assert_eq!(m.rejected_ids, ["8"]);

    let mut no_phone = fam("10", None, None, None);
    no_phone.phones.clear();
    assert_eq!(
        Ctx::new().run(&[no_phone]).decision,
        FamilyDecision::NoMatch
    );
}

#[test]
fn every_written_form_of_the_number_matches() {
    for form in [
        "(415) 815-9602",
        "415-815-9602",
        "+14158159602",
        "4158159602",
        "1 415 815 9602",
    ] {
        let mut f = fam("1", None, None, None);
        f.phones = vec![form.into()];
        assert!(has_number(&f, &caller()), "{form}");
    }
}

#[test]
fn duplicate_results_count_once() {
    let f = fam("5", Some("C9"), at(100), None);
    let m = Ctx::new().run(&[f.clone(), f]);
    assert_eq!(m.decision, matched("5", FamilyRule::Single));
}

#[test]
fn a_duplicate_with_the_callers_number_is_preferred() {
    let mut stale = fam("7", None, None, None);
    stale.phones = vec!["415-815-0000".into()];
    let fresh = fam("7", None, None, None);
    for results in [[stale.clone(), fresh.clone()], [fresh, stale]] {
        let m = Ctx::new().run(&results);
        assert_eq!(m.decision, matched("7", FamilyRule::Single));
        assert!(m.rejected_ids.is_empty());
    }
}

#[test]
fn center_filter() {
    let results = [
        fam("1", Some("C1"), at(0), Some("3")),
        fam("2", Some("C2"), at(0), Some("3")),
        fam("3", None, at(0), Some("3")),
    ];
    assert_eq!(
        Ctx::new().run(&results).decision,
        matched("1", FamilyRule::CenterFilter)
    );
}

#[test]
fn center_filter_keeps_all_when_none_is_in_the_center() {
    // None in C1: all are kept, then the recency window decides.
    let results = [
        fam("1", Some("C2"), at(30), None),
        fam("2", Some("C3"), at(0), None),
    ];
    assert_eq!(
        Ctx::new().run(&results).decision,
        matched("2", FamilyRule::RecencyWindow)
    );
    // No matched center: the same.
    let mut ctx = Ctx::new();
    ctx.center = None;
    assert_eq!(
        ctx.run(&results).decision,
        matched("2", FamilyRule::RecencyWindow)
    );
}

#[test]
fn recency_window_is_ten_minutes_inclusive() {
    let results = [
        fam("1", Some("C1"), at(0), Some("1")),
        fam("2", Some("C1"), at(10), Some("2")),
        fam("3", Some("C1"), at(11), Some("2")),
    ];
    // 1 and 2 are within 10 minutes; 2 has the higher-priority status.
    assert_eq!(
        Ctx::new().run(&results).decision,
        matched("2", FamilyRule::StatusPriority)
    );

    let results = [
        fam("1", Some("C1"), at(0), None),
        fam("3", Some("C1"), at(11), None),
    ];
    assert_eq!(
        Ctx::new().run(&results).decision,
        matched("1", FamilyRule::RecencyWindow)
    );
}

#[test]
fn recency_window_only_applies_after_the_center_filter() {
    // The newest overall is in another center; within C1 the window is measured from C1's newest.
    let results = [
        fam("1", Some("C2"), at(0), None),
        fam("2", Some("C1"), at(60), None),
        fam("3", Some("C1"), at(65), None),
        fam("4", Some("C1"), at(90), None),
    ];
    assert_eq!(Ctx::new().run(&results).decision, ambiguous(&["2", "3"]));
}

#[test]
fn families_without_a_creation_date() {
    // Dropped when another has a date.
    let results = [
        fam("1", Some("C1"), None, None),
        fam("2", Some("C1"), at(500), None),
    ];
    assert_eq!(
        Ctx::new().run(&results).decision,
        matched("2", FamilyRule::RecencyWindow)
    );
    // Kept when none has one: the status decides.
    let results = [
        fam("1", Some("C1"), None, Some("4")),
        fam("2", Some("C1"), None, Some("1")),
    ];
    assert_eq!(
        Ctx::new().run(&results).decision,
        matched("2", FamilyRule::StatusPriority)
    );
}

#[test]
fn a_future_creation_date_counts_as_now() {
    let future = Some(now() + Duration::hours(5));
    let results = [
        fam("1", Some("C1"), future, Some("1")),
        fam("2", Some("C1"), at(5), Some("2")),
    ];
    assert_eq!(
        Ctx::new().run(&results).decision,
        matched("2", FamilyRule::StatusPriority)
    );
}

#[test]
fn status_priority_by_name() {
    let results = [
        fam("1", Some("C1"), at(0), Some("1")),
        fam("2", Some("C1"), at(1), Some("2")),
        fam("3", Some("C1"), at(2), Some("3")),
    ];
    assert_eq!(
        Ctx::new().run(&results).decision,
        matched("2", FamilyRule::StatusPriority)
    );
}

#[test]
fn statuses_not_in_the_list_rank_last() {
    let results = [
        fam("1", Some("C1"), at(0), Some("3")),
        fam("2", Some("C1"), at(1), None),
        fam("3", Some("C1"), at(2), Some("1")),
    ];
    assert_eq!(
        Ctx::new().run(&results).decision,
        matched("3", FamilyRule::StatusPriority)
    );
    // None in the list: no decision.
    let results = [
        fam("1", Some("C1"), at(0), Some("3")),
        fam("2", Some("C1"), at(1), Some("4")),
    ];
    assert_eq!(Ctx::new().run(&results).decision, ambiguous(&["1", "2"]));
}

#[test]
fn status_names_are_resolved_against_the_statuses_list() {
    let mut ctx = Ctx::new();
    ctx.names = vec![
        "Waitlisted".into(),
        "ENROLLED".into(),
        "Tour – Scheduled".into(),
    ];
    let mut statuses = statuses();
    statuses[1].label = "Tour - Scheduled".into();
    ctx.statuses = statuses;
    let results = [
        fam("1", Some("C1"), at(0), Some("2")),
        fam("2", Some("C1"), at(1), Some("3")),
    ];
    let m = ctx.run(&results);
    assert_eq!(m.decision, matched("2", FamilyRule::StatusPriority));
    assert_eq!(m.unresolved_priority_names, ["Waitlisted"]);
}

#[test]
fn a_family_read_with_a_status_name_only_ranks_by_name() {
    let mut by_name = fam("1", Some("C1"), at(0), None);
    by_name.status_name = Some("tour scheduled".into());
    let results = [by_name, fam("2", Some("C1"), at(1), Some("1"))];
    assert_eq!(
        Ctx::new().run(&results).decision,
        matched("1", FamilyRule::StatusPriority)
    );
}

#[test]
fn legacy_ids_only_when_names_are_unset() {
    let results = [
        fam("1", Some("C1"), at(0), Some("1")),
        fam("2", Some("C1"), at(1), Some("3")),
    ];
    let mut ctx = Ctx::new();
    ctx.ids = vec!["3".into(), "1".into()];
    // Names set: the names win (New Lead over Enrolled, which is not listed).
    assert_eq!(
        ctx.run(&results).decision,
        matched("1", FamilyRule::StatusPriority)
    );
    // Names unset: the legacy ids.
    ctx.names = vec![];
    assert_eq!(
        ctx.run(&results).decision,
        matched("2", FamilyRule::StatusPriority)
    );
    // Blank names count as unset.
    ctx.names = vec!["  ".into()];
    assert_eq!(
        ctx.run(&results).decision,
        matched("2", FamilyRule::StatusPriority)
    );
    // Neither: ambiguous.
    ctx.ids = vec![];
    let m = ctx.run(&results);
    assert_eq!(m.decision, ambiguous(&["1", "2"]));
    assert_eq!(m.decision.code(), "family_ambiguous");
}

#[test]
fn names_that_resolve_to_nothing_give_no_priority() {
    let mut ctx = Ctx::new();
    ctx.names = vec!["Unknown".into()];
    ctx.ids = vec!["1".into()];
    let results = [
        fam("1", Some("C1"), at(0), Some("1")),
        fam("2", Some("C1"), at(1), Some("3")),
    ];
    let m = ctx.run(&results);
    // The legacy ids are not used when names are configured, even unresolvable ones.
    assert_eq!(m.decision, ambiguous(&["1", "2"]));
    assert_eq!(m.unresolved_priority_names, ["Unknown"]);
}

#[test]
fn ambiguous_lists_the_remaining_candidates_in_id_order() {
    let results = [
        fam("10", Some("C1"), at(0), Some("2")),
        fam("9", Some("C1"), at(1), Some("2")),
        fam("11", Some("C1"), at(2), Some("1")),
        fam("12", Some("C2"), at(2), Some("2")),
    ];
    assert_eq!(Ctx::new().run(&results).decision, ambiguous(&["9", "10"]));
}

#[test]
fn rule_codes() {
    let codes: Vec<&str> = [
        FamilyRule::Single,
        FamilyRule::CenterFilter,
        FamilyRule::RecencyWindow,
        FamilyRule::StatusPriority,
    ]
    .iter()
    .map(FamilyRule::code)
    .collect();
    assert_eq!(
        codes,
        [
            "single",
            "center_filter",
            "recency_window",
            "status_priority"
        ]
    );
}

#[test]
fn new_family_placeholder() {
    let nf = new_family(&Phone::parse("(415) 815-9602").unwrap(), "C1", "S1", "I1");
    assert_eq!(
        nf,
        NewFamily {
            center_id: "C1".into(),
            source_type_id: "S1".into(),
            inquiry_type_id: "I1".into(),
            first_name: "Unknown".into(),
            last_name: "Caller 9602".into(),
            phone: "4158159602".into(),
        }
    );
    let uk = new_family(&Phone::parse("+442079460958").unwrap(), "C1", "S1", "I1");
    assert_eq!(uk.phone, "+442079460958");
    assert_eq!(uk.last_name, "Caller 0958");
}

fn arb_family() -> impl Strategy<Value = Family> {
    (
        0u8..12,
        prop::option::of(prop_oneof![Just("C1"), Just("C2")]),
        prop::option::of(0i64..40),
        prop::option::of(prop_oneof![Just("1"), Just("2"), Just("3"), Just("9")]),
        any::<bool>(),
    )
        .prop_map(|(id, center, created, status, ours)| {
            let mut f = fam(&id.to_string(), center, created.and_then(at), status);
            if !ours {
                f.phones = vec!["415-815-0000".into()];
            }
            f
        })
}

proptest! {
    #[test]
    fn the_outcome_does_not_depend_on_the_order_of_results(
        families in prop::collection::vec(arb_family(), 0..8),
        seed in any::<u64>(),
    ) {
        // Ids are unique in a search result.
        let mut seen = std::collections::BTreeSet::new();
        let families: Vec<Family> = families.into_iter().filter(|f| seen.insert(f.id.clone())).collect();
        let mut shuffled = families.clone();
        let n = shuffled.len();
        let mut s = seed;
        for i in (1..n).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = (s >> 33) as usize % (i + 1);
            shuffled.swap(i, j);
        }
        let ctx = Ctx::new();
        prop_assert_eq!(ctx.run(&families), ctx.run(&shuffled));
    }

    #[test]
    fn a_match_is_always_one_of_the_callers_families(
        families in prop::collection::vec(arb_family(), 0..8),
    ) {
        let ctx = Ctx::new();
        let m = ctx.run(&families);
        let ours: Vec<&Family> = families.iter().filter(|f| has_number(f, &caller())).collect();
        match &m.decision {
            FamilyDecision::Matched { family_id, .. } => {
                prop_assert!(ours.iter().any(|f| &f.id == family_id));
            }
            FamilyDecision::NoMatch => prop_assert!(ours.is_empty()),
            FamilyDecision::Ambiguous { candidate_ids } => {
                prop_assert!(candidate_ids.len() >= 2);
                for id in candidate_ids {
                    prop_assert!(ours.iter().any(|f| &f.id == id));
                }
            }
        }
    }
}
