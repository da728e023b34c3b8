//! The AWS-protocol sidecar: agents that bring their own SDK or CLI point
//! `AWS_ENDPOINT_URL` here and sign with an agent key. Each request is verified
//! ([`verify`]), recognized ([`operation`]), judged by the same pipeline as an MCP tool
//! call, and forwarded signed with awsgate's credentials ([`forward`]). Refusals are the
//! protocol's own errors ([`reply`]), so SDKs raise their usual exceptions.

pub mod forward;
pub mod keys;
pub mod operation;
pub mod reply;
pub mod verify;

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
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use self::forward::{Checked, Payload, SidecarBody, Upstream};
use self::keys::AgentKeys;
use self::operation::{Judged, Unjudged};
use self::reply::Refusal;
use crate::audit::Client;
use crate::console::Waited;
use crate::pipeline::{Call, CallError, Live, Origin, Pipeline};
use crate::policy::{ApprovalChannel, UnknownOperations};

/// Largest body of a JSON or query request (buffered to verify and sign its hash). S3
/// bodies stream and have no such bound. Lambda's own limit is 6 MB.
pub const MAX_BUFFERED_BODY: usize = 8 * 1024 * 1024;

/// Most connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 512;

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a sidecar request needs.
pub struct Sidecar {
    pub live: Arc<Live>,
    /// The operator console, when served: where approvals wait.
    pub console: Option<Arc<crate::console::Console>>,
    pub keys: AgentKeys,
    pub upstream: Upstream,
}

/// Accepts connections until `shutdown`; each is served by hyper, bounded in number.
pub async fn serve(sidecar: Arc<Sidecar>, listener: TcpListener, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => return,
            permit = slots.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => return },
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "sidecar: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let sidecar = sidecar.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |request| {
                let sidecar = sidecar.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&sidecar, peer, request).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(10), connection).await;
                }
            }
        });
    }
}

/// The signing name from the Authorization header or the presigned query, to tell how
/// the body is read before the signature is checked.
fn signing_name(parts: &http::request::Parts) -> Option<String> {
    let credential = match parts.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(header) => {
            header.split("Credential=").nth(1).map(|c| c.split([',', ' ']).next().unwrap_or_default().to_string())
        }
        None => verify::form_urlencoded_pairs(parts.uri.query().unwrap_or_default())
            .into_iter()
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.into_owned()),
    }?;
    credential.split('/').nth(3).map(str::to_string)
}

async fn handle(sidecar: &Sidecar, peer: SocketAddr, request: http::Request<Incoming>) -> http::Response<SidecarBody> {
    let (parts, body) = request.into_parts();
    let service = signing_name(&parts).unwrap_or_default();
    let protocol = reply::protocol_of(&service, &parts);
    let head = parts.method == http::Method::HEAD;
    let refuse = |refusal: Refusal| reply::error(protocol, &service, head, &refusal);
    if parts.headers.get(http::header::HOST).is_none() {
        return refuse(Refusal::bad_request("InvalidRequest", "the request has no Host header".into()));
    }
    // S3 bodies stream; the others are read whole (bounded) to check their hash.
    let (buffered, stream) = if service == "s3" {
        (Bytes::new(), Some(body))
    } else {
        // A client that sends its body slowly holds a connection: it has the call's
        // timeout to finish.
        let limit = Duration::from_secs(sidecar.live.current().policy().document().limits.call_timeout_seconds);
        match tokio::time::timeout(limit, Limited::new(body, MAX_BUFFERED_BODY).collect()).await {
            Ok(Ok(collected)) => (collected.to_bytes(), None),
            Err(_) => {
                return refuse(Refusal::new(
                    408,
                    "RequestTimeout",
                    format!("the request body did not arrive within call_timeout_seconds ({} s)", limit.as_secs()),
                ));
            }
            Ok(Err(_)) => {
                return refuse(Refusal::new(
                    413,
                    "RequestEntityTooLarge",
                    format!("the request body is larger than awsgate's limit of {MAX_BUFFERED_BODY} bytes"),
                ));
            }
        }
    };
    let signed_body = (service != "s3").then_some(&buffered[..]);
    let signed = match verify::verify(&parts, signed_body, &sidecar.keys, SystemTime::now()) {
        Ok(signed) => signed,
        Err(error) => {
            tracing::info!(code = error.code(), %peer, "sidecar: refused a request's signature");
            return refuse(Refusal::new(error.status(), error.code(), error.message()));
        }
    };
    if signed.content_sha256.as_deref().is_some_and(|h| h.starts_with("STREAMING-AWS4-HMAC-SHA256")) {
        return refuse(Refusal::new(
            501,
            "NotImplemented",
            "awsgate does not take signed aws-chunked uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD); use UNSIGNED-PAYLOAD or the unsigned trailer form".into(),
        ));
    }
    // The policy in force when the request arrived decides it, even if a reload comes.
    let current = sidecar.live.current();
    let pipeline: &Pipeline = &current;
    let operation = operation::recognize(&parts, &signed.service, &buffered, pipeline.scope());
    let origin = Origin {
        transport: "sidecar",
        session: format!("agent:{}", signed.key.name),
        client: client_of(&parts),
        agent: Some(signed.key.name.clone()),
        source_ip: Some(peer.ip()),
    };
    let full_name = operation.full_name();
    let operation::Operation { name, writes, bucket, virtual_host, judged, .. } = operation;
    let mut call = pipeline.begin(&origin, &signed.key.access_key_id, &name);
    let never = CancellationToken::new();
    if let Err(error) = call.admit().await {
        return reply::error(protocol, &service, head, &Refusal::from_call(&error, &call.call_id));
    }
    let judged: Vec<Judged> = match judged {
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
    let mut approved = false;
    let mut first: Option<(String, Vec<String>)> = None;
    for mut one in judged {
        call.set_action(one.action.clone());
        match call.judge(&mut one.prepared, &never).await {
            Ok(allowed) if allowed.approval_required && !approved => {
                let asked = Approval { sidecar, pipeline, parts: &parts, buffered: &buffered, signed: &signed };
                let resources = one.prepared.resources.clone();
                let need = Need::Approval(allowed.statement);
                if let Err(error) = asked.ask(&mut call, &one.action.clone(), &resources, need, &name).await {
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
        let asked = Approval { sidecar, pipeline, parts: &parts, buffered: &buffered, signed: &signed };
        if let Err(error) = asked.ask(&mut call, action, resources, Need::MfaCode, &name).await {
            return reply::error(protocol, &service, head, &Refusal::from_call(&error, &call.call_id));
        }
    }
    let payload = match stream {
        None => Payload::Bytes(buffered),
        Some(body) => {
            let body: SidecarBody = match signed.content_sha256.as_deref() {
                Some(hash) if hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
                    Checked::new(body, hash.to_string()).boxed()
                }
                _ => body.map_err(Into::into).boxed(),
            };
            Payload::Stream { body, content_sha256: signed.content_sha256.clone() }
        }
    };
    let upstream = &sidecar.upstream;
    let send = async {
        let response = upstream.send(bucket.as_deref(), virtual_host, &signed.service, &parts, payload).await?;
        let request_id = reply::request_id(response.headers());
        Ok((response, request_id))
    };
    match call.run(writes, send, &never).await {
        Ok(response) => reply::passthrough(response),
        Err(error) => reply::error(protocol, &service, head, &Refusal::from_call(&error, &call.call_id)),
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
    parts: &'a http::request::Parts,
    buffered: &'a Bytes,
    signed: &'a verify::Signed<'a>,
}

/// What the operator is asked for.
#[derive(Clone, Copy)]
enum Need<'a> {
    /// A yes, for `approval: required` (the statement); with the MFA code when the role needs one.
    Approval(Option<&'a str>),
    /// Only the MFA code the role needs for a new session.
    MfaCode,
}

impl Approval<'_> {
    async fn ask(
        &self,
        call: &mut Call<'_>,
        action: &str,
        resources: &[String],
        need: Need<'_>,
        operation: &str,
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
            tool: operation.to_string(),
            action: action.to_string(),
            resources: resources.to_vec(),
            statement: match need {
                Need::Approval(statement) => statement.map(str::to_string),
                Need::MfaCode => None,
            },
            arguments: self.request_line(),
            transport: origin.transport,
            session: origin.session.clone(),
            agent: origin.agent.clone(),
            client: origin.client.name.clone(),
            policy: self.pipeline.policy().name().to_string(),
            asked_at: crate::audit::now_rfc3339(),
            needs_mfa: mfa.is_some(),
            status: "pending",
        };
        let fingerprint = format!("sidecar\n{}\n{}\n{}", origin.session, self.request_line(), self.body_digest());
        let waited = console.wait(&fingerprint, summary, settings, &CancellationToken::new(), |_| async {}).await;
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
            Waited::Denied { id } => {
                ("declined", refuse(&format!("an operator denied it in the console (approval `{id}`)")))
            }
            Waited::TimedOut { id } => (
                "timed_out",
                refuse(&format!("no operator decided within {} s (approval `{id}`)", settings.timeout_seconds)),
            ),
            Waited::Unavailable(why) => ("unavailable", refuse(&why)),
            Waited::Cancelled => ("unavailable", refuse("the request was cancelled")),
        };
        if approval {
            call.approval(outcome);
        }
        Err(call.fail(error).await)
    }

    /// The request as the operator reads it: method and path, and the query without any
    /// presigned-URL signature.
    fn request_line(&self) -> String {
        let pairs = verify::form_urlencoded_pairs(self.parts.uri.query().unwrap_or_default());
        let shown: Vec<String> = pairs
            .iter()
            .filter(|(name, _)| !name.to_ascii_lowercase().starts_with("x-amz-"))
            .map(|(n, v)| if v.is_empty() { n.to_string() } else { format!("{n}={v}") })
            .collect();
        let path = self.parts.uri.path();
        if shown.is_empty() {
            format!("{} {path}", self.parts.method)
        } else {
            format!("{} {path}?{}", self.parts.method, shown.join("&"))
        }
    }

    /// What binds an approval to this body: its signed hash, or the hash of a buffered
    /// body. An S3 body sent unsigned is not bound.
    fn body_digest(&self) -> String {
        match self.signed.content_sha256.as_deref() {
            Some(hash) if hash.len() == 64 => hash.to_ascii_lowercase(),
            _ if self.buffered.is_empty() => "unsigned".to_string(),
            _ => {
                use sha2::Digest;
                forward::hex(&sha2::Sha256::digest(self.buffered))
            }
        }
    }
}
