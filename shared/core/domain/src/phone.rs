//! Phone numbers: normalization for matching, the NPANXXXXXX form LineLeader wants, and masking
//! for logs.
//!
//! Families store what staff typed (`(415) 815-9602`, `415-815-9602`, `+14158159602`,
//! `4158159602`); centers and Dialpad carry E.164. Numbers are compared only in normalized form:
//! NANP numbers as their ten digits, others as E.164. Parsing (national formats, extensions,
//! international prefixes) is done by the `phonenumber` crate with the US as the default region.

use std::fmt;

/// A normalized phone number, in E.164 form (`+14158159602`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone {
    e164: String,
}

impl Phone {
    /// Parses any common written form; `None` when the text is not a phone number.
    pub fn parse(raw: &str) -> Option<Phone> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 64 {
            return None;
        }
        let digits = raw.chars().filter(char::is_ascii_digit).count();
        if digits < 7 {
            return None;
        }
        // "14158159602" (no plus, 11 digits, leading 1) is a NANP number written with its
        // country code; help the parser see it that way.
        let candidate = if !raw.starts_with('+') && digits == 11 && first_digit(raw) == Some('1') {
            format!("+{raw}")
        } else {
            raw.to_owned()
        };
        let parsed = phonenumber::parse(Some(phonenumber::country::Id::US), &candidate).ok()?;
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        let national_len = e164.len().saturating_sub(1);
        if !(8..=16).contains(&national_len) {
            return None;
        }
        if parsed.code().value() == 1 && e164.len() != 12 {
            return None;
        }
        Some(Phone { e164 })
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// True for +1 numbers (US, Canada and the rest of the NANP).
    pub fn is_nanp(&self) -> bool {
        self.e164.starts_with("+1") && self.e164.len() == 12
    }

    /// The ten digits NPANXXXXXX of a NANP number; for other numbers, the E.164 digits.
    pub fn ten_digits(&self) -> String {
        if self.is_nanp() {
            self.e164[2..].to_owned()
        } else {
            self.e164[1..].to_owned()
        }
    }
}

/// Why a number is not dialed for someone else (click to call): toll fraud rings premium-rate
/// and far-away numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undialable {
    /// Its country (an ISO code such as `JM`, or `unknown`) is not one of the allowed ones.
    Country(String),
    /// The phone-number metadata knows it as a premium-rate or shared-cost number.
    Costly(&'static str),
}

impl fmt::Display for Undialable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Undialable::Country(c) => write!(f, "a number of {c}, not an allowed country"),
            Undialable::Costly(kind) => write!(f, "a {kind} number"),
        }
    }
}

/// Whether `code` is an ISO country code the phone-number metadata knows (`US`, `ca`).
pub fn is_country_code(code: &str) -> bool {
    code.trim()
        .to_uppercase()
        .parse::<phonenumber::country::Id>()
        .is_ok()
}

impl Phone {
    /// The country the number belongs to by the phone-number metadata (`US`, `CA`, `JM`...;
    /// a +1 number's area code tells the country), if it knows.
    pub fn country(&self) -> Option<String> {
        let parsed = phonenumber::parse(None, &self.e164).ok()?;
        parsed.country().id().map(|id| id.as_ref().to_owned())
    }

    /// Whether the number may be dialed when its country is one of `allowed` (ISO codes, any
    /// case): never a premium-rate or shared-cost one.
    pub fn dialable(&self, allowed: &[String]) -> Result<(), Undialable> {
        let parsed = phonenumber::parse(None, &self.e164)
            .map_err(|_| Undialable::Country("unknown".into()))?;
        let country = parsed
            .country()
            .id()
            .map(|id| id.as_ref().to_owned())
            .unwrap_or_else(|| "unknown".into());
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(&country)) {
            return Err(Undialable::Country(country));
        }
        match parsed.number_type(&phonenumber::metadata::DATABASE) {
            phonenumber::Type::PremiumRate => Err(Undialable::Costly("premium-rate")),
            phonenumber::Type::SharedCost => Err(Undialable::Costly("shared-cost")),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Phone {
    /// Displays masked: phone numbers never reach a log in full.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(&self.e164))
    }
}

fn first_digit(s: &str) -> Option<char> {
    s.chars().find(char::is_ascii_digit)
}

/// Masks a phone number for logs: only the last four digits remain (`***9602`).
pub fn mask(raw: &str) -> String {
    let digits: Vec<char> = raw.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("***{tail}")
}

/// A text from elsewhere (a CRM's error message) with every phone number in it masked to its
/// last four digits, however it is typed: `(415) 815-9602`, `415-815-9602`, `415.815.9602`,
/// `+1 415 815 9602`, `4158159602`. A run of 7 to 15 digits, with spaces, dashes, dots,
/// parentheses or a leading `+` between them, is a phone number; a date (`2026-05-28`) and
/// longer ids (Dialpad's 19-digit call ids) are not.
pub fn mask_in_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let joins = |c: char| matches!(c, ' ' | '-' | '.' | '(' | ')');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            || ((chars[i] == '+' || chars[i] == '(')
                && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        if !starts {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The run: digits, and separators followed (after more separators) by a digit.
        let mut end = i + 1;
        let mut last_digit = i;
        while end < chars.len() {
            let c = chars[end];
            if c.is_ascii_digit() {
                last_digit = end;
                end += 1;
            } else if joins(c) {
                end += 1;
            } else {
                break;
            }
        }
        let end = last_digit + 1;
        let run: String = chars[i..end].iter().collect();
        let digits = run.chars().filter(char::is_ascii_digit).count();
        let is_date = {
            let parts: Vec<&str> = run.split('-').collect();
            parts.len() == 3
                && parts[0].len() == 4
                && parts[1].len() == 2
                && parts[2].len() == 2
                && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        };
        if (7..=15).contains(&digits) && !is_date {
            out.push_str(&mask(&run));
        } else {
            out.push_str(&run);
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_in_a_text_are_masked_in_every_format() {
        for (text, want) in [
            ("bad phone (415) 815-9602 here", "bad phone ***9602 here"),
            ("bad phone 415-815-9602", "bad phone ***9602"),
            ("bad phone 415.815.9602.", "bad phone ***9602."),
            ("bad phone +1 415 815 9602", "bad phone ***9602"),
            ("phone:4158159602,", "phone:***9602,"),
            ("+14158159602", "***9602"),
            ("ANI 1 (415) 815-9602 refused", "ANI ***9602 refused"),
        ] {
            assert_eq!(mask_in_text(text), want, "{text}");
        }
        for kept in [
            "limit 100 per page",
            "start_date_time 2026-05-28T04:30:00.123Z: milliseconds rejected",
            "call 6208917392220160 not found",
            "family 1001 (center 101)",
        ] {
            assert_eq!(mask_in_text(kept), kept);
        }
    }

    #[test]
    fn every_typed_form_of_one_number_is_the_same() {
        let forms = [
            "(415) 815-9602",
            "415-815-9602",
            "+14158159602",
            "4158159602",
            "14158159602",
            "1 (415) 815-9602",
            "415.815.9602",
            "+1 415 815 9602",
        ];
        for f in forms {
            let p = Phone::parse(f).unwrap_or_else(|| panic!("{f} did not parse"));
            assert_eq!(p.e164(), "+14158159602", "{f}");
            assert_eq!(p.ten_digits(), "4158159602", "{f}");
        }
    }

    #[test]
    fn fictional_555_numbers_still_parse() {
        assert_eq!(
            Phone::parse("+16505550199").unwrap().ten_digits(),
            "6505550199"
        );
    }

    #[test]
    fn other_countries_compare_in_e164() {
        let uk = Phone::parse("+44 20 7946 0958").unwrap();
        assert_eq!(uk.e164(), "+442079460958");
        assert!(!uk.is_nanp());
        assert_ne!(
            Phone::parse("2079460958"),
            Some(uk),
            "a national number is read as NANP, not UK"
        );
    }

    #[test]
    fn not_numbers() {
        for s in [
            "",
            "abc",
            "12",
            "anonymous",
            "+1 415",
            "41581596021234567890",
        ] {
            assert_eq!(Phone::parse(s), None, "{s}");
        }
    }

    #[test]
    fn click_to_call_dials_only_allowed_countries_and_never_premium_numbers() {
        let us = vec!["US".to_string()];
        let dial = |n: &str, allowed: &[String]| {
            Phone::parse(n)
                .unwrap_or_else(|| panic!("{n}"))
                .dialable(allowed)
        };
        assert_eq!(dial("+14158159602", &us), Ok(()));
        assert_eq!(dial("(415) 815-9602", &["us".to_string()]), Ok(()));
        assert_eq!(
            dial("+19005551234", &us),
            Err(Undialable::Costly("premium-rate"))
        );
        // Jamaica shares +1 with the US: its area code tells.
        assert_eq!(
            dial("+18764561234", &us),
            Err(Undialable::Country("JM".into()))
        );
        assert_eq!(
            dial("+442079460958", &us),
            Err(Undialable::Country("GB".into()))
        );
        assert_eq!(dial("+442079460958", &["US".into(), "GB".into()]), Ok(()));
        assert_eq!(
            dial("+449098790123", &["GB".into()]),
            Err(Undialable::Costly("premium-rate"))
        );
        assert_eq!(
            dial("+34901123456", &["ES".into()]),
            Err(Undialable::Costly("shared-cost"))
        );
    }

    #[test]
    fn masking_keeps_only_the_last_four() {
        assert_eq!(mask("+14158159602"), "***9602");
        assert_eq!(mask("12"), "***12");
        assert_eq!(
            format!("{}", Phone::parse("415-815-9602").unwrap()),
            "***9602"
        );
    }
}
