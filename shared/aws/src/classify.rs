//! Turns SDK errors into the port error: throttling, 5xx, timeouts and connection failures are
//! transient; everything else (a rejected request, a missing resource) is permanent.
//!
//! `SdkError` and its metadata traits come from the shared smithy runtime; every service crate
//! re-exports the same types, so the ones of `aws_sdk_sqs` serve all three clients.

use std::error::Error as StdError;

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use llbridge_app::Error;

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

/// The port error for a failed call: `what` names the operation and its target.
pub(crate) fn port_error<E>(port: &'static str, what: &str, err: SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let message = format!("{what}: {}", DisplayErrorContext(&err));
    if is_transient(&err) {
        Error::transient(port, message)
    } else {
        Error::permanent(port, message)
    }
}
