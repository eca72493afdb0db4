//! The sandboxes' own HTTP behaviour: the contract's refusals, and the hooks through the
//! `Inspector`.

use llbridge_sandbox::{start_local, Dataset, FaultRule, Faults, Inspector, Sandboxes};
use serde_json::{json, Value};

async fn login(sb: &Sandboxes, http: &reqwest::Client) -> String {
    let resp = http
        .post(format!("{}/api/v3/login", sb.lineleader_url))
        .json(&json!({"username": "sandbox", "password": "sandbox"}))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    assert!(body["refresh_token"].is_string());
    body["token"].as_str().expect("token").to_owned()
}

async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Option<String>, Value) {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let total = resp
        .headers()
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, total, body)
}

#[tokio::test]
async fn the_contract_refuses_what_it_should() {
    let sb = start_local().await.expect("start");
    let http = reqwest::Client::new();
    let api = |p: &str| format!("{}/api/v3{p}", sb.lineleader_url);
    use reqwest::Method as M;

    let (s, _, b) = send(&http, M::GET, api("/statuses"), None, None).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("missing bearer token"))
    );
    let (s, _, _) = send(&http, M::GET, api("/statuses"), Some("a.b.c"), None).await;
    assert_eq!(s, 401);

    let token = login(&sb, &http).await;
    let t = Some(token.as_str());
    let (s, total, b) = send(&http, M::GET, api("/centers?limit=2&offset=1"), t, None).await;
    assert_eq!((s, total.as_deref()), (200, Some("4")));
    assert_eq!(b.as_array().map(Vec::len), Some(2));
    assert_eq!(b[0]["call_center_phone"]["number_e164"], "+14155550101");
    assert_eq!(b[0]["call_center_phone"]["number"], "(415) 555-0101");
    let (s, _, b) = send(&http, M::GET, api("/centers?limit=101"), t, None).await;
    assert_eq!(s, 400, "{b}");
    let (s, _, b) = send(
        &http,
        M::GET,
        api("/families/search?phone=%2B14158159602"),
        t,
        None,
    )
    .await;
    assert_eq!((s, b[0]["id"].as_u64()), (200, Some(1001)));
    let (s, _, _) = send(&http, M::GET, api("/families/search"), t, None).await;
    assert_eq!(s, 400);
    let (s, _, _) = send(&http, M::GET, api("/families/424242"), t, None).await;
    assert_eq!(s, 404);

    let event = json!({"family_id": 1001, "staff_id": 201, "type_id": 41,
        "date_time": "2026-05-28T04:30:00.123Z", "description": "x"});
    let (s, _, b) = send(&http, M::POST, api("/events"), t, Some(event.clone())).await;
    assert_eq!(s, 400);
    assert!(
        b["error"].as_str().unwrap_or("").contains("milliseconds"),
        "{b}"
    );
    let mut ok = event;
    ok["date_time"] = json!("2026-05-28T04:30:00Z");
    let (s, _, b) = send(&http, M::POST, api("/events"), t, Some(ok)).await;
    assert_eq!(s, 201);
    assert!(b["id"].is_u64());

    let (_, _, task) = send(&http, M::GET, api("/tasks/5001"), t, None).await;
    assert_eq!(task["type"]["values"]["value"], "Phone Call");
    let (s, _, b) = send(&http, M::PUT, api("/tasks/5001"), t, Some(task.clone())).await;
    assert_eq!(s, 400, "link objects are refused in writes: {b}");
    let mut plain = task;
    plain["type"] = json!(31);
    plain["family"] = json!(1001);
    let (s, _, _) = send(&http, M::PUT, api("/tasks/5001"), t, Some(plain)).await;
    assert_eq!(s, 200);

    let resp = http
        .post(api("/families"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let b: Value = resp.json().await.expect("a JSON reason");
    assert!(b["error"].is_string());
    let (s, _, b) = send(
        &http,
        M::GET,
        format!("{}/nowhere", sb.lineleader_url),
        t,
        None,
    )
    .await;
    assert_eq!((s, b["error"].is_string()), (404, true));
    sb.shutdown().await;
}

#[tokio::test]
async fn the_hooks_reset_inspect_fault_and_revoke() {
    let sb = start_local().await.expect("start");
    let http = reqwest::Client::new();
    let ll = Inspector::new(&sb.lineleader_url);
    let dp = Inspector::new(&sb.dialpad_url);

    let mut data = Dataset::demo(chrono::Utc::now());
    data.families.truncate(1);
    ll.reset(Some(&data)).await.expect("reset");
    assert_eq!(ll.state().await.expect("state").data.families.len(), 1);

    let token = login(&sb, &http).await;
    ll.set_faults(&Faults {
        rules: vec![FaultRule::fail("GET", "/statuses", 503, Some(1))],
        ..Faults::default()
    })
    .await
    .expect("faults");
    let url = format!("{}/api/v3/statuses", sb.lineleader_url);
    let first = send(&http, reqwest::Method::GET, url.clone(), Some(&token), None).await;
    let second = send(&http, reqwest::Method::GET, url.clone(), Some(&token), None).await;
    assert_eq!((first.0, second.0), (503, 200));
    let log = ll.requests().await.expect("requests");
    let statuses: Vec<(String, u16, bool)> = log
        .iter()
        .map(|r| (r.path.clone(), r.status, r.faulted))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("/api/v3/login".to_string(), 200, false),
            ("/api/v3/statuses".to_string(), 503, true),
            ("/api/v3/statuses".to_string(), 200, false),
        ]
    );
    assert_eq!(log[0].body["password"], "***");

    ll.revoke_tokens().await.expect("revoke");
    let third = send(&http, reqwest::Method::GET, url, Some(&token), None).await;
    assert_eq!(third.0, 401);

    ll.configure(&json!({"token_lifetime_secs": 5}))
        .await
        .expect("config");
    assert_eq!(sb.lineleader.config().token_lifetime_secs, 5);
    assert_eq!(
        sb.lineleader.config().username,
        "sandbox",
        "other fields kept"
    );

    let pop = http
        .post(format!("{}/api/v2/users/7/screenpop", sb.dialpad_url))
        .bearer_auth("sandbox-dialpad-key")
        .json(&json!({"screen_pop_uri": "https://x/#/families/1"}))
        .send()
        .await
        .expect("pop");
    assert_eq!(pop.status().as_u16(), 200);
    let pops = dp.pops().await.expect("pops");
    assert_eq!(pops.len(), 1);
    assert_eq!(
        (pops[0].user_id.as_str(), pops[0].outcome.as_str()),
        ("7", "sent")
    );
    dp.reset(None).await.expect("reset");
    assert!(dp.pops().await.expect("pops").is_empty());
    sb.shutdown().await;
}
