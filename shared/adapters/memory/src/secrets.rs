use std::collections::HashMap;

use async_trait::async_trait;
use llbridge_domain::config::SecretRef;
use llbridge_usecases::ports::{Secret, Secrets};
use llbridge_usecases::{Error, Result};

/// Secrets from memory: literals resolve to themselves; references `{secret, key}` read the key
/// of a JSON object registered under the secret's name.
#[derive(Default)]
pub struct MemorySecrets {
    secrets: std::sync::Mutex<HashMap<String, String>>,
}

impl MemorySecrets {
    pub fn new() -> MemorySecrets {
        MemorySecrets::default()
    }

    /// Registers a secret holding a JSON object (as Secrets Manager's SecretString would).
    pub fn with(self, name: &str, json: &str) -> MemorySecrets {
        self.set(name, json);
        self
    }

    /// Replaces a secret's JSON object (a rotation).
    pub fn set(&self, name: &str, json: &str) {
        if let Ok(mut secrets) = self.secrets.lock() {
            secrets.insert(name.to_owned(), json.to_owned());
        }
    }
}

#[async_trait]
impl Secrets for MemorySecrets {
    async fn get(&self, reference: &SecretRef) -> Result<Secret> {
        match reference {
            SecretRef::Literal(s) => Ok(Secret::new(s.clone())),
            SecretRef::Managed { secret, key } => {
                let doc = self
                    .secrets
                    .lock()
                    .map_err(|_| Error::transient("secrets", "secrets poisoned"))?
                    .get(secret)
                    .cloned()
                    .ok_or_else(|| {
                        Error::permanent("secrets", format!("no secret named {secret}"))
                    })?;
                let value: serde_json::Value = serde_json::from_str(&doc).map_err(|_| {
                    Error::permanent("secrets", format!("secret {secret} is not a JSON object"))
                })?;
                value
                    .get(key)
                    .and_then(|v| v.as_str())
                    .map(Secret::new)
                    .ok_or_else(|| {
                        Error::permanent(
                            "secrets",
                            format!("secret {secret} has no string key {key}"),
                        )
                    })
            }
        }
    }
}
