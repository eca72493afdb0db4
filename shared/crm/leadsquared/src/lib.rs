//! The LeadSquared CRM of llbridge, over LeadSquared's Generic Telephony Connector
//! (`docs/leadsquared.md`).
//!
//! LeadSquared finds the lead of a number itself, and creates one for a number it does not
//! know: this CRM only tells it about calls.
//!
//! * [`config`]: its part of the config document: the connection's URLs, the enablement's
//!   call log.
//! * [`fields`]: every request body and answer shape, with what the connector's documentation
//!   shows and what is assumed, in one place; the pure builders of a call log and an agent
//!   popup from a conversation.
//! * [`api`]: the [`LeadSquared`] trait: post a call log, show an agent popup (HTTP here, the
//!   sandbox's state in the embedded adapter).
//! * [`HttpLeadSquared`]: that trait over HTTP, to the URLs of the connection.
//! * [`LeadSquaredCrm`]: the `Crm` port of the use cases: the agent popup at ring time, one call
//!   log per conversation through the use case's exactly-once effects.
//! * [`actions`]: the URLs LeadSquared calls: click to call and dispositions.

pub mod actions;
pub mod api;
mod client;
pub mod config;
pub mod fields;
#[cfg(feature = "sandbox")]
pub mod sandbox;
mod sink;

use std::sync::Arc;

use config::LeadSquaredConnection;
use llbridge_usecases::crm::Crm;
use llbridge_usecases::ports::Secrets;
use llbridge_usecases::Result;

pub use api::{LeadSquared, Posted};
pub use client::{HttpLeadSquared, DEFAULT_TIMEOUT};
pub use sink::{LeadSquaredCrm, CALL_LOG_STEP};

/// The CRM of a LeadSquared connection: its URLs read from their secrets, over `http`, each
/// request taking at most `budget`.
pub async fn connect(
    connection: &LeadSquaredConnection,
    secrets: &dyn Secrets,
    http: reqwest::Client,
    budget: std::time::Duration,
) -> Result<Arc<dyn Crm>> {
    let call_log_url = secrets.get(&connection.call_log_url).await?;
    let agent_popup_url = match &connection.agent_popup_url {
        Some(r) => Some(secrets.get(r).await?),
        None => None,
    };
    let call_route_url = match &connection.call_route_url {
        Some(r) => Some(secrets.get(r).await?),
        None => None,
    };
    let api = HttpLeadSquared::new(http, call_log_url, agent_popup_url)?
        .with_call_route(call_route_url)?
        .with_budget(budget);
    Ok(Arc::new(LeadSquaredCrm::new(Arc::new(api))))
}
