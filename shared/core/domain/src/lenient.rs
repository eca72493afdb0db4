//! Lenient readers over `serde_json::Value`, as real Dialpad payloads demand: every field may be
//! missing, null, of another type, or a junk value. No reader here fails or panics; an unusable
//! value reads as absent.

use serde_json::Value;

/// An id as its canonical decimal string. Numbers are read as integers only (never through
/// `f64`, ids reach 19 digits); the junk values `null`, `""`, `0` and `"null"` read as absent.
pub fn id(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                (u != 0).then(|| u.to_string())
            } else if let Some(i) = n.as_i64() {
                (i > 0).then(|| i.to_string())
            } else {
                // A float id has already lost digits: unusable.
                None
            }
        }
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() || s == "0" || s.eq_ignore_ascii_case("null") {
                None
            } else {
                Some(s.to_owned())
            }
        }
        _ => None,
    }
}

/// A non-empty trimmed string; numbers are rendered as their text.
pub fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => {
            let s = s.trim();
            (!s.is_empty() && !s.eq_ignore_ascii_case("null")).then(|| s.to_owned())
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A boolean given as a bool, the strings "TRUE"/"FALSE" (any case), or 0/1.
pub fn boolean(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    }
}

/// The latest timestamp accepted: 9999-12-31T23:59:59.999Z, in epoch milliseconds.
pub const MAX_MILLIS: i64 = 253_402_300_799_999;

/// The longest duration accepted: ten years, in milliseconds.
pub const MAX_DURATION_MS: f64 = 10.0 * 366.0 * 24.0 * 3600.0 * 1000.0;

/// A timestamp in epoch milliseconds, given as an integer, a float or a numeric string.
/// Zero, negative values and values past the year 9999 read as absent (never wrapped or
/// clamped into a wrong date).
pub fn millis(v: Option<&Value>) -> Option<i64> {
    let ms = match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(float_millis)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(float_millis))
        }
        _ => None,
    }?;
    (ms > 0 && ms <= MAX_MILLIS).then_some(ms)
}

/// A float timestamp, when it is a finite number of milliseconds in range.
fn float_millis(f: f64) -> Option<i64> {
    (f.is_finite() && f > 0.0 && f <= MAX_MILLIS as f64).then_some(f as i64)
}

/// A duration in (float) milliseconds; negative, non-finite or absurdly long values (over ten
/// years) read as absent.
pub fn float_ms(v: Option<&Value>) -> Option<f64> {
    let f = match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    (f.is_finite() && (0.0..=MAX_DURATION_MS).contains(&f)).then_some(f)
}

/// Orders ids numerically when both are numeric (leading zeros aside), else as text: the
/// smallest leg id keys a conversation, the smallest center id breaks ties.
pub fn id_order(a: &str, b: &str) -> std::cmp::Ordering {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if numeric(a) && numeric(b) {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        (a.len(), a).cmp(&(b.len(), b))
    } else {
        a.cmp(b)
    }
}

/// A list of non-empty strings: one string, or an array of strings.
pub fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(|i| string(Some(i))).collect(),
        Some(other) => string(Some(other)).into_iter().collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_never_go_through_floats() {
        let v: Value = serde_json::from_str("9223372036854775807").unwrap();
        assert_eq!(id(Some(&v)).as_deref(), Some("9223372036854775807"));
        let v: Value = serde_json::from_str("4716644561813504123").unwrap();
        assert_eq!(id(Some(&v)).as_deref(), Some("4716644561813504123"));
        assert_eq!(
            id(Some(&json!("4716644561813504"))).as_deref(),
            Some("4716644561813504")
        );
        assert_eq!(id(Some(&json!(1.5e15))), None);
    }

    #[test]
    fn junk_ids_are_absent() {
        for junk in [
            json!(null),
            json!(""),
            json!(0),
            json!("null"),
            json!("NULL"),
            json!(" "),
            json!({}),
            json!([]),
        ] {
            assert_eq!(id(Some(&junk)), None, "{junk}");
        }
        assert_eq!(id(None), None);
    }

    #[test]
    fn booleans_as_bool_or_strings() {
        assert_eq!(boolean(Some(&json!(true))), Some(true));
        assert_eq!(boolean(Some(&json!("TRUE"))), Some(true));
        assert_eq!(boolean(Some(&json!("FALSE"))), Some(false));
        assert_eq!(boolean(Some(&json!("false"))), Some(false));
        assert_eq!(boolean(Some(&json!("maybe"))), None);
        assert_eq!(boolean(Some(&json!(null))), None);
    }

    #[test]
    fn millis_and_durations() {
        assert_eq!(millis(Some(&json!(1767710404987_i64))), Some(1767710404987));
        assert_eq!(millis(Some(&json!("1767710404987"))), Some(1767710404987));
        assert_eq!(millis(Some(&json!(1767710404987.5))), Some(1767710404987));
        assert_eq!(millis(Some(&json!(0))), None);
        assert_eq!(millis(Some(&json!("soon"))), None);
        assert_eq!(float_ms(Some(&json!(292431.512))), Some(292431.512));
        assert_eq!(float_ms(Some(&json!("12.5"))), Some(12.5));
        assert_eq!(float_ms(Some(&json!(-1))), None);
    }

    #[test]
    fn id_order_is_numeric_for_numbers() {
        use std::cmp::Ordering;
        assert_eq!(id_order("9", "10"), Ordering::Less);
        assert_eq!(id_order("010", "10"), Ordering::Equal);
        assert_eq!(id_order("b", "a"), Ordering::Greater);
        assert_eq!(
            id_order("6208917392220160", "5829361047752704"),
            Ordering::Greater
        );
    }

    #[test]
    fn timestamps_out_of_range_are_refused_not_wrapped() {
        assert_eq!(millis(Some(&json!(MAX_MILLIS))), Some(MAX_MILLIS));
        assert_eq!(millis(Some(&json!(MAX_MILLIS + 1))), None);
        assert_eq!(millis(Some(&json!(i64::MAX))), None);
        assert_eq!(millis(Some(&json!(u64::MAX))), None);
        assert_eq!(millis(Some(&json!(1e300))), None);
        assert_eq!(millis(Some(&json!("99999999999999999999"))), None);
        assert_eq!(millis(Some(&json!("-5"))), None);
        assert_eq!(float_ms(Some(&json!(1e30))), None);
        assert_eq!(float_ms(Some(&json!(f64::MAX))), None);
    }
}
