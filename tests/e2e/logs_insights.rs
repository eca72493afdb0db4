//! The README's CloudWatch Logs Insights queries, run against the log lines of a few real
//! calls (the functions' JSON log format, captured): each query finds the lines it promises.
//! The evaluator covers the subset the README uses: `fields`, `filter` with `=`, `in [...]`,
//! `ispresent(...)`, `and`, `or` and parentheses; `sort` and `stats ... by` (whose fields must
//! be on the lines found).

use super::BACKEND;
use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::{Duration as Minutes, Utc};
use llbridge_sandbox::{FaultRule, Faults};
use llbridge_tests::configs::{self, left_voicemail_event_mode, CALL_CENTER};
use llbridge_tests::events::user_line_ringing;
use llbridge_tests::scenario::{data, family, Scenario};
use llbridge_tests::webhook::{post, sign_with};
use serde_json::{json, Value};

// ---- the captured lines -------------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

// ---- the evaluator ------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Punct(char),
}

fn tokens(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let text: String = chars.by_ref().take_while(|&c| c != '"').collect();
            out.push(Token::Text(text));
        } else if "()[],=|".contains(c) {
            chars.next();
            out.push(Token::Punct(c));
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || "()[],=|\"".contains(c) {
                    break;
                }
                w.push(c);
                chars.next();
            }
            out.push(Token::Word(w));
        }
    }
    out
}

#[derive(Debug)]
enum Expr {
    Eq(String, String),
    In(String, Vec<String>),
    Present(String),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

struct Parser {
    toks: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Token {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t.unwrap_or_else(|| panic!("the filter ends early"))
    }
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.at), Some(Token::Word(x)) if x == w)
    }
    fn expect(&mut self, c: char) {
        let t = self.next();
        assert_eq!(t, Token::Punct(c), "expected {c}");
    }
    fn or(&mut self) -> Expr {
        let mut e = self.and();
        while self.peek_word("or") {
            self.at += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()));
        }
        e
    }
    fn and(&mut self) -> Expr {
        let mut e = self.factor();
        while self.peek_word("and") {
            self.at += 1;
            e = Expr::And(Box::new(e), Box::new(self.factor()));
        }
        e
    }
    fn factor(&mut self) -> Expr {
        match self.next() {
            Token::Punct('(') => {
                let e = self.or();
                self.expect(')');
                e
            }
            Token::Word(w) if w == "ispresent" => {
                self.expect('(');
                let Token::Word(field) = self.next() else {
                    panic!("ispresent of what?")
                };
                self.expect(')');
                Expr::Present(field)
            }
            Token::Word(field) => match self.next() {
                Token::Punct('=') => match self.next() {
                    Token::Text(v) | Token::Word(v) => Expr::Eq(field, v),
                    t => panic!("= {t:?}"),
                },
                Token::Word(w) if w == "in" => {
                    self.expect('[');
                    let mut values = Vec::new();
                    loop {
                        match self.next() {
                            Token::Text(v) | Token::Word(v) => values.push(v),
                            Token::Punct(']') => break,
                            Token::Punct(',') => {}
                            t => panic!("in [{t:?}"),
                        }
                    }
                    Expr::In(field, values)
                }
                t => panic!("{field} {t:?}: not in the subset"),
            },
            t => panic!("{t:?}: not in the subset"),
        }
    }
}

/// A field's value as text; `a.b` reads `b` of the object `a`.
fn text(line: &Value, field: &str) -> Option<String> {
    let value = field.split('.').try_fold(line, |v, part| v.get(part))?;
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        v => Some(v.to_string()),
    }
}

fn matches(e: &Expr, line: &Value) -> bool {
    match e {
        Expr::Eq(f, v) => text(line, f).as_deref() == Some(v.as_str()),
        Expr::In(f, vs) => text(line, f).is_some_and(|t| vs.contains(&t)),
        Expr::Present(f) => text(line, f).is_some(),
        Expr::And(a, b) => matches(a, line) && matches(b, line),
        Expr::Or(a, b) => matches(a, line) || matches(b, line),
    }
}

/// A query: the lines its filters keep, and the fields it shows or groups by.
fn run(query: &str, lines: &[Value]) -> (Vec<Value>, Vec<String>) {
    let mut kept: Vec<Value> = lines.to_vec();
    let mut shown = Vec::new();
    for stage in query.split('|') {
        let stage = stage.trim();
        let (command, rest) = stage.split_once(' ').unwrap_or((stage, ""));
        match command {
            "fields" => shown.extend(rest.split(',').map(|f| f.trim().to_owned())),
            "filter" => {
                let mut p = Parser {
                    toks: tokens(rest),
                    at: 0,
                };
                let e = p.or();
                assert_eq!(p.at, p.toks.len(), "unparsed: {rest}");
                kept.retain(|l| matches(&e, l));
            }
            "stats" => {
                if let Some((_, by)) = rest.split_once(" by ") {
                    shown.extend(by.split(',').map(|f| f.trim().to_owned()));
                }
            }
            "sort" => {}
            other => panic!("{other}: not in the subset"),
        }
    }
    shown.retain(|f| !f.starts_with('@'));
    (kept, shown)
}

/// The README's queries: (the sentence above it, the query).
fn readme_queries() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .unwrap_or_else(|e| panic!("README: {e}"));
    let start = readme
        .find("## Operate: CloudWatch Logs Insights")
        .unwrap_or_else(|| panic!("no Logs Insights section"));
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut out = Vec::new();
    let mut title = String::new();
    let mut block: Option<String> = None;
    for line in section.lines() {
        match (&mut block, line.trim() == "```") {
            (None, true) => block = Some(String::new()),
            (Some(b), true) => {
                out.push((title.clone(), b.trim().to_owned()));
                block = None;
            }
            (Some(b), false) => {
                b.push_str(line);
                b.push(' ');
            }
            (None, false) if !line.trim().is_empty() => title = line.trim().to_owned(),
            _ => {}
        }
    }
    out
}

// ---- the calls ----------------------------------------------------------------------------

const AMBIGUOUS: &str = "+14158159602";
const KNOWN: &str = "+16505550142";

/// Phone Log mode with pops: a known caller (popped and logged), an ambiguous number
/// (dropped), a user-line event (ignored), a phone log whose answer is lost (found on lookup),
/// and a search outage (retried). Returns the call-center leg ids of the dropped call and of
/// the retried one.
async fn phone_log_calls() -> (u64, u64) {
    let now = Utc::now();
    let s = Scenario::start(
        BACKEND,
        json!({"enable_task_queue": false}),
        Some(data(
            now,
            vec![
                family(1001, "(415) 815-9602", 101, 1, now - Minutes::minutes(3)),
                family(1002, "415-815-9602", 101, 1, now - Minutes::minutes(2)),
                family(1003, "(650) 555-0142", 101, 1, now - Minutes::days(3)),
            ],
        )),
    )
    .await;
    let known = s.live_call(1, KNOWN);
    s.play(&[
        known.agent("ringing", 200),
        known.agent("connected", 5_100),
        known.cc_hangup(295_200),
    ])
    .await;
    let dropped = s.call(2, AMBIGUOUS);
    // Its first delivery signed with a secret the config does not have: 401.
    let (status, _) = post(
        &s.host.webhook_url(),
        sign_with(&dropped.cc_hangup(295_200), "a-rotated-webhook-secret"),
    )
    .await;
    assert_eq!(status, 401);
    s.play(&[dropped.cc_hangup(295_200)]).await;
    s.send(&user_line_ringing()).await;
    s.settle().await;

    s.lineleader().set_faults(Faults {
        rules: vec![FaultRule {
            times: Some(1),
            ..FaultRule::lose_answer("POST", "/in-contact/phone-logs", 502, 1.0)
        }],
        ..Faults::default()
    });
    s.play(&[s.call(3, KNOWN).cc_hangup(295_200)]).await;
    s.settle().await;

    s.lineleader().set_faults(Faults {
        rules: vec![FaultRule::fail("GET", "/families/search", 503, Some(4))],
        ..Faults::default()
    });
    let retried = s.call(4, KNOWN);
    s.play(&[retried.cc_hangup(295_200)]).await;
    s.settle().await;
    s.stop().await;
    (dropped.cc_leg, retried.cc_leg)
}

/// Event mode, a call without a disposition: the task and status steps are skipped.
async fn event_mode_call() {
    let s = Scenario::start_with(BACKEND, vec![configs::enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"enable_task_queue": false, "screen_pop": false, "default_center_name": "Oak Park",
                "call_log": left_voicemail_event_mode()}),
        )],
        Some(data(
            Utc::now(),
            vec![family(1003, "(650) 555-0142", 101, 1, Utc::now() - Minutes::days(3))],
        )),
        std::time::Duration::from_secs(1),
    )
    .await;
    let c = s.call(5, KNOWN);
    s.play(&[c.agent("connected", 5_100), c.cc_hangup(295_200)])
        .await;
    s.settle().await;
    s.stop().await;
}

/// A call router's answer, a click to call and a LeadSquared disposition.
async fn router_and_connector_calls() {
    use llbridge_domain::config::{RouteEntry, SecretRef, Target};
    let secret = "router-secret-0123456789abcdef0123456789";
    let enablements = vec![
        configs::enablement(
            "call_center",
            Some(CALL_CENTER),
            json!({"texts": {"event_type": "Text Message", "default_staff_email": "frontdesk@example.com"}}),
        ),
        configs::leadsquared_enablement(configs::LEADSQUARED_CALL_CENTER, json!({})),
    ];
    let s = Scenario::start_tuned(
        BACKEND,
        enablements,
        None,
        std::time::Duration::from_secs(1),
        |o| {
            let fallback = Target {
                target_type: "callcenter".into(),
                target_id: CALL_CENTER.into(),
            };
            o.installation.routing.insert(
                "enrollment".into(),
                RouteEntry {
                    secret: SecretRef::Literal(secret.into()),
                    connection: "main".into(),
                    office_id: "124".into(),
                    fallback: fallback.clone(),
                    centers: [("Oak Park".to_owned(), fallback)].into(),
                    prefer_last_agent: false,
                    last_agent_days: 30,
                    deadline_ms: 1500,
                },
            );
        },
    )
    .await;
    let url = format!("http://{}/dialpad/route/enrollment", s.host.addr);
    let (status, _) = post(
        &url,
        sign_with(
            &json!({"call_id": 7400000000000001_u64, "external_number": "+16505550199"}),
            secret,
        ),
    )
    .await;
    assert_eq!(status, 200);
    let http = reqwest::Client::new();
    for (path, body) in [
        (
            "click-to-call",
            json!({"agent_email": "ana@example.com", "phone_number": "+14158159602", "lead_id": "lead-9"}),
        ),
        (
            "disposition",
            json!({"callSessionId": "6208917392220160", "dispositionValue": "Tour Booked"}),
        ),
    ] {
        let status = http
            .post(format!("http://{}/leadsquared/{path}", s.host.addr))
            .header("X-Llbridge-Key", configs::ACTION_KEY)
            .json(&body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        assert_eq!(status, 200, "{path}");
    }
    // A text from a number no family has: dropped, with its reason.
    s.send(&json!({"id": 4990021937830001_u64, "direction": "inbound",
        "target": {"id": CALL_CENTER.parse::<u64>().unwrap_or(0), "type": "callcenter", "phone_number": "+14155550100"},
        "contact": {"phone_number": "+14158159699"}, "text": "Do you have openings?"}))
        .await;
    s.settle().await;
    // A click with a wrong key: refused, with its reason.
    let status = http
        .post(format!("http://{}/leadsquared/click-to-call", s.host.addr))
        .header("X-Llbridge-Key", "not-the-key")
        .json(&json!({"agent_email": "ana@example.com", "phone_number": "+14158159602"}))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(status, 401);
    s.stop().await;
}

#[tokio::test]
async fn each_readme_query_finds_the_lines_it_promises() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = llbridge_aws::deployment::json_logs(
        llbridge_aws::deployment::log_filter(None).0,
        move || sink.clone(),
    );
    // With one registered dispatcher, tracing-core decides a callsite first met on another
    // test's thread by that thread's default (none: disabled, for every thread). A second
    // registered dispatcher makes it ask each of them, this test's included.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let (dropped_leg, retried_leg) = {
        let _guard = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();
        let legs = phone_log_calls().await;
        event_mode_call().await;
        router_and_connector_calls().await;
        legs
    };
    let lines = captured.lines();
    assert!(lines.len() > 10, "{} lines captured", lines.len());

    let queries = readme_queries();
    assert!(queries.len() >= 7, "{queries:?}");
    for (title, query) in queries {
        // The README's example id stands for any leg's id: the dropped call's, or for the
        // lines of a job, the retried one's.
        let example = if query.contains("span.call_id") {
            retried_leg
        } else {
            dropped_leg
        };
        let query = query.replace("6208917392220160", &example.to_string());
        let (found, fields) = run(&query, &lines);
        assert!(!found.is_empty(), "{title}\n{query}\nfound no line");
        for f in &fields {
            assert!(
                found
                    .iter()
                    .any(|l| text(l, f).is_some_and(|t| !t.is_empty())),
                "{title}\n{query}\nno line found has {f}: {found:#?}"
            );
        }
        if query.contains("span.call_id") {
            assert!(
                found
                    .iter()
                    .any(|l| l["status"] == 503 && l.get("decision").is_none()),
                "the client's retries are among the job's lines: {found:#?}"
            );
            assert!(
                found.iter().any(|l| l["decision"] == "retry")
                    && found.iter().any(|l| l["decision"] == "logged"),
                "both deliveries' decisions are there: {found:#?}"
            );
        }
        if title.starts_with("\"Why wasn't this call logged?\"") {
            assert!(
                found
                    .iter()
                    .any(|l| l["decision"] == "dropped" && l["reason"] == "family_ambiguous"),
                "the answer is in the lines found: {found:#?}"
            );
            assert!(
                found
                    .iter()
                    .any(|l| l["decision"] == "rejected" && l["status"] == 401),
                "the webhook's rejection of the call is found by its id too: {found:#?}"
            );
        }
    }
}
