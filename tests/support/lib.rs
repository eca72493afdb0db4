//! Test support shared by the suites.

pub mod aws;
pub mod configs;
pub mod console;
pub mod contract;
pub mod faulty_store;
pub mod leadsquared;
pub mod lineleader;
pub mod local;
pub mod moto;
pub mod receiver;
pub mod scenario;
pub mod webhook;

/// The scripted Dialpad calls live with the sandboxes (the demo plays them too).
pub mod events {
    pub use llbridge_sandbox::calls::*;
}
