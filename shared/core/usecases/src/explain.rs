//! Reason codes in words, with their fix: what the console shows beside a call that was not
//! logged. One table, here; a test holds it to the README's reason table (every code the
//! README lists for a call log that was dropped, failed or held has its words here).

/// A reason code explained: what happened, and what an admin can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Explained {
    pub meaning: &'static str,
    pub fix: &'static str,
}

const fn e(meaning: &'static str, fix: &'static str) -> Explained {
    Explained { meaning, fix }
}

/// Every explained code.
pub const REASONS: &[(&str, Explained)] = &[
    ("no_caller_number", e("The call has no usable caller number (an anonymous or blocked caller).", "Nothing to fix: such a call cannot be matched to a family.")),
    ("no_center", e("No LineLeader center has the call center's number as its Call Center Phone, and no center has the default center name.", "Set the center's Call Center Phone in LineLeader, or default_center_name in the config.")),
    ("family_ambiguous", e("Several families have the caller's number and no rule (center, the ten-minute window, status priority) told them apart.", "Merge or correct the duplicate families in LineLeader, or add status_prioritization.")),
    ("source_type_missing", e("A new family could not be created: LineLeader has no \"Phone Call\" source type.", "Add the source type \"Phone Call\" in LineLeader, then replay the call.")),
    ("inquiry_type_missing", e("A new family could not be created: LineLeader has no inquiry type of the configured name.", "Add the inquiry type, or set family_inquiry_type to one that exists, then replay.")),
    ("call_log_disabled", e("The enablement has no call_log: calls are not logged.", "Add a call_log to the enablement if they should be.")),
    ("not_enabled", e("No enablement covers the call center, office or company.", "Add an enablement for its scope if it should be logged.")),
    ("user_line", e("A call on a user's own line, not through a call center: out of scope.", "Nothing to fix.")),
    ("department", e("A department call, not a call center's: out of scope.", "Nothing to fix.")),
    ("office_line", e("A call to an office's main line, not through a call center: out of scope.", "Nothing to fix.")),
    ("leadsquared_no_lead_number", e("LeadSquared needs the lead's number and the call has none usable.", "Nothing to fix: an anonymous caller cannot be logged in LeadSquared.")),
    ("leadsquared_no_display_number", e("Neither the call center's nor the agent's number is known for LeadSquared's DisplayNumber.", "Give the call center a number in Dialpad.")),
    ("lineleader_rejected", e("LineLeader refused a write (a 4xx): a setting does not match the tenant.", "Run doctor, fix the setting it names (api.paths, a type), then replay the refused calls.")),
    ("leadsquared_rejected", e("LeadSquared refused the call log (a 4xx).", "Check the connection's URLs (their keys), then replay the refused calls.")),
    ("webhook_rejected", e("The receiver of the signed webhook refused the record.", "Check the receiver and the connection's secret, then replay the refused calls.")),
    ("needs_review", e("A write's answer was lost, the tenant cannot look it up, and the policy is hold: it may or may not be there.", "Look the call up in the CRM; if it is missing, replay it.")),
    ("transient_failure", e("The CRM (or AWS) kept failing until the retry horizon.", "Fix what the detail names, then replay the dead letter.")),
    ("unknown_outcome", e("A write's answer was lost on every attempt.", "Look the call up in the CRM, then replay the dead letter if it is missing.")),
    ("lineleader_unauthorized", e("LineLeader refused the token.", "Check the connection's username and password.")),
    ("lineleader_login_rejected", e("LineLeader refused the credentials.", "Fix the connection's username and password in the secret.")),
    ("logged_without_hangup", e("Logged although the call never said it ended (no event for 4 hours).", "Nothing to fix: the log has what was known.")),
    ("late_event_after_log", e("A disposition, recording or recap came after the call was logged and is not in its log.", "Use enable_task_queue or disposition_wait_secs so details come before the log.")),
    ("permanent_failure", e("A job failed in a way retrying cannot help.", "Read the detail; fix the cause, then replay the call.")),
    ("malformed_message", e("A job message could not be read.", "Nothing to replay: report it.")),
    ("unknown_texter", e("A text from a number no family has (texts.create_families is off).", "Turn on texts.create_families to create families for new texters.")),
    ("text_no_staff", e("Neither the sender nor the default staff is a LineLeader staff record.", "Set texts.default_staff_email to a staff record's e-mail.")),
    ("text_event_type_not_found", e("The texts' event type is not among LineLeader's task results.", "Add it, or set texts.event_type to one that exists.")),
    ("texts_not_supported", e("The enablement's CRM has no text log.", "Nothing to fix.")),
    ("texts_not_enabled", e("The enablement does not log texts.", "Add texts to the enablement if they should be.")),
];

/// The words of a reason code, when it has some.
pub fn reason(code: &str) -> Option<Explained> {
    REASONS.iter().find(|(c, _)| *c == code).map(|(_, e)| *e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes of the README's reason table rows for call logs that were not written.
    fn readme_codes() -> Vec<String> {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../README.md"))
                .unwrap_or_else(|e| panic!("README: {e}"));
        readme
            .lines()
            .filter(|l| {
                l.starts_with("| call log `dropped`")
                    || l.starts_with("| call log `needs_review`")
                    || l.starts_with("| any job `failed`")
            })
            .flat_map(|l| {
                // The codes column: the row's second cell, up to a colon's explanation.
                let cell = l.split('|').nth(2).unwrap_or_default();
                let cell = cell.split(':').next().unwrap_or_default();
                cell.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
            .collect()
    }

    #[test]
    fn every_code_the_readme_lists_for_an_unlogged_call_is_explained() {
        let codes = readme_codes();
        assert!(codes.len() >= 8, "{codes:?}");
        for code in codes {
            assert!(reason(&code).is_some(), "{code} has no words in explain.rs");
        }
    }
}
