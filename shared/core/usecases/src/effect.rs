//! External effects done exactly once, or reported: every LineLeader write is an intent in
//! the store before it is a request.
//!
//! [`Effects::run`] takes the effect's claim, and then either
//! * finds it done and returns what was recorded;
//! * finds the intent of an earlier attempt that never recorded its result (a lost answer, a
//!   crash): looks the effect up in LineLeader first, and writes only when it is not there
//!   (when the tenant cannot answer, the enablement's `unknown_outcome` policy decides);
//! * or plans the effect, records the intent, writes, and records the result with
//!   LineLeader's id.
//!
//! A write is never started when the job's deadline is too close for it to finish, and a write
//! whose answer is lost leaves its intent for the next attempt to resolve.

use std::future::Future;
use std::time::Duration;

use llbridge_domain::config::UnknownOutcomePolicy;
use serde_json::{json, Value};

use crate::claim::{self, Claim, Held};
use crate::error::{Error, ErrorKind, Result, NOT_SENT};
use crate::ports::{Clock, Condition, Records, Store};

/// The time limits of jobs, and the leases that must outlast them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The most one job may take (locally; on AWS the Lambda's remaining time less a margin).
    pub job_budget: Duration,
    /// The most one LineLeader or Dialpad request may take, retries included: a write is not
    /// started with less time than this left.
    pub write_budget: Duration,
    /// How long a claim's lease lasts: longer than any job, so a live job never loses it.
    pub lease: Duration,
}

impl Default for Timing {
    /// Jobs of at most 50 s, writes of at most 20 s, leases of 120 s: for the worker Lambda's
    /// 60 s timeout.
    fn default() -> Self {
        Timing::for_job_budget(Duration::from_secs(50))
    }
}

impl Timing {
    /// Writes get two fifths of the budget (20 s at most), leases 2.4 times the budget.
    pub fn for_job_budget(job_budget: Duration) -> Timing {
        Timing {
            job_budget,
            write_budget: (job_budget * 2 / 5).min(Duration::from_secs(20)),
            lease: job_budget * 12 / 5,
        }
    }
}

/// What a plan decided before any write.
pub enum Plan {
    /// Nothing to write, for good; record this outcome (a skip with its reason).
    Skip(Value),
    /// Nothing to write yet, for want of a detail that may still come (a disposition): this
    /// outcome is returned, and the claim stays open, so that whichever attempt first has the
    /// detail plans again and writes, once.
    Later(Value),
    /// Write this intent: everything the write needs, ids included.
    Write(Value),
}

/// What the lookup of an earlier attempt's write found.
pub enum Found {
    /// It is there: record this outcome.
    Yes(Value),
    /// It is not there: write it.
    No,
    /// The tenant cannot tell (the lookup endpoint is missing); why.
    Unanswerable(String),
    /// It is not there, and no longer to be written (what it was conditional on no longer
    /// holds): record this outcome as a skip.
    Moot(Value),
}

/// How an effect came to its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Written now.
    Written,
    /// An earlier attempt's write was found by the lookup; not written again.
    FoundOnLookup,
    /// Written again although an earlier attempt may have written: the tenant could not say.
    PossibleDuplicate,
    /// Recorded by an earlier job.
    AlreadyDone,
    /// Nothing to write.
    Skipped,
    /// An earlier attempt's outcome is unknown and the policy is `hold`: not written again.
    NeedsReview,
    /// LineLeader refused the write (a 4xx): recorded, never retried.
    Rejected,
}

impl How {
    pub fn as_str(&self) -> &'static str {
        match self {
            How::Written => "written",
            How::FoundOnLookup => "found_on_lookup",
            How::PossibleDuplicate => "possible_duplicate",
            How::AlreadyDone => "already_done",
            How::Skipped => "skipped",
            How::NeedsReview => "needs_review",
            How::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Option<How> {
        [
            How::Written,
            How::FoundOnLookup,
            How::PossibleDuplicate,
            How::Skipped,
            How::NeedsReview,
            How::Rejected,
        ]
        .into_iter()
        .find(|h| h.as_str() == s)
    }
}

/// An effect's recorded outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    /// What was recorded (LineLeader's ids, or the skip or refusal), with `how`.
    pub outcome: Value,
    pub how: How,
}

impl Ran {
    /// How the effect was first settled: for [`How::AlreadyDone`], what the earlier job
    /// recorded.
    pub fn first_how(&self) -> How {
        match self.how {
            How::AlreadyDone => self
                .outcome
                .get("how")
                .and_then(Value::as_str)
                .and_then(How::parse)
                .unwrap_or(How::Written),
            h => h,
        }
    }
}

/// One job's effects: its store, clock and deadline.
pub struct Effects<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    /// Epoch ms after which the job must not be running.
    pub deadline_ms: i64,
    pub timing: Timing,
    /// Which delivery of its message the job is: 1 the first.
    pub delivery: u32,
}

/// The reason code of a write not started because the job's deadline was too close.
pub const DEADLINE_NEAR: &str = "deadline_near";

/// One named step of a conversation's effects (`fx.step(anchor, "phone_log")`), done once:
/// the use case keeps its claim's key, how long its record is kept, and what an unknown outcome
/// leads to (`retry` unless [`Step::when_unknown`] says otherwise).
pub struct Step<'s, 'a> {
    fx: &'s Effects<'a>,
    key: String,
    policy: UnknownOutcomePolicy,
}

impl Step<'_, '_> {
    /// The outcome recorded when the step is done; `None` while it is not.
    pub async fn recorded(&self) -> Result<Option<Value>> {
        Ok(claim::view(self.fx.store, &self.key)
            .await?
            .filter(|v| v.status == "done")
            .and_then(|v| v.outcome))
    }

    /// What to do when an earlier attempt's write cannot be looked up.
    pub fn when_unknown(mut self, policy: UnknownOutcomePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Runs the step: `plan` when no earlier attempt left an intent, `lookup` when one did,
    /// `write` at most once with the intent (see [`Effects::run`]).
    pub async fn run<P, PF, L, LF, W, WF>(self, plan: P, lookup: L, write: W) -> Result<Ran>
    where
        P: FnOnce() -> PF,
        PF: Future<Output = Result<Plan>>,
        L: FnOnce(Value) -> LF,
        LF: Future<Output = Result<Found>>,
        W: FnOnce(Value) -> WF,
        WF: Future<Output = Result<Value>>,
    {
        self.fx
            .run(
                &self.key,
                self.policy,
                claim::DONE_TTL_SECS,
                plan,
                lookup,
                write,
            )
            .await
    }
}

/// A thing made once across conversations (a CRM's contact for a caller's number):
/// `fx.once("family", e164)`. The use case keeps its claim: another job making it is waited
/// for, a record of it is kept for [`Once::kept_for`] once done, and an answer lost while
/// making it leaves the intent for the next attempt, whose plan is told so.
pub struct Once<'s, 'a> {
    fx: &'s Effects<'a>,
    key: String,
    keep_secs: i64,
    wait: Duration,
}

/// What a plan of a [`Once`] decided: the thing exists (record this outcome), cannot be made
/// now (release the claim; this outcome says why), or is to be made with this intent.
pub enum OncePlan {
    Exists(Value),
    NotNow(Value),
    Make(Value),
}

/// What became of a [`Once`]: done (by this job, found, or by another job: its recorded
/// outcome), or not now (the plan's why).
#[derive(Debug, Clone, PartialEq)]
pub enum Made {
    Done { outcome: Value, by_other_job: bool },
    NotNow(Value),
}

impl Once<'_, '_> {
    /// How long the record of the thing made is kept (a day by default).
    pub fn kept_for(mut self, keep: Duration) -> Self {
        self.keep_secs = keep.as_secs() as i64;
        self
    }

    /// How long a job waits for another that is making the thing (10 s by default).
    pub fn waiting(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// `plan(resumed)` runs under the claim (`resumed`: an earlier attempt's answer was lost
    /// after it recorded its intent); `make` at most once, with the intent. A refused make is
    /// not recorded: a later attempt plans again.
    pub async fn run<P, PF, W, WF>(self, plan: P, make: W) -> Result<Made>
    where
        P: FnOnce(bool) -> PF,
        PF: Future<Output = Result<OncePlan>>,
        W: FnOnce(Value) -> WF,
        WF: Future<Output = Result<Value>>,
    {
        let fx = self.fx;
        let deadline = fx.clock.now_ms() + self.wait.as_millis() as i64;
        let mut held = loop {
            match fx.acquire(&self.key).await? {
                Claim::Done(outcome) => {
                    return Ok(Made::Done {
                        outcome,
                        by_other_job: true,
                    })
                }
                Claim::Busy if fx.clock.now_ms() >= deadline => {
                    return Err(Error::transient(
                        "worker",
                        format!("{}: another job is still making it", self.key),
                    )
                    .with_code("in_progress"))
                }
                Claim::Busy => tokio::time::sleep(Duration::from_millis(200)).await,
                Claim::Acquired(held) => break held,
            }
        };
        let records = fx.records();
        let resumed = held.pending_intent().is_some();
        let intent = match plan(resumed).await {
            Err(e) => {
                held.release(records, resumed, &e.to_string()).await?;
                return Err(e);
            }
            Ok(OncePlan::Exists(outcome)) => {
                held.complete_for(records, outcome.clone(), self.keep_secs)
                    .await?;
                return Ok(Made::Done {
                    outcome,
                    by_other_job: false,
                });
            }
            Ok(OncePlan::NotNow(why)) => {
                let note = why.as_str().unwrap_or("not now").to_owned();
                held.release(records, false, &note).await?;
                return Ok(Made::NotNow(why));
            }
            Ok(OncePlan::Make(intent)) => intent,
        };
        if let Err(e) = fx.time_for_a_write() {
            held.release(records, resumed, &e.to_string()).await?;
            return Err(e);
        }
        held.intend(records, intent.clone()).await?;
        match make(intent).await {
            Ok(outcome) => {
                held.complete_for(records, outcome.clone(), self.keep_secs)
                    .await?;
                Ok(Made::Done {
                    outcome,
                    by_other_job: false,
                })
            }
            Err(e) => {
                // Refused: nothing was made. Lost answer: the next attempt's plan looks first.
                let keep = e.is_transient() && e.code != Some(NOT_SENT);
                if e.is_unknown_outcome() {
                    crate::telemetry::unknown_outcome();
                }
                held.release(records, keep, &e.to_string()).await?;
                Err(e)
            }
        }
    }
}

impl<'a> Effects<'a> {
    /// Making `what` for `id` once across jobs (`fx.once("family", e164)`).
    pub fn once<'s>(&'s self, what: &str, id: &str) -> Once<'s, 'a> {
        Once {
            fx: self,
            key: crate::keys::once(what, id),
            keep_secs: 24 * 3600,
            wait: Duration::from_secs(10),
        }
    }

    /// The contact a conversation's log is written on, pinned before its first write (kept
    /// as long as the ledger), if any.
    pub async fn pinned_contact(&self, anchor: &str) -> Result<Option<Value>> {
        match self.store.get(&crate::keys::contact_pin(anchor)).await? {
            None => Ok(None),
            Some(item) => serde_json::from_str(&item.value)
                .map(Some)
                .map_err(|e| Error::permanent("store", format!("contact pin of {anchor}: {e}"))),
        }
    }

    /// Pins `contact` as the conversation's, unless one is pinned already: the first pin wins
    /// and is returned.
    pub async fn pin_contact(&self, anchor: &str, contact: &Value) -> Result<Value> {
        let key = crate::keys::contact_pin(anchor);
        let expires = Some(self.clock.now_secs() + claim::DONE_TTL_SECS);
        let written = self
            .store
            .put(&key, &contact.to_string(), expires, Condition::Absent)
            .await?;
        if written.is_some() {
            return Ok(contact.clone());
        }
        Ok(self
            .pinned_contact(anchor)
            .await?
            .unwrap_or_else(|| contact.clone()))
    }

    /// Remembers `contact` as the one every leg of `legs` was popped on, for `keep`.
    pub async fn remember_contact(
        &self,
        legs: &[String],
        contact: &str,
        keep: Duration,
    ) -> Result<()> {
        let expires = Some(self.clock.now_secs() + keep.as_secs() as i64);
        for leg in legs {
            self.store
                .put(
                    &crate::keys::contact_of_leg(leg),
                    contact,
                    expires,
                    Condition::Absent,
                )
                .await?;
        }
        Ok(())
    }

    /// The contact a leg of `legs` was popped on, if any.
    pub async fn remembered_contact(&self, legs: &[String]) -> Result<Option<String>> {
        for leg in legs {
            if let Some(item) = self.store.get(&crate::keys::contact_of_leg(leg)).await? {
                return Ok(Some(item.value));
            }
        }
        Ok(None)
    }

    /// The step `name` of the conversation whose stable key is `anchor`.
    pub fn step<'s>(&'s self, anchor: &str, name: &str) -> Step<'s, 'a> {
        Step {
            fx: self,
            key: crate::keys::step(anchor, name),
            policy: UnknownOutcomePolicy::Retry,
        }
    }

    /// The job's store and clock, as one.
    pub fn records(&self) -> Records<'a> {
        Records {
            store: self.store,
            clock: self.clock,
        }
    }

    /// Fails (transient, `deadline_near`) when a write started now might not finish before
    /// the job's deadline.
    pub fn time_for_a_write(&self) -> Result<()> {
        let left = self.deadline_ms - self.clock.now_ms();
        if left < self.timing.write_budget.as_millis() as i64 {
            return Err(Error::transient(
                "worker",
                format!(
                    "{left} ms left before the job's deadline: not enough to start a write (it may take {} ms)",
                    self.timing.write_budget.as_millis()
                ),
            )
            .with_code(DEADLINE_NEAR));
        }
        Ok(())
    }

    /// Takes the claim `key` with this job's lease.
    pub async fn acquire(&self, key: &str) -> Result<Claim> {
        claim::acquire(self.records(), key, self.timing.lease).await
    }

    async fn finish(&self, held: Held, mut outcome: Value, how: How, ttl: i64) -> Result<Ran> {
        crate::telemetry::effect(how.as_str());
        if let Value::Object(m) = &mut outcome {
            m.insert("how".into(), Value::String(how.as_str().into()));
        } else {
            outcome = json!({"value": outcome, "how": how.as_str()});
        }
        held.complete_for(self.records(), outcome.clone(), ttl)
            .await?;
        Ok(Ran { outcome, how })
    }

    /// Runs one effect under the claim `key` (see the module's documentation). `plan` runs
    /// only when no earlier attempt left an intent; `lookup` only when one did; `write` at
    /// most once, with the intent. Done records are kept for `ttl_secs`.
    #[allow(clippy::too_many_arguments)]
    pub async fn run<P, PF, L, LF, W, WF>(
        &self,
        key: &str,
        policy: UnknownOutcomePolicy,
        ttl_secs: i64,
        plan: P,
        lookup: L,
        write: W,
    ) -> Result<Ran>
    where
        P: FnOnce() -> PF,
        PF: Future<Output = Result<Plan>>,
        L: FnOnce(Value) -> LF,
        LF: Future<Output = Result<Found>>,
        W: FnOnce(Value) -> WF,
        WF: Future<Output = Result<Value>>,
    {
        let mut held = match self.acquire(key).await? {
            Claim::Done(outcome) => {
                return Ok(Ran {
                    outcome,
                    how: How::AlreadyDone,
                })
            }
            Claim::Busy => {
                return Err(Error::transient(
                    "store",
                    format!("{key} is being done by another job"),
                )
                .with_code("in_progress"))
            }
            Claim::Acquired(h) => h,
        };
        let (intent, again) = match held.pending_intent().cloned() {
            Some(intent) => match lookup(intent.clone()).await.or_else(|e| match e.kind {
                // A lookup the CRM refuses (a 4xx) can never answer: the policy decides.
                ErrorKind::Permanent => {
                    Ok(Found::Unanswerable(format!("the lookup was refused: {e}")))
                }
                _ => Err(e),
            }) {
                Err(e) => {
                    held.release(self.records(), true, &e.to_string()).await?;
                    return Err(e);
                }
                Ok(Found::Yes(outcome)) => {
                    return self
                        .finish(held, outcome, How::FoundOnLookup, ttl_secs)
                        .await
                }
                Ok(Found::No) => (intent, false),
                Ok(Found::Moot(outcome)) => {
                    return self.finish(held, outcome, How::Skipped, ttl_secs).await
                }
                Ok(Found::Unanswerable(why)) => match policy {
                    UnknownOutcomePolicy::Retry => {
                        tracing::warn!(key, decision = "retry", reason = "possible_duplicate",
                            detail = %why, "an earlier write's outcome cannot be looked up; writing again");
                        (intent, true)
                    }
                    UnknownOutcomePolicy::Hold => {
                        let outcome = json!({"needs_review": "lookup_unavailable",
                            "detail": why, "intent": intent});
                        return self.finish(held, outcome, How::NeedsReview, ttl_secs).await;
                    }
                },
            },
            None => match plan().await {
                // A read the CRM refuses (a 4xx) will be refused again: said once, recorded,
                // never retried.
                Err(e) if e.kind == ErrorKind::Permanent => {
                    let outcome = json!({"rejected": e.reason(), "detail": e.message});
                    return self.finish(held, outcome, How::Rejected, ttl_secs).await;
                }
                Err(e) => {
                    held.release(self.records(), false, &e.to_string()).await?;
                    return Err(e);
                }
                Ok(Plan::Skip(outcome)) => {
                    return self.finish(held, outcome, How::Skipped, ttl_secs).await
                }
                Ok(Plan::Later(outcome)) => {
                    let note = outcome
                        .get("skipped")
                        .and_then(Value::as_str)
                        .unwrap_or("later");
                    held.release(self.records(), false, note).await?;
                    crate::telemetry::effect(How::Skipped.as_str());
                    return Ok(Ran {
                        outcome,
                        how: How::Skipped,
                    });
                }
                Ok(Plan::Write(intent)) => {
                    if let Err(e) = self.time_for_a_write() {
                        held.release(self.records(), false, &e.to_string()).await?;
                        return Err(e);
                    }
                    held.intend(self.records(), intent.clone()).await?;
                    (intent, false)
                }
            },
        };
        if let Err(e) = self.time_for_a_write() {
            held.release(self.records(), true, &e.to_string()).await?;
            return Err(e);
        }
        match write(intent).await {
            Ok(outcome) => {
                let how = if again {
                    How::PossibleDuplicate
                } else {
                    How::Written
                };
                self.finish(held, outcome, how, ttl_secs).await
            }
            Err(e) if e.kind == ErrorKind::Permanent => {
                let outcome = json!({"rejected": e.reason(), "detail": e.message});
                self.finish(held, outcome, How::Rejected, ttl_secs).await
            }
            Err(e) => {
                // A write that may have happened keeps its intent for the next attempt.
                let keep = e.code != Some(NOT_SENT);
                if e.kind == ErrorKind::UnknownOutcome {
                    crate::telemetry::unknown_outcome();
                }
                held.release(self.records(), keep, &e.to_string()).await?;
                Err(e)
            }
        }
    }
}
