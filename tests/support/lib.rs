//! Test support shared by the suites.

pub mod configs;
pub mod contract;
pub mod events;
pub mod lineleader;
pub mod moto;
pub mod scenario;
pub mod webhook;
