//! Turns SDK errors into the port error: throttling, 5xx, timeouts and connection failures are
//! transient; everything else (a rejected request, a missing resource) is permanent.
//!
//! `SdkError` and its metadata traits come from the shared smithy runtime; every service crate
//! re-exports the same types, so the ones of `aws_sdk_sqs` serve all three clients.

use std::error::Error as StdError;

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use llbridge_usecases::Error;

/// Error codes that mean "try again later" whatever their HTTP status.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionConflictException",
    "LimitExceededException",
    "InternalServerError",
    "InternalFailure",
    "InternalServiceError",
    "InternalServiceErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "AWS.SimpleQueueService.RequestThrottled",
    "KmsThrottled",
];

/// Whether an SDK error is worth retrying.
pub(crate) fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            status >= 500
                || status == 429
                || ctx
                    .err()
                    .code()
                    .is_some_and(|code| TRANSIENT_CODES.contains(&code))
        }
        // Timeouts, connection failures, unparseable responses.
        _ => true,
    }
}

/// An error and its sources, one line (`DisplayErrorContext` would add the Debug form).
fn chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}

/// The port error for a failed call: `what` names the operation and its target.
pub(crate) fn port_error<E>(port: &'static str, what: &str, err: SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let message = match &err {
        // The code and message only: the error's Debug form carries the whole raw response.
        SdkError::ServiceError(ctx) => format!(
            "{what}: {} (HTTP {}): {}",
            ctx.err().code().unwrap_or("unknown error"),
            ctx.raw().status().as_u16(),
            ctx.err().message().unwrap_or_default()
        ),
        other => format!("{what}: {}", chain(other)),
    };
    if is_transient(&err) {
        Error::transient(port, message)
    } else {
        Error::permanent(port, message)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::config::http::HttpResponse;
    use aws_sdk_sqs::error::ErrorMetadata;
    use aws_sdk_sqs::operation::send_message::SendMessageError;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn service_error(status: u16, code: &str) -> SdkError<SendMessageError> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("it failed")
            .build();
        let Ok(status) = status.try_into() else {
            panic!("bad status {status}");
        };
        SdkError::service_error(
            SendMessageError::generic(meta),
            HttpResponse::new(status, SdkBody::empty()),
        )
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        for (status, code) in [
            (400, "ThrottlingException"),
            (400, "ProvisionedThroughputExceededException"),
            (400, "AWS.SimpleQueueService.RequestThrottled"),
            (429, "Whatever"),
            (500, "InternalServerError"),
            (503, "ServiceUnavailable"),
        ] {
            let e = port_error("queue", "SendMessage", service_error(status, code));
            assert!(e.is_transient(), "{status} {code}: {e}");
        }
    }

    #[test]
    fn rejected_requests_are_permanent_and_say_why_in_one_line() {
        for (status, code) in [
            (400, "ResourceNotFoundException"),
            (400, "AccessDeniedException"),
            (400, "AWS.SimpleQueueService.NonExistentQueue"),
            (403, "InvalidClientTokenId"),
        ] {
            let e = port_error("queue", "SendMessage", service_error(status, code));
            assert!(!e.is_transient(), "{status} {code}: {e}");
            assert_eq!(
                e.message,
                format!("SendMessage: {code} (HTTP {status}): it failed")
            );
        }
    }

    #[test]
    fn timeouts_are_transient() {
        let e: SdkError<SendMessageError> = SdkError::timeout_error("took too long");
        assert!(port_error("queue", "SendMessage", e).is_transient());
    }
}
