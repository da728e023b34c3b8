//! The console's HTTP side: the page (`/console`, its script and style, served from the
//! binary, no external requests) and the JSON API under `/console/api/`.
//!
//! The guard, before any handler: the Host check of `/mcp` (DNS rebinding); an `Origin`,
//! when sent, must be this very origin (another page, even on loopback, is refused); the
//! API needs the operator's bearer token, which is never an agent's; a POST must be
//! `application/json`. A cross-site form post fails all three: browsers send its Origin,
//! cannot add an `Authorization` header to it, and cannot make it JSON.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::Console;
use crate::pipeline::Live;

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");
const ICON: &str = include_str!("favicon.svg");

/// The page may load only itself: its script, its style and its API.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                   form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Largest request body the API reads.
const MAX_BODY: usize = 4096;

/// Each agent served and its pipeline, asked for at the time.
pub type AgentsInForce = Arc<dyn Fn() -> Vec<(Arc<str>, Arc<Live>)> + Send + Sync>;

#[derive(Clone)]
pub struct ConsoleState {
    pub console: Arc<Console>,
    pub live: Arc<Live>,
    /// Each agent served and its pipeline, as in force now (a reload changes them).
    pub agents: AgentsInForce,
    pub token: Arc<str>,
    /// Hosts the `Host` header may name (loopback names for a loopback server); `None`
    /// accepts any.
    pub allowed_hosts: Option<&'static [&'static str]>,
    pub shutdown: CancellationToken,
}

/// The console's routes, each behind the console's own guard.
pub fn router(state: ConsoleState) -> Router {
    let api = Router::new()
        .route("/console/api/approvals", get(approvals))
        .route("/console/api/approvals/{id}", post(decide))
        .route("/console/api/audit", get(audit))
        .route("/console/api/policy", get(policy))
        .layer(middleware::from_fn_with_state(state.clone(), check_api));
    Router::new()
        .route("/console", get(|| async { asset("text/html; charset=utf-8", PAGE) }))
        .route("/console/console.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .route("/console/console.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
        .route("/console/favicon.svg", get(|| async { asset("image/svg+xml", ICON) }))
        .merge(api)
        .layer(middleware::from_fn_with_state(state.clone(), check_origin))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn reply(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let mut response = reply(status, &json!({ "error": message }));
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Host, as `/mcp` checks it; an Origin only this one.
async fn check_origin(State(state): State<ConsoleState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
    let Some(host) = host else {
        return refuse(StatusCode::FORBIDDEN, "the request has no Host header");
    };
    if let Some(allowed) = state.allowed_hosts
        && !crate::guard::host_name(&host).is_some_and(|name| allowed.contains(&name.as_str()))
    {
        return refuse(StatusCode::FORBIDDEN, "Host header not allowed");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("").trim().trim_end_matches('/').to_ascii_lowercase();
        let same = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host.as_str());
        if !same {
            return refuse(StatusCode::FORBIDDEN, "cross-origin requests to the console are refused");
        }
    }
    next.run(request).await
}

/// The operator's token; JSON for a POST.
async fn check_api(State(state): State<ConsoleState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if !crate::guard::bearer_matches(headers, &state.token) {
        return refuse(StatusCode::UNAUTHORIZED, "missing or wrong operator token (AWSGATE_CONSOLE_TOKEN)");
    }
    if request.method() == axum::http::Method::POST {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "the console API takes application/json");
        }
    }
    next.run(request).await
}

async fn approvals(State(state): State<ConsoleState>) -> Response {
    match state.console.desk.pending().await {
        Ok(pending) => reply(StatusCode::OK, &json!({ "approvals": pending })),
        Err(why) => refuse(StatusCode::SERVICE_UNAVAILABLE, &why),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    approve: bool,
    #[serde(default)]
    mfa_code: Option<String>,
    /// Why, in the operator's words: recorded, and told to the agent of a denial.
    #[serde(default)]
    reason: Option<String>,
}

/// Characters that break a line or reorder what is shown without being control characters:
/// the line and paragraph separators, and the bidirectional marks and overrides.
fn is_layout_control(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Longest reason an operator may give, in characters.
const MAX_REASON: usize = 500;

/// A reason as recorded: trimmed, one line of at most [`MAX_REASON`] printable characters.
fn reason_of(text: Option<&str>) -> Result<Option<String>, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    if text.chars().count() > MAX_REASON {
        return Err(format!("`reason` is longer than {MAX_REASON} characters"));
    }
    if text.chars().any(|c| c.is_control() || is_layout_control(c)) {
        return Err(
            "`reason` must be one line of plain text: no control characters, line or paragraph separators, or direction marks"
                .into(),
        );
    }
    Ok(Some(text.to_string()))
}

#[derive(Serialize)]
struct DecisionRecord<'a> {
    time: String,
    event: &'static str,
    approval_id: &'a str,
    decision: &'static str,
    by: &'static str,
    tool: &'a str,
    action: &'a str,
    resources: &'a [String],
    session: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    policy: &'a str,
}

async fn decide(State(state): State<ConsoleState>, Path(id): Path<String>, body: Bytes) -> Response {
    let decision: Decision = match serde_json::from_slice(&body) {
        Ok(decision) => decision,
        Err(error) => {
            let message = format!(
                "the body must be {{\"approve\": true|false, \"mfa_code\": \"123456\", \"reason\": \"...\"}}: {error}"
            );
            return refuse(StatusCode::BAD_REQUEST, &message);
        }
    };
    let reason = match reason_of(decision.reason.as_deref()) {
        Ok(reason) => reason,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    let desk = &state.console.desk;
    // Reserved, recorded, then applied: a decision that cannot be audited is not made, and
    // of two decisions sent at once only the one reserved first is recorded.
    let summary = match desk.reserve(&id, decision.approve, decision.mfa_code.as_deref()).await {
        Ok(summary) => summary,
        Err(super::desk::DecideError::Unavailable(why)) => return refuse(StatusCode::SERVICE_UNAVAILABLE, &why),
        Err(error @ super::desk::DecideError::NotFound(_)) => return refuse(StatusCode::NOT_FOUND, &error.to_string()),
        Err(error @ super::desk::DecideError::Decided(_)) => return refuse(StatusCode::CONFLICT, &error.to_string()),
        Err(error) => return refuse(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let record = DecisionRecord {
        time: crate::audit::now_rfc3339(),
        event: "approval_decided",
        approval_id: &id,
        decision: if decision.approve { "approved" } else { "denied" },
        by: "console",
        tool: &summary.tool,
        action: &summary.action,
        resources: &summary.resources,
        session: &summary.session,
        agent: summary.agent.as_deref(),
        reason: reason.as_deref(),
        policy: &summary.policy,
    };
    if let Err(error) = state.live.current().audit().write(&record).await {
        tracing::error!(%error, approval = %id, "cannot write the audit log; the decision is not made");
        desk.release(&id).await;
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "the audit log cannot be written, so the decision is not made");
    }
    match desk.decide(&id, decision.approve, decision.mfa_code.as_deref(), reason.as_deref()).await {
        Ok(summary) => reply(StatusCode::OK, &json!({ "approval": summary })),
        Err(super::desk::DecideError::Unavailable(why)) => refuse(StatusCode::SERVICE_UNAVAILABLE, &why),
        Err(error) => refuse(StatusCode::CONFLICT, &error.to_string()),
    }
}

/// Which records to show: the decision exactly; the tool and who by any part, in any case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Filter {
    /// `allow`, `deny`, or `shadow` for the decisions a shadow policy disagrees with.
    decision: Option<String>,
    /// Part of the tool's name (the sidecar's operation) or of the action's.
    tool: Option<String>,
    /// Part of the agent's name, the client's, the transport's, the session id, or
    /// `operator` for the console's decisions.
    session: Option<String>,
    /// Any value: a live feed (server-sent events) instead of the recent records.
    follow: Option<String>,
}

impl Filter {
    fn keeps(&self, record: &Value) -> bool {
        let field = |name: &str| record.get(name).and_then(Value::as_str);
        let client = record.get("client").and_then(|c| c.get("name")).and_then(Value::as_str);
        let by = record.get("by").and_then(Value::as_str).map(|by| if by == "console" { "operator" } else { by });
        let holds = |wanted: &Option<String>, fields: &[Option<&str>]| {
            wanted.as_deref().map(str::trim).filter(|w| !w.is_empty()).is_none_or(|wanted| {
                let wanted = wanted.to_lowercase();
                fields.iter().flatten().any(|value| value.to_lowercase().contains(&wanted))
            })
        };
        let decided = match self.decision.as_deref() {
            // The decisions a shadow policy would have made otherwise.
            Some("shadow") => record.get("shadow").is_some(),
            wanted => wanted.is_none_or(|d| field("decision") == Some(d)),
        };
        decided
            && holds(&self.tool, &[field("tool"), field("action")])
            && holds(&self.session, &[field("session"), field("agent"), client, field("transport"), by])
    }
}

async fn audit(State(state): State<ConsoleState>, Query(filter): Query<Filter>, headers: HeaderMap) -> Response {
    let wants_stream =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/event-stream"));
    let pipeline = state.live.current();
    let feed = pipeline.audit().feed();
    if filter.follow.is_some() || wants_stream {
        let live = feed.subscribe();
        return Sse::new(follow(live, filter, state.shutdown.clone())).keep_alive(KeepAlive::default()).into_response();
    }
    // With a shared store, the latest records of every replica; else (or while the store is
    // away) this replica's.
    let shared = match &state.console.store {
        Some(store) => store.recent().await.ok(),
        None => None,
    };
    let lines: Vec<Arc<str>> = match shared {
        Some(lines) => lines.into_iter().map(Arc::from).collect(),
        None => feed.recent(),
    };
    let records: Vec<Value> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| filter.keeps(record))
        .collect();
    reply(StatusCode::OK, &json!({ "records": records }))
}

fn follow(
    live: tokio::sync::broadcast::Receiver<Arc<str>>,
    filter: Filter,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let records = tokio_stream_of(live).filter_map(move |line| {
        let keep = serde_json::from_str::<Value>(&line).is_ok_and(|record| filter.keeps(&record));
        std::future::ready(keep.then(|| Ok(Event::default().event("record").data(&*line))))
    });
    records.take_until(async move { shutdown.cancelled().await })
}

/// A broadcast receiver as a stream; a reader that falls behind skips what it missed.
fn tokio_stream_of(live: tokio::sync::broadcast::Receiver<Arc<str>>) -> impl Stream<Item = Arc<str>> {
    futures_util::stream::unfold(live, |mut live| async move {
        loop {
            match live.recv().await {
                Ok(line) => return Some((line, live)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// Whose policy to show.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Whose {
    agent: Option<String>,
}

async fn policy(State(state): State<ConsoleState>, Query(whose): Query<Whose>) -> Response {
    let agents = (state.agents)();
    let names: Vec<&str> = agents.iter().map(|(name, _)| &**name).collect();
    let chosen = match &whose.agent {
        Some(wanted) => agents.iter().find(|(name, _)| &**name == wanted.as_str()),
        None => agents.first(),
    };
    let Some((agent, live)) = chosen else {
        let message =
            format!("no agent `{}` is served (agents: {})", whose.agent.unwrap_or_default(), names.join(", "));
        return refuse(StatusCode::NOT_FOUND, &message);
    };
    let pipeline = live.current();
    let policy = pipeline.policy();
    let document = policy.document();
    let statements: Vec<Value> = document
        .statements
        .iter()
        .map(|s| {
            let patterns = |list: &[crate::policy::Spanned<String>]| {
                Value::from(list.iter().map(|p| p.value.clone()).collect::<Vec<_>>())
            };
            let mut statement = serde_json::Map::new();
            statement.insert("sid".into(), json!(s.label));
            statement.insert("effect".into(), json!(s.effect.as_str()));
            let actions = if s.not_actions { "not_actions" } else { "actions" };
            statement.insert(actions.into(), patterns(&s.actions));
            let resources = if s.not_resources { "not_resources" } else { "resources" };
            statement.insert(resources.into(), patterns(&s.resources));
            let approval = if s.approval == crate::policy::Approval::Required { "required" } else { "none" };
            statement.insert("approval".into(), json!(approval));
            let conditions: Vec<Value> = s
                .conditions
                .iter()
                .map(|c| json!({"operator": c.operator_name, "key": c.key_name, "values": c.raw_values}))
                .collect();
            statement.insert("conditions".into(), Value::from(conditions));
            Value::Object(statement)
        })
        .collect();
    let tools: Vec<&str> =
        crate::catalog::tools().filter(|t| policy.lists_tool(&t.iam_action())).map(|t| t.name).collect();
    let body = json!({
        "agent": &**agent,
        "agents": names,
        "name": policy.name(),
        "mode": policy.mode().as_str(),
        "hash": pipeline.policy_hash(),
        "statements": statements,
        "tools": tools,
    });
    reply(StatusCode::OK, &body)
}
