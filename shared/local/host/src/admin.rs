//! The local host's admin API, for `llbridge report|trace|reconcile|dlq --url`: JSON under
//! `/_llbridge/`, a path the webhook (`/dialpad/events`) never reaches, answered only to
//! loopback clients (403 to anyone else, whatever address the host listens on).
//!
//! * `GET /_llbridge/report?since_secs=N`: `{"coverage": {...}, "unaccounted": [...]}`
//! * `GET /_llbridge/ledger?since_secs=N`: the ledger's records of the period
//! * `GET /_llbridge/trace/{call_id}`: everything known of that call's conversation (404: none)
//! * `GET /_llbridge/dlq`: the dead letters
//! * `POST /_llbridge/dlq/replay?call=ID` or `?all=true`: back to the job queue
//! * `POST /_llbridge/reconcile?since_secs=N`: one reconciliation pass now
//! * `POST /_llbridge/replay?call=ID` or `?since_secs=N&reason=R`: refused call logs run again
//! * `/_llbridge/console`: the console, in a browser ([`crate::console`])

// Handlers return early with a ready `Response`, the axum way; its size does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use llbridge_usecases::ports::{Clock, DeadLetter, Records, Store};
use llbridge_usecases::reconcile::Reconciler;
use llbridge_usecases::{ledger, report, trace};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::QueueProbe;

/// Where the admin API lives.
pub const PREFIX: &str = "/_llbridge";

/// What the admin API reads and drives.
#[derive(Clone)]
pub struct Admin {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub probe: Arc<dyn QueueProbe>,
    pub reconciler: Arc<Reconciler>,
    /// The port the host listens on: a request must name it in its `Host`.
    pub port: u16,
    /// The console's sessions (its one-time token and cookies).
    pub console: Arc<std::sync::Mutex<crate::console::Sessions>>,
}

impl Admin {
    fn records(&self) -> Records<'_> {
        Records {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
        }
    }
}

/// A dead letter as `llbridge dlq list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterView {
    /// The leg whose job it was.
    pub call_id: Option<String>,
    pub job: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub deliveries: Option<u32>,
    pub body: String,
}

impl DeadLetterView {
    pub fn of(d: &DeadLetter) -> DeadLetterView {
        let msg: Option<serde_json::Value> = serde_json::from_str(&d.body).ok();
        let field = |k: &str| {
            msg.as_ref()
                .and_then(|m| m.get("event"))
                .and_then(|e| e.get(k))
                .map(|v| v.to_string().trim_matches('"').to_owned())
        };
        DeadLetterView {
            call_id: field("call_id"),
            job: msg
                .as_ref()
                .and_then(|m| m.get("job"))
                .and_then(|j| j.as_str())
                .map(str::to_owned),
            reason: d.reason.clone(),
            detail: d.detail.clone(),
            deliveries: d.deliveries,
            body: d.body.clone(),
        }
    }
}

/// The admin routes, loopback only.
pub fn routes(admin: Admin) -> Router {
    let port = admin.port;
    Router::new()
        .route("/_llbridge/report", get(report_of))
        .route("/_llbridge/ledger", get(ledger_of))
        .route("/_llbridge/trace/{call_id}", get(trace_of))
        .route("/_llbridge/dlq", get(dlq))
        .route("/_llbridge/dlq/replay", post(replay))
        .route("/_llbridge/reconcile", post(reconcile))
        .route("/_llbridge/replay", post(replay_refused))
        .with_state(admin.clone())
        .merge(crate::console::routes(crate::console::Console {
            sessions: admin.console.clone(),
            admin,
        }))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| loopback_only(req, next, port),
        ))
}

fn forbidden(reason: &str, detail: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(json!({"status": "rejected", "reason": reason, "detail": detail})),
    )
        .into_response()
}

/// Whether `host` (a `Host` header, or an origin's authority) is a loopback name or address
/// with the host's port.
pub fn local_authority(host: &str, port: u16) -> bool {
    let Some((name, p)) = host.trim().rsplit_once(':') else {
        return false;
    };
    if p.parse::<u16>().ok() != Some(port) {
        return false;
    }
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Loopback clients only, that name the host as a loopback address and its port (a proxy or a
/// tunnel forwards other names: every peer would look local), from no other site (a web page
/// in the admin's browser can post to 127.0.0.1: its `Origin` says where it comes from).
async fn loopback_only(req: Request, next: Next, port: u16) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if !peer.is_some_and(|ip| ip.is_loopback()) {
        return forbidden(
            "admin_api_is_local_only",
            "the admin API answers loopback clients only",
        );
    }
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !local_authority(host, port) {
        return forbidden(
            "admin_api_is_local_only",
            "the Host header must be a loopback name or address with the host's port",
        );
    }
    if let Some(origin) = req.headers().get(axum::http::header::ORIGIN) {
        let own = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|authority| local_authority(authority, port));
        if !own {
            return forbidden(
                "cross_origin_request",
                "a request from another site (its Origin header) is refused",
            );
        }
    }
    next.run(req).await
}

type Q = Query<HashMap<String, String>>;

fn period(q: &HashMap<String, String>) -> Result<Duration, Response> {
    match q.get("since_secs").map(|s| s.trim().parse::<u64>()) {
        None => Ok(Duration::from_secs(24 * 3600)),
        Some(Ok(s)) => Ok(Duration::from_secs(s)),
        Some(Err(_)) => Err(bad("since_secs: a number of seconds")),
    }
}

fn bad(reason: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"status": "rejected", "reason": reason})),
    )
        .into_response()
}

fn failed(e: llbridge_usecases::Error) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "error", "reason": e.reason(), "detail": e.to_string()})),
    )
        .into_response()
}

async fn report_of(State(a): State<Admin>, Query(q): Q) -> Response {
    let period = match period(&q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let dead = a.probe.dead_letter_count().await;
    match report::coverage(a.records(), period, dead).await {
        Ok(c) => Json(json!({"coverage": c, "unaccounted": c.unaccounted})).into_response(),
        Err(e) => failed(e),
    }
}

async fn ledger_of(State(a): State<Admin>, Query(q): Q) -> Response {
    let period = match period(&q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let now = a.clock.now_ms();
    match ledger::between(a.store.as_ref(), now - period.as_millis() as i64, now).await {
        Ok(entries) => Json(entries).into_response(),
        Err(e) => failed(e),
    }
}

async fn trace_of(State(a): State<Admin>, Path(call_id): Path<String>) -> Response {
    match trace::trace(a.store.as_ref(), call_id.trim()).await {
        Ok(Some(t)) => Json(t).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({"status": "unknown", "reason": "no_such_call",
                "detail": "no event of this call reached the product, and no ledger record names it"})),
        )
            .into_response(),
        Err(e) => failed(e),
    }
}

async fn dlq(State(a): State<Admin>) -> Response {
    let views: Vec<DeadLetterView> = a
        .probe
        .dead_letters()
        .await
        .iter()
        .map(DeadLetterView::of)
        .collect();
    Json(views).into_response()
}

async fn replay(State(a): State<Admin>, Query(q): Q) -> Response {
    let call = q.get("call").cloned();
    let all = q.get("all").is_some_and(|v| v == "true");
    if call.is_none() && !all {
        return bad("say which: call=CALL_ID, or all=true");
    }
    let pick = move |d: &DeadLetter| match &call {
        Some(id) => DeadLetterView::of(d).call_id.as_deref() == Some(id.as_str()),
        None => true,
    };
    let replayed = a.probe.replay_dead_letters(&pick).await;
    for d in &replayed {
        if let Some(id) = DeadLetterView::of(d).call_id {
            if let Err(e) = ledger::note_replay(a.records(), &id).await {
                tracing::warn!(error = %e, "admin: could not note a replay in the ledger");
            }
        }
    }
    Json(json!({"replayed": replayed.len()})).into_response()
}

/// The conversations to replay: the one of `call`, or those refused (with `reason`, if
/// given) in the last `since_secs`.
pub async fn refused_conversations(
    store: &dyn Store,
    now_ms: i64,
    call: Option<&str>,
    since: Option<Duration>,
    reason: Option<&str>,
) -> llbridge_usecases::Result<Vec<String>> {
    if let Some(call) = call {
        return Ok(ledger::find(store, call.trim())
            .await?
            .filter(|(_, e)| llbridge_usecases::replay::refused(e, reason))
            .map(|(anchor, _)| vec![anchor])
            .unwrap_or_default());
    }
    let since = since.unwrap_or(Duration::from_secs(24 * 3600));
    Ok(
        ledger::between(store, now_ms - since.as_millis() as i64, now_ms)
            .await?
            .into_iter()
            .filter(|e| llbridge_usecases::replay::refused(e, reason))
            .map(|e| e.conversation)
            .collect(),
    )
}

async fn replay_refused(State(a): State<Admin>, Query(q): Q) -> Response {
    let call = q.get("call").map(String::as_str);
    let since = match q.get("since_secs") {
        None => None,
        Some(_) => match period(&q) {
            Ok(p) => Some(p),
            Err(r) => return r,
        },
    };
    if call.is_none() && since.is_none() {
        return bad("say which: call=CALL_ID, or since_secs=N (and reason=CODE)");
    }
    let reason = q.get("reason").map(String::as_str);
    let now = a.clock.now_ms();
    let anchors = match refused_conversations(a.store.as_ref(), now, call, since, reason).await {
        Ok(x) => x,
        Err(e) => return failed(e),
    };
    let mut replayed = Vec::new();
    for anchor in anchors {
        match llbridge_usecases::replay::replay(a.records(), a.reconciler.queue.as_ref(), &anchor)
            .await
        {
            Ok(Some(r)) => replayed.push(r),
            Ok(None) => {}
            Err(e) => return failed(e),
        }
    }
    Json(json!({"replayed": replayed})).into_response()
}

async fn reconcile(State(a): State<Admin>, Query(q): Q) -> Response {
    let since = match q.get("since_secs") {
        None => None,
        Some(_) => match period(&q) {
            Ok(p) => Some(p),
            Err(r) => return r,
        },
    };
    match a.reconciler.pass(since).await {
        Ok(p) => Json(p).into_response(),
        Err(e) => failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use llbridge_memory::{MemoryQueue, MemoryStore, SystemClock};
    use tower::ServiceExt;

    async fn asked(ip: [u8; 4], host: &str, origin: Option<&str>) -> StatusCode {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new(clock.clone()));
        let queue = Arc::new(MemoryQueue::new(clock.clone()));
        let inst = llbridge_crm_registry::parse_value(&json!({
            "dialpad": {"webhook_secrets": ["a-webhook-secret-long-enough"], "api_key": "k"},
            "connections": {"main": {"base_url": "https://ll.example", "username": "u", "password": "p"}},
            "enablements": [{"scope": {"level": "company"}, "connection": "main", "screen_pop": false,
                "default_center_name": "Oak Park"}]
        }))
        .expect("config");
        let clients = Arc::new(llbridge_memory::StaticClients {
            crm: Arc::new(llbridge_crm_lineleader::LineLeaderCrm::new(Arc::new(
                llbridge_sandbox::LineLeaderSandbox::demo(),
            ))),
            dialpad: Arc::new(llbridge_sandbox::DialpadSandbox::new(
                Default::default(),
                Default::default(),
            )),
        });
        let admin = Admin {
            store: store.clone(),
            clock: clock.clone(),
            probe: Arc::new(crate::MemoryProbe {
                queue: queue.clone(),
                clock: clock.clone(),
            }),
            reconciler: Arc::new(Reconciler {
                store,
                queue,
                clock,
                config: Arc::new(llbridge_usecases::ports::StaticConfig(Arc::new(inst))),
                clients,
                log_delay: Duration::from_secs(180),
                settings: Default::default(),
            }),
            port: 8080,
            console: Arc::new(std::sync::Mutex::new(crate::console::Sessions::new())),
        };
        let mut req = Request::builder()
            .uri("/_llbridge/report?since_secs=3600")
            .header("host", host)
            .body(Body::empty())
            .expect("request");
        if let Some(o) = origin {
            req.headers_mut()
                .insert("origin", o.parse().expect("origin"));
        }
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
        routes(admin).oneshot(req).await.expect("answer").status()
    }

    async fn status_from(ip: [u8; 4]) -> StatusCode {
        asked(ip, "127.0.0.1:8080", None).await
    }

    #[tokio::test]
    async fn the_admin_api_answers_loopback_clients_only() {
        assert_eq!(status_from([127, 0, 0, 1]).await, StatusCode::OK);
        assert_eq!(status_from([10, 0, 0, 7]).await, StatusCode::FORBIDDEN);
        assert_eq!(status_from([192, 168, 1, 20]).await, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn the_host_must_name_a_loopback_address_and_the_port_and_the_origin_be_its_own() {
        let local = [127, 0, 0, 1];
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "[::1]:8080",
            "LOCALHOST:8080",
        ] {
            assert_eq!(asked(local, host, None).await, StatusCode::OK, "{host}");
        }
        // A tunnel or proxy on this machine forwarding a public name; another port; none.
        for host in [
            "llbridge.example.com:8080",
            "127.0.0.1:9999",
            "127.0.0.1",
            "",
            "evil.test",
        ] {
            assert_eq!(
                asked(local, host, None).await,
                StatusCode::FORBIDDEN,
                "{host:?}"
            );
        }
        assert_eq!(
            asked(local, "127.0.0.1:8080", Some("http://127.0.0.1:8080")).await,
            StatusCode::OK
        );
        for origin in [
            "https://evil.test",
            "http://127.0.0.1:9999",
            "null",
            "https://127.0.0.1:8080",
        ] {
            assert_eq!(
                asked(local, "127.0.0.1:8080", Some(origin)).await,
                StatusCode::FORBIDDEN,
                "{origin}"
            );
        }
    }
}
