//! The LineLeader token, shared by every worker through the `Store`.
//!
//! The token (a JWT whose `exp` gives its expiry) and its refresh token are kept under one key
//! with the token's expiry. A caller that finds no fresh token takes a short lease (a put on
//! the condition that no lease exists) and renews: A2 refresh when it has a refresh token, A1
//! login otherwise or when the refresh fails. Callers that find the lease taken keep using a
//! still-valid token if there is one, else poll the store briefly for the new token. Within
//! one process a mutex puts callers in line first, so N concurrent requests on a cold cache
//! cause one login. A token the server rejects (401) is deleted from the store, but only if it
//! is still the stored one, so one rejection causes one re-login.
//!
//! A login the server rejects for its credentials opens a circuit (a record beside the token,
//! shared by every worker) for [`TokenTiming::circuit`]: until it closes, requests fail at once
//! as transient with the reason `lineleader_login_rejected`, instead of one login per job.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use llbridge_usecases::ports::{Clock, Condition, Store};
use llbridge_usecases::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The reason code of a rejected login, and of requests refused while its circuit is open.
pub const LOGIN_REJECTED: &str = "lineleader_login_rejected";

/// A token pair as issued by A1 or A2.
#[derive(Clone)]
pub(crate) struct Issued {
    pub token: String,
    pub refresh_token: Option<String>,
}

/// The two calls that issue tokens.
#[async_trait]
pub(crate) trait Authenticate: Send + Sync {
    async fn login(&self) -> Result<Issued>;
    async fn refresh(&self, refresh_token: &str) -> Result<Issued>;
}

/// The stored form.
#[derive(Clone, Serialize, Deserialize)]
struct Stored {
    token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// Epoch seconds: the token's `exp`.
    expires_at: i64,
    /// Epoch seconds: when it was stored.
    #[serde(default)]
    issued_at: i64,
}

/// Timing of the token cache.
#[derive(Debug, Clone, Copy)]
pub struct TokenTiming {
    /// Renew a token this long before it expires.
    pub refresh_margin: Duration,
    /// A token closer than this to its expiry is not used at all.
    pub min_validity: Duration,
    /// How long a renewal lease lasts (the renewer's crash does not block others longer).
    pub lease: Duration,
    /// How long a caller waits for another caller's renewal before giving up (transient).
    pub wait: Duration,
    /// How often a waiting caller re-reads the store.
    pub poll: Duration,
    /// Assumed lifetime of a token whose `exp` cannot be read.
    pub default_lifetime: Duration,
    /// How long no login is tried after the server rejected the credentials.
    pub circuit: Duration,
}

impl Default for TokenTiming {
    fn default() -> Self {
        TokenTiming {
            refresh_margin: Duration::from_secs(300),
            min_validity: Duration::from_secs(15),
            lease: Duration::from_secs(20),
            wait: Duration::from_secs(15),
            poll: Duration::from_millis(50),
            default_lifetime: Duration::from_secs(50 * 60),
            circuit: Duration::from_secs(300),
        }
    }
}

pub(crate) struct Tokens {
    key: String,
    lease_key: String,
    circuit_key: String,
    owner: String,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    timing: TokenTiming,
    local: Mutex<Option<Stored>>,
    gate: tokio::sync::Mutex<()>,
}

static OWNERS: AtomicU64 = AtomicU64::new(0);

impl Tokens {
    pub fn new(
        key: String,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        timing: TokenTiming,
    ) -> Tokens {
        let owner = format!(
            "{}-{}-{}",
            std::process::id(),
            clock.now_ms(),
            OWNERS.fetch_add(1, Ordering::Relaxed)
        );
        Tokens {
            lease_key: format!("{key}#lease"),
            circuit_key: format!("{key}#circuit"),
            key,
            owner,
            store,
            clock,
            timing,
            local: Mutex::new(None),
            gate: tokio::sync::Mutex::new(()),
        }
    }

    /// Keys the login circuit by the credentials' digest: a rejected login does not hold back
    /// the next ones once the password is changed.
    pub fn for_credentials(&mut self, username: &str, password: &str) {
        self.circuit_key = format!(
            "{}#circuit#{}",
            self.key,
            credentials_digest(username, password)
        );
    }

    pub fn set_timing(&mut self, timing: TokenTiming) {
        self.timing = timing;
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The renewal margin and the minimum validity, scaled down for short-lived tokens (at
    /// most a quarter of the token's lifetime).
    fn margins(&self, s: &Stored) -> (i64, i64) {
        let margin = self.timing.refresh_margin.as_secs() as i64;
        let min_validity = self.timing.min_validity.as_secs() as i64;
        let lifetime = s.expires_at - s.issued_at;
        if s.issued_at > 0 && lifetime > 0 {
            (margin.min(lifetime / 4), min_validity.min(lifetime / 4))
        } else {
            (margin, min_validity)
        }
    }

    fn fresh(&self, s: &Stored, now: i64) -> bool {
        let (margin, min_validity) = self.margins(s);
        s.expires_at - now > margin.max(min_validity)
    }

    fn usable(&self, s: &Stored, now: i64) -> bool {
        s.expires_at - now > self.margins(s).1
    }

    fn local_fresh(&self) -> Option<String> {
        let now = self.clock.now_secs();
        let local = self.local.lock().ok()?;
        local
            .as_ref()
            .filter(|s| self.fresh(s, now))
            .map(|s| s.token.clone())
    }

    fn set_local(&self, s: Option<Stored>) {
        if let Ok(mut local) = self.local.lock() {
            *local = s;
        }
    }

    async fn read(&self) -> Result<Option<(Stored, u64)>> {
        let Some(item) = self.store.get(&self.key).await? else {
            return Ok(None);
        };
        match serde_json::from_str::<Stored>(&item.value) {
            Ok(s) => Ok(Some((s, item.version))),
            Err(_) => {
                tracing::warn!("unreadable LineLeader token cache item; logging in again");
                Ok(None)
            }
        }
    }

    /// A token good for a request.
    pub async fn get(&self, auth: &dyn Authenticate) -> Result<String> {
        if let Some(t) = self.local_fresh() {
            return Ok(t);
        }
        let _in_line = self.gate.lock().await;
        if let Some(t) = self.local_fresh() {
            return Ok(t);
        }
        let deadline = tokio::time::Instant::now() + self.timing.wait;
        loop {
            let now = self.clock.now_secs();
            let stored = self.read().await?;
            if let Some((s, _)) = &stored {
                if self.fresh(s, now) {
                    self.set_local(Some(s.clone()));
                    return Ok(s.token.clone());
                }
            }
            self.check_circuit().await?;
            let lease_until = now + self.timing.lease.as_secs().max(1) as i64;
            if let Some(lease) = self
                .store
                .put(
                    &self.lease_key,
                    &self.owner,
                    Some(lease_until),
                    Condition::Absent,
                )
                .await?
            {
                let renewed = self.renew(auth).await;
                if let Err(e) = self.store.delete(&self.lease_key, Some(lease)).await {
                    tracing::warn!(error = %e, "could not release the LineLeader token lease");
                }
                return renewed;
            }
            // Another caller renews. A token still valid for a while serves meanwhile.
            if let Some((s, _)) = &stored {
                if self.usable(s, now) {
                    return Ok(s.token.clone());
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::transient(
                    "lineleader",
                    "timed out waiting for another worker to log in to LineLeader",
                ));
            }
            tokio::time::sleep(self.timing.poll).await;
        }
    }

    /// Holding the lease: renew unless someone else just did.
    async fn renew(&self, auth: &dyn Authenticate) -> Result<String> {
        let current = self.read().await?;
        if let Some((s, _)) = &current {
            if self.fresh(s, self.clock.now_secs()) {
                self.set_local(Some(s.clone()));
                return Ok(s.token.clone());
            }
        }
        let refresh_token = current.and_then(|(s, _)| s.refresh_token);
        let issued = match refresh_token {
            Some(rt) => match auth.refresh(&rt).await {
                Ok(i) => i,
                Err(e) => {
                    tracing::info!(error = %e, "LineLeader token refresh failed; logging in");
                    self.login(auth).await?
                }
            },
            None => self.login(auth).await?,
        };
        let now = self.clock.now_secs();
        let expires_at =
            jwt_exp(&issued.token).unwrap_or(now + self.timing.default_lifetime.as_secs() as i64);
        let keep_until = issued
            .refresh_token
            .as_deref()
            .and_then(jwt_exp)
            .unwrap_or(expires_at)
            .max(expires_at);
        let stored = Stored {
            token: issued.token,
            refresh_token: issued.refresh_token,
            expires_at,
            issued_at: now,
        };
        let value = serde_json::to_string(&stored)
            .map_err(|e| Error::transient("lineleader", format!("token cache encoding: {e}")))?;
        self.store
            .put(&self.key, &value, Some(keep_until), Condition::Any)
            .await?;
        tracing::info!(expires_at, "LineLeader token renewed");
        let token = stored.token.clone();
        self.set_local(Some(stored));
        Ok(token)
    }

    /// Fails at once while a rejected login's circuit is open.
    async fn check_circuit(&self) -> Result<()> {
        if let Some(item) = self.store.get(&self.circuit_key).await? {
            return Err(Error::transient(
                "lineleader",
                format!(
                    "LineLeader rejected the connection's credentials; no login is tried until {} (epoch s): {}",
                    item.expires_at.unwrap_or_default(),
                    item.value
                ),
            )
            .with_code(LOGIN_REJECTED));
        }
        Ok(())
    }

    /// A1; a rejection of the credentials opens the circuit.
    async fn login(&self, auth: &dyn Authenticate) -> Result<Issued> {
        match auth.login().await {
            Err(e) if e.code == Some(LOGIN_REJECTED) => {
                let until = self.clock.now_secs() + self.timing.circuit.as_secs().max(1) as i64;
                self.store
                    .put(&self.circuit_key, &e.message, Some(until), Condition::Any)
                    .await?;
                tracing::error!(decision = "circuit_open", reason = LOGIN_REJECTED, until,
                    error = %e, "LineLeader rejected the login; no login is tried for a while");
                Err(Error::transient("lineleader", e.message).with_code(LOGIN_REJECTED))
            }
            other => other,
        }
    }

    /// The server rejected `token` (401): forget it, here and in the store, unless it was
    /// already replaced.
    pub async fn invalidate(&self, token: &str) -> Result<()> {
        if let Ok(mut local) = self.local.lock() {
            if local.as_ref().is_some_and(|s| s.token == token) {
                *local = None;
            }
        }
        if let Some((s, version)) = self.read().await? {
            if s.token == token {
                self.store.delete(&self.key, Some(version)).await?;
            }
        }
        Ok(())
    }

    /// Forgets the in-process copy (tests; a connection's credentials changed).
    pub fn forget_local(&self) {
        self.set_local(None);
    }
}

/// The `exp` claim of a JWT, read without verifying the signature.
pub(crate) fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    match claims.get("exp")? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A short stable hash (FNV-1a) for store keys.
/// The first 16 hex digits of the SHA-256 of the credentials: what the login circuit is keyed
/// by.
fn credentials_digest(username: &str, password: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(username.as_bytes());
    h.update([0]);
    h.update(password.as_bytes());
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn short_hash(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exp_without_verifying() {
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let t = format!(
            "{}.{}.sig",
            enc(r#"{"alg":"HS256"}"#),
            enc(r#"{"exp":1780000000}"#)
        );
        assert_eq!(jwt_exp(&t), Some(1_780_000_000));
        assert_eq!(jwt_exp("opaque-token"), None);
        let t = format!("a.{}.b", enc(r#"{"sub":"x"}"#));
        assert_eq!(jwt_exp(&t), None);
    }

    #[test]
    fn hashes_differ_by_part() {
        assert_ne!(short_hash(&["a", "bc"]), short_hash(&["ab", "c"]));
        assert_eq!(short_hash(&["x"]).len(), 16);
    }
}
