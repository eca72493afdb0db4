//! llbridge's use cases over ports.

pub mod error;
pub mod ports;

pub use error::{Error, ErrorKind, Result};
