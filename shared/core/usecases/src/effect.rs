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
use crate::ports::{Clock, Records, Store};

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

impl<'a> Effects<'a> {
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
