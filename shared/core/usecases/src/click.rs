//! Click to call: a CRM asks for a call from an agent (by e-mail) to a number; Dialpad rings
//! the agent, then dials the number (`POST /api/v2/call`).
//!
//! * The agent's Dialpad user is found by e-mail, and kept [`USER_TTL`] in this process (an
//!   e-mail Dialpad does not know, [`NO_USER_TTL`]): the same lookup serves every click.
//! * A click sent again (the CRM did not hear back) starts no second call: the same agent and
//!   number within [`REPEAT_WINDOW`] take one claim, and the repeat answers the first call's
//!   id. Two clicks at once: the second waits for the first's answer.
//! * A start whose answer is lost may be ringing: it is never sent again within the window;
//!   the click and its repeats answer `dialpad_outcome_unknown`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use llbridge_domain::phone::Phone;
use serde_json::{json, Value};

use crate::claim::{self, Claim};
use crate::error::Error;
use crate::ports::{Clock, Dialpad, DialpadUser, Records, StartCall};
use crate::{telemetry, NOT_SENT};

/// How long a user found by e-mail is kept.
pub const USER_TTL: Duration = Duration::from_secs(600);
/// How long an e-mail Dialpad does not know is remembered as such.
pub const NO_USER_TTL: Duration = Duration::from_secs(60);
/// Clicks of the same agent and number within this window start one call.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(60);
/// How long a click waits for another one of the same agent and number being started.
const WAIT_FOR_OTHER: Duration = Duration::from_secs(8);
/// The claim's lease: longer than a start can take.
const LEASE: Duration = Duration::from_secs(30);

/// Dialpad users by e-mail, kept in the process.
#[derive(Default)]
pub struct Users {
    found: Mutex<HashMap<String, (i64, Option<DialpadUser>)>>,
}

impl Users {
    /// The user whose e-mail this is (without case), from the cache while fresh.
    pub async fn by_email(
        &self,
        dialpad: &dyn Dialpad,
        clock: &dyn Clock,
        email: &str,
    ) -> crate::Result<Option<DialpadUser>> {
        let key = email.trim().to_lowercase();
        let now = clock.now_ms();
        if let Some((until, user)) = self.lock().get(&key) {
            if *until > now {
                return Ok(user.clone());
            }
        }
        let user = dialpad.find_user(&key).await?;
        let ttl = if user.is_some() {
            USER_TTL
        } else {
            NO_USER_TTL
        };
        self.lock()
            .insert(key, (now + ttl.as_millis() as i64, user.clone()));
        Ok(user)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, Option<DialpadUser>)>> {
        self.found.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A click to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub agent_email: String,
    pub number: Phone,
    /// The group the call is placed for (`group_id`, `group_type`).
    pub group: Option<(String, String)>,
    /// The number the callee sees.
    pub caller_id: Option<Phone>,
    /// Passed through to the call's events.
    pub custom_data: Option<String>,
}

/// A call started (or started before, for a repeat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub call_id: String,
    pub user_id: String,
    /// The click repeated one answered within the window: no new call.
    pub repeated: bool,
}

/// Why no call was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No Dialpad user has the agent's e-mail.
    NoDialpadUser,
    /// Dialpad's limit of calls per minute per user.
    RateLimited,
    /// Dialpad (or the store) could not be reached: nothing was started.
    Unavailable(String),
    /// Dialpad refused the call (its message).
    Rejected(String),
    /// The start's answer was lost: the agent's phone may be ringing.
    OutcomeUnknown,
    /// The same click is being started by another request right now.
    InProgress,
}

impl Refused {
    /// The reason code of the answer and the log line.
    pub fn code(&self) -> &'static str {
        match self {
            Refused::NoDialpadUser => "no_dialpad_user",
            Refused::RateLimited => "dialpad_rate_limited",
            Refused::Unavailable(_) => "dialpad_unavailable",
            Refused::Rejected(_) => "dialpad_rejected",
            Refused::OutcomeUnknown => "dialpad_outcome_unknown",
            Refused::InProgress => "click_in_progress",
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            Refused::NoDialpadUser => 404,
            Refused::RateLimited => 429,
            Refused::Unavailable(_) => 503,
            Refused::Rejected(_) => 422,
            Refused::OutcomeUnknown => 504,
            Refused::InProgress => 409,
        }
    }

    /// What happened, in words.
    pub fn detail(&self) -> String {
        match self {
            Refused::NoDialpadUser => {
                "no Dialpad user has this agent's e-mail: use the agent's Dialpad e-mail in LeadSquared".into()
            }
            Refused::RateLimited => "Dialpad allows 5 calls per minute per user: try again in a minute".into(),
            Refused::Unavailable(m) => format!("Dialpad could not be reached; no call was started ({m})"),
            Refused::Rejected(m) => format!("Dialpad refused the call: {m}"),
            Refused::OutcomeUnknown => "Dialpad did not answer: the agent's phone may be ringing; the call is not started again for a minute".into(),
            Refused::InProgress => "the same call is being started: try again in a few seconds".into(),
        }
    }
}

/// Starts calls for clicks, once per agent and number within [`REPEAT_WINDOW`].
pub struct Dialer {
    /// Shared with the router in one process: one lookup per e-mail.
    pub users: std::sync::Arc<Users>,
}

impl Default for Dialer {
    fn default() -> Self {
        Dialer::new()
    }
}

impl Dialer {
    pub fn new() -> Dialer {
        Dialer::with_users(std::sync::Arc::new(Users::default()))
    }

    pub fn with_users(users: std::sync::Arc<Users>) -> Dialer {
        Dialer { users }
    }

    pub async fn start(
        &self,
        dialpad: &dyn Dialpad,
        records: Records<'_>,
        click: &Click,
    ) -> Result<Started, Refused> {
        let unavailable = |e: Error| Refused::Unavailable(e.to_string());
        let user = self
            .users
            .by_email(dialpad, records.clock, &click.agent_email)
            .await
            .map_err(unavailable)?
            .ok_or(Refused::NoDialpadUser)?;
        let key = crate::keys::click(&user.id, click.number.e164());
        let deadline = records.clock.now_ms() + WAIT_FOR_OTHER.as_millis() as i64;
        let held = loop {
            match claim::acquire(records, &key, LEASE)
                .await
                .map_err(unavailable)?
            {
                Claim::Done(outcome) => return repeat(&outcome, &user.id),
                Claim::Busy if records.clock.now_ms() >= deadline => {
                    return Err(Refused::InProgress)
                }
                Claim::Busy => tokio::time::sleep(Duration::from_millis(150)).await,
                Claim::Acquired(held) => break held,
            }
        };
        let keep = REPEAT_WINDOW.as_secs() as i64;
        if held.pending_intent().is_some() {
            // An earlier attempt stopped between sending and recording: it may be ringing.
            held.complete_for(records, json!({"unknown": true}), keep)
                .await
                .map_err(unavailable)?;
            return Err(Refused::OutcomeUnknown);
        }
        let mut held = held;
        held.intend(
            records,
            json!({"user_id": user.id, "number": click.number.e164()}),
        )
        .await
        .map_err(unavailable)?;
        let call = StartCall {
            user_id: user.id.clone(),
            phone_number: click.number.e164().to_owned(),
            group: click.group.clone(),
            outbound_caller_id: click.caller_id.as_ref().map(|p| p.e164().to_owned()),
            custom_data: click.custom_data.clone(),
        };
        match dialpad.start_call(&call).await {
            Ok(call_id) => {
                // The call is ringing whatever the store says: a record that cannot be written
                // leaves the intent, and a repeat within the lease finds the claim busy, after
                // it the intent (answered as an unknown outcome), never a second start.
                if let Err(e) = held
                    .complete_for(records, json!({"call_id": call_id}), keep)
                    .await
                {
                    tracing::warn!(job = "click_to_call", call_id = %call_id, error = %e,
                        "click to call: the call started, and could not be recorded");
                }
                Ok(Started {
                    call_id,
                    user_id: user.id,
                    repeated: false,
                })
            }
            Err(e) if e.is_unknown_outcome() => {
                telemetry::unknown_outcome();
                // May be ringing: never "unavailable", even when the store fails too (the intent
                // it keeps answers a repeat the same way).
                if let Err(e) = held
                    .complete_for(records, json!({"unknown": true}), keep)
                    .await
                {
                    tracing::warn!(job = "click_to_call", error = %e,
                        "click to call: an unknown outcome could not be recorded");
                }
                Err(Refused::OutcomeUnknown)
            }
            Err(e) => {
                let refused = match e.code {
                    Some("dialpad_rate_limited") => Refused::RateLimited,
                    Some(NOT_SENT) => Refused::Unavailable(e.to_string()),
                    _ if e.is_transient() => Refused::Unavailable(e.to_string()),
                    _ => Refused::Rejected(e.message.clone()),
                };
                held.release(records, false, refused.code())
                    .await
                    .map_err(unavailable)?;
                Err(refused)
            }
        }
    }
}

/// The answer to a click repeated within the window.
fn repeat(outcome: &Value, user_id: &str) -> Result<Started, Refused> {
    match outcome.get("call_id").and_then(Value::as_str) {
        Some(call_id) => Ok(Started {
            call_id: call_id.to_owned(),
            user_id: user_id.to_owned(),
            repeated: true,
        }),
        None => Err(Refused::OutcomeUnknown),
    }
}
