//! The MCP server handler: `list_tools` is the catalog filtered by the policy, and
//! `call_tool` runs every call the same way: rate limit -> validate arguments -> build the
//! resource ARNs -> gate -> audit the decision -> run -> audit the result.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ElicitRequest, Implementation, InputRequest,
    InputRequests, InputRequiredResult, ListToolsResult, PaginatedRequestParams, ProtocolVersion, ServerCapabilities,
    ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::{ElicitationMode, RequestContext, ServiceError};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::approval::{self, APPROVAL_TIMEOUT, Approvals};
use crate::audit::{self, AuditLog, Client, Record};
use crate::aws::{Aws, Scope};
use crate::catalog::{self, Access, AwsFailure, CallOptions, ToolSpec};
use crate::conditions::{self, Caller, FactCache};
use crate::policy::{Decision, Policy, Request};

/// What every session shares: the compiled policy, the AWS clients, the audit log and
/// the tools the policy exposes.
#[derive(Debug)]
pub struct Shared {
    policy: Policy,
    aws: Aws,
    /// The same clients without automatic retries, for calls that change AWS.
    aws_writes: Aws,
    scope: Scope,
    audit: AuditLog,
    tools: Vec<Listed>,
    /// `calls_per_minute` windows, by session key.
    windows: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// Approvals asked of 2026-07-28 clients and not yet answered.
    approvals: Approvals,
    /// What the global condition keys say of awsgate's caller and calls.
    caller: Caller,
    /// Tags and key schemas looked up for conditions.
    facts: FactCache,
}

#[derive(Debug)]
struct Listed {
    spec: &'static ToolSpec,
    tool: Tool,
}

impl Shared {
    pub fn new(policy: Policy, aws: Aws, scope: Scope, audit: AuditLog, caller: Caller) -> Shared {
        let tools = catalog::tools()
            .filter(|spec| policy.lists_tool(&spec.iam_action()))
            .map(|spec| Listed { spec, tool: describe_tool(spec, &policy) })
            .collect();
        Shared {
            aws_writes: aws.without_retries(),
            aws,
            scope,
            audit,
            tools,
            windows: Mutex::new(HashMap::new()),
            approvals: Approvals::default(),
            facts: FactCache::new(Duration::from_secs(policy.document().limits.tag_cache_seconds)),
            caller,
            policy,
        }
    }

    pub fn tool_names(&self) -> Vec<&'static str> {
        self.tools.iter().map(|t| t.spec.name).collect()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
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
/// request, so those are grouped into one session per client name (`stateless`).
#[derive(Debug, Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
    id: Arc<str>,
    stateless: bool,
}

static CALLS: AtomicU64 = AtomicU64::new(0);

impl Gateway {
    /// A handler that lives as long as its session (stdio, HTTP+SSE).
    pub fn new(shared: Arc<Shared>) -> Gateway {
        Gateway { shared, id: uuid::Uuid::new_v4().to_string().into(), stateless: false }
    }

    /// A handler for streamable HTTP, where a 2026-07-28 request may get a handler of
    /// its own.
    pub fn for_http(shared: Arc<Shared>) -> Gateway {
        Gateway { stateless: true, ..Gateway::new(shared) }
    }

    /// The session a call belongs to, for its rate limit and audit records: the HTTP
    /// session when the client has one, the client for stateless HTTP requests, else this
    /// handler's own.
    fn session_key(&self, http_session: Option<&str>, client: &Client) -> String {
        match http_session {
            Some(id) => format!("http:{id}"),
            None if self.stateless => format!("stateless:{}", client.name),
            None => self.id.to_string(),
        }
    }

    /// Counts the call against `calls_per_minute`; `Err(seconds)` says when to retry.
    fn admit(&self, session: &str) -> Result<(), u64> {
        let limit = self.shared.policy.document().limits.calls_per_minute as usize;
        if limit == 0 {
            return Ok(());
        }
        let window = Duration::from_secs(60);
        let now = Instant::now();
        let Ok(mut windows) = self.shared.windows.lock() else { return Err(60) };
        if windows.len() > 10_000 {
            // Forget sessions that made no call within the window.
            windows.retain(|_, calls| calls.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let calls = windows.entry(session.to_string()).or_default();
        while calls.front().is_some_and(|t| now.duration_since(*t) >= window) {
            calls.pop_front();
        }
        if calls.len() >= limit {
            let oldest = calls.front().copied().unwrap_or(now);
            let wait = window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        calls.push_back(now);
        Ok(())
    }

    async fn call(&self, params: CallToolRequestParams, context: &RequestContext<RoleServer>) -> CallToolResponse {
        // From the request's metadata (2026-07-28) or the `initialize` handshake (earlier).
        let client =
            context.client_info().map(|info| Client { name: info.name, version: info.version }).unwrap_or_default();
        let http_session = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.headers.get("mcp-session-id"))
            .and_then(|id| id.to_str().ok());
        let session = self.session_key(http_session, &client);
        let call_id = format!("{}-{}", self.id.get(..8).unwrap_or(&self.id), CALLS.fetch_add(1, Ordering::Relaxed));
        let started = Instant::now();
        let shared = &self.shared;
        let policy = &shared.policy;
        let name = params.name.as_ref();
        let mut trace = Trace {
            gateway: self,
            session: &session,
            call_id: &call_id,
            client: &client,
            tool: name,
            action: None,
            resources: Vec::new(),
            decision: None,
            approval: None,
            started,
        };

        if let Err(retry_after) = self.admit(&session) {
            let message = format!(
                "over this session's limit of {} calls per minute; retry after {retry_after} s",
                policy.document().limits.calls_per_minute
            );
            trace.result("rate_limited", Some("RateLimited"), None).await;
            return error_result(
                json!({ "error": "RateLimited", "message": message, "retry_after_seconds": retry_after }),
            );
        }
        // Any catalog tool may be called: one the policy does not list is denied by the
        // gate, with its reason and an audit record, rather than reported as unknown.
        let Some(spec) = catalog::find_tool(name) else {
            let message = format!(
                "unknown tool `{}`; this server's tools are: {}",
                catalog::args::printable(name),
                shared.tool_names().join(", ")
            );
            trace.result("invalid", Some("InvalidArgument"), None).await;
            return error_result(json!({ "error": "InvalidArgument", "message": message }));
        };
        let action = spec.iam_action();
        trace.action = Some(action.clone());
        let mut prepared = match spec.prepare(params.arguments.clone(), &shared.scope) {
            Ok(prepared) => prepared,
            Err(error) => {
                trace.result("invalid", Some("InvalidArgument"), None).await;
                return error_result(json!({ "error": "InvalidArgument", "message": error.0 }));
            }
        };
        if !prepared.resolve.is_empty() {
            let limit = Duration::from_secs(policy.document().limits.call_timeout_seconds);
            let resolving = conditions::resolve_resources(
                &mut prepared.resources,
                &prepared.resolve,
                &shared.aws,
                &shared.facts,
                limit,
            );
            let resolved = tokio::select! {
                biased;
                () = context.ct.cancelled() => return trace.cancelled("while awsgate looked up the resource's ARN").await,
                resolved = resolving => resolved,
            };
            if let Err(failure) = resolved {
                trace.resources = prepared.resources.clone();
                trace.result("error", Some(&failure.code), None).await;
                return error_result(json!({
                    "error": failure.code,
                    "message": format!(
                        "awsgate could not look up the ARN of `{}` to judge the call ({}); nothing was sent to AWS",
                        prepared.resources.first().map_or("?", String::as_str),
                        failure.message
                    ),
                }));
            }
        }
        trace.resources = prepared.resources.clone();
        let resources: Vec<&str> = prepared.resources.iter().map(String::as_str).collect();
        let mut caller = shared.caller.clone();
        caller.source_ip = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<super::http::PeerAddr>())
            .map(|peer| peer.0.ip());
        let globals = conditions::global_context(&caller, &shared.scope.region);
        let request = Request {
            action: &action,
            resources: &resources,
            region: &shared.scope.region,
            account: &shared.scope.account,
            context: &globals,
        };
        // Tag look-ups are reads, with the SDK's retries; a cancelled call stops here.
        let learnt = conditions::request_context(
            policy,
            &request,
            conditions::PreparedKeys::of(&prepared),
            globals.clone(),
            &shared.aws,
            &shared.facts,
            Duration::from_secs(policy.document().limits.call_timeout_seconds),
        );
        let (call_context, failures) = tokio::select! {
            biased;
            () = context.ct.cancelled() => return trace.cancelled("while awsgate looked up condition keys").await,
            learnt = learnt => learnt,
        };
        for failure in &failures {
            tracing::warn!(call = %call_id, key = failure.key, code = %failure.code, "a condition key could not be looked up; statements that test it fail closed");
        }
        let request = Request { context: &call_context, ..request };
        let decision = policy.decide(&request);
        let reason = decision.explain(&request);
        trace.decision = Some((decision.clone(), reason.clone()));

        if trace.write("decision", None, None, None).await.is_err() {
            return error_result(json!({
                "error": "AuditUnavailable",
                "message": "the audit log cannot be written, so awsgate refuses the call; nothing was sent to AWS",
            }));
        }
        if !decision.permits_call() {
            let resource = decision.denied_resource(&request).unwrap_or("*");
            trace.result("denied", Some("AccessDenied"), None).await;
            return error_result(json!({
                "error": "AccessDenied",
                "message": format!("awsgate denied `{action}` on `{resource}`: {reason}"),
                "action": action,
                "resource": resource,
                "statement": decision.statement,
                "reason": reason,
            }));
        }
        let mfa = shared.aws.mfa.as_ref().filter(|mfa| mfa.needs_code());
        if decision.approval_required || mfa.is_some() {
            let questions = Questions {
                approval: decision.approval_required.then(|| {
                    approval::message(
                        &action,
                        &prepared.resources,
                        name,
                        params.arguments.as_ref(),
                        policy.name(),
                        decision.statement,
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
            let step = tokio::select! {
                biased;
                () = context.ct.cancelled() => Step::Cancelled,
                step = self.ask_human(&session, context, &params, fingerprint, &questions) => step,
            };
            match step {
                Step::Cancelled => return trace.cancelled("while it waited for a human").await,
                Step::Go(code) => {
                    if decision.approval_required {
                        trace.approval = Some("approved");
                    }
                    if let (Some(mfa), Some(code)) = (mfa, code) {
                        mfa.provide(code);
                    }
                }
                Step::Ask(input_required) => {
                    let outcome = if decision.approval_required {
                        trace.approval = Some("requested");
                        "approval_requested"
                    } else {
                        "mfa_requested"
                    };
                    trace.result(outcome, None, None).await;
                    return CallToolResponse::InputRequired(input_required);
                }
                Step::Refuse(outcome, why) => {
                    let (error, needs) = if questions.approval.is_some() {
                        trace.approval = Some(outcome);
                        ("ApprovalDenied", "a human's approval")
                    } else {
                        ("MfaRequired", "an MFA code from a human")
                    };
                    trace.result("approval_denied", Some(error), None).await;
                    return error_result(json!({
                        "error": error,
                        "message": format!("`{action}` on `{}` needs {needs}: {why}; nothing was sent to AWS", resources.join("`, `")),
                    }));
                }
            }
        }

        let limits = policy.document().limits;
        let options = CallOptions { max_output_bytes: usize::try_from(limits.max_output_bytes).unwrap_or(usize::MAX) };
        let timeout = Duration::from_secs(limits.call_timeout_seconds);
        // A write is sent once: no automatic retry, and an unknown outcome is said so.
        let writes = spec.access == Access::Write;
        let aws = if writes { shared.aws_writes.clone() } else { shared.aws.clone() };
        // A call cancelled by now never starts; one cancelled in flight is abandoned.
        if context.ct.is_cancelled() {
            return trace.cancelled("before its AWS request").await;
        }
        let run = tokio::time::timeout(timeout, prepared.run(aws, options));
        let outcome = tokio::select! {
            biased;
            () = context.ct.cancelled() => return trace.cancelled("while its AWS request was in flight").await,
            outcome = run => outcome,
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(_) => Err(AwsFailure {
                code: "Timeout".into(),
                message: format!(
                    "the call did not finish within call_timeout_seconds ({})",
                    limits.call_timeout_seconds
                ),
                request_id: None,
            }),
        };
        let outcome = outcome.map_err(|f| if writes && f.outcome_may_be_unknown() { f.outcome_unknown() } else { f });
        match outcome {
            Ok(output) => {
                trace.result("ok", None, output.request_id.as_deref()).await;
                let value = catalog::fit_output(output.value, options.max_output_bytes);
                CallToolResult::structured(value).into()
            }
            Err(failure) => {
                trace.result("error", Some(&failure.code), failure.request_id.as_deref()).await;
                error_result(
                    json!({ "error": failure.code, "message": failure.message, "request_id": failure.request_id }),
                )
            }
        }
    }
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

/// Where the questions stand.
enum Step {
    /// The human said yes (and gave the MFA code, when asked for one).
    Go(Option<String>),
    /// Ask the 2026-07-28 client, which will call again with the answers.
    Ask(InputRequiredResult),
    /// No: the audit word (`declined`, `timed_out`, `unavailable`) and why.
    Refuse(&'static str, String),
    /// The client cancelled the call while it waited.
    Cancelled,
}

const CANNOT_ASK: &str = "this client cannot ask a human (it declares no elicitation capability)";

impl Gateway {
    async fn ask_human(
        &self,
        session: &str,
        context: &RequestContext<RoleServer>,
        params: &CallToolRequestParams,
        fingerprint: String,
        questions: &Questions,
    ) -> Step {
        let modern = context.protocol_version().is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str());
        if modern {
            if let (Some(token), Some(answers)) = (params.request_state.as_deref(), params.input_responses.as_ref()) {
                if let Err(why) = self.shared.approvals.redeem(token, &fingerprint) {
                    return Step::Refuse("declined", why.to_string());
                }
                let approved = answers.get(approval::INPUT_KEY).is_some_and(approval::approved_response);
                if questions.approval.is_some() && !approved {
                    return Step::Refuse("declined", "the human declined".into());
                }
                let code = answers.get(approval::MFA_KEY).and_then(approval::mfa_code_response);
                if questions.mfa.is_some() && code.is_none() {
                    return Step::Refuse("declined", "no valid MFA code (6 digits) was given".into());
                }
                return Step::Go(code);
            }
            if context.client_capabilities().and_then(|c| c.elicitation).is_none() {
                return Step::Refuse("unavailable", CANNOT_ASK.into());
            }
            let mut requests = InputRequests::new();
            if let Some(message) = &questions.approval {
                let request = ElicitRequest::new(approval::request(message.clone()));
                requests.insert(approval::INPUT_KEY.into(), InputRequest::Elicitation(request));
            }
            if let Some(message) = &questions.mfa {
                let request = ElicitRequest::new(approval::mfa_request(message.clone()));
                requests.insert(approval::MFA_KEY.into(), InputRequest::Elicitation(request));
            }
            let token = match self.shared.approvals.issue(session, &fingerprint) {
                Ok(token) => token,
                Err(why) => return Step::Refuse("unavailable", why.into()),
            };
            return Step::Ask(InputRequiredResult::new(Some(requests), Some(token)));
        }
        if !context.peer.supported_elicitation_modes().contains(&ElicitationMode::Form) {
            return Step::Refuse("unavailable", CANNOT_ASK.into());
        }
        // Counted while the question is open; the waiting call holds its arguments.
        let _asking = match self.shared.approvals.ask(session) {
            Ok(asking) => asking,
            Err(why) => return Step::Refuse("unavailable", why.into()),
        };
        if let Some(message) = &questions.approval {
            match context
                .peer
                .create_elicitation_with_timeout(approval::request(message.clone()), Some(APPROVAL_TIMEOUT))
                .await
            {
                Ok(answer) if approval::approved(&answer) => {}
                Ok(_) => return Step::Refuse("declined", "the human declined".into()),
                Err(error) => return refused_by(&error),
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
                    None => return Step::Refuse("declined", "no valid MFA code (6 digits) was given".into()),
                },
                Err(error) => return refused_by(&error),
            }
        }
        Step::Go(code)
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

/// What one call has learnt so far, for its audit records.
struct Trace<'a> {
    gateway: &'a Gateway,
    session: &'a str,
    call_id: &'a str,
    client: &'a Client,
    tool: &'a str,
    action: Option<String>,
    resources: Vec<String>,
    decision: Option<(Decision<'a>, String)>,
    /// How a required approval went, for the result record.
    approval: Option<&'static str>,
    started: Instant,
}

impl Trace<'_> {
    async fn write(
        &self,
        event: &'static str,
        outcome: Option<&'static str>,
        error: Option<&str>,
        request_id: Option<&str>,
    ) -> std::io::Result<()> {
        let shared = &self.gateway.shared;
        let decision = self.decision.as_ref();
        let record = Record {
            time: audit::now_rfc3339(),
            event,
            call_id: self.call_id,
            session: self.session,
            client: self.client,
            policy: shared.policy.name(),
            mode: shared.policy.mode().as_str(),
            tool: self.tool,
            action: self.action.as_deref(),
            resources: &self.resources,
            decision: decision.map(|(d, _)| d.effect()),
            enforced: decision.map(|(d, _)| d.enforced),
            statement: decision.and_then(|(d, _)| d.statement),
            reason: decision.map(|(_, r)| r.as_str()),
            approval: match (event, self.approval) {
                ("result", Some(outcome)) => Some(outcome),
                _ => decision.map(|(d, _)| if d.approval_required { "required" } else { "not_required" }),
            },
            outcome,
            error,
            aws_request_id: request_id,
            duration_ms: outcome.map(|_| (self.started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0),
        };
        let written = shared.audit.write(&record).await;
        if let Err(error) = &written {
            tracing::error!(%error, call_id = self.call_id, "cannot write the audit log");
        }
        written
    }

    /// The answer to a call the client cancelled, and its `result` record.
    async fn cancelled(&self, when: &str) -> CallToolResponse {
        self.result("cancelled", Some("Cancelled"), None).await;
        let action = self.action.as_deref().unwrap_or(self.tool);
        error_result(json!({
            "error": "Cancelled",
            "message": format!("the client cancelled `{action}` {when}; awsgate did not start it, or abandoned its AWS request"),
        }))
    }

    /// The `result` record. A failure here is logged; the call has already happened.
    async fn result(&self, outcome: &'static str, error: Option<&str>, request_id: Option<&str>) {
        let _ = self.write("result", Some(outcome), error, request_id).await;
    }
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        let policy = &self.shared.policy;
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
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
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        // Every tool fits one page, so awsgate never hands out a cursor.
        if let Some(cursor) = request.and_then(|r| r.cursor) {
            let message =
                format!("unknown cursor `{}`: awsgate lists every tool in one page", catalog::args::printable(&cursor));
            return Err(ErrorData::invalid_params(message, None));
        }
        Ok(ListToolsResult::with_all_items(self.shared.tools.iter().map(|t| t.tool.clone()).collect()))
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
