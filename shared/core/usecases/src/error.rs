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
    /// How long the other side asked to be left alone (`Retry-After`): the job's retry waits
    /// at least that long.
    pub retry_after: Option<std::time::Duration>,
}

impl Error {
    pub fn transient(port: &'static str, message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Transient,
            port,
            message: message.into(),
            code: None,
            retry_after: None,
        }
    }

    pub fn permanent(port: &'static str, message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Permanent,
            port,
            message: message.into(),
            code: None,
            retry_after: None,
        }
    }

    pub fn unknown_outcome(port: &'static str, message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::UnknownOutcome,
            port,
            message: message.into(),
            code: None,
            retry_after: None,
        }
    }

    /// The same error with a reason code.
    pub fn with_code(mut self, code: &'static str) -> Error {
        self.code = Some(code);
        self
    }

    /// The same error, the other side having asked for `after` of quiet (the longest of
    /// what it says and what the error already had).
    pub fn with_retry_after(mut self, after: Option<std::time::Duration>) -> Error {
        self.retry_after = self.retry_after.max(after);
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

/// The pause an HTTP `Retry-After` header asks for: a number of seconds, or an HTTP date
/// (`Wed, 21 Oct 2026 07:28:00 GMT`) from `now`. `None` when it says neither.
pub fn retry_after(value: &str, now: std::time::SystemTime) -> Option<std::time::Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(std::time::Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_400); // Wed, 21 Oct 2015 07:26:40 GMT
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(80))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:20:00 GMT", now),
            Some(Duration::ZERO),
            "a date past is no wait"
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", SystemTime::now()), None);
    }
}
