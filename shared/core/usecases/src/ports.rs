//! Ports: the traits through which the use cases reach the world. Each has an embedded adapter
//! (`llbridge-memory`) and an AWS or HTTP adapter, and both pass one contract suite.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use llbridge_domain::config::SecretRef;

use crate::error::Result;

/// Wall-clock time, as epoch milliseconds. Tests drive a manual clock.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;

    fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The system clock (production, and local runs).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// One message taken from the queue. It stays invisible to other receivers until it is acked,
/// or until its visibility timeout passes and it is delivered again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    /// The handle to ack or release this delivery.
    pub receipt: String,
    pub body: String,
    /// 1 on the first delivery.
    pub receive_count: u32,
}

/// The job queue between the webhook and the worker (SQS in production).
#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends one message, invisible to receivers for `delay` (at most 15 minutes).
    async fn send(&self, body: &str, delay: Duration) -> Result<()>;

    /// Sends several messages; the default sends them one by one.
    async fn send_batch(&self, messages: &[(String, Duration)]) -> Result<()> {
        for (body, delay) in messages {
            self.send(body, *delay).await?;
        }
        Ok(())
    }

    /// Receives up to `max` visible messages, waiting up to `wait` for the first one.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>>;

    /// Deletes a delivered message: it is done.
    async fn ack(&self, receipt: &str) -> Result<()>;

    /// Makes a delivered message visible again after `delay` (a retry).
    async fn release(&self, receipt: &str, delay: Duration) -> Result<()>;

    /// Puts a message's body on the dead-letter queue with the reason it was given up and how
    /// many times it was delivered. The delivered message itself is left for the caller to ack.
    async fn dead_letter(&self, body: &str, given_up: &GivenUp) -> Result<()>;
}

/// Why a message was given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenUp {
    pub reason: String,
    pub detail: String,
    pub deliveries: u32,
}

/// A message on a dead-letter queue, with the reason it was given up when the worker gave it
/// up (a message the queue moved by itself, after too many deliveries, has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub body: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    /// How many times the job queue delivered it.
    pub deliveries: Option<u32>,
}

/// A stored item: its value, its version (1 on creation, +1 on each write) and its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub value: String,
    pub version: u64,
    /// Epoch seconds after which the item reads as absent.
    pub expires_at: Option<i64>,
}

/// When a put may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Always.
    Any,
    /// Only when no live item exists (an expired one counts as absent).
    Absent,
    /// Only when the live item has this version.
    Version(u64),
}

/// Key-value state with conditional writes and expiry (DynamoDB in production): conversation
/// state, idempotency records, locks and leases, the token cache, the installation config.
/// Expired items read as absent even before the backend deletes them.
#[async_trait]
pub trait Store: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Item>>;

    /// Writes `value` when `condition` holds. Returns the new version, or `None` when the
    /// condition failed.
    async fn put(
        &self,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        condition: Condition,
    ) -> Result<Option<u64>>;

    /// Deletes the item when `version` is `None` or matches. Returns whether an item was deleted.
    async fn delete(&self, key: &str, version: Option<u64>) -> Result<bool>;

    /// Reads several items, answers in the order of `keys` (DynamoDB: `BatchGetItem`, 100 keys
    /// a round trip). The default reads them one by one, all at once.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Item>>> {
        futures_util::future::join_all(keys.iter().map(|k| self.get(k)))
            .await
            .into_iter()
            .collect()
    }

    /// Writes every item when every condition holds, and none of them otherwise (DynamoDB:
    /// `TransactWriteItems`). Returns the new versions in the order of `writes`, or `None` when
    /// a condition failed or another transaction wrote one of the items at the same moment
    /// (nothing is written; read the items again before another attempt). Conditions are [`Condition::Absent`] or [`Condition::Version`]; at
    /// most [`MAX_TRANSACTION`] writes, each to another key.
    async fn transact(&self, writes: &[Write]) -> Result<Option<Vec<u64>>>;
}

/// The most writes one [`Store::transact`] takes.
pub const MAX_TRANSACTION: usize = 25;

/// One write of a [`Store::transact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub key: String,
    pub value: String,
    pub expires_at: Option<i64>,
    pub condition: Condition,
}

impl Write {
    /// Refuses what no adapter can do in one transaction: `Condition::Any`, two writes to one
    /// key, more than [`MAX_TRANSACTION`] writes.
    pub fn check_all(writes: &[Write]) -> Result<()> {
        if writes.len() > MAX_TRANSACTION {
            return Err(crate::Error::permanent(
                "store",
                format!(
                    "a transaction of {} writes (at most {MAX_TRANSACTION})",
                    writes.len()
                ),
            ));
        }
        for (i, w) in writes.iter().enumerate() {
            if w.condition == Condition::Any {
                return Err(crate::Error::permanent(
                    "store",
                    format!("{}: a transaction write needs a condition", w.key),
                ));
            }
            if writes[..i].iter().any(|o| o.key == w.key) {
                return Err(crate::Error::permanent(
                    "store",
                    format!("{}: written twice in one transaction", w.key),
                ));
            }
        }
        Ok(())
    }
}

/// The store and the clock every record of the use cases is written with (claims, the
/// ledger, the legs' state): one job's context, passed as one.
#[derive(Clone, Copy)]
pub struct Records<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
}

/// A secret value; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Resolves secret references (Secrets Manager in production). A literal reference resolves to
/// itself in every adapter.
#[async_trait]
pub trait Secrets: Send + Sync {
    async fn get(&self, reference: &SecretRef) -> Result<Secret>;
}

/// What became of a screen-pop request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PopOutcome {
    Sent,
    /// Dialpad's 5-per-minute limit: not retried, the moment has passed.
    RateLimited,
}

/// A page request of Dialpad's call list (`GET /api/v2/call`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallQuery {
    /// Epoch ms: calls that started in `[started_after, started_before)`.
    pub started_after: i64,
    pub started_before: i64,
    /// The previous page's cursor; `None` for the first page.
    pub cursor: Option<String>,
}

/// One page of concluded calls, newest first: each item one leg, with the webhook event's
/// fields (no dispositions). No cursor: the last page.
#[derive(Debug, Clone, PartialEq)]
pub struct CallPage {
    pub items: Vec<serde_json::Value>,
    pub cursor: Option<String>,
}

/// A Dialpad user (`GET /api/v2/users`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialpadUser {
    pub id: String,
    pub emails: Vec<String>,
    pub name: Option<String>,
    /// Dialpad's `is_available`, when it says.
    pub available: Option<bool>,
}

/// A call to start (`POST /api/v2/call`): Dialpad rings the user, then dials the number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartCall {
    pub user_id: String,
    /// E.164.
    pub phone_number: String,
    /// The group the call is placed for (`group_id`, `group_type` such as `callcenter`).
    pub group: Option<(String, String)>,
    /// The number the callee sees (E.164).
    pub outbound_caller_id: Option<String>,
    /// Passed through to the call's events.
    pub custom_data: Option<String>,
}

/// A Dialpad webhook (`/api/v2/webhooks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub hook_url: String,
    /// The signing secret, when Dialpad shows it.
    pub secret: Option<String>,
}

/// A call-event subscription (`/api/v2/subscriptions/call`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallSubscription {
    /// Empty for one not created yet.
    pub id: String,
    /// The webhook it posts to.
    pub webhook_id: Option<String>,
    /// `callcenter`, `office`, `company`...
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub call_states: Vec<String>,
    pub enabled: bool,
}

/// A call router (`/api/v2/callrouters`): Dialpad asks its `routing_url` where each call goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallRouter {
    /// Empty for one not created yet.
    pub id: String,
    pub name: String,
    pub routing_url: String,
    pub office_id: String,
    /// Where calls go when the router fails or is disabled.
    pub default_target: Option<llbridge_domain::config::Target>,
    pub enabled: bool,
    pub phone_numbers: Vec<String>,
    /// Errors counted toward disabling the router, when Dialpad says.
    pub error_count: Option<u64>,
}

/// The Dialpad API.
#[async_trait]
pub trait Dialpad: Send + Sync {
    /// `GET /api/v2/call`: concluded calls (needs an API key with the `calls:list` scope).
    async fn list_calls(&self, query: &CallQuery) -> Result<CallPage>;

    /// `POST /api/v2/users/{user_id}/screenpop` with `{"screen_pop_uri": uri}`. A pop whose
    /// answer was lost is an unknown outcome (there is no way to read pops back).
    async fn screen_pop(&self, user_id: &str, uri: &str) -> Result<PopOutcome>;

    /// `GET /api/v2/users?email=`: the user with this e-mail (compared without case).
    async fn find_user(&self, email: &str) -> Result<Option<DialpadUser>>;

    /// `GET /api/v2/users/{id}`.
    async fn user(&self, id: &str) -> Result<Option<DialpadUser>>;

    /// Whether a routing target exists (`GET /api/v2/{users|callcenters|departments|offices|
    /// callrouters}/{id}`).
    async fn target_exists(&self, target: &llbridge_domain::config::Target) -> Result<bool>;

    /// `GET /api/v2/callrouters`, every page.
    async fn call_routers(&self) -> Result<Vec<CallRouter>>;

    /// `POST /api/v2/callrouters` (with its secret), or `PATCH .../{id}` when it has an id
    /// (the secret only when given).
    async fn save_call_router(
        &self,
        router: &CallRouter,
        secret: Option<&str>,
    ) -> Result<CallRouter>;

    /// `POST /api/v2/callrouters/{id}/assign_number`.
    async fn assign_router_number(&self, router_id: &str, number: &str) -> Result<()>;

    /// `POST /api/v2/call`: the new call's id. A 429 is transient with the code
    /// `dialpad_rate_limited`; a refusal is permanent with `dialpad_rejected`; an answer lost
    /// after sending is an unknown outcome (the call may be ringing).
    async fn start_call(&self, call: &StartCall) -> Result<String>;

    /// `GET /api/v2/webhooks`, every page.
    async fn webhooks(&self) -> Result<Vec<Webhook>>;

    /// `POST /api/v2/webhooks`.
    async fn create_webhook(&self, hook_url: &str, secret: &str) -> Result<Webhook>;

    /// `PATCH /api/v2/webhooks/{id}`: its URL and secret.
    async fn update_webhook(&self, id: &str, hook_url: &str, secret: &str) -> Result<Webhook>;

    /// `GET /api/v2/subscriptions/call`, every page.
    async fn call_subscriptions(&self) -> Result<Vec<CallSubscription>>;

    /// `POST /api/v2/subscriptions/call`, or `PATCH .../{id}` when it has an id.
    async fn save_call_subscription(&self, sub: &CallSubscription) -> Result<CallSubscription>;

    /// `GET /api/v2/subscriptions/sms`, every page (their `call_states` empty).
    async fn sms_subscriptions(&self) -> Result<Vec<CallSubscription>>;

    /// `POST /api/v2/subscriptions/sms` (`direction: all`), or `PATCH .../{id}`.
    async fn save_sms_subscription(&self, sub: &CallSubscription) -> Result<CallSubscription>;
}

/// The installation config (a file locally; the DynamoDB table in a deployment).
#[async_trait]
pub trait ConfigSource: Send + Sync {
    async fn installation(&self) -> Result<std::sync::Arc<llbridge_domain::Installation>>;
}

/// A config given once, e.g. read from a file at start.
pub struct StaticConfig(pub std::sync::Arc<llbridge_domain::Installation>);

#[async_trait]
impl ConfigSource for StaticConfig {
    async fn installation(&self) -> Result<std::sync::Arc<llbridge_domain::Installation>> {
        Ok(self.0.clone())
    }
}
