//! `approvals.webhook`: each new approval is POSTed as JSON, a Slack-compatible `text` plus
//! the approval's fields. Delivery is tried once, within [`TIMEOUT`], in the background: a
//! failure is logged and never decides, delays or loses the approval.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use tokio::sync::Semaphore;

use super::Summary;

/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Deliveries in flight at once; past this, new ones are dropped (and logged).
const MAX_IN_FLIGHT: usize = 32;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

pub struct Sender {
    client: Client<Https, Full<bytes::Bytes>>,
    slots: Arc<Semaphore>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("webhook::Sender").finish_non_exhaustive()
    }
}

impl Sender {
    pub fn new() -> Result<Sender, String> {
        let client = Client::builder(TokioExecutor::new()).build(crate::aws::https_connector()?);
        Ok(Sender { client, slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)) })
    }

    /// POSTs the new approval to `url` in the background.
    pub fn announce(&self, url: &str, summary: Summary) {
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            tracing::error!(approval = %summary.id, "webhook not sent: too many deliveries in flight");
            return;
        };
        let body = payload(&summary).to_string();
        let request = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, concat!("awsgate/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(bytes::Bytes::from(body)));
        let request = match request {
            Ok(request) => request,
            Err(error) => {
                tracing::error!(approval = %summary.id, %error, "webhook not sent: bad URL");
                return;
            }
        };
        let client = self.client.clone();
        let id = summary.id;
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(TIMEOUT, client.request(request)).await {
                Ok(Ok(response)) if response.status().is_success() => {
                    tracing::info!(approval = %id, status = response.status().as_u16(), "webhook delivered");
                }
                Ok(Ok(response)) => {
                    tracing::error!(approval = %id, status = response.status().as_u16(), "webhook refused; the approval still waits in the console");
                }
                Ok(Err(error)) => {
                    tracing::error!(approval = %id, %error, "webhook failed; the approval still waits in the console");
                }
                Err(_) => tracing::error!(approval = %id, "webhook timed out; the approval still waits in the console"),
            }
        });
    }
}

/// Slack's `text`, then the fields a program would read.
fn payload(summary: &Summary) -> serde_json::Value {
    let who =
        summary.agent.as_deref().map_or_else(|| format!("session {}", summary.session), |a| format!("agent `{a}`"));
    let text = format!(
        "awsgate: {who} asks to run `{}` on {} (statement `{}`, policy `{}`). Approve or deny it in the awsgate console: approval `{}`.",
        summary.action,
        summary.resources.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", "),
        summary.statement.as_deref().unwrap_or("-"),
        summary.policy,
        summary.id,
    );
    json!({
        "text": text,
        "approval_id": summary.id,
        "tool": summary.tool,
        "action": summary.action,
        "resources": summary.resources,
        "statement": summary.statement,
        "arguments": summary.arguments,
        "transport": summary.transport,
        "session": summary.session,
        "agent": summary.agent,
        "policy": summary.policy,
        "asked_at": summary.asked_at,
        "needs_mfa": summary.needs_mfa,
    })
}
