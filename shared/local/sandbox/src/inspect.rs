//! An HTTP client of the sandboxes' test hooks, for tests that run the sandboxes in another
//! process (or reach them only by URL).

use llbridge_usecases::{Error, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Dataset, Faults, LineLeaderState, Pop, RequestRecord, SbCallLog, SbPopup};

const PORT: &str = "sandbox";

/// The hooks of one sandbox (LineLeader, Dialpad or LeadSquared), by its base URL.
#[derive(Debug, Clone)]
pub struct Inspector {
    base: String,
    http: reqwest::Client,
}

impl Inspector {
    pub fn new(base_url: &str) -> Inspector {
        Inspector {
            base: base_url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        hook: &str,
        body: Option<&Value>,
    ) -> Result<T> {
        let url = format!("{}/_sandbox/{hook}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Error::transient(PORT, format!("{url}: {e}")))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| Error::transient(PORT, format!("{url}: {e}")))?;
        if !status.is_success() {
            return Err(Error::permanent(
                PORT,
                format!("{url}: HTTP {status}: {text}"),
            ));
        }
        serde_json::from_str(&text).map_err(|e| Error::permanent(PORT, format!("{url}: {e}")))
    }

    /// LineLeader: `GET /_sandbox/state`.
    pub async fn state(&self) -> Result<LineLeaderState> {
        self.send(reqwest::Method::GET, "state", None).await
    }

    /// All: `GET /_sandbox/requests`.
    pub async fn requests(&self) -> Result<Vec<RequestRecord>> {
        self.send(reqwest::Method::GET, "requests", None).await
    }

    /// All: `DELETE /_sandbox/requests`.
    pub async fn clear_requests(&self) -> Result<()> {
        self.send::<Value>(reqwest::Method::DELETE, "requests", None)
            .await
            .map(|_| ())
    }

    /// LineLeader: `POST /_sandbox/reset` with `data` (the demo data when `None`); Dialpad and
    /// LeadSquared: `POST /_sandbox/reset` (pass `None`).
    pub async fn reset(&self, data: Option<&Dataset>) -> Result<()> {
        let body = data
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| Error::permanent(PORT, e.to_string()))?;
        self.send::<Value>(reqwest::Method::POST, "reset", body.as_ref())
            .await
            .map(|_| ())
    }

    /// All: `POST /_sandbox/faults`.
    pub async fn set_faults(&self, faults: &Faults) -> Result<Faults> {
        let body =
            serde_json::to_value(faults).map_err(|e| Error::permanent(PORT, e.to_string()))?;
        self.send(reqwest::Method::POST, "faults", Some(&body))
            .await
    }

    /// All: `POST /_sandbox/config` with the fields to change.
    pub async fn configure(&self, patch: &Value) -> Result<Value> {
        self.send(reqwest::Method::POST, "config", Some(patch))
            .await
    }

    /// LineLeader: `POST /_sandbox/tokens/revoke`.
    pub async fn revoke_tokens(&self) -> Result<()> {
        self.send::<Value>(reqwest::Method::POST, "tokens/revoke", None)
            .await
            .map(|_| ())
    }

    /// Dialpad: `GET /_sandbox/pops`.
    pub async fn pops(&self) -> Result<Vec<Pop>> {
        self.send(reqwest::Method::GET, "pops", None).await
    }

    /// LeadSquared: `GET /_sandbox/calllogs`.
    pub async fn call_logs(&self) -> Result<Vec<SbCallLog>> {
        self.send(reqwest::Method::GET, "calllogs", None).await
    }

    /// LeadSquared: `GET /_sandbox/popups`.
    pub async fn popups(&self) -> Result<Vec<SbPopup>> {
        self.send(reqwest::Method::GET, "popups", None).await
    }
}
