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
use llbridge_app::ports::{Clock, ConfigSource, Queue, Secrets, StaticConfig, Store};
use llbridge_app::worker::{Report, Worker};
use llbridge_domain::Installation;
use llbridge_embedded::{MemoryQueue, MemorySecrets, MemoryStore, SystemClock};
use tokio::sync::watch;

/// How the local host is set up.
pub struct Options {
    pub installation: Installation,
    pub listen: SocketAddr,
    /// The call-log delay for enablements with the task queue.
    pub log_delay: Duration,
    pub clock: Arc<dyn Clock>,
    pub secrets: Arc<dyn Secrets>,
}

impl Options {
    pub fn new(installation: Installation, listen: SocketAddr) -> Options {
        Options {
            installation,
            listen,
            log_delay: Duration::from_secs(180),
            clock: Arc::new(SystemClock),
            secrets: Arc::new(MemorySecrets::new()),
        }
    }
}

/// A running local host.
pub struct Host {
    pub addr: SocketAddr,
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

    /// Waits until the queue is empty and the worker idle, or the timeout passes. Returns
    /// whether it drained.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.queue.is_empty() {
                // Let a message taken just now finish.
                tokio::time::sleep(Duration::from_millis(50)).await;
                if self.queue.is_empty() {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Stops the server and the worker.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
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

/// Starts the local host: binds, serves, and runs the worker loop.
pub async fn start(opts: Options) -> std::io::Result<Host> {
    let store = Arc::new(MemoryStore::new(opts.clock.clone()));
    let queue = Arc::new(MemoryQueue::with_settings(
        opts.clock.clone(),
        Duration::from_secs(30),
        5,
    ));
    let config: Arc<dyn ConfigSource> = Arc::new(StaticConfig(Arc::new(opts.installation)));
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
    let worker_task = tokio::spawn(run_worker(worker, queue.clone(), reports.clone(), rx));
    Ok(Host {
        addr,
        store,
        queue,
        reports,
        shutdown,
        tasks: vec![server, worker_task],
    })
}

/// Receives and handles messages until told to stop. A failed message is released for a
/// retry with a growing delay; after five deliveries the queue moves it to its dead letters.
async fn run_worker(
    worker: Arc<Worker>,
    queue: Arc<MemoryQueue>,
    reports: Arc<Mutex<Vec<Report>>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let batch = tokio::select! {
            r = queue.receive(10, Duration::from_millis(500)) => r,
            _ = stop.changed() => return,
        };
        let Ok(batch) = batch else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        for msg in batch {
            match worker.handle(&msg.body).await {
                Ok(report) => {
                    if let Ok(mut r) = reports.lock() {
                        r.push(report);
                    }
                    let _ = queue.ack(&msg.receipt).await;
                }
                Err(e) => {
                    let backoff = Duration::from_secs(1u64 << msg.receive_count.min(6));
                    tracing::warn!(error = %e, receive_count = msg.receive_count, retry_in_secs = backoff.as_secs(), "worker: job failed; it will be retried");
                    let _ = queue.release(&msg.receipt, backoff).await;
                }
            }
        }
    }
}
