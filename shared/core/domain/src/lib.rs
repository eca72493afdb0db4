//! Pure domain of llbridge: no I/O lives here.
//!
//! * [`event`]: lenient parsing of Dialpad call events.
//! * [`scope`]: which call center an event belongs to and which enablement applies.
//! * [`conversation`]: the legs of one conversation merged into one record.
//! * [`config`]: the installation config document and its validation.
//! * [`phone`]: phone-number normalization and masking.

pub mod center;
pub mod config;
pub mod conversation;
pub mod crm;
pub mod event;
pub mod event_mode;
pub mod family;
pub mod follow_up;
pub mod labels;
pub mod lenient;
pub mod lineleader_api;
pub mod phone;
pub mod phone_log;
pub mod scope;

pub use config::Installation;
pub use conversation::Conversation;
pub use event::{CallEvent, CallState};
