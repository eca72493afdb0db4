//! LineLeader, the CRM: its part of the config, its rules, its API client and its `Crm`
//! (`docs/lineleader-api.md`).
//!
//! * [`config`]: its connection and enablement settings, parsed and validated with JSON paths.
//! * [`rules`]: family matching, centers, Phone Log and Event mode, follow-ups: pure.
//! * [`HttpLineLeader`]: the `LineLeader` port over HTTP: login and a token shared through the
//!   `Store`, retries of transient failures, paging, lenient reads, cached reference data.
//! * [`endpoints`]: every assumed path, request body and response shape, in one place.
//! * [`api`]: the `LineLeader` trait those endpoints make up (HTTP here, the sandbox's state in
//!   the embedded adapter).
//! * [`sink`]: the LineLeader CRM (`Crm` port): family matching and creation, the screen-pop
//!   page, Phone Log and Event mode, every write through the use case's exactly-once effects.

pub mod api;
mod cache;
mod client;
pub mod config;
pub mod endpoints;
pub mod rules;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod sink;
mod token;

pub use api::{LineLeader, Lookup, Probed, TaskWrite};
pub use sink::LineLeaderCrm;

pub use client::{
    http_client, HttpLineLeader, RetryPolicy, DEFAULT_BUDGET, DEFAULT_CACHE_TTL, DEFAULT_TIMEOUT,
    MAX_RESPONSE,
};
pub use token::TokenTiming;
