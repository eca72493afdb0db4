//! Test support shared by the suites.

pub mod configs;
pub mod events;
pub mod webhook;
