//! The local host: serves `POST /dialpad/events` (the same handler as the ingest Lambda) and
//! `GET /healthz`, and runs the worker in-process on the embedded queue, which honours delays.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use llbridge_app::ingest::Ingest;
use llbridge_app::ports::{Clients, Clock, ConfigSource, Queue, Secrets, StaticConfig, Store};
use llbridge_app::worker::{Report, Worker};
use llbridge_domain::config::{SecretRef, SANDBOX};
use llbridge_domain::Installation;
use llbridge_embedded::{MemoryQueue, MemorySecrets, MemoryStore, SystemClock};
use llbridge_sandbox::Sandboxes;
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
    /// The first retry delay of a failed job; it doubles on each delivery.
    pub retry_base: Duration,
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
            retry_base: Duration::from_secs(1),
        }
    }
}

/// A running local host.
pub struct Host {
    pub addr: SocketAddr,
    clock: Arc<dyn Clock>,
    /// The sandboxes this host started, when the config asked for them.
    pub sandboxes: Option<Sandboxes>,
    /// The config in use (sandbox URLs filled in).
    pub installation: Arc<Installation>,
    pub store: Arc<MemoryStore>,
    pub queue: Arc<MemoryQueue>,
    reports: Arc<Mutex<Vec<Report>>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Host {
    /// The webhook URL.
    pub fn webhook_url(&self) -> String {
        format!("http://{}/dialpad/events", self.addr)
    }

    /// Every worker decision so far, in order.
    pub fn reports(&self) -> Vec<Report> {
        self.reports.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Waits until the worker is idle and no message is due within `horizon` (messages put
    /// off for longer, such as re-checks of calls whose end was never seen, are left), or the
    /// timeout passes. Returns whether it settled.
    pub async fn settle(&self, horizon: Duration, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut quiet = 0;
        while tokio::time::Instant::now() < deadline {
            let now = self.clock.now_ms();
            let due_soon = self
                .queue
                .next_visible_at()
                .is_some_and(|at| at <= now + horizon.as_millis() as i64);
            let idle = self.queue.in_flight() == 0 && !due_soon;
            quiet = if idle { quiet + 1 } else { 0 };
            // Idle twice in a row, so a message taken between two looks is not missed.
            if quiet >= 2 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    /// Waits until the queue is empty (every job, delayed ones included, ran), or the timeout
    /// passes. Returns whether it drained.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.queue.is_empty()
                && self
                    .settle(Duration::ZERO, Duration::from_millis(100))
                    .await
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Messages that failed on every delivery.
    pub fn dead_letters(&self) -> Vec<String> {
        self.queue.dead_letters()
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
}

async fn webhook(State(st): State<AppState>, method: Method, body: Bytes) -> impl IntoResponse {
    let resp = st.ingest.handle(method.as_str(), &body).await;
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(resp.body))
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({"status": "ok"}))
}

/// Builds the router of the webhook (shared by the local host and tests).
pub fn router(ingest: Arc<Ingest>) -> Router {
    Router::new()
        .route("/dialpad/events", any(webhook))
        .route("/healthz", get(healthz))
        .with_state(AppState { ingest })
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
        || inst.connections.values().any(|c| c.base_url == SANDBOX);
    if !wants {
        return Ok(None);
    }
    if let Some(c) = inst.connections.values().find(|c| c.base_url == SANDBOX) {
        if let (Some(u), Some(p)) = (literal(&c.username), literal(&c.password)) {
            options.lineleader.username = u;
            options.lineleader.password = p;
        }
    }
    if let Some(k) = inst.dialpad.api_key.as_ref().and_then(literal) {
        options.dialpad.api_key = k;
    }
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let sb = llbridge_sandbox::start(local, local, options).await?;
    if inst.dialpad.api_base_url == SANDBOX {
        inst.dialpad.api_base_url = sb.dialpad_url.clone();
    }
    for c in inst.connections.values_mut() {
        if c.base_url == SANDBOX {
            c.base_url = sb.lineleader_url.clone();
        }
    }
    Ok(Some(sb))
}

/// Starts the local host: binds, serves, and runs the worker loop.
pub async fn start(opts: Options) -> std::io::Result<Host> {
    let mut installation = opts.installation;
    let sandboxes = start_sandboxes(&mut installation, opts.sandbox).await?;
    let installation = Arc::new(installation);
    let store = Arc::new(MemoryStore::new(opts.clock.clone()));
    let queue = Arc::new(MemoryQueue::with_settings(
        opts.clock.clone(),
        Duration::from_secs(30),
        5,
    ));
    let config: Arc<dyn ConfigSource> = Arc::new(StaticConfig(installation.clone()));
    let clients: Arc<dyn Clients> = match opts.clients {
        Some(c) => c,
        None => Arc::new(
            llbridge_clients::HttpClients::new(
                opts.secrets.clone(),
                store.clone(),
                opts.clock.clone(),
            )
            .map_err(|e| std::io::Error::other(e.to_string()))?,
        ),
    };
    let ingest = Arc::new(Ingest {
        config: config.clone(),
        secrets: opts.secrets.clone(),
        queue: queue.clone(),
        clock: opts.clock.clone(),
        log_delay: opts.log_delay,
    });
    let worker = Arc::new(Worker {
        store: store.clone() as Arc<dyn Store>,
        queue: queue.clone() as Arc<dyn Queue>,
        clock: opts.clock.clone(),
        config,
        log_delay: opts.log_delay,
        clients,
    });
    let listener = tokio::net::TcpListener::bind(opts.listen).await?;
    let addr = listener.local_addr()?;
    let (shutdown, rx) = watch::channel(false);
    let reports = Arc::new(Mutex::new(Vec::new()));

    let mut server_rx = rx.clone();
    let server = tokio::spawn(async move {
        let app = router(ingest);
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_rx.wait_for(|stop| *stop).await;
            })
            .await;
    });
    let worker_task = tokio::spawn(run_worker(
        worker,
        queue.clone(),
        reports.clone(),
        rx,
        opts.retry_base,
    ));
    Ok(Host {
        addr,
        clock: opts.clock.clone(),
        sandboxes,
        installation,
        store,
        queue,
        reports,
        shutdown,
        tasks: vec![server, worker_task],
    })
}

/// Jobs handled at once, as concurrent Lambda invocations would.
const CONCURRENCY: usize = 16;

/// Receives and handles messages until told to stop, up to [`CONCURRENCY`] at once. A failed
/// message is released for a retry with a growing delay; after five deliveries the queue moves
/// it to its dead letters.
async fn run_worker(
    worker: Arc<Worker>,
    queue: Arc<MemoryQueue>,
    reports: Arc<Mutex<Vec<Report>>>,
    mut stop: watch::Receiver<bool>,
    retry_base: Duration,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut running = tokio::task::JoinSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        while running.try_join_next().is_some() {}
        let free = slots.available_permits();
        if free == 0 {
            tokio::select! {
                _ = running.join_next() => {}
                _ = stop.changed() => break,
            }
            continue;
        }
        let batch = tokio::select! {
            r = queue.receive(free.min(10), Duration::from_millis(200)) => r,
            _ = stop.changed() => break,
        };
        let Ok(batch) = batch else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        for msg in batch {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let (worker, queue, reports) = (worker.clone(), queue.clone(), reports.clone());
            running.spawn(async move {
                let _permit = permit;
                match worker.handle(&msg.body).await {
                    Ok(report) => {
                        if let Ok(mut r) = reports.lock() {
                            r.push(report);
                        }
                        let _ = queue.ack(&msg.receipt).await;
                    }
                    Err(e) => {
                        let backoff = retry_base * (1u32 << msg.receive_count.min(6));
                        tracing::warn!(error = %e, receive_count = msg.receive_count, retry_in_secs = backoff.as_secs(), "worker: job failed; it will be retried");
                        let _ = queue.release(&msg.receipt, backoff).await;
                    }
                }
            });
        }
    }
    running.abort_all();
}
