//! The end-to-end suites, in one binary: the local host with its sandboxes, driven over HTTP as
//! Dialpad drives a deployment. Every suite runs on the embedded adapters, with the worker
//! stepped (jobs run when a test settles the host; delays are skipped, not slept through). The
//! worker suites run once more under `aws::`, on the AWS adapters (SQS, DynamoDB, Secrets
//! Manager on moto) with the worker in the background, as deployed. Each suite says which by
//! the `BACKEND` of the module that loads it: this one's, or `aws.rs`'s.
//!
//! `cargo test -p llbridge-tests --test e2e [FILTER]` (`aws::` for the AWS runs)

// The AWS runs load the worker suites a second time, on purpose.
#![allow(clippy::duplicate_mod)]

mod api_paths;
mod browser;
mod click_to_call;
mod concurrency;
mod console;
mod conversation_props;
mod doctor;
mod drill;
mod event_mode;
mod follow_up;
mod ingest;
mod leadsquared;
mod logs_insights;
mod lost_answers;
mod matching;
mod metrics;
mod outage;
mod phone_log;
mod requests_per_call;
mod routing;
mod screen_pop;
mod texts;
mod webhook_crm;

/// The adapters of the suites loaded here.
const BACKEND: llbridge_tests::scenario::Backend = llbridge_tests::scenario::Backend::Embedded;

mod aws;
