//! The local host: serves `POST /dialpad/events` (the same handler as the ingest Lambda),
//! LeadSquared's `/leadsquared/click-to-call` and `/leadsquared/disposition` (the connector
//! Lambda's), Dialpad's call routers at `/dialpad/route/{name}` (the router Lambda's) and
//! `GET /healthz`, and runs the worker in-process on the embedded queue, which honours delays
//! and wakes the worker as soon as a job is queued. [`aws`] runs it on the AWS adapters
//! instead (SQS, DynamoDB, Secrets Manager; moto locally).

pub mod admin;
pub mod aws;
pub mod console;
pub mod drive;

pub use drive::Drive;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::Json;
use llbridge_crm_leadsquared::actions::{
    Actions, Request as ActionRequest, CLICK_TO_CALL_PATH, DISPOSITION_PATH,
};
use llbridge_domain::config::{Connection, SecretRef, SANDBOX};
use llbridge_domain::Installation;
use llbridge_memory::{MemoryQueue, MemorySecrets, MemoryStore, SystemClock};
use llbridge_sandbox::Sandboxes;
use llbridge_usecases::crm::Clients;
use llbridge_usecases::effect::Timing;
use llbridge_usecases::ingest::Ingest;
use llbridge_usecases::ports::{
    Clock, ConfigSource, DeadLetter, Queue, Secrets, StaticConfig, Store,
};
use llbridge_usecases::reconcile::Reconciler;
use llbridge_usecases::route::Router;
use llbridge_usecases::worker::{Report, RetryPolicy, Worker};
use tokio::sync::watch;

/// How the local host is set up.
pub struct Options {
    pub installation: Installation,
    pub listen: SocketAddr,
    /// The call-log delay for enablements with the task queue.
    pub log_delay: Duration,
    pub clock: Arc<dyn Clock>,
    pub secrets: Arc<dyn Secrets>,
    /// The LineLeader and Dialpad clients; by default HTTP clients of the config's URLs.
    pub clients: Option<Arc<dyn Clients>>,
    /// How the sandboxes start when a URL of the config is `sandbox`.
    pub sandbox: llbridge_sandbox::Options,
    /// Job deadlines and lease lengths.
    pub timing: Timing,
    /// Retries of failed jobs, and when they are given up.
    pub retry: RetryPolicy,
    /// The store; an embedded one by default.
    pub store: Option<Arc<dyn Store>>,
    /// The queue and a way to watch it; an embedded one by default.
    pub queue: Option<(Arc<dyn Queue>, Arc<dyn QueueProbe>)>,
    /// How often the reconciler runs in the host; `None`: only on demand.
    pub reconcile_every: Option<Duration>,
    pub reconcile: llbridge_usecases::reconcile::Settings,
    /// Retries inside one LineLeader request, when not the client's default.
    pub lineleader_retry: Option<llbridge_crm_registry::RetryPolicy>,
    /// How the worker runs: in the background (the default) or stepped by [`Host::settle`].
    pub drive: Drive,
}

/// What the host needs to know of its queue to tell when the worker has settled.
#[async_trait]
pub trait QueueProbe: Send + Sync {
    /// No message visible or in flight, and none due within `horizon` (where the queue can
    /// tell due times; others ignore `horizon`).
    async fn idle(&self, horizon: Duration) -> bool;
    /// Messages in the queue, visible, in flight or delayed.
    async fn pending(&self) -> usize;
    /// The messages on the dead-letter queue, with their reasons.
    async fn dead_letters(&self) -> Vec<llbridge_usecases::ports::DeadLetter>;
    /// How many messages the dead-letter queue holds (what a report counts): the list's
    /// length, unless the queue can count without reading every message.
    async fn dead_letter_count(&self) -> usize {
        self.dead_letters().await.len()
    }
    /// Moves the dead letters `pick` chooses back to the job queue; returns them.
    async fn replay_dead_letters(
        &self,
        pick: &(dyn for<'d> Fn(&'d DeadLetter) -> bool + Send + Sync),
    ) -> Vec<DeadLetter>;
    /// How long `idle` must hold before the worker counts as settled: long enough for a
    /// message delayed by the log delay to show, where `idle` cannot see delayed messages.
    fn quiet_period(&self) -> Duration;
}

/// The probe of the embedded queue, which knows every message's due time.
pub struct MemoryProbe {
    queue: Arc<MemoryQueue>,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl QueueProbe for MemoryProbe {
    async fn idle(&self, horizon: Duration) -> bool {
        let now = self.clock.now_ms();
        let due_soon = self
            .queue
            .next_visible_at()
            .is_some_and(|at| at <= now + horizon.as_millis() as i64);
        self.queue.in_flight() == 0 && !due_soon
    }

    async fn pending(&self) -> usize {
        self.queue.len()
    }

    async fn dead_letters(&self) -> Vec<llbridge_usecases::ports::DeadLetter> {
        self.queue.dead_letters_with_reasons()
    }

    async fn replay_dead_letters(
        &self,
        pick: &(dyn for<'d> Fn(&'d DeadLetter) -> bool + Send + Sync),
    ) -> Vec<DeadLetter> {
        self.queue.replay_dead_letters(pick)
    }

    fn quiet_period(&self) -> Duration {
        Duration::from_millis(50)
    }
}

impl Options {
    pub fn new(installation: Installation, listen: SocketAddr) -> Options {
        Options {
            installation,
            listen,
            log_delay: Duration::from_secs(180),
            clock: Arc::new(SystemClock),
            secrets: Arc::new(MemorySecrets::new()),
            clients: None,
            sandbox: llbridge_sandbox::Options::default(),
            timing: Timing::default(),
            retry: RetryPolicy::default(),
            store: None,
            queue: None,
            reconcile_every: None,
            reconcile: llbridge_usecases::reconcile::Settings::default(),
            lineleader_retry: None,
            drive: Drive::Background,
        }
    }
}

/// A running local host.
pub struct Host {
    pub addr: SocketAddr,
    /// The sandboxes this host started, when the config asked for them.
    pub sandboxes: Option<Sandboxes>,
    /// The config in use (sandbox URLs filled in).
    pub installation: Arc<Installation>,
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    /// The reconciler, for passes on demand.
    pub reconciler: Arc<Reconciler>,
    probe: Arc<dyn QueueProbe>,
    console: Arc<Mutex<console::Sessions>>,
    reports: drive::Reports,
    stepper: Option<drive::Stepper>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Host {
    /// The webhook URL.
    pub fn webhook_url(&self) -> String {
        format!("http://{}/dialpad/events", self.addr)
    }

    /// The console's URL with its one-time token (until the token is traded for a session).
    pub fn console_url(&self) -> Option<String> {
        let sessions = self.console.lock().ok()?;
        let token = sessions.token()?;
        Some(format!(
            "http://{}{}?token={token}",
            self.addr,
            console::PATH
        ))
    }

    /// Every worker decision so far, in order.
    pub fn reports(&self) -> Vec<Report> {
        self.reports.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Waits until the worker is idle and no message is due within `horizon` (messages put
    /// off for longer, such as re-checks of calls whose end was never seen, are left), or the
    /// timeout passes. Returns whether it settled.
    ///
    /// A stepped host runs the jobs here, skipping the clock ahead to each delayed one.
    pub async fn settle(&self, horizon: Duration, timeout: Duration) -> bool {
        if let Some(stepper) = &self.stepper {
            let run = stepper.run(horizon, &self.reports);
            return tokio::time::timeout(timeout, run).await.unwrap_or(false);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let quiet_for = self.probe.quiet_period();
        let mut quiet_since: Option<tokio::time::Instant> = None;
        while tokio::time::Instant::now() < deadline {
            if self.probe.idle(horizon).await {
                let since = *quiet_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= quiet_for {
                    return true;
                }
            } else {
                quiet_since = None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    /// A stepped host: runs every job due within `span`, then moves the clock to the end of
    /// it (time passes whether jobs are due or not). Returns whether it settled; false on a
    /// host that is not stepped.
    pub async fn run_for(&self, span: Duration, timeout: Duration) -> bool {
        let Some(stepper) = &self.stepper else {
            return false;
        };
        let end = llbridge_usecases::ports::Clock::now_ms(stepper.clock.as_ref())
            + span.as_millis() as i64;
        let settled = self.settle(span, timeout).await;
        stepper.clock.step_to(end);
        settled
    }

    /// Messages still in the queue (visible, in flight or delayed).
    pub async fn pending(&self) -> usize {
        self.probe.pending().await
    }

    /// Waits until the queue is empty (every job, delayed ones included, ran), or the timeout
    /// passes. Returns whether it drained.
    pub async fn drain(&self, timeout: Duration) -> bool {
        if self.stepper.is_some() {
            const DAY: Duration = Duration::from_secs(24 * 3600);
            return self.settle(DAY, timeout).await && self.pending().await == 0;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            let quiet = self.probe.quiet_period() + Duration::from_millis(500);
            if self.pending().await == 0 && self.settle(Duration::ZERO, quiet).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Messages given up (with the reason) or that failed on every delivery.
    pub async fn dead_letters(&self) -> Vec<llbridge_usecases::ports::DeadLetter> {
        self.probe.dead_letters().await
    }

    /// Stops the server, the worker and the sandboxes.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        if let Some(sb) = self.sandboxes {
            sb.shutdown().await;
        }
    }
}

#[derive(Clone)]
struct AppState {
    ingest: Arc<Ingest>,
    actions: Arc<Actions>,
    router: Arc<Router>,
}

async fn webhook(State(st): State<AppState>, method: Method, body: Bytes) -> impl IntoResponse {
    let resp = st.ingest.handle(method.as_str(), &body).await;
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(resp.body))
}

/// LeadSquared's click to call and dispositions (the connector function's handler).
async fn leadsquared(
    State(st): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let resp = st
        .actions
        .handle(ActionRequest {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query(),
            content_type: header("content-type"),
            key: header(llbridge_crm_leadsquared::actions::KEY_HEADER),
            body: &body,
        })
        .await;
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if resp.body.is_null() {
        return status.into_response();
    }
    (status, Json(resp.body)).into_response()
}

/// A Dialpad call router's request (the router function's handler).
async fn route(
    State(st): State<AppState>,
    axum::extract::Path(name): axum::extract::Path<String>,
    method: Method,
    body: Bytes,
) -> impl IntoResponse {
    let resp = st.router.handle(&name, method.as_str(), &body).await;
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(resp.body))
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// Builds the HTTP routes: the webhook, the call routers, LeadSquared's action URLs and the
/// admin API.
pub fn router(
    ingest: Arc<Ingest>,
    actions: Arc<Actions>,
    call_router: Arc<Router>,
    admin: admin::Admin,
) -> axum::Router {
    axum::Router::new()
        .route("/dialpad/events", any(webhook))
        .route("/dialpad/route/{name}", any(route))
        .route(CLICK_TO_CALL_PATH, any(leadsquared))
        .route(DISPOSITION_PATH, any(leadsquared))
        .route("/healthz", get(healthz))
        .with_state(AppState {
            ingest,
            actions,
            router: call_router,
        })
        .merge(admin::routes(admin))
}

fn literal(r: &SecretRef) -> Option<String> {
    match r {
        SecretRef::Literal(s) => Some(s.clone()),
        SecretRef::Managed { .. } => None,
    }
}

/// Starts the sandboxes when a URL of the config is `sandbox`, with the config's literal
/// credentials, and fills their URLs in.
async fn start_sandboxes(
    inst: &mut Installation,
    mut options: llbridge_sandbox::Options,
) -> std::io::Result<Option<Sandboxes>> {
    let wants = inst.dialpad.api_base_url == SANDBOX
        || inst.connections.values().any(Connection::uses_sandbox);
    if !wants {
        return Ok(None);
    }
    for c in inst.connections.values().filter(|c| c.uses_sandbox()) {
        options.accept_credentials_of(c.kind, &c.raw);
    }
    if let Some(k) = inst.dialpad.api_key.as_ref().and_then(literal) {
        options.dialpad.api_key = k;
    }
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let sb = llbridge_sandbox::start(local, local, options).await?;
    if inst.dialpad.api_base_url == SANDBOX {
        inst.dialpad.api_base_url = sb.dialpad_url.clone();
    }
    // Each `sandbox` of a connection becomes its sandbox's URL, and the connection is read
    // again by its CRM.
    for (name, c) in inst.connections.iter_mut() {
        if !c.uses_sandbox() {
            continue;
        }
        let mut raw = c.raw.clone();
        if let Some(o) = raw.as_object_mut() {
            for (key, v) in o.iter_mut() {
                if v.as_str().map(str::trim) == Some(SANDBOX) {
                    if let Some(url) = sb.url_for(c.kind, key) {
                        *v = serde_json::Value::String(url);
                    }
                }
            }
        }
        *c = llbridge_crm_registry::connection(name, &raw)
            .map_err(|e| std::io::Error::other(format!("connection {name}: {e}")))?;
    }
    Ok(Some(sb))
}

/// Starts the local host: binds, serves, and runs the worker loop.
pub async fn start(mut opts: Options) -> std::io::Result<Host> {
    if let Drive::Stepped(clock) = &opts.drive {
        if opts.queue.is_some() {
            return Err(std::io::Error::other(
                "a stepped host needs the embedded queue",
            ));
        }
        opts.clock = clock.clone();
    }
    let mut installation = opts.installation;
    let sandboxes = start_sandboxes(&mut installation, opts.sandbox).await?;
    let installation = Arc::new(installation);
    let store: Arc<dyn Store> = match opts.store {
        Some(s) => s,
        None => Arc::new(MemoryStore::new(opts.clock.clone())),
    };
    let mut memory_queue = None;
    let (queue, probe): (Arc<dyn Queue>, Arc<dyn QueueProbe>) = match opts.queue {
        Some(q) => q,
        None => {
            // Redelivered only after the longest job; redriven by the queue itself only after
            // more deliveries than the retry policy ever makes.
            let q = Arc::new(MemoryQueue::with_settings(
                opts.clock.clone(),
                opts.timing.lease,
                opts.retry.deliveries() + 5,
            ));
            let probe = Arc::new(MemoryProbe {
                queue: q.clone(),
                clock: opts.clock.clone(),
            });
            memory_queue = Some(q.clone());
            (q, probe)
        }
    };
    let config: Arc<dyn ConfigSource> = Arc::new(StaticConfig(installation.clone()));
    let clients: Arc<dyn Clients> = match opts.clients {
        Some(c) => c,
        None => {
            let http = llbridge_crm_registry::HttpClients::new(
                opts.secrets.clone(),
                store.clone(),
                opts.clock.clone(),
            )
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .with_request_budget(opts.timing.write_budget);
            Arc::new(match opts.lineleader_retry {
                Some(r) => http.with_lineleader_retry(r),
                None => http,
            })
        }
    };
    let ingest = Arc::new(Ingest {
        config: config.clone(),
        secrets: opts.secrets.clone(),
        queue: queue.clone(),
        store: store.clone(),
        clock: opts.clock.clone(),
        log_delay: opts.log_delay,
    });
    let users = Arc::new(llbridge_usecases::click::Users::default());
    let actions = Arc::new(Actions {
        config: config.clone(),
        secrets: opts.secrets.clone(),
        store: store.clone(),
        clock: opts.clock.clone(),
        clients: clients.clone(),
        ingest: ingest.clone(),
        dialer: llbridge_usecases::click::Dialer::with_users(users.clone()),
    });
    let call_router = Arc::new(Router::new(
        config.clone(),
        opts.secrets.clone(),
        store.clone(),
        opts.clock.clone(),
        clients.clone(),
        users,
    ));
    let worker = Arc::new(
        Worker::new(
            store.clone(),
            queue.clone(),
            opts.clock.clone(),
            config.clone(),
            clients.clone(),
            opts.log_delay,
        )
        .with_timing(opts.timing)
        .with_retry(opts.retry),
    );
    let reconciler = Arc::new(Reconciler {
        store: store.clone(),
        queue: queue.clone(),
        clock: opts.clock.clone(),
        config,
        clients,
        log_delay: opts.log_delay,
        settings: opts.reconcile,
    });
    let listener = tokio::net::TcpListener::bind(opts.listen).await?;
    let addr = listener.local_addr()?;
    let console = Arc::new(Mutex::new(console::Sessions::new()));
    let admin = admin::Admin {
        store: store.clone(),
        clock: opts.clock.clone(),
        probe: probe.clone(),
        reconciler: reconciler.clone(),
        port: addr.port(),
        console: console.clone(),
    };
    let (shutdown, rx) = watch::channel(false);
    let reports = Arc::new(Mutex::new(Vec::new()));

    let mut server_rx = rx.clone();
    let server = tokio::spawn(async move {
        let app = router(ingest, actions, call_router, admin)
            .into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_rx.wait_for(|stop| *stop).await;
            })
            .await;
    });
    let mut tasks = Vec::new();
    if let Some(every) = opts.reconcile_every {
        tasks.push(tokio::spawn(run_reconciler(
            reconciler.clone(),
            every,
            rx.clone(),
        )));
    }
    tasks.push(server);
    let stepper = match (&opts.drive, memory_queue) {
        (Drive::Stepped(clock), Some(queue)) => Some(drive::Stepper {
            worker,
            queue,
            clock: clock.clone(),
        }),
        _ => {
            tasks.push(drive::spawn_worker(
                worker,
                queue.clone(),
                reports.clone(),
                rx,
            ));
            None
        }
    };
    Ok(Host {
        addr,
        sandboxes,
        installation,
        store,
        queue,
        reconciler,
        probe,
        console,
        reports,
        stepper,
        shutdown,
        tasks,
    })
}

/// A reconciliation pass every `every`, until told to stop. A failed pass is logged; the next
/// one resumes what it left.
async fn run_reconciler(
    reconciler: Arc<Reconciler>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        match reconciler.pass(None).await {
            Ok(p) if p.error.is_some() => {
                tracing::warn!(
                    job = "reconcile",
                    decision = "failed",
                    reason = "list_failed",
                    error = p.error.as_deref().unwrap_or_default(),
                    "reconciler: the call list failed; the next pass resumes what this one left"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(job = "reconcile", decision = "failed", reason = e.reason(),
                    error = %e, "reconciler: the pass failed; the next one resumes what it left");
            }
        }
    }
}
