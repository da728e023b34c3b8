//! The AWS-protocol sidecar: agents that bring their own SDK or CLI point
//! `AWS_ENDPOINT_URL` here and sign with an agent key. Each request is verified
//! ([`verify`]), recognized ([`operation`]), judged by the same pipeline as an MCP tool
//! call, and forwarded signed with awsgate's credentials ([`forward`]). Refusals are the
//! protocol's own errors ([`reply`]), so SDKs raise their usual exceptions.

pub mod cbor;
pub mod forward;
pub mod keys;
pub mod model;
pub mod operation;
pub mod reply;
pub mod rest;
pub mod s3;
pub mod uploads;
pub mod verify;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use self::forward::{Checked, Payload, SidecarBody, Upstream};
use self::keys::AgentKeys;
use self::operation::{Judged, Unjudged};
use self::reply::Refusal;
use self::wire::{Pairs, Plus};
use crate::audit::Client;
use crate::aws::Scope;
use crate::console::{Cancel, Waited};
use crate::pipeline::{Call, CallError, Live, Origin, Pipeline};
use crate::policy::{ApprovalChannel, UnknownOperations};
use crate::slots::{Guarded, Slots};
use sha2::Digest;

/// Largest body of a JSON or query request (buffered to verify and sign its hash). S3
/// bodies stream and have no such bound. Lambda's own limit is 6 MB.
pub const MAX_BUFFERED_BODY: usize = 8 * 1024 * 1024;

/// Most connections open at once, and from one address; past them a new connection takes
/// the slot of the longest-idle one ([`crate::slots`]).
const MAX_CONNECTIONS: usize = 512;
const MAX_PER_PEER: usize = 384;

/// How long a connection may take to send a request's headers, from its opening or its
/// previous response: idle sockets are closed after it.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long calls in flight may take to finish after SIGTERM or SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The agent an agent key is: its name, the pipeline that judges its requests, and the
/// credentials its requests are sent to AWS with (its policy's).
#[derive(Clone)]
pub struct KeyAgent {
    pub name: Arc<str>,
    pub live: Arc<Live>,
    pub upstream: Arc<Upstream>,
}

/// Which agent each agent key is.
pub enum KeyAgents {
    /// `--policy`: one policy for every key; each key's name is its agent.
    One { live: Arc<Live>, upstream: Arc<Upstream> },
    /// `--agents`: by key name, the agent whose `agent_key` names it; a key no agent
    /// names is refused.
    Named(std::collections::HashMap<String, KeyAgent>),
}

impl KeyAgents {
    /// The agent of the key named `key`.
    pub fn of(&self, key: &str) -> Option<KeyAgent> {
        match self {
            KeyAgents::One { live, upstream } => {
                Some(KeyAgent { name: key.into(), live: live.clone(), upstream: upstream.clone() })
            }
            KeyAgents::Named(agents) => agents.get(key).cloned(),
        }
    }

    /// Any pipeline, for the limits that hold before a request's key is verified.
    fn any(&self) -> Option<Arc<Live>> {
        match self {
            KeyAgents::One { live, .. } => Some(live.clone()),
            KeyAgents::Named(agents) => agents.values().next().map(|agent| agent.live.clone()),
        }
    }
}

/// Everything a sidecar request needs.
pub struct Sidecar {
    /// Replaced by a reload of the agents file.
    pub agents: std::sync::RwLock<KeyAgents>,
    /// The operator console, when served: where approvals wait.
    pub console: Option<Arc<crate::console::Console>>,
    pub keys: AgentKeys,
    /// Multipart uploads an operator approved: their parts need no new approval.
    pub uploads: uploads::ApprovedUploads,
}

impl Sidecar {
    /// The agent of the key named `key`, as the agents in force say.
    pub fn key_agent(&self, key: &str) -> Option<KeyAgent> {
        self.agents.read().ok().and_then(|agents| agents.of(key))
    }

    /// The agent named `agent`, by whichever key it has.
    pub fn named_agent(&self, agent: &str) -> Option<KeyAgent> {
        match &*self.agents.read().ok()? {
            KeyAgents::Named(agents) => agents.values().find(|a| &*a.name == agent).cloned(),
            KeyAgents::One { .. } => None,
        }
    }

    /// After a reload of the agents file.
    pub fn set_agents(&self, agents: KeyAgents) {
        match self.agents.write() {
            Ok(mut current) => *current = agents,
            Err(poisoned) => *poisoned.into_inner() = agents,
        }
    }
}

/// Accepts connections until `shutdown`, never waiting to accept; each is served by hyper
/// while it holds a slot.
pub async fn serve(sidecar: Arc<Sidecar>, listener: TcpListener, shutdown: CancellationToken) {
    let slots = Slots::new(MAX_CONNECTIONS, MAX_PER_PEER);
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "sidecar: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Every slot busy with a request: this connection is closed at once.
        let Some(held) = slots.admit(peer.ip()) else { continue };
        let held = Arc::new(held);
        let _ = stream.set_nodelay(true);
        // hyper does not read while a request is in flight, so it would not see the client
        // go: a watcher on a second handle of the socket does, and a call waiting for an
        // approval then withdraws it, and one not yet sent never starts.
        let gone = CancellationToken::new();
        let stream = match watch_for_close(stream, gone.clone()) {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, "sidecar: cannot watch a connection");
                continue;
            }
        };
        let sidecar = sidecar.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let evicted = held.evicted.clone();
            let closed = gone.clone();
            let service = service_fn(move |request| {
                let sidecar = sidecar.clone();
                let busy = held.busy();
                let gone = gone.clone();
                async move {
                    let response = handle(&sidecar, peer, request, &gone).await;
                    Ok::<_, std::convert::Infallible>(response.map(|body| Guarded::new(body, busy).boxed()))
                }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let _ended = closed.clone().drop_guard();
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
    // Accepting has stopped; calls in flight finish (and write their records) within the
    // grace period before the process exits.
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while slots.open() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Watches a second handle of `stream` for the client closing it (or resetting it), and
/// cancels `gone` then. hyper does not read while a request is in flight, so it would not
/// see the client go. The watcher ends when `gone` is cancelled (the connection's task
/// cancels it when it ends).
fn watch_for_close(stream: tokio::net::TcpStream, gone: CancellationToken) -> std::io::Result<tokio::net::TcpStream> {
    let std_stream = stream.into_std()?;
    let second = tokio::net::TcpStream::from_std(std_stream.try_clone()?)?;
    let stream = tokio::net::TcpStream::from_std(std_stream)?;
    tokio::spawn(async move {
        loop {
            let ready = tokio::select! {
                () = gone.cancelled() => return,
                ready = second.ready(tokio::io::Interest::READABLE) => ready,
            };
            match ready {
                Ok(ready) if !ready.is_read_closed() => {
                    // Bytes waiting for hyper (a body, the next request): look again soon.
                    tokio::select! {
                        () = gone.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                }
                _ => {
                    gone.cancel();
                    return;
                }
            }
        }
    });
    Ok(stream)
}

async fn handle(
    sidecar: &Sidecar,
    peer: SocketAddr,
    request: http::Request<Incoming>,
    gone: &CancellationToken,
) -> http::Response<SidecarBody> {
    let (parts, body) = request.into_parts();
    let head = parts.method == http::Method::HEAD;
    let guessed = reply::protocol_of("", &parts);
    // The query and the signature are read once, strictly; the service the signature names
    // decides how the body is read and which model reads the request.
    let query = match Pairs::parse(parts.uri.query().unwrap_or_default(), Plus::Refused, "the query") {
        Ok(query) => query,
        Err(why) => return reply::error(guessed, "", head, &Refusal::bad_request("InvalidRequest", why)),
    };
    let claimed = match verify::claim(&parts, &query) {
        Ok(claimed) => claimed,
        Err(error) => {
            tracing::info!(code = error.code(), %peer, "sidecar: refused a request's signature");
            return reply::error(guessed, "", head, &Refusal::new(error.status(), error.code(), error.message()));
        }
    };
    let service = claimed.service.to_string();
    let protocol = reply::protocol_of(&service, &parts);
    let refuse = |refusal: Refusal| reply::error(protocol, &service, head, &refusal);
    if parts.headers.get(http::header::HOST).is_none() {
        return refuse(Refusal::bad_request("InvalidRequest", "the request has no Host header".into()));
    }
    // What the request asks, without a presigned request's signature.
    let asked =
        if claimed.presigned() { query.without(|n| verify::PRESIGN_PARAMS.contains(&n)) } else { query.clone() };
    // S3 bodies stream (but for DeleteObjects, whose keys are in it); the others are read
    // whole (bounded) to check their hash and read them.
    let limit = if service != "s3" {
        Some(MAX_BUFFERED_BODY)
    } else if s3::buffers_body(&parts, &asked) {
        Some(s3::MAX_DELETE_DOCUMENT)
    } else {
        None
    };
    let (buffered, stream) = match limit {
        None => (None, Some(body)),
        Some(limit) => match read_whole(sidecar, body, limit).await {
            Ok(bytes) => (Some(bytes), None),
            Err(refusal) => return refuse(refusal),
        },
    };
    let signed = match verify::verify(&claimed, &parts, buffered.as_deref(), &sidecar.keys, SystemTime::now()) {
        Ok(signed) => signed,
        Err(error) => {
            tracing::info!(code = error.code(), %peer, "sidecar: refused a request's signature");
            return refuse(Refusal::new(error.status(), error.code(), error.message()));
        }
    };
    // A streamed body that is empty must be the empty body the signature names.
    let empty = stream.as_ref().is_some_and(http_body::Body::is_end_stream);
    let claims_other = signed.content_sha256.as_deref().is_some_and(|h| {
        h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) && !h.eq_ignore_ascii_case(verify::EMPTY_SHA256)
    });
    if empty && claims_other {
        return refuse(Refusal::bad_request(
            "XAmzContentSHA256Mismatch",
            "the request has no body, but its x-amz-content-sha256 is the hash of one".into(),
        ));
    }
    if signed.content_sha256.as_deref().is_some_and(|h| h.starts_with("STREAMING-AWS4-HMAC-SHA256")) {
        return refuse(Refusal::new(
            501,
            "NotImplemented",
            "awsgate does not take signed aws-chunked uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD); use UNSIGNED-PAYLOAD or the unsigned trailer form".into(),
        ));
    }
    // The key's agent; its policy in force when the request arrived decides it, even if a
    // reload comes; in the region the request was signed for.
    let Some(KeyAgent { name: agent, live, upstream }) = sidecar.key_agent(&signed.key.name) else {
        tracing::info!(%peer, key = %signed.key.name, "sidecar: refused a key that no agent names");
        return refuse(Refusal::new(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.".into(),
        ));
    };
    let current = live.current();
    let pipeline: &Pipeline = &current;
    let scope = Scope { region: signed.region.clone(), ..pipeline.scope().clone() };
    let buffered = buffered.unwrap_or_default();
    let mut operation = match operation::recognize(&parts, &asked, &signed.service, &buffered, &scope) {
        Ok(operation) => operation,
        Err(why) => {
            tracing::info!(%peer, reason = %why, "sidecar: refused a request that cannot be read one way only");
            return refuse(Refusal::bad_request("InvalidRequest", why));
        }
    };
    if operation.forward.body_sha256.is_none() {
        operation.forward.body_sha256 =
            signed.content_sha256.clone().filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    // Behind a trusted proxy, the agent's own address (`--trusted-proxy`).
    let source_ip = match crate::forwarded::client_ip(peer.ip(), &parts.headers) {
        Ok(ip) => ip,
        Err(why) => return refuse(Refusal::bad_request("InvalidRequest", why)),
    };
    let origin = Origin {
        transport: "sidecar",
        session: format!("agent:{agent}"),
        client: client_of(&parts),
        agent: Some(agent.to_string()),
        source_ip: Some(source_ip),
    };
    let full_name = operation.full_name();
    let name = operation.name.clone();
    let mut call = pipeline.begin(&origin, &signed.key.access_key_id, &name);
    call.set_region(signed.region.clone());
    if let Err(error) = call.admit().await {
        return reply::error(protocol, &service, head, &Refusal::from_call(&error, &call.call_id));
    }
    let judged: Vec<Judged> = match std::mem::replace(&mut operation.judged, Ok(Vec::new())) {
        Ok(judged) => judged,
        Err(Unjudged::Invalid(why)) => {
            call.set_action(full_name.clone());
            let error = call.fail(CallError::InvalidArgument(why)).await;
            return reply::error(protocol, &service, head, &Refusal::from_call(&error, &call.call_id));
        }
        Err(Unjudged::Unmapped(why)) => {
            let policy = pipeline.policy();
            call.set_action(full_name.clone());
            let unknown = policy.document().unknown_operations;
            if !(unknown == UnknownOperations::AllowIfAllowedEverywhere && policy.allows_everywhere(&full_name)) {
                let reason = match unknown {
                    UnknownOperations::Deny => format!("{why}; `sidecar.unknown_operations` is `deny`"),
                    UnknownOperations::AllowIfAllowedEverywhere => {
                        format!(
                            "{why}, and no unconditional allow covers `{full_name}` on `*` without a deny naming it"
                        )
                    }
                };
                let error = call.refuse("*", reason).await;
                return reply::error(protocol, &service, head, &Refusal::from_call(&error, &call.call_id));
            }
            vec![Judged {
                action: full_name.clone(),
                prepared: crate::catalog::Prepared::judged_only(vec!["*".into()]),
            }]
        }
    };
    // A part, completion or abort of a multipart upload an operator approved is covered by
    // that approval.
    let covered = operation.upload.as_ref().is_some_and(|upload| sidecar.uploads.covers(&signed.key.name, upload));
    let mut stream = stream;
    let mut approved = false;
    let mut first: Option<(String, Vec<String>)> = None;
    for mut one in judged {
        call.set_action(one.action.clone());
        match call.judge(&mut one.prepared, gone).await {
            Ok(allowed) if allowed.approval_required && covered && !approved => {
                call.approval("upload_approved");
                approved = true;
            }
            Ok(allowed) if allowed.approval_required && !approved => {
                // The approval binds the body: one not signed is read (bounded) and hashed first.
                if operation.forward.body_sha256.is_none()
                    && let Some(body) = stream.take()
                {
                    match read_whole(sidecar, body, MAX_BUFFERED_BODY).await {
                        Ok(bytes) => {
                            operation.forward.body_sha256 = Some(forward::hex(&sha2::Sha256::digest(&bytes)));
                            stream = None;
                            operation.forward.body = Some(bytes);
                        }
                        Err(_) => {
                            let error = call
                                .fail(CallError::InvalidArgument(format!(
                                    "`{}` needs a human's approval, which binds the body; a body sent unsigned is read first, up to {MAX_BUFFERED_BODY} bytes, and this one is larger or did not arrive: sign the payload (x-amz-content-sha256)",
                                    one.action
                                )))
                                .await;
                            return reply::error(protocol, &service, head, &Refusal::from_call(&error, &call.call_id));
                        }
                    }
                }
                let asked = Approval::of(sidecar, pipeline, &operation, gone);
                let resources = one.prepared.resources.clone();
                let need = Need::Approval(allowed.statement);
                if let Err(error) = asked.ask(&mut call, &one.action.clone(), &resources, need).await {
                    return reply::error(protocol, &service, head, &Refusal::from_call(&error, &call.call_id));
                }
                approved = true;
            }
            Ok(_) => {}
            Err(error) => return reply::error(protocol, &service, head, &Refusal::from_call(&error, &call.call_id)),
        }
        first.get_or_insert_with(|| (one.action.clone(), one.prepared.resources.clone()));
    }
    // A role that needs a new session with an MFA code: the operator gives it in the console
    // (an approval above already asked for it).
    let needs_code = pipeline.aws(false).mfa.as_ref().is_some_and(|mfa| mfa.needs_code());
    if needs_code
        && !approved
        && let Some((action, resources)) = &first
    {
        let asked = Approval::of(sidecar, pipeline, &operation, gone);
        if let Err(error) = asked.ask(&mut call, action, resources, Need::MfaCode).await {
            return reply::error(protocol, &service, head, &Refusal::from_call(&error, &call.call_id));
        }
    }
    let payload = match (stream, operation.forward.body.take()) {
        (_, Some(rebuilt)) if service != "s3" => Payload::Bytes(rebuilt),
        (_, Some(read)) => Payload::Stream { body: forward::full(read), content_sha256: signed.content_sha256.clone() },
        (None, None) => Payload::Bytes(buffered),
        (Some(body), None) => {
            let body: SidecarBody = match signed.content_sha256.as_deref() {
                Some(hash) if hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
                    Checked::new(body, hash.to_string()).boxed()
                }
                _ => body.map_err(Into::into).boxed(),
            };
            Payload::Stream { body, content_sha256: signed.content_sha256.clone() }
        }
    };
    let upstream = &*upstream;
    let forwarded = &operation.forward;
    let remember = approved && operation.creates_upload;
    let target = uploads::target(&operation.forward);
    let send = async {
        let response = upstream.send(forwarded, &signed.service, &signed.region, payload).await?;
        let request_id = reply::request_id(response.headers());
        // AWS's error answers are read (they are small) for their code, for the result
        // record, and passed on as they came.
        let (response, code) = reply::error_code(response).await;
        Ok((response, request_id, code))
    };
    match call.run_answered(operation.writes, send, gone).await {
        Ok(response) if remember && response.status().is_success() => {
            let timeout = Duration::from_secs(pipeline.policy().document().approvals.timeout_seconds);
            sidecar.uploads.remember(&signed.key.name, target, response, timeout).await
        }
        Ok(response) => response,
        Err(error) => reply::error(protocol, &service, head, &Refusal::from_call(&error, &call.call_id)),
    }
}

/// Reads a body whole, up to `limit` bytes, within the policy's call timeout.
async fn read_whole(sidecar: &Sidecar, body: Incoming, limit: usize) -> Result<Bytes, Refusal> {
    // A client that sends its body slowly holds a connection: it has the call's timeout.
    let any = sidecar.agents.read().ok().and_then(|agents| agents.any());
    let seconds = any.map_or(30, |live| live.current().policy().document().limits.call_timeout_seconds);
    let timeout = Duration::from_secs(seconds);
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Err(_) => Err(Refusal::new(
            408,
            "RequestTimeout",
            format!("the request body did not arrive within call_timeout_seconds ({} s)", timeout.as_secs()),
        )),
        Ok(Err(_)) => Err(Refusal::new(
            413,
            "RequestEntityTooLarge",
            format!("the request body is larger than awsgate's limit of {limit} bytes"),
        )),
    }
}

/// The SDK, from its User-Agent (`Boto3/1.44.5 md/...` is `Boto3` `1.44.5`).
fn client_of(parts: &http::request::Parts) -> Client {
    let agent = parts.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let first = agent.split_whitespace().next().unwrap_or_default();
    let (name, version) = first.split_once('/').unwrap_or((first, ""));
    let clean = |s: &str| s.chars().filter(|c| c.is_ascii_graphic()).take(64).collect::<String>();
    Client { name: clean(name), version: clean(version) }
}

#[derive(Debug, Clone)]
pub struct SidecarOptions {
    pub listen: String,
    pub agent_keys: std::path::PathBuf,
}

/// Binds the sidecar's address; an error names it.
pub async fn bind(listen: &str) -> Result<TcpListener, String> {
    TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on `{listen}` for the sidecar: {e}"))
}

/// A request that a statement says needs a human's yes, put before an operator in the
/// console. Without the console, it is refused.
struct Approval<'a> {
    sidecar: &'a Sidecar,
    pipeline: &'a Pipeline,
    /// The operation and its judged input, as the operator reads them.
    arguments: String,
    /// The hash of the request as it will be sent: what the approval binds.
    fingerprint: String,
    /// Cancelled when the client closes its connection.
    gone: &'a CancellationToken,
}

/// What the operator is asked for.
#[derive(Clone, Copy)]
enum Need<'a> {
    /// A yes, for `approval: required` (the statement); with the MFA code when the role needs one.
    Approval(Option<&'a str>),
    /// Only the MFA code the role needs for a new session.
    MfaCode,
}

impl<'a> Approval<'a> {
    /// What the operator is asked about `operation`: its summary, and the hash of the
    /// request as it will be sent.
    fn of(
        sidecar: &'a Sidecar,
        pipeline: &'a Pipeline,
        operation: &operation::Operation,
        gone: &'a CancellationToken,
    ) -> Approval<'a> {
        Approval {
            sidecar,
            pipeline,
            arguments: operation.summary(),
            fingerprint: operation.forward.fingerprint(),
            gone,
        }
    }
}

impl Approval<'_> {
    async fn ask(
        &self,
        call: &mut Call<'_>,
        action: &str,
        resources: &[String],
        need: Need<'_>,
    ) -> Result<(), CallError> {
        let settings = &self.pipeline.policy().document().approvals;
        let refuse = |why: &str| match need {
            Need::Approval(statement) => CallError::ApprovalDenied {
                message: format!(
                    "`{action}` needs a human's approval (statement `{}`): {why}; nothing was sent to AWS",
                    statement.unwrap_or("?")
                ),
            },
            Need::MfaCode => CallError::MfaRequired {
                message: format!(
                    "`{action}` needs a new role session with an MFA code from a human: {why}; nothing was sent to AWS"
                ),
            },
        };
        let approval = matches!(need, Need::Approval(_));
        let console = self.sidecar.console.as_ref().filter(|_| settings.via.contains(&ApprovalChannel::Console));
        let Some(console) = console else {
            let why = if self.sidecar.console.is_none() {
                "the sidecar cannot ask for it: the operator console is not served (`awsgate serve --transport http --console`)"
            } else {
                "the sidecar cannot ask for it: `approvals.via` does not include `console`"
            };
            if approval {
                call.approval("unavailable");
            }
            return Err(call.fail(refuse(why)).await);
        };
        let mfa = self.pipeline.aws(false).mfa.clone().filter(|mfa| mfa.needs_code());
        let origin = call.origin();
        let summary = crate::console::Summary {
            id: String::new(),
            tool: self.arguments.lines().next().unwrap_or_default().to_string(),
            action: action.to_string(),
            resources: resources.to_vec(),
            statement: match need {
                Need::Approval(statement) => statement.map(str::to_string),
                Need::MfaCode => None,
            },
            arguments: self.arguments.clone(),
            transport: origin.transport,
            session: origin.session.clone(),
            agent: origin.agent.clone(),
            client: origin.client.name.clone(),
            policy: self.pipeline.policy().name().to_string(),
            asked_at: crate::audit::now_rfc3339(),
            expires_at: String::new(),
            seconds_left: 0,
            waiting: true,
            needs_mfa: mfa.is_some(),
            status: "pending",
        };
        let fingerprint = format!("sidecar\n{}\n{}", origin.session, self.fingerprint);
        let audit = self.pipeline.shared_audit();
        let cancel = Cancel { token: self.gone, why: "client_gone" };
        let waited = console.wait(&fingerprint, summary, settings, cancel, audit, |_| async {}).await;
        let (outcome, error) = match waited {
            Waited::Approved { mfa_code, .. } => {
                if approval {
                    call.approval("approved");
                }
                if let (Some(mfa), Some(code)) = (mfa, mfa_code) {
                    mfa.provide(code);
                }
                return Ok(());
            }
            Waited::Pending { id } => {
                let message = crate::console::pending_message(action, &id, settings.timeout_seconds);
                ("pending", CallError::ApprovalPending { approval_id: id, message })
            }
            Waited::Denied { id, reason } => {
                ("declined", refuse(&crate::console::denied_message(&id, reason.as_deref())))
            }
            Waited::TimedOut { id } => (
                "timed_out",
                refuse(&format!("no operator decided within {} s (approval `{id}`)", settings.timeout_seconds)),
            ),
            Waited::Unavailable(why) => ("unavailable", refuse(&why)),
            Waited::StoreLost(why) => ("unavailable", CallError::Unavailable(why)),
            Waited::Cancelled => ("unavailable", refuse("the request was cancelled")),
        };
        if approval {
            call.approval(outcome);
        }
        Err(call.fail(error).await)
    }
}
