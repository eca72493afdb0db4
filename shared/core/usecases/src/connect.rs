//! `llbridge dialpad connect`: Dialpad wired to the webhook from the config, so that no
//! installation wires it by hand. The webhook for the webhook URL, signed with the config's
//! first webhook secret; for every enablement's scope, a call-event subscription on that
//! webhook, enabled, with every call state the config needs ([`Enablement::call_states`]).
//! Created when missing, patched when it lacks states (or is disabled, or signs with another
//! secret), left alone otherwise: running it twice changes nothing.
//!
//! [`coverage`] is `doctor`'s side of it: which enablements lack a subscription or states.

use std::collections::{BTreeMap, BTreeSet};

use llbridge_domain::config::{Enablement, ScopeLevel};
use llbridge_domain::Installation;
use serde::Serialize;

use crate::error::Result;
use crate::ports::{CallSubscription, Dialpad, Webhook};

/// What became of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

impl Change {
    pub fn as_str(&self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
        }
    }
}

/// One line of the output: an object and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub change: Change,
    /// `webhook` or `subscription`.
    pub object: &'static str,
    /// Which one: the URL, or the scope.
    pub what: String,
    /// Its Dialpad id (empty in a dry run of something to create).
    pub id: String,
    pub detail: String,
}

/// A scope's subscription as the config needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// `callcenter`, `office`, or `None` for the whole company.
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub states: BTreeSet<String>,
}

impl Wanted {
    /// A new subscription of this scope on the webhook `hook_id`, with `states`.
    fn subscription(&self, hook_id: &Option<String>, states: Vec<String>) -> CallSubscription {
        CallSubscription {
            id: String::new(),
            webhook_id: hook_id.clone(),
            target_type: self.target_type.map(str::to_owned),
            target_id: self.target_id.clone(),
            call_states: states,
            enabled: true,
        }
    }

    fn name(&self) -> String {
        match (&self.target_type, &self.target_id) {
            (Some(t), Some(id)) => format!("{t} {id}"),
            _ => "company".into(),
        }
    }

    /// Whether `sub` is this scope's.
    fn targets(&self, sub: &CallSubscription) -> bool {
        match self.target_type {
            None => matches!(sub.target_type.as_deref(), None | Some("company")),
            Some(t) => {
                sub.target_type.as_deref().map(|s| s.replace('_', "")) == Some(t.into())
                    && sub.target_id == self.target_id
            }
        }
    }
}

fn target(e: &Enablement) -> (Option<&'static str>, Option<String>) {
    match e.scope.level {
        ScopeLevel::CallCenter => (Some("callcenter"), e.scope.id.clone()),
        ScopeLevel::Office => (Some("office"), e.scope.id.clone()),
        ScopeLevel::Company => (None, None),
    }
}

/// The scopes whose texts are logged: each needs an SMS subscription (`direction: all`).
pub fn wanted_texts(inst: &Installation) -> Vec<Wanted> {
    let mut scopes: Vec<(Option<&'static str>, Option<String>)> = inst
        .enablements
        .iter()
        .filter(|e| e.crm.logs_texts())
        .map(target)
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
        .into_iter()
        .map(|(target_type, target_id)| Wanted {
            target_type,
            target_id,
            states: BTreeSet::new(),
        })
        .collect()
}

/// Every scope's subscription, the states of the enablements on one scope merged.
pub fn wanted(inst: &Installation) -> Vec<Wanted> {
    let mut by: BTreeMap<(Option<&'static str>, Option<String>), BTreeSet<String>> =
        BTreeMap::new();
    for e in &inst.enablements {
        by.entry(target(e))
            .or_default()
            .extend(e.call_states().into_iter().map(str::to_owned));
    }
    by.into_iter()
        .map(|((target_type, target_id), states)| Wanted {
            target_type,
            target_id,
            states,
        })
        .collect()
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/')
}

/// Wires Dialpad for `inst`: the webhook `hook_url` signed with `secret`, and the
/// subscriptions. With `dry_run`, only says what it would do.
pub async fn connect(
    dialpad: &dyn Dialpad,
    inst: &Installation,
    hook_url: &str,
    secret: &str,
    dry_run: bool,
) -> Result<Vec<Line>> {
    let mut lines = Vec::new();
    let hooks = dialpad.webhooks().await?;
    let found = hooks.iter().find(|h| same_url(&h.hook_url, hook_url));
    let hook: Option<Webhook> = match found {
        Some(h) if h.secret.as_deref().is_some_and(|s| s != secret) => {
            let updated = if dry_run {
                h.clone()
            } else {
                dialpad.update_webhook(&h.id, hook_url, secret).await?
            };
            lines.push(Line {
                change: Change::Updated,
                object: "webhook",
                what: hook_url.to_owned(),
                id: updated.id.clone(),
                detail: "it signed with another secret: now the config's first webhook secret"
                    .into(),
            });
            Some(updated)
        }
        Some(h) => {
            lines.push(Line {
                change: Change::Unchanged,
                object: "webhook",
                what: hook_url.to_owned(),
                id: h.id.clone(),
                detail: String::new(),
            });
            Some(h.clone())
        }
        None if dry_run => {
            lines.push(Line {
                change: Change::Created,
                object: "webhook",
                what: hook_url.to_owned(),
                id: String::new(),
                detail: "signed with the config's first webhook secret".into(),
            });
            None
        }
        None => {
            let h = dialpad.create_webhook(hook_url, secret).await?;
            lines.push(Line {
                change: Change::Created,
                object: "webhook",
                what: hook_url.to_owned(),
                id: h.id.clone(),
                detail: "signed with the config's first webhook secret".into(),
            });
            Some(h)
        }
    };
    let subs = match &hook {
        Some(_) => dialpad.call_subscriptions().await?,
        None => Vec::new(),
    };
    let hook_id = hook.as_ref().map(|h| h.id.clone());
    for want in wanted(inst) {
        let existing = subs
            .iter()
            .find(|s| s.webhook_id == hook_id && hook_id.is_some() && want.targets(s));
        let states = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
        match existing {
            Some(sub) => {
                let have: BTreeSet<String> = sub.call_states.iter().cloned().collect();
                let missing: BTreeSet<String> = want.states.difference(&have).cloned().collect();
                if missing.is_empty() && sub.enabled {
                    lines.push(Line {
                        change: Change::Unchanged,
                        object: "subscription",
                        what: want.name(),
                        id: sub.id.clone(),
                        detail: states(&have),
                    });
                    continue;
                }
                let mut patched = sub.clone();
                patched.call_states = have.union(&want.states).cloned().collect();
                patched.enabled = true;
                if !dry_run {
                    dialpad.save_call_subscription(&patched).await?;
                }
                let mut why = Vec::new();
                if !missing.is_empty() {
                    why.push(format!("added {}", states(&missing)));
                }
                if !sub.enabled {
                    why.push("enabled".to_owned());
                }
                lines.push(Line {
                    change: Change::Updated,
                    object: "subscription",
                    what: want.name(),
                    id: sub.id.clone(),
                    detail: why.join("; "),
                });
            }
            None => {
                let new = want.subscription(&hook_id, want.states.iter().cloned().collect());
                let id = if dry_run {
                    String::new()
                } else {
                    dialpad.save_call_subscription(&new).await?.id
                };
                lines.push(Line {
                    change: Change::Created,
                    object: "subscription",
                    what: want.name(),
                    id,
                    detail: states(&want.states),
                });
            }
        }
    }
    let texts = wanted_texts(inst);
    if !texts.is_empty() {
        let sms = match &hook {
            Some(_) => dialpad.sms_subscriptions().await?,
            None => Vec::new(),
        };
        for want in texts {
            let existing = sms
                .iter()
                .find(|s| s.webhook_id == hook_id && hook_id.is_some() && want.targets(s));
            match existing {
                Some(sub) if sub.enabled => lines.push(Line {
                    change: Change::Unchanged,
                    object: "SMS subscription",
                    what: want.name(),
                    id: sub.id.clone(),
                    detail: "all directions".into(),
                }),
                Some(sub) => {
                    let mut patched = sub.clone();
                    patched.enabled = true;
                    if !dry_run {
                        dialpad.save_sms_subscription(&patched).await?;
                    }
                    lines.push(Line {
                        change: Change::Updated,
                        object: "SMS subscription",
                        what: want.name(),
                        id: sub.id.clone(),
                        detail: "enabled".into(),
                    });
                }
                None => {
                    let new = want.subscription(&hook_id, Vec::new());
                    let id = if dry_run {
                        String::new()
                    } else {
                        dialpad.save_sms_subscription(&new).await?.id
                    };
                    lines.push(Line {
                        change: Change::Created,
                        object: "SMS subscription",
                        what: want.name(),
                        id,
                        detail: "all directions".into(),
                    });
                }
            }
        }
    }
    Ok(lines)
}

/// A call router of the config, as `connect` needs it: its name in `routing`, its secret's
/// value, and the numbers to assign to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterPlan {
    pub name: String,
    pub secret: String,
    pub numbers: Vec<String>,
}

/// The routing URL of the router `name`, beside the webhook's URL
/// (`…/dialpad/events` → `…/dialpad/route/<name>`).
pub fn routing_url(hook_url: &str, name: &str) -> String {
    let base = hook_url.trim().trim_end_matches('/');
    let base = base.strip_suffix("/dialpad/events").unwrap_or(base);
    format!("{base}/dialpad/route/{name}")
}

/// The name a router of the config has in Dialpad.
pub fn router_name(name: &str) -> String {
    format!("llbridge {name}")
}

/// Each router of `inst.routing`: created, or patched when its URL, office, default target
/// (the entry's fallback) or name differ or it is disabled; its numbers assigned.
pub async fn routers(
    dialpad: &dyn Dialpad,
    inst: &Installation,
    hook_url: &str,
    plans: &[RouterPlan],
    dry_run: bool,
) -> Result<Vec<Line>> {
    let mut lines = Vec::new();
    if inst.routing.is_empty() {
        return Ok(lines);
    }
    let existing = dialpad.call_routers().await?;
    for plan in plans {
        let Some(entry) = inst.routing.get(&plan.name) else {
            continue;
        };
        let url = routing_url(hook_url, &plan.name);
        let want = crate::ports::CallRouter {
            id: String::new(),
            name: router_name(&plan.name),
            routing_url: url.clone(),
            office_id: entry.office_id.clone(),
            default_target: Some(entry.fallback.clone()),
            enabled: true,
            phone_numbers: Vec::new(),
            error_count: None,
        };
        let found = existing
            .iter()
            .find(|r| same_url(&r.routing_url, &url))
            .or_else(|| existing.iter().find(|r| r.name == want.name));
        let what = format!("{} → {url}", plan.name);
        let router = match found {
            None => {
                let made = if dry_run {
                    want.clone()
                } else {
                    dialpad.save_call_router(&want, Some(&plan.secret)).await?
                };
                lines.push(Line {
                    change: Change::Created,
                    object: "router",
                    what: what.clone(),
                    id: made.id.clone(),
                    detail: format!("default target {}", entry.fallback),
                });
                made
            }
            Some(r) => {
                let mut diffs = Vec::new();
                if !same_url(&r.routing_url, &url) {
                    diffs.push("routing URL");
                }
                if r.office_id != want.office_id {
                    diffs.push("office");
                }
                if r.default_target != want.default_target {
                    diffs.push("default target");
                }
                if r.name != want.name {
                    diffs.push("name");
                }
                if !r.enabled {
                    diffs.push("enabled");
                }
                if diffs.is_empty() {
                    lines.push(Line {
                        change: Change::Unchanged,
                        object: "router",
                        what: what.clone(),
                        id: r.id.clone(),
                        detail: format!("default target {}", entry.fallback),
                    });
                    r.clone()
                } else {
                    let mut patched = want.clone();
                    patched.id = r.id.clone();
                    patched.phone_numbers = r.phone_numbers.clone();
                    if !dry_run {
                        dialpad
                            .save_call_router(&patched, Some(&plan.secret))
                            .await?;
                    }
                    lines.push(Line {
                        change: Change::Updated,
                        object: "router",
                        what: what.clone(),
                        id: r.id.clone(),
                        detail: format!("{} set (and the secret)", diffs.join(", ")),
                    });
                    patched
                }
            }
        };
        for number in &plan.numbers {
            let has = router.phone_numbers.iter().any(|n| n == number);
            if !has && !dry_run {
                dialpad.assign_router_number(&router.id, number).await?;
            }
            lines.push(Line {
                change: if has {
                    Change::Unchanged
                } else {
                    Change::Created
                },
                object: "router number",
                what: format!("{} {}", plan.name, llbridge_domain::phone::mask(number)),
                id: router.id.clone(),
                detail: String::new(),
            });
        }
    }
    Ok(lines)
}

/// What `doctor` finds of one scope's subscription on the product's webhooks (those whose URL
/// ends with `/dialpad/events`, or is `hook_url` when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    Covered,
    /// No enabled subscription of the scope on the product's webhook.
    Missing,
    /// A subscription without these states.
    Lacking(BTreeSet<String>),
}

/// Each scope of `inst` and its coverage, from Dialpad's lists.
pub fn coverage(
    inst: &Installation,
    hooks: &[Webhook],
    subs: &[CallSubscription],
    hook_url: Option<&str>,
) -> Vec<(String, Coverage)> {
    coverage_of(&wanted(inst), hooks, subs, hook_url)
}

/// The coverage of the scopes `wanted` by the subscriptions `subs`.
pub fn coverage_of(
    wanted: &[Wanted],
    hooks: &[Webhook],
    subs: &[CallSubscription],
    hook_url: Option<&str>,
) -> Vec<(String, Coverage)> {
    let ours: BTreeSet<&str> = hooks
        .iter()
        .filter(|h| match hook_url {
            Some(u) => same_url(&h.hook_url, u),
            None => h
                .hook_url
                .trim_end_matches('/')
                .ends_with("/dialpad/events"),
        })
        .map(|h| h.id.as_str())
        .collect();
    wanted
        .iter()
        .map(|want| {
            let mine: Vec<&CallSubscription> = subs
                .iter()
                .filter(|s| s.enabled && want.targets(s))
                .filter(|s| s.webhook_id.as_deref().is_some_and(|w| ours.contains(w)))
                .collect();
            let best = mine
                .iter()
                .map(|s| {
                    let have: BTreeSet<String> = s.call_states.iter().cloned().collect();
                    want.states
                        .difference(&have)
                        .cloned()
                        .collect::<BTreeSet<_>>()
                })
                .min_by_key(BTreeSet::len);
            let c = match best {
                None => Coverage::Missing,
                Some(missing) if missing.is_empty() => Coverage::Covered,
                Some(missing) => Coverage::Lacking(missing),
            };
            (want.name(), c)
        })
        .collect()
}
