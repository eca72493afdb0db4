//! The console in a real browser: headless Chromium driven through chromedriver (WebDriver),
//! against a local host with scripted calls. The overview's numbers equal the report's;
//! filtering to dropped shows exactly the dropped calls; a call's page shows its family
//! decision; a dead letter is replayed from the page (its confirmation accepted) and the ledger
//! shows it; a browser without the token is refused. Each page is screenshotted into
//! `target/console-screenshots/` for a reviewer (not committed).
//!
//! Chromium and chromedriver are Debian's (`.ci/run` installs them). Without them the test says
//! so and passes, unless `LLBRIDGE_REQUIRE_BROWSER` is set (CI sets it).

use super::BACKEND;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use llbridge_tests::console::{replayed, report_of_the_day, three_calls, Scripted};
use serde_json::json;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn start_driver() -> Option<Driver> {
    if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("LLBRIDGE_REQUIRE_BROWSER").is_none(),
            "LLBRIDGE_REQUIRE_BROWSER is set and {CHROMEDRIVER} or {CHROMIUM} is missing: apt-get install chromium chromium-driver"
        );
        eprintln!("no chromium/chromedriver: the browser test is skipped (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("chromedriver: {e}"));
    Some(Driver { child, port })
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": CHROMIUM, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--window-size=1280,900"]}),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        if let Ok(c) = ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("chromedriver did not start a browser at {url}");
}

async fn screenshot(c: &Client, name: &str) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/console-screenshots");
    let _ = std::fs::create_dir_all(dir);
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(format!("{dir}/{name}.png"), png);
    }
}

async fn text(c: &Client) -> String {
    c.find(Locator::Css("body"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_browser() {
    let Some(driver) = start_driver() else {
        return;
    };
    let Scripted {
        s,
        logged,
        dropped: _,
        given_up,
    } = three_calls(BACKEND).await;

    // Without the token: refused.
    let stranger = browser(&driver).await;
    stranger
        .goto(&format!("http://{}/_llbridge/console/", s.host.addr))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(text(&stranger).await.contains("one-time token"));
    screenshot(&stranger, "refused").await;
    let _ = stranger.close().await;

    let c = browser(&driver).await;
    let url = s
        .host
        .console_url()
        .unwrap_or_else(|| panic!("no console URL"));
    c.goto(&url).await.unwrap_or_else(|e| panic!("{e}"));
    c.goto(&format!(
        "http://{}/_llbridge/console/?period=24h",
        s.host.addr
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let report = report_of_the_day(&s).await;
    let overview = text(&c).await;
    for (label, n) in [
        ("calls", report.calls),
        ("logged", report.logged),
        ("dropped", report.dropped.values().sum::<usize>()),
        ("dead letters", report.dead_letters),
    ] {
        assert!(
            overview.contains(&format!("{n}\n{label}"))
                || overview.contains(&format!("{n}{label}")),
            "{label} {n}: {overview}"
        );
    }
    screenshot(&c, "overview").await;

    // A custom period, from the form: yesterday to today holds the same calls.
    let today = chrono::Utc::now().date_naive();
    let yesterday = today - chrono::Days::new(1);
    c.execute(
        "document.querySelector('#period input[name=from]').value = arguments[0];\
         document.querySelector('#period input[name=to]').value = arguments[1];",
        vec![json!(yesterday.to_string()), json!(today.to_string())],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    c.find(Locator::Id("custom"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    c.wait()
        .for_element(Locator::XPath(
            "//div[@id='period']/form/strong[text()='custom']",
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let custom = text(&c).await;
    assert!(
        custom.contains(&format!("{}\ncalls", report.calls))
            || custom.contains(&format!("{}calls", report.calls)),
        "{custom}"
    );
    screenshot(&c, "overview-custom").await;

    // Calls, filtered to dropped in the form.
    c.goto(&format!(
        "http://{}/_llbridge/console/calls?period=24h",
        s.host.addr
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    c.find(Locator::XPath(
        "//select[@name='outcome']/option[text()='dropped']",
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .click()
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    c.find(Locator::Css("#filters button"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The filtered page has loaded when its form shows the filter.
    c.wait()
        .for_element(Locator::Css("select[name=outcome] option[selected]"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rows = c
        .find_all(Locator::Css("tr.call"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.len(), 1, "{}", text(&c).await);
    assert!(text(&c).await.contains("family_ambiguous"));
    screenshot(&c, "calls-dropped").await;

    // A call's page.
    c.goto(&format!(
        "http://{}/_llbridge/console/call/{}",
        s.host.addr, logged.cc_leg
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let family = c
        .find(Locator::Id("family"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(family.contains("1001"), "{family}");
    screenshot(&c, "call").await;

    // The dead letter, replayed from its page.
    c.goto(&format!("http://{}/_llbridge/console/dlq", s.host.addr))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    screenshot(&c, "dead-letters").await;
    c.find(Locator::Css("#dlq form button"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    c.accept_alert().await.unwrap_or_else(|e| panic!("{e}"));
    let result = c
        .wait()
        .for_element(Locator::Id("result"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(result.contains("1 job(s) put back"), "{result}");
    screenshot(&c, "replayed").await;
    let leg = given_up.cc_leg.to_string();
    let replayed = replayed(&s, &leg).await;
    assert!(replayed, "the ledger shows the replay");
    let _ = c.close().await;
    s.stop().await;
}
