//! The webhook's part of the config document: a connection `{"type": "webhook", "url":
//! "https://…", "secret": <secret ref>}` and an enablement's `"call_log": {"type": "webhook"}`.

use llbridge_domain::config::{
    ConnectionSettings, CrmConfig, EnablementCx, EnablementSettings, Obj, SecretRef, Walk,
};
use serde_json::Value;

/// The connection `type` (and the `call_log.type`) of the webhook.
pub const KIND: &str = "webhook";

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The webhook's part of the config.
pub struct WebhookConfig;

impl CrmConfig for WebhookConfig {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn call_log_types(&self) -> &'static [&'static str] {
        &[KIND]
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
        let o = w.object(value, path, &["type", "url", "secret"])?;
        let url = w
            .required(o, path, "url")
            .and_then(|u| w.api_url(u, &format!("{path}.url")));
        let sp = format!("{path}.secret");
        let secret = w.required(o, path, "secret").and_then(|s| w.secret(s, &sp));
        if let Some(SecretRef::Literal(s)) = &secret {
            if let Err(why) = check_secret(s) {
                w.err(&sp, why);
            }
        }
        Some(Box::new(WebhookConnection {
            url: url?,
            secret: secret?,
        }))
    }

    fn enablement(
        &self,
        w: &mut Walk,
        path: &str,
        o: &Obj,
        _cx: &EnablementCx<'_>,
    ) -> Option<Box<dyn EnablementSettings>> {
        let call_log = w.call_log_of_type(o, path, KIND, "webhook")?;
        Some(Box::new(WebhookSettings { call_log }))
    }
}

/// Whether a secret is a Standard Webhooks one: `whsec_` and the base64 of at least 24 bytes.
/// `Err` says what is wrong, never the secret.
pub fn check_secret(secret: &str) -> Result<(), String> {
    let Some(key) = secret.trim().strip_prefix(SECRET_PREFIX) else {
        return Err(format!(
            "is not a Standard Webhooks secret: it must start with {SECRET_PREFIX} followed by base64"
        ));
    };
    match standardwebhooks::Webhook::new(key) {
        Err(_) => Err(format!(
            "is not a Standard Webhooks secret: what follows {SECRET_PREFIX} is not base64"
        )),
        Ok(_) if decoded_len(key) < 24 => Err(format!(
            "is too short: {SECRET_PREFIX} must be followed by the base64 of at least 24 random bytes"
        )),
        Ok(_) => Ok(()),
    }
}

/// The length in bytes of a base64 text (its padding aside).
fn decoded_len(b64: &str) -> usize {
    b64.trim_end_matches('=').len() * 3 / 4
}

/// Where the call records go, and the secret they are signed with.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConnection {
    pub url: String,
    pub secret: SecretRef,
}

impl ConnectionSettings for WebhookConnection {
    fn boxed_clone(&self) -> Box<dyn ConnectionSettings> {
        Box::new(self.clone())
    }

    fn secret_refs(&self) -> Vec<(&'static str, &SecretRef)> {
        vec![("secret", &self.secret)]
    }

    fn screen_pop(&self) -> Result<bool, &'static str> {
        Err("a webhook connection has no screen pop: set screen_pop to false")
    }
}

/// The settings of an enablement on a webhook connection.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    /// `"call_log": {"type": "webhook"}`: post each conversation's call record.
    pub call_log: bool,
}

impl EnablementSettings for WebhookSettings {
    fn boxed_clone(&self) -> Box<dyn EnablementSettings> {
        Box::new(self.clone())
    }

    fn logs_calls(&self) -> bool {
        self.call_log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_whsec_and_base64_of_enough_bytes() {
        assert!(check_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(check_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_err()
            .contains("must start with whsec_"));
        assert!(check_secret("whsec_not base64!")
            .unwrap_err()
            .contains("not base64"));
        assert!(check_secret("whsec_c2hvcnQ=")
            .unwrap_err()
            .contains("too short"));
    }
}
