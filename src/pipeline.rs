//! The steps every call takes, whichever front door it came through (an MCP tool call or
//! a request to the AWS-protocol sidecar): rate limit -> look up names and condition keys
//! -> gate -> audit the decision -> (ask a human, which each front door does its own way)
//! -> run -> audit the result. Each failure is one [`CallError`], which each front door
//! turns into its own error (an MCP tool error, an AWS protocol error) in one place.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::audit::{self, AuditLog, Client, Record};
use crate::aws::{Aws, AwsFailure, Scope};
use crate::catalog::Prepared;
use crate::conditions::{self, Caller, FactCache};
use crate::policy::{Decision, Policy, Request};

/// What every call shares: the compiled policy, the AWS clients, the audit log, the rate
/// limit windows and the cache of looked-up facts. A reload makes a new one that shares
/// the log, the windows and (when the policy's cache time is unchanged) the facts.
#[derive(Debug)]
pub struct Pipeline {
    policy: Policy,
    /// The hex SHA-256 of the policy file's text.
    policy_hash: String,
    aws: Aws,
    /// The same clients without automatic retries, for calls that change AWS.
    aws_writes: Aws,
    /// The session policy the role's credentials carry, derived from `policy`.
    session_policy: Option<String>,
    scope: Scope,
    audit: Arc<AuditLog>,
    /// `calls_per_minute` windows, by session (or agent key).
    windows: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
    /// What the global condition keys say of awsgate's caller and calls.
    caller: Caller,
    /// Tags, key schemas and ARNs looked up for the gate.
    facts: Arc<FactCache>,
    /// The replicas' shared store (`--store`): the rate-limit windows are kept there, and
    /// without it no call runs.
    store: Option<Arc<crate::store::Store>>,
    /// A candidate policy every call is also judged by; only recorded.
    shadow: Option<crate::policy::Shadow>,
}

/// The pipeline in force. Each call takes it once, at its start, and finishes under it
/// even if a reload replaces it meanwhile.
#[derive(Debug)]
pub struct Live {
    current: RwLock<Arc<Pipeline>>,
}

impl Live {
    pub fn new(pipeline: Pipeline) -> Live {
        Live { current: RwLock::new(Arc::new(pipeline)) }
    }

    pub fn current(&self) -> Arc<Pipeline> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts `pipeline` in force for the calls that start from now on.
    pub fn replace(&self, pipeline: Pipeline) {
        let pipeline = Arc::new(pipeline);
        match self.current.write() {
            Ok(mut current) => *current = pipeline,
            Err(poisoned) => *poisoned.into_inner() = pipeline,
        }
    }
}

/// Most sessions whose rate-limit windows are kept before idle ones are forgotten.
const MAX_WINDOWS: usize = 10_000;

static CALLS: AtomicU64 = AtomicU64::new(0);

/// The pieces a pipeline is made of at start.
#[derive(Debug)]
pub struct Parts {
    pub policy: Policy,
    pub policy_hash: String,
    pub aws: Aws,
    pub session_policy: Option<String>,
    pub scope: Scope,
    /// Shared by every agent's pipeline.
    pub audit: Arc<AuditLog>,
    pub caller: Caller,
    pub store: Option<Arc<crate::store::Store>>,
    pub shadow: Option<crate::policy::Shadow>,
}

impl Pipeline {
    pub fn new(parts: Parts) -> Pipeline {
        let Parts { policy, policy_hash, aws, session_policy, scope, audit, caller, store, shadow } = parts;
        Pipeline {
            aws_writes: aws.without_retries(),
            aws,
            session_policy,
            scope,
            audit,
            windows: Arc::default(),
            facts: Arc::new(FactCache::new(Duration::from_secs(policy.document().limits.tag_cache_seconds))),
            caller,
            policy,
            policy_hash,
            store,
            shadow,
        }
    }

    /// The same pipeline under a new policy (and its shadow, if any), with new AWS clients
    /// when the role's session policy changed with it.
    pub fn reloaded(
        &self,
        policy: Policy,
        policy_hash: String,
        shadow: Option<crate::policy::Shadow>,
        aws: Option<(Aws, Option<String>)>,
    ) -> Pipeline {
        let ttl = policy.document().limits.tag_cache_seconds;
        let facts = if ttl == self.policy.document().limits.tag_cache_seconds {
            self.facts.clone()
        } else {
            Arc::new(FactCache::new(Duration::from_secs(ttl)))
        };
        let (aws, session_policy) = aws.unwrap_or_else(|| (self.aws.clone(), self.session_policy.clone()));
        Pipeline {
            aws_writes: aws.without_retries(),
            aws,
            session_policy,
            scope: self.scope.clone(),
            audit: self.audit.clone(),
            windows: self.windows.clone(),
            facts,
            caller: self.caller.clone(),
            policy,
            policy_hash,
            store: self.store.clone(),
            shadow,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn policy_hash(&self) -> &str {
        &self.policy_hash
    }

    pub fn shadow(&self) -> Option<&crate::policy::Shadow> {
        self.shadow.as_ref()
    }

    pub fn session_policy(&self) -> Option<&str> {
        self.session_policy.as_deref()
    }

    /// The audit log, shared: for a record written after the call that asked is gone.
    pub fn shared_audit(&self) -> Arc<AuditLog> {
        self.audit.clone()
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The clients a call runs with: without retries for a write, which is sent once.
    pub fn aws(&self, writes: bool) -> &Aws {
        if writes { &self.aws_writes } else { &self.aws }
    }

    /// Starts a call: its id, and the trace its audit records are written from.
    pub fn begin<'p>(&'p self, origin: &'p Origin, prefix: &str, tool: &'p str) -> Call<'p> {
        Call {
            pipeline: self,
            origin,
            call_id: format!("{}-{}", prefix.get(..8).unwrap_or(prefix), CALLS.fetch_add(1, Ordering::Relaxed)),
            tool,
            action: None,
            resources: Vec::new(),
            decision: None,
            context: None,
            shadow: None,
            approval: None,
            refusal: None,
            region: None,
            started: Instant::now(),
        }
    }

    /// Counts a call against `calls_per_minute`, in the shared store when there is one.
    async fn admit(&self, who: &str) -> Result<(), CallError> {
        let limit = self.policy.document().limits.calls_per_minute;
        let over = |retry_after| CallError::RateLimited { limit, retry_after };
        let Some(store) = &self.store else { return self.admit_here(who).map_err(over) };
        // Without the store, nothing runs: not unlimited, not unapproved.
        if let Some(why) = store.trouble() {
            return Err(CallError::Unavailable(why));
        }
        if limit == 0 {
            return Ok(());
        }
        match store.admit(who, limit).await {
            Ok(admitted) => admitted.map_err(over),
            Err(why) => Err(CallError::Unavailable(why)),
        }
    }

    /// Counts a call against `calls_per_minute` in this process; `Err(seconds)` says when
    /// to retry.
    fn admit_here(&self, session: &str) -> Result<(), u64> {
        let limit = self.policy.document().limits.calls_per_minute as usize;
        if limit == 0 {
            return Ok(());
        }
        let window = Duration::from_secs(60);
        let now = Instant::now();
        let Ok(mut windows) = self.windows.lock() else { return Err(60) };
        if windows.len() > MAX_WINDOWS {
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
}

/// Who is calling, through which front door.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// `stdio`, `http`, `sse` or `sidecar`.
    pub transport: &'static str,
    /// The session the rate limit and audit records group calls by.
    pub session: String,
    pub client: Client,
    /// The agent key's name, for the sidecar.
    pub agent: Option<String>,
    /// The peer's address, for `aws:SourceIp`, when the transport knows it.
    pub source_ip: Option<IpAddr>,
}

/// Why a call did not run, or failed. Each front door maps it to its own error once.
#[derive(Debug, Clone)]
pub enum CallError {
    RateLimited {
        limit: u32,
        retry_after: u64,
    },
    InvalidArgument(String),
    /// awsgate could not learn the ARN of what the call names.
    LookupFailed {
        resource: String,
        failure: AwsFailure,
    },
    AuditUnavailable,
    /// The replicas' shared store cannot be reached: nothing runs until it can.
    Unavailable(String),
    AccessDenied {
        action: String,
        resource: String,
        statement: Option<String>,
        reason: String,
    },
    /// A human said no, could not be asked, or did not answer.
    ApprovalDenied {
        message: String,
    },
    MfaRequired {
        message: String,
    },
    /// Waiting in the console: the agent calls again once an operator decided.
    ApprovalPending {
        approval_id: String,
        message: String,
    },
    Cancelled {
        action: String,
        when: &'static str,
    },
    Aws(AwsFailure),
}

impl CallError {
    /// The error code agents see.
    pub fn code(&self) -> &str {
        match self {
            CallError::RateLimited { .. } => "RateLimited",
            CallError::InvalidArgument(_) => "InvalidArgument",
            CallError::LookupFailed { failure, .. } | CallError::Aws(failure) => &failure.code,
            CallError::AuditUnavailable => "AuditUnavailable",
            CallError::Unavailable(_) => "Unavailable",
            CallError::AccessDenied { .. } => "AccessDenied",
            CallError::ApprovalDenied { .. } => "ApprovalDenied",
            CallError::MfaRequired { .. } => "MfaRequired",
            CallError::ApprovalPending { .. } => "ApprovalPending",
            CallError::Cancelled { .. } => "Cancelled",
        }
    }

    pub fn message(&self) -> String {
        match self {
            CallError::RateLimited { limit, retry_after } => {
                format!("over this agent's limit of {limit} calls per minute; retry after {retry_after} s")
            }
            CallError::InvalidArgument(message)
            | CallError::ApprovalDenied { message }
            | CallError::MfaRequired { message }
            | CallError::ApprovalPending { message, .. } => message.clone(),
            CallError::LookupFailed { resource, failure } => format!(
                "awsgate could not look up the ARN of `{resource}` to judge the call ({}); nothing was sent to AWS",
                failure.message
            ),
            CallError::AuditUnavailable => {
                "the audit log cannot be written, so awsgate refuses the call; nothing was sent to AWS".into()
            }
            CallError::Unavailable(why) => format!(
                "awsgate cannot reach the state its replicas share, so it refuses the call; nothing was sent to AWS: {why}"
            ),
            CallError::AccessDenied { action, resource, reason, .. } => {
                format!("awsgate denied `{action}` on `{resource}`: {reason}")
            }
            CallError::Cancelled { action, when } => format!(
                "the client cancelled `{action}` {when}; awsgate did not start it, or abandoned its AWS request"
            ),
            CallError::Aws(failure) => failure.message.clone(),
        }
    }

    /// The `outcome` of the call's `result` record.
    pub fn outcome(&self) -> &'static str {
        match self {
            CallError::RateLimited { .. } => "rate_limited",
            CallError::InvalidArgument(_) => "invalid",
            CallError::AccessDenied { .. } => "denied",
            CallError::ApprovalDenied { .. } | CallError::MfaRequired { .. } => "approval_denied",
            CallError::ApprovalPending { .. } => "approval_pending",
            CallError::Cancelled { .. } => "cancelled",
            CallError::LookupFailed { .. }
            | CallError::AuditUnavailable
            | CallError::Unavailable(_)
            | CallError::Aws(_) => "error",
        }
    }

    /// AWS's request id, when AWS answered.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            CallError::Aws(failure) | CallError::LookupFailed { failure, .. } => failure.request_id.as_deref(),
            _ => None,
        }
    }
}

/// One call on its way through the pipeline, and what it has learnt for its audit
/// records.
pub struct Call<'p> {
    pipeline: &'p Pipeline,
    origin: &'p Origin,
    pub call_id: String,
    tool: &'p str,
    action: Option<String>,
    resources: Vec<String>,
    decision: Option<(Decision<'p>, String)>,
    /// The condition keys and values the gate judged by, for the decision record.
    context: Option<crate::policy::Context>,
    /// What the shadow policy says, when it differs.
    shadow: Option<audit::ShadowVerdict>,
    /// How a required approval went, for the result record.
    approval: Option<&'static str>,
    /// Why awsgate denied a call the gate could not judge.
    refusal: Option<String>,
    /// The region the call is judged in and sent to, when not the policy's (a sidecar
    /// request signed for another region).
    region: Option<String>,
    started: Instant,
}

/// What the gate said of an allowed call.
#[derive(Debug, Clone, Copy)]
pub struct Allowed<'p> {
    /// A statement requires a human's approval first.
    pub approval_required: bool,
    pub statement: Option<&'p str>,
}

impl<'p> Call<'p> {
    /// The rate limit of the caller's agent; over it, the call ends here.
    pub async fn admit(&mut self) -> Result<(), CallError> {
        // The agent's budget, whatever session or client name it calls from.
        let key = self.origin.agent.as_deref().unwrap_or(&self.origin.session);
        match self.pipeline.admit(key).await {
            Ok(()) => Ok(()),
            Err(error) => Err(self.fail(error).await),
        }
    }

    /// Judges the call in `region` (`aws:RequestedRegion`, and the ARNs the front door
    /// built for it).
    pub fn set_region(&mut self, region: String) {
        self.region = Some(region);
    }

    pub fn set_action(&mut self, action: String) {
        self.action = Some(action);
    }

    pub fn action(&self) -> &str {
        self.action.as_deref().unwrap_or(self.tool)
    }

    pub fn session(&self) -> &'p str {
        &self.origin.session
    }

    pub fn origin(&self) -> &'p Origin {
        self.origin
    }

    pub fn approval(&mut self, how: &'static str) {
        self.approval = Some(how);
    }

    /// Looks up what the gate needs (ARNs of names, condition keys), decides, and writes
    /// the decision record. `Err` when the call must not run, its result record written.
    pub async fn judge(
        &mut self,
        prepared: &mut Prepared,
        cancel: &CancellationToken,
    ) -> Result<Allowed<'p>, CallError> {
        let pipeline = self.pipeline;
        let policy = &pipeline.policy;
        let limit = Duration::from_secs(policy.document().limits.call_timeout_seconds);
        if !prepared.resolve.is_empty() {
            let resolving = conditions::resolve_resources(
                &mut prepared.resources,
                &prepared.resolve,
                &pipeline.aws,
                &pipeline.facts,
                limit,
            );
            let resolved = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(self.cancelled("while awsgate looked up the resource's ARN").await),
                resolved = resolving => resolved,
            };
            if let Err(failure) = resolved {
                self.resources = prepared.resources.clone();
                let resource = prepared.resources.first().cloned().unwrap_or_else(|| "?".into());
                return Err(self.fail(CallError::LookupFailed { resource, failure }).await);
            }
        }
        self.resources = prepared.resources.clone();
        let action = self.action.clone().unwrap_or_default();
        let resources: Vec<&str> = prepared.resources.iter().map(String::as_str).collect();
        let mut caller = pipeline.caller.clone();
        caller.source_ip = self.origin.source_ip;
        let region = self.region.clone().unwrap_or_else(|| pipeline.scope.region.clone());
        let globals = conditions::global_context(&caller, &region);
        let request = Request {
            action: &action,
            resources: &resources,
            region: &region,
            account: &pipeline.scope.account,
            context: &globals,
        };
        // Tag look-ups are reads, with the SDK's retries; a cancelled call stops here. The
        // shadow's keys are learnt too, so that it judges what the policy in force judges.
        let shadow = pipeline.shadow.as_ref().map(|s| &*s.policy);
        let policies: Vec<&Policy> = std::iter::once(policy).chain(shadow).collect();
        let learnt = conditions::request_context(
            &policies,
            &request,
            conditions::PreparedKeys::of(prepared),
            globals.clone(),
            &pipeline.aws,
            &pipeline.facts,
            limit,
        );
        let (call_context, failures) = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(self.cancelled("while awsgate looked up condition keys").await),
            learnt = learnt => learnt,
        };
        for failure in &failures {
            tracing::warn!(call = %self.call_id, key = failure.key, code = %failure.code, "a condition key could not be looked up; statements that test it fail closed");
        }
        let request = Request { context: &call_context, ..request };
        let decision = policy.decide(&request);
        let reason = decision.explain(&request);
        let denied = (!decision.permits_call()).then(|| CallError::AccessDenied {
            action: action.clone(),
            resource: decision.denied_resource(&request).unwrap_or("*").to_string(),
            statement: decision.statement.map(str::to_string),
            reason: reason.clone(),
        });
        let allowed = Allowed { approval_required: decision.approval_required, statement: decision.statement };
        if let Some(shadow) = shadow {
            let judged = shadow.decide(&request);
            // What would come of the call: run, run once approved, or not run.
            if judged.verdict() != decision.verdict() {
                let agent = self.origin.agent.as_deref().unwrap_or("-");
                crate::metrics::shadow_disagreed(agent, decision.verdict(), judged.verdict());
                self.shadow = Some(audit::ShadowVerdict {
                    decision: judged.verdict(),
                    statement: judged.statement.map(str::to_string),
                    reason: judged.explain(&request),
                });
            }
        }
        self.decision = Some((decision, reason));
        // The record keeps the global keys and those a statement of either policy tested;
        // the others (argument values such as a partition key) only by name.
        let tested: Vec<String> = policies.iter().flat_map(|p| p.tested_keys(&request)).map(|(_, key)| key).collect();
        self.context =
            Some(call_context.recorded(|key| crate::policy::recorded_untested(key) || tested.iter().any(|t| t == key)));
        if self.write("decision", None, None, None).await.is_err() {
            return Err(CallError::AuditUnavailable);
        }
        match denied {
            Some(denied) => Err(self.fail(denied).await),
            None => Ok(allowed),
        }
    }

    /// Writes a decision record for a call the gate never saw (an operation the sidecar
    /// cannot map): a deny by awsgate itself.
    pub async fn refuse(&mut self, resource: &str, reason: String) -> CallError {
        let action = self.action().to_string();
        self.resources = vec![resource.to_string()];
        self.refusal = Some(reason.clone());
        if self.write("decision", None, None, None).await.is_err() {
            return CallError::AuditUnavailable;
        }
        let error = CallError::AccessDenied { action, resource: resource.to_string(), statement: None, reason };
        self.fail(error).await
    }

    /// Runs the call's AWS request within `call_timeout_seconds`, unless the caller
    /// cancelled it; a write whose outcome is unknown is said so. Writes the result record.
    pub async fn run<T, F>(&mut self, writes: bool, run: F, cancel: &CancellationToken) -> Result<T, CallError>
    where
        F: Future<Output = Result<(T, Option<String>), AwsFailure>>,
    {
        let answered = async { run.await.map(|(value, request_id)| (value, request_id, None)) };
        self.run_answered(writes, answered, cancel).await
    }

    /// As [`Call::run`], for a front door that passes AWS's answer on as it came (the
    /// sidecar): the answer may be AWS's error, whose code (third) the result record names
    /// with the outcome `error`, while the answer itself still goes back to the caller.
    pub async fn run_answered<T, F>(&mut self, writes: bool, run: F, cancel: &CancellationToken) -> Result<T, CallError>
    where
        F: Future<Output = Result<(T, Option<String>, Option<String>), AwsFailure>>,
    {
        let limits = self.pipeline.policy.document().limits;
        // A call cancelled by now never starts; one cancelled in flight is abandoned.
        if cancel.is_cancelled() {
            return Err(self.cancelled("before its AWS request").await);
        }
        let timed = tokio::time::timeout(Duration::from_secs(limits.call_timeout_seconds), run);
        let outcome = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(self.cancelled("while its AWS request was in flight").await),
            outcome = timed => outcome,
        };
        let outcome = outcome.unwrap_or_else(|_| {
            Err(AwsFailure {
                code: "Timeout".into(),
                message: format!(
                    "the call did not finish within call_timeout_seconds ({})",
                    limits.call_timeout_seconds
                ),
                request_id: None,
            })
        });
        match outcome {
            Ok((value, request_id, None)) => {
                self.result("ok", None, request_id.as_deref()).await;
                Ok(value)
            }
            Ok((value, request_id, Some(code))) => {
                self.result("error", Some(&code), request_id.as_deref()).await;
                Ok(value)
            }
            Err(failure) => {
                let failure =
                    if writes && failure.outcome_may_be_unknown() { failure.outcome_unknown() } else { failure };
                Err(self.fail(CallError::Aws(failure)).await)
            }
        }
    }

    /// Writes the result record of a call that ends with `error`, and returns it.
    pub async fn fail(&self, error: CallError) -> CallError {
        if !matches!(error, CallError::AuditUnavailable) {
            self.result(error.outcome(), Some(error.code()), error.request_id()).await;
        }
        error
    }

    pub async fn cancelled(&self, when: &'static str) -> CallError {
        self.fail(CallError::Cancelled { action: self.action().to_string(), when }).await
    }

    /// The `result` record. A failure here is logged; the call has already happened.
    pub async fn result(&self, outcome: &'static str, error: Option<&str>, request_id: Option<&str>) {
        let _ = self.write("result", Some(outcome), error, request_id).await;
    }

    async fn write(
        &self,
        event: &'static str,
        outcome: Option<&'static str>,
        error: Option<&str>,
        request_id: Option<&str>,
    ) -> std::io::Result<()> {
        let pipeline = self.pipeline;
        let decision = self.decision.as_ref();
        let record = Record {
            time: audit::now_rfc3339(),
            event,
            call_id: &self.call_id,
            session: &self.origin.session,
            client: &self.origin.client,
            transport: self.origin.transport,
            agent: self.origin.agent.as_deref(),
            policy: pipeline.policy.name(),
            mode: pipeline.policy.mode().as_str(),
            tool: self.tool,
            action: self.action.as_deref(),
            resources: &self.resources,
            decision: decision.map(|(d, _)| d.effect()).or(self.refusal.as_ref().map(|_| "deny")),
            enforced: decision.map(|(d, _)| d.enforced).or(self.refusal.as_ref().map(|_| true)),
            statement: decision.and_then(|(d, _)| d.statement),
            reason: decision.map(|(_, r)| r.as_str()).or(self.refusal.as_deref()),
            approval: match (event, self.approval) {
                ("result", Some(outcome)) => Some(outcome),
                _ => decision.map(|(d, _)| if d.approval_required { "required" } else { "not_required" }),
            },
            outcome,
            error,
            aws_request_id: request_id,
            duration_ms: outcome.map(|_| (self.started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0),
            context: if event == "decision" { self.context.as_ref() } else { None },
            shadow: if event == "decision" { self.shadow.as_ref() } else { None },
        };
        if let ("result", Some(outcome)) = (event, outcome) {
            crate::metrics::call_ended(
                record.agent.unwrap_or("-"),
                // Never the tool name a client sent (an unknown tool has no action): only
                // actions of the catalog and the models make a series.
                record.action.unwrap_or("-"),
                record.decision.unwrap_or("none"),
                outcome,
                record.transport,
                self.started.elapsed().as_secs_f64(),
                error,
            );
        }
        let written = pipeline.audit.write(&record).await;
        if let Err(error) = &written {
            tracing::error!(%error, call_id = %self.call_id, "cannot write the audit log");
        }
        written
    }
}
