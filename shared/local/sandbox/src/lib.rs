//! The LineLeader, Dialpad and LeadSquared sandboxes: small HTTP servers (127.0.0.1) with
//! in-memory state that implement the LineLeader API (`docs/lineleader-api.md`), Dialpad's
//! screen pop and call list, and LeadSquared's call log and agent popup
//! (`docs/leadsquared.md`), for local runs and tests.
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
//! Every server logs each API request (`GET /_sandbox/requests`) and takes injected faults
//! (`POST /_sandbox/faults`); see [`Faults`]. The LineLeader sandbox also serves `GET
//! /_sandbox/state`, `POST /_sandbox/reset` (a [`Dataset`], or empty for the demo data), `GET|POST
//! /_sandbox/config` ([`LineLeaderConfig`]) and `POST /_sandbox/tokens/revoke`; the Dialpad one
//! `GET /_sandbox/pops`, `POST /_sandbox/reset` and `GET|POST /_sandbox/config`
//! ([`DialpadConfig`]); the LeadSquared one `GET /_sandbox/calllogs`, `GET /_sandbox/popups`,
//! `POST /_sandbox/reset` and `GET|POST /_sandbox/config` ([`LeadSquaredConfig`]).
//! [`Inspector`] reads and drives them over HTTP.
//!
//! The state handles ([`LineLeaderSandbox`], [`DialpadSandbox`], [`LeadSquaredSandbox`]) also
//! implement the `LineLeader`, `Dialpad` and `LeadSquared` ports directly: the embedded
//! adapters.

pub mod calls;
pub mod dialpad;
mod inspect;

use std::net::SocketAddr;

pub use dialpad::{
    default_users, DialpadConfig, DialpadSandbox, Pop, RoutedCall, SbUser, StartedCall,
};
pub use inspect::Inspector;
pub use leadsquared::{LeadSquaredConfig, LeadSquaredSandbox, SbCallLog, SbPopup};
pub use lineleader::{
    Dataset, Envelope, LineLeaderConfig, LineLeaderSandbox, LineLeaderState, SbCenter, SbEvent,
    SbFamily, SbLabel, SbPhoneLog, SbStaff, SbStatusChange, SbTask,
};
pub use llbridge_crm_leadsquared::sandbox as leadsquared;
pub use llbridge_crm_lineleader::sandbox as lineleader;
pub use llbridge_sandbox_kit::{recorder, FaultRule, Faults, RequestRecord, Server};

/// What to start with.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub lineleader: LineLeaderConfig,
    /// The LineLeader data; the demo data when `None`.
    pub data: Option<Dataset>,
    pub lineleader_faults: Faults,
    pub dialpad: DialpadConfig,
    pub dialpad_faults: Faults,
    pub leadsquared: LeadSquaredConfig,
    pub leadsquared_faults: Faults,
    /// Where the LeadSquared sandbox listens; a free port beside the Dialpad one by default.
    pub leadsquared_addr: Option<SocketAddr>,
}

impl Options {
    /// Takes what the sandbox of a connection of the CRM `kind` must accept from the
    /// connection's document (`raw`): LineLeader's literal username and password.
    pub fn accept_credentials_of(&mut self, kind: &str, raw: &serde_json::Value) {
        if kind != "lineleader" {
            return;
        }
        if let (Some(u), Some(p)) = (raw["username"].as_str(), raw["password"].as_str()) {
            self.lineleader.username = u.to_owned();
            self.lineleader.password = p.to_owned();
        }
    }
}

impl DialpadSandbox {
    /// Serves this sandbox on `addr`.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<Server> {
        Server::bind(addr, self.router()).await
    }
}

/// The sandboxes, running.
pub struct Sandboxes {
    /// The LineLeader base URL (the API is under `/api/v3`).
    pub lineleader_url: String,
    /// The Dialpad API base (the screen pop is `/api/v2/users/{id}/screenpop`).
    pub dialpad_url: String,
    /// The LeadSquared base URL (see [`Sandboxes::leadsquared_call_log_url`]).
    pub leadsquared_url: String,
    pub lineleader: LineLeaderSandbox,
    pub dialpad: DialpadSandbox,
    pub leadsquared: LeadSquaredSandbox,
    lineleader_server: Server,
    dialpad_server: Server,
    leadsquared_server: Server,
}

impl Sandboxes {
    /// The sandbox's URL for the key `key` of a connection of the CRM `kind` whose value is
    /// `sandbox`; `None` when there is no sandbox for it.
    pub fn url_for(&self, kind: &str, key: &str) -> Option<String> {
        match (kind, key) {
            ("lineleader", "base_url") => Some(self.lineleader_url.clone()),
            ("leadsquared", "call_log_url") => Some(self.leadsquared_call_log_url()),
            ("leadsquared", "agent_popup_url") => Some(self.leadsquared_agent_popup_url()),
            ("leadsquared", "call_route_url") => {
                Some(self.leadsquared.call_route_url(&self.leadsquared_url))
            }
            _ => None,
        }
    }

    /// The LeadSquared Call Log API URL, keys included.
    pub fn leadsquared_call_log_url(&self) -> String {
        self.leadsquared.call_log_url(&self.leadsquared_url)
    }

    /// The LeadSquared Agent Popup API URL, keys included.
    pub fn leadsquared_agent_popup_url(&self) -> String {
        self.leadsquared.agent_popup_url(&self.leadsquared_url)
    }

    pub async fn shutdown(self) {
        self.lineleader_server.shutdown().await;
        self.dialpad_server.shutdown().await;
        self.leadsquared_server.shutdown().await;
    }
}

/// Starts the sandboxes on the given addresses (port 0 picks free ports); LeadSquared's on
/// `options.leadsquared_addr`, else a free port of the Dialpad address's interface.
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
    let leadsquared = LeadSquaredSandbox::new(options.leadsquared, options.leadsquared_faults);
    let lineleader_server = lineleader.serve(lineleader_addr).await?;
    let dialpad_server = dialpad.serve(dialpad_addr).await?;
    let leadsquared_server = leadsquared
        .serve(
            options
                .leadsquared_addr
                .unwrap_or(SocketAddr::new(dialpad_addr.ip(), 0)),
        )
        .await?;
    tracing::info!(
        lineleader = %lineleader_server.url(),
        dialpad = %dialpad_server.url(),
        leadsquared = %leadsquared_server.url(),
        "sandboxes listening"
    );
    Ok(Sandboxes {
        lineleader_url: lineleader_server.url(),
        dialpad_url: dialpad_server.url(),
        leadsquared_url: leadsquared_server.url(),
        lineleader,
        dialpad,
        leadsquared,
        lineleader_server,
        dialpad_server,
        leadsquared_server,
    })
}

/// Starts the sandboxes on free ports of 127.0.0.1, with default settings and the demo data.
pub async fn start_local() -> std::io::Result<Sandboxes> {
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    start(local, local, Options::default()).await
}
