//! Verification of Dialpad webhook bodies.
//!
//! With a secret, Dialpad POSTs the bare compact JWT (`xxx.yyy.zzz`), HS256-signed, whose
//! payload is the event object. The algorithm is pinned to HS256: `alg: none` and every other
//! algorithm are rejected. Dialpad sends no `exp`, so none is required; when a token carries
//! `exp` or `nbf` they are honoured, with [`LEEWAY_SECS`] of leeway (a replayed old token is
//! refused). Several secrets may be configured (rotation): any one verifying is enough. API
//! Gateway may hand the body over base64-encoded.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::value::RawValue;

/// Bodies above this size are refused (413).
pub const MAX_BODY: usize = 64 * 1024;

/// Clock skew allowed on a token's `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("body larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("empty body")]
    Empty,
    #[error("body is neither a JWT nor JSON")]
    Unrecognized,
    #[error("unsigned event, and this installation accepts signed events only")]
    Unsigned,
    #[error("signature does not verify with any configured secret")]
    BadSignature,
    #[error("token algorithm {0} is not accepted; only HS256 is")]
    WrongAlgorithm(String),
    #[error("malformed token: {0}")]
    MalformedToken(String),
    #[error(
        "the token's exp has passed (more than {LEEWAY_SECS} s ago): a replayed or stale event"
    )]
    Expired,
    #[error("the token's nbf is still to come (more than {LEEWAY_SECS} s ahead)")]
    NotYetValid,
}

impl VerifyError {
    /// The HTTP status the webhook answers with.
    pub fn status(&self) -> u16 {
        match self {
            VerifyError::TooLarge => 413,
            VerifyError::Empty | VerifyError::Unrecognized | VerifyError::MalformedToken(_) => 400,
            VerifyError::Unsigned
            | VerifyError::BadSignature
            | VerifyError::WrongAlgorithm(_)
            | VerifyError::Expired
            | VerifyError::NotYetValid => 401,
        }
    }

    /// A short machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::TooLarge => "body_too_large",
            VerifyError::Empty => "empty_body",
            VerifyError::Unrecognized => "malformed_body",
            VerifyError::Unsigned => "unsigned",
            VerifyError::BadSignature => "bad_signature",
            VerifyError::WrongAlgorithm(_) => "algorithm_not_accepted",
            VerifyError::MalformedToken(_) => "malformed_token",
            VerifyError::Expired => "token_expired",
            VerifyError::NotYetValid => "token_not_yet_valid",
        }
    }
}

/// What a verified body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The JSON of a JWT whose signature verified.
    Signed(Vec<u8>),
    /// Plain JSON, accepted because the installation allows unsigned events.
    Unsigned(Vec<u8>),
}

impl Payload {
    pub fn json(&self) -> &[u8] {
        match self {
            Payload::Signed(b) | Payload::Unsigned(b) => b,
        }
    }
}

fn looks_like_jwt(s: &[u8]) -> bool {
    s.iter().filter(|b| **b == b'.').count() == 2
        && s.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'='))
}

fn trim(body: &[u8]) -> &[u8] {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let end = body
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &body[start..end]
}

/// Verifies a webhook body against the installation's secrets.
pub fn verify(
    body: &[u8],
    secrets: &[&[u8]],
    allow_unsigned: bool,
) -> Result<Payload, VerifyError> {
    if body.len() > MAX_BODY {
        return Err(VerifyError::TooLarge);
    }
    let body = trim(body);
    if body.is_empty() {
        return Err(VerifyError::Empty);
    }
    if looks_like_jwt(body) {
        return verify_jwt(body, secrets);
    }
    if body.starts_with(b"{") || body.starts_with(b"[") {
        return if allow_unsigned {
            Ok(Payload::Unsigned(body.to_vec()))
        } else {
            Err(VerifyError::Unsigned)
        };
    }
    // API Gateway may pass the body base64-encoded.
    if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(body) {
        let inner = trim(&decoded);
        if looks_like_jwt(inner) || inner.starts_with(b"{") {
            return verify(inner, secrets, allow_unsigned);
        }
    }
    Err(VerifyError::Unrecognized)
}

fn verify_jwt(token: &[u8], secrets: &[&[u8]]) -> Result<Payload, VerifyError> {
    let token = std::str::from_utf8(token).map_err(|_| VerifyError::Unrecognized)?;
    let header = jsonwebtoken::decode_header(token).map_err(|e| {
        // Unknown algorithms such as "none" fail header parsing: say which.
        match alg_of(token) {
            Some(alg) if alg != "HS256" => VerifyError::WrongAlgorithm(alg),
            _ => VerifyError::MalformedToken(e.to_string()),
        }
    })?;
    if header.alg != Algorithm::HS256 {
        return Err(VerifyError::WrongAlgorithm(format!("{:?}", header.alg)));
    }
    if secrets.is_empty() {
        return Err(VerifyError::BadSignature);
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECS;
    validation.validate_aud = false;
    for secret in secrets {
        let Ok(key) = DecodingKey::from_secret(secret) else {
            continue; // an empty secret verifies nothing
        };
        match jsonwebtoken::decode::<Box<RawValue>>(token, &key, &validation) {
            Ok(data) => return Ok(Payload::Signed(data.claims.get().as_bytes().to_vec())),
            Err(e) => match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => continue,
                // Claims are checked after the signature: this secret signed it.
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    return Err(VerifyError::Expired)
                }
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
                    return Err(VerifyError::NotYetValid)
                }
                jsonwebtoken::errors::ErrorKind::Json(_)
                | jsonwebtoken::errors::ErrorKind::Utf8(_)
                | jsonwebtoken::errors::ErrorKind::Base64(_) => {
                    return Err(VerifyError::MalformedToken(e.to_string()))
                }
                _ => continue,
            },
        }
    }
    Err(VerifyError::BadSignature)
}

/// The `alg` of a token's header, read without trusting it.
fn alg_of(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("alg")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};

    const EVENT: &str = r#"{"call_id": 9007199254740993, "state": "ringing"}"#;

    fn sign(alg: Algorithm, secret: &[u8], payload: &str) -> String {
        let claims: serde_json::Value = serde_json::from_str(payload).unwrap();
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret).unwrap(),
        )
        .unwrap()
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn a_signed_event_verifies_and_keeps_big_ids_exact() {
        let t = sign(Algorithm::HS256, b"s1", EVENT);
        let p = verify(t.as_bytes(), &[b"s1"], false).unwrap();
        let v: serde_json::Value = serde_json::from_slice(p.json()).unwrap();
        assert_eq!(v["call_id"].as_u64(), Some(9007199254740993));
    }

    #[test]
    fn any_configured_secret_verifies_during_rotation() {
        let t = sign(Algorithm::HS256, b"new", EVENT);
        assert!(matches!(
            verify(t.as_bytes(), &[b"old", b"new"], false),
            Ok(Payload::Signed(_))
        ));
    }

    #[test]
    fn a_wrong_secret_is_rejected() {
        let t = sign(Algorithm::HS256, b"other", EVENT);
        assert_eq!(
            verify(t.as_bytes(), &[b"s1"], false),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(t.as_bytes(), &[b"s1"], false).unwrap_err().status(),
            401
        );
    }

    #[test]
    fn alg_none_is_rejected() {
        let t = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(EVENT));
        let e = verify(t.as_bytes(), &[b"s1"], true).unwrap_err();
        assert_eq!(e.status(), 401, "{e:?}");
        let t = format!("{}.{}.", b64(r#"{"alg":"None"}"#), b64(EVENT));
        assert_eq!(
            verify(t.as_bytes(), &[b"s1"], true).unwrap_err().status(),
            401
        );
    }

    #[test]
    fn other_algorithms_are_rejected_even_with_the_right_secret() {
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let t = sign(alg, b"s1", EVENT);
            assert!(
                matches!(
                    verify(t.as_bytes(), &[b"s1"], false),
                    Err(VerifyError::WrongAlgorithm(_))
                ),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn no_exp_is_required_but_a_present_one_is_honoured() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let token = |claims: String| sign(Algorithm::HS256, b"s1", &claims);
        let event = |extra: &str| format!(r#"{{"call_id": 1, "state": "hangup"{extra}}}"#);
        assert!(verify(token(event("")).as_bytes(), &[b"s1"], false).is_ok());
        let stale = token(event(&format!(r#", "exp": {}"#, now - 301)));
        let e = verify(stale.as_bytes(), &[b"s1"], false).unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "token_expired"));
        let skewed = token(event(&format!(r#", "exp": {}"#, now - 200)));
        assert!(
            verify(skewed.as_bytes(), &[b"s1"], false).is_ok(),
            "within the leeway"
        );
        let early = token(event(&format!(r#", "nbf": {}"#, now + 301)));
        let e = verify(early.as_bytes(), &[b"s1"], false).unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "token_not_yet_valid"));
        let ok = token(event(&format!(
            r#", "nbf": {}, "exp": {}"#,
            now - 10,
            now + 10
        )));
        assert!(verify(ok.as_bytes(), &[b"s1"], false).is_ok());
        // A stale token signed with another secret is still just a bad signature.
        let other = sign(
            Algorithm::HS256,
            b"s2",
            &event(&format!(r#", "exp": {}"#, now - 900)),
        );
        assert_eq!(
            verify(other.as_bytes(), &[b"s1"], false).unwrap_err(),
            VerifyError::BadSignature
        );
    }

    #[test]
    fn base64_bodies_from_api_gateway() {
        let t = sign(Algorithm::HS256, b"s1", EVENT);
        let wrapped = base64::engine::general_purpose::STANDARD.encode(&t);
        assert!(verify(wrapped.as_bytes(), &[b"s1"], false).is_ok());
    }

    #[test]
    fn plain_json_only_when_allowed() {
        assert_eq!(
            verify(EVENT.as_bytes(), &[b"s1"], false),
            Err(VerifyError::Unsigned)
        );
        assert!(matches!(
            verify(EVENT.as_bytes(), &[], true),
            Ok(Payload::Unsigned(_))
        ));
    }

    #[test]
    fn sizes_and_garbage() {
        let big = vec![b'a'; MAX_BODY + 1];
        assert_eq!(verify(&big, &[b"s1"], true).unwrap_err().status(), 413);
        assert_eq!(verify(b"  ", &[b"s1"], true).unwrap_err().status(), 400);
        assert_eq!(
            verify(b"hello world", &[b"s1"], true).unwrap_err().status(),
            400
        );
        assert_eq!(verify(b"a.b.c", &[b"s1"], true).unwrap_err().status(), 400);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = verify(&bytes, &[b"s1"], true);
            let _ = verify(&bytes, &[b"s1"], false);
        }
    }
}

/// The `call_id` a body claims, read without verifying anything: only for the log line of a
/// rejected event, so that an operator can find it by the call's id. Never acted upon.
pub fn claimed_call_id(body: &[u8]) -> Option<String> {
    let body = trim(body);
    if body.len() > MAX_BODY {
        return None;
    }
    // As `verify` reads it: a token, JSON, or either of them base64-encoded once.
    let decoded;
    let body = if looks_like_jwt(body) || body.starts_with(b"{") {
        body
    } else {
        decoded = base64::engine::general_purpose::STANDARD
            .decode(body)
            .ok()?;
        trim(&decoded)
    };
    let claims: serde_json::Value = if looks_like_jwt(body) {
        let payload = std::str::from_utf8(body).ok()?.split('.').nth(1)?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice(&json).ok()?
    } else if body.starts_with(b"{") {
        serde_json::from_slice(body).ok()?
    } else {
        return None;
    };
    match claims.get("call_id")? {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) if s.len() <= 32 && s.chars().all(|c| c.is_ascii_digit()) => {
            Some(s.clone())
        }
        _ => None,
    }
}

#[cfg(test)]
mod claimed {
    use super::*;

    #[test]
    fn the_claimed_call_id_of_a_token_a_json_body_or_neither() {
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"call_id": 6208917392220160, "state": "hangup"}"#);
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{claims}.bad-signature");
        assert_eq!(
            claimed_call_id(token.as_bytes()).as_deref(),
            Some("6208917392220160")
        );
        assert_eq!(
            claimed_call_id(br#"{"call_id": "42"}"#).as_deref(),
            Some("42")
        );
        assert_eq!(claimed_call_id(br#"{"call_id": "<script>"}"#), None);
        assert_eq!(claimed_call_id(b"garbage"), None);
        assert_eq!(claimed_call_id(b""), None);
        assert_eq!(claimed_call_id(b"   "), None);
        assert_eq!(claimed_call_id(b"AAAA"), None);
        let encoded = base64::engine::general_purpose::STANDARD.encode(token.as_bytes());
        assert_eq!(
            claimed_call_id(encoded.as_bytes()).as_deref(),
            Some("6208917392220160")
        );
    }
}
