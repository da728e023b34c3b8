//! The gateway, composed: the agents and their pipelines, the audit log, the console, the
//! front doors (MCP over stdio or HTTP, the AWS-protocol sidecar) and the reload, started
//! and stopped together. Above the front doors: `mcp/` knows only MCP and `sidecar/` only
//! the AWS protocols, and neither imports this module.

use std::path::PathBuf;
use std::sync::Arc;

use crate::audit::AuditLog;
use crate::aws::{Aws, SetupError};
use crate::mcp::{self, HttpOptions, Shared};
use crate::pipeline::{Live, Parts, Pipeline};
use crate::policy::{self, PolicyError};

/// How `awsgate serve` was asked to run.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// What judges the calls: one policy, or an agents file.
    pub judged_by: JudgedBy,
    pub http: Option<HttpOptions>,
    pub audit_log: Option<PathBuf>,
    /// Also serve the AWS-protocol sidecar.
    pub sidecar: Option<crate::sidecar::SidecarOptions>,
    /// Reload the policy when its file changes (SIGHUP always reloads it).
    pub watch: bool,
    /// `--replica-id`, in every audit record.
    pub replica: String,
    /// `--metrics-listen`: Prometheus metrics, health and readiness on their own address.
    pub metrics: Option<String>,
    /// `--store`: the address of the Redis or Valkey the replicas share state in.
    pub store: Option<String>,
}

/// `--policy FILE` (one agent, `default`) or `--agents FILE` (with `--agent NAME`, the
/// agent a stdio client is).
#[derive(Debug, Clone)]
pub enum JudgedBy {
    Policy(PathBuf),
    Agents { file: PathBuf, stdio_agent: Option<String> },
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
    #[error(transparent)]
    Agents(#[from] crate::agents::AgentsError),
    #[error("{0}")]
    AgentsUse(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The derived session policy, or why it cannot be sent.
pub fn derived_session_policy(
    document: &policy::PolicyDocument,
    shadow: Option<&policy::Shadow>,
) -> Result<Option<String>, ServeError> {
    crate::aws::derived_session_policy(document, shadow.map(|s| s.policy.document()))
        .map_err(ServeError::SessionPolicyTooLarge)
}

/// Loads the policy (refusing to start on one that does not validate), connects to AWS,
/// opens the audit log and serves until the client goes away or a signal arrives.
pub fn serve(options: ServeOptions) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(ServeError::Runtime)?;
    runtime.block_on(run(options))
}

/// One agent, ready to serve: its pipeline, and what its sidecar requests are signed with.
struct Built {
    name: Arc<str>,
    live: Arc<Live>,
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    endpoint: Option<String>,
    scope: crate::aws::Scope,
    agent_key: Option<String>,
}

/// Each agent to serve, with its policy.
type Agents = Vec<(crate::agents::Agent, policy::Loaded)>;

/// The agents to serve (`default` with the one policy, or each of the agents file's), and
/// who each bearer token is (with `--agents`).
fn agents_of(
    judged_by: &JudgedBy,
    serves_sidecar: bool,
) -> Result<(Agents, Option<crate::agents::Identity>), ServeError> {
    let vocabulary = crate::catalog::vocabulary();
    match judged_by {
        JudgedBy::Policy(path) => {
            let loaded = policy::load_file(path, &vocabulary)?;
            for warning in &loaded.warnings {
                tracing::warn!("{}:{warning}", path.display());
            }
            let agent = crate::agents::Agent {
                name: crate::agents::DEFAULT_AGENT.to_string(),
                policy: path.clone(),
                shadow: None,
                shadow_at: None,
                subject: None,
                token_sha256: None,
                agent_key: None,
                tags: Vec::new(),
                subject_at: None,
            };
            Ok((vec![(agent, loaded)], None))
        }
        JudgedBy::Agents { file, stdio_agent } => {
            let loaded = crate::agents::load(file, &vocabulary)?;
            if let Some(name) = stdio_agent
                && !loaded.file.agents.iter().any(|a| &a.name == name)
            {
                return Err(ServeError::AgentsUse(format!(
                    "`--agent {name}`: the agents file has no agent of that name"
                )));
            }
            let first_log = loaded.policies.first().map(|p| p.policy.document().audit_log.clone());
            for (agent, policy) in loaded.file.agents.iter().zip(&loaded.policies) {
                for warning in &policy.warnings {
                    tracing::warn!(agent = %agent.name, "{}:{warning}", agent.policy.display());
                }
                let document = policy.policy.document();
                // AWS's SourceIdentity is 2 to 64 characters.
                if document.credentials.as_ref().is_some_and(|c| c.role_arn.is_some()) && agent.name.len() < 2 {
                    return Err(ServeError::AgentsUse(format!(
                        "agent `{}` runs on a role, and AssumeRole names it as SourceIdentity, which AWS wants 2 characters or longer: give it a longer name",
                        agent.name
                    )));
                }
                if first_log.as_ref().is_some_and(|first| *first != document.audit_log) {
                    tracing::warn!(agent = %agent.name, "its policy names another audit log than the first agent's: every agent's records go to one log, `--audit-log` or the first agent's");
                }
                if agent.subject.is_none() && agent.token_sha256.is_none() && !serves_sidecar {
                    tracing::warn!(agent = %agent.name, "it has only an `agent_key`, and the sidecar is not served (`--aws-listen`): it cannot make a call");
                }
            }
            let identity = crate::agents::Identity::of(&loaded.file).map_err(ServeError::AgentsUse)?;
            Ok((loaded.file.agents.into_iter().zip(loaded.policies).collect(), Some(identity)))
        }
    }
}

/// Connects one agent's policy to AWS and makes its pipeline.
async fn build(
    agent: crate::agents::Agent,
    loaded: policy::Loaded,
    audit: Arc<AuditLog>,
    store: Option<Arc<crate::store::Store>>,
    named: bool,
) -> Result<Built, ServeError> {
    let policy = loaded.policy;
    let session_policy = derived_session_policy(policy.document(), loaded.shadow.as_ref())?;
    // With `--agents`, a role session names its agent (SourceIdentity) and carries its tags.
    let principal = named.then(|| crate::aws::Principal { name: agent.name.clone(), tags: agent.tags.clone() });
    let (aws, config) = Aws::connect(policy.document(), session_policy.clone(), principal).await?;
    let scope = aws.scope(&config, policy.document()).await?;
    let caller = crate::conditions::Caller {
        source_ip: None,
        principal_arn: policy.document().credentials.as_ref().and_then(|c| c.role_arn.clone()),
        // Without an endpoint override the SDK calls AWS over HTTPS.
        secure_transport: config.endpoint_url().is_none_or(|url| url.starts_with("https:")),
        principal_tags: agent.tags.clone(),
    };
    let live = Arc::new(Live::new(Pipeline::new(Parts {
        policy,
        policy_hash: loaded.hash,
        aws,
        session_policy,
        scope: scope.clone(),
        audit,
        caller,
        store,
        shadow: loaded.shadow,
    })));
    Ok(Built {
        name: agent.name.into(),
        live,
        credentials: config.credentials_provider(),
        endpoint: config.endpoint_url().map(str::to_string),
        scope,
        agent_key: agent.agent_key,
    })
}

async fn run(options: ServeOptions) -> Result<(), ServeError> {
    if let (JudgedBy::Agents { stdio_agent: Some(_), .. }, Some(_)) = (&options.judged_by, &options.http) {
        return Err(ServeError::AgentsUse(
            "`--agent NAME` names the agent of the one stdio client; over HTTP each request's credentials name its agent"
                .into(),
        ));
    }
    let (agents, identity) = agents_of(&options.judged_by, options.sidecar.is_some())?;
    if let Some(verifier) = identity.as_ref().and_then(|identity| identity.verifier()) {
        verifier.prefetch().await;
    }
    let audit_path = options.audit_log.clone().or_else(|| {
        agents.first().and_then(|(_, loaded)| match &loaded.policy.document().audit_log {
            policy::AuditLog::File(path) => Some(path.clone()),
            policy::AuditLog::Stderr => None,
        })
    });
    let audit = match &audit_path {
        Some(path) => AuditLog::file(path).map_err(|source| ServeError::Audit { path: path.clone(), source })?,
        None => AuditLog::stderr(),
    };
    let audit = Arc::new(audit.for_replica(options.replica.clone()));
    let store = match &options.store {
        Some(address) => Some(Arc::new(crate::store::Store::open(address, &options.replica)?)),
        None => None,
    };
    let named = matches!(options.judged_by, JudgedBy::Agents { .. });
    let identities = identity.map(|identity| Arc::new(crate::agents::Identities::new(identity)));
    // HTTP settings and agent keys are checked before any AWS call, so a bad flag fails
    // at once.
    let http = match &options.http {
        Some(http) => Some(mcp::Settings::from_options(http, identities.clone()).map_err(ServeError::Http)?),
        None => None,
    };
    // The console serves approvals for both front doors, so it is made before either.
    let console = match http.as_ref().and_then(|h| h.console_token()) {
        Some(_) => Some(Arc::new(crate::console::Console::new(store.clone()).map_err(ServeError::Http)?)),
        None => None,
    };
    let sidecar_setup = match &options.sidecar {
        Some(sidecar) => {
            let keys = crate::sidecar::keys::AgentKeys::load(&sidecar.agent_keys)?;
            for (agent, _) in &agents {
                if let Some(key) = &agent.agent_key
                    && !keys.has_name(key)
                {
                    return Err(ServeError::AgentsUse(format!(
                        "agent `{}` names `agent_key: {key}`, which `{}` does not hold",
                        agent.name,
                        sidecar.agent_keys.display()
                    )));
                }
            }
            let listener = crate::sidecar::bind(&sidecar.listen).await.map_err(ServeError::Sidecar)?;
            Some((keys, listener))
        }
        None => None,
    };
    let entries: Vec<crate::agents::Agent> = agents.iter().map(|(agent, _)| agent.clone()).collect();
    let metrics_listener = match &options.metrics {
        Some(address) => Some(crate::metrics::bind(address).await.map_err(ServeError::Http)?),
        None => None,
    };
    let mut built = Vec::with_capacity(agents.len());
    for (agent, loaded) in agents {
        built.push(build(agent, loaded, audit.clone(), store.clone(), named).await?);
    }
    let Some(first) = built.first() else {
        return Err(ServeError::AgentsUse("no agent to serve".into()));
    };
    let first_live = first.live.clone();
    let background = tokio_util::sync::CancellationToken::new();
    let mut one_upstream = None;
    let mut sidecar = None;
    let sidecar_task = match sidecar_setup {
        Some((keys, listener)) => {
            let upstream_of = |agent: &Built| -> Result<Arc<crate::sidecar::forward::Upstream>, ServeError> {
                let credentials = agent.credentials.clone().ok_or_else(|| {
                    ServeError::Sidecar(format!(
                        "agent `{}`: no AWS credentials to sign forwarded requests with",
                        agent.name
                    ))
                })?;
                crate::sidecar::forward::Upstream::new(agent.endpoint.clone(), credentials, agent.scope.clone())
                    .map(Arc::new)
                    .map_err(ServeError::Sidecar)
            };
            let key_agents = if named {
                let mut by_key = std::collections::HashMap::new();
                for agent in built.iter().filter(|a| a.agent_key.is_some()) {
                    let entry = crate::sidecar::KeyAgent {
                        name: agent.name.clone(),
                        live: agent.live.clone(),
                        upstream: upstream_of(agent)?,
                    };
                    by_key.insert(agent.agent_key.clone().unwrap_or_default(), entry);
                }
                crate::sidecar::KeyAgents::Named(by_key)
            } else {
                let upstream = upstream_of(first)?;
                one_upstream = Some(upstream.clone());
                crate::sidecar::KeyAgents::One { live: first_live.clone(), upstream }
            };
            let address = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
            tracing::info!(address, agent_keys = keys.len(), "awsgate sidecar listening");
            let serving = Arc::new(crate::sidecar::Sidecar {
                agents: std::sync::RwLock::new(key_agents),
                console: console.clone(),
                keys,
                uploads: Default::default(),
            });
            sidecar = Some(serving.clone());
            Some(tokio::spawn(crate::sidecar::serve(serving, listener, background.clone())))
        }
        None => None,
    };
    // Served over HTTP, on SIGTERM or SIGINT: calls waiting for the console are answered
    // at once, and the sidecar stops accepting, while the HTTP server drains its own
    // connections. (Over stdio, these signals keep their default: the process ends.)
    if http.is_some() {
        let console = console.clone();
        let background = background.clone();
        tokio::spawn(async move {
            mcp::shutdown_signal().await;
            if let Some(console) = console {
                console.close();
            }
            background.cancel();
        });
    }
    if let Some(store) = &store {
        share_state(store, &audit, console.as_ref(), &background);
    }
    let served: Vec<(Arc<str>, Arc<Live>)> = built.iter().map(|a| (a.name.clone(), a.live.clone())).collect();
    let shared = Arc::new(Shared::new(served, audit.clone(), console.clone(), store.clone()));
    if let Some(listener) = metrics_listener {
        let probes = crate::metrics::Probes {
            trouble: {
                let shared = shared.clone();
                Arc::new(move || shared.trouble())
            },
            replica_trouble: {
                let shared = shared.clone();
                Arc::new(move || shared.replica_trouble())
            },
            approvals_pending: {
                let console = console.clone();
                Arc::new(move || console.as_ref().map_or(0, |c| c.desk.waiting_here()))
            },
        };
        tokio::spawn(crate::metrics::serve(listener, probes, background.clone()));
    }
    let reloading = match &options.judged_by {
        JudgedBy::Policy(path) => {
            let shared = shared.clone();
            tokio::spawn(crate::reload::run(
                path.clone(),
                first_live,
                options.watch,
                background.clone(),
                move |reloaded| {
                    let shared = shared.clone();
                    let upstream = one_upstream.clone();
                    async move {
                        if let (Some(upstream), Some(credentials)) = (upstream, reloaded.credentials) {
                            upstream.set_credentials(credentials).await;
                        }
                        shared.policy_changed().await;
                    }
                },
            ))
        }
        JudgedBy::Agents { file, .. } => {
            let roster = Roster {
                file: file.clone(),
                hash: file_hash(file).unwrap_or_default(),
                agents: entries,
                shared: shared.clone(),
                identities: identities.clone(),
                sidecar: sidecar.clone(),
                audit: audit.clone(),
                store: store.clone(),
                console: console.clone(),
                console_token: http.as_ref().and_then(|h| h.console_token()).map(str::to_string),
            };
            tokio::spawn(roster.run(options.watch, background.clone()))
        }
    };
    if let Some(store) = &store {
        store.first_answer().await;
    }
    for agent in shared.agents() {
        let pipeline = agent.pipeline();
        tracing::info!(
            agent = &*agent.name,
            policy = pipeline.policy().name(),
            mode = pipeline.policy().mode().as_str(),
            shadow = pipeline.shadow().map_or("-".to_string(), |s| s.path.display().to_string()),
            tools = agent.tool_names().len(),
            "awsgate ready"
        );
    }
    match http {
        None => {
            let stdio_agent = match &options.judged_by {
                JudgedBy::Agents { stdio_agent: Some(name), .. } => Some(Arc::<str>::from(name.as_str())),
                JudgedBy::Agents { stdio_agent: None, .. } => {
                    return Err(ServeError::AgentsUse(
                        "with `--agents` over stdio, name the agent the client is: `--agent NAME`".into(),
                    ));
                }
                JudgedBy::Policy(_) => Some(crate::agents::DEFAULT_AGENT.into()),
            };
            let waited = mcp::serve_stdio(shared, stdio_agent).await.map_err(ServeError::Session);
            // The sidecar outlives the stdio session, until a signal.
            if let Some(task) = sidecar_task {
                mcp::shutdown_signal().await;
                background.cancel();
                let _ = task.await;
            }
            background.cancel();
            let _ = reloading.await;
            waited
        }
        Some(settings) => {
            let served = mcp::serve_http(shared, settings, console).await.map_err(ServeError::Http);
            background.cancel();
            if let Some(task) = sidecar_task {
                let _ = task.await;
            }
            let _ = reloading.await;
            served
        }
    }
}

/// Runs the store's side of this replica until `background` ends: reachability, the
/// approvals decided elsewhere waking the calls waiting here, and the console's feed (this
/// replica's records out, the others' in).
fn share_state(
    store: &Arc<crate::store::Store>,
    audit: &Arc<AuditLog>,
    console: Option<&Arc<crate::console::Console>>,
    background: &tokio_util::sync::CancellationToken,
) {
    // Bounded: a burst beyond them is skipped; the polls and the audit files have it all.
    let (events, decided) = tokio::sync::mpsc::channel(1024);
    let (records, others) = tokio::sync::mpsc::channel(1024);
    tokio::spawn(store.clone().run(events, records, background.clone()));
    if let Some(console) = console {
        let console = console.clone();
        tokio::spawn({
            let background = background.clone();
            async move { console.follow_store(decided, background).await }
        });
    }
    let (audit_in, mut others) = (audit.clone(), others);
    tokio::spawn(async move {
        while let Some(line) = others.recv().await {
            audit_in.feed().show(line.into());
        }
    });
    audit.feed().forward(store.feed());
}

/// The SHA-256 of a file's bytes, hex.
fn file_hash(path: &std::path::Path) -> Option<String> {
    use sha2::Digest;
    let bytes = std::fs::read(path).ok()?;
    Some(sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

/// The agents in force, and what a reload of their file replaces: each agent's pipeline,
/// the MCP door's agents, the identities the HTTP guard checks, and the sidecar's keys.
struct Roster {
    file: PathBuf,
    /// The agents file's SHA-256 as in force.
    hash: String,
    agents: Vec<crate::agents::Agent>,
    shared: Arc<Shared>,
    identities: Option<Arc<crate::agents::Identities>>,
    sidecar: Option<Arc<crate::sidecar::Sidecar>>,
    audit: Arc<AuditLog>,
    store: Option<Arc<crate::store::Store>>,
    console: Option<Arc<crate::console::Console>>,
    /// The operator's token: no agent may be given it.
    console_token: Option<String>,
}

/// The `agents_reloaded` audit record.
#[derive(serde::Serialize)]
struct AgentsReloaded<'a> {
    time: String,
    event: &'static str,
    trigger: &'a str,
    old_agents_hash: &'a str,
    new_agents_hash: &'a str,
    agents: Vec<&'a str>,
    added: Vec<&'a str>,
    removed: Vec<&'a str>,
    /// Each agent's policy hash.
    policies: std::collections::BTreeMap<&'a str, &'a str>,
    /// Each agent's shadow policy hash, for the agents that have one.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    shadows: std::collections::BTreeMap<&'a str, String>,
}

/// One agent of a reload, made but not yet in force.
enum Next {
    /// An agent that stays: its new pipeline (sharing its rate-limit windows), and new
    /// credentials when its session policy changed.
    Kept {
        live: Arc<Live>,
        pipeline: Box<Pipeline>,
        credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
        upstream: Option<Arc<crate::sidecar::forward::Upstream>>,
    },
    Added {
        built: Built,
        upstream: Option<Arc<crate::sidecar::forward::Upstream>>,
    },
}

impl Roster {
    /// Reloads on SIGHUP and, with `watch`, when the agents file or a policy it names
    /// changes, until `stop`.
    async fn run(mut self, watch: bool, stop: tokio_util::sync::CancellationToken) {
        let stamps = |roster: &Roster| -> Vec<_> {
            let shadows: Vec<std::path::PathBuf> = roster
                .shared
                .agents()
                .iter()
                .filter_map(|served| served.pipeline().shadow().map(|s| s.path.clone()))
                .collect();
            std::iter::once(&roster.file)
                .chain(roster.agents.iter().map(|a| &a.policy))
                .chain(shadows.iter())
                .map(|p| crate::reload::stamp(p))
                .collect()
        };
        let mut triggers = crate::reload::Triggers::new(watch, stamps(&self));
        while let Some(trigger) = triggers.next(&stop, || stamps(&self)).await {
            match self.reload(trigger).await {
                Ok(true) => {
                    crate::metrics::reloaded(true);
                    // The new file may name other policies: watch those from now on.
                    triggers.saw(stamps(&self));
                    tracing::info!(trigger, agents = self.agents.len(), "agents file reloaded");
                }
                Ok(false) => tracing::info!(trigger, "the agents file and its policies are unchanged"),
                Err(why) => {
                    crate::metrics::reloaded(false);
                    tracing::error!(trigger, "agents file reload refused: {why}; the agents in force stay");
                }
            }
        }
    }

    /// Reads the agents file and every policy again and puts them all in force, or none.
    async fn reload(&mut self, trigger: &str) -> Result<bool, String> {
        let vocabulary = crate::catalog::vocabulary();
        let loaded = crate::agents::load(&self.file, &vocabulary).map_err(|error| {
            let mut text = Vec::new();
            let _ = match &error {
                crate::agents::AgentsError::Policies { failed } => {
                    failed.iter().try_for_each(|(_, error)| policy::write_error(error, &mut text))
                }
                crate::agents::AgentsError::Invalid { path, diagnostics } => {
                    policy::write_diagnostics(path, diagnostics, &mut text)
                }
                crate::agents::AgentsError::Read { .. } => {
                    std::io::Write::write_all(&mut text, error.to_string().as_bytes())
                }
            };
            format!("{error}: {}", String::from_utf8_lossy(&text).trim_end().replace('\n', "; "))
        })?;
        let hash = file_hash(&self.file).unwrap_or_default();
        let unchanged = hash == self.hash
            && loaded.file.agents.iter().zip(&loaded.policies).all(|(agent, policy)| {
                self.shared.agent(&agent.name).is_some_and(|served| {
                    let pipeline = served.pipeline();
                    pipeline.policy_hash() == policy.hash
                        && pipeline.shadow().map(|s| &s.hash) == policy.shadow.as_ref().map(|s| &s.hash)
                })
            });
        if unchanged {
            return Ok(false);
        }
        let Some(identities) = &self.identities else {
            return Err("this gateway was not started with `--agents`".into());
        };
        let current = identities.current();
        let identity = crate::agents::Identity::reloaded(&loaded.file, &current)?;
        if let Some(token) = &self.console_token
            && identity.by_token(token).is_some()
        {
            return Err(
                "an agent's token is the console's: operators need their own, or an agent could approve its own calls"
                    .into(),
            );
        }
        // A new issuer (or audience, claim, algorithms) must give its keys now.
        let same_issuer = match (current.verifier(), identity.verifier()) {
            (Some(old), Some(new)) => std::ptr::eq(old, new),
            (None, None) => true,
            _ => false,
        };
        if let (false, Some(verifier)) = (same_issuer, identity.verifier()) {
            verifier.fetch_keys().await.map_err(|why| format!("the new `oidc` issuer's keys cannot be had: {why}"))?;
        }
        // Everything is made first: an error leaves every agent as it was.
        let shadows: std::collections::BTreeMap<String, String> = loaded
            .file
            .agents
            .iter()
            .zip(&loaded.policies)
            .filter_map(|(agent, policy)| policy.shadow.as_ref().map(|s| (agent.name.clone(), s.hash.clone())))
            .collect();
        let mut next = Vec::with_capacity(loaded.file.agents.len());
        for (agent, policy) in loaded.file.agents.iter().cloned().zip(loaded.policies) {
            if let (Some(key), Some(sidecar)) = (&agent.agent_key, &self.sidecar)
                && !sidecar.keys.has_name(key)
            {
                return Err(format!(
                    "agent `{}` names `agent_key: {key}`, which the agent keys file does not hold",
                    agent.name
                ));
            }
            let Some(served) = self.shared.agent(&agent.name) else {
                let entry = agent.clone();
                let built = build(agent, policy, self.audit.clone(), self.store.clone(), true)
                    .await
                    .map_err(|e| e.to_string())?;
                let upstream = self.upstream_for(&built, &entry)?;
                next.push(Next::Added { built, upstream });
                continue;
            };
            // The sidecar upstream it has, kept; a key given to a running agent needs a restart.
            let upstream = self.sidecar.as_ref().and_then(|s| s.named_agent(&agent.name)).map(|k| k.upstream);
            if self.sidecar.is_some() && agent.agent_key.is_some() && upstream.is_none() {
                return Err(format!(
                    "agent `{}`: a sidecar key given to a running agent is read only at start: restart awsgate for that",
                    agent.name
                ));
            }
            let old = self.agents.iter().find(|a| a.name == agent.name);
            if old.is_some_and(|old| old.tags != agent.tags) {
                return Err(format!(
                    "agent `{}`: its tags changed, which awsgate reads only at start: restart it for that",
                    agent.name
                ));
            }
            if old.is_some_and(|old| old.agent_key != agent.agent_key) {
                return Err(format!(
                    "agent `{}`: its `agent_key` changed, which awsgate reads only at start: restart it for that",
                    agent.name
                ));
            }
            let current = served.pipeline();
            crate::reload::restart_only(current.policy().document(), policy.policy.document())
                .map_err(|why| format!("agent `{}`: {why}", agent.name))?;
            let session_policy =
                derived_session_policy(policy.policy.document(), policy.shadow.as_ref()).map_err(|e| e.to_string())?;
            let (aws, credentials) = if session_policy.as_deref() == current.session_policy() {
                (None, None)
            } else {
                let principal = crate::aws::Principal { name: agent.name.clone(), tags: agent.tags.clone() };
                let (aws, config) = Aws::connect(policy.policy.document(), session_policy.clone(), Some(principal))
                    .await
                    .map_err(|e| e.to_string())?;
                (Some((aws, session_policy)), config.credentials_provider())
            };
            let pipeline = Box::new(current.reloaded(policy.policy, policy.hash, policy.shadow, aws));
            next.push(Next::Kept { live: served.live(), pipeline, credentials, upstream });
        }
        let names: Vec<&str> = loaded.file.agents.iter().map(|a| a.name.as_str()).collect();
        let added: Vec<&str> = names.iter().copied().filter(|n| !self.agents.iter().any(|a| a.name == *n)).collect();
        let removed: Vec<&str> = self.agents.iter().map(|a| a.name.as_str()).filter(|n| !names.contains(n)).collect();
        let record = AgentsReloaded {
            time: crate::audit::now_rfc3339(),
            event: "agents_reloaded",
            trigger,
            old_agents_hash: &self.hash,
            new_agents_hash: &hash,
            agents: names.clone(),
            added: added.clone(),
            removed: removed.clone(),
            policies: std::collections::BTreeMap::new(),
            shadows: std::collections::BTreeMap::new(),
        };
        let hashes: Vec<(String, String)> = loaded
            .file
            .agents
            .iter()
            .zip(&next)
            .map(|(agent, made)| {
                let hash = match made {
                    Next::Kept { pipeline, .. } => pipeline.policy_hash().to_string(),
                    Next::Added { built, .. } => built.live.current().policy_hash().to_string(),
                };
                (agent.name.clone(), hash)
            })
            .collect();
        let shadows = shadows.iter().map(|(name, hash)| (name.as_str(), hash.clone())).collect();
        let record = AgentsReloaded {
            policies: hashes.iter().map(|(name, hash)| (name.as_str(), hash.as_str())).collect(),
            shadows,
            ..record
        };
        // A change that cannot be audited does not happen.
        self.audit.write(&record).await.map_err(|e| format!("the audit log cannot record the reload ({e})"))?;
        // Now all at once.
        let mut served = Vec::with_capacity(next.len());
        let mut key_agents = std::collections::HashMap::new();
        for (agent, made) in loaded.file.agents.iter().zip(next) {
            let (live, upstream) = match made {
                Next::Kept { live, pipeline, credentials, upstream } => {
                    live.replace(*pipeline);
                    if let (Some(upstream), Some(credentials)) = (&upstream, credentials) {
                        upstream.set_credentials(credentials).await;
                    }
                    (live, upstream)
                }
                Next::Added { built, upstream } => (built.live, upstream),
            };
            if let (Some(key), Some(upstream)) = (&agent.agent_key, upstream) {
                let entry = crate::sidecar::KeyAgent { name: agent.name.as_str().into(), live: live.clone(), upstream };
                key_agents.insert(key.clone(), entry);
            }
            served.push((Arc::<str>::from(agent.name.as_str()), live));
        }
        // No one later given a removed agent's name may use its approvals.
        if let Some(console) = &self.console {
            for name in &removed {
                if let Err(error) = console.withdraw_agent(name, &self.audit).await {
                    tracing::error!(%error, agent = %name, "cannot record a withdrawn approval");
                }
            }
        }
        self.shared.set_agents(served);
        if let Some(identities) = &self.identities {
            identities.replace(identity);
        }
        if let Some(sidecar) = &self.sidecar {
            sidecar.set_agents(crate::sidecar::KeyAgents::Named(key_agents));
        }
        self.hash = hash;
        self.agents = loaded.file.agents;
        self.shared.policy_changed().await;
        Ok(true)
    }

    /// A new upstream for an added agent's sidecar requests, when the sidecar is served and
    /// the agent has a key.
    fn upstream_for(
        &self,
        built: &Built,
        agent: &crate::agents::Agent,
    ) -> Result<Option<Arc<crate::sidecar::forward::Upstream>>, String> {
        if self.sidecar.is_none() || agent.agent_key.is_none() {
            return Ok(None);
        }
        let credentials = built
            .credentials
            .clone()
            .ok_or_else(|| format!("agent `{}`: no AWS credentials to sign forwarded requests with", agent.name))?;
        crate::sidecar::forward::Upstream::new(built.endpoint.clone(), credentials, built.scope.clone())
            .map(|upstream| Some(Arc::new(upstream)))
    }
}
