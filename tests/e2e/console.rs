//! The console over HTTP, as a browser drives it: the one-time token for an HttpOnly,
//! SameSite=Strict cookie (and nothing without it); the overview's numbers are the report's;
//! filtering to dropped shows exactly the dropped calls; a call's page shows its family
//! decision; a dead letter is replayed from its page (with the form's CSRF token, not
//! without) and the ledger says so; another site's request is refused.

use super::BACKEND;

use llbridge_tests::console::{replayed, report_of_the_day, three_calls, Scripted};
use llbridge_tests::scenario::Scenario;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::redirect::Policy;

struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Browser {
    fn new(s: &Scenario) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
            base: format!("http://{}", s.host.addr),
            cookie: None,
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        let r = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    async fn post(&self, path: &str, form: &str, origin: Option<&str>) -> (u16, String) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned());
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        if let Some(o) = origin {
            req = req.header(ORIGIN, o);
        }
        let r = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, location)
    }
}

/// The value of `name="csrf"` in a page.
fn csrf(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_console_shows_every_call_and_replays_a_dead_letter_for_its_session_only() {
    let Scripted {
        s,
        logged,
        dropped,
        given_up,
    } = three_calls(BACKEND).await;

    let mut b = Browser::new(&s);
    // Without the token, or with a wrong one: nothing.
    assert_eq!(b.get("/_llbridge/console/").await.0, 401);
    assert_eq!(b.get("/_llbridge/console?token=nope").await.0, 401);
    // The token for a cookie.
    let url = s
        .host
        .console_url()
        .unwrap_or_else(|| panic!("no console URL"));
    let path = url.trim_start_matches(&b.base).to_owned();
    let r = b
        .http
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 303);
    let set = r
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    // The token is spent.
    assert_eq!(b.get(&path).await.0, 401);
    assert!(s.host.console_url().is_none());
    // `llbridge console --url` asks the host for a fresh one: it works once.
    let fresh: serde_json::Value = b
        .http
        .post(format!("{}/_llbridge/console/token", b.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let fresh = fresh["path"].as_str().unwrap_or_default().to_owned();
    assert!(fresh.starts_with("/_llbridge/console?token="), "{fresh}");
    assert_eq!(b.get(&fresh).await.0, 303);
    assert_eq!(b.get(&fresh).await.0, 401, "once");
    b.cookie = set.split(';').next().map(str::to_owned);

    // The overview's numbers are the report's.
    let report = report_of_the_day(&s).await;
    let (status, overview) = b.get("/_llbridge/console/?period=24h").await;
    assert_eq!(status, 200, "{overview}");
    for (label, n) in [
        ("calls", report.calls),
        ("logged", report.logged),
        ("dropped", report.dropped.values().sum::<usize>()),
        ("dead letters", report.dead_letters),
    ] {
        assert!(
            overview.contains(&format!("<b>{n}</b>{label}")),
            "{label} {n}: {overview}"
        );
    }

    // A custom period: yesterday to today holds the same calls; a day before has none; a
    // period that cannot be read says so.
    let today = chrono::Utc::now().date_naive();
    let day = |n: u64| (today - chrono::Days::new(n)).to_string();
    let (status, custom) = b
        .get(&format!(
            "/_llbridge/console/?period=custom&from={}&to={}",
            day(1),
            day(0)
        ))
        .await;
    assert_eq!(status, 200, "{custom}");
    assert!(
        custom.contains(&format!("<b>{}</b>calls", report.calls)),
        "{custom}"
    );
    assert!(custom.contains("<strong>custom</strong>"), "{custom}");
    let (_, before) = b
        .get(&format!(
            "/_llbridge/console/calls?period=custom&from={}&to={}",
            day(3),
            day(2)
        ))
        .await;
    assert!(before.contains("<p>0 call(s)</p>"), "{before}");
    for wrong in ["from=yesterday", "from=2020-01-01", "from=2999-01-01"] {
        let (status, page) = b
            .get(&format!("/_llbridge/console/?period=custom&{wrong}"))
            .await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("id=\"period-error\""), "{wrong}: {page}");
    }

    // A call found by a leg's id, whatever the period.
    let (_, found) = b
        .get(&format!(
            "/_llbridge/console/calls?period=custom&from={}&to={}&q={}",
            day(3),
            day(2),
            logged.cc_leg
        ))
        .await;
    assert_eq!(found.matches("class=\"call\"").count(), 1, "{found}");

    // The texts of the period (none here).
    let (status, texts) = b.get("/_llbridge/console/texts?period=24h").await;
    assert_eq!(status, 200, "{texts}");
    assert!(texts.contains("<p>0 text(s)</p>"), "{texts}");

    // Every call: the agent, and the family's page in LineLeader.
    let (_, all) = b.get("/_llbridge/console/calls?period=24h").await;
    assert!(all.contains("<td>Ana Agent</td>"), "{all}");
    assert!(
        all.contains("/#/families/1001\""),
        "a link to the family: {all}"
    );

    // The call centers to filter by are the config's, by name of scope and connection.
    let scope = format!("call_center:{}", llbridge_tests::configs::CALL_CENTER);
    let (_, by_center) = b
        .get(&format!(
            "/_llbridge/console/calls?period=24h&scope={scope}"
        ))
        .await;
    assert!(
        by_center.contains(&format!("<option value=\"{scope}\" selected>")),
        "{by_center}"
    );
    assert_eq!(
        by_center.matches("class=\"call\"").count(),
        report.calls,
        "{by_center}"
    );
    let (_, elsewhere) = b
        .get("/_llbridge/console/calls?period=24h&scope=call_center:1")
        .await;
    assert!(elsewhere.contains("<p>0 call(s)</p>"), "{elsewhere}");

    // Filtered to dropped: exactly the dropped call.
    let (_, calls) = b
        .get("/_llbridge/console/calls?period=24h&outcome=dropped")
        .await;
    assert_eq!(calls.matches("class=\"call\"").count(), 1, "{calls}");
    assert!(calls.contains("family_ambiguous"), "{calls}");
    assert!(calls.contains("***0142"), "the caller masked: {calls}");
    assert!(!calls.contains("6505550142"), "{calls}");

    // The dropped call's page says why, and what to do.
    let (_, why) = b
        .get(&format!("/_llbridge/console/call/{}", dropped.cc_leg))
        .await;
    assert!(
        why.contains("id=\"why\"") && why.contains("family_ambiguous"),
        "{why}"
    );
    assert!(why.contains("Fix:"), "{why}");

    // A call's page: its family decision.
    let (_, call) = b
        .get(&format!("/_llbridge/console/call/{}", logged.cc_leg))
        .await;
    assert!(call.contains("id=\"family\""), "{call}");
    assert!(call.contains("1001"), "{call}");
    // At a glance: the family linked to its LineLeader page, the phone log's id, and the
    // legs' events in time order.
    assert!(
        call.contains("id=\"family-link\"") && call.contains("/#/families/1001\""),
        "{call}"
    );
    assert!(call.contains("phone_log_id: 9001"), "{call}");
    let timeline = call
        .split("id=\"timeline\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no timeline: {call}"));
    let (connected, hangup) = (
        timeline.find("<td>connected</td>"),
        timeline.find("<td>hangup</td>"),
    );
    assert!(
        connected.is_some() && hangup.is_some() && connected < hangup,
        "{timeline}"
    );

    // The setup checks, on demand: the sandboxes' setup passes the Dialpad call list.
    let (status, setup) = b.get("/_llbridge/console/setup?run=1").await;
    assert_eq!(status, 200, "{setup}");
    assert!(
        setup.contains("id=\"checks\"") && setup.contains("dialpad_call_list"),
        "{setup}"
    );

    // The dead letter, replayed from its page: not without the form's token, nor from another
    // site.
    let (_, dlq) = b.get("/_llbridge/console/dlq").await;
    let token = csrf(&dlq);
    assert!(!token.is_empty(), "{dlq}");
    let leg = given_up.cc_leg.to_string();
    let (status, _) = b
        .post(
            "/_llbridge/console/dlq/replay",
            &format!("call={leg}"),
            None,
        )
        .await;
    assert_eq!(status, 403, "no CSRF token");
    let (status, _) = b
        .post(
            "/_llbridge/console/dlq/replay",
            &format!("csrf={token}&call={leg}"),
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(status, 403, "another site");
    assert!(!s.host.dead_letters().await.is_empty());
    let (status, location) = b
        .post(
            "/_llbridge/console/dlq/replay",
            &format!("csrf={token}&call={leg}"),
            None,
        )
        .await;
    assert_eq!(status, 303);
    assert!(location.ends_with("replayed=1"), "{location}");
    let (_, result) = b.get(&location).await;
    assert!(
        result.contains("1 job(s) put back on the queue"),
        "{result}"
    );
    let logged_again = replayed(&s, &leg).await;
    assert!(logged_again, "the ledger shows the replay");
    s.stop().await;
}
