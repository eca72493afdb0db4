//! A signed webhook, as a CRM: each finished conversation's call record is posted as JSON to
//! the connection's URL, signed per the Standard Webhooks specification, so users get their
//! calls into anything that takes a webhook (an automation tool, a data warehouse, a CRM
//! without a connector). `docs/webhook.md` is the receiver's contract.
//!
//! * [`config`]: its part of the config document: the URL and the `whsec_` secret.
//! * [`record`]: the call record of a conversation (pure).
//! * [`client`]: the signed POST, and what each answer means.
//! * [`WebhookCrm`]: the `Crm` port: one post per conversation, through the use case's
//!   exactly-once steps. The `webhook-id` is the conversation's, the same on every attempt: an
//!   answer lost after the receiver took the post is posted again with it, and the receiver
//!   deduplicates.

pub mod client;
pub mod config;
mod crm;
pub mod record;

use std::sync::Arc;

use llbridge_usecases::crm::Crm;
use llbridge_usecases::ports::Secrets;
use llbridge_usecases::Result;

pub use client::{HttpWebhook, Received};
pub use config::WebhookConnection;
pub use crm::{WebhookCrm, CALL_LOG_STEP};

/// The CRM of a webhook connection: its secret read, over `http`, each post taking at most
/// `budget`.
pub async fn connect(
    connection: &WebhookConnection,
    secrets: &dyn Secrets,
    http: reqwest::Client,
    budget: std::time::Duration,
) -> Result<Arc<dyn Crm>> {
    let secret = secrets.get(&connection.secret).await?;
    let client = HttpWebhook::new(http, &connection.url, &secret)?.with_budget(budget);
    Ok(Arc::new(WebhookCrm::new(Arc::new(client))))
}
