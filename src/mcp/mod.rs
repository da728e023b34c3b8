//! The only module that knows MCP: the server handler, the transports (stdio, streamable
//! HTTP at `/mcp`, the older HTTP+SSE at `/sse`) and start-up.

mod approval;
mod handler;
mod http;
mod sessions;
mod wire;

use std::path::PathBuf;
use std::sync::Arc;

use rmcp::ServiceExt;

pub use handler::{Gateway, Shared};

use crate::audit::AuditLog;
use crate::aws::{Aws, SetupError};
use crate::catalog;
use crate::pipeline::{Live, Parts, Pipeline};
use crate::policy::{self, PolicyError};

/// How `awsgate serve` was asked to run.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub policy: PathBuf,
    pub http: Option<HttpOptions>,
    pub audit_log: Option<PathBuf>,
    /// Also serve the AWS-protocol sidecar.
    pub sidecar: Option<crate::sidecar::SidecarOptions>,
    /// Reload the policy when its file changes (SIGHUP always reloads it).
    pub watch: bool,
}

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub listen: String,
    pub auth_token_file: Option<PathBuf>,
    /// Most streamable HTTP sessions kept at once (default 1000).
    pub max_sessions: Option<usize>,
    /// Serve the operator console at `/console`.
    pub console: Option<ConsoleOptions>,
}

#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// The operator's token (else `AWSGATE_CONSOLE_TOKEN`).
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Aws(#[from] SetupError),
    #[error("cannot open the audit log `{}`: {source}", path.display())]
    Audit { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Http(String),
    #[error(
        "the derived session policy is {0} characters and AWS allows {max}: use fewer statements or wider patterns, or set `credentials.session_policy: none` and rely on the role's own permissions",
        max = policy::SESSION_POLICY_MAX_CHARS
    )]
    SessionPolicyTooLarge(usize),
    #[error("the MCP session failed: {0}")]
    Session(String),
    #[error(transparent)]
    AgentKeys(#[from] crate::sidecar::keys::KeysError),
    #[error("{0}")]
    Sidecar(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// With a role and `session_policy: derived` (the default), the AssumeRole request carries
/// the policy's own least-privilege IAM policy, so AWS enforces the same boundary.
pub fn derived_session_policy(document: &policy::PolicyDocument) -> Result<Option<String>, ServeError> {
    match &document.credentials {
        Some(c) if c.role_arn.is_some() && c.session_policy == policy::SessionPolicy::Derived => {
            policy::session_policy(document, &catalog::vocabulary())
                .map(Some)
                .map_err(ServeError::SessionPolicyTooLarge)
        }
        _ => Ok(None),
    }
}

/// Loads the policy (refusing to start on one that does not validate), connects to AWS,
/// opens the audit log and serves until the client goes away or a signal arrives.
pub fn serve(options: ServeOptions) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(ServeError::Runtime)?;
    runtime.block_on(run(options))
}

async fn run(options: ServeOptions) -> Result<(), ServeError> {
    let loaded = policy::load_file(&options.policy, &catalog::vocabulary())?;
    for warning in &loaded.warnings {
        tracing::warn!("{}:{warning}", options.policy.display());
    }
    let policy = loaded.policy;
    let policy_hash = loaded.hash;
    let audit_path = options.audit_log.clone().or_else(|| match &policy.document().audit_log {
        policy::AuditLog::File(path) => Some(path.clone()),
        policy::AuditLog::Stderr => None,
    });
    let audit = match &audit_path {
        Some(path) => AuditLog::file(path).map_err(|source| ServeError::Audit { path: path.clone(), source })?,
        None => AuditLog::stderr(),
    };
    // HTTP settings and agent keys are checked before any AWS call, so a bad flag fails
    // at once.
    let http = match &options.http {
        Some(http) => Some(http::Settings::from_options(http)?),
        None => None,
    };
    // The console serves approvals for both front doors, so it is made before either.
    let console = match http.as_ref().and_then(|h| h.console_token()) {
        Some(_) => Some(Arc::new(crate::console::Console::new().map_err(ServeError::Http)?)),
        None => None,
    };
    let sidecar_setup = match &options.sidecar {
        Some(sidecar) => {
            let keys = crate::sidecar::keys::AgentKeys::load(&sidecar.agent_keys)?;
            let listener = crate::sidecar::bind(&sidecar.listen).await.map_err(ServeError::Sidecar)?;
            Some((keys, listener))
        }
        None => None,
    };
    let session_policy = derived_session_policy(policy.document())?;
    let (aws, config) = Aws::connect(policy.document(), session_policy.clone()).await?;
    let scope = aws.scope(&config, policy.document()).await?;
    let caller = crate::conditions::Caller {
        source_ip: None,
        principal_arn: policy.document().credentials.as_ref().and_then(|c| c.role_arn.clone()),
        // Without an endpoint override the SDK calls AWS over HTTPS.
        secure_transport: config.endpoint_url().is_none_or(|url| url.starts_with("https:")),
    };
    let credentials = config.credentials_provider();
    let live = Arc::new(Live::new(Pipeline::new(Parts {
        policy,
        policy_hash,
        aws,
        session_policy,
        scope: scope.clone(),
        audit,
        caller,
    })));
    let background = tokio_util::sync::CancellationToken::new();
    let mut sidecar = None;
    let sidecar_task = match sidecar_setup {
        Some((keys, listener)) => {
            let credentials = credentials
                .ok_or_else(|| ServeError::Sidecar("no AWS credentials to sign forwarded requests with".into()))?;
            let upstream =
                crate::sidecar::forward::Upstream::new(config.endpoint_url().map(str::to_string), credentials, scope)
                    .map_err(ServeError::Sidecar)?;
            let address = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
            tracing::info!(address, agent_keys = keys.len(), "awsgate sidecar listening");
            let serving = Arc::new(crate::sidecar::Sidecar {
                live: live.clone(),
                console: console.clone(),
                keys,
                upstream,
                uploads: Default::default(),
            });
            sidecar = Some(serving.clone());
            Some(tokio::spawn(crate::sidecar::serve(serving, listener, background.clone())))
        }
        None => None,
    };
    let shared = Arc::new(Shared::new(live.clone(), console.clone()));
    let reloading = {
        let shared = shared.clone();
        tokio::spawn(crate::reload::run(
            options.policy.clone(),
            live,
            options.watch,
            background.clone(),
            move |reloaded| {
                let shared = shared.clone();
                let sidecar = sidecar.clone();
                async move {
                    if let (Some(sidecar), Some(credentials)) = (sidecar, reloaded.credentials) {
                        sidecar.upstream.set_credentials(credentials).await;
                    }
                    shared.policy_changed().await;
                }
            },
        ))
    };
    let pipeline = shared.pipeline();
    tracing::info!(
        policy = pipeline.policy().name(),
        mode = pipeline.policy().mode().as_str(),
        tools = shared.tool_names().len(),
        "awsgate ready"
    );
    drop(pipeline);
    match http {
        None => {
            let service = Gateway::new(shared, "stdio")
                .serve(wire::Stdio::start())
                .await
                .map_err(|e| ServeError::Session(e.to_string()))?;
            let waited = service.waiting().await.map_err(|e| ServeError::Session(e.to_string()));
            // The sidecar outlives the stdio session, until a signal.
            if let Some(task) = sidecar_task {
                http::shutdown_signal().await;
                background.cancel();
                let _ = task.await;
            }
            background.cancel();
            let _ = reloading.await;
            waited.map(|_| ())
        }
        Some(settings) => {
            let served = http::serve(shared, settings, console).await;
            background.cancel();
            if let Some(task) = sidecar_task {
                let _ = task.await;
            }
            let _ = reloading.await;
            served
        }
    }
}
