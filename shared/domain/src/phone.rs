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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn masking_keeps_only_the_last_four() {
        assert_eq!(mask("+14158159602"), "***9602");
        assert_eq!(mask("12"), "***12");
        assert_eq!(
            format!("{}", Phone::parse("415-815-9602").unwrap()),
            "***9602"
        );
    }
}
