//! The one error type of llbridge's use cases and ports.

/// How a failure should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Worth retrying later: a timeout, a throttle, a 5xx, an emulator or AWS hiccup.
    Transient,
    /// Retrying cannot help: a rejected request, a malformed message, a missing record.
    Permanent,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{port}: {message}")]
pub struct Error {
    pub kind: ErrorKind,
    /// Which port or component failed: `queue`, `store`, `secrets`, `config`, `lineleader`,
    /// `dialpad`, `message`.
    pub port: &'static str,
    pub message: String,
}

impl Error {
    pub fn transient(port: &'static str, message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Transient,
            port,
            message: message.into(),
        }
    }

    pub fn permanent(port: &'static str, message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Permanent,
            port,
            message: message.into(),
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
