//! The LeadSquared API as this CRM uses it: two POSTs and the Call Route's GET.

use async_trait::async_trait;
use llbridge_usecases::Result;
use serde_json::Value;

/// What LeadSquared made of a call log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// Logged; LeadSquared's id for it, when its answer gave one.
    Logged { id: Option<String> },
    /// Refused as a duplicate: a call log with the same `CallSessionId` is already there.
    Duplicate { message: String },
}

/// LeadSquared's Generic Telephony Connector.
///
/// Errors: a refusal (a 4xx, or an error status in the answer) is permanent, with the code
/// `leadsquared_rejected`; a request that never reached LeadSquared, or that it throttled, is
/// transient with the code `not_sent`; a request whose answer was lost (a timeout, a 5xx, a
/// dropped connection) is an unknown outcome.
#[async_trait]
pub trait LeadSquared: Send + Sync {
    /// `POST <call_log_url>` with a call log ([`crate::fields::CallLog`]).
    async fn post_call_log(&self, log: &Value) -> Result<Posted>;

    /// `POST <agent_popup_url>` with an agent popup ([`crate::fields::AgentPopup`]).
    async fn show_agent_popup(&self, popup: &Value) -> Result<()>;

    /// `GET <call_route_url>&caller_id=<digits>`: the e-mail of the owner of the lead with this
    /// number (digits with the country code); `None` for no lead, no owner, or no Call Route
    /// URL. A read: every failure is transient.
    async fn lead_owner(&self, caller_digits: &str) -> Result<Option<String>>;
}
