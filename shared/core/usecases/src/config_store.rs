//! The installation config of a deployment, kept in the store (the DynamoDB table) under
//! [`CONFIG_KEY`].
//!
//! An admin [`push`]es a document (`llbridge config push FILE --table NAME`): it is validated as a
//! whole, and a deployed document may hold only Secrets Manager references, never literal
//! secrets, so the table never holds a secret. The ingest and worker functions read it through
//! [`StoreConfigSource`], which caches the parsed config for a few seconds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use llbridge_domain::config::{ConfigError, ConfigErrors, Crms, SecretRef};
use llbridge_domain::Installation;

use crate::error::{Error, Result};
use crate::ports::{Clock, Condition, ConfigSource, Store};

/// The store key of the installation config.
pub const CONFIG_KEY: &str = crate::keys::CONFIG;

/// How long [`StoreConfigSource`] reuses a loaded config: a pushed change reaches every warm
/// function within this time.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);

/// Why a push was refused.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The document is not a valid deployed config; every error names its JSON path.
    #[error("{0}")]
    Invalid(ConfigErrors),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] Error),
}

/// A stored config.
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    pub installation: Installation,
    /// The store item's version after the push (1 for the first one).
    pub version: u64,
}

/// Validates a document for a deployment: [`Installation::from_json`], and then every secret
/// must be a `{"secret", "key"}` reference to Secrets Manager.
pub fn validate_deployed(json_text: &str, crms: Crms<'_>) -> Result<Installation, ConfigErrors> {
    let installation = Installation::from_json(json_text, crms)?;
    let literals: Vec<ConfigError> = installation
        .secret_refs()
        .into_iter()
        .filter(|(_, r)| matches!(r, SecretRef::Literal(_)))
        .map(|(path, _)| ConfigError {
            path,
            message: "a deployed config must not hold a literal secret: use a Secrets Manager \
                      reference {\"secret\": \"<name or ARN>\", \"key\": \"<json key>\"}"
                .to_owned(),
        })
        .collect();
    if literals.is_empty() {
        Ok(installation)
    } else {
        Err(ConfigErrors(literals))
    }
}

/// Validates `json_text` with [`validate_deployed`] and stores it as given, replacing the
/// previous config. Nothing is written when the document is refused.
pub async fn push<S: Store + ?Sized>(
    store: &S,
    json_text: &str,
    crms: Crms<'_>,
) -> Result<Pushed, PushError> {
    let installation = validate_deployed(json_text, crms).map_err(PushError::Invalid)?;
    let version = store
        .put(CONFIG_KEY, json_text, None, Condition::Any)
        .await?
        .ok_or_else(|| Error::transient("config", "the store refused an unconditional write"))?;
    Ok(Pushed {
        installation,
        version,
    })
}

/// The stored document, as pushed (it holds only secret references), if any.
pub async fn show<S: Store + ?Sized>(store: &S) -> Result<Option<String>> {
    Ok(store.get(CONFIG_KEY).await?.map(|item| item.value))
}

struct Cached {
    loaded_ms: i64,
    version: u64,
    installation: Arc<Installation>,
}

/// The [`ConfigSource`] of a deployment: reads [`CONFIG_KEY`] from the store, parses it, and
/// reuses it for the cache TTL. When a refresh fails transiently, the last good config is
/// served (and the refresh retried on the next call), so a store hiccup does not stop traffic.
pub struct StoreConfigSource<S: Store + ?Sized = dyn Store> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    /// The CRMs the document is read with.
    crms: Crms<'static>,
    ttl: Duration,
    cache: Mutex<Option<Cached>>,
}

impl<S: Store + ?Sized> StoreConfigSource<S> {
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>, crms: Crms<'static>) -> StoreConfigSource<S> {
        StoreConfigSource {
            store,
            clock,
            crms,
            ttl: DEFAULT_CACHE_TTL,
            cache: Mutex::new(None),
        }
    }

    /// Reuses a loaded config for `ttl` (zero: read the store on every call).
    pub fn with_ttl(mut self, ttl: Duration) -> StoreConfigSource<S> {
        self.ttl = ttl;
        self
    }

    fn cached(&self) -> Option<(i64, u64, Arc<Installation>)> {
        let cache = self.cache.lock().ok()?;
        cache
            .as_ref()
            .map(|c| (c.loaded_ms, c.version, c.installation.clone()))
    }

    fn remember(&self, now_ms: i64, version: u64, installation: Arc<Installation>) {
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some(Cached {
                loaded_ms: now_ms,
                version,
                installation,
            });
        }
    }

    async fn load(&self) -> Result<Arc<Installation>> {
        let now = self.clock.now_ms();
        let cached = self.cached();
        if let Some((loaded_ms, _, installation)) = &cached {
            if now.saturating_sub(*loaded_ms) < self.ttl.as_millis() as i64 {
                return Ok(installation.clone());
            }
        }
        let item = match self.store.get(CONFIG_KEY).await {
            Ok(item) => item,
            Err(e) if e.is_transient() => {
                if let Some((_, _, installation)) = cached {
                    tracing::warn!(error = %e, "config refresh failed; serving the last loaded config");
                    return Ok(installation);
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let Some(item) = item else {
            return Err(Error::permanent(
                "config",
                format!(
                    "no installation config in the table (key {CONFIG_KEY}): \
                     push one with `llbridge config push FILE --table NAME`"
                ),
            ));
        };
        // Unchanged since the last load: no need to parse it again.
        if let Some((_, version, installation)) = cached {
            if version == item.version {
                self.remember(now, version, installation.clone());
                return Ok(installation);
            }
        }
        let installation = Installation::from_json(&item.value, self.crms).map_err(|errors| {
            Error::permanent(
                "config",
                format!("the stored installation config is invalid:\n{errors}"),
            )
        })?;
        let installation = Arc::new(installation);
        self.remember(now, item.version, installation.clone());
        Ok(installation)
    }
}

#[async_trait]
impl<S: Store + ?Sized> ConfigSource for StoreConfigSource<S> {
    async fn installation(&self) -> Result<Arc<Installation>> {
        self.load().await
    }
}
