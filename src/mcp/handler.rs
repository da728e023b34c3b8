//! The MCP server handler: `list_tools` is the catalog filtered by the policy, and
//! `call_tool` validates the arguments, builds the call and runs it through the shared
//! [`crate::pipeline`], asking the human (elicitation, MFA code) where a statement wants it.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ElicitRequest, Implementation, InputRequest,
    InputRequests, InputRequiredResult, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam,
    ProtocolVersion, ServerCapabilities, ServerConfig, ServerNotification, SubscriptionFilter, Tool, ToolAnnotations,
    ToolListChangedNotification,
};
use rmcp::service::{ElicitationMode, NotificationContext, Peer, RequestContext, ServiceError, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::approval::{self, APPROVAL_TIMEOUT, Approvals};
use crate::audit::Client;
use crate::catalog::{self, Access, CallOptions, ToolSpec};
use crate::console::{self, Console, Waited};
use crate::pipeline::{Call, CallError, Live, Origin, Pipeline};
use crate::policy::{ApprovalChannel, ApprovalSettings, Policy};

/// Most sessions told when the tool list changes; past it, the oldest are forgotten.
const MAX_PEERS: usize = 10_000;

/// How long one session may take to accept `tools/list_changed`.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(2);

/// Most `subscriptions/listen` streams (2026-07-28) open at once.
const MAX_LISTENERS: usize = 1_024;

/// What every MCP session shares: each agent's pipeline in force and the tools its policy
/// exposes, the approvals asked of 2026-07-28 clients, and the sessions to tell when a
/// reload changes the tools.
#[derive(Debug)]
pub struct Shared {
    /// One per agent (`default` alone for `--policy`), in the agents file's order; a
    /// reload of the agents file replaces them.
    agents: RwLock<Vec<Arc<Served>>>,
    audit: Arc<crate::audit::AuditLog>,
    /// Approvals asked of 2026-07-28 clients and not yet answered.
    approvals: Approvals,
    peers: Mutex<Vec<Peer<RoleServer>>>,
    /// Counts reloads, for the `subscriptions/listen` streams of 2026-07-28 clients, which
    /// have no session to register.
    reloads: tokio::sync::watch::Sender<u64>,
    listeners: Arc<tokio::sync::Semaphore>,
    /// The operator console, when it is served: approvals for clients that cannot elicit.
    console: Option<Arc<Console>>,
    /// The replicas' shared store, when there is one.
    store: Option<Arc<crate::store::Store>>,
}

/// One agent as the MCP door serves it: its pipeline and the tools its policy lists.
#[derive(Debug)]
pub struct Served {
    pub name: Arc<str>,
    live: Arc<Live>,
    tools: RwLock<Arc<Vec<Listed>>>,
}

impl Served {
    pub fn live(&self) -> Arc<Live> {
        self.live.clone()
    }

    pub fn pipeline(&self) -> Arc<Pipeline> {
        self.live.current()
    }

    fn tools(&self) -> Arc<Vec<Listed>> {
        match self.tools.read() {
            Ok(tools) => tools.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn tool_names(&self) -> Vec<&'static str> {
        self.tools().iter().map(|t| t.spec.name).collect()
    }

    fn relist(&self) {
        let tools = listed(self.live.current().policy());
        match self.tools.write() {
            Ok(mut current) => *current = tools,
            Err(poisoned) => *poisoned.into_inner() = tools,
        }
    }
}

fn served(agents: Vec<(Arc<str>, Arc<Live>)>) -> Vec<Arc<Served>> {
    agents
        .into_iter()
        .map(|(name, live)| {
            let tools = RwLock::new(listed(live.current().policy()));
            Arc::new(Served { name, live, tools })
        })
        .collect()
}

#[derive(Debug)]
struct Listed {
    spec: &'static ToolSpec,
    tool: Tool,
}

fn listed(policy: &Policy) -> Arc<Vec<Listed>> {
    let tools = catalog::tools()
        .filter(|spec| policy.lists_tool(&spec.iam_action()))
        .map(|spec| Listed { spec, tool: describe_tool(spec, policy) })
        .collect();
    Arc::new(tools)
}

impl Shared {
    /// Each agent's name and pipeline, all writing to `audit`.
    pub fn new(
        agents: Vec<(Arc<str>, Arc<Live>)>,
        audit: Arc<crate::audit::AuditLog>,
        console: Option<Arc<Console>>,
        store: Option<Arc<crate::store::Store>>,
    ) -> Shared {
        Shared {
            agents: RwLock::new(served(agents)),
            audit,
            approvals: Approvals::new(store.clone()),
            store,
            peers: Mutex::default(),
            reloads: tokio::sync::watch::Sender::new(0),
            listeners: Arc::new(tokio::sync::Semaphore::new(MAX_LISTENERS)),
            console,
        }
    }

    /// The agent named `name`.
    pub fn agent(&self, name: &str) -> Option<Arc<Served>> {
        self.agents().into_iter().find(|a| &*a.name == name)
    }

    /// The first agent: the one of `--policy`, whose policy the console and the start-up
    /// line show.
    pub fn first(&self) -> Option<Arc<Served>> {
        self.agents().into_iter().next()
    }

    pub fn agents(&self) -> Vec<Arc<Served>> {
        match self.agents.read() {
            Ok(agents) => agents.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// After a reload of the agents file: these agents from now on. Call
    /// [`Shared::policy_changed`] after it to tell the sessions.
    pub fn set_agents(&self, agents: Vec<(Arc<str>, Arc<Live>)>) {
        let agents = served(agents);
        match self.agents.write() {
            Ok(mut current) => *current = agents,
            Err(poisoned) => *poisoned.into_inner() = agents,
        }
    }

    /// Resolves once agent `name` is no longer served (a reload removed it).
    pub async fn removed(&self, name: &str) {
        let mut reloads = self.reloads.subscribe();
        while self.agent(name).is_some() {
            if reloads.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Why calls cannot be served now, if they cannot (`/readyz`): no policy in force, the
    /// audit log failing, or the shared store out of reach.
    pub fn trouble(&self) -> Option<String> {
        self.replica_trouble().or_else(|| {
            self.store.as_ref().and_then(|store| store.trouble()).map(|why| format!("the shared store: {why}"))
        })
    }

    /// Why this replica itself cannot serve (`/readyz/replica`): its policy or its audit log,
    /// not the shared store, which every replica shares.
    pub fn replica_trouble(&self) -> Option<String> {
        if self.first().is_none() {
            return Some("no agent's policy is in force".to_string());
        }
        self.audit.trouble().map(|why| format!("the audit log cannot be written: {why}"))
    }

    /// The audit log every agent's calls are recorded in.
    pub fn audit(&self) -> Arc<crate::audit::AuditLog> {
        self.audit.clone()
    }

    /// A session to tell when the tools change.
    fn register(&self, peer: Peer<RoleServer>) {
        let Ok(mut peers) = self.peers.lock() else { return };
        peers.retain(|p| !p.is_transport_closed());
        if peers.len() >= MAX_PEERS {
            peers.remove(0);
        }
        peers.push(peer);
    }

    /// After a reload: lists the new policy's tools and sends every connected session
    /// `notifications/tools/list_changed`.
    pub async fn policy_changed(&self) {
        for agent in self.agents() {
            agent.relist();
        }
        self.reloads.send_modify(|count| *count += 1);
        let peers: Vec<Peer<RoleServer>> = match self.peers.lock() {
            Ok(mut peers) => {
                peers.retain(|p| !p.is_transport_closed());
                peers.clone()
            }
            Err(_) => return,
        };
        let sends = peers.iter().map(|peer| tokio::time::timeout(NOTIFY_TIMEOUT, peer.notify_tool_list_changed()));
        let sent = futures_util::future::join_all(sends).await;
        let delivered = sent.iter().filter(|s| matches!(s, Ok(Ok(())))).count();
        let listening = MAX_LISTENERS - self.listeners.available_permits();
        tracing::info!(sessions = peers.len(), delivered, listening, "sent tools/list_changed");
    }
}

fn describe_tool(spec: &ToolSpec, policy: &Policy) -> Tool {
    let a = spec.annotations;
    let annotations = ToolAnnotations::new()
        .read_only(a.read_only)
        .destructive(a.destructive)
        .idempotent(a.idempotent)
        .open_world(a.open_world);
    Tool::new(spec.name, catalog::describe(spec, policy), catalog::args::schema(spec.args))
        .with_annotations(annotations)
}

/// One MCP session as rmcp sees it: a stdio process, an SSE connection, or a streamable
/// HTTP session. For 2026-07-28 clients rmcp serves HTTP statelessly, one handler per
/// request, so those are grouped into one session per agent (`stateless`).
#[derive(Debug, Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
    id: Arc<str>,
    stateless: bool,
    /// `stdio`, `sse` or `http`, for the audit records.
    transport: &'static str,
    /// The agent of a session bound to one from its start (stdio, an SSE connection);
    /// over streamable HTTP each request says whose it is.
    agent: Option<Arc<str>>,
}

impl Gateway {
    /// A handler that lives as long as its session (`stdio`, `sse`), for `agent`.
    pub fn new(shared: Arc<Shared>, transport: &'static str, agent: Option<Arc<str>>) -> Gateway {
        Gateway { shared, id: uuid::Uuid::new_v4().to_string().into(), stateless: false, transport, agent }
    }

    /// A handler for streamable HTTP, where a 2026-07-28 request may get a handler of
    /// its own.
    pub fn for_http(shared: Arc<Shared>) -> Gateway {
        Gateway { stateless: true, ..Gateway::new(shared, "http", None) }
    }

    /// The agent a request is from: the one its credentials named (HTTP), else the one
    /// this session is bound to, else the only one. `None`: no agent may make it.
    fn served(&self, context: &RequestContext<RoleServer>) -> Option<Arc<Served>> {
        let parts = context.extensions.get::<axum::http::request::Parts>();
        let named = parts.and_then(|parts| parts.extensions.get::<crate::agents::Authenticated>()).map(|a| a.0.clone());
        match named.or_else(|| self.agent.clone()) {
            Some(name) => self.shared.agent(&name),
            None => match self.shared.agents().as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        }
    }

    /// The session a call belongs to, for its audit records and approvals: the HTTP
    /// session when the client has one, the agent for stateless HTTP requests (never the
    /// name a client gives itself), else this handler's own.
    fn session_key(&self, http_session: Option<&str>, agent: &str) -> String {
        match http_session {
            Some(id) => format!("http:{id}"),
            None if self.stateless => format!("stateless:{agent}"),
            None => self.id.to_string(),
        }
    }

    async fn call(&self, params: CallToolRequestParams, context: &RequestContext<RoleServer>) -> CallToolResponse {
        let Some(served) = self.served(context) else {
            return tool_error(&CallError::InvalidArgument("no agent is known for this request".into()));
        };
        // From the request's metadata (2026-07-28) or the `initialize` handshake (earlier).
        let client =
            context.client_info().map(|info| Client { name: info.name, version: info.version }).unwrap_or_default();
        let parts = context.extensions.get::<axum::http::request::Parts>();
        let http_session = parts.and_then(|parts| parts.headers.get("mcp-session-id")).and_then(|id| id.to_str().ok());
        let origin = Origin {
            transport: self.transport,
            session: self.session_key(http_session, &served.name),
            client,
            agent: Some(served.name.to_string()),
            source_ip: parts.and_then(|parts| parts.extensions.get::<super::http::PeerAddr>()).map(|peer| peer.0.ip()),
        };
        let name = params.name.as_ref();
        // The policy in force now decides this call, even if a reload comes meanwhile.
        let pipeline = served.pipeline();
        let mut call = pipeline.begin(&origin, &self.id, name);
        match self.run_call(&served, &pipeline, &mut call, &params, context).await {
            Ok(response) => response,
            Err(error) => tool_error(&error),
        }
    }

    async fn run_call(
        &self,
        served: &Served,
        pipeline: &Pipeline,
        call: &mut Call<'_>,
        params: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, CallError> {
        let policy = pipeline.policy();
        let name = params.name.as_ref();
        call.admit().await?;
        // Any catalog tool may be called: one the policy does not list is denied by the
        // gate, with its reason and an audit record, rather than reported as unknown.
        let Some(spec) = catalog::find_tool(name) else {
            let message = format!(
                "unknown tool `{}`; this server's tools are: {}",
                catalog::args::printable(name),
                served.tool_names().join(", ")
            );
            return Err(call.fail(CallError::InvalidArgument(message)).await);
        };
        let action = spec.iam_action();
        call.set_action(action.clone());
        let mut prepared = match spec.prepare(params.arguments.clone(), pipeline.scope()) {
            Ok(prepared) => prepared,
            Err(error) => return Err(call.fail(CallError::InvalidArgument(error.0)).await),
        };
        let allowed = call.judge(&mut prepared, &context.ct).await?;

        let aws = pipeline.aws(false);
        let mfa = aws.mfa.as_ref().filter(|mfa| mfa.needs_code());
        if allowed.approval_required || mfa.is_some() {
            let questions = Questions {
                approval: allowed.approval_required.then(|| {
                    approval::message(
                        &action,
                        &prepared.resources,
                        name,
                        params.arguments.as_ref(),
                        policy.name(),
                        allowed.statement,
                    )
                }),
                mfa: mfa.map(|mfa| {
                    approval::mfa_message(
                        &mfa.serial,
                        policy.document().credentials.as_ref().and_then(|c| c.role_arn.as_deref()).unwrap_or("?"),
                    )
                }),
            };
            let fingerprint = approval::fingerprint(name, params.arguments.as_ref());
            let origin = call.origin();
            let summary = console::Summary {
                id: String::new(),
                tool: name.to_string(),
                action: action.clone(),
                resources: prepared.resources.clone(),
                statement: allowed.statement.map(str::to_string),
                arguments: approval::arguments_summary(params.arguments.as_ref()),
                transport: origin.transport,
                session: origin.session.clone(),
                agent: origin.agent.clone(),
                client: format!("{} {}", origin.client.name, origin.client.version).trim().to_string(),
                policy: policy.name().to_string(),
                asked_at: crate::audit::now_rfc3339(),
                expires_at: String::new(),
                seconds_left: 0,
                waiting: true,
                needs_mfa: questions.mfa.is_some(),
                status: "pending",
            };
            let asking = Asking { fingerprint, questions: &questions, summary };
            let step = tokio::select! {
                biased;
                () = context.ct.cancelled() => Step::Cancelled,
                step = self.ask_human(call.session(), context, params, &asking, &policy.document().approvals) => step,
            };
            match step {
                Step::Cancelled => return Err(call.cancelled("while it waited for a human").await),
                Step::StoreLost(why) => {
                    if allowed.approval_required {
                        call.approval("unavailable");
                    }
                    return Err(call.fail(CallError::Unavailable(why)).await);
                }
                Step::Go(code) => {
                    if allowed.approval_required {
                        call.approval("approved");
                    }
                    if let (Some(mfa), Some(code)) = (mfa, code) {
                        mfa.provide(code);
                    }
                }
                Step::Pending(approval_id) => {
                    call.approval("pending");
                    let limits = &policy.document().approvals;
                    let message = console::pending_message(&action, &approval_id, limits.timeout_seconds);
                    return Err(call.fail(CallError::ApprovalPending { approval_id, message }).await);
                }
                Step::Ask(input_required) => {
                    let outcome = if allowed.approval_required {
                        call.approval("requested");
                        "approval_requested"
                    } else {
                        "mfa_requested"
                    };
                    call.result(outcome, None, None).await;
                    return Ok(CallToolResponse::InputRequired(input_required));
                }
                Step::Refuse(outcome, why) => {
                    let needs = if questions.approval.is_some() {
                        call.approval(outcome);
                        "a human's approval"
                    } else {
                        "an MFA code from a human"
                    };
                    let message = format!(
                        "`{action}` on `{}` needs {needs}: {why}; nothing was sent to AWS",
                        prepared.resources.join("`, `")
                    );
                    let error = if questions.approval.is_some() {
                        CallError::ApprovalDenied { message }
                    } else {
                        CallError::MfaRequired { message }
                    };
                    return Err(call.fail(error).await);
                }
            }
        }

        let limits = policy.document().limits;
        let options = CallOptions { max_output_bytes: usize::try_from(limits.max_output_bytes).unwrap_or(usize::MAX) };
        // A write is sent once: no automatic retry, and an unknown outcome is said so.
        let writes = spec.access == Access::Write;
        let run = prepared.run(pipeline.aws(writes).clone(), options);
        let output = call
            .run(writes, async move { run.await.map(|output| (output.value, output.request_id)) }, &context.ct)
            .await?;
        Ok(CallToolResult::structured(catalog::fit_output(output, options.max_output_bytes)).into())
    }
}

/// The tool error for a call that did not run or failed: AWS's or awsgate's code, the
/// message, and what the agent can act on.
fn tool_error(error: &CallError) -> CallToolResponse {
    let mut value = json!({ "error": error.code(), "message": error.message() });
    match error {
        CallError::RateLimited { retry_after, .. } => value["retry_after_seconds"] = json!(retry_after),
        CallError::ApprovalPending { approval_id, .. } => value["approval_id"] = json!(approval_id),
        CallError::AccessDenied { action, resource, statement, reason } => {
            value["action"] = json!(action);
            value["resource"] = json!(resource);
            value["statement"] = json!(statement);
            value["reason"] = json!(reason);
        }
        CallError::Aws(failure) => value["request_id"] = json!(failure.request_id),
        _ => {}
    }
    error_result(value)
}

fn error_result(value: Value) -> CallToolResponse {
    CallToolResult::structured_error(value).into()
}

/// What a call must ask the human before it runs.
struct Questions {
    /// The approval question, when a statement requires approval.
    approval: Option<String>,
    /// The MFA question, when the role needs a new session.
    mfa: Option<String>,
}

/// A call's questions, and what the console shows of it.
struct Asking<'a> {
    fingerprint: String,
    questions: &'a Questions,
    summary: console::Summary,
}

/// Where the questions stand.
enum Step {
    /// Waiting in the console past `wait_seconds`: the agent calls again once decided.
    Pending(String),
    /// The human said yes (and gave the MFA code, when asked for one).
    Go(Option<String>),
    /// Ask the 2026-07-28 client, which will call again with the answers.
    Ask(InputRequiredResult),
    /// No: the audit word (`declined`, `timed_out`, `unavailable`) and why.
    Refuse(&'static str, String),
    /// The client cancelled the call while it waited.
    Cancelled,
    /// The shared store went away while the call waited: refused as every call then is.
    StoreLost(String),
}

const CANNOT_ASK: &str = "this client cannot ask a human (it declares no elicitation capability)";

impl Gateway {
    /// Asks through `approvals.via` in order: elicitation when the client can, else the
    /// console when it is served.
    async fn ask_human(
        &self,
        session: &str,
        context: &RequestContext<RoleServer>,
        params: &CallToolRequestParams,
        asking: &Asking<'_>,
        settings: &ApprovalSettings,
    ) -> Step {
        for channel in &settings.via {
            match channel {
                ApprovalChannel::Elicitation => {
                    if let Some(step) =
                        self.elicit(session, context, params, &asking.fingerprint, asking.questions).await
                    {
                        return step;
                    }
                }
                ApprovalChannel::Console => {
                    if let Some(console) = &self.shared.console {
                        let audit = self.shared.audit();
                        return ask_console(console, session, context, asking, settings, audit).await;
                    }
                }
            }
        }
        let console = if self.shared.console.is_none() {
            "the operator console is not served (`awsgate serve --transport http --console`)"
        } else {
            "`approvals.via` does not include `console`"
        };
        let elicitation = if settings.via.contains(&ApprovalChannel::Elicitation) {
            CANNOT_ASK
        } else {
            "`approvals.via` does not include `elicitation`"
        };
        Step::Refuse("unavailable", format!("{elicitation}, and {console}"))
    }

    /// Elicitation, when the client can answer it; `None` when it cannot.
    async fn elicit(
        &self,
        session: &str,
        context: &RequestContext<RoleServer>,
        params: &CallToolRequestParams,
        fingerprint: &str,
        questions: &Questions,
    ) -> Option<Step> {
        let modern = context.protocol_version().is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str());
        if modern {
            if let (Some(token), Some(answers)) = (params.request_state.as_deref(), params.input_responses.as_ref()) {
                if let Err(why) = self.shared.approvals.redeem(token, fingerprint).await {
                    return Some(Step::Refuse("declined", why));
                }
                let approved = answers.get(approval::INPUT_KEY).is_some_and(approval::approved_response);
                if questions.approval.is_some() && !approved {
                    return Some(Step::Refuse("declined", "the human declined".into()));
                }
                let code = answers.get(approval::MFA_KEY).and_then(approval::mfa_code_response);
                if questions.mfa.is_some() && code.is_none() {
                    return Some(Step::Refuse("declined", "no valid MFA code (6 digits) was given".into()));
                }
                return Some(Step::Go(code));
            }
            context.client_capabilities().and_then(|c| c.elicitation)?;
            let mut requests = InputRequests::new();
            if let Some(message) = &questions.approval {
                let request = ElicitRequest::new(approval::request(message.clone()));
                requests.insert(approval::INPUT_KEY.into(), InputRequest::Elicitation(request));
            }
            if let Some(message) = &questions.mfa {
                let request = ElicitRequest::new(approval::mfa_request(message.clone()));
                requests.insert(approval::MFA_KEY.into(), InputRequest::Elicitation(request));
            }
            let token = match self.shared.approvals.issue(session, fingerprint).await {
                Ok(token) => token,
                Err(why) => return Some(Step::Refuse("unavailable", why)),
            };
            return Some(Step::Ask(InputRequiredResult::new(Some(requests), Some(token))));
        }
        if !context.peer.supported_elicitation_modes().contains(&ElicitationMode::Form) {
            return None;
        }
        // Counted while the question is open; the waiting call holds its arguments.
        let _asking = match self.shared.approvals.ask(session) {
            Ok(asking) => asking,
            Err(why) => return Some(Step::Refuse("unavailable", why.into())),
        };
        if let Some(message) = &questions.approval {
            match context
                .peer
                .create_elicitation_with_timeout(approval::request(message.clone()), Some(APPROVAL_TIMEOUT))
                .await
            {
                Ok(answer) if approval::approved(&answer) => {}
                Ok(_) => return Some(Step::Refuse("declined", "the human declined".into())),
                Err(error) => return Some(refused_by(&error)),
            }
        }
        let mut code = None;
        if let Some(message) = &questions.mfa {
            match context
                .peer
                .create_elicitation_with_timeout(approval::mfa_request(message.clone()), Some(APPROVAL_TIMEOUT))
                .await
            {
                Ok(answer) => match approval::mfa_code(&answer) {
                    Some(given) => code = Some(given),
                    None => return Some(Step::Refuse("declined", "no valid MFA code (6 digits) was given".into())),
                },
                Err(error) => return Some(refused_by(&error)),
            }
        }
        Some(Step::Go(code))
    }
}

/// Puts the call before an operator in the console and waits up to `wait_seconds`,
/// telling the client it still waits when it sent a progress token.
async fn ask_console(
    console: &Console,
    session: &str,
    context: &RequestContext<RoleServer>,
    asking: &Asking<'_>,
    settings: &ApprovalSettings,
    audit: Arc<crate::audit::AuditLog>,
) -> Step {
    let token = context.meta.get_progress_token();
    let peer = &context.peer;
    let total = settings.wait_seconds as f64;
    let progress = |waited: u64| {
        let token = token.clone();
        async move {
            if let Some(token) = token {
                let message = format!("waiting for an operator's approval in the awsgate console ({waited} s)");
                let param =
                    ProgressNotificationParam::new(token, waited as f64).with_total(total).with_message(message);
                let _ = tokio::time::timeout(NOTIFY_TIMEOUT, peer.notify_progress(param)).await;
            }
        }
    };
    // Over HTTP an approval belongs to the agent rather than its MCP session: adapters such
    // as LangGraph's open a session per tool call, and their retry would never match. Never
    // to what the client calls itself.
    let scope = match (asking.summary.transport, &asking.summary.agent) {
        ("stdio", _) | (_, None) => session.to_string(),
        (transport, Some(agent)) => format!("{transport}:agent:{agent}"),
    };
    let fingerprint = format!("mcp\n{scope}\n{}", asking.fingerprint);
    let cancel = crate::console::Cancel { token: &context.ct, why: "cancelled" };
    match console.wait(&fingerprint, asking.summary.clone(), settings, cancel, audit, progress).await {
        Waited::Approved { mfa_code, .. } => Step::Go(mfa_code),
        Waited::Denied { id, reason } => {
            Step::Refuse("declined", crate::console::denied_message(&id, reason.as_deref()))
        }
        Waited::Pending { id } => Step::Pending(id),
        Waited::TimedOut { id } => Step::Refuse(
            "timed_out",
            format!("no operator decided within {} s (approval `{id}`)", settings.timeout_seconds),
        ),
        Waited::Unavailable(why) => Step::Refuse("unavailable", why),
        Waited::StoreLost(why) => Step::StoreLost(why),
        Waited::Cancelled => Step::Cancelled,
    }
}

fn refused_by(error: &ServiceError) -> Step {
    match error {
        ServiceError::Timeout { .. } => {
            Step::Refuse("timed_out", format!("no answer within {} s", APPROVAL_TIMEOUT.as_secs()))
        }
        _ => Step::Refuse("unavailable", "the client could not ask the human".into()),
    }
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        let served = self.agent.as_deref().and_then(|name| self.shared.agent(name)).or_else(|| self.shared.first());
        let Some(pipeline) = served.map(|served| served.pipeline()) else {
            return ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        };
        let policy = pipeline.policy();
        let capabilities = ServerCapabilities::builder().enable_tools().enable_tool_list_changed().build();
        let mut info = ServerConfig::new(capabilities);
        info.server_info =
            Implementation::new("awsgate", env!("CARGO_PKG_VERSION")).with_title(format!("awsgate: {}", policy.name()));
        info.instructions = Some(format!(
            "awsgate, policy `{}` ({} mode). Each tool is one AWS action; its description lists the resources the policy \
             lets it touch. A denied call returns AccessDenied with the statement and reason: retrying it will not help.",
            policy.name(),
            policy.mode().as_str()
        ));
        info
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        // Every tool fits one page, so awsgate never hands out a cursor.
        if let Some(cursor) = request.and_then(|r| r.cursor) {
            let message =
                format!("unknown cursor `{}`: awsgate lists every tool in one page", catalog::args::printable(&cursor));
            return Err(ErrorData::invalid_params(message, None));
        }
        let Some(served) = self.served(&context) else {
            return Err(ErrorData::invalid_request("no agent is known for this request", None));
        };
        Ok(ListToolsResult::with_all_items(served.tools().iter().map(|t| t.tool.clone()).collect()))
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.shared.register(context.peer);
    }

    /// 2026-07-28 clients hear of a reload on a `subscriptions/listen` stream: the only
    /// notification awsgate sends there is `tools/list_changed`.
    fn accepted_subscription_filter(&self, _requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        Some(SubscriptionFilter::builder().tools_list_changed().build())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let Ok(_slot) = self.shared.listeners.clone().try_acquire_owned() else {
            return Err(ErrorData::internal_error(
                format!("too many subscriptions/listen streams are open (at most {MAX_LISTENERS})"),
                None,
            ));
        };
        let mut reloads = self.shared.reloads.subscribe();
        loop {
            tokio::select! {
                // The client cancelled the request, or the server is shutting down.
                () = context.cancelled() => return Ok(()),
                changed = reloads.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let note = ServerNotification::ToolListChangedNotification(ToolListChangedNotification {
                        method: Default::default(),
                        extensions: Default::default(),
                    });
                    match tokio::time::timeout(NOTIFY_TIMEOUT, context.sink().send(note)).await {
                        Ok(Ok(())) => {}
                        // A stream that cannot take a notification in time is ended.
                        _ => return Ok(()),
                    }
                }
            }
        }
    }

    // `get_tool` keeps its default (`None`): rmcp would otherwise check arguments itself
    // and answer bad ones with a protocol error, where the spec wants a tool error.

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(self.call(request, &context).await)
    }
}
