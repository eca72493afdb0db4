//! The console: every call of a period at a glance, in a browser, for the admin who is not on a
//! terminal. Server-rendered HTML under `/_llbridge/console`, behind the admin API's loopback
//! rules, every asset inside the binary (no CDN, no script needed to read).
//!
//! * A one-time token, printed with the host's URL, is traded on the first visit for an
//!   HttpOnly, SameSite=Strict cookie; without the cookie every page is 401. The session ends
//!   with the process.
//! * Every POST carries the session's CSRF token.
//! * Pages: the overview of a period (today, 24 hours, 7 days or custom: the report's
//!   numbers, logged and not logged by hour, what needs action first), the calls (filtered by
//!   outcome, reason and scope, searched by a leg's id or the caller's last four digits,
//!   paged), the texts, one call (its trace), the dead letters (replayed one or all), the
//!   setup checks.
//! * The overview and the calls read the ledger's hourly index (each call's row), never the
//!   period's records one by one; a call's page reads its record.
//!
//! Caller numbers are shown masked as everywhere; no secret is ever rendered.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{TimeZone, Utc};
use llbridge_usecases::ledger::{self, Entry, Row};
use llbridge_usecases::outcome::Decision;
use llbridge_usecases::ports::DeadLetter;
use llbridge_usecases::{report, trace};

use crate::admin::{Admin, DeadLetterView};

/// Where the console lives.
pub const PATH: &str = "/_llbridge/console";
const COOKIE: &str = "llbridge_console";
/// Rows of the calls table per page.
pub const PAGE_SIZE: usize = 50;

/// The console's sessions: the one-time token not yet traded, and each session's CSRF token.
#[derive(Default)]
pub struct Sessions {
    token: Option<String>,
    sessions: HashMap<String, String>,
}

impl Sessions {
    /// New sessions with a fresh one-time token.
    pub fn new() -> Sessions {
        Sessions {
            token: Some(uuid::Uuid::new_v4().simple().to_string()),
            sessions: HashMap::new(),
        }
    }

    /// The one-time token, until it is traded.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// A new one-time token (an unspent one is replaced).
    pub fn issue(&mut self) -> String {
        let t = uuid::Uuid::new_v4().simple().to_string();
        self.token = Some(t.clone());
        t
    }
}

/// What the console reads and drives.
#[derive(Clone)]
pub struct Console {
    pub admin: Admin,
    pub sessions: Arc<Mutex<Sessions>>,
}

impl Console {
    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session's CSRF token, when the request carries a live session's cookie.
    fn session(&self, headers: &HeaderMap) -> Option<String> {
        let id = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v.to_owned())?;
        self.lock().sessions.get(&id).cloned()
    }
}

/// The console's routes (under the admin API's loopback rules).
pub fn routes(console: Console) -> Router {
    Router::new()
        .route(PATH, get(enter))
        .route(&format!("{PATH}/"), get(overview))
        .route(&format!("{PATH}/calls"), get(calls))
        .route(&format!("{PATH}/call/{{id}}"), get(call))
        .route(&format!("{PATH}/texts"), get(texts))
        .route(&format!("{PATH}/dlq"), get(dead_letters))
        .route(&format!("{PATH}/dlq/replay"), post(replay))
        .route(&format!("{PATH}/token"), post(issue))
        .route(&format!("{PATH}/setup"), get(setup))
        .with_state(console)
}

/// Text made safe for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}\
header{background:#1d2733;color:#fff;padding:10px 20px}header a{color:#cfe3ff;margin-right:16px;text-decoration:none}\
main{padding:16px 20px}.tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:10px 14px;min-width:110px}\
a.tile{color:inherit;text-decoration:none}a.tile:hover{border-color:#5b8def}.tile b{display:block;font-size:24px}.warn b{color:#b3261e}table{border-collapse:collapse;background:#fff;width:100%}\
td,th{border-bottom:1px solid #e4e8ee;padding:5px 8px;text-align:left;font-size:14px}\
.chart{display:flex;align-items:flex-end;gap:2px;height:80px;background:#fff;border:1px solid #dde2e8;padding:6px}\
.bar{width:14px;display:flex;flex-direction:column-reverse}.ok{background:#2e7d32}.no{background:#b3261e}\
.error{color:#b3261e}#summary{width:auto;min-width:50%}#summary th{width:140px}pre{background:#fff;border:1px solid #dde2e8;padding:10px;white-space:pre-wrap}form.inline{display:inline}";

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · llbridge</title>\
         <style>{STYLE}</style></head><body><header><strong>llbridge</strong> &nbsp; \
         <a href=\"{PATH}/\">Overview</a><a href=\"{PATH}/calls\">Calls</a><a href=\"{PATH}/texts\">Texts</a><a href=\"{PATH}/dlq\">Dead letters</a><a href=\"{PATH}/setup\">Setup</a></header>\
         <main><h1>{}</h1>{body}</main></body></html>",
        esc(title),
        esc(title)
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

fn refused() -> Response {
    let mut r = page(
        "Sign in",
        "<p>Open the console from the URL <code>llbridge local</code> (or <code>llbridge console</code>) printed: it carries a one-time token.</p>",
    );
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r
}

type Q = Query<HashMap<String, String>>;

/// `POST /_llbridge/console/token` (loopback clients, as the admin API): a fresh one-time
/// token, for `llbridge console --url`. Any loopback process may already read and replay
/// through the admin API; the console adds the browser's cookie and CSRF rules on top.
async fn issue(State(c): State<Console>) -> Response {
    let token = c.lock().issue();
    axum::Json(serde_json::json!({"path": format!("{PATH}?token={token}")})).into_response()
}

/// The first visit: the one-time token for a session cookie.
async fn enter(State(c): State<Console>, headers: HeaderMap, Query(q): Q) -> Response {
    if c.session(&headers).is_some() {
        return redirect(&format!("{PATH}/"), None);
    }
    let given = q.get("token").map(String::as_str).unwrap_or_default();
    let mut s = c.lock();
    let valid = !given.is_empty() && s.token.as_deref() == Some(given);
    if !valid {
        return refused();
    }
    s.token = None;
    let session = uuid::Uuid::new_v4().simple().to_string();
    let csrf = uuid::Uuid::new_v4().simple().to_string();
    s.sessions.insert(session.clone(), csrf);
    drop(s);
    let cookie = format!("{COOKIE}={session}; HttpOnly; SameSite=Strict; Path={PATH}");
    redirect(&format!("{PATH}/"), Some(cookie))
}

fn redirect(to: &str, cookie: Option<String>) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

/// How far back a period may reach: the ledger keeps its records this long.
const RETENTION_MS: i64 = 35 * 24 * 3_600_000;
const DAY_MS: i64 = 24 * 3_600_000;

/// The period a page shows: `today` (since midnight UTC, the default), `24h`, `7d`, or
/// `custom` (`from` and `to`, UTC, each a date or a date and time; a date `to` is inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Period {
    key: &'static str,
    since: i64,
    until: i64,
    /// The period as a query string (`period=custom&amp;from=...`), HTML-escaped.
    query: String,
    /// `from` and `to` as given (custom only).
    from: String,
    to: String,
    /// Why a custom period was not taken (today is shown instead).
    error: Option<String>,
}

/// Epoch ms of a UTC date (`2026-12-01`) or date and time (`2026-12-01T08:30`, seconds
/// optional); with `end`, a bare date means the end of that day.
fn instant(text: &str, end: bool) -> Option<i64> {
    use chrono::{NaiveDate, NaiveDateTime};
    let text = text.trim();
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let start = d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
        return Some(if end { start + DAY_MS - 1 } else { start });
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc().timestamp_millis())
}

fn period(q: &HashMap<String, String>, now_ms: i64) -> Period {
    let today = Period {
        key: "today",
        since: now_ms - now_ms.rem_euclid(DAY_MS),
        until: now_ms,
        query: "period=today".into(),
        from: String::new(),
        to: String::new(),
        error: None,
    };
    let fixed = |key: &'static str, span: i64| Period {
        key,
        since: now_ms - span,
        query: format!("period={key}"),
        ..today.clone()
    };
    match q.get("period").map(String::as_str).unwrap_or("today") {
        "24h" => fixed("24h", DAY_MS),
        "7d" => fixed("7d", 7 * DAY_MS),
        "custom" => {
            let from = q
                .get("from")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            let to = q.get("to").map(|s| s.trim().to_owned()).unwrap_or_default();
            let refuse = |why: String| Period {
                from: from.clone(),
                to: to.clone(),
                error: Some(why),
                ..today.clone()
            };
            let Some(since) = instant(&from, false) else {
                return refuse(format!("\"from\" ({from}) is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM), UTC"));
            };
            let until = if to.is_empty() {
                Some(now_ms)
            } else {
                instant(&to, true)
            };
            let Some(until) = until else {
                return refuse(format!("\"to\" ({to}) is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM), UTC"));
            };
            let until = until.min(now_ms);
            if since > until {
                return refuse("\"from\" comes after \"to\" (or after now)".into());
            }
            if since < now_ms - RETENTION_MS {
                return refuse("the ledger keeps 35 days: \"from\" is older".into());
            }
            Period {
                key: "custom",
                since,
                until,
                query: format!(
                    "period=custom&amp;from={}&amp;to={}",
                    urlencoding(&from),
                    urlencoding(&to)
                ),
                from,
                to,
                error: None,
            }
        }
        _ => today,
    }
}

/// Percent-encodes what a query value may not carry as is.
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b':' => "%3A".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn utc(ms: i64, format: &str) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format(format).to_string())
        .unwrap_or_default()
}

/// The period's links and the custom period's form, for the page at `base`; `keep` are
/// hidden fields the form carries on (the calls page's filters).
fn periods(p: &Period, base: &str, keep: &[(&str, &str)]) -> String {
    let mut out = String::from("<div id=\"period\">");
    for key in ["today", "24h", "7d"] {
        if key == p.key {
            let _ = write!(out, "<strong>{key}</strong> · ");
        } else {
            let _ = write!(out, "<a href=\"{base}?period={key}\">{key}</a> · ");
        }
    }
    let _ = write!(
        out,
        "<form class=\"inline\" method=\"get\" action=\"{base}\"><input type=\"hidden\" name=\"period\" value=\"custom\">"
    );
    for (k, v) in keep {
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            esc(k),
            esc(v)
        );
    }
    let _ = write!(
        out,
        "{custom} from <input type=\"date\" name=\"from\" value=\"{}\"> to <input type=\"date\" name=\"to\" value=\"{}\"> <button id=\"custom\">Show</button></form>",
        esc(p.from.get(..10).unwrap_or(&p.from)),
        esc(p.to.get(..10).unwrap_or(&p.to)),
        custom = if p.key == "custom" { "<strong>custom</strong>" } else { "custom" },
    );
    let _ = write!(
        out,
        "<br><small>{} to {} UTC</small>",
        utc(p.since, "%Y-%m-%d %H:%M"),
        utc(p.until, "%Y-%m-%d %H:%M")
    );
    if let Some(e) = &p.error {
        let _ = write!(
            out,
            "<p class=\"error\" id=\"period-error\">The period was not taken: {}. Showing today.</p>",
            esc(e)
        );
    }
    out + "</div>"
}

fn tile(label: &str, n: usize, warn: bool, href: Option<&str>) -> String {
    let class = if warn && n > 0 { "tile warn" } else { "tile" };
    let inner = format!("<b>{n}</b>{}", esc(label));
    match href {
        Some(h) => format!("<a class=\"{class}\" href=\"{h}\">{inner}</a>"),
        None => format!("<div class=\"{class}\">{inner}</div>"),
    }
}

async fn overview(State(c): State<Console>, headers: HeaderMap, Query(q): Q) -> Response {
    if c.session(&headers).is_none() {
        return refused();
    }
    let a = &c.admin;
    let p = period(&q, a.clock.now_ms());
    let dead = a.probe.dead_letter_count().await;
    let (cov, rows) = match report::coverage_between(a_records(a), p.since, p.until, dead).await {
        Ok(x) => x,
        Err(e) => return unreadable("Overview", &e),
    };
    let dropped: usize = cov.dropped.values().sum();
    let calls = format!("{PATH}/calls?{}", p.query);
    let mut body = periods(&p, &format!("{PATH}/"), &[]);
    body += "<div class=\"tiles\">";
    body += &tile("calls", cov.calls, false, Some(&calls));
    body += &tile(
        "logged",
        cov.logged,
        false,
        Some(&format!("{calls}&amp;outcome=logged")),
    );
    body += &tile("recovered", cov.recovered, false, None);
    body += &tile(
        "dropped",
        dropped,
        false,
        Some(&format!("{calls}&amp;outcome=dropped")),
    );
    body += &tile(
        "failed",
        cov.failed,
        true,
        Some(&format!("{calls}&amp;outcome=failed")),
    );
    body += &tile(
        "needs review",
        cov.needs_review,
        true,
        Some(&format!("{calls}&amp;outcome=needs_review")),
    );
    body += &tile(
        "pending",
        cov.pending,
        false,
        Some(&format!("{calls}&amp;outcome=pending")),
    );
    body += &tile("unaccounted", cov.unaccounted.len(), true, None);
    body += &tile(
        "dead letters",
        cov.dead_letters,
        true,
        Some(&format!("{PATH}/dlq")),
    );
    body += &tile(
        "texts",
        cov.texts.received,
        false,
        Some(&format!("{PATH}/texts?{}", p.query)),
    );
    body += "</div><h2>Logged and not logged</h2>";
    body += &chart(&rows, p.since, p.until);
    body += "<h2>Needs action first</h2><ul id=\"actions\">";
    let mut actions = 0;
    for anchor in &cov.unaccounted {
        let _ = write!(
            body,
            "<li>unaccounted for: <a href=\"{PATH}/call/{0}\">{0}</a></li>",
            esc(anchor)
        );
        actions += 1;
    }
    for r in rows
        .iter()
        .filter(|r| r.decision == Some(Decision::NeedsReview))
    {
        let _ = write!(
            body,
            "<li>needs review: <a href=\"{PATH}/call/{0}\">{0}</a> {1}</li>",
            esc(&r.call),
            esc(r.reason.as_deref().unwrap_or_default())
        );
        actions += 1;
    }
    if cov.dead_letters > 0 {
        let _ = write!(body, "<li><a href=\"{PATH}/dlq\">{} dead letter(s)</a> to replay once the cause is fixed</li>", cov.dead_letters);
        actions += 1;
    }
    if actions == 0 {
        body += "<li>nothing: every call is accounted for</li>";
    }
    body += "</ul>";
    page("Overview", &body)
}

fn unreadable(title: &str, e: &llbridge_usecases::Error) -> Response {
    let mut r = page(
        title,
        &format!(
            "<p>The ledger could not be read: {}</p>",
            esc(&e.to_string())
        ),
    );
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    r
}

fn a_records(a: &Admin) -> llbridge_usecases::ports::Records<'_> {
    llbridge_usecases::ports::Records {
        store: a.store.as_ref(),
        clock: a.clock.as_ref(),
    }
}

/// Logged (green) and not logged (red) calls of the period, as bars: one an hour, or one a
/// day for a period longer than a week.
fn chart(rows: &[Row], since: i64, until: i64) -> String {
    let hour = 3_600_000;
    let (width, format) = if until - since > 7 * DAY_MS {
        (DAY_MS, "%Y-%m-%d")
    } else {
        (hour, "%d %H:00")
    };
    let first = since - since.rem_euclid(width);
    let bars = (((until - first) / width) + 1).clamp(1, 24 * 7) as usize;
    let mut bins = vec![(0usize, 0usize); bars];
    for r in rows {
        let i = ((r.at - first) / width).clamp(0, bars as i64 - 1) as usize;
        match r.decision {
            Some(d) if d.is_written() => bins[i].0 += 1,
            Some(_) => bins[i].1 += 1,
            None => {}
        }
    }
    let max = bins.iter().map(|(a, b)| a + b).max().unwrap_or(0).max(1);
    let mut out = String::from("<div class=\"chart\">");
    for (i, (ok, no)) in bins.iter().enumerate() {
        let h = |n: usize| n * 70 / max;
        let label = utc(first + i as i64 * width, format);
        let _ = write!(
            out,
            "<div class=\"bar\" title=\"{label}: {ok} logged, {no} not logged\"><div class=\"ok\" style=\"height:{}px\"></div><div class=\"no\" style=\"height:{}px\"></div></div>",
            h(*ok),
            h(*no)
        );
    }
    out + "</div>"
}

fn outcome_of(e: &Row) -> &'static str {
    e.decision.map_or("pending", |d| d.as_str())
}

async fn calls(State(c): State<Console>, headers: HeaderMap, Query(q): Q) -> Response {
    if c.session(&headers).is_none() {
        return refused();
    }
    let a = &c.admin;
    let p = period(&q, a.clock.now_ms());
    let want = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let search = want("q");
    let digits: String = search
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    // A call id (of any leg) is looked up whatever the period; four digits search the
    // period's callers.
    let by_id = search.filter(|_| digits.len() != 4);
    let rows = match by_id {
        Some(id) => ledger::find(a.store.as_ref(), id)
            .await
            .map(|found| found.map(|(_, e)| e.row()).into_iter().collect()),
        None => ledger::rows_between(a.store.as_ref(), p.since, p.until).await,
    };
    let mut entries: Vec<Row> = match rows {
        Ok(r) => r,
        Err(e) => return unreadable("Calls", &e),
    };
    if let Some(o) = want("outcome") {
        entries.retain(|e| match o {
            "dropped" => matches!(outcome_of(e), "dropped" | "skipped"),
            "logged" => matches!(outcome_of(e), "logged" | "recovered_by_reconciliation"),
            other => outcome_of(e) == other,
        });
    }
    if let Some(r) = want("reason") {
        entries.retain(|e| e.reason.as_deref() == Some(r));
    }
    if let Some(s) = want("scope") {
        entries.retain(|e| e.scope.as_deref() == Some(s));
    }
    if by_id.is_none() && digits.len() == 4 {
        entries.retain(|e| e.caller.as_deref().is_some_and(|c| c.ends_with(&digits)));
    }
    let inst = a.reconciler.config.installation().await.ok();
    let total = entries.len();
    let page_no = page_of(&q);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for e in &entries {
        if let Some(r) = &e.reason {
            *reasons.entry(r.clone()).or_default() += 1;
        }
    }
    let kept: Vec<(&str, &str)> = ["outcome", "reason", "scope", "q"]
        .into_iter()
        .filter_map(|k| want(k).map(|v| (k, v)))
        .collect();
    let mut body = periods(&p, &format!("{PATH}/calls"), &kept);
    let _ = write!(
        body,
        "<form id=\"filters\" method=\"get\" action=\"{PATH}/calls\"><input type=\"hidden\" name=\"period\" value=\"{}\"><input type=\"hidden\" name=\"from\" value=\"{}\"><input type=\"hidden\" name=\"to\" value=\"{}\">\
         outcome <select name=\"outcome\"><option value=\"\">any</option>",
        p.key,
        esc(&p.from),
        esc(&p.to)
    );
    for o in ["logged", "dropped", "failed", "needs_review", "pending"] {
        let sel = if want("outcome") == Some(o) {
            " selected"
        } else {
            ""
        };
        let _ = write!(body, "<option{sel}>{o}</option>");
    }
    // The scopes to choose from: every enablement's, and any the period's calls name.
    let mut scopes: std::collections::BTreeMap<String, String> = inst
        .iter()
        .flat_map(|i| i.enablements.iter())
        .map(|en| (en.scope.to_string(), en.connection.clone()))
        .collect();
    for e in &entries {
        if let Some(sc) = &e.scope {
            scopes.entry(sc.clone()).or_default();
        }
    }
    if let Some(sc) = want("scope") {
        scopes.entry(sc.to_owned()).or_default();
    }
    let _ = write!(
        body,
        "</select> reason <input name=\"reason\" value=\"{}\" size=\"18\"> call center <select name=\"scope\"><option value=\"\">any</option>",
        esc(want("reason").unwrap_or_default()),
    );
    for (sc, connection) in &scopes {
        let sel = if want("scope") == Some(sc.as_str()) {
            " selected"
        } else {
            ""
        };
        let label = if connection.is_empty() {
            sc.clone()
        } else {
            format!("{sc} ({connection})")
        };
        let _ = write!(
            body,
            "<option value=\"{}\"{sel}>{}</option>",
            esc(sc),
            esc(&label)
        );
    }
    let _ = write!(
        body,
        "</select> call id or last 4 digits <input name=\"q\" value=\"{}\" size=\"18\"> <button>Filter</button></form>",
        esc(want("q").unwrap_or_default())
    );
    let _ = write!(body, "<p>{total} call(s)</p><table id=\"calls\"><tr><th>time (UTC)</th><th>scope</th><th>direction</th><th>caller</th><th>agent</th><th>outcome</th><th>reason</th><th>family</th></tr>");
    for e in entries
        .iter()
        .skip((page_no - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
    {
        let at = utc(e.at, "%Y-%m-%d %H:%M:%S");
        let family_id = e.family.as_deref().unwrap_or_default();
        let family = match family_url(inst.as_deref(), e.scope.as_deref(), family_id) {
            Some(url) if !family_id.is_empty() => {
                format!(
                    "<a href=\"{}\" rel=\"noreferrer\">{}</a>",
                    esc(&url),
                    esc(family_id)
                )
            }
            _ => esc(family_id),
        };
        let _ = write!(
            body,
            "<tr class=\"call\" data-outcome=\"{outcome}\"><td><a href=\"{PATH}/call/{id}\">{at}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{outcome}</td><td title=\"{}\">{}</td><td>{family}</td></tr>",
            esc(e.scope.as_deref().unwrap_or_default()),
            esc(e.direction.as_deref().unwrap_or_default()),
            esc(e.caller.as_deref().unwrap_or_default()),
            esc(e.agent.as_deref().unwrap_or_default()),
            esc(e
                .reason
                .as_deref()
                .and_then(llbridge_usecases::explain::reason)
                .map(|w| w.meaning)
                .unwrap_or_default()),
            esc(e.reason.as_deref().unwrap_or_default()),
            outcome = outcome_of(e),
            id = esc(&e.call),
        );
    }
    body += "</table>";
    body += &pager(&q, "calls", page_no, total);
    if !reasons.is_empty() {
        body += "<h2>Reasons</h2><ul>";
        for (r, n) in &reasons {
            let _ = write!(
                body,
                "<li><a href=\"{PATH}/calls?{1}&amp;reason={0}\">{0}</a>: {n}</li>",
                esc(r),
                p.query
            );
        }
        body += "</ul>";
    }
    page("Calls", &body)
}

/// The texts of the period (newest first), filtered by outcome, paged.
async fn texts(State(c): State<Console>, headers: HeaderMap, Query(q): Q) -> Response {
    if c.session(&headers).is_none() {
        return refused();
    }
    let a = &c.admin;
    let p = period(&q, a.clock.now_ms());
    let mut list =
        match llbridge_usecases::texts::between(a.store.as_ref(), p.since, p.until + 1).await {
            Ok(t) => t,
            Err(e) => return unreadable("Texts", &e),
        };
    let outcome = |t: &llbridge_usecases::texts::TextEntry| match t.decision {
        None => "pending",
        Some(Decision::Logged) => "logged",
        Some(Decision::Dropped | Decision::Skipped) => "dropped",
        Some(_) => "failed",
    };
    let want = q.get("outcome").map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(o) = want {
        list.retain(|t| outcome(t) == o);
    }
    list.sort_by(|x, y| {
        y.sent_at
            .cmp(&x.sent_at)
            .then_with(|| x.sms_id.cmp(&y.sms_id))
    });
    let kept: Vec<(&str, &str)> = want.map(|o| ("outcome", o)).into_iter().collect();
    let mut body = periods(&p, &format!("{PATH}/texts"), &kept);
    let _ = write!(body, "<p>");
    for o in ["logged", "dropped", "failed", "pending"] {
        let _ = write!(
            body,
            "<a href=\"{PATH}/texts?{}&amp;outcome={o}\">{o}</a> ",
            p.query
        );
    }
    let page_no = page_of(&q);
    let _ = write!(body, "</p><p>{} text(s)</p><table id=\"texts\"><tr><th>time (UTC)</th><th>scope</th><th>direction</th><th>number</th><th>outcome</th><th>reason</th><th>family</th></tr>", list.len());
    for t in list.iter().skip((page_no - 1) * PAGE_SIZE).take(PAGE_SIZE) {
        let family = t
            .family
            .as_ref()
            .and_then(|f| f.get("id"))
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr class=\"text\" data-outcome=\"{o}\"><td><a href=\"{PATH}/call/{id}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{o}</td><td>{}</td><td>{}</td></tr>",
            utc(t.sent_at, "%Y-%m-%d %H:%M:%S"),
            esc(t.scope.as_deref().unwrap_or_default()),
            esc(t.direction.as_deref().unwrap_or_default()),
            esc(t.contact.as_deref().unwrap_or_default()),
            esc(t.reason.as_deref().unwrap_or_default()),
            esc(&family),
            o = outcome(t),
            id = esc(&t.sms_id),
        );
    }
    body += "</table>";
    body += &pager(&q, "texts", page_no, list.len());
    page("Texts", &body)
}

/// The page asked for (from 1).
fn page_of(q: &HashMap<String, String>) -> usize {
    q.get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// "page N of M · previous · next", keeping the page's other parameters.
fn pager(q: &HashMap<String, String>, list: &str, page_no: usize, total: usize) -> String {
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    if pages <= 1 {
        return String::new();
    }
    let mut query: Vec<String> = q
        .iter()
        .filter(|(k, _)| k.as_str() != "page")
        .map(|(k, v)| format!("{}={}", urlencoding(k), urlencoding(v)))
        .collect();
    query.sort();
    let base = format!("{PATH}/{list}?{}", query.join("&amp;"));
    let mut out = format!("<p>page {page_no} of {pages}");
    if page_no > 1 {
        let _ = write!(
            out,
            " · <a href=\"{base}&amp;page={}\">previous</a>",
            page_no - 1
        );
    }
    if page_no < pages {
        let _ = write!(
            out,
            " · <a href=\"{base}&amp;page={}\">next</a>",
            page_no + 1
        );
    }
    out + "</p>"
}

async fn call(State(c): State<Console>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if c.session(&headers).is_none() {
        return refused();
    }
    match trace::trace(c.admin.store.as_ref(), id.trim()).await {
        Ok(Some(t)) => {
            let mut body = String::new();
            let reason = t
                .ledger
                .as_ref()
                .and_then(|e| e.reason.clone())
                .or_else(|| t.text.as_ref().and_then(|x| x.reason.clone()));
            if let Some(code) = reason {
                if let Some(why) = llbridge_usecases::explain::reason(&code) {
                    let _ = write!(
                        body,
                        "<div id=\"why\"><h2>Why</h2><p><code>{}</code>: {}</p><p><strong>Fix:</strong> {}</p></div>",
                        esc(&code),
                        esc(why.meaning),
                        esc(why.fix)
                    );
                }
            }
            let inst = c.admin.reconciler.config.installation().await.ok();
            if let Some(e) = &t.ledger {
                body += &summary(e, inst.as_deref());
            }
            body += &timeline(&t);
            if let Some(f) = t.ledger.as_ref().and_then(|e| e.family.as_ref()) {
                let _ = write!(
                    body,
                    "<h2>Family decision</h2><pre id=\"family\">{}</pre>",
                    esc(&serde_json::to_string_pretty(f).unwrap_or_default())
                );
            }
            let _ = write!(
                body,
                "<h2>Trace</h2><pre id=\"trace\">{}</pre>",
                esc(&t.render())
            );
            page(&format!("Call {}", id.trim()), &body)
        }
        Ok(None) => page(
            "No such call",
            "<p>No event of this call reached the product, and no ledger record names it.</p>",
        ),
        Err(e) => page(
            "Call",
            &format!(
                "<p>The ledger could not be read: {}</p>",
                esc(&e.to_string())
            ),
        ),
    }
}

/// The family's page in the CRM of the enablement of `scope`.
fn family_url(
    inst: Option<&llbridge_domain::config::Installation>,
    scope: Option<&str>,
    id: &str,
) -> Option<String> {
    let scope = scope?;
    inst?
        .enablements
        .iter()
        .find(|en| en.scope.to_string() == scope)
        .and_then(|en| en.crm.contact_url(id))
}

/// A call's record at a glance: outcome, where it came from, who, when, the family (linked
/// to the CRM) and each effect with its CRM id.
fn summary(e: &Entry, inst: Option<&llbridge_domain::config::Installation>) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    let outcome = e.decision.map_or("pending", |d| d.as_str());
    rows.push((
        "outcome",
        match &e.reason {
            Some(r) => format!("{outcome} <code>{}</code>", esc(r)),
            None => outcome.to_owned(),
        },
    ));
    let source = e
        .source
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    rows.push(("came from", esc(&source)));
    rows.push(("scope", esc(e.scope.as_deref().unwrap_or_default())));
    rows.push((
        "caller",
        format!(
            "{} ({})",
            esc(e.caller.as_deref().unwrap_or_default()),
            esc(e.direction.as_deref().unwrap_or_default())
        ),
    ));
    rows.push(("agent", esc(e.agent.as_deref().unwrap_or_default())));
    let time = |t: Option<i64>| {
        t.map(|t| utc(t, "%Y-%m-%d %H:%M:%S UTC"))
            .unwrap_or_default()
    };
    rows.push(("started", time(e.started_at)));
    rows.push(("ended", time(e.ended_at)));
    rows.push(("log due", time(e.due_at)));
    let family = e.family.as_ref();
    let family_id = family
        .and_then(|f| f.get("id"))
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
    let rule = family
        .and_then(|f| f.get("rule"))
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    rows.push((
        "family",
        match family_id {
            Some(id) => match family_url(inst, e.scope.as_deref(), &id) {
                Some(url) => format!(
                    "<a id=\"family-link\" href=\"{}\" rel=\"noreferrer\">{}</a> ({})",
                    esc(&url),
                    esc(&id),
                    esc(rule)
                ),
                None => format!("{} ({})", esc(&id), esc(rule)),
            },
            None => family
                .and_then(|f| f.get("detail"))
                .and_then(|v| v.as_str())
                .map(esc)
                .unwrap_or_else(|| "none".into()),
        },
    ));
    if let Some(effects) = e.effects.as_ref().and_then(|x| x.as_object()) {
        let list: Vec<String> = effects
            .iter()
            .filter(|(k, _)| k.as_str() != "follow_ups")
            .map(|(k, v)| {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                format!("{}: {}", esc(k), esc(&v))
            })
            .collect();
        rows.push(("effects", list.join("<br>")));
    }
    rows.push((
        "attempts",
        format!(
            "{}{}",
            e.attempts,
            if e.replays > 0 {
                format!(", replayed {} time(s)", e.replays)
            } else {
                String::new()
            }
        ),
    ));
    let mut out = String::from("<h2>Summary</h2><table id=\"summary\">");
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    out + "</table>"
}

/// Every event of every leg, in time order.
fn timeline(t: &trace::Trace) -> String {
    let mut events: Vec<(&str, &trace::Event)> = t
        .legs
        .iter()
        .flat_map(|l| l.events.iter().map(move |e| (l.call_id.as_str(), e)))
        .collect();
    if events.is_empty() {
        return String::new();
    }
    events.sort_by_key(|(_, e)| e.at);
    let mut out = String::from("<h2>Timeline</h2><table id=\"timeline\"><tr><th>time (UTC)</th><th>leg</th><th>event</th><th>target</th><th>caller</th><th>dispositions</th></tr>");
    for (leg, e) in events {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            utc(e.at, "%H:%M:%S"),
            esc(leg),
            esc(&e.state),
            esc(e.target.as_deref().unwrap_or_default()),
            esc(e.external.as_deref().unwrap_or_default()),
            esc(&e.dispositions.join(", "))
        );
    }
    out + "</table>"
}

async fn dead_letters(State(c): State<Console>, headers: HeaderMap, Query(q): Q) -> Response {
    let Some(csrf) = c.session(&headers) else {
        return refused();
    };
    let letters: Vec<DeadLetterView> = c
        .admin
        .probe
        .dead_letters()
        .await
        .iter()
        .map(DeadLetterView::of)
        .collect();
    let mut body = String::new();
    if let Some(n) = q.get("replayed") {
        let _ = write!(body, "<p id=\"result\">{} job(s) put back on the queue; what they already did is not done twice.</p>", esc(n));
    }
    let _ = write!(
        body,
        "<p>{} job(s) given up after the retry horizon.</p>",
        letters.len()
    );
    if !letters.is_empty() {
        let _ = write!(body, "<form method=\"post\" action=\"{PATH}/dlq/replay\" onsubmit=\"return confirm('Replay every dead letter?')\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"all\" value=\"true\"><button id=\"replay-all\">Replay all</button></form>");
    }
    body += "<table id=\"dlq\"><tr><th>call</th><th>job</th><th>reason</th><th>detail</th><th>deliveries</th><th></th></tr>";
    for d in &letters {
        let id = d.call_id.clone().unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td><a href=\"{PATH}/call/{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td><td><form class=\"inline\" method=\"post\" action=\"{PATH}/dlq/replay\" onsubmit=\"return confirm('Replay this job?')\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"call\" value=\"{0}\"><button>Replay</button></form></td></tr>",
            esc(&id),
            esc(d.job.as_deref().unwrap_or_default()),
            esc(d.reason.as_deref().unwrap_or_default()),
            esc(d.detail.as_deref().unwrap_or_default()),
            d.deliveries.unwrap_or(0),
        );
    }
    body += "</table>";
    page("Dead letters", &body)
}

/// The `doctor` checks of the config in use, run on demand (`?run=1`): reads only.
async fn setup(State(c): State<Console>, headers: HeaderMap, Query(q): Q) -> Response {
    if c.session(&headers).is_none() {
        return refused();
    }
    if !q.contains_key("run") {
        return page(
            "Setup",
            &format!("<p>The checks read the live Dialpad API and every CRM connection (nothing is written) and take a few seconds.</p><p><a id=\"run\" href=\"{PATH}/setup?run=1\">Run the checks</a></p>"),
        );
    }
    let r = &c.admin.reconciler;
    let inst = match r.config.installation().await {
        Ok(i) => i,
        Err(e) => {
            return page(
                "Setup",
                &format!(
                    "<p>The config could not be read: {}</p>",
                    esc(&e.to_string())
                ),
            )
        }
    };
    let checkup =
        llbridge_usecases::doctor::run(&inst, r.clients.as_ref(), c.admin.clock.now_ms()).await;
    let mut body = format!(
        "<p id=\"summary\">{} passed, {} warnings, {} failed</p><table id=\"checks\"><tr><th>result</th><th>scope</th><th>check</th><th>detail</th><th>fix</th></tr>",
        checkup.count(llbridge_usecases::doctor::Verdict::Pass),
        checkup.count(llbridge_usecases::doctor::Verdict::Warn),
        checkup.count(llbridge_usecases::doctor::Verdict::Fail)
    );
    for ch in &checkup.checks {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ch.verdict.as_str(),
            esc(&ch.scope),
            esc(ch.check),
            esc(&ch.detail),
            esc(ch.fix.as_deref().unwrap_or_default())
        );
    }
    body += "</table>";
    page("Setup", &body)
}

async fn replay(
    State(c): State<Console>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let Some(csrf) = c.session(&headers) else {
        return refused();
    };
    if f.get("csrf") != Some(&csrf) {
        let mut r = page(
            "Refused",
            "<p>The form's token is missing or stale: reload the page and try again.</p>",
        );
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    let call = f.get("call").cloned().filter(|c| !c.is_empty());
    let all = f.get("all").is_some_and(|v| v == "true");
    if call.is_none() && !all {
        return redirect(&format!("{PATH}/dlq"), None);
    }
    let pick = move |d: &DeadLetter| match &call {
        Some(id) => DeadLetterView::of(d).call_id.as_deref() == Some(id.as_str()),
        None => true,
    };
    let replayed = c.admin.probe.replay_dead_letters(&pick).await;
    for d in &replayed {
        if let Some(id) = DeadLetterView::of(d).call_id {
            let _ = llbridge_usecases::ledger::note_replay(a_records(&c.admin), &id).await;
        }
    }
    redirect(&format!("{PATH}/dlq?replayed={}", replayed.len()), None)
}
