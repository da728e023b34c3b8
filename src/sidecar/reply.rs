//! What the sidecar answers: AWS's response as it came, or a refusal written as the
//! protocol's own error (S3 XML, JSON `__type`, query XML), so SDKs raise their usual
//! exceptions with awsgate's reason as the message.

use bytes::Bytes;
use http_body_util::BodyExt;

use super::forward::{SidecarBody, full, peek_body};
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
            CallError::ApprovalPending { .. } => (403, "ApprovalPending".to_string()),
            CallError::RateLimited { .. } => (429, "Throttling".to_string()),
            CallError::InvalidArgument(_) => (400, "InvalidArgument".to_string()),
            CallError::AuditUnavailable => (503, "AuditUnavailable".to_string()),
            CallError::Unavailable(_) => (503, "ServiceUnavailable".to_string()),
            CallError::Cancelled { .. } => (499, "RequestCancelled".to_string()),
            CallError::LookupFailed { failure, .. } => (400, failure.code.clone()),
            CallError::Aws(failure) => match failure.code.as_str() {
                "Timeout" => (504, "RequestTimeout".to_string()),
                // A 4xx: SDKs retry 5xx answers, and this write must not be sent again
                // blindly.
                "OutcomeUnknown" => (400, "OutcomeUnknown".to_string()),
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
    } else if parts.headers.contains_key("smithy-protocol") {
        Protocol::Cbor
    } else if signing_name == "lambda" || parts.headers.contains_key("x-amz-target") {
        Protocol::Json
    } else {
        Protocol::Query
    }
}

/// The refusal as the protocol writes errors. Over the JSON protocols the code gets
/// `Exception` (`AccessDeniedException`), as those services name it; SQS, whose JSON
/// protocol is query-compatible, also gets the `x-amzn-query-error` header its SDKs read.
pub fn error(protocol: Protocol, signing_name: &str, head: bool, refusal: &Refusal) -> http::Response<SidecarBody> {
    let request_id = refusal.request_id.clone().unwrap_or_default();
    let mut builder = http::Response::builder()
        .status(http::StatusCode::from_u16(refusal.status).unwrap_or(http::StatusCode::FORBIDDEN))
        .header("x-amzn-requestid", &request_id)
        .header("x-amz-request-id", &request_id);
    let (code, message, id) = (xml(&refusal.code), xml(&refusal.message), xml(&request_id));
    // Whose fault, as the query protocols say it: a 5xx is the service's (`Receiver`).
    let fault = if refusal.status >= 500 { "Receiver" } else { "Sender" };
    let error = format!("<Code>{code}</Code><Message>{message}</Message>");
    let body = match protocol {
        Protocol::Cbor => {
            let code = json_code(&refusal.code);
            let body = if head { Bytes::new() } else { Bytes::from(super::cbor::error_body(&code, &refusal.message)) };
            return builder
                .header("content-type", "application/cbor")
                .header("smithy-protocol", "rpc-v2-cbor")
                .body(full(body))
                .unwrap_or_else(|_| http::Response::new(full(Bytes::new())));
        }
        Protocol::Json => {
            let code = json_code(&refusal.code);
            builder = builder.header("content-type", "application/x-amz-json-1.0").header("x-amzn-errortype", &code);
            // SQS's JSON protocol is query-compatible: its SDKs read the query code here.
            if signing_name == "sqs" {
                builder = builder.header("x-amzn-query-error", format!("{};{fault}", refusal.code));
            }
            serde_json::json!({ "__type": code, "message": refusal.message, "Message": refusal.message }).to_string()
        }
        xml_protocol => {
            builder = builder.header("content-type", "application/xml");
            let document = match xml_protocol {
                Protocol::RestXml => format!("<Error>{error}<RequestId>{id}</RequestId></Error>"),
                _ if signing_name == "ec2" => {
                    format!("<Response><Errors><Error>{error}</Error></Errors><RequestID>{id}</RequestID></Response>")
                }
                _ => format!(
                    "<ErrorResponse><Error><Type>{fault}</Type>{error}</Error><RequestId>{id}</RequestId></ErrorResponse>"
                ),
            };
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{document}")
        }
    };
    let body = if head { Bytes::new() } else { Bytes::from(body) };
    builder.body(full(body)).unwrap_or_else(|_| http::Response::new(full(Bytes::new())))
}

/// The JSON protocols' names for the codes they share with awsgate: `AccessDenied` is
/// `AccessDeniedException`, a bad request `ValidationException`. AWS's own signature codes
/// and awsgate's (`OutcomeUnknown`, `AuditUnavailable`...) stay as they are.
fn json_code(code: &str) -> String {
    match code {
        "AccessDenied" => "AccessDeniedException",
        "InvalidArgument" => "ValidationException",
        "Throttling" => "ThrottlingException",
        other => other,
    }
    .to_string()
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

/// How much of an error answer is read for its code; the rest goes on unread.
const MAX_ERROR_ANSWER: usize = 64 * 1024;

/// AWS's answer to pass on, and its error code when it is an error: from
/// `x-amzn-errortype`, a JSON or CBOR-free `__type`, or S3's and the query protocols'
/// `<Code>`; `HttpNNN` when the answer names none (a HEAD's 404).
pub async fn error_code(
    response: http::Response<hyper::body::Incoming>,
) -> (http::Response<SidecarBody>, Option<String>) {
    let response = passthrough(response);
    let status = response.status();
    if status.is_success() || status.is_redirection() || status.is_informational() {
        return (response, None);
    }
    let header_code = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or(v).to_string());
    let (parts, body) = response.into_parts();
    // Read (within 5 s, up to 64 KiB) to find the code; the answer goes on whole regardless.
    let peeked = peek_body(body, MAX_ERROR_ANSWER, std::time::Duration::from_secs(5)).await;
    let code = header_code
        .or_else(|| code_in(&peeked.bytes))
        .filter(|c| {
            !c.is_empty() && c.len() <= 128 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
        })
        .unwrap_or_else(|| format!("Http{}", status.as_u16()));
    (http::Response::from_parts(parts, peeked.body), Some(code))
}

/// `<Code>X</Code>`, or `"__type": "ns#X"`, in an error body.
fn code_in(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    if let Some(start) = text.find("<Code>") {
        let rest = text.get(start + "<Code>".len()..)?;
        return rest.find("</Code>").and_then(|end| rest.get(..end)).map(str::to_string);
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let kind = value.get("__type")?.as_str()?;
    Some(kind.rsplit('#').next().unwrap_or(kind).to_string())
}
