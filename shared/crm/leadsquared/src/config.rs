//! LeadSquared's part of the config document: its connection (the connector's API URLs, each a
//! secret) and its enablement's `call_log`. Finding and creating the lead is LeadSquared's own
//! business, so there is little else to say.

use llbridge_domain::config::{
    ConnectionSettings, CrmConfig, EnablementCx, EnablementSettings, Obj, SecretRef, Walk,
};
use serde_json::Value;

/// The connection `type` of LeadSquared.
pub const KIND: &str = "leadsquared";

/// The call log type of a LeadSquared enablement.
const CALL_LOG_TYPE: &str = "leadsquared";

/// LeadSquared's part of the config.
pub struct LeadSquaredConfig;

impl CrmConfig for LeadSquaredConfig {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn name(&self) -> &'static str {
        "LeadSquared"
    }

    fn call_log_types(&self) -> &'static [&'static str] {
        &[CALL_LOG_TYPE]
    }

    fn steps(&self) -> &'static [&'static str] {
        &[crate::CALL_LOG_STEP]
    }

    fn enablement_keys(&self) -> &'static [&'static str] {
        &[]
    }

    fn connection(
        &self,
        w: &mut Walk,
        path: &str,
        value: &Value,
    ) -> Option<Box<dyn ConnectionSettings>> {
        connection(w, value, path).map(|c| Box::new(c) as Box<dyn ConnectionSettings>)
    }

    fn enablement(
        &self,
        w: &mut Walk,
        path: &str,
        o: &Obj,
        _cx: &EnablementCx<'_>,
    ) -> Option<Box<dyn EnablementSettings>> {
        settings(w, o, path).map(|s| Box::new(s) as Box<dyn EnablementSettings>)
    }
}

/// A LeadSquared account's Generic Telephony Connector: the API URLs its settings page gives.
/// Each carries the account's access and secret keys in its query string, so each is a
/// secret: a literal URL (local files), or a reference to one.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadSquaredConnection {
    /// The Call Log API URL.
    pub call_log_url: SecretRef,
    /// The Agent Popup API URL; without it, no agent popups.
    pub agent_popup_url: Option<SecretRef>,
}

impl ConnectionSettings for LeadSquaredConnection {
    fn boxed_clone(&self) -> Box<dyn ConnectionSettings> {
        Box::new(self.clone())
    }

    fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)> {
        std::iter::once(("call_log_url", &self.call_log_url))
            .chain(self.agent_popup_url.iter().map(|u| ("agent_popup_url", u)))
            .collect()
    }

    /// LeadSquared pops through the connection's Agent Popup URL: on when there is one.
    fn screen_pop(&self) -> Result<bool, &'static str> {
        match self.agent_popup_url {
            Some(_) => Ok(true),
            None => Err("the connection has no agent_popup_url (LeadSquared pops through it): add one, or set screen_pop to false"),
        }
    }
}

/// The settings of an enablement on LeadSquared.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadSquaredSettings {
    /// `"call_log": {"type": "leadsquared"}`: post each conversation's call log.
    pub call_log: bool,
}

impl EnablementSettings for LeadSquaredSettings {
    fn boxed_clone(&self) -> Box<dyn EnablementSettings> {
        Box::new(self.clone())
    }

    fn logs_calls(&self) -> bool {
        self.call_log
    }
}

fn connection(w: &mut Walk, c: &Value, p: &str) -> Option<LeadSquaredConnection> {
    let co = w.object(c, p, &["type", "call_log_url", "agent_popup_url"])?;
    let call_log_url = w
        .required(co, p, "call_log_url")
        .and_then(|u| w.url_secret(u, &format!("{p}.call_log_url")));
    let agent_popup_url = match co.get("agent_popup_url") {
        None | Some(Value::Null) => Some(None),
        Some(u) => w.url_secret(u, &format!("{p}.agent_popup_url")).map(Some),
    };
    Some(LeadSquaredConnection {
        call_log_url: call_log_url?,
        agent_popup_url: agent_popup_url?,
    })
}

fn settings(w: &mut Walk, o: &Obj, p: &str) -> Option<LeadSquaredSettings> {
    let call_log = w.call_log_of_type(o, p, CALL_LOG_TYPE, "LeadSquared")?;
    Some(LeadSquaredSettings { call_log })
}
