//! Follow-up tasks of a call (`follow_up_tasks`): a callback for an inbound call no agent
//! answered or that ended in voicemail, and one task per Dialpad Ai action item.
//!
//! Descriptions hold no phone number (the family has it; intents are kept and traced). Each
//! follow-up has a key that is stable across deliveries and releases (`callback`, or
//! `action-` and a hash of the item's text), and its description ends with a line naming the
//! call and the key: how a task whose creation lost its answer is found again.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::config::FollowUpSettings;
use llbridge_domain::conversation::Conversation;
use llbridge_domain::event::{Direction, LinkKind};

/// What a follow-up is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpKind {
    /// Call the family back: nobody answered, or they left a voicemail.
    Callback,
    /// One of the call's Dialpad Ai action items.
    ActionItem,
}

impl FollowUpKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            FollowUpKind::Callback => "callback",
            FollowUpKind::ActionItem => "action_item",
        }
    }
}

/// One task to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// Stable within the conversation.
    pub key: String,
    pub kind: FollowUpKind,
    pub description: String,
    pub due: DateTime<Utc>,
}

/// The most characters of an action item a task description carries.
pub const ITEM_LIMIT: usize = 500;

/// The line of a task description that names the call and the follow-up.
const MARKER: &str = "Follow-up ID: ";

/// The marker line of a follow-up of the Dialpad call `call_id`.
pub fn marker(call_id: &str, key: &str) -> String {
    format!("{MARKER}{call_id}/{key}")
}

/// Whether a task's description is the one written for this follow-up (its marker line,
/// exactly).
pub fn describes(description: &str, call_id: &str, key: &str) -> bool {
    let wanted = format!("{call_id}/{key}");
    description
        .lines()
        .filter_map(|l| l.trim().strip_prefix(MARKER.trim_end()))
        .any(|m| m.trim() == wanted)
}

/// The key of an action item: FNV-1a of its text, trimmed and lowercased, stable across
/// releases (the same item sent again is the same task).
pub fn action_key(item: &str) -> String {
    let norm = item.trim().to_lowercase();
    let hash = norm.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("action-{hash:016x}")
}

/// Whether the call is one to call back: inbound, and no agent answered or it ended in
/// voicemail.
pub fn is_missed(conv: &Conversation) -> bool {
    conv.direction == Some(Direction::Inbound) && (!conv.answered || conv.voicemail)
}

fn when(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single())
}

fn cut(text: &str, limit: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let cut: String = text.chars().take(limit - 1).collect();
    format!("{}…", cut.trim_end())
}

/// The follow-ups of a conversation, in order: the callback first, then the action items (a
/// repeated item once). Due `settings.due_in` after the call ended (else started, else `now`),
/// whole seconds.
pub fn plan(conv: &Conversation, settings: &FollowUpSettings, now: DateTime<Utc>) -> Vec<FollowUp> {
    let at = when(conv.ended_at)
        .or_else(|| when(conv.started_at))
        .unwrap_or(now);
    let due_ms = at.timestamp() * 1000 + settings.due_in.as_millis() as i64;
    let due = when(Some(due_ms)).unwrap_or(now);
    let call_id = conv.dialpad_call_id.as_str();
    let mut out = Vec::new();
    if settings.missed_calls && is_missed(conv) {
        let called = when(conv.started_at).unwrap_or(at);
        let mut lines = vec![format!(
            "Call back: the family called on {} and {}.",
            called.format("%Y-%m-%d at %H:%M UTC"),
            if conv.voicemail {
                "left a voicemail"
            } else {
                "no one answered"
            }
        )];
        if let Some(url) = conv.link(LinkKind::Voicemail) {
            lines.push(format!("Voicemail: {url}"));
        }
        lines.push(marker(call_id, "callback"));
        out.push(FollowUp {
            key: "callback".into(),
            kind: FollowUpKind::Callback,
            description: lines.join("\n"),
            due,
        });
    }
    if settings.from_action_items {
        for item in conv.action_items.iter().filter(|i| !i.trim().is_empty()) {
            let key = action_key(item);
            if out.iter().any(|f| f.key == key) {
                continue;
            }
            let description = format!(
                "Action item from the call of {}: {}\n{}",
                at.format("%Y-%m-%d"),
                cut(item, ITEM_LIMIT),
                marker(call_id, &key)
            );
            out.push(FollowUp {
                key,
                kind: FollowUpKind::ActionItem,
                description,
                due,
            });
        }
    }
    out
}

/// The task type of `follow_up_tasks` is not in LineLeader: nothing is created.
pub const TASK_TYPE_MISSING: &str = "follow_up_task_type_missing";

/// The skip codes of follow-up steps.
pub const SKIP_CODES: &[&str] = &[TASK_TYPE_MISSING];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AssignTo;
    use llbridge_domain::event::Link;
    use std::time::Duration;

    fn settings() -> FollowUpSettings {
        FollowUpSettings {
            task_type: "Phone Call".into(),
            from_action_items: true,
            missed_calls: true,
            due_in: Duration::from_secs(3600),
            assign_to: AssignTo::Agent,
            default_staff_email: None,
        }
    }

    fn conv(answered: bool) -> Conversation {
        Conversation {
            key: "1".into(),
            legs: vec!["1".into()],
            dialpad_call_id: "6208917392220160".into(),
            caller_number: Some("+16505550199".into()),
            direction: Some(Direction::Inbound),
            call_center: None,
            agent: None,
            started_at: Some(1_767_710_404_987),
            connected_at: None,
            ended_at: Some(1_767_710_464_987),
            duration_ms: None,
            answered,
            dispositions: vec![],
            recap: vec![],
            action_items: vec![],
            voicemail: false,
            links: vec![],
            ended: true,
            last_event_at: 0,
            events: 2,
            custom_data: None,
        }
    }

    #[test]
    fn a_missed_inbound_call_is_one_callback_due_after_the_call() {
        let now = Utc::now();
        let plan = plan(&conv(false), &settings(), now);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].kind, FollowUpKind::Callback);
        assert_eq!(plan[0].due.to_rfc3339(), "2026-01-06T15:41:04+00:00");
        assert!(plan[0].description.contains("no one answered"));
        assert!(
            !plan[0].description.contains("8159602") && !plan[0].description.contains("5550199"),
            "no phone number: the intent is kept and traced"
        );
        assert!(describes(
            &plan[0].description,
            "6208917392220160",
            "callback"
        ));
        assert!(!describes(
            &plan[0].description,
            "620891739222016",
            "callback"
        ));
    }

    #[test]
    fn a_voicemail_is_a_callback_with_its_link() {
        let mut c = conv(true);
        c.voicemail = true;
        c.links.push(Link {
            kind: LinkKind::Voicemail,
            url: "https://dialpad.com/vm/1".into(),
        });
        let plan = plan(&c, &settings(), Utc::now());
        assert_eq!(plan.len(), 1);
        assert!(plan[0].description.contains("left a voicemail"));
        assert!(plan[0]
            .description
            .contains("Voicemail: https://dialpad.com/vm/1"));
    }

    #[test]
    fn answered_and_outbound_calls_have_no_callback() {
        assert!(plan(&conv(true), &settings(), Utc::now()).is_empty());
        let mut out = conv(false);
        out.direction = Some(Direction::Outbound);
        assert!(plan(&out, &settings(), Utc::now()).is_empty());
        let mut off = settings();
        off.missed_calls = false;
        assert!(plan(&conv(false), &off, Utc::now()).is_empty());
    }

    #[test]
    fn each_distinct_action_item_is_one_task_with_a_stable_key() {
        let mut c = conv(true);
        c.action_items = vec![
            "Send the tuition sheet".into(),
            "Book a tour for Friday".into(),
            " send the tuition sheet ".into(),
            "  ".into(),
        ];
        let plan1 = plan(&c, &settings(), Utc::now());
        assert_eq!(plan1.len(), 2);
        assert_eq!(plan1[0].key, action_key("Send the tuition sheet"));
        assert!(plan1[1].description.contains("Book a tour for Friday"));
        c.action_items.reverse();
        let plan2 = plan(&c, &settings(), Utc::now());
        let keys = |p: &[FollowUp]| {
            let mut k: Vec<String> = p.iter().map(|f| f.key.clone()).collect();
            k.sort();
            k
        };
        assert_eq!(keys(&plan1), keys(&plan2));
        let mut off = settings();
        off.from_action_items = false;
        assert!(plan(&c, &off, Utc::now()).is_empty());
    }

    #[test]
    fn a_long_item_is_cut() {
        let mut c = conv(true);
        c.action_items = vec!["x".repeat(2000)];
        let plan = plan(&c, &settings(), Utc::now());
        assert!(plan[0].description.chars().count() < ITEM_LIMIT + 120);
        assert!(plan[0].description.contains('…'));
    }
}
