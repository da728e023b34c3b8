//! What AWS said when a request failed, in the words awsgate passes on: the error code,
//! AWS's message and the request id, never a credential, an endpoint or a stack trace.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::RequestId;

use super::AssumeRoleError;

/// AWS refused or failed: the AWS error code, its message and the request id. Never a
/// credential, an endpoint or a stack trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFailure {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl AwsFailure {
    /// Failures after which AWS may or may not have acted: the connection failed or
    /// dropped, or no answer came in time.
    pub fn outcome_may_be_unknown(&self) -> bool {
        matches!(self.code.as_str(), "NetworkError" | "Timeout" | "InvalidResponse" | "RequestFailed")
    }

    /// The failure of a write whose outcome is unknown: said plainly, so that nobody
    /// repeats it blindly.
    pub fn outcome_unknown(self) -> AwsFailure {
        AwsFailure {
            code: "OutcomeUnknown".into(),
            message: format!(
                "{}: the change may or may not have been made in AWS, and awsgate does not retry writes; check before repeating it",
                self.message
            ),
            request_id: self.request_id,
        }
    }
}

/// Maps an SDK error to the tool error. Service errors keep AWS's code and message;
/// transport failures get a fixed message, since theirs may name endpoints or files.
pub fn describe_sdk_error<E>(error: &SdkError<E, HttpResponse>) -> AwsFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let request_id = match error {
        SdkError::ServiceError(service) => service.err().meta().request_id().map(str::to_string),
        _ => None,
    };
    let role = in_chain::<AssumeRoleError>(error);
    let (code, message) = match error {
        SdkError::ServiceError(service) => match error.code() {
            Some(code) => (code.to_string(), error.message().unwrap_or("AWS refused the request").to_string()),
            // Some answers (a HEAD, an emulator's 404) carry no error code: name the status.
            None => {
                let status = service.raw().status().as_u16();
                (status_code_name(status).to_string(), format!("AWS answered HTTP {status} without an error code"))
            }
        },
        SdkError::TimeoutError(_) => ("Timeout".into(), "the request to AWS timed out".into()),
        _ if role.is_some() => ("AssumeRoleFailed".into(), role.map(ToString::to_string).unwrap_or_default()),
        _ if in_chain::<CredentialsError>(error).is_some() => (
            "CredentialsUnavailable".into(),
            "awsgate has no usable AWS credentials for this call; the operator must fix its credential setup".into(),
        ),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            ("Timeout".into(), "the request to AWS timed out".into())
        }
        SdkError::DispatchFailure(_) => ("NetworkError".into(), "could not reach the AWS endpoint".into()),
        SdkError::ResponseError(_) => ("InvalidResponse".into(), "AWS sent a response awsgate could not read".into()),
        _ => ("RequestFailed".into(), "the request could not be made".into()),
    };
    AwsFailure { code, message, request_id }
}

fn status_code_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        403 => "AccessDenied",
        404 => "NotFound",
        409 => "Conflict",
        412 => "PreconditionFailed",
        429 => "Throttling",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        _ => "ServiceError",
    }
}

/// The first error of type `T` in `error`'s chain of sources. The SDK wraps what a
/// credentials provider returns, so its type, not its text, says what went wrong.
fn in_chain<'e, T: std::error::Error + 'static>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}
