//! The console: every call of a period at a glance, in a browser, for the admin who is not on a
//! terminal. Server-rendered HTML under `/_llbridge/console`, behind the admin API's loopback
//! rules, every asset inside the binary (no CDN, no script needed to read).
//!
//! * A one-time token, printed with the host's URL, is traded on the first visit for an
//!   HttpOnly, SameSite=Strict cookie; without the cookie every page is 401. The session ends
//!   with the process.
//! * Every POST carries the session's CSRF token.
//! * Pages: the overview of a period (the report's numbers, logged and not logged by hour,
//!   what needs action first), the calls (filtered by outcome, reason and scope, searched by
//!   a leg's id or the caller's last four digits, paged), one call (its trace), the dead
//!   letters (replayed one or all).
//!
//! Caller numbers are shown masked as everywhere; no secret is ever rendered.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{TimeZone, Utc};
use llbridge_usecases::ledger::{self, Entry};
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
pre{background:#fff;border:1px solid #dde2e8;padding:10px;white-space:pre-wrap}form.inline{display:inline}";

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · llbridge</title>\
         <style>{STYLE}</style></head><body><header><strong>llbridge</strong> &nbsp; \
         <a href=\"{PATH}/\">Overview</a><a href=\"{PATH}/calls\">Calls</a><a href=\"{PATH}/dlq\">Dead letters</a><a href=\"{PATH}/setup\">Setup</a></header>\
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

/// The period a page shows: `today` (since midnight UTC, the default), `24h`, `7d`.
fn period(q: &HashMap<String, String>, now_ms: i64) -> (String, i64) {
    let key = q.get("period").map(String::as_str).unwrap_or("today");
    match key {
        "24h" => ("24h".into(), now_ms - 24 * 3_600_000),
        "7d" => ("7d".into(), now_ms - 7 * 24 * 3_600_000),
        _ => ("today".into(), now_ms - now_ms.rem_euclid(24 * 3_600_000)),
    }
}

fn periods(current: &str, base: &str) -> String {
    ["today", "24h", "7d"]
        .iter()
        .map(|p| {
            if *p == current {
                format!("<strong>{p}</strong>")
            } else {
                format!("<a href=\"{base}?period={p}\">{p}</a>")
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
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
    let now = a.clock.now_ms();
    let (key, since) = period(&q, now);
    let dead = a.probe.dead_letters().await.len();
    let span = Duration::from_millis((now - since).max(0) as u64);
    let (cov, entries) = match (
        report::coverage(a_records(a), span, dead).await,
        ledger::between(a.store.as_ref(), since, now).await,
    ) {
        (Ok(c), Ok(e)) => (c, e),
        (Err(e), _) | (_, Err(e)) => {
            return page(
                "Overview",
                &format!(
                    "<p>The ledger could not be read: {}</p>",
                    esc(&e.to_string())
                ),
            )
        }
    };
    let dropped: usize = cov.dropped.values().sum();
    let calls = format!("{PATH}/calls?period={key}");
    let mut body = format!(
        "<p>{}</p><div class=\"tiles\">",
        periods(&key, &format!("{PATH}/"))
    );
    body += &tile("calls", cov.calls, false, Some(&calls));
    body += &tile(
        "logged",
        cov.logged,
        false,
        Some(&format!("{calls}&outcome=logged")),
    );
    body += &tile("recovered", cov.recovered, false, None);
    body += &tile(
        "dropped",
        dropped,
        false,
        Some(&format!("{calls}&outcome=dropped")),
    );
    body += &tile(
        "failed",
        cov.failed,
        true,
        Some(&format!("{calls}&outcome=failed")),
    );
    body += &tile(
        "needs review",
        cov.needs_review,
        true,
        Some(&format!("{calls}&outcome=needs_review")),
    );
    body += &tile("pending", cov.pending, false, None);
    body += &tile("unaccounted", cov.unaccounted.len(), true, None);
    body += &tile(
        "dead letters",
        cov.dead_letters,
        true,
        Some(&format!("{PATH}/dlq")),
    );
    body += &tile("texts", cov.texts.received, false, None);
    body += "</div><h2>Logged and not logged, by hour</h2>";
    body += &chart(&entries, since, now);
    body += "<h2>Needs action first</h2><ul>";
    let mut actions = 0;
    for anchor in &cov.unaccounted {
        let _ = write!(
            body,
            "<li>unaccounted for: <a href=\"{PATH}/call/{0}\">{0}</a></li>",
            esc(anchor)
        );
        actions += 1;
    }
    for e in entries.iter().filter(|e| {
        matches!(
            e.decision,
            Some(llbridge_usecases::outcome::Decision::NeedsReview)
        )
    }) {
        let _ = write!(
            body,
            "<li>needs review: <a href=\"{PATH}/call/{0}\">{0}</a> {1}</li>",
            esc(&e.dialpad_call_id),
            esc(e.detail.as_deref().unwrap_or_default())
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

fn a_records(a: &Admin) -> llbridge_usecases::ports::Records<'_> {
    llbridge_usecases::ports::Records {
        store: a.store.as_ref(),
        clock: a.clock.as_ref(),
    }
}

/// Logged (green) and not logged (red) calls per hour of the period, as bars.
fn chart(entries: &[Entry], since: i64, now: i64) -> String {
    let hour = 3_600_000;
    let first = since - since.rem_euclid(hour);
    let hours = (((now - first) / hour) + 1).clamp(1, 24 * 7) as usize;
    let mut bins = vec![(0usize, 0usize); hours];
    for e in entries {
        let at = e.started_at.unwrap_or(e.opened_at);
        let i = ((at - first) / hour).clamp(0, hours as i64 - 1) as usize;
        match e.decision {
            Some(d) if d.is_written() => bins[i].0 += 1,
            Some(_) => bins[i].1 += 1,
            None => {}
        }
    }
    let max = bins.iter().map(|(a, b)| a + b).max().unwrap_or(0).max(1);
    let mut out = String::from("<div class=\"chart\">");
    for (i, (ok, no)) in bins.iter().enumerate() {
        let h = |n: usize| n * 70 / max;
        let label = Utc
            .timestamp_millis_opt(first + i as i64 * hour)
            .single()
            .map(|t| t.format("%d %H:00").to_string())
            .unwrap_or_default();
        let _ = write!(
            out,
            "<div class=\"bar\" title=\"{label}: {ok} logged, {no} not logged\"><div class=\"ok\" style=\"height:{}px\"></div><div class=\"no\" style=\"height:{}px\"></div></div>",
            h(*ok),
            h(*no)
        );
    }
    out + "</div>"
}

fn outcome_of(e: &Entry) -> &'static str {
    e.decision.map_or("pending", |d| d.as_str())
}

async fn calls(State(c): State<Console>, headers: HeaderMap, Query(q): Q) -> Response {
    if c.session(&headers).is_none() {
        return refused();
    }
    let a = &c.admin;
    let now = a.clock.now_ms();
    let (key, since) = period(&q, now);
    let mut entries = match ledger::between(a.store.as_ref(), since, now).await {
        Ok(e) => e,
        Err(e) => {
            return page(
                "Calls",
                &format!(
                    "<p>The ledger could not be read: {}</p>",
                    esc(&e.to_string())
                ),
            )
        }
    };
    let want = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
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
    if let Some(s) = want("q") {
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        entries.retain(|e| {
            e.legs.contains(s)
                || e.dialpad_call_id == s
                || (digits.len() == 4 && e.caller.as_deref().is_some_and(|c| c.ends_with(&digits)))
        });
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.started_at.unwrap_or(e.opened_at)));
    let inst = a.reconciler.config.installation().await.ok();
    // The family's page in the CRM, by the enablement of the call's scope.
    let family_link = |e: &Entry, id: &str| -> Option<String> {
        let inst = inst.as_ref()?;
        let scope = e.scope.as_deref()?;
        inst.enablements
            .iter()
            .find(|en| en.scope.to_string() == scope)
            .and_then(|en| en.crm.contact_url(id))
    };
    let total = entries.len();
    let page_no: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for e in &entries {
        if let Some(r) = &e.reason {
            *reasons.entry(r.clone()).or_default() += 1;
        }
    }
    let mut body = format!(
        "<p>{}</p><form method=\"get\" action=\"{PATH}/calls\"><input type=\"hidden\" name=\"period\" value=\"{key}\">\
         outcome <select name=\"outcome\"><option value=\"\">any</option>",
        periods(&key, &format!("{PATH}/calls"))
    );
    for o in ["logged", "dropped", "failed", "needs_review", "pending"] {
        let sel = if want("outcome") == Some(o) {
            " selected"
        } else {
            ""
        };
        let _ = write!(body, "<option{sel}>{o}</option>");
    }
    let _ = write!(
        body,
        "</select> reason <input name=\"reason\" value=\"{}\" size=\"18\"> scope <input name=\"scope\" value=\"{}\" size=\"22\"> call id or last 4 digits <input name=\"q\" value=\"{}\" size=\"18\"> <button>Filter</button></form>",
        esc(want("reason").unwrap_or_default()),
        esc(want("scope").unwrap_or_default()),
        esc(want("q").unwrap_or_default())
    );
    let _ = write!(body, "<p>{total} call(s)</p><table id=\"calls\"><tr><th>time (UTC)</th><th>scope</th><th>direction</th><th>caller</th><th>agent</th><th>outcome</th><th>reason</th><th>family</th></tr>");
    for e in entries
        .iter()
        .skip((page_no - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
    {
        let at = Utc
            .timestamp_millis_opt(e.started_at.unwrap_or(e.opened_at))
            .single()
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let family_id = e
            .family
            .as_ref()
            .and_then(|f| f.get("id"))
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let family = match family_link(e, family_id) {
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
            id = esc(&e.dialpad_call_id),
        );
    }
    body += "</table>";
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    if pages > 1 {
        let mut query: Vec<String> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "page")
            .map(|(k, v)| format!("{}={}", esc(k), esc(v)))
            .collect();
        query.sort();
        let base = format!("{PATH}/calls?{}", query.join("&amp;"));
        let _ = write!(body, "<p>page {page_no} of {pages}");
        if page_no > 1 {
            let _ = write!(
                body,
                " · <a href=\"{base}&amp;page={}\">previous</a>",
                page_no - 1
            );
        }
        if page_no < pages {
            let _ = write!(
                body,
                " · <a href=\"{base}&amp;page={}\">next</a>",
                page_no + 1
            );
        }
        body += "</p>";
    }
    if !reasons.is_empty() {
        body += "<h2>Reasons</h2><ul>";
        for (r, n) in &reasons {
            let _ = write!(
                body,
                "<li><a href=\"{PATH}/calls?period={key}&amp;reason={0}\">{0}</a>: {n}</li>",
                esc(r)
            );
        }
        body += "</ul>";
    }
    page("Calls", &body)
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
            let _ = write!(
                body,
                "<h2>Trace</h2><pre id=\"trace\">{}</pre>",
                esc(&t.render())
            );
            if let Some(f) = t.ledger.as_ref().and_then(|e| e.family.as_ref()) {
                let _ = write!(
                    body,
                    "<h2>Family decision</h2><pre id=\"family\">{}</pre>",
                    esc(&serde_json::to_string_pretty(f).unwrap_or_default())
                );
            }
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
