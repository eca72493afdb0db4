//! Center and family matching against LineLeader, with auto-creation of unknown callers.
//!
//! Creation takes a per-phone claim in the store and searches again before creating, so that
//! jobs racing for one new caller (a screen pop and a call log, or two legs) create one family.
//! The family to create is recorded as an intent first; when its answer is lost (or the job
//! dies), the next attempt's search finds the family the lost answer created instead of
//! creating a second one.

use std::time::Duration;

use crate::config::LineLeaderSettings;
use crate::rules::center::match_center;
use crate::rules::family::{self, FamilyContext, FamilyDecision};
use crate::rules::records::{Center, Family, TypeList};
use chrono::{TimeZone, Utc};
use llbridge_domain::labels::find_by_label;
use llbridge_domain::phone::Phone;
use llbridge_domain::Conversation;

use llbridge_usecases::crm::Owner;
use llbridge_usecases::effect::{Effects, Made, OncePlan};
use llbridge_usecases::ports::Clock;
use llbridge_usecases::{Error, Result};

use crate::api::LineLeader;

/// The source type of auto-created families (`docs/rules.md`).
pub const SOURCE_TYPE: &str = "Phone Call";
/// How long a remembered or just-created family is reused for its caller's jobs.
pub const REMEMBER: Duration = Duration::from_secs(24 * 3600);

/// What `fx.once` makes here: a caller's family (its claim: `family#create#<e164>`).
const CREATES: &str = "family";
/// How long a job waits for another job that is creating the same caller's family.
const CREATE_WAIT: Duration = Duration::from_secs(10);

/// The family a conversation is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub family_id: String,
    pub center: Option<Center>,
    /// How the family was found: `single`, `center_filter`, `recency_window`,
    /// `status_priority`, `created`, `created_by_other_job`, `remembered`,
    /// `found_after_lost_answer` (an earlier attempt's creation, whose answer was lost).
    pub rule: &'static str,
    /// How the center was found: `call_center_phone`, `default_center_name`, `no_center`.
    pub center_rule: &'static str,
    /// The family as this job's search read it (its status among others); `None` when it was
    /// not searched for (remembered, created).
    pub read: Option<Family>,
}

/// Every [`Matched::rule`].
const RULES: &[&str] = &[
    "single",
    "center_filter",
    "recency_window",
    "status_priority",
    "created",
    "created_by_other_job",
    "remembered",
    "found_after_lost_answer",
];

/// Why no family could be used. The codes appear in the worker's log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub reason: &'static str,
    pub detail: String,
    /// The families that matched and could not be told apart (`family_ambiguous`).
    pub candidates: Vec<String>,
}

fn dropped(reason: &'static str, detail: impl Into<String>) -> Dropped {
    Dropped {
        reason,
        detail: detail.into(),
        candidates: Vec::new(),
    }
}

impl Matched {
    /// The family decision, for the ledger.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.family_id,
            "rule": self.rule,
            "center_id": self.center.as_ref().map(|c| c.id.clone()),
            "center_rule": self.center_rule,
        })
    }
}

impl Dropped {
    /// Why no family, for the ledger.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "dropped": self.reason,
            "detail": self.detail,
            "candidates": self.candidates,
        })
    }
}

/// The family a conversation's log was decided on by an earlier attempt, if any: once an
/// effect may have been written on a family, every later attempt, late step and replay of
/// that conversation uses it (a family created meanwhile with the same number must not turn a
/// half-logged call into an ambiguous one).
pub async fn pinned(
    ll: &dyn LineLeader,
    fx: &Effects<'_>,
    anchor: &str,
) -> Result<Option<Matched>> {
    match fx.pinned_contact(anchor).await? {
        Some(pin) => pinned_of(ll, &pin).await,
        None => Ok(None),
    }
}

/// The family a pin names.
async fn pinned_of(ll: &dyn LineLeader, pin: &serde_json::Value) -> Result<Option<Matched>> {
    let Some(family_id) = pin.get("id").and_then(|v| v.as_str()) else {
        return Ok(None);
    };
    let center = match pin.get("center_id").and_then(|v| v.as_str()) {
        Some(id) => ll.centers().await?.into_iter().find(|c| c.id == id),
        None => None,
    };
    let known = |k: &str, codes: &[&'static str], other: &'static str| {
        let v = pin.get(k).and_then(|v| v.as_str());
        codes
            .iter()
            .copied()
            .find(|c| Some(*c) == v)
            .unwrap_or(other)
    };
    Ok(Some(Matched {
        family_id: family_id.to_owned(),
        center,
        rule: known("rule", RULES, "pinned"),
        center_rule: known(
            "center_rule",
            &["call_center_phone", "default_center_name"],
            crate::rules::center::NO_CENTER,
        ),
        read: None,
    }))
}

/// Pins the family a conversation's log is written on (see [`pinned`]): the first pin wins,
/// and is returned.
pub async fn pin(
    ll: &dyn LineLeader,
    fx: &Effects<'_>,
    anchor: &str,
    matched: Matched,
) -> Result<Matched> {
    let pinned = fx.pin_contact(anchor, &matched.to_json()).await?;
    if pinned == matched.to_json() {
        return Ok(matched);
    }
    Ok(pinned_of(ll, &pinned).await?.unwrap_or(matched))
}

/// Remembers the family popped for every leg known now, so the call log lands on it too.
pub async fn remember(fx: &Effects<'_>, conv: &Conversation, family_id: &str) -> Result<()> {
    fx.remember_contact(&conv.legs, family_id, REMEMBER).await
}

/// Finds, or creates, the family of the conversation's caller.
pub async fn match_or_create(
    ll: &dyn LineLeader,
    fx: &Effects<'_>,
    conv: &Conversation,
    settings: &LineLeaderSettings,
) -> Result<std::result::Result<Matched, Dropped>> {
    let Some(caller) = conv.caller_number.as_deref().and_then(Phone::parse) else {
        return Ok(Err(dropped(
            "no_caller_number",
            "the call has no usable caller number",
        )));
    };
    let centers = ll.centers().await?;
    let cc_number = conv.call_center.as_ref().and_then(|c| c.number.as_deref());
    let center = match_center(&centers, cc_number, &settings.default_center_name);
    let (center, center_rule) = match center {
        Some(m) => (Some(m.center.clone()), m.rule.code()),
        None => (None, crate::rules::center::NO_CENTER),
    };

    // A family already chosen for this conversation (at pop time) wins.
    if let Some(family_id) = fx.remembered_contact(&conv.legs).await? {
        return Ok(Ok(Matched {
            family_id,
            center,
            rule: "remembered",
            center_rule,
            read: None,
        }));
    }

    if let Some(found) = search(ll, fx.clock, &caller, center.as_ref(), settings).await? {
        return Ok(found.map(|(family, rule)| Matched {
            family_id: family.id.clone(),
            center,
            rule,
            center_rule,
            read: Some(family),
        }));
    }

    // No family has this number: create one, once.
    let Some(center) = center else {
        return Ok(Err(dropped(
            "no_center",
            format!(
                "no LineLeader center has the call center's number and none is named \"{}\"",
                settings.default_center_name
            ),
        )));
    };
    // Once for the caller's number: another job creating it is waited for; the family
    // planned is recorded before the request, so that after a lost answer the next attempt
    // searches again and finds it instead of creating a second one.
    let not_now = std::sync::Mutex::new(None::<Dropped>);
    let not_now_ref = &not_now;
    let center_ref = &center;
    let caller_ref = &caller;
    let made = fx
        .once(CREATES, caller.e164())
        .kept_for(REMEMBER)
        .waiting(CREATE_WAIT)
        .run(
            |resumed| async move {
                let why = |d: Dropped| {
                    let code = serde_json::Value::from(d.reason);
                    if let Ok(mut cell) = not_now_ref.lock() {
                        *cell = Some(d);
                    }
                    OncePlan::NotNow(code)
                };
                match search(ll, fx.clock, caller_ref, Some(center_ref), settings).await? {
                    Some(Ok((family, rule))) => {
                        let how = if resumed {
                            "found_after_lost_answer"
                        } else {
                            rule
                        };
                        Ok(OncePlan::Exists(
                            serde_json::json!({"family_id": family.id, "how": how}),
                        ))
                    }
                    Some(Err(d)) => Ok(why(d)),
                    None => match plan_family(ll, caller_ref, center_ref, settings).await? {
                        Err(d) => Ok(why(d)),
                        Ok(new) => Ok(OncePlan::Make(serde_json::to_value(&new).map_err(|e| {
                            Error::permanent("worker", format!("family intent: {e}"))
                        })?)),
                    },
                }
            },
            |intent| async move {
                let new: crate::rules::records::NewFamily = serde_json::from_value(intent)
                    .map_err(|e| {
                        Error::permanent("store", format!("family intent unreadable: {e}"))
                    })?;
                let created = ll.create_family(&new).await?;
                llbridge_usecases::telemetry::family_created();
                Ok(serde_json::json!({"family_id": created.id, "how": "written"}))
            },
        )
        .await?;
    let (outcome, by_other_job) = match made {
        Made::Done {
            outcome,
            by_other_job,
        } => (outcome, by_other_job),
        Made::NotNow(code) => {
            let d = not_now.lock().ok().and_then(|mut c| c.take());
            return Ok(Err(d.unwrap_or_else(|| {
                dropped("family_unresolved", format!("no family: {code}"))
            })));
        }
    };
    let Some(family_id) = outcome.get("family_id").and_then(|v| v.as_str()) else {
        return Err(Error::permanent(
            "store",
            format!(
                "the record of {}'s family has no family id",
                phone_masked(&caller)
            ),
        ));
    };
    let how = outcome
        .get("how")
        .and_then(|v| v.as_str())
        .unwrap_or("written");
    let rule = if by_other_job {
        "created_by_other_job"
    } else if how == "written" {
        "created"
    } else {
        RULES
            .iter()
            .copied()
            .find(|r| *r == how)
            .unwrap_or("found_after_lost_answer")
    };
    Ok(Ok(Matched {
        family_id: family_id.to_owned(),
        center: Some(center),
        rule,
        center_rule,
        read: None,
    }))
}

fn phone_masked(p: &Phone) -> String {
    llbridge_domain::phone::mask(p.e164())
}

/// The family to create, or why none can be.
async fn plan_family(
    ll: &dyn LineLeader,
    caller: &Phone,
    center: &Center,
    settings: &LineLeaderSettings,
) -> Result<std::result::Result<crate::rules::records::NewFamily, Dropped>> {
    let sources = ll.types(TypeList::FamilySource).await?;
    let Some(source) = find_by_label(&sources, SOURCE_TYPE) else {
        return Ok(Err(dropped(
            "source_type_missing",
            format!("LineLeader has no family source type \"{SOURCE_TYPE}\""),
        )));
    };
    let inquiries = ll.types(TypeList::FamilyInquiry).await?;
    let Some(inquiry) = find_by_label(&inquiries, &settings.family_inquiry_type) else {
        return Ok(Err(dropped(
            "inquiry_type_missing",
            format!(
                "LineLeader has no family inquiry type \"{}\"",
                settings.family_inquiry_type
            ),
        )));
    };
    Ok(Ok(family::new_family(
        caller,
        &center.id,
        &source.id,
        &inquiry.id,
    )))
}

/// Searches the caller's number and applies the disambiguation rules. `None`: no family has
/// the number.
/// The family of a contact by the call log's rules, never created: `unknown` (the reason
/// code) when no family has the number.
pub async fn match_only(
    ll: &dyn LineLeader,
    fx: &Effects<'_>,
    conv: &Conversation,
    settings: &LineLeaderSettings,
    unknown: &'static str,
) -> Result<std::result::Result<Matched, Dropped>> {
    let Some(caller) = conv.caller_number.as_deref().and_then(Phone::parse) else {
        return Ok(Err(dropped(
            "no_caller_number",
            "no usable number for the contact",
        )));
    };
    let centers = ll.centers().await?;
    let cc_number = conv.call_center.as_ref().and_then(|c| c.number.as_deref());
    let (center, center_rule) =
        match match_center(&centers, cc_number, &settings.default_center_name) {
            Some(m) => (Some(m.center.clone()), m.rule.code()),
            None => (None, crate::rules::center::NO_CENTER),
        };
    Ok(
        match search(ll, fx.clock, &caller, center.as_ref(), settings).await? {
            Some(Ok((family, rule))) => Ok(Matched {
                family_id: family.id.clone(),
                center,
                rule,
                center_rule,
                read: Some(family),
            }),
            Some(Err(d)) => Err(d),
            None => Err(dropped(
                unknown,
                "no family has this number (texts.create_families is off)",
            )),
        },
    )
}

/// A clock stopped at one instant: the router's matching time.
struct At(i64);

impl Clock for At {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

/// Who owns `caller` (routing): the family the call log's rules pick, without a center (a
/// router's number is not a call center's), and its center's name. Reads only.
pub async fn owner(
    ll: &dyn LineLeader,
    caller: &Phone,
    settings: &LineLeaderSettings,
    now_ms: i64,
) -> Result<Owner> {
    let found = search(ll, &At(now_ms), caller, None, settings).await?;
    Ok(match found {
        None => Owner::Unknown,
        Some(Err(d)) => Owner::Ambiguous {
            candidates: d.candidates,
        },
        Some(Ok((family, _))) => {
            let group = match &family.center_id {
                Some(id) => ll
                    .centers()
                    .await?
                    .into_iter()
                    .find(|c| &c.id == id)
                    .map(|c| c.name),
                None => None,
            };
            Owner::Contact {
                id: family.id,
                group,
            }
        }
    })
}

async fn search(
    ll: &dyn LineLeader,
    clock: &dyn Clock,
    caller: &Phone,
    center: Option<&Center>,
    settings: &LineLeaderSettings,
) -> Result<Option<std::result::Result<(Family, &'static str), Dropped>>> {
    let results = ll.search_families(caller.e164()).await?;
    if results.is_empty() {
        return Ok(None);
    }
    let statuses = if results.len() > 1 {
        ll.statuses().await?
    } else {
        Vec::new()
    };
    let now = Utc
        .timestamp_millis_opt(clock.now_ms())
        .single()
        .unwrap_or_else(Utc::now);
    let ctx = FamilyContext {
        center_id: center.map(|c| c.id.as_str()),
        statuses: &statuses,
        status_prioritization: &settings.status_prioritization,
        family_status_priority_ids: &settings.family_status_priority_ids,
        now,
    };
    let m = family::match_family(caller, &results, &ctx);
    Ok(match m.decision {
        // The matched family is one of the results; were it not, the match still stands (a
        // match must never turn into a new family), known by its id alone.
        FamilyDecision::Matched { family_id, rule } => {
            let family = results
                .iter()
                .find(|f| f.id == family_id)
                .cloned()
                .unwrap_or_else(|| Family {
                    id: family_id.clone(),
                    created: None,
                    center_id: None,
                    status_id: None,
                    status_name: None,
                    phones: Vec::new(),
                    guardian_first_name: None,
                    guardian_last_name: None,
                });
            Some(Ok((family, rule.code())))
        }
        FamilyDecision::NoMatch => None,
        FamilyDecision::Ambiguous { candidate_ids } => Some(Err(Dropped {
            candidates: candidate_ids.clone(),
            ..dropped(
                "family_ambiguous",
                format!(
                    "several families have this number and no rule decided: {}",
                    candidate_ids.join(", ")
                ),
            )
        })),
    })
}
