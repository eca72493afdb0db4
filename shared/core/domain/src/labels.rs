//! Label comparison, used for every label the integration matches: statuses, types, task
//! results, center names, dispositions and the keys of the disposition maps.
//!
//! Two labels are the same when their [`label_key`]s are equal. The key is:
//!
//! * lower-cased (Unicode lower case, so `"É"` equals `"é"`);
//! * trimmed, with every run of whitespace (spaces, tabs, non-breaking spaces) collapsed to one
//!   space;
//! * with every dash variant written as `-`: hyphen-minus, hyphen (U+2010), non-breaking hyphen
//!   (U+2011), figure dash (U+2012), en dash (U+2013), em dash (U+2014), horizontal bar (U+2015),
//!   minus sign (U+2212), small and full-width hyphen-minus (U+FE63, U+FF0D) and small em dash
//!   (U+FE58);
//! * with the spaces around a dash removed, and likewise around `~` (the separator of Dialpad's
//!   two-level dispositions `"Category~Sub"`).
//!
//! So `"Connected – Interested"`, `"Connected - Interested"`, `"connected-interested"` and
//! `"CONNECTED—INTERESTED"` are all one label (key `"connected-interested"`), and
//! `"Follow-Up Needed"` equals `"follow - up  needed"`. Other punctuation is kept as is:
//! `"Follow Up"` and `"Follow-Up"` are different labels.

/// A record known by a label: statuses (`values.name`) and types (`values.value`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labeled {
    pub id: String,
    pub label: String,
}

use serde::{Deserialize, Serialize};

/// The dash variants read as `-`.
const DASHES: [char; 11] = [
    '-', '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2015}', '\u{2212}',
    '\u{FE58}', '\u{FE63}', '\u{FF0D}',
];

/// Characters around which spaces are dropped.
fn is_tight(c: char) -> bool {
    c == '-' || c == '~'
}

/// The comparison key of a label (see the module documentation).
pub fn label_key(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut pending_space = false;
    for c in label.chars() {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        let c = if DASHES.contains(&c) { '-' } else { c };
        if pending_space {
            let after_tight = out.chars().next_back().is_some_and(is_tight);
            if !out.is_empty() && !after_tight && !is_tight(c) {
                out.push(' ');
            }
            pending_space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// True when both labels are the same label.
pub fn same_label(a: &str, b: &str) -> bool {
    label_key(a) == label_key(b)
}

/// The first item whose label is `label`; `None` for an empty label or no match.
pub fn find_by_label<'a>(items: &'a [Labeled], label: &str) -> Option<&'a Labeled> {
    let key = label_key(label);
    if key.is_empty() {
        return None;
    }
    items.iter().find(|i| label_key(&i.label) == key)
}

/// The labels to try, in order, for a disposition: the full label, then for a two-level
/// disposition `"Category~Sub"` the sub-disposition, then the category. Empty parts are left
/// out, and so is a part equal to one already listed.
pub fn disposition_candidates(disposition: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        let s = s.trim();
        if !label_key(s).is_empty() && !out.iter().any(|o| same_label(o, s)) {
            out.push(s.to_owned());
        }
    };
    push(disposition);
    if let Some((category, sub)) = disposition.split_once('~') {
        push(sub);
        push(category);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(id: &str, label: &str) -> Labeled {
        Labeled {
            id: id.into(),
            label: label.into(),
        }
    }

    #[test]
    fn keys() {
        let cases = [
            ("Connected – Interested", "connected-interested"),
            ("Connected - Interested", "connected-interested"),
            ("connected - interested", "connected-interested"),
            ("connected-interested", "connected-interested"),
            ("CONNECTED—INTERESTED", "connected-interested"),
            ("Connected \u{2212} Interested", "connected-interested"),
            ("Connected \u{2012} Interested", "connected-interested"),
            ("Connected \u{2010}Interested", "connected-interested"),
            ("  Follow-Up   Needed ", "follow-up needed"),
            ("Follow\u{00A0}Up\tNeeded", "follow up needed"),
            ("Connected ~ Interested", "connected~interested"),
            ("Tour Booked (New Lead)", "tour booked (new lead)"),
            ("ÉTÉ", "été"),
            ("", ""),
            ("   ", ""),
        ];
        for (input, key) in cases {
            assert_eq!(label_key(input), key, "{input:?}");
        }
    }

    #[test]
    fn same_and_different() {
        assert!(same_label(
            "Connected – Interested",
            "Connected - Interested"
        ));
        assert!(same_label(
            "Connected - Interested",
            "connected - interested"
        ));
        assert!(same_label("New Lead", "new lead"));
        assert!(same_label("Phone Call", " phone  call "));
        assert!(!same_label("Follow Up", "Follow-Up"));
        assert!(!same_label("New Lead", "New Leads"));
        assert!(!same_label("Phone Call", "PhoneCall"));
    }

    #[test]
    fn find_by_label_takes_the_first_match() {
        let items = [
            l("1", "New Lead"),
            l("2", "Tour – Scheduled"),
            l("3", "new lead"),
        ];
        assert_eq!(
            find_by_label(&items, "NEW LEAD").map(|i| i.id.as_str()),
            Some("1")
        );
        assert_eq!(
            find_by_label(&items, "tour-scheduled").map(|i| i.id.as_str()),
            Some("2")
        );
        assert_eq!(find_by_label(&items, "Enrolled"), None);
        assert_eq!(find_by_label(&items, "  "), None);
        assert_eq!(find_by_label(&[], "New Lead"), None);
    }

    #[test]
    fn disposition_candidates_full_then_sub_then_category() {
        assert_eq!(
            disposition_candidates("Connected~Interested"),
            ["Connected~Interested", "Interested", "Connected"]
        );
        assert_eq!(
            disposition_candidates(" Connected ~ Tour – Booked "),
            ["Connected ~ Tour – Booked", "Tour – Booked", "Connected"]
        );
        assert_eq!(disposition_candidates("Left Voicemail"), ["Left Voicemail"]);
        assert_eq!(disposition_candidates("Same~same"), ["Same~same", "same"]);
        assert_eq!(disposition_candidates("~Sub"), ["~Sub", "Sub"]);
        assert!(disposition_candidates("  ").is_empty());
    }
}
