//! The LineLeader API client of llbridge (`lineleader-api.md`).
//!
//! * [`HttpLineLeader`]: the `LineLeader` port over HTTP: login and a token shared through the
//!   `Store`, retries of transient failures, paging, lenient reads, cached reference data.
//! * [`endpoints`]: every assumed path, request body and response shape, in one place.

mod cache;
mod client;
pub mod endpoints;
mod token;

pub use client::{
    http_client, HttpLineLeader, RetryPolicy, DEFAULT_BUDGET, DEFAULT_CACHE_TTL, DEFAULT_TIMEOUT,
    MAX_RESPONSE,
};
pub use token::TokenTiming;
