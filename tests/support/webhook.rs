//! Signing and posting webhook bodies as Dialpad does.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::Value;

/// The webhook secret of the test configs.
pub const SECRET: &str = "test-webhook-secret";

/// Signs an event as Dialpad does: the bare compact HS256 JWT.
pub fn sign_with(event: &Value, secret: &str) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes()).unwrap_or_else(|e| panic!("key: {e}"));
    encode(&Header::new(Algorithm::HS256), event, &key).unwrap_or_else(|e| panic!("sign: {e}"))
}

pub fn sign(event: &Value) -> String {
    sign_with(event, SECRET)
}

/// POSTs a body; returns the status and the JSON answer.
pub async fn post(url: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("answer to POST {url} is not JSON ({e}): {text}"));
    (status, json)
}
