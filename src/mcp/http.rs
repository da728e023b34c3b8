//! MCP over HTTP: streamable HTTP at `/mcp` (rmcp's service) and the older HTTP+SSE
//! transport (GET `/sse` + POST `/message`) for clients that still use it, on the same
//! handler. One guard covers both: Host and Origin checks (DNS rebinding), the bearer
//! token, and a bound on request bodies.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream::{self, StreamExt};
use rmcp::ServiceExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::{RoleServer, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::sessions::{BoundedSessions, DEFAULT_MAX_SESSIONS};
use super::{Gateway, HttpOptions, Shared, wire};
use crate::guard::{LOOPBACK_HOSTS, bearer_matches, host_name, origin_host};
use crate::slots::{Guarded, Slots};

/// The address of the client a request came from.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Largest request body accepted on any route.
const MAX_BODY_BYTES: usize = 12 * 1024 * 1024;

/// Checked HTTP settings.
#[derive(Debug, Clone)]
pub struct Settings {
    addr: SocketAddr,
    token: Option<String>,
    max_sessions: usize,
    /// The operator's token, when the console is served.
    console_token: Option<String>,
    /// With `--agents`: the agents' tokens.
    identity: Option<Arc<crate::agents::Identities>>,
}

impl Settings {
    /// Binding anything but loopback needs a bearer token: refuse to start without one.
    /// `identity`: the agents' credentials, with `--agents`.
    pub fn from_options(
        options: &HttpOptions,
        identity: Option<Arc<crate::agents::Identities>>,
    ) -> Result<Settings, String> {
        let addr: SocketAddr = options
            .listen
            .parse()
            .map_err(|_| format!("`--listen {}` is not an address like 127.0.0.1:8765", options.listen))?;
        let token = match &options.auth_token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read the auth token file `{}`: {e}", path.display()))?;
                let token = text.trim().to_string();
                if token.is_empty() {
                    return Err(format!("the auth token file `{}` is empty", path.display()));
                }
                Some(token)
            }
            None => std::env::var("AWSGATE_AUTH_TOKEN").ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()),
        };
        if identity.is_some() && token.is_some() {
            return Err("with `--agents`, each agent has its own token (`token_sha256`): AWSGATE_AUTH_TOKEN and --auth-token-file are for `--policy`".into());
        }
        if !addr.ip().is_loopback() && token.is_none() && identity.is_none() {
            return Err(format!(
                "`--listen {addr}` is not a loopback address: set a bearer token with AWSGATE_AUTH_TOKEN or --auth-token-file"
            ));
        }
        let console_token = match &options.console {
            None => None,
            Some(console) => {
                let token = match &console.token_file {
                    Some(path) => {
                        readable_by_owner_only(path)?;
                        std::fs::read_to_string(path)
                            .map_err(|e| format!("cannot read the console token file `{}`: {e}", path.display()))?
                            .trim()
                            .to_string()
                    }
                    None => std::env::var("AWSGATE_CONSOLE_TOKEN").unwrap_or_default().trim().to_string(),
                };
                if token.is_empty() {
                    return Err("the console needs an operator token of its own: set AWSGATE_CONSOLE_TOKEN or --console-token-file"
                            .into());
                }
                if token.len() < 16 {
                    return Err("the console token must be at least 16 characters".into());
                }
                if token.contains(char::is_whitespace) {
                    return Err("the console token must not contain spaces".into());
                }
                Some(token)
            }
        };
        if let (Some(agents), Some(operators)) = (&token, &console_token)
            && agents == operators
        {
            return Err("the console token is the agents' token: operators need their own, or an agent could approve its own calls"
                    .into());
        }
        if let (Some(identity), Some(operators)) = (&identity, &console_token)
            && identity.current().by_token(operators).is_some()
        {
            return Err("the console token is an agent's token: operators need their own, or an agent could approve its own calls"
                    .into());
        }
        Ok(Settings {
            addr,
            token,
            max_sessions: options.max_sessions.unwrap_or(DEFAULT_MAX_SESSIONS),
            console_token,
            identity,
        })
    }

    pub fn console_token(&self) -> Option<&str> {
        self.console_token.as_deref()
    }
}

/// The operator's token file must be readable by its owner only: anyone who reads it can
/// approve calls.
fn readable_by_owner_only(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let metadata =
        std::fs::metadata(path).map_err(|e| format!("cannot read the console token file `{}`: {e}", path.display()))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "the console token file `{}` can be read by others (mode {mode:o}): `chmod 600` it, since whoever reads it can approve calls",
            path.display()
        ));
    }
    Ok(())
}

#[derive(Debug)]
struct Guard {
    loopback: bool,
    token: Option<String>,
    /// With `--agents`: who each bearer token is. Without, every caller that passes is the
    /// one agent, `default`.
    identity: Option<Arc<crate::agents::Identities>>,
    /// Streamable HTTP sessions and the agent that opened each: a request on one with
    /// another agent's credentials is refused.
    owners: Mutex<SessionOwners>,
}

/// Session id to agent, bounded: the oldest are forgotten first (rmcp closes sessions past
/// `--max-sessions` itself, so a forgotten one no longer exists).
#[derive(Debug, Default)]
struct SessionOwners {
    owner: HashMap<String, Arc<str>>,
    order: std::collections::VecDeque<String>,
    bound: usize,
}

impl SessionOwners {
    /// The session's owner, marking it used now: the sessions used least lately are the
    /// ones forgotten, as rmcp closes the idlest.
    fn touch(&mut self, session: &str) -> Option<Arc<str>> {
        let owner = self.owner.get(session).cloned()?;
        if let Some(place) = self.order.iter().rposition(|s| s == session) {
            self.order.remove(place);
        }
        self.order.push_back(session.to_string());
        Some(owner)
    }

    fn insert(&mut self, session: String, agent: Arc<str>) {
        if self.owner.insert(session.clone(), agent).is_none() {
            self.order.push_back(session);
        }
        while self.order.len() > self.bound.max(1) {
            if let Some(old) = self.order.pop_front() {
                self.owner.remove(&old);
            }
        }
    }
}

/// Sessions of the older HTTP+SSE transport: session id to the handler's inbox.
#[derive(Debug, Default)]
struct LegacySessions {
    inboxes: Mutex<HashMap<String, Inbox>>,
}

/// Where a legacy session's POSTs go: messages to its handler, and the JSON-RPC errors
/// for malformed ones to its event stream, where the client listens for answers.
#[derive(Debug, Clone)]
struct Inbox {
    messages: mpsc::Sender<ClientJsonRpcMessage>,
    errors: mpsc::Sender<String>,
    /// The agent that opened the session: only it may post to it.
    agent: Arc<str>,
}

#[derive(Clone)]
struct LegacyState {
    shared: Arc<Shared>,
    sessions: Arc<LegacySessions>,
    /// Ends every SSE stream on shutdown.
    shutdown: CancellationToken,
}

pub async fn serve(
    shared: Arc<Shared>,
    settings: Settings,
    console: Option<Arc<crate::console::Console>>,
) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    let loopback = settings.addr.ip().is_loopback();
    let mut config = StreamableHttpServerConfig::default();
    config.cancellation_token = shutdown.clone();
    config.max_request_body_bytes = MAX_BODY_BYTES;
    config = if loopback {
        config.with_allowed_hosts(LOOPBACK_HOSTS.iter().copied())
    } else {
        config.disable_allowed_hosts()
    };
    let factory_shared = shared.clone();
    let sessions = Arc::new(BoundedSessions::new(settings.max_sessions));
    let mcp = StreamableHttpService::new(move || Ok(Gateway::for_http(factory_shared.clone())), sessions, config);
    let owners = SessionOwners { bound: settings.max_sessions.saturating_mul(2), ..SessionOwners::default() };
    let guard = Arc::new(Guard {
        loopback,
        token: settings.token.clone(),
        identity: settings.identity.clone(),
        owners: Mutex::new(owners),
    });
    let live = shared.first().map(|agent| agent.live()).ok_or_else(|| "no agent to serve".to_string())?;
    let shared_for_console = shared.clone();
    let legacy = LegacyState { shared, sessions: Arc::new(LegacySessions::default()), shutdown: shutdown.clone() };
    let streamable = Router::new().nest_service("/mcp", mcp).layer(middleware::from_fn(check_json_rpc));
    let router = Router::new()
        .merge(streamable)
        .route("/sse", get(sse_connect))
        .route("/message", post(sse_message))
        .route(HEALTH_PATH, get(healthz))
        .route(READY_PATH, get(readyz))
        .route(REPLICA_READY_PATH, get(replica_readyz))
        .with_state(legacy)
        .merge(
            Router::new()
                .route(METADATA_PATH, get(resource_metadata))
                .route(&format!("{METADATA_PATH}/mcp"), get(resource_metadata))
                .with_state(guard.clone()),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(guard, check_request));
    // The console has its own guard and the operator's token, never the agents'.
    let closing = console.clone();
    let router = match (console, &settings.console_token) {
        (Some(console), Some(token)) => router.merge(crate::console::api::router(crate::console::api::ConsoleState {
            console,
            live,
            agents: {
                let shared = shared_for_console.clone();
                Arc::new(move || shared.agents().iter().map(|a| (a.name.clone(), a.live())).collect())
            },
            token: token.as_str().into(),
            allowed_hosts: loopback.then_some(LOOPBACK_HOSTS),
            shutdown: shutdown.clone(),
        })),
        _ => router,
    };
    // Before every route and guard, the console's too: the agent's address behind a proxy.
    let router = router.layer(middleware::from_fn(forwarded_for));
    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.addr))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    crate::logs::stderr_line(&format!(
        "awsgate: listening on http://{local}/mcp (streamable HTTP) and http://{local}/sse (HTTP+SSE)"
    ));
    if settings.console_token.is_some() {
        crate::logs::stderr_line(&format!("awsgate: operator console on http://{local}/console"));
    }
    let signal = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        // Calls waiting for the console are answered first, and their answers sent, before
        // the sessions and streams end.
        if let Some(console) = closing {
            console.close();
            console.settled(Duration::from_secs(2)).await;
        }
        signal.cancel();
    });
    accept_loop(listener, router, shutdown).await;
    Ok(())
}

/// Most connections open at once, and from one address; past them a new connection takes
/// the slot of the longest-idle one ([`crate::slots`]), so idle sockets lock no one out of
/// `/mcp` or the console.
const MAX_CONNECTIONS: usize = 512;
const MAX_PER_PEER: usize = 384;

/// A connection must send a request's headers within this long of opening, or of its
/// previous response: idle and slow sockets are closed and their descriptors freed.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long shutdown waits for connections (open streams included) before it exits.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);

/// Accepts connections until shutdown, never waiting to accept: `TCP_NODELAY` on each (a
/// kept-alive client would otherwise wait on Nagle's algorithm against delayed ACKs, about
/// 40 ms a call), a header-read timeout that also closes idle keep-alive sockets, and a
/// slot each. On shutdown, every connection is asked to finish, streams end, and after a
/// short grace the rest are dropped.
///
/// Each request carries its connection's [`PeerAddr`].
async fn accept_loop(listener: tokio::net::TcpListener, router: Router, shutdown: CancellationToken) {
    let slots = Slots::new(MAX_CONNECTIONS, MAX_PER_PEER);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).keep_alive(true);
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, most likely: wait rather than spin.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Every slot busy with a request: this connection is closed at once.
        let Some(held) = slots.admit(peer.ip()) else { continue };
        let held = Arc::new(held);
        let _ = stream.set_nodelay(true);
        // The client's address reaches calls as `aws:SourceIp`.
        let inner =
            hyper_util::service::TowerToHyperService::new(router.clone().layer(axum::Extension(PeerAddr(peer))));
        let evicted = held.evicted.clone();
        let service = hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let busy = held.busy();
            let response = hyper::service::Service::call(&inner, request);
            async move {
                let response = response.await?;
                Ok::<_, std::convert::Infallible>(response.map(|body| axum::body::Body::new(Guarded::new(body, busy))))
            }
        });
        let connection = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = evicted.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(1), connection).await;
                }
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
                }
            }
        });
    }
    // Give open connections the grace period to finish, then return (and exit).
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while slots.open() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// 401 for a request without a token awsgate accepts. With an OIDC issuer, where to
/// learn how to get one (RFC 9728, as the MCP authorization spec has clients look).
fn challenge(identity: &crate::agents::Identity, host: Option<&str>, why: Option<&str>) -> Response {
    let mut value = "Bearer".to_string();
    if let (Some(_), Some(host)) = (identity.verifier(), host) {
        value.push_str(&format!(" resource_metadata=\"http://{host}{METADATA_PATH}\""));
    }
    if why.is_some() {
        value.push_str(if value.len() > 6 { ", error=\"invalid_token\"" } else { " error=\"invalid_token\"" });
    }
    let message = match why {
        Some(_) => "the bearer token is not one awsgate accepts (unknown, expired, or not for this gateway)",
        None => "a bearer token is needed: each agent sends its own",
    };
    let mut response = (StatusCode::UNAUTHORIZED, message.to_string()).into_response();
    if let Ok(value) = header::HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Liveness and readiness, for load balancers and orchestrators: no authentication.
const HEALTH_PATH: &str = "/healthz";
const READY_PATH: &str = "/readyz";
const REPLICA_READY_PATH: &str = "/readyz/replica";

/// 200 while the server serves.
async fn healthz() -> Response {
    crate::metrics::health(None)
}

/// 200 when calls can be served: a policy is in force, the audit log takes records and the
/// shared store (if any) answers; else 503 with the reason.
async fn readyz(State(state): State<LegacyState>) -> Response {
    crate::metrics::health(Some(state.shared.trouble()))
}

/// 200 when this replica itself can serve (its policy, its audit log), whatever the shared
/// store says: what a load balancer checks, since the store is the same for every replica
/// and taking them all out would turn each agent's `Unavailable` into a bare HTTP error.
async fn replica_readyz(State(state): State<LegacyState>) -> Response {
    crate::metrics::health(Some(state.shared.replica_trouble()))
}

/// Where the RFC 9728 protected resource metadata is served.
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The protected resource metadata (RFC 9728): the audience tokens must be for, and the
/// issuer that gives them. No authentication: clients read it to learn how to get a token.
async fn resource_metadata(State(guard): State<Arc<Guard>>) -> Response {
    let identity = guard.identity.as_ref().map(|i| i.current());
    let Some(oidc) = identity.as_ref().and_then(|i| i.verifier()).map(|v| v.settings()) else {
        return refuse(StatusCode::NOT_FOUND, "no OAuth authorization server is configured");
    };
    let body = serde_json::json!({
        "resource": oidc.audience,
        "authorization_servers": [oidc.issuer],
        "bearer_methods_supported": ["header"],
    });
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body.to_string())
        .into_response()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let mut response = (status, message.to_string()).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    response
}

/// Host and Origin first (a browser page must not reach a local server through DNS
/// rebinding), then the bearer token, then the body size.
async fn check_request(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).and_then(host_name);
    if guard.loopback && !host.as_deref().is_some_and(|h| LOOPBACK_HOSTS.contains(&h)) {
        return refuse(StatusCode::FORBIDDEN, "Host header not allowed");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin.to_str().ok().and_then(origin_host).is_some_and(|origin_host| {
            LOOPBACK_HOSTS.contains(&origin_host.as_str()) || host.as_deref() == Some(origin_host.as_str())
        });
        if !allowed {
            return refuse(StatusCode::FORBIDDEN, "Origin not allowed");
        }
    }
    // How to get a token is public, and so are health and readiness.
    let path = request.uri().path();
    if path.starts_with(METADATA_PATH) || path == HEALTH_PATH || path == READY_PATH || path == REPLICA_READY_PATH {
        return next.run(request).await;
    }
    let raw_host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string);
    if request.uri().query().is_some_and(|q| q.split('&').any(|pair| pair.starts_with("access_token="))) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "a token in the query string is refused: send it in the Authorization header",
        );
    }
    let agent: Arc<str> = match guard.identity.as_ref().map(|i| i.current()) {
        Some(identity) => {
            let identity = &*identity;
            let Some(token) = crate::guard::bearer(headers) else {
                return challenge(identity, raw_host.as_deref(), None);
            };
            match identity.resolve(token).await {
                crate::agents::Resolved::Agent(agent) => agent.into(),
                crate::agents::Resolved::NoAgent(subject) => {
                    tracing::info!(subject = %crate::catalog::args::printable(&subject), "refused a valid token that names no agent");
                    return refuse(
                        StatusCode::FORBIDDEN,
                        "the token is valid, but no agent of this gateway has its subject",
                    );
                }
                crate::agents::Resolved::Refused(why) => {
                    tracing::info!("refused a bearer token: {why}");
                    return challenge(identity, raw_host.as_deref(), Some(&why));
                }
            }
        }
        None => {
            if let Some(token) = &guard.token
                && !bearer_matches(headers, token)
            {
                return refuse(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
            }
            crate::agents::DEFAULT_AGENT.into()
        }
    };
    let session = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(session) = &session {
        // A session whose owner is not known is not served: forgotten ones are refused
        // rather than opened to everyone (the client starts a new session on 404).
        let owner = guard.owners.lock().ok().and_then(|mut owners| owners.touch(session));
        match owner {
            Some(owner) if owner != agent => {
                return refuse(StatusCode::FORBIDDEN, "this MCP session belongs to another agent");
            }
            Some(_) => {}
            None => return refuse(StatusCode::NOT_FOUND, "unknown or closed MCP session: start a new one"),
        }
    }
    let too_long = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|length| length > MAX_BODY_BYTES);
    if too_long {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    }
    let mut request = request;
    request.extensions_mut().insert(crate::agents::Authenticated(agent.clone()));
    let response = next.run(request).await;
    // A new session (the answer to `initialize`) belongs to the agent that opened it.
    if session.is_none()
        && let Some(opened) = response.headers().get("mcp-session-id").and_then(|v| v.to_str().ok())
        && let Ok(mut owners) = guard.owners.lock()
    {
        owners.insert(opened.to_string(), agent);
    }
    response
}

/// Malformed JSON-RPC posted to `/mcp` gets the error JSON-RPC prescribes, as on stdio,
/// with HTTP 400 as the MCP transport says; rmcp would answer text that is not JSON with 415
/// and a known method with bad params with -32601.
/// Behind a trusted proxy (`--trusted-proxy`), the agent's address from `X-Forwarded-For`
/// replaces the connection's, for `aws:SourceIp` and the per-address guards; a header that
/// cannot be read one way is refused.
async fn forwarded_for(mut request: Request, next: Next) -> Response {
    if let Some(PeerAddr(peer)) = request.extensions().get::<PeerAddr>().copied() {
        match crate::forwarded::client_ip(peer.ip(), request.headers()) {
            Ok(ip) if ip == peer.ip() => {}
            Ok(ip) => {
                request.extensions_mut().insert(PeerAddr(SocketAddr::new(ip, peer.port())));
            }
            Err(why) => return refuse(StatusCode::BAD_REQUEST, &why),
        }
    }
    next.run(request).await
}

async fn check_json_rpc(request: Request, next: Next) -> Response {
    if request.method() == axum::http::Method::DELETE {
        // rmcp ends the session with 202; the MCP SDKs expect 200 or 204 (the Python SDK
        // logs "Session termination failed: 202" on every close).
        let mut response = next.run(request).await;
        if response.status() == StatusCode::ACCEPTED {
            *response.status_mut() = StatusCode::NO_CONTENT;
        }
        return response;
    }
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    };
    match wire::decode(&bytes) {
        wire::Decoded::Message(_) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        wire::Decoded::Reply(error) => {
            (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], error.to_string()).into_response()
        }
        wire::Decoded::Ignore => StatusCode::ACCEPTED.into_response(),
    }
}

/// The handler's side of an HTTP+SSE session: messages POSTed to `/message` come in,
/// answers go out as SSE events.
struct ChannelTransport {
    outbox: mpsc::Sender<ServerJsonRpcMessage>,
    inbox: mpsc::Receiver<ClientJsonRpcMessage>,
}

impl Transport<RoleServer> for ChannelTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let outbox = self.outbox.clone();
        async move {
            outbox
                .send(item)
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the SSE client went away"))
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        self.inbox.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inbox.close();
        Ok(())
    }
}

/// Removes a legacy session when its SSE stream is dropped (the client went away), which
/// closes the handler's inbox and ends the session.
struct SessionGuard {
    sessions: Arc<LegacySessions>,
    id: String,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if let Ok(mut inboxes) = self.sessions.inboxes.lock() {
            inboxes.remove(&self.id);
        }
    }
}

async fn sse_connect(
    State(state): State<LegacyState>,
    Extension(agent): Extension<crate::agents::Authenticated>,
) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (to_handler, inbox) = mpsc::channel(64);
    let (outbox, to_client) = mpsc::channel::<ServerJsonRpcMessage>(64);
    let (errors, error_events) = mpsc::channel::<String>(16);
    if let Ok(mut inboxes) = state.sessions.inboxes.lock() {
        inboxes.insert(id.clone(), Inbox { messages: to_handler, errors, agent: agent.0.clone() });
    }
    let agent_name = agent.0.clone();
    let gateway = Gateway::new(state.shared.clone(), "sse", Some(agent.0));
    tokio::spawn(async move {
        match gateway.serve(ChannelTransport { outbox, inbox }).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(error) => tracing::warn!(%error, "HTTP+SSE session ended during initialization"),
        }
    });
    let guard = SessionGuard { sessions: state.sessions.clone(), id: id.clone() };
    let endpoint = Event::default().event("endpoint").data(format!("/message?sessionId={id}"));
    let session_header = id.clone();
    let answers = stream::unfold((to_client, guard), |(mut receiver, guard)| async move {
        let message = receiver.recv().await?;
        Some((serde_json::to_string(&message).unwrap_or_default(), (receiver, guard)))
    });
    let errors =
        stream::unfold(
            error_events,
            |mut receiver| async move { receiver.recv().await.map(|error| (error, receiver)) },
        );
    // The stream lasts as long as the session (its answers); errors join it meanwhile.
    let answers = answers.map(Some).chain(stream::once(std::future::ready(None)));
    let events = stream::select(answers, errors.map(Some).chain(stream::pending()))
        .take_while(|data| std::future::ready(data.is_some()))
        .filter_map(std::future::ready)
        .map(|data| Ok::<_, Infallible>(Event::default().event("message").data(data)));
    // The stream ends on shutdown, and when a reload removes its agent.
    let removed = {
        let (shared, agent) = (state.shared.clone(), agent_name.clone());
        async move { shared.removed(&agent).await }
    };
    let events = stream::once(async move { Ok(endpoint) })
        .chain(events)
        .take_until(state.shutdown.cancelled_owned())
        .take_until(removed);
    // The session's id in a header too, as the streamable transport sends it: a load
    // balancer in front of replicas pins the session's POSTs (`?sessionId=`) by it.
    let header = [(axum::http::HeaderName::from_static("mcp-session-id"), session_header)];
    (header, Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))).into_response()
}

#[derive(Debug, Deserialize)]
struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

async fn sse_message(
    State(state): State<LegacyState>,
    Extension(agent): Extension<crate::agents::Authenticated>,
    Query(query): Query<SessionQuery>,
    body: Bytes,
) -> Response {
    let inbox = state.sessions.inboxes.lock().ok().and_then(|inboxes| inboxes.get(&query.session_id).cloned());
    let Some(inbox) = inbox else {
        return refuse(StatusCode::NOT_FOUND, "unknown or closed session");
    };
    if inbox.agent != agent.0 {
        return refuse(StatusCode::FORBIDDEN, "this MCP session belongs to another agent");
    }
    let message: ClientJsonRpcMessage = match wire::decode(&body) {
        wire::Decoded::Message(message) => *message,
        wire::Decoded::Reply(error) => {
            // On the stream, where the client waits for its answer, and in the POST's
            // answer. A stream too far behind to take it still has the POST's.
            let error = error.to_string();
            let _ = inbox.errors.try_send(error.clone());
            return (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], error).into_response();
        }
        wire::Decoded::Ignore => return (StatusCode::ACCEPTED, Body::from("Accepted")).into_response(),
    };
    // A session whose handler does not take its messages must not hold the request open.
    match tokio::time::timeout(HEADER_TIMEOUT, inbox.messages.send(message)).await {
        Ok(Ok(())) => (StatusCode::ACCEPTED, Body::from("Accepted")).into_response(),
        Ok(Err(_)) => refuse(StatusCode::GONE, "the session has ended"),
        Err(_) => refuse(StatusCode::SERVICE_UNAVAILABLE, "the session is not taking messages; try again"),
    }
}
