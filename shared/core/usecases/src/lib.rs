//! llbridge's use cases over ports: the webhook ([`ingest`]), conversation state ([`state`]),
//! and the worker's jobs ([`worker`]).

pub mod checks;
pub mod claim;
pub mod click;
pub mod config_store;
pub mod connect;
pub mod crm;
pub mod doctor;
pub mod effect;
pub mod error;
pub mod explain;
pub mod ingest;
pub mod jobs;
pub mod keys;
pub mod ledger;
pub mod outcome;
pub mod ports;
pub mod reconcile;
pub mod replay;
pub mod report;
pub mod route;
pub mod state;
pub mod telemetry;
pub mod texts;
pub mod trace;
pub mod worker;

pub use error::{Error, ErrorKind, Result, NOT_SENT};
