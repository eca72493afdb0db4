//! `llbridge demo` (the README's run command) runs by itself, says what happened, and exits 0.

use std::process::Command;

#[test]
fn the_demo_runs_and_tells_what_happened() {
    let out = Command::new(env!("CARGO_BIN_EXE_llbridge"))
        .arg("demo")
        .output()
        .unwrap_or_else(|e| panic!("run llbridge demo: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "New family",
        "Screen pop: the agent's browser opened family #1001",
        "Phone log",
        "Inbound call",
        "Outbound call",
        "several families have this number",
        "completed with result \"Left Message\"",
        "Timeline event",
        "moved from \"New Lead\" to \"Contacted\"",
        "LeadSquared agent popup for ana@example.com",
        "LeadSquared call log lsq-call-1: Answered Inbound call",
        "notes \"Tour Scheduled\"",
        "Summary: Maya asked about infant openings",
        "The disposition came after the log: the skipped task and status steps ran now",
        "Follow-up task #",
        "Action item from the call of",
        "Call back: the family called on",
        "Done: 3 phone log(s), 4 timeline event(s) (2 of them texts), 1 status change(s), 3 follow-up task(s)",
        "Text logged as timeline event",
        "by ana@example.com: \"Thursday at 10 works. See you then!\"",
        "Ana clicks a lead's number in LeadSquared (click to call)",
        "Dialpad rings Ana (user 5150000000000001) and dials ***0178",
        "LeadSquared call log lsq-call-2: Answered Outbound call",
        "on lead lead-1178",
        "2 LeadSquared call log(s), 1 agent popup(s)",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
}
