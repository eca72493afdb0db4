//! Secrets from AWS Secrets Manager, cached briefly in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use llbridge_domain::config::SecretRef;
use llbridge_usecases::ports::{Secret, Secrets};
use llbridge_usecases::{Error, Result};
use serde_json::{Map, Value};

use crate::classify::port_error;

/// How long a fetched secret is reused: a warm Lambda calls Secrets Manager at most this often
/// per secret, and a rotated value is picked up within it.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// A fetched secret document (a JSON object of strings). No `Debug`: it holds secret values.
struct Cached {
    fetched: Instant,
    doc: Arc<Map<String, Value>>,
}

/// Resolves [`SecretRef`]s: a literal is itself; `{secret, key}` is the `key` of the JSON object
/// in the secret's `SecretString`. One GetSecretValue per secret per TTL, whatever the number of
/// keys read from it. Values are never logged or put in error messages.
pub struct SecretsManagerSecrets {
    client: Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for SecretsManagerSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsManagerSecrets")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SecretsManagerSecrets {
    pub fn new(config: &SdkConfig) -> SecretsManagerSecrets {
        SecretsManagerSecrets::from_client(Client::new(config))
    }

    pub fn from_client(client: Client) -> SecretsManagerSecrets {
        SecretsManagerSecrets {
            client,
            ttl: DEFAULT_TTL,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Caches fetched secrets for `ttl` (zero: no caching).
    pub fn with_ttl(mut self, ttl: Duration) -> SecretsManagerSecrets {
        self.ttl = ttl;
        self
    }

    fn cached(&self, secret: &str) -> Option<Arc<Map<String, Value>>> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(secret)
            .filter(|c| c.fetched.elapsed() < self.ttl)
            .map(|c| c.doc.clone())
    }

    async fn document(&self, secret: &str) -> Result<Arc<Map<String, Value>>> {
        if let Some(doc) = self.cached(secret) {
            return Ok(doc);
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret)
            .send()
            .await
            .map_err(|e| port_error("secrets", &format!("GetSecretValue of {secret}"), e))?;
        let text = out.secret_string().ok_or_else(|| {
            Error::permanent("secrets", format!("secret {secret} has no SecretString"))
        })?;
        // The parse error would quote the secret: say only what is wrong.
        let doc = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Arc::new(map),
            _ => {
                return Err(Error::permanent(
                    "secrets",
                    format!("secret {secret} is not a JSON object"),
                ))
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                secret.to_owned(),
                Cached {
                    fetched: Instant::now(),
                    doc: doc.clone(),
                },
            );
        }
        Ok(doc)
    }
}

#[async_trait]
impl Secrets for SecretsManagerSecrets {
    async fn get(&self, reference: &SecretRef) -> Result<Secret> {
        match reference {
            SecretRef::Literal(s) => Ok(Secret::new(s.clone())),
            SecretRef::Managed { secret, key } => {
                let doc = self.document(secret).await?;
                doc.get(key)
                    .and_then(Value::as_str)
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
