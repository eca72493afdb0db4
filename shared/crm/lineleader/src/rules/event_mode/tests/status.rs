use super::*;

fn statuses() -> Vec<Labeled> {
    vec![
        l("1", "New Lead"),
        l("2", "Contacted"),
        l("3", "Tour Scheduled"),
        l("4", "Interested"),
    ]
}

fn family(status_id: Option<&str>) -> Family {
    Family {
        id: "F1".into(),
        created: None,
        center_id: None,
        status_id: status_id.map(Into::into),
        status_name: None,
        phones: vec![],
        guardian_first_name: None,
        guardian_last_name: None,
    }
}

type Planned = Result<(String, String, bool), &'static str>;

fn status(disposition: Option<&str>, family: &Family) -> Planned {
    plan_status_change(
        disposition,
        &settings().disposition_status_map,
        family,
        &statuses(),
    )
    .map(|c| (c.status_id, c.rule_key, c.conditional))
    .map_err(|s| s.code())
}

fn ok(id: &str, key: &str, conditional: bool) -> Planned {
    Ok((id.into(), key.into(), conditional))
}

#[test]
fn status_table() {
    let new_lead = family(Some("1"));
    let contacted = family(Some("2"));
    let tour = family(Some("3"));
    let none = family(None);
    type Case<'a> = (&'a str, Option<&'a str>, &'a Family, Planned);
    let cases: [Case; 17] = [
        (
            "unconditional",
            Some("Follow-Up Needed"),
            &new_lead,
            ok("2", "Follow-Up Needed", false),
        ),
        (
            "case-insensitive",
            Some("follow-up NEEDED"),
            &new_lead,
            ok("2", "Follow-Up Needed", false),
        ),
        (
            "conditional wins when it holds",
            Some("Tour Booked"),
            &new_lead,
            ok("3", "Tour Booked (New Lead)", true),
        ),
        (
            "unconditional when the condition fails",
            Some("Tour Booked"),
            &tour,
            ok("2", "Tour Booked", false),
        ),
        (
            "condition failed",
            Some("Only If Lead"),
            &tour,
            Err("status_condition_failed"),
        ),
        (
            "condition failed without a status",
            Some("Only If Lead"),
            &none,
            Err("status_condition_failed"),
        ),
        (
            "conditional alone",
            Some("only if lead"),
            &new_lead,
            ok("2", "Only If Lead (New Lead)", true),
        ),
        (
            "no disposition",
            None,
            &new_lead,
            Err("status_no_disposition"),
        ),
        (
            "blank disposition",
            Some("  "),
            &new_lead,
            Err("status_no_disposition"),
        ),
        (
            "not in map",
            Some("Wrong Number"),
            &new_lead,
            Err("status_not_in_map"),
        ),
        (
            "target unknown",
            Some("Ghost"),
            &new_lead,
            Err("status_target_not_found"),
        ),
        (
            "already there",
            Some("Follow-Up Needed"),
            &contacted,
            Err("status_unchanged"),
        ),
        (
            "dashes",
            Some("Connected - Interested"),
            &new_lead,
            ok("4", "Connected – Interested", false),
        ),
        (
            "two-level full conditional",
            Some("Connected~Interested"),
            &new_lead,
            ok("3", "Connected~Interested (New Lead)", true),
        ),
        // The full label's conditional fails: the sub-disposition is not mapped, the category is.
        (
            "two-level falls back to the category",
            Some("Connected~Interested"),
            &tour,
            ok("2", "Connected", false),
        ),
        (
            "two-level sub",
            Some("Busy~Follow-Up Needed"),
            &new_lead,
            ok("2", "Follow-Up Needed", false),
        ),
        (
            "two-level category",
            Some("Connected ~ Voicemail"),
            &new_lead,
            ok("2", "Connected", false),
        ),
    ];
    for (name, disposition, fam, want) in cases {
        assert_eq!(status(disposition, fam), want, "{name}");
    }
}

#[test]
fn the_current_status_is_read_by_name_or_id() {
    // Read with a name only.
    let mut f = family(None);
    f.status_name = Some("new lead".into());
    assert_eq!(
        status(Some("Tour Booked"), &f),
        ok("3", "Tour Booked (New Lead)", true)
    );
    // An id not in the statuses list and no name: the condition fails.
    let f = family(Some("99"));
    assert_eq!(
        status(Some("Only If Lead"), &f),
        Err("status_condition_failed")
    );
    // Already in the target, known by name only.
    let mut f = family(None);
    f.status_name = Some("CONTACTED".into());
    assert_eq!(
        status(Some("Follow-Up Needed"), &f),
        Err("status_unchanged")
    );
}

#[test]
fn condition_failed_detail_names_the_rules_and_the_status() {
    let e = plan_status_change(
        Some("Only If Lead"),
        &settings().disposition_status_map,
        &family(Some("3")),
        &statuses(),
    )
    .unwrap_err();
    assert_eq!(e.reason, SkipReason::StatusConditionFailed);
    assert!(e.detail.contains("\"Tour Scheduled\""), "{}", e.detail);
    assert!(
        e.detail.contains("\"Only If Lead (New Lead)\""),
        "{}",
        e.detail
    );
}

#[test]
fn the_target_status_is_resolved_as_a_label() {
    let rules = vec![StatusRule {
        disposition: "Tour".into(),
        required_status: Some("new – lead".into()),
        status: "TOUR  SCHEDULED".into(),
    }];
    let mut statuses = statuses();
    statuses[0].label = "New - Lead".into();
    let c = plan_status_change(Some("tour"), &rules, &family(Some("1")), &statuses).unwrap();
    assert_eq!(
        c,
        StatusChange {
            status_id: "3".into(),
            status_label: "Tour Scheduled".into(),
            rule_key: "Tour (new – lead)".into(),
            conditional: true,
        }
    );
}
