//! The Dialpad side of llbridge.
//!
//! * [`webhook`]: the body of a call-event webhook: a compact HS256 JWT, or plain JSON where the
//!   installation allows unsigned events.
//! * [`screenpop`]: the screen-pop API client.

pub mod screenpop;
pub mod webhook;
