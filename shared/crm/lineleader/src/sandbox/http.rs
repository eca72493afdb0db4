//! The LineLeader sandbox over HTTP.

// Handlers return early with a ready `Response`, the axum way; its size does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::{json, Value};

use super::{Dataset, Envelope, LineLeaderConfig, LineLeaderSandbox, Refusal, MAX_LIMIT};
use llbridge_sandbox_kit::recorder::{self, error, parse_json, reply, with_header};

type Q = Result<Query<HashMap<String, String>>, QueryRejection>;

/// The query parameters, or a JSON 400.
fn params(q: Q) -> Result<HashMap<String, String>, Response> {
    q.map(|Query(q)| q)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &e.body_text()))
}

impl LineLeaderSandbox {
    /// The HTTP routes: the API under `/api/v3`, the test hooks under `/_sandbox`.
    pub fn router(&self) -> Router {
        let config = self.config();
        let at = |name: &str, default: &str| -> String {
            config
                .paths
                .get(name)
                .cloned()
                .unwrap_or_else(|| default.to_owned())
        };
        let api = Router::new()
            .route(&at("login", "/login"), post(login))
            .route(&at("login_refresh", "/login/refresh"), post(refresh))
            .route(&at("centers", "/centers"), get(centers))
            .route(&at("statuses", "/statuses"), get(statuses))
            .route(
                &at("types_family_source", "/types/family/source"),
                get(source_types),
            )
            .route(
                &at("types_family_inquiry", "/types/family/inquiry"),
                get(inquiry_types),
            )
            .route(&at("types_tasks", "/types/tasks"), get(task_types))
            .route(
                &at("types_task_results", "/types/tasks/results"),
                get(task_results),
            )
            .route(&at("staff", "/staff"), get(staff))
            .route(&at("families", "/families"), post(create_family))
            .route(&at("family_search", "/families/search"), get(search))
            .route(&at("family", "/families/{id}"), get(family))
            .route(
                &at("family_status", "/families/{id}/status"),
                put(set_status),
            )
            .route(&at("tasks", "/tasks"), get(tasks).post(create_task))
            .route(&at("task", "/tasks/{id}"), get(task).put(put_task))
            .route(&at("events", "/events"), get(events).post(create_event))
            .route(
                &at("phone_logs", "/in-contact/phone-logs"),
                get(phone_logs).post(create_phone_log),
            );
        let hooks = recorder::common_hooks()
            .route("/state", get(hook_state))
            .route("/reset", post(hook_reset))
            .route("/tokens/revoke", post(hook_revoke));
        Router::new()
            .nest("/api/v3", api)
            .nest(recorder::HOOK_PREFIX, hooks)
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                self.recorder().clone(),
                recorder::middleware,
            ))
            .with_state(self.clone())
    }
}

type S = State<LineLeaderSandbox>;

fn refused(r: Refusal) -> Response {
    error(r.status_code(), &r.reason)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn auth(sb: &LineLeaderSandbox, headers: &HeaderMap) -> Result<(), Response> {
    sb.authorize(bearer(headers)).map_err(refused)
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

fn path_id(raw: &str) -> Result<u64, Response> {
    raw.parse()
        .map_err(|_| error(StatusCode::NOT_FOUND, "no such record"))
}

/// A page of `items` per `limit`/`offset`, with `X-Total-Count`.
fn page(sb: &LineLeaderSandbox, items: Vec<Value>, q: &HashMap<String, String>) -> Response {
    let config = sb.config();
    let limit = match q.get("limit").map(|l| l.trim().parse::<usize>()) {
        None => config.default_limit.max(1),
        Some(Ok(l)) if (1..=MAX_LIMIT).contains(&l) => l,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("limit: a number from 1 to {MAX_LIMIT}"),
            )
        }
    };
    let offset = match q.get("offset").map(|o| o.trim().parse::<usize>()) {
        None => 0,
        Some(Ok(o)) => o,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "offset: a number"),
    };
    let total = items.len();
    let slice: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    list(&config, slice, total)
}

/// A whole list, with `X-Total-Count`.
fn list(config: &LineLeaderConfig, items: Vec<Value>, total: usize) -> Response {
    let body = match config.envelope {
        Envelope::Bare => Value::Array(items),
        Envelope::Data => json!({ "data": items }),
        Envelope::Items => json!({ "items": items }),
    };
    with_header(
        reply(StatusCode::OK, body),
        "x-total-count",
        &total.to_string(),
    )
}

fn whole(sb: &LineLeaderSandbox, items: Vec<Value>) -> Response {
    let n = items.len();
    list(&sb.config(), items, n)
}

async fn login(State(sb): S, body: Bytes) -> Response {
    let body: Value = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (Some(u), Some(p)) = (
        body.get("username").and_then(Value::as_str),
        body.get("password").and_then(Value::as_str),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "username and password are required",
        );
    };
    match sb.login(u, p) {
        Ok(pair) => reply(StatusCode::OK, pair),
        Err(r) => refused(r),
    }
}

async fn refresh(State(sb): S, body: Bytes) -> Response {
    let body: Value = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(rt) = body.get("refresh_token").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "refresh_token is required");
    };
    match sb.refresh(rt) {
        Ok(pair) => reply(StatusCode::OK, pair),
        Err(r) => refused(r),
    }
}

async fn centers(State(sb): S, headers: HeaderMap, q: Q) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let q = match params(q) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let items = sb.with_data(|d| {
        d.centers
            .iter()
            .map(LineLeaderSandbox::center_json)
            .collect()
    });
    page(&sb, items, &q)
}

async fn statuses(State(sb): S, headers: HeaderMap) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let items = sb.with_data(|d| {
        d.statuses
            .iter()
            .map(LineLeaderSandbox::status_json)
            .collect()
    });
    whole(&sb, items)
}

fn types_of(
    sb: &LineLeaderSandbox,
    headers: &HeaderMap,
    pick: fn(&Dataset) -> &Vec<super::SbLabel>,
) -> Response {
    if let Err(r) = auth(sb, headers) {
        return r;
    }
    let items = sb.with_data(|d| pick(d).iter().map(LineLeaderSandbox::type_json).collect());
    whole(sb, items)
}

async fn source_types(State(sb): S, headers: HeaderMap) -> Response {
    types_of(&sb, &headers, |d| &d.source_types)
}

async fn inquiry_types(State(sb): S, headers: HeaderMap) -> Response {
    types_of(&sb, &headers, |d| &d.inquiry_types)
}

async fn task_types(State(sb): S, headers: HeaderMap) -> Response {
    types_of(&sb, &headers, |d| &d.task_types)
}

async fn task_results(State(sb): S, headers: HeaderMap) -> Response {
    types_of(&sb, &headers, |d| &d.task_results)
}

async fn staff(State(sb): S, headers: HeaderMap, q: Q) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let q = match params(q) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let items = sb.with_data(|d| d.staff.iter().map(LineLeaderSandbox::staff_json).collect());
    page(&sb, items, &q)
}

async fn search(State(sb): S, headers: HeaderMap, q: Q) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let q = match params(q) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let param = sb.config().search_param;
    let Some(phone) = q.get(&param) else {
        return error(StatusCode::BAD_REQUEST, &format!("{param} is required"));
    };
    match sb.search_phone(phone) {
        Ok(found) => {
            let items = found.iter().map(|f| sb.family_json(f)).collect();
            page(&sb, items, &q)
        }
        Err(r) => refused(r),
    }
}

async fn family(State(sb): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let id = match path_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    match sb.family_by_id(id) {
        Some(f) => reply(StatusCode::OK, sb.family_json(&f)),
        None => error(StatusCode::NOT_FOUND, "no such family"),
    }
}

async fn create_family(State(sb): S, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let body: Value = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match sb.post_family(&body) {
        Ok(f) => reply(StatusCode::CREATED, sb.family_json(&f)),
        Err(r) => refused(r),
    }
}

async fn set_status(
    State(sb): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let id = match path_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let body: Value = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match sb.put_family_status(id, &body) {
        Ok(f) => reply(StatusCode::OK, sb.family_json(&f)),
        Err(r) => refused(r),
    }
}

async fn tasks(State(sb): S, headers: HeaderMap, q: Q) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let q = match params(q) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let num = |k: &str| -> Result<Option<u64>, Response> {
        match q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| error(StatusCode::BAD_REQUEST, &format!("{k}: not an id"))),
        }
    };
    let (family_id, type_id) = match (num("family_id"), num("type")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let include_completed = match q.get("include_completed").map(|s| s.as_str()) {
        None | Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(_) => return error(StatusCode::BAD_REQUEST, "include_completed: true or false"),
    };
    let items = sb
        .task_list(family_id, type_id, include_completed)
        .iter()
        .map(|t| sb.task_json(t))
        .collect();
    page(&sb, items, &q)
}

async fn task(State(sb): S, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let id = match path_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    match sb.task_by_id(id) {
        Some(t) => reply(StatusCode::OK, sb.task_json(&t)),
        None => error(StatusCode::NOT_FOUND, "no such task"),
    }
}

async fn put_task(
    State(sb): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let id = match path_id(&id) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let body: Value = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match sb.put_task(id, &body) {
        Ok(t) => reply(StatusCode::OK, sb.task_json(&t)),
        Err(r) => refused(r),
    }
}

async fn create_event(State(sb): S, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let body: Value = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match sb.post_event(&body) {
        Ok(id) => reply(StatusCode::CREATED, json!({ "id": id })),
        Err(r) => refused(r),
    }
}

/// K3.
async fn create_task(State(sb): S, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let body: Value = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match sb.post_task(&body) {
        Ok(id) => reply(StatusCode::CREATED, json!({ "id": id })),
        Err(r) => refused(r),
    }
}

/// The optional `family_id` filter of a list, or a JSON 400.
fn family_filter(q: &HashMap<String, String>) -> Result<Option<u64>, Response> {
    match q.get("family_id").map(|v| v.trim().parse::<u64>()) {
        None => Ok(None),
        Some(Ok(f)) => Ok(Some(f)),
        Some(Err(_)) => Err(error(StatusCode::BAD_REQUEST, "family_id: not an id")),
    }
}

/// E2; a tenant without it answers 405.
async fn events(State(sb): S, headers: HeaderMap, q: Q) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    if !sb.config().event_lookup {
        return error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let q = match params(q) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let family_id = match family_filter(&q) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let unfiltered = sb.config().lookups_ignore_filters;
    let items = sb
        .event_list(family_id.filter(|_| !unfiltered))
        .iter()
        .map(|e| {
            let mut v = sb.event_json(e);
            if let (true, Some(o)) = (unfiltered, v.as_object_mut()) {
                o.remove("family");
            }
            v
        })
        .collect();
    page(&sb, items, &q)
}

/// P2; a tenant without it answers 404.
async fn phone_logs(State(sb): S, headers: HeaderMap, q: Q) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    if !sb.config().phone_log_lookup {
        return error(StatusCode::NOT_FOUND, "no such endpoint");
    }
    let q = match params(q) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let family_id = match family_filter(&q) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let call = q.get("external_call_id").map(|c| c.trim());
    let unfiltered = sb.config().lookups_ignore_filters;
    let (call, family_id) = if unfiltered {
        (None, None)
    } else {
        (call, family_id)
    };
    let items = sb
        .phone_log_list(call, family_id)
        .iter()
        .map(|p| {
            let mut v = LineLeaderSandbox::phone_log_json(p);
            if let (true, Some(o)) = (unfiltered, v.as_object_mut()) {
                o.remove("external_call_id");
            }
            v
        })
        .collect();
    page(&sb, items, &q)
}

async fn create_phone_log(State(sb): S, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = auth(&sb, &headers) {
        return r;
    }
    let body: Value = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match sb.post_phone_log(&body) {
        Ok(id) => reply(StatusCode::CREATED, json!({ "id": id })),
        Err(r) => refused(r),
    }
}

// ---- hooks -------------------------------------------------------------------------------

async fn hook_state(State(sb): S) -> Response {
    match serde_json::to_value(sb.state()) {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// An empty body (or `{}` with no lists) loads the demo data; a data set replaces the data.
async fn hook_reset(State(sb): S, body: Bytes) -> Response {
    let data = if body.iter().all(u8::is_ascii_whitespace) {
        Dataset::demo(chrono::Utc::now())
    } else {
        match parse_json::<Dataset>(&body) {
            Ok(d) if d == Dataset::default() => Dataset::demo(chrono::Utc::now()),
            Ok(d) => d,
            Err(r) => return r,
        }
    };
    sb.reset(data);
    reply(StatusCode::OK, json!({ "reset": true }))
}

async fn hook_revoke(State(sb): S) -> Response {
    sb.revoke_tokens();
    reply(
        StatusCode::OK,
        json!({ "revoked": true, "token_generation": sb.state().token_generation }),
    )
}
