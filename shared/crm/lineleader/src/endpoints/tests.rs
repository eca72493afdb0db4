use super::*;
use chrono::TimeZone;

#[test]
fn labels_and_ids_in_every_form() {
    let link = json!({"id": 12, "values": {"name": "Enrolled"}});
    assert_eq!(
        labeled(&link),
        Some(Labeled {
            id: "12".into(),
            label: "Enrolled".into()
        })
    );
    let typ = json!({"id": "7", "values": {"value": "Phone Call"}});
    assert_eq!(labeled(&typ).map(|l| l.label), Some("Phone Call".into()));
    let flat = json!({"id": 3, "name": "Tour Scheduled"});
    assert_eq!(labeled(&flat).map(|l| l.id), Some("3".into()));
    assert_eq!(id_of(&json!(44)), Some("44".into()));
    assert_eq!(id_of(&json!("abc")), Some("abc".into()));
    assert_eq!(labeled(&json!({"values": {"name": "x"}})), None);
}

#[test]
fn list_envelopes() {
    let bare = json!([{"id": 1}]);
    let data = json!({"data": [{"id": 1}]});
    let items = json!({"items": [{"id": 1}], "total": 1});
    for v in [bare, data, items] {
        assert_eq!(list_items(&v).map(Vec::len), Some(1));
    }
    assert!(list_items(&json!({"error": "x"})).is_none());
}

#[test]
fn centers_flat_or_linked() {
    let c = center(&json!({
        "id": 5, "values": {"name": "Oak Park"}, "active": "1",
        "call_center_phone": {"number": "(415) 555-0100", "number_e164": "+14155550100"},
        "time_zone": "America/Chicago"
    }))
    .unwrap();
    assert_eq!(c.name, "Oak Park");
    assert!(c.active);
    assert_eq!(c.call_center_phone.as_deref(), Some("+14155550100"));
    assert_eq!(c.timezone.as_deref(), Some("America/Chicago"));
    let c = center(
        &json!({"id": "6", "name": "Elm", "call_center_phone": "4155550101",
        "active": false}),
    )
    .unwrap();
    assert_eq!(c.call_center_phone.as_deref(), Some("4155550101"));
    assert!(!c.active);
}

#[test]
fn families_with_links_or_flat_ids() {
    let f = family_record(&json!({
        "id": 901, "created_date": "2026-05-28 04:30:00",
        "center": {"id": 5, "values": {"name": "Oak Park"}},
        "status": {"id": 2, "values": {"name": "New Lead"}},
        "primary_guardian": {"first_name": "Ana", "last_name": "Lee",
            "primary_phone": {"number": "(415) 815-9602"}}
    }))
    .unwrap();
    assert_eq!(f.id, "901");
    assert_eq!(f.center_id.as_deref(), Some("5"));
    assert_eq!(f.status_id.as_deref(), Some("2"));
    assert_eq!(f.status_name.as_deref(), Some("New Lead"));
    assert_eq!(f.phones, vec!["(415) 815-9602".to_string()]);
    assert_eq!(
        f.created,
        Some(Utc.with_ymd_and_hms(2026, 5, 28, 4, 30, 0).unwrap())
    );
    let f = family_record(&json!({"data": {"id": "x1", "center_id": 5, "status": 3,
        "primary_guardian": {"primary_phone": "4158159602"}}}))
    .unwrap();
    assert_eq!(f.center_id.as_deref(), Some("5"));
    assert_eq!(f.status_id.as_deref(), Some("3"));
    assert_eq!(f.status_name, None);
    assert_eq!(f.phones, vec!["4158159602".to_string()]);
}

#[test]
fn completed_task_keeps_the_task_and_writes_plain_ids() {
    let raw = json!({"id": 77, "type": {"id": 4, "values": {"value": "Phone Call"}},
        "family": {"id": 901, "values": {"name": "Lee"}}, "description": "call back",
        "due_date_time": "2026-05-28T16:00:00Z", "is_completed": false});
    let at = Utc.timestamp_millis_opt(1_780_000_000_123).unwrap();
    let body = completed_task_body(
        &raw,
        &TaskCompletion {
            completed_at: at,
            completed_by_staff_id: "31".into(),
            result_type_id: "8".into(),
            result_description: "Spoke".into(),
        },
    );
    assert_eq!(body["type"], json!(4));
    assert_eq!(body["family"], json!(901));
    assert_eq!(body["description"], json!("call back"));
    assert_eq!(body["is_completed"], json!(true));
    assert_eq!(body["completed_by_user_id"], json!(31));
    assert_eq!(body["result_type"], json!(8));
    let ts = body["completed_date_time"].as_str().unwrap();
    assert_eq!(ts.len(), 20, "{ts}");
    assert!(ts.ends_with(":40Z"), "{ts}");
}

#[test]
fn timestamps_have_whole_seconds() {
    let t = Utc.timestamp_millis_opt(1_780_000_000_999).unwrap();
    assert_eq!(timestamp(&t), "2026-05-28T20:26:40Z");
}

#[test]
fn plain_ids_are_numbers_when_numeric() {
    assert_eq!(plain_id("42"), json!(42));
    assert_eq!(plain_id("a-1"), json!("a-1"));
}

#[test]
fn path_labels_hide_ids() {
    let paths = Paths::default();
    assert_eq!(
        label(&paths.with_id(Endpoint::Family, "901")),
        "/families/{id}"
    );
    assert_eq!(label(&paths.with_id(Endpoint::Task, "77")), "/tasks/{id}");
}

#[test]
fn overrides_replace_the_default_paths_and_the_search_parameter() {
    let mut api = ApiSettings::default();
    api.paths.insert(Endpoint::PhoneLogs, "/phone-logs".into());
    api.paths
        .insert(Endpoint::Family, "/family/{id}/profile".into());
    api.family_search_param = "phone_number".into();
    api.family_search_format = SearchFormat::E164;
    let paths = Paths::new(api);
    assert_eq!(paths.get(Endpoint::PhoneLogs), "/phone-logs");
    assert_eq!(paths.get(Endpoint::Events), "/events");
    assert_eq!(
        paths.with_id(Endpoint::Family, "a/b"),
        "/family/a%2Fb/profile"
    );
    let phone = Phone::parse("415-815-9602").expect("a number");
    assert_eq!(
        paths.search_query(&phone),
        vec![("phone_number", "+14158159602".to_owned())]
    );
    assert_eq!(
        Paths::default().search_query(&phone),
        vec![("phone", "4158159602".to_owned())]
    );
}
