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

/// Most approvals one session may have waiting at once (tokens and open questions).
pub const MAX_PENDING_PER_SESSION: usize = 16;

/// Most approvals waiting at once across all sessions.
pub const MAX_PENDING: usize = 256;

/// Approvals waiting for a human: the tokens given to 2026-07-28 clients (each bound to a
/// digest of its call, never the arguments themselves) and the elicitations open with
/// older clients. Both count against per-session and total caps, so a client that never
/// answers cannot grow the server.
///
/// With a shared store (`--store`), the tokens are kept there instead, so that any replica
/// can continue an exchange another began; each is still taken once.
#[derive(Debug, Default)]
pub struct Approvals {
    state: Mutex<State>,
    store: Option<std::sync::Arc<crate::store::Store>>,
}

#[derive(Debug, Default)]
struct State {
    tokens: HashMap<String, Pending>,
    /// Open elicitations, by session.
    asking: HashMap<String, usize>,
}

#[derive(Debug)]
struct Pending {
    digest: [u8; 32],
    session: String,
    expires: Instant,
}

impl State {
    fn prune(&mut self) {
        let now = Instant::now();
        self.tokens.retain(|_, p| p.expires > now);
    }

    fn count(&self, session: &str) -> (usize, usize) {
        let tokens = self.tokens.values().filter(|p| p.session == session).count();
        let asking = self.asking.get(session).copied().unwrap_or(0);
        (tokens + asking, self.tokens.len() + self.asking.values().sum::<usize>())
    }

    fn admit(&mut self, session: &str) -> Result<(), &'static str> {
        self.prune();
        let (mine, all) = self.count(session);
        if mine >= MAX_PENDING_PER_SESSION {
            return Err("this session already has the most approvals that may wait at once; answer those first");
        }
        if all >= MAX_PENDING {
            return Err("the server already has the most approvals that may wait at once");
        }
        Ok(())
    }
}

/// An open question to the human; it stops counting when dropped.
#[derive(Debug)]
pub struct Asking<'a> {
    approvals: &'a Approvals,
    session: String,
}

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        if let Ok(mut state) = self.approvals.state.lock()
            && let Some(count) = state.asking.get_mut(&self.session)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.asking.remove(&self.session);
            }
        }
    }
}

fn digest(fingerprint: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(fingerprint.as_bytes()).into()
}

fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Approvals {
    /// Approvals whose tokens are kept in `store`, when replicas share one.
    pub fn new(store: Option<std::sync::Arc<crate::store::Store>>) -> Approvals {
        Approvals { state: Mutex::default(), store }
    }

    /// A token for the call with this fingerprint, unless too many are waiting.
    pub async fn issue(&self, session: &str, fingerprint: &str) -> Result<String, String> {
        if let Some(store) = &self.store {
            let token = uuid::Uuid::new_v4().simple().to_string();
            let digest = hex(&digest(fingerprint));
            store
                .issue_token(&token, &digest, session, MAX_PENDING_PER_SESSION, MAX_PENDING, APPROVAL_TIMEOUT)
                .await?
                .map_err(str::to_string)?;
            return Ok(token);
        }
        self.issue_here(session, fingerprint).map_err(str::to_string)
    }

    fn issue_here(&self, session: &str, fingerprint: &str) -> Result<String, &'static str> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut state = self.state.lock().map_err(|_| "the approval state is unavailable")?;
        state.admit(session)?;
        let pending = Pending {
            digest: digest(fingerprint),
            session: session.to_string(),
            expires: Instant::now() + APPROVAL_TIMEOUT,
        };
        state.tokens.insert(token.clone(), pending);
        Ok(token)
    }

    /// Counts an elicitation while it is open, unless too many are waiting.
    pub fn ask(&self, session: &str) -> Result<Asking<'_>, &'static str> {
        let mut state = self.state.lock().map_err(|_| "the approval state is unavailable")?;
        state.admit(session)?;
        *state.asking.entry(session.to_string()).or_default() += 1;
        Ok(Asking { approvals: self, session: session.to_string() })
    }

    /// Takes the token back (it is single-use) and checks that it was issued for this
    /// very call and has not expired.
    pub async fn redeem(&self, token: &str, fingerprint: &str) -> Result<(), String> {
        if let Some(store) = &self.store {
            // Tokens are uuids: anything else was never issued, and never reaches the store.
            if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("the approval token is unknown or was already used".into());
            }
            return match store.redeem_token(token).await? {
                None => Err("the approval token is unknown, was already used or timed out".into()),
                Some(bound) if bound != hex(&digest(fingerprint)) => {
                    Err("the approval was given for a different call".into())
                }
                Some(_) => Ok(()),
            };
        }
        self.redeem_here(token, fingerprint).map_err(str::to_string)
    }

    fn redeem_here(&self, token: &str, fingerprint: &str) -> Result<(), &'static str> {
        let pending = self.state.lock().ok().and_then(|mut s| s.tokens.remove(token));
        match pending {
            None => Err("the approval token is unknown or was already used"),
            Some(p) if p.expires <= Instant::now() => Err("the approval timed out"),
            Some(p) if p.digest != digest(fingerprint) => Err("the approval was given for a different call"),
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
    let shown = arguments_summary(arguments);
    format!(
        "An AI agent asks to run `{action}` on {}.\nTool: {tool}\nArguments: {}\nPolicy `{policy}`, statement `{}` requires your approval. Approve this one call?",
        resources.iter().map(|r| format!("`{}`", printable(r))).collect::<Vec<_>>().join(", "),
        shown,
        statement.unwrap_or("?"),
    )
}

/// The arguments as a human reads them: `name = value; ...`; content (object bodies,
/// messages, plaintexts) and long values only by their size, since the text may travel
/// on to a webhook; `none` for none.
pub fn arguments_summary(arguments: Option<&Map<String, Value>>) -> String {
    let shown: Vec<String> = arguments
        .into_iter()
        .flatten()
        .map(|(name, value)| {
            let content = crate::catalog::CONTENT_ARGS.contains(&name.as_str());
            let text = match value {
                Value::String(s) if content || s.chars().count() > 200 => format!("<{} characters>", s.chars().count()),
                Value::String(s) => format!("\"{}\"", printable(s)),
                other => {
                    let json = other.to_string();
                    if content || json.chars().count() > 200 {
                        format!("<{} characters of JSON>", json.chars().count())
                    } else {
                        json
                    }
                }
            };
            format!("{name} = {text}")
        })
        .collect();
    if shown.is_empty() { "none".to_string() } else { shown.join("; ") }
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
        let token = approvals.issue_here("s", "call-1").unwrap();
        assert_eq!(approvals.redeem_here(&token, "call-2"), Err("the approval was given for a different call"));
        let token = approvals.issue_here("s", "call-1").unwrap();
        assert_eq!(approvals.redeem_here(&token, "call-1"), Ok(()));
        assert!(approvals.redeem_here(&token, "call-1").is_err());
        assert!(approvals.redeem_here("forged", "call-1").is_err());
    }

    #[test]
    fn waiting_approvals_are_capped_per_session_and_in_total() {
        let approvals = Approvals::default();
        let mut open = Vec::new();
        for i in 0..MAX_PENDING_PER_SESSION / 2 {
            approvals.issue_here("a", &format!("call-{i}")).unwrap();
            open.push(approvals.ask("a").unwrap());
        }
        assert!(approvals.issue_here("a", "one more").is_err());
        assert!(approvals.ask("a").is_err());
        // An answered question frees its place.
        open.pop();
        open.push(approvals.ask("a").expect("a place was freed"));
        let sessions = MAX_PENDING / MAX_PENDING_PER_SESSION;
        let mut held = Vec::new();
        for s in 1..sessions {
            for _ in 0..MAX_PENDING_PER_SESSION {
                held.push(approvals.ask(&format!("s{s}")).unwrap());
            }
        }
        assert_eq!(
            approvals.issue_here("fresh", "x"),
            Err("the server already has the most approvals that may wait at once")
        );
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
        let short = json!({"bucket": "reports", "key": "k", "body": "password=hunter2"});
        let shown = arguments_summary(short.as_object());
        assert_eq!(shown, "bucket = \"reports\"; key = \"k\"; body = <16 characters>");
    }
}
