//! Call routing while the phone rings: Dialpad posts each inbound call on a router's numbers
//! to `/dialpad/route/<name>`, signed with the router's secret, and the answer says where the
//! call goes.
//!
//! * LineLeader: the caller's family (the call log's matching rules; no family is created) →
//!   its center → the target mapped to that center; with `prefer_last_agent`, the agent of the
//!   family's last answered call, when Dialpad says that user is available.
//! * LeadSquared: the lead's owner (the Call Route URL) → the Dialpad user with that e-mail.
//! * Always an answer: anything unknown, ambiguous, unmapped, failing or late (past
//!   `deadline_ms` from receipt) is the entry's fallback; only an unreadable config is a 5xx
//!   (Dialpad disables a router after more than 10 errors in an hour).
//!
//! A caller's owner is kept [`OWNER_TTL`] in the process, so a repeat caller costs the CRM no
//! request; the Dialpad users come from the same cache as click to call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use llbridge_dialpad_webhook::webhook;
use llbridge_domain::config::{RouteEntry, Target};
use llbridge_domain::phone::{mask, Phone};
use llbridge_domain::{lenient, Installation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::click::Users;
use crate::crm::{Clients, Owner};
use crate::ingest::Response;
use crate::ports::{Clock, ConfigSource, Secrets, Store};

/// How long a caller's owner is kept in the process.
pub const OWNER_TTL: Duration = Duration::from_secs(300);
/// Kept at most this many callers' owners (the oldest go first).
const MAX_OWNERS: usize = 20_000;
/// How long the note of a routing is kept.
const ROUTE_NOTE_TTL_SECS: i64 = 7 * 24 * 3600;

/// Why a call went where it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteReason {
    FamilyCenter,
    LastAgent,
    LeadOwner,
    UnknownCaller,
    FamilyAmbiguous,
    NoMapping,
    CrmUnavailable,
    Deadline,
    NoDialpadUser,
    SecretUnavailable,
}

impl RouteReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            RouteReason::FamilyCenter => "family_center",
            RouteReason::LastAgent => "last_agent",
            RouteReason::LeadOwner => "lead_owner",
            RouteReason::UnknownCaller => "unknown_caller",
            RouteReason::FamilyAmbiguous => "family_ambiguous",
            RouteReason::NoMapping => "no_mapping",
            RouteReason::CrmUnavailable => "crm_unavailable",
            RouteReason::Deadline => "deadline",
            RouteReason::NoDialpadUser => "no_dialpad_user",
            RouteReason::SecretUnavailable => "secret_unavailable",
        }
    }

    /// Whether the call went to a target of its own (else: the fallback).
    pub fn routed(&self) -> bool {
        matches!(
            self,
            RouteReason::FamilyCenter | RouteReason::LastAgent | RouteReason::LeadOwner
        )
    }
}

/// Where a call went and why: the answer, the decision line and the ledger's note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Routed {
    pub router: String,
    pub call_id: String,
    pub target_type: String,
    pub target_id: String,
    pub reason: RouteReason,
    /// What was known: the family and its center, the agent, the owner.
    pub detail: String,
    pub contact: Option<String>,
    pub group: Option<String>,
    pub at_ms: i64,
    pub route_ms: u64,
}

impl Routed {
    /// The decision in words, for `trace`.
    pub fn describe(&self) -> String {
        let kind = match self.target_type.as_str() {
            "callcenter" => "call center",
            "user" => "Dialpad user",
            "callrouter" => "router",
            other => other,
        };
        let target = format!("{kind} {}", self.target_id);
        match self.reason {
            RouteReason::FamilyCenter => format!(
                "routed to {}'s {target} (family {}'s center)",
                self.group.as_deref().unwrap_or("its center"),
                self.contact.as_deref().unwrap_or("?")
            ),
            RouteReason::LastAgent => format!(
                "routed to {target} (family {}'s last agent)",
                self.contact.as_deref().unwrap_or("?")
            ),
            RouteReason::LeadOwner => format!("routed to {target} (the lead's owner)"),
            other => format!("fallback {target} ({}: {})", other.as_str(), self.detail),
        }
    }
}

/// The router use case. Build once and share: its caches live as long as the process.
pub struct Router {
    pub config: Arc<dyn ConfigSource>,
    pub secrets: Arc<dyn Secrets>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub clients: Arc<dyn Clients>,
    pub users: Arc<Users>,
    owners: Mutex<HashMap<(String, String), (i64, Owner)>>,
}

/// What the request said: the call and the caller.
struct Call {
    id: String,
    caller: Option<Phone>,
}

fn read_call(payload: &[u8]) -> Option<Call> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    let o = v.as_object()?;
    let id = lenient::id(o.get("call_id")).unwrap_or_default();
    let caller = lenient::string(o.get("external_number"))
        .or_else(|| {
            o.get("contact")
                .and_then(|c| c.get("phone"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .and_then(|n| Phone::parse(&n));
    Some(Call { id, caller })
}

impl Router {
    pub fn new(
        config: Arc<dyn ConfigSource>,
        secrets: Arc<dyn Secrets>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        clients: Arc<dyn Clients>,
        users: Arc<Users>,
    ) -> Router {
        Router {
            config,
            secrets,
            store,
            clock,
            clients,
            users,
            owners: Mutex::new(HashMap::new()),
        }
    }

    /// Answers one routing request of the router `name`.
    pub async fn handle(&self, name: &str, method: &str, body: &[u8]) -> Response {
        let received = Instant::now();
        if !method.eq_ignore_ascii_case("POST") {
            return Response {
                status: 405,
                body: json!({"status": "rejected", "reason": "method_not_allowed"}),
            };
        }
        let inst = match self.config.installation().await {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(job = "route", decision = "error", reason = "config_unavailable", error = %e,
                    "router: config unavailable");
                crate::telemetry::job("route", "error", "config_unavailable");
                return Response {
                    status: 503,
                    body: json!({"status": "error", "reason": "config_unavailable"}),
                };
            }
        };
        let Some(entry) = inst.routing.get(name) else {
            tracing::warn!(
                job = "route",
                decision = "rejected",
                reason = "unknown_router",
                router = name,
                "router: no routing entry of this name"
            );
            return Response {
                status: 404,
                body: json!({"status": "rejected", "reason": "unknown_router"}),
            };
        };
        let deadline = Duration::from_millis(entry.deadline_ms);
        let secret = match self.secrets.get(&entry.secret).await {
            Ok(s) => s,
            Err(e) => {
                // Our fault, not the call's: the caller still reaches someone.
                tracing::error!(job = "route", router = name, error = %e, "router: the secret could not be read");
                let routed = self.fallback(
                    name,
                    entry,
                    "",
                    RouteReason::SecretUnavailable,
                    "the router's secret could not be read",
                    received,
                );
                return self.answer(routed, None).await;
            }
        };
        let payload = match webhook::verify(body, &[secret.expose().as_bytes()], false) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(
                    job = "route",
                    decision = "rejected",
                    reason = e.code(),
                    router = name,
                    "router: request refused"
                );
                crate::telemetry::job("route", "rejected", e.code());
                return Response {
                    status: 401,
                    body: json!({"status": "rejected", "reason": e.code()}),
                };
            }
        };
        let call = read_call(payload.json()).unwrap_or(Call {
            id: String::new(),
            caller: None,
        });
        let Some(caller) = call.caller.clone() else {
            let routed = self.fallback(
                name,
                entry,
                &call.id,
                RouteReason::UnknownCaller,
                "the request has no caller's number",
                received,
            );
            return self.answer(routed, None).await;
        };
        let left = deadline.saturating_sub(received.elapsed());
        let routed = match tokio::time::timeout(
            left,
            self.decide(&inst, name, entry, &call.id, &caller, received),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => self.fallback(
                name,
                entry,
                &call.id,
                RouteReason::Deadline,
                &format!("no decision within {} ms", entry.deadline_ms),
                received,
            ),
        };
        self.answer(routed, Some(&caller)).await
    }

    fn fallback(
        &self,
        name: &str,
        entry: &RouteEntry,
        call_id: &str,
        reason: RouteReason,
        detail: &str,
        received: Instant,
    ) -> Routed {
        self.routed(name, call_id, &entry.fallback, reason, detail, received)
    }

    fn routed(
        &self,
        name: &str,
        call_id: &str,
        target: &Target,
        reason: RouteReason,
        detail: &str,
        received: Instant,
    ) -> Routed {
        Routed {
            router: name.to_owned(),
            call_id: call_id.to_owned(),
            target_type: target.target_type.clone(),
            target_id: target.target_id.clone(),
            reason,
            detail: detail.to_owned(),
            contact: None,
            group: None,
            at_ms: self.clock.now_ms(),
            route_ms: received.elapsed().as_millis() as u64,
        }
    }

    /// The caller's owner, from the cache while fresh.
    async fn owner(
        &self,
        inst: &Installation,
        name: &str,
        entry: &RouteEntry,
        caller: &Phone,
    ) -> crate::Result<Owner> {
        let key = (name.to_owned(), caller.e164().to_owned());
        let now = self.clock.now_ms();
        if let Some((until, owner)) = self.lock_owners().get(&key) {
            if *until > now {
                return Ok(owner.clone());
            }
        }
        let enablement = inst
            .enablements
            .iter()
            .find(|e| e.connection == entry.connection)
            .ok_or_else(|| {
                crate::Error::permanent("config", "no enablement uses the router's connection")
            })?;
        let crm = self.clients.crm(inst, enablement).await?;
        let owner = crm.owner(caller, enablement, now).await?;
        let mut owners = self.lock_owners();
        if owners.len() >= MAX_OWNERS {
            owners.retain(|_, (until, _)| *until > now);
            if owners.len() >= MAX_OWNERS {
                owners.clear();
            }
        }
        owners.insert(key, (now + OWNER_TTL.as_millis() as i64, owner.clone()));
        Ok(owner)
    }

    fn lock_owners(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), (i64, Owner)>> {
        self.owners.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn decide(
        &self,
        inst: &Installation,
        name: &str,
        entry: &RouteEntry,
        call_id: &str,
        caller: &Phone,
        received: Instant,
    ) -> Routed {
        let fallback =
            |reason, detail: &str| self.fallback(name, entry, call_id, reason, detail, received);
        let owner = match self.owner(inst, name, entry, caller).await {
            Ok(o) => o,
            Err(e) => return fallback(RouteReason::CrmUnavailable, &e.to_string()),
        };
        match owner {
            Owner::Unknown => fallback(RouteReason::UnknownCaller, "nobody has this number"),
            Owner::Ambiguous { candidates } => fallback(
                RouteReason::FamilyAmbiguous,
                &format!(
                    "several families have this number: {}",
                    candidates.join(", ")
                ),
            ),
            Owner::Person { email } => {
                let dialpad = match self.clients.dialpad(inst).await {
                    Ok(d) => d,
                    Err(e) => return fallback(RouteReason::NoDialpadUser, &e.to_string()),
                };
                match self
                    .users
                    .by_email(dialpad.as_ref(), self.clock.as_ref(), &email)
                    .await
                {
                    Ok(Some(user)) => self.routed(
                        name,
                        call_id,
                        &Target::user(&user.id),
                        RouteReason::LeadOwner,
                        &format!("the lead's owner {email}"),
                        received,
                    ),
                    Ok(None) => fallback(
                        RouteReason::NoDialpadUser,
                        &format!("no Dialpad user has the owner's e-mail {email}"),
                    ),
                    Err(e) => fallback(RouteReason::NoDialpadUser, &e.to_string()),
                }
            }
            Owner::Contact { id, group } => {
                let with = |mut r: Routed| {
                    r.contact = Some(id.clone());
                    r.group = group.clone();
                    r
                };
                if entry.prefer_last_agent {
                    if let Some(r) = self
                        .last_agent(inst, name, entry, call_id, &id, received)
                        .await
                    {
                        return with(r);
                    }
                }
                match group.as_deref().and_then(|g| entry.center(g)) {
                    Some((center, target)) => with(self.routed(
                        name,
                        call_id,
                        target,
                        RouteReason::FamilyCenter,
                        &format!("family {id} of {center}"),
                        received,
                    )),
                    None => with(fallback(
                        RouteReason::NoMapping,
                        &format!(
                            "family {id}'s center {} has no target in the router's centers",
                            group.as_deref().unwrap_or("(none)")
                        ),
                    )),
                }
            }
        }
    }

    /// The agent of the family's last answered call, when recent and available.
    async fn last_agent(
        &self,
        inst: &Installation,
        name: &str,
        entry: &RouteEntry,
        call_id: &str,
        contact: &str,
        received: Instant,
    ) -> Option<Routed> {
        let last = crate::ledger::last_agent(self.store.as_ref(), &entry.connection, contact)
            .await
            .ok()??;
        let oldest = self.clock.now_ms() - entry.last_agent_days as i64 * 24 * 3_600_000;
        if last.at_ms < oldest {
            return None;
        }
        let dialpad = self.clients.dialpad(inst).await.ok()?;
        let user = dialpad.user(&last.user_id).await.ok()??;
        if user.available == Some(false) {
            return None;
        }
        Some(self.routed(
            name,
            call_id,
            &Target::user(&user.id),
            RouteReason::LastAgent,
            &format!("the agent of family {contact}'s call {}", last.call_id),
            received,
        ))
    }

    /// The answer, its decision line, its metrics and the ledger's note.
    async fn answer(&self, routed: Routed, caller: Option<&Phone>) -> Response {
        let decision = if routed.reason.routed() {
            "routed"
        } else {
            "fallback"
        };
        if !routed.call_id.is_empty() {
            let note = serde_json::to_string(&routed).unwrap_or_default();
            let expires = Some(self.clock.now_secs() + ROUTE_NOTE_TTL_SECS);
            let key = crate::keys::route(&routed.call_id);
            let put = self
                .store
                .put(&key, &note, expires, crate::ports::Condition::Any);
            // The note must not hold the answer up.
            match tokio::time::timeout(Duration::from_millis(300), put).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "router: could not note the routing"),
                Err(_) => tracing::warn!("router: noting the routing took too long; skipped"),
            }
        }
        crate::telemetry::job("route", decision, routed.reason.as_str());
        crate::telemetry::route_ms(routed.route_ms);
        tracing::info!(
            job = "route",
            decision,
            reason = routed.reason.as_str(),
            router = %routed.router,
            call_id = %routed.call_id,
            caller = %caller.map(|c| mask(c.e164())).unwrap_or_default(),
            target_type = %routed.target_type,
            target_id = %routed.target_id,
            contact = routed.contact.as_deref().unwrap_or_default(),
            group = routed.group.as_deref().unwrap_or_default(),
            route_ms = routed.route_ms,
            detail = %routed.detail,
            "router decision"
        );
        Response {
            status: 200,
            body: json!({"action": "route", "target_type": routed.target_type,
                "target_id": routed.target_id}),
        }
    }
}

/// The routing noted for a call, if a router answered for it.
pub async fn noted(store: &dyn Store, call_id: &str) -> crate::Result<Option<Routed>> {
    Ok(store
        .get(&crate::keys::route(call_id))
        .await?
        .and_then(|i| serde_json::from_str(&i.value).ok()))
}
