//! `doctor`: what an admin must get right before the first call, checked against the live
//! Dialpad API and every CRM connection, each failure with its fix. Read-only: the CRMs are
//! only read; Dialpad gets one call-list page and one screen pop addressed to no user.

use std::collections::BTreeMap;
use std::time::Duration;

use llbridge_domain::config::ScopeLevel;
use llbridge_domain::event::CallEvent;
use llbridge_domain::Installation;
use serde::Serialize;

pub use crate::checks::{Check, Probe, Verdict};
use crate::crm::Clients;
use crate::ports::CallQuery;

/// The outcome of all checks.
#[derive(Debug, Clone, Serialize)]
pub struct Checkup {
    pub checks: Vec<Check>,
}

impl Checkup {
    /// No check failed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.verdict != Verdict::Fail)
    }

    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }
}

/// How far back the call list is read for the call centers' numbers.
pub const CALL_LIST_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// Pages of the call list read at most.
const CALL_LIST_PAGES: usize = 5;

/// Runs every check of `inst`.
pub async fn run(inst: &Installation, clients: &dyn Clients, now_ms: i64) -> Checkup {
    let mut checks = Vec::new();
    let numbers = dialpad(inst, clients, now_ms, &mut checks).await;
    // The connections checked, and whether they can be used at all: an enablement of a
    // connection whose login failed is not checked further (every check would fail the same
    // way); one whose other checks failed (an endpoint a probe could not find) is.
    let mut connections: BTreeMap<String, bool> = BTreeMap::new();
    for enablement in &inst.enablements {
        let scope = format!("enablement {}", enablement.scope);
        let crm = match clients.crm(inst, enablement).await {
            Ok(crm) => crm,
            Err(e) => {
                checks.push(Check::fail(
                    &scope,
                    "crm_connection",
                    format!("connection {}: {e}", enablement.connection),
                    "check the connection's settings and its secret references",
                ));
                continue;
            }
        };
        let usable = match connections.get(&enablement.connection) {
            Some(usable) => *usable,
            None => {
                let connection = format!("connection {}", enablement.connection);
                let found = crm.checkup_connection(&connection).await;
                let usable = !found
                    .iter()
                    .any(|c| c.verdict == Verdict::Fail && c.check.ends_with("_login"));
                checks.extend(found);
                connections.insert(enablement.connection.clone(), usable);
                usable
            }
        };
        if !usable {
            continue;
        }
        let number = match (&enablement.scope.level, &enablement.scope.id) {
            (ScopeLevel::CallCenter, Some(id)) => numbers.get(id).cloned(),
            _ => None,
        };
        let probe = Probe {
            inst,
            enablement,
            scope,
            call_center_number: number,
        };
        checks.extend(crm.checkup(&probe).await);
    }
    checks.extend(routing(inst, clients).await);
    Checkup { checks }
}

/// Each router of `routing`: its targets exist in Dialpad, its centers in the CRM, and its
/// Dialpad router exists and is enabled (below Dialpad's error limit).
async fn routing(inst: &Installation, clients: &dyn Clients) -> Vec<Check> {
    let mut checks = Vec::new();
    if inst.routing.is_empty() {
        return checks;
    }
    let api = clients.dialpad(inst).await.ok();
    let routers = match &api {
        Some(api) => api.call_routers().await.ok(),
        None => None,
    };
    for (name, entry) in &inst.routing {
        let scope = format!("routing {name}");
        if let Some(api) = &api {
            let mut missing = Vec::new();
            let targets = std::iter::once(("fallback".to_owned(), &entry.fallback)).chain(
                entry
                    .centers
                    .iter()
                    .map(|(c, t)| (format!("center {c}"), t)),
            );
            for (what, t) in targets {
                match api.target_exists(t).await {
                    Ok(true) => {}
                    Ok(false) => missing.push(format!("{what}: {t}")),
                    Err(e) => missing.push(format!("{what}: {t} ({e})")),
                }
            }
            checks.push(if missing.is_empty() {
                Check::pass(&scope, "routing_targets", "every target exists in Dialpad")
            } else {
                Check::fail(
                    &scope,
                    "routing_targets",
                    format!("not found in Dialpad: {}", missing.join("; ")),
                    "use the ids Dialpad shows for the users, call centers, departments and offices",
                )
            });
            let path = format!("/dialpad/route/{name}");
            let found = routers.as_ref().map(|rs| {
                rs.iter()
                    .find(|r| r.routing_url.trim_end_matches('/').ends_with(&path))
                    .cloned()
            });
            checks.push(match found {
                None => Check::warn(
                    &scope,
                    "routing_router",
                    "Dialpad's routers could not be listed",
                    "use a company-admin API key",
                ),
                Some(None) => Check::fail(
                    &scope,
                    "routing_router",
                    format!("no Dialpad router posts to …{path}"),
                    "run `llbridge dialpad connect`",
                ),
                Some(Some(r)) if !r.enabled || r.error_count.is_some_and(|n| n > 10) => {
                    Check::fail(
                        &scope,
                        "routing_router",
                        format!(
                            "Dialpad's router {} is disabled ({} errors counted): calls go to its default target",
                            r.id,
                            r.error_count.map_or("?".to_owned(), |n| n.to_string())
                        ),
                        "see the router's decision lines for the errors, then run `llbridge dialpad connect` to enable it",
                    )
                }
                Some(Some(r)) => Check::pass(
                    &scope,
                    "routing_router",
                    format!("router {} is enabled ({} number(s))", r.id, r.phone_numbers.len()),
                ),
            });
        }
        let names: Vec<String> = entry.centers.keys().cloned().collect();
        if let Some(enablement) = inst
            .enablements
            .iter()
            .find(|e| e.connection == entry.connection)
        {
            if let Ok(crm) = clients.crm(inst, enablement).await {
                checks.extend(crm.checkup_groups(&scope, &names).await);
            }
        }
    }
    checks
}

/// The Dialpad API key (the call list, the screen-pop scope); returns the numbers of the call
/// centers seen in the call list, by call center id.
async fn dialpad(
    inst: &Installation,
    clients: &dyn Clients,
    now_ms: i64,
    checks: &mut Vec<Check>,
) -> BTreeMap<String, String> {
    const SCOPE: &str = "dialpad";
    let mut numbers = BTreeMap::new();
    let pops = inst.enablements.iter().any(|e| e.screen_pop);
    if inst.dialpad.api_key.is_none() {
        let fix =
            "set dialpad.api_key (a company-admin key with the screen_pop and calls:list scopes)";
        checks.push(if pops {
            Check::fail(SCOPE, "dialpad_api_key", "no API key: screen pops cannot be sent, and missed webhooks cannot be recovered", fix)
        } else {
            Check::warn(SCOPE, "dialpad_api_key", "no API key: calls whose webhook Dialpad gave up on cannot be recovered from the call list", fix)
        });
        return numbers;
    }
    let api = match clients.dialpad(inst).await {
        Ok(api) => api,
        Err(e) => {
            checks.push(Check::fail(
                SCOPE,
                "dialpad_api_key",
                e.to_string(),
                "check dialpad.api_key and its secret reference",
            ));
            return numbers;
        }
    };
    let mut query = CallQuery {
        started_after: now_ms - CALL_LIST_WINDOW.as_millis() as i64,
        started_before: now_ms,
        cursor: None,
    };
    let mut seen = 0;
    for _ in 0..CALL_LIST_PAGES {
        match api.list_calls(&query).await {
            Ok(page) => {
                seen += page.items.len();
                for item in &page.items {
                    let Ok(event) = CallEvent::from_value(item) else {
                        continue;
                    };
                    if let Some(cc) =
                        llbridge_domain::conversation::merge(&[event]).and_then(|c| c.call_center)
                    {
                        if let Some(n) = cc.number {
                            numbers.entry(cc.id).or_insert(n);
                        }
                    }
                }
                match page.cursor {
                    Some(c) => query.cursor = Some(c),
                    None => break,
                }
            }
            Err(e) => {
                let fix = if e.is_transient() {
                    "Dialpad did not answer: check dialpad.api_base_url and the network, then run doctor again"
                } else {
                    "use a company-admin API key with the calls:list scope (Dialpad: Admin settings > API keys)"
                };
                checks.push(Check::fail(SCOPE, "dialpad_call_list", e.to_string(), fix));
                return numbers;
            }
        }
    }
    checks.push(Check::pass(
        SCOPE,
        "dialpad_call_list",
        format!("the API key lists calls ({seen} legs in the last 7 days read)"),
    ));
    checks.push(subscriptions(inst, api.as_ref()).await);
    if pops {
        // Addressed to no user: Dialpad checks the key and its scope before the user.
        match api.screen_pop("0", "about:blank").await {
            Err(e) if e.to_string().contains("HTTP 401") || e.to_string().contains("HTTP 403") => {
                checks.push(Check::fail(
                    SCOPE,
                    "dialpad_screen_pop",
                    e.to_string(),
                    "give the API key the screen_pop scope",
                ))
            }
            _ => checks.push(Check::pass(
                SCOPE,
                "dialpad_screen_pop",
                "the API key may send screen pops",
            )),
        }
    }
    numbers
}

/// Every enablement's scope has an enabled call-event subscription on the product's webhook
/// with every state it needs.
async fn subscriptions(inst: &Installation, api: &dyn crate::ports::Dialpad) -> Check {
    const SCOPE: &str = "dialpad";
    const CHECK: &str = "dialpad_subscriptions";
    const FIX: &str = "run `llbridge dialpad connect` (it creates the webhook and the subscriptions, and adds missing call states)";
    let lists =
        async { Ok::<_, crate::Error>((api.webhooks().await?, api.call_subscriptions().await?)) };
    let (hooks, subs) = match lists.await {
        Ok(l) => l,
        Err(e) => {
            return Check::warn(
                SCOPE,
                CHECK,
                format!("the webhooks and subscriptions could not be listed: {e}"),
                "use a company-admin API key, or check the subscriptions in Dialpad by hand",
            )
        }
    };
    let mut problems = Vec::new();
    let mut covered = 0;
    for (scope, c) in crate::connect::coverage(inst, &hooks, &subs, None) {
        match c {
            crate::connect::Coverage::Covered => covered += 1,
            crate::connect::Coverage::Missing => problems.push(format!(
                "{scope}: no enabled call-event subscription on the webhook (…/dialpad/events)"
            )),
            crate::connect::Coverage::Lacking(states) => problems.push(format!(
                "{scope}: the subscription lacks {}",
                states.into_iter().collect::<Vec<_>>().join(", ")
            )),
        }
    }
    let texts = crate::connect::wanted_texts(inst);
    if !texts.is_empty() {
        match api.sms_subscriptions().await {
            Ok(sms) => {
                for (scope, c) in crate::connect::coverage_of(&texts, &hooks, &sms, None) {
                    if c != crate::connect::Coverage::Covered {
                        problems.push(format!(
                            "{scope}: no enabled SMS subscription on the webhook (its texts are logged)"
                        ));
                    }
                }
            }
            Err(e) => problems.push(format!("the SMS subscriptions could not be listed: {e}")),
        }
    }
    if problems.is_empty() {
        Check::pass(
            SCOPE,
            CHECK,
            format!("{covered} scope(s) subscribed with every call state they need"),
        )
    } else {
        Check::fail(SCOPE, CHECK, problems.join("; "), FIX)
    }
}
