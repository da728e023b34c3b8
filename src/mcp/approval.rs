//! Step-up approval: a call that matches an allow statement with `approval: required` runs
//! only after a human says yes through the MCP client.
//!
//! Clients that negotiated a protocol with the `initialize` handshake (up to 2025-11-25)
//! get an `elicitation/create` request while the call waits. Clients of 2026-07-28 get an
//! input-required result; they ask the human and call the tool again with the answer and
//! the `requestState` token. The token is single-use, expires, and is bound to the exact
//! call (tool and arguments) it was issued for, so an approval covers that call only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rmcp::model::{ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema};
use serde_json::{Map, Value};

use crate::catalog::args::printable;

/// How long a human has to answer.
pub const APPROVAL_TIMEOUT: Duration = Duration::from_secs(300);

/// The key of the approval in an input-required result's `inputRequests`.
pub const INPUT_KEY: &str = "awsgate_approval";

/// The boolean the human sets in the form.
const FIELD: &str = "approve";

/// The key of the MFA question in `inputRequests`, and its one field.
pub const MFA_KEY: &str = "awsgate_mfa";
const CODE_FIELD: &str = "code";

/// Outstanding approvals of 2026-07-28 clients: token to the call it covers.
#[derive(Debug, Default)]
pub struct Approvals {
    pending: Mutex<HashMap<String, Pending>>,
}

#[derive(Debug)]
struct Pending {
    fingerprint: String,
    expires: Instant,
}

impl Approvals {
    /// A token for the call with this fingerprint.
    pub fn issue(&self, fingerprint: String) -> String {
        let token = uuid::Uuid::new_v4().simple().to_string();
        if let Ok(mut pending) = self.pending.lock() {
            let now = Instant::now();
            pending.retain(|_, p| p.expires > now);
            pending.insert(token.clone(), Pending { fingerprint, expires: now + APPROVAL_TIMEOUT });
        }
        token
    }

    /// Takes the token back (it is single-use) and checks that it was issued for this
    /// very call and has not expired.
    pub fn redeem(&self, token: &str, fingerprint: &str) -> Result<(), &'static str> {
        let pending = self.pending.lock().ok().and_then(|mut p| p.remove(token));
        match pending {
            None => Err("the approval token is unknown or was already used"),
            Some(p) if p.expires <= Instant::now() => Err("the approval timed out"),
            Some(p) if p.fingerprint != fingerprint => Err("the approval was given for a different call"),
            Some(_) => Ok(()),
        }
    }
}

/// The call's identity: tool name and arguments, with object keys sorted so that the
/// same call always has the same fingerprint.
pub fn fingerprint(tool: &str, arguments: Option<&Map<String, Value>>) -> String {
    fn canonical(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().filter_map(|k| map.get(k).map(|v| (k.clone(), canonical(v)))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
            other => other.clone(),
        }
    }
    let arguments = arguments.map_or(Value::Null, |a| canonical(&Value::Object(a.clone())));
    format!("{tool}\n{arguments}")
}

/// What the human reads: the action, the resources, the tool arguments that matter (long
/// values, like object bodies, only by their size) and the statement that asks.
pub fn message(
    action: &str,
    resources: &[String],
    tool: &str,
    arguments: Option<&Map<String, Value>>,
    policy: &str,
    statement: Option<&str>,
) -> String {
    let shown: Vec<String> = arguments
        .into_iter()
        .flatten()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) if s.chars().count() > 200 => format!("<{} characters>", s.chars().count()),
                Value::String(s) => format!("\"{}\"", printable(s)),
                other => {
                    let json = other.to_string();
                    if json.chars().count() > 200 {
                        format!("<{} characters of JSON>", json.chars().count())
                    } else {
                        json
                    }
                }
            };
            format!("{name} = {text}")
        })
        .collect();
    format!(
        "An AI agent asks to run `{action}` on {}.\nTool: {tool}\nArguments: {}\nPolicy `{policy}`, statement `{}` requires your approval. Approve this one call?",
        resources.iter().map(|r| format!("`{}`", printable(r))).collect::<Vec<_>>().join(", "),
        if shown.is_empty() { "none".to_string() } else { shown.join("; ") },
        statement.unwrap_or("?"),
    )
}

/// The form: one required boolean, `approve`.
pub fn request(message: String) -> ElicitRequestParams {
    let schema = ElicitationSchema::builder().required_bool(FIELD).build_unchecked();
    ElicitRequestParams::FormElicitationParams { meta: None, message, requested_schema: schema }
}

/// Accepted, with `approve: true`. Anything else (decline, cancel, false, missing) is no.
pub fn approved(result: &ElicitResult) -> bool {
    result.action == ElicitationAction::Accept
        && result.content.as_ref().and_then(|c| c.get(FIELD)).and_then(Value::as_bool) == Some(true)
}

/// The human's answer from a 2026-07-28 retry's `inputResponses` entry.
pub fn approved_response(response: &Value) -> bool {
    serde_json::from_value::<ElicitResult>(response.clone()).is_ok_and(|r| approved(&r))
}

/// The question for an MFA code.
pub fn mfa_message(serial: &str, role: &str) -> String {
    format!(
        "awsgate needs a new session for role `{}`. Enter the current 6-digit code of the MFA device `{}`.",
        printable(role),
        printable(serial)
    )
}

pub fn mfa_request(message: String) -> ElicitRequestParams {
    let schema = ElicitationSchema::builder().required_string(CODE_FIELD).build_unchecked();
    ElicitRequestParams::FormElicitationParams { meta: None, message, requested_schema: schema }
}

/// The code from an accepted answer, if it is 6 digits.
pub fn mfa_code(result: &ElicitResult) -> Option<String> {
    let code = result.content.as_ref()?.get(CODE_FIELD)?.as_str()?.trim();
    let valid =
        result.action == ElicitationAction::Accept && code.len() == 6 && code.chars().all(|c| c.is_ascii_digit());
    valid.then(|| code.to_string())
}

pub fn mfa_code_response(response: &Value) -> Option<String> {
    serde_json::from_value::<ElicitResult>(response.clone()).ok().and_then(|r| mfa_code(&r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprints_ignore_key_order_but_not_values() {
        let a = json!({"bucket": "b", "key": "k"});
        let b = json!({"key": "k", "bucket": "b"});
        let c = json!({"key": "other", "bucket": "b"});
        assert_eq!(fingerprint("t", a.as_object()), fingerprint("t", b.as_object()));
        assert_ne!(fingerprint("t", a.as_object()), fingerprint("t", c.as_object()));
        assert_ne!(fingerprint("t", a.as_object()), fingerprint("u", a.as_object()));
    }

    #[test]
    fn tokens_are_single_use_and_bound_to_their_call() {
        let approvals = Approvals::default();
        let token = approvals.issue("call-1".into());
        assert_eq!(approvals.redeem(&token, "call-2"), Err("the approval was given for a different call"));
        let token = approvals.issue("call-1".into());
        assert_eq!(approvals.redeem(&token, "call-1"), Ok(()));
        assert!(approvals.redeem(&token, "call-1").is_err());
        assert!(approvals.redeem("forged", "call-1").is_err());
    }

    #[test]
    fn only_an_explicit_yes_approves() {
        let yes: ElicitResult =
            serde_json::from_value(json!({"action": "accept", "content": {"approve": true}})).unwrap();
        let no: ElicitResult =
            serde_json::from_value(json!({"action": "accept", "content": {"approve": false}})).unwrap();
        let empty: ElicitResult = serde_json::from_value(json!({"action": "accept"})).unwrap();
        let declined: ElicitResult = serde_json::from_value(json!({"action": "decline"})).unwrap();
        assert!(approved(&yes));
        assert!(!approved(&no) && !approved(&empty) && !approved(&declined));
        assert!(approved_response(&json!({"action": "accept", "content": {"approve": true}})));
        assert!(!approved_response(&json!({"nonsense": 1})));
    }

    #[test]
    fn mfa_codes_are_six_digits_from_an_accepted_answer() {
        assert_eq!(
            mfa_code_response(&json!({"action": "accept", "content": {"code": " 123456 "}})),
            Some("123456".into())
        );
        assert_eq!(mfa_code_response(&json!({"action": "accept", "content": {"code": "12345"}})), None);
        assert_eq!(mfa_code_response(&json!({"action": "accept", "content": {"code": "12345a"}})), None);
        assert_eq!(mfa_code_response(&json!({"action": "decline", "content": {"code": "123456"}})), None);
    }

    #[test]
    fn the_message_names_action_resources_and_arguments_but_not_bodies() {
        let args = json!({"bucket": "reports", "key": "uploads/q4.csv", "body": "x".repeat(5000)});
        let text = message(
            "s3:PutObject",
            &["arn:aws:s3:::reports/uploads/q4.csv".into()],
            "s3_put_object",
            args.as_object(),
            "reports-team",
            Some("Uploads"),
        );
        assert!(text.contains("`s3:PutObject`") && text.contains("arn:aws:s3:::reports/uploads/q4.csv"));
        assert!(text.contains("key = \"uploads/q4.csv\"") && text.contains("body = <5000 characters>"));
        assert!(!text.contains("xxxxx"));
        assert!(text.contains("statement `Uploads`"));
    }
}
