//! A receiver of the webhook CRM's posts, as a user's would be: it verifies every signature
//! with the Standard Webhooks reference verification, keeps every post, answers a repeated
//! `webhook-id` with 409, and can lose the answer of a share of the posts it took (a 503 after
//! keeping the post).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use llbridge_sandbox::Server;
use serde_json::Value;
use standardwebhooks::Webhook;

/// The receiver's secret (the connection's `secret`).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One post as the receiver took it.
#[derive(Debug, Clone)]
pub struct Post {
    pub id: String,
    pub body: Value,
    /// The reference verification accepted its signature.
    pub verified: bool,
    /// What the receiver answered.
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    posts: Vec<Post>,
    /// Every `lose_every`-th post taken has its answer lost; 0: none.
    lose_every: usize,
    taken: usize,
}

#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start() -> (Receiver, Server) {
        let receiver = Receiver {
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let router = Router::new()
            .route("/hooks/calls", post(take))
            .with_state(receiver.clone());
        let server = Server::bind(([127, 0, 0, 1], 0).into(), router)
            .await
            .unwrap_or_else(|e| panic!("receiver: {e}"));
        (receiver, server)
    }

    /// Points the webhook connection `hook` of `inst` at the receiver listening on `server`.
    pub fn wire(inst: &mut llbridge_domain::Installation, server: &Server) {
        if let Some(c) = inst
            .connections
            .get_mut("hook")
            .and_then(|c| c.settings_mut::<llbridge_crm_webhook::WebhookConnection>())
        {
            c.url = format!("{}/hooks/calls", server.url());
        }
    }

    /// Loses the answer of every `n`-th post it takes (4: a quarter).
    pub fn lose_every(&self, n: usize) {
        self.lock().lose_every = n;
    }

    pub fn posts(&self) -> Vec<Post> {
        self.lock().posts.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn take(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let verified = Webhook::new(SECRET.trim_start_matches("whsec_"))
        .and_then(|w| w.verify(&body, &headers))
        .is_ok();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut inner = r.lock();
    let status = if !verified {
        StatusCode::UNAUTHORIZED
    } else if inner.posts.iter().any(|p| p.id == id && p.verified) {
        StatusCode::CONFLICT
    } else {
        inner.taken += 1;
        if inner.lose_every > 0 && inner.taken % inner.lose_every == 0 {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::NO_CONTENT
        }
    };
    inner.posts.push(Post {
        id,
        body,
        verified,
        status: status.as_u16(),
    });
    status
}
