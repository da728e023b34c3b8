//! What the sidecar answers: AWS's response as it came, or a refusal written as the
//! protocol's own error (S3 XML, JSON `__type`, query XML), so SDKs raise their usual
//! exceptions with awsgate's reason as the message.

use bytes::Bytes;
use http_body_util::BodyExt;

use super::forward::{SidecarBody, full};
use super::operation::Protocol;
use crate::pipeline::CallError;

/// A refusal: HTTP status, the protocol's error code, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl Refusal {
    pub fn new(status: u16, code: &str, message: String) -> Refusal {
        Refusal { status, code: code.into(), message, request_id: None }
    }

    pub fn bad_request(code: &str, message: String) -> Refusal {
        Refusal::new(400, code, message)
    }

    /// The pipeline's error, in AWS's words: the status and code SDKs expect.
    pub fn from_call(error: &CallError, call_id: &str) -> Refusal {
        let (status, code) = match error {
            CallError::AccessDenied { .. } | CallError::ApprovalDenied { .. } | CallError::MfaRequired { .. } => {
                (403, "AccessDenied".to_string())
            }
            CallError::RateLimited { .. } => (429, "Throttling".to_string()),
            CallError::InvalidArgument(_) => (400, "InvalidArgument".to_string()),
            CallError::AuditUnavailable => (503, "ServiceUnavailable".to_string()),
            CallError::Cancelled { .. } => (499, "RequestCancelled".to_string()),
            CallError::LookupFailed { failure, .. } => (400, failure.code.clone()),
            CallError::Aws(failure) => match failure.code.as_str() {
                "Timeout" => (504, "RequestTimeout".to_string()),
                "OutcomeUnknown" => (502, "OutcomeUnknown".to_string()),
                "CredentialsUnavailable" => (503, "CredentialsUnavailable".to_string()),
                other => (502, other.to_string()),
            },
        };
        let message = match error {
            CallError::AccessDenied { action, resource, statement, reason } => match statement {
                Some(statement) => {
                    format!("awsgate denied `{action}` on `{resource}` (statement `{statement}`): {reason}")
                }
                None => format!("awsgate denied `{action}` on `{resource}`: {reason}"),
            },
            other => other.message(),
        };
        Refusal { status, code, message, request_id: Some(call_id.to_string()) }
    }
}

/// Which error format the request's protocol expects, from its signing name and headers.
pub fn protocol_of(signing_name: &str, parts: &http::request::Parts) -> Protocol {
    if signing_name == "s3" {
        Protocol::RestXml
    } else if signing_name == "lambda" || parts.headers.contains_key("x-amz-target") {
        Protocol::Json
    } else {
        Protocol::Query
    }
}

/// The refusal as the protocol writes errors. Over the JSON protocols the code gets
/// `Exception` (`AccessDeniedException`), as those services name it; query-compatible
/// services (SQS) also get the `x-amzn-query-error` header their SDKs read.
pub fn error(protocol: Protocol, signing_name: &str, head: bool, refusal: &Refusal) -> http::Response<SidecarBody> {
    let request_id = refusal.request_id.clone().unwrap_or_default();
    let mut builder = http::Response::builder()
        .status(http::StatusCode::from_u16(refusal.status).unwrap_or(http::StatusCode::FORBIDDEN))
        .header("x-amzn-requestid", &request_id)
        .header("x-amz-request-id", &request_id);
    let body = match protocol {
        Protocol::RestXml => {
            builder = builder.header("content-type", "application/xml");
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
                xml(&refusal.code),
                xml(&refusal.message),
                xml(&request_id)
            )
        }
        Protocol::Json => {
            let code = json_code(&refusal.code);
            builder = builder
                .header("content-type", "application/x-amz-json-1.0")
                .header("x-amzn-errortype", &code)
                .header("x-amzn-query-error", format!("{};Sender", refusal.code));
            serde_json::json!({ "__type": code, "message": refusal.message, "Message": refusal.message }).to_string()
        }
        Protocol::Query if signing_name == "ec2" => {
            builder = builder.header("content-type", "text/xml");
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
                xml(&refusal.code),
                xml(&refusal.message),
                xml(&request_id)
            )
        }
        Protocol::Query => {
            builder = builder.header("content-type", "text/xml");
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                xml(&refusal.code),
                xml(&refusal.message),
                xml(&request_id)
            )
        }
    };
    let body = if head { Bytes::new() } else { Bytes::from(body) };
    builder.body(full(body)).unwrap_or_else(|_| http::Response::new(full(Bytes::new())))
}

/// `AccessDenied` -> `AccessDeniedException`, as the JSON protocols name their errors.
fn json_code(code: &str) -> String {
    if code.ends_with("Exception") || code.starts_with("InvalidAccessKeyId") || code == "SignatureDoesNotMatch" {
        code.to_string()
    } else {
        match code {
            "MissingAuthenticationToken" | "RequestTimeTooSkewed" | "IncompleteSignature" => code.to_string(),
            "Throttling" => "ThrottlingException".into(),
            other => format!("{other}Exception"),
        }
    }
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// AWS's request id, from whichever header the service uses.
pub fn request_id(headers: &http::HeaderMap) -> Option<String> {
    ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// AWS's answer, streamed back with its status and headers.
pub fn passthrough(response: http::Response<hyper::body::Incoming>) -> http::Response<SidecarBody> {
    let (mut parts, body) = response.into_parts();
    for name in ["connection", "keep-alive", "transfer-encoding", "proxy-connection"] {
        parts.headers.remove(name);
    }
    http::Response::from_parts(parts, body.map_err(Into::into).boxed())
}
