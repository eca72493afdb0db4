//! Embedded adapters: everything llbridge needs to run on one machine with no AWS account.

mod clock;
mod queue;
mod secrets;
mod store;

pub use clock::{ManualClock, SteppedClock, SystemClock};
pub use queue::MemoryQueue;
pub use secrets::MemorySecrets;
pub use store::MemoryStore;

mod clients;
pub use clients::StaticClients;
