//! The LineLeader and Dialpad sandboxes: small HTTP servers (127.0.0.1) with in-memory state
//! that implement `lineleader-api.md` and Dialpad's screen-pop endpoint, for local runs and
//! tests.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sb = llbridge_sandbox::start_local().await?;
//! println!("{} {}", sb.lineleader_url, sb.dialpad_url);
//! // ... point llbridge at them; inspect sb.lineleader.state(), sb.dialpad.pops() ...
//! sb.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Both servers log every API request (`GET /_sandbox/requests`) and take injected faults
//! (`POST /_sandbox/faults`); see [`Faults`]. The LineLeader sandbox also serves `GET
//! /_sandbox/state`, `POST /_sandbox/reset` (a [`Dataset`], or empty for the demo data), `GET|POST
//! /_sandbox/config` ([`LineLeaderConfig`]) and `POST /_sandbox/tokens/revoke`; the Dialpad one
//! `GET /_sandbox/pops`, `POST /_sandbox/reset` and `GET|POST /_sandbox/config`
//! ([`DialpadConfig`]). [`Inspector`] reads and drives them over HTTP.
//!
//! The state handles ([`LineLeaderSandbox`], [`DialpadSandbox`]) also implement the
//! `LineLeader` and `Dialpad` ports directly: the embedded adapters.

pub mod calls;
pub mod dialpad;
mod inspect;
pub mod lineleader;
mod recorder;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use dialpad::{DialpadConfig, DialpadSandbox, Pop};
pub use inspect::Inspector;
pub use lineleader::{
    Dataset, Envelope, LineLeaderConfig, LineLeaderSandbox, LineLeaderState, SbCenter, SbEvent,
    SbFamily, SbLabel, SbPhoneLog, SbStaff, SbStatusChange, SbTask,
};
pub use recorder::{FaultRule, Faults, RequestRecord};

/// What to start with.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub lineleader: LineLeaderConfig,
    /// The LineLeader data; the demo data when `None`.
    pub data: Option<Dataset>,
    pub lineleader_faults: Faults,
    pub dialpad: DialpadConfig,
    pub dialpad_faults: Faults,
}

/// One running HTTP server.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and serves `router` on a spawned task.
    pub async fn bind(addr: SocketAddr, router: Router) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "sandbox server stopped");
            }
        });
        Ok(Server {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish for up to a second, then stops.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(1), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl LineLeaderSandbox {
    /// Serves this sandbox on `addr`.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<Server> {
        Server::bind(addr, self.router()).await
    }
}

impl DialpadSandbox {
    /// Serves this sandbox on `addr`.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<Server> {
        Server::bind(addr, self.router()).await
    }
}

/// Both sandboxes, running.
pub struct Sandboxes {
    /// The LineLeader base URL (the API is under `/api/v3`).
    pub lineleader_url: String,
    /// The Dialpad API base (the screen pop is `/api/v2/users/{id}/screenpop`).
    pub dialpad_url: String,
    pub lineleader: LineLeaderSandbox,
    pub dialpad: DialpadSandbox,
    lineleader_server: Server,
    dialpad_server: Server,
}

impl Sandboxes {
    pub async fn shutdown(self) {
        self.lineleader_server.shutdown().await;
        self.dialpad_server.shutdown().await;
    }
}

/// Starts both sandboxes on the given addresses (port 0 picks free ports).
pub async fn start(
    lineleader_addr: SocketAddr,
    dialpad_addr: SocketAddr,
    options: Options,
) -> std::io::Result<Sandboxes> {
    let data = options
        .data
        .unwrap_or_else(|| Dataset::demo(chrono::Utc::now()));
    let lineleader = LineLeaderSandbox::new(options.lineleader, data, options.lineleader_faults);
    let dialpad = DialpadSandbox::new(options.dialpad, options.dialpad_faults);
    let lineleader_server = lineleader.serve(lineleader_addr).await?;
    let dialpad_server = dialpad.serve(dialpad_addr).await?;
    tracing::info!(
        lineleader = %lineleader_server.url(),
        dialpad = %dialpad_server.url(),
        "sandboxes listening"
    );
    Ok(Sandboxes {
        lineleader_url: lineleader_server.url(),
        dialpad_url: dialpad_server.url(),
        lineleader,
        dialpad,
        lineleader_server,
        dialpad_server,
    })
}

/// Starts both sandboxes on free ports of 127.0.0.1, with default settings and the demo data.
pub async fn start_local() -> std::io::Result<Sandboxes> {
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    start(local, local, Options::default()).await
}
