//! What the queue does with a message whose job failed: acknowledge it (failed for good),
//! deliver it again after a growing delay, or, past the retry horizon, move it to the
//! dead-letter queue.

use std::time::Duration;

use super::report::{Decision, Report};
use crate::error::{Error, ErrorKind};

/// The longest `Retry-After` honoured: SQS hides a message for 12 hours at most.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(12 * 3600);

/// Retries of failed jobs: growing delays, then the dead-letter queue once the horizon has
/// passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failed delivery; it doubles on each one.
    pub first: Duration,
    /// The longest delay between two deliveries.
    pub max: Duration,
    /// A job still failing this long after its first failure goes to the dead-letter queue.
    pub horizon: Duration,
}

impl Default for RetryPolicy {
    /// 30 s doubling to 15 min, for 6 hours: a CRM outage of hours delays logs, it does not
    /// lose them.
    fn default() -> Self {
        RetryPolicy {
            first: Duration::from_secs(30),
            max: Duration::from_secs(900),
            horizon: Duration::from_secs(6 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The delay before the next delivery, after the `receive_count`th failed (1 = the first).
    pub fn delay(&self, receive_count: u32) -> Duration {
        let doublings = receive_count.saturating_sub(1).min(20);
        self.first
            .saturating_mul(1u32 << doublings)
            .min(self.max)
            .max(Duration::from_millis(1))
    }

    /// Whether the delays waited so far, after `receive_count` failed deliveries, reach the
    /// horizon.
    pub fn exhausted(&self, receive_count: u32) -> bool {
        let waited: Duration = (1..receive_count).map(|n| self.delay(n)).sum();
        waited >= self.horizon
    }

    /// How many deliveries a job failing all along gets before it is given up: a queue's
    /// own redrive count must stay above this.
    pub fn deliveries(&self) -> u32 {
        (1..10_000).find(|n| self.exhausted(*n)).unwrap_or(10_000)
    }

    /// What to do with the `receive_count`th delivery of a message whose job failed on
    /// `error`; `report` says what the job knew, and is completed with the verdict.
    pub fn verdict(&self, mut report: Report, error: &Error, receive_count: u32) -> Settle {
        if error.kind == ErrorKind::Permanent {
            // Retrying cannot help: said once, and acknowledged.
            return Settle::Ack(report.decision(Decision::Failed));
        }
        if self.exhausted(receive_count) {
            report.decision = Decision::GaveUp;
            report.detail = Some(format!(
                "still failing after {receive_count} deliveries over the retry horizon ({} s); moved to the dead-letter queue: {error}",
                self.horizon.as_secs()
            ));
            return Settle::GiveUp(report);
        }
        // The other side's Retry-After, if it asked for longer (up to the longest a message
        // can be hidden).
        let after = self
            .delay(receive_count)
            .max(error.retry_after.unwrap_or_default().min(MAX_RETRY_AFTER));
        report.decision = Decision::Retry;
        report.detail = Some(format!(
            "delivery {receive_count} failed; next in {} s: {error}",
            after.as_secs()
        ));
        Settle::Retry { after, report }
    }
}

/// What the queue should do with a delivered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// Done: delete it.
    Ack(Report),
    /// Deliver it again after this delay.
    Retry { after: Duration, report: Report },
    /// Move it to the dead-letter queue, with the report's reason.
    GiveUp(Report),
}

impl Settle {
    pub fn report(&self) -> &Report {
        match self {
            Settle::Ack(r) | Settle::GiveUp(r) | Settle::Retry { report: r, .. } => r,
        }
    }
}
