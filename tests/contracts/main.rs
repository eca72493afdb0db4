//! The contracts, in one binary: each port's contract against its embedded and its AWS adapter
//! (moto; `bash infra/tools.sh` installs it), the LineLeader, LeadSquared and Dialpad clients
//! against their sandboxes, and `template.yaml` against the code.
//!
//! `cargo test -p llbridge-tests --test contracts [FILTER]`

mod dialpad;
mod leadsquared;
mod lineleader;
mod ports;
mod template;
