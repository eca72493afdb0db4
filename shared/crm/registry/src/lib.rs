//! The CRMs of the product, in one list ([`REGISTERED`]): each one's part of the config and how
//! a connection of it becomes a client. Adding a CRM is a crate of its own and a line here.
//!
//! [`HttpClients`]: the `Clients` port over HTTP. One CRM per connection (so its token and
//! reference-data caches live as long as the process) and one Dialpad client, rebuilt only when
//! the connection's settings or secrets change.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use llbridge_crm_leadsquared::config::{LeadSquaredConfig, LeadSquaredConnection};
use llbridge_crm_lineleader::config::{LineLeaderConfig, LineLeaderConnection};
pub use llbridge_crm_lineleader::RetryPolicy;
use llbridge_crm_lineleader::{HttpLineLeader, LineLeaderCrm};
use llbridge_crm_webhook::config::{WebhookConfig, WebhookConnection};
use llbridge_dialpad_api::{DialpadApi, HttpDialpad};
use llbridge_domain::config::{ConfigErrors, Connection, CrmConfig, Crms, Enablement, SecretRef};
use llbridge_domain::Installation;
use llbridge_usecases::crm::{Clients, Crm};
use llbridge_usecases::ports::{Clock, Dialpad, Secret, Secrets, Store};
use llbridge_usecases::{Error, Result};
use tokio::sync::Mutex;

/// A CRM the product knows: its part of the config, and how a connection of it becomes the
/// `Crm` of the use cases.
pub struct Registered {
    pub config: &'static dyn CrmConfig,
    connect: Connect,
}

type Connect =
    for<'a> fn(&'a HttpClients, &'a str, &'a Connection) -> BoxFuture<'a, Result<Arc<dyn Crm>>>;

/// Every CRM, in one list; the first is the CRM of a connection without a `type`.
pub static REGISTERED: [Registered; 3] = [
    Registered {
        config: &LineLeaderConfig,
        connect: |h, name, c| Box::pin(async move { h.lineleader(name, settings(c)?).await }),
    },
    Registered {
        config: &LeadSquaredConfig,
        connect: |h, _, c| {
            Box::pin(async move {
                let c: &LeadSquaredConnection = settings(c)?;
                llbridge_crm_leadsquared::connect(c, h.secrets.as_ref(), h.http.clone(), h.budget)
                    .await
            })
        },
    },
    Registered {
        config: &WebhookConfig,
        connect: |h, _, c| {
            Box::pin(async move {
                let c: &WebhookConnection = settings(c)?;
                llbridge_crm_webhook::connect(c, h.secrets.as_ref(), h.http.clone(), h.budget).await
            })
        },
    },
];

static CONFIGS: std::sync::LazyLock<Vec<&'static dyn CrmConfig>> =
    std::sync::LazyLock::new(|| REGISTERED.iter().map(|r| r.config).collect());

/// The config parts of every CRM, for [`Installation::from_json`].
pub fn crms() -> Crms<'static> {
    CONFIGS.as_slice()
}

/// Parses and validates an installation's config document, with every CRM.
pub fn parse(text: &str) -> std::result::Result<Installation, ConfigErrors> {
    Installation::from_json(text, crms())
}

/// The same, from a parsed document.
pub fn parse_value(value: &serde_json::Value) -> std::result::Result<Installation, ConfigErrors> {
    Installation::from_value(value, crms())
}

/// One connection's document, parsed by its CRM (the local host fills in its sandboxes' URLs
/// and reads the connection again).
pub fn connection(
    name: &str,
    raw: &serde_json::Value,
) -> std::result::Result<Connection, ConfigErrors> {
    Connection::from_value(name, raw, crms())
}

/// A connection's settings as its CRM's type (the registry connects a connection with the CRM
/// whose config part made it, so the type matches).
fn settings<T: llbridge_domain::config::ConnectionSettings>(c: &Connection) -> Result<&T> {
    c.settings::<T>().ok_or_else(|| {
        Error::permanent(
            "config",
            format!("a {} connection not made by its CRM's config", c.kind),
        )
    })
}

/// A built client: what it was built from and the secret values it holds (a change of either
/// rebuilds it), and when those values were last compared with the secrets'.
struct Cached<F, T: ?Sized> {
    from: F,
    secrets: Vec<Secret>,
    checked_ms: i64,
    client: Arc<T>,
}

/// What the Dialpad client is built from: the API base URL and the key's reference.
type DialpadFrom = (String, SecretRef);

/// How often a built client's secrets are compared with the secret store's (whose own cache
/// keeps a value 5 minutes): a rotated password or key is taken within about 10 minutes.
pub const SECRET_RECHECK: Duration = Duration::from_secs(300);

pub struct HttpClients {
    secrets: Arc<dyn Secrets>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    /// One LineLeader request's timeout, and the most a request may take, retries included.
    timeout: Duration,
    budget: Duration,
    /// Retries inside one LineLeader request; the client's own by default.
    retry: Option<RetryPolicy>,
    /// How often built clients' secrets are compared with the secret store's.
    recheck: Duration,
    crms: Mutex<HashMap<String, Cached<Connection, dyn Crm>>>,
    dialpad: Mutex<Option<Cached<DialpadFrom, dyn Dialpad>>>,
}

impl HttpClients {
    pub fn new(
        secrets: Arc<dyn Secrets>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<HttpClients> {
        let http = llbridge_crm_lineleader::http_client(llbridge_crm_lineleader::DEFAULT_TIMEOUT)?;
        Ok(HttpClients {
            secrets,
            store,
            clock,
            http,
            timeout: llbridge_crm_lineleader::DEFAULT_TIMEOUT,
            budget: llbridge_crm_lineleader::DEFAULT_BUDGET,
            retry: None,
            recheck: SECRET_RECHECK,
            crms: Mutex::new(HashMap::new()),
            dialpad: Mutex::new(None),
        })
    }

    /// LineLeader requests time out after `budget / 2` (10 s at most) and take at most
    /// `budget`, retries included: the write budget of the jobs that use them.
    pub fn with_request_budget(mut self, budget: Duration) -> HttpClients {
        self.budget = budget;
        self.timeout = (budget / 2).min(llbridge_crm_lineleader::DEFAULT_TIMEOUT);
        self
    }

    /// Retries inside one LineLeader request other than the client's default.
    pub fn with_lineleader_retry(mut self, retry: RetryPolicy) -> HttpClients {
        self.retry = Some(retry);
        self
    }
}

impl HttpClients {
    /// The secret values a connection's client is built with.
    async fn secrets_of(&self, conn: &Connection) -> Result<Vec<Secret>> {
        let refs = conn.settings.secret_refs();
        let mut values = Vec::with_capacity(refs.len());
        for (_, r) in refs {
            values.push(self.secrets.get(r).await?);
        }
        Ok(values)
    }

    /// Whether a built client may be reused: built from `from`, and (looked at every
    /// [`SECRET_RECHECK`]) with the secret values `current` gives.
    async fn still_good<F: PartialEq, T: ?Sized>(
        &self,
        cached: &mut Cached<F, T>,
        from: &F,
        current: impl std::future::Future<Output = Result<Vec<Secret>>>,
    ) -> Result<bool> {
        if cached.from != *from {
            return Ok(false);
        }
        let now = self.clock.now_ms();
        if now - cached.checked_ms < self.recheck.as_millis() as i64 {
            return Ok(true);
        }
        if current.await? != cached.secrets {
            tracing::info!("a secret of a client changed: the client is built again with it");
            return Ok(false);
        }
        cached.checked_ms = now;
        Ok(true)
    }

    /// How often built clients' secrets are compared with the secret store's (default
    /// [`SECRET_RECHECK`]).
    pub fn with_secret_recheck(mut self, every: Duration) -> HttpClients {
        self.recheck = every;
        self
    }

    async fn lineleader(&self, name: &str, c: &LineLeaderConnection) -> Result<Arc<dyn Crm>> {
        let username = self.secrets.get(&c.username).await?;
        let password = self.secrets.get(&c.password).await?;
        let api = HttpLineLeader::new(
            name,
            &c.base_url,
            username,
            password,
            self.store.clone(),
            self.clock.clone(),
            self.http.clone(),
        )
        .with_timeout(self.timeout)
        .with_budget(self.budget)
        .with_api(c.api.clone());
        let api = match self.retry {
            Some(r) => api.with_retry(r),
            None => api,
        };
        Ok(Arc::new(LineLeaderCrm::new(Arc::new(api))))
    }
}

#[async_trait]
impl Clients for HttpClients {
    async fn crm(&self, inst: &Installation, enablement: &Enablement) -> Result<Arc<dyn Crm>> {
        let name = enablement.connection.as_str();
        let conn = inst
            .connections
            .get(name)
            .ok_or_else(|| Error::permanent("config", format!("no connection named {name}")))?;
        let mut cache = self.crms.lock().await;
        if let Some(cached) = cache.get_mut(name) {
            if self.still_good(cached, conn, self.secrets_of(conn)).await? {
                return Ok(cached.client.clone());
            }
        }
        let registered = REGISTERED
            .iter()
            .find(|r| r.config.kind() == conn.kind)
            .ok_or_else(|| {
                Error::permanent("config", format!("no CRM of the type {}", conn.kind))
            })?;
        let crm = (registered.connect)(self, name, conn).await?;
        cache.insert(
            name.to_owned(),
            Cached {
                from: conn.clone(),
                secrets: self.secrets_of(conn).await?,
                checked_ms: self.clock.now_ms(),
                client: crm.clone(),
            },
        );
        Ok(crm)
    }

    async fn dialpad(&self, inst: &Installation) -> Result<Arc<dyn Dialpad>> {
        let key_ref = inst
            .dialpad
            .api_key
            .clone()
            .ok_or_else(|| Error::permanent("config", "no Dialpad api_key configured"))?;
        let fp = (inst.dialpad.api_base_url.clone(), key_ref.clone());
        let mut cache = self.dialpad.lock().await;
        if let Some(cached) = cache.as_mut() {
            let current = async { Ok(vec![self.secrets.get(&key_ref).await?]) };
            if self.still_good(cached, &fp, current).await? {
                return Ok(cached.client.clone());
            }
        }
        let key = self.secrets.get(&key_ref).await?;
        let client: Arc<dyn Dialpad> = Arc::new(DialpadApi(
            HttpDialpad::new(&inst.dialpad.api_base_url, key.expose(), self.http.clone())
                .with_timeout(Duration::from_secs(3)),
        ));
        *cache = Some(Cached {
            from: fp,
            secrets: vec![key],
            checked_ms: self.clock.now_ms(),
            client: client.clone(),
        });
        Ok(client)
    }
}

#[cfg(test)]
mod config_tests;

#[cfg(test)]
mod tests {
    use super::REGISTERED;

    /// `trace` shows and `replay` reopens the claims of the ledger's steps: a CRM's step left
    /// out would be neither traced nor replayed.
    #[test]
    fn the_ledger_knows_every_step_of_every_crm() {
        for r in &REGISTERED {
            for step in r.config.steps() {
                assert!(
                    llbridge_usecases::ledger::STEPS.contains(step),
                    "{}: {step}",
                    r.config.kind()
                );
            }
        }
    }
}
