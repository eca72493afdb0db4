//! Walking a JSON document and saying, at each JSON path, what is wrong there: the helpers
//! every part of the config (the core's and each CRM's) reads its keys with.

use std::collections::BTreeMap;

use serde_json::Value;

use super::url_policy::{forbidden_host, is_loopback};
use super::{Obj, SecretRef, SANDBOX};

/// The errors found so far, with the readers that find them.
#[derive(Default)]
pub struct Walk {
    pub errors: Vec<super::ConfigError>,
}

impl Walk {
    /// Records an error at `path`.
    pub fn err(&mut self, path: &str, msg: impl Into<String>) {
        self.errors.push(super::ConfigError {
            path: path.to_owned(),
            message: msg.into(),
        });
    }

    /// An object whose keys are all `allowed` (an unknown key is an error, with the closest
    /// allowed one as a hint).
    pub fn object<'a>(&mut self, v: &'a Value, path: &str, allowed: &[&str]) -> Option<&'a Obj> {
        let Some(o) = v.as_object() else {
            self.err(path, format!("expected an object, found {}", kind(v)));
            return None;
        };
        for k in o.keys() {
            if !allowed.contains(&k.as_str()) {
                let hint = closest(k, allowed)
                    .map(|c| format!(" (did you mean \"{c}\"?)"))
                    .unwrap_or_default();
                self.err(&format!("{path}.{k}"), format!("unknown key{hint}"));
            }
        }
        Some(o)
    }

    pub fn required<'a>(&mut self, o: &'a Obj, path: &str, key: &str) -> Option<&'a Value> {
        match o.get(key) {
            Some(v) if !v.is_null() => Some(v),
            _ => {
                self.err(&format!("{path}.{key}"), "is required");
                None
            }
        }
    }

    pub fn string(&mut self, v: &Value, path: &str) -> Option<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::String(_) => {
                self.err(path, "must not be empty");
                None
            }
            other => {
                self.err(path, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    pub fn opt_string(&mut self, o: &Obj, path: &str, key: &str) -> Option<String> {
        match o.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => self.string(v, &format!("{path}.{key}")),
        }
    }

    pub fn boolean(&mut self, o: &Obj, path: &str, key: &str, default: bool) -> bool {
        match o.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.err(
                    &format!("{path}.{key}"),
                    format!("expected true or false, found {}", kind(other)),
                );
                default
            }
        }
    }

    /// A whole number in `range`; `default` when absent (or wrong, with the error).
    pub fn whole(
        &mut self,
        o: &Obj,
        path: &str,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> u64 {
        match o.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| range.contains(&n)) => {
                n.as_u64().unwrap_or(default)
            }
            Some(other) => {
                self.err(
                    &format!("{path}.{key}"),
                    format!(
                        "expected a whole number from {} to {}, found {other}",
                        range.start(),
                        range.end()
                    ),
                );
                default
            }
        }
    }

    pub fn url(&mut self, v: &Value, path: &str) -> Option<String> {
        let s = self.string(v, path)?;
        match url::Url::parse(&s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Some(s.trim_end_matches('/').to_owned())
            }
            Ok(u) => {
                self.err(
                    path,
                    format!("\"{s}\" is not an http(s) URL (scheme {})", u.scheme()),
                );
                None
            }
            Err(e) => {
                self.err(path, format!("\"{s}\" is not a valid URL: {e}"));
                None
            }
        }
    }

    /// The URL of an API the product sends credentials to: https, or plain http to a loopback
    /// address only; never a link-local or cloud metadata address.
    pub fn api_url(&mut self, v: &Value, path: &str) -> Option<String> {
        let s = self.url(v, path)?;
        let parsed = url::Url::parse(&s).ok()?;
        if let Some(why) = forbidden_host(&parsed) {
            self.err(
                path,
                format!("\"{s}\" points at {why}; use the service's public URL"),
            );
            return None;
        }
        if parsed.scheme() == "http" && !is_loopback(&parsed) {
            self.err(
                path,
                format!("\"{s}\" is plain http: credentials would cross the network unencrypted; use https (http is allowed to a loopback address only)"),
            );
            return None;
        }
        Some(s)
    }

    pub fn string_list(&mut self, o: &Obj, path: &str, key: &str) -> Vec<String> {
        let p = format!("{path}.{key}");
        match o.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| self.string(v, &format!("{p}[{i}]")))
                .collect(),
            Some(other) => {
                self.err(&p, format!("expected a list, found {}", kind(other)));
                Vec::new()
            }
        }
    }

    pub fn secret(&mut self, v: &Value, path: &str) -> Option<SecretRef> {
        match v {
            Value::String(s) if !s.is_empty() => Some(SecretRef::Literal(s.clone())),
            Value::Object(_) => {
                let o = self.object(v, path, &["secret", "key"])?;
                let secret = self
                    .required(o, path, "secret")
                    .and_then(|s| self.string(s, &format!("{path}.secret")));
                let key = self
                    .required(o, path, "key")
                    .and_then(|s| self.string(s, &format!("{path}.key")));
                Some(SecretRef::Managed {
                    secret: secret?,
                    key: key?,
                })
            }
            _ => {
                self.err(
                    path,
                    "expected a secret reference: {\"secret\": \"<id or ARN>\", \"key\": \"<json key>\"} or a literal string",
                );
                None
            }
        }
    }

    /// A URL holding credentials: a literal API URL (or `sandbox`), or a secret reference to
    /// one (checked when it is read).
    pub fn url_secret(&mut self, v: &Value, path: &str) -> Option<SecretRef> {
        match v {
            Value::String(s) if s.trim() == SANDBOX => Some(SecretRef::Literal(SANDBOX.to_owned())),
            Value::String(_) => self.api_url(v, path).map(SecretRef::Literal),
            _ => self.secret(v, path),
        }
    }

    /// An enablement's `call_log` that is only a type, `{"type": "<ty>"}` (the type may be left
    /// out): whether calls are logged (absent: not), or `None` with the error.
    pub fn call_log_of_type(&mut self, o: &Obj, p: &str, ty: &str, crm: &str) -> Option<bool> {
        let Some(v) = o.get("call_log").filter(|v| !v.is_null()) else {
            return Some(false);
        };
        let cp = format!("{p}.call_log");
        let c = self.object(v, &cp, &["type"])?;
        match self.opt_string(c, &cp, "type") {
            None => Some(true),
            Some(t) if t == ty => Some(true),
            Some(other) => {
                self.err(
                    &format!("{cp}.type"),
                    format!("\"{other}\" is not a {crm} call log; a {crm} connection logs with type \"{ty}\""),
                );
                None
            }
        }
    }

    /// An object of non-empty keys to strings; empty when absent.
    pub fn string_map(&mut self, o: &Obj, p: &str, key: &str) -> BTreeMap<String, String> {
        let mp = format!("{p}.{key}");
        let mut out = BTreeMap::new();
        match o.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let kp = format!("{mp}[{}]", serde_json::to_string(k).unwrap_or_default());
                    if k.trim().is_empty() {
                        self.err(&kp, "the key is empty");
                        continue;
                    }
                    if let Some(s) = self.string(v, &kp) {
                        out.insert(k.trim().to_owned(), s);
                    }
                }
            }
            Some(other) => self.err(&mp, format!("expected an object, found {}", kind(other))),
        }
        out
    }
}

pub fn looks_like_email(s: &str) -> bool {
    let mut parts = s.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if !a.is_empty() && b.contains('.') && !b.starts_with('.') && !b.ends_with('.'))
        && !s.contains(char::is_whitespace)
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The allowed key closest to a typo, when one is close.
pub fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (levenshtein(key, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min()
        .map(|(_, a)| a)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
