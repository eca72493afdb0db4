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
                let new = CallSubscription {
                    id: String::new(),
                    webhook_id: hook_id.clone(),
                    target_type: want.target_type.map(str::to_owned),
                    target_id: want.target_id.clone(),
                    call_states: want.states.iter().cloned().collect(),
                    enabled: true,
                };
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
    wanted(inst)
        .into_iter()
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
