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

/// The shortest `action_key`: it is all that stands between the Internet and starting calls.
pub const MIN_ACTION_KEY_LEN: usize = 32;

/// A LeadSquared account's Generic Telephony Connector: the API URLs its settings page gives.
/// Each carries the account's access and secret keys in its query string, so each is a
/// secret: a literal URL (local files), or a reference to one.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadSquaredConnection {
    /// The Call Log API URL.
    pub call_log_url: SecretRef,
    /// The Agent Popup API URL; without it, no agent popups.
    pub agent_popup_url: Option<SecretRef>,
    /// The Call Route API URL (a lead's owner, for routing); without it, routers answer their
    /// fallback.
    pub call_route_url: Option<SecretRef>,
    /// The key LeadSquared sends in `X-Llbridge-Key` to the click-to-call and disposition
    /// URLs; without it, those URLs answer 404.
    pub action_key: Option<SecretRef>,
    pub click_to_call: ClickToCallSettings,
}

/// `click_to_call`: which numbers a click may dial, and for which call center.
#[derive(Debug, Clone, PartialEq)]
pub struct ClickToCallSettings {
    /// ISO country codes (`US`, `CA`) whose numbers may be dialed; `["US"]` by default.
    pub allowed_countries: Vec<String>,
    /// The Dialpad call center the calls are placed for (`group_id`); absent: the call center
    /// of the connection's first call-center enablement.
    pub call_center: Option<String>,
}

impl Default for ClickToCallSettings {
    fn default() -> Self {
        ClickToCallSettings {
            allowed_countries: vec!["US".into()],
            call_center: None,
        }
    }
}

impl ConnectionSettings for LeadSquaredConnection {
    fn boxed_clone(&self) -> Box<dyn ConnectionSettings> {
        Box::new(self.clone())
    }

    fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)> {
        std::iter::once(("call_log_url", &self.call_log_url))
            .chain(self.agent_popup_url.iter().map(|u| ("agent_popup_url", u)))
            .chain(self.call_route_url.iter().map(|u| ("call_route_url", u)))
            .chain(self.action_key.iter().map(|k| ("action_key", k)))
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
    let co = w.object(
        c,
        p,
        &[
            "type",
            "call_log_url",
            "agent_popup_url",
            "call_route_url",
            "action_key",
            "click_to_call",
        ],
    )?;
    let call_log_url = w
        .required(co, p, "call_log_url")
        .and_then(|u| w.url_secret(u, &format!("{p}.call_log_url")));
    let agent_popup_url = match co.get("agent_popup_url") {
        None | Some(Value::Null) => Some(None),
        Some(u) => w.url_secret(u, &format!("{p}.agent_popup_url")).map(Some),
    };
    let call_route_url = match co.get("call_route_url") {
        None | Some(Value::Null) => Some(None),
        Some(u) => w.url_secret(u, &format!("{p}.call_route_url")).map(Some),
    };
    let action_key = match co.get("action_key") {
        None | Some(Value::Null) => Some(None),
        Some(k) => {
            let path = format!("{p}.action_key");
            let key = w.secret(k, &path);
            if let Some(SecretRef::Literal(text)) = &key {
                if text.chars().count() < MIN_ACTION_KEY_LEN {
                    w.err(
                        &path,
                        format!("is shorter than {MIN_ACTION_KEY_LEN} characters: too easy to guess (it lets whoever has it start calls)"),
                    );
                }
            }
            key.map(Some)
        }
    };
    let click_to_call = click_to_call(w, co, p);
    Some(LeadSquaredConnection {
        call_log_url: call_log_url?,
        agent_popup_url: agent_popup_url?,
        call_route_url: call_route_url?,
        action_key: action_key?,
        click_to_call: click_to_call?,
    })
}

fn click_to_call(w: &mut Walk, co: &Obj, p: &str) -> Option<ClickToCallSettings> {
    let path = format!("{p}.click_to_call");
    let Some(v) = co.get("click_to_call").filter(|v| !v.is_null()) else {
        return Some(ClickToCallSettings::default());
    };
    let o = w.object(v, &path, &["allowed_countries", "call_center"])?;
    let mut settings = ClickToCallSettings::default();
    if o.contains_key("allowed_countries") {
        let countries = w.string_list(o, &path, "allowed_countries");
        for (i, c) in countries.iter().enumerate() {
            if !llbridge_domain::phone::is_country_code(c) {
                w.err(
                    &format!("{path}.allowed_countries[{i}]"),
                    format!("\"{c}\" is not an ISO country code the phone-number metadata knows (US, CA, GB...)"),
                );
            }
        }
        if countries.is_empty() {
            w.err(
                &format!("{path}.allowed_countries"),
                "is empty: no number could be dialed; remove click_to_call.allowed_countries for the default [\"US\"]",
            );
        }
        settings.allowed_countries = countries.iter().map(|c| c.trim().to_uppercase()).collect();
    }
    settings.call_center = w.opt_string(o, &path, "call_center");
    Some(settings)
}

fn settings(w: &mut Walk, o: &Obj, p: &str) -> Option<LeadSquaredSettings> {
    let call_log = w.call_log_of_type(o, p, CALL_LOG_TYPE, "LeadSquared")?;
    Some(LeadSquaredSettings { call_log })
}
