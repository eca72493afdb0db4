//! What the console's suites (over HTTP and in a browser) look at: a host with one call
//! logged, one dropped (two families share the number) and one given up to the dead letters.

use std::time::Duration;

use chrono::Utc;
use llbridge_sandbox::{FaultRule, Faults};
use llbridge_usecases::report::Coverage;
use serde_json::json;

use crate::events::Call;
use crate::scenario::{answered, data, family, Backend, Scenario};

/// The host and its three calls.
pub struct Scripted {
    pub s: Scenario,
    pub logged: Call,
    pub dropped: Call,
    pub given_up: Call,
}

pub async fn three_calls(backend: Backend) -> Scripted {
    let now = Utc::now();
    let s = Scenario::start(
        backend,
        json!({"enable_task_queue": false}),
        Some(data(
            now,
            vec![
                family(
                    1001,
                    "(415) 815-9602",
                    101,
                    1,
                    now - chrono::Duration::days(3),
                ),
                family(
                    1002,
                    "(650) 555-0142",
                    101,
                    1,
                    now - chrono::Duration::minutes(3),
                ),
                family(
                    1003,
                    "650-555-0142",
                    101,
                    1,
                    now - chrono::Duration::minutes(2),
                ),
            ],
        )),
    )
    .await;
    let logged = s.call(1, "+14158159602");
    let dropped = s.call(2, "+16505550142");
    s.play(&answered(&logged)).await;
    s.play(&answered(&dropped)).await;
    s.settle().await;
    s.lineleader().set_faults(Faults {
        rules: vec![FaultRule::fail("POST", "/in-contact/phone-logs", 503, None)],
        ..Faults::default()
    });
    let given_up = s.call(3, "+14158159602");
    s.play(&answered(&given_up)).await;
    let dead = s
        .settle_until(async || !s.host.dead_letters().await.is_empty())
        .await;
    assert!(dead, "the third call's job is given up");
    s.lineleader().set_faults(Faults::default());
    Scripted {
        s,
        logged,
        dropped,
        given_up,
    }
}

/// The report of the last 24 hours, as the console's overview must show it.
pub async fn report_of_the_day(s: &Scenario) -> Coverage {
    llbridge_usecases::report::coverage(
        llbridge_usecases::ports::Records {
            store: s.host.store.as_ref(),
            clock: &llbridge_usecases::ports::SystemClock,
        },
        Duration::from_secs(24 * 3600),
        s.host.dead_letters().await.len(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Whether the ledger shows a replay of the call of `leg`.
pub async fn replayed(s: &Scenario, leg: &str) -> bool {
    s.settle_until(async || {
        llbridge_usecases::ledger::find(s.host.store.as_ref(), leg)
            .await
            .ok()
            .flatten()
            .is_some_and(|(_, e)| e.replays > 0)
    })
    .await
}

/// A signed-in browser of the console at `base` (`http://host:port`): a fresh one-time token
/// (as `llbridge console --url` asks for one) traded for the session cookie. Answers a client
/// that does not follow redirects, and the cookie to send.
pub async fn signed_in(base: &str) -> (reqwest::Client, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let fresh: serde_json::Value = http
        .post(format!("{base}/_llbridge/console/token"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cookie = trade(
        &http,
        &format!("{base}{}", fresh["path"].as_str().unwrap_or_default()),
    )
    .await;
    (http, cookie)
}

/// The first visit of a one-time console URL: its 303 and the session cookie it sets.
pub async fn trade(http: &reqwest::Client, url: &str) -> String {
    let entry = http.get(url).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(entry.status().as_u16(), 303, "{url}");
    entry
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_owned()
}

/// A console page as a signed-in browser gets it: the status and the page.
pub async fn signed_in_page(s: &Scenario, path: &str) -> (u16, String) {
    let base = format!("http://{}", s.host.addr);
    let (http, cookie) = signed_in(&base).await;
    let r = http
        .get(format!("{base}{path}"))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}
