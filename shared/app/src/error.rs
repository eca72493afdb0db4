//! The one error type of llbridge's use cases and ports.

/// The reason code of a request that could not be sent at all (no connection): nothing
/// happened, so it may be sent again without a lookup.
pub const NOT_SENT: &str = "not_sent";

/// How a failure should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Worth retrying later: a timeout before sending, a throttle, a 5xx on a read, an
    /// emulator or AWS hiccup. Nothing was changed.
    Transient,
    /// Retrying cannot help: a rejected request, a malformed message, a missing record.
    Permanent,
    /// A write was sent and its answer was lost (a 5xx, a timeout, a dropped connection after
    /// the request went out): it may or may not have taken effect. Never sent again blindly;
    /// the job looks the effect up first.
    UnknownOutcome,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{port}: {message}")]
pub struct Error {
    pub kind: ErrorKind,
    /// Which port or component failed: `queue`, `store`, `secrets`, `config`, `lineleader`,
    /// `dialpad`, `message`.
    pub port: &'static str,
    pub message: String,
    /// A reason code for the log line, when the failure has a more precise one than its kind.
    pub code: Option<&'static str>,
}

impl Error {
    pub fn transient(port: &'static str, message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Transient,
            port,
            message: message.into(),
            code: None,
        }
    }

    pub fn permanent(port: &'static str, message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Permanent,
            port,
            message: message.into(),
            code: None,
        }
    }

    pub fn unknown_outcome(port: &'static str, message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::UnknownOutcome,
            port,
            message: message.into(),
            code: None,
        }
    }

    /// The same error with a reason code.
    pub fn with_code(mut self, code: &'static str) -> Error {
        self.code = Some(code);
        self
    }

    /// Worth another attempt later: transient failures and unknown outcomes (which the next
    /// attempt resolves by looking the effect up).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Transient | ErrorKind::UnknownOutcome)
    }

    pub fn is_unknown_outcome(&self) -> bool {
        self.kind == ErrorKind::UnknownOutcome
    }

    /// The reason code of a job that failed with this error.
    pub fn reason(&self) -> &'static str {
        self.code.unwrap_or(match self.kind {
            ErrorKind::Transient => "transient_failure",
            ErrorKind::Permanent => "permanent_failure",
            ErrorKind::UnknownOutcome => "unknown_outcome",
        })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
