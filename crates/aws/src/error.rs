//! Errors: the one place where SDK errors are classified, and the crate's public error type.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use tandem_engine::provider::{ErrorClass, ProviderError};

/// A failed AWS call, classified. The message names the operation and says what was wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{operation} failed: {detail}")]
pub struct CallError {
    /// `service:Operation`, for example `s3:CreateBucket`.
    pub operation: &'static str,
    pub class: ErrorClass,
    /// The AWS error code, when the service answered with one.
    pub code: Option<String>,
    pub detail: String,
}

impl CallError {
    pub fn new(operation: &'static str, class: ErrorClass, detail: impl Into<String>) -> CallError {
        CallError {
            operation,
            class,
            code: None,
            detail: detail.into(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.class == ErrorClass::NotFound
    }

    /// Whether the AWS error code is `code`.
    pub fn has_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl From<CallError> for ProviderError {
    fn from(e: CallError) -> ProviderError {
        ProviderError::new(e.class, e.to_string())
    }
}

/// The crate's error for functions outside the `Provider` trait (preflight, promotion, ...).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AwsError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(
        "these credentials belong to account {actual}, but the environment expects account {expected}: \
         refusing to touch the wrong account (check AWS_PROFILE or the environment file)"
    )]
    WrongAccount { expected: String, actual: String },
    #[error("{0}")]
    Invalid(String),
}

impl AwsError {
    pub fn class(&self) -> ErrorClass {
        match self {
            AwsError::Call(c) => c.class,
            AwsError::WrongAccount { .. } => ErrorClass::AccessDenied,
            AwsError::Invalid(_) => ErrorClass::Invalid,
        }
    }
}

const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "SlowDown",
    "PriorRequestNotComplete",
    "OperationInProgressException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "EC2ThrottledException",
];

const ACCESS_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthFailure",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "MissingAuthenticationToken",
    "AccountProblem",
    "AllAccessDisabled",
];

const INVALID_CODES: &[&str] = &[
    "ValidationError",
    "ValidationException",
    "InvalidParameterValue",
    "InvalidParameterValueException",
    "InvalidParameterCombination",
    "InvalidParameter",
    "InvalidInput",
    "InvalidArgument",
    "InvalidRequest",
    "MalformedXML",
    "MalformedPolicy",
    "InvalidChangeBatch",
    "InvalidDomainName",
    "InvalidBucketName",
    "IllegalLocationConstraintException",
    "InvalidLocationConstraint",
    "MissingParameter",
];

/// The class of an AWS error code (and HTTP status), on its own.
pub fn classify_code(code: Option<&str>, status: Option<u16>) -> ErrorClass {
    if let Some(c) = code {
        if RETRYABLE_CODES.contains(&c) {
            return ErrorClass::Retryable;
        }
        if ACCESS_CODES.contains(&c) {
            return ErrorClass::AccessDenied;
        }
        if c.starts_with("NoSuch")
            || c.ends_with("NotFound")
            || c.ends_with("NotFoundFault")
            || c.ends_with("NotFoundException")
            || c.ends_with("NotFoundError")
            || c == "NotFound"
        {
            return ErrorClass::NotFound;
        }
        if INVALID_CODES.contains(&c) {
            return ErrorClass::Invalid;
        }
    }
    match status {
        Some(429) => ErrorClass::Retryable,
        Some(s) if s >= 500 => ErrorClass::Retryable,
        Some(403) | Some(401) => ErrorClass::AccessDenied,
        Some(404) => ErrorClass::NotFound,
        Some(400) if code.is_none() => ErrorClass::Invalid,
        _ => ErrorClass::Other,
    }
}

/// Whether the request was never sent because no credentials could be loaded: retrying does not
/// help, and it is a matter of credentials, not of the network.
fn from_credentials(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// Classifies one SDK error from operation `operation`.
pub fn classify<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ConstructionFailure(_) => CallError::new(
            operation,
            ErrorClass::Invalid,
            format!(
                "the request could not be built: {}",
                aws_sdk_s3::error::DisplayErrorContext(err)
            ),
        ),
        SdkError::TimeoutError(_) => CallError::new(
            operation,
            ErrorClass::Retryable,
            "timed out waiting for AWS",
        ),
        SdkError::DispatchFailure(_) if from_credentials(err) => CallError::new(
            operation,
            ErrorClass::AccessDenied,
            format!(
                "no usable credentials (set AWS_PROFILE, sign in with SSO, or export keys): {}",
                aws_sdk_s3::error::DisplayErrorContext(err)
            ),
        ),
        SdkError::DispatchFailure(d) => {
            let what = if d.is_io() {
                "could not reach the endpoint (connection failed)"
            } else if d.is_timeout() {
                "timed out connecting"
            } else {
                "the request could not be sent"
            };
            CallError::new(
                operation,
                ErrorClass::Retryable,
                format!("{what}: {}", aws_sdk_s3::error::DisplayErrorContext(err)),
            )
        }
        SdkError::ResponseError(r) => {
            let status = r.raw().status().as_u16();
            let class = if status >= 500 || status == 429 {
                ErrorClass::Retryable
            } else {
                classify_code(None, Some(status))
            };
            CallError::new(
                operation,
                class,
                format!("unreadable response (HTTP {status})"),
            )
        }
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = err.code().map(str::to_string);
            let message = err.message().unwrap_or("").trim().to_string();
            let class = classify_code(code.as_deref(), Some(status));
            let detail = match (&code, message.is_empty()) {
                (Some(c), false) => format!("{c} (HTTP {status}): {message}"),
                (Some(c), true) => format!("{c} (HTTP {status})"),
                (None, false) => format!("HTTP {status}: {message}"),
                (None, true) => format!(
                    "HTTP {status} with no error code: {}",
                    aws_sdk_s3::error::DisplayErrorContext(err)
                ),
            };
            CallError {
                operation,
                class,
                code,
                detail,
            }
        }
        _ => CallError::new(
            operation,
            ErrorClass::Other,
            format!("{}", aws_sdk_s3::error::DisplayErrorContext(err)),
        ),
    }
}

/// Turns a not-found error into `Ok(None)`.
pub trait OrNotFound<T> {
    fn or_not_found(self) -> Result<Option<T>, CallError>;
}

impl<T> OrNotFound<T> for Result<T, CallError> {
    fn or_not_found(self) -> Result<Option<T>, CallError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Turns the error with one AWS code into `Ok(None)`: for a call whose effect is already in place
/// (a retried create answered "already exists", an operation id already started).
pub trait OrCode<T> {
    fn or_code(self, code: &str) -> Result<Option<T>, CallError>;
}

impl<T> OrCode<T> for Result<T, CallError> {
    fn or_code(self, code: &str) -> Result<Option<T>, CallError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.has_code(code) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The outcome of a delete call: not found is done (it is gone); `in_use`, the code with which AWS
/// refuses to delete a resource that still holds others, is an input error ending with `first`,
/// what to do first.
pub fn deleted<T>(
    res: Result<T, CallError>,
    in_use: &str,
    first: &str,
) -> Result<(), ProviderError> {
    match res {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) if e.has_code(in_use) => Err(ProviderError::new(
            ErrorClass::Invalid,
            format!("{e}: {first}"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// A resource read back right after this very operation wrote it; `what` says what was missing.
pub trait ReadBack<T> {
    /// After a create, missing is an error of class `Other`: the cloud lost what it just made.
    fn found_after_create(self, what: impl FnOnce() -> String) -> Result<T, ProviderError>;
    /// After an update, missing is `NotFound`: the resource was deleted in between.
    fn found_after_update(self, what: impl FnOnce() -> String) -> Result<T, ProviderError>;
}

impl<T> ReadBack<T> for Option<T> {
    fn found_after_create(self, what: impl FnOnce() -> String) -> Result<T, ProviderError> {
        self.ok_or_else(|| ProviderError::other(what()))
    }

    fn found_after_update(self, what: impl FnOnce() -> String) -> Result<T, ProviderError> {
        self.ok_or_else(|| ProviderError::new(ErrorClass::NotFound, what()))
    }
}

/// Maps an SDK request-builder error (a missing required field) to a provider error.
pub fn build_error(
    operation: &'static str,
) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> tandem_engine::provider::ProviderError
{
    move |e| {
        tandem_engine::provider::ProviderError::invalid(format!(
            "{operation}: could not build the request: {e}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_classify() {
        let cases = [
            (Some("Throttling"), Some(400), ErrorClass::Retryable),
            (
                Some("OperationInProgressException"),
                Some(409),
                ErrorClass::Retryable,
            ),
            (Some("NoSuchBucket"), Some(404), ErrorClass::NotFound),
            (Some("DBInstanceNotFound"), Some(404), ErrorClass::NotFound),
            (
                Some("StackSetNotFoundException"),
                Some(400),
                ErrorClass::NotFound,
            ),
            (Some("AccessDenied"), Some(403), ErrorClass::AccessDenied),
            (None, Some(403), ErrorClass::AccessDenied),
            (None, Some(503), ErrorClass::Retryable),
            (Some("ValidationError"), Some(400), ErrorClass::Invalid),
            (Some("Whatever"), Some(409), ErrorClass::Other),
        ];
        for (code, status, class) in cases {
            assert_eq!(classify_code(code, status), class, "{code:?} {status:?}");
        }
    }

    fn coded(code: &str, class: ErrorClass) -> CallError {
        CallError {
            operation: "x:Delete",
            class,
            code: Some(code.into()),
            detail: format!("{code} (HTTP 400)"),
        }
    }

    #[test]
    fn a_delete_of_what_is_gone_is_done_and_in_use_is_an_input_error() {
        assert_eq!(deleted(Ok(()), "NotEmpty", "empty it"), Ok(()));
        let gone = coded("NoSuchThing", ErrorClass::NotFound);
        assert_eq!(deleted::<()>(Err(gone), "NotEmpty", "empty it"), Ok(()));
        let refused =
            |code| deleted::<()>(Err(coded(code, ErrorClass::Other)), "NotEmpty", "empty it");
        let e = refused("NotEmpty").unwrap_err();
        assert_eq!(e.class, ErrorClass::Invalid);
        assert!(e.message.ends_with(": empty it"), "{}", e.message);
        assert_eq!(refused("Busy").unwrap_err().class, ErrorClass::Other);
    }

    #[test]
    fn or_code_tolerates_one_code_only() {
        let exists = || Err::<(), _>(coded("AlreadyExists", ErrorClass::Other));
        assert_eq!(exists().or_code("AlreadyExists"), Ok(None));
        assert!(exists().or_code("Other").is_err());
        assert_eq!(Ok::<_, CallError>(1).or_code("AlreadyExists"), Ok(Some(1)));
    }
}
