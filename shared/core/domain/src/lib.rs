//! Pure domain of llbridge, the same whatever the CRM: no I/O lives here.
//!
//! * [`event`]: lenient parsing of Dialpad call events.
//! * [`scope`]: which call center an event belongs to and which enablement applies.
//! * [`conversation`]: the legs of one conversation merged into one record.
//! * [`call_record`]: what every CRM's call log says of a conversation's times and links.
//! * [`config`]: the installation config document's core and its validation; each CRM adds its
//!   own part.
//! * [`phone`]: phone-number normalization and masking.
//! * [`labels`]: comparing the labels people type (statuses, types, dispositions).

pub mod call_record;
pub mod config;
pub mod conversation;
pub mod event;
pub mod labels;
pub mod lenient;
pub mod phone;
pub mod scope;
pub mod text;

pub use config::Installation;
pub use conversation::Conversation;
pub use event::{CallEvent, CallState};
