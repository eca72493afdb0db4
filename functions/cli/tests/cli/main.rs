//! The `llbridge` command as an admin runs it, in one binary: `demo`, `config validate` and
//! `config push/show`, `local` killed mid-call and restarted, `reconcile`, `report` and `trace`.
//!
//! `cargo test -p llbridge --test cli [FILTER]`

mod config_cloud;
mod config_validate;
mod crash;
mod demo;
mod doctor;
mod reconcile;
mod stack;
