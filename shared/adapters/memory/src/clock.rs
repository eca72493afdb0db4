use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use llbridge_usecases::ports::Clock;
pub use llbridge_usecases::ports::SystemClock;

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> ManualClock {
        ManualClock {
            ms: AtomicI64::new(start_ms),
        }
    }

    pub fn advance(&self, by: Duration) {
        self.ms.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    pub fn set_ms(&self, ms: i64) {
        self.ms.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}

/// The wall clock, moved ahead on demand: a test host skips the waits of delayed messages
/// instead of sleeping through them. It never goes back.
#[derive(Debug, Default)]
pub struct SteppedClock {
    ahead_ms: AtomicI64,
}

impl SteppedClock {
    pub fn new() -> SteppedClock {
        SteppedClock::default()
    }

    /// Moves the clock to `ms` if it is not there yet.
    pub fn step_to(&self, ms: i64) {
        let behind = ms - SystemClock.now_ms();
        self.ahead_ms.fetch_max(behind, Ordering::SeqCst);
    }
}

impl Clock for SteppedClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.ahead_ms.load(Ordering::SeqCst)
    }
}
