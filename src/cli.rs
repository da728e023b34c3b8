//! The `awsgate` command line: argument definitions and every subcommand but `serve`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::catalog::{self, ResourceShape, ToolSpec};
use crate::policy::{self, Decision, Diagnostic, Loaded, Policy, PolicyError, Request, Severity};
use crate::{gateway, mcp};

#[derive(Debug, Parser)]
#[command(
    name = "awsgate",
    version,
    about = "An MCP server that gives AI agents AWS access through an IAM-faithful policy gate"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    Stdio,
    Http,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the MCP server.
    Serve {
        /// The policy every caller is judged by (one agent, `default`).
        #[arg(long, env = "AWSGATE_POLICY", required_unless_present = "agents", conflicts_with = "agents")]
        policy: Option<PathBuf>,
        /// Many agents, each with its own policy and credentials (see the README).
        #[arg(long)]
        agents: Option<PathBuf>,
        /// With `--agents` over stdio: the agent the one client is.
        #[arg(long, requires = "agents")]
        agent: Option<String>,
        #[arg(long, value_enum, default_value = "stdio")]
        transport: Transport,
        /// Address for `--transport http`.
        #[arg(long, default_value = "127.0.0.1:8765")]
        listen: String,
        /// Audit log file (JSON lines); overrides the policy's `audit.log`.
        #[arg(long)]
        audit_log: Option<PathBuf>,
        /// File holding the bearer token HTTP clients must send (else `AWSGATE_AUTH_TOKEN`).
        #[arg(long)]
        auth_token_file: Option<PathBuf>,
        /// Most streamable HTTP sessions kept at once; a new one over the cap closes the
        /// session idle the longest.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        max_sessions: u32,
        /// Also serve the AWS wire protocols on this address (the sidecar), for agents
        /// that bring their own SDK or CLI; needs `--agent-keys`.
        #[arg(long, requires = "agent_keys")]
        aws_listen: Option<String>,
        /// The agent keys the sidecar accepts (from `awsgate agent-key new`); readable by
        /// its owner only.
        #[arg(long, requires = "aws_listen")]
        agent_keys: Option<PathBuf>,
        /// Serve the operator console at `/console` (needs `--transport http` and an operator
        /// token: AWSGATE_CONSOLE_TOKEN or --console-token-file).
        #[arg(long)]
        console: bool,
        /// File holding the operator's console token (else `AWSGATE_CONSOLE_TOKEN`).
        #[arg(long, requires = "console")]
        console_token_file: Option<PathBuf>,
        /// Reload the policy when its file changes (SIGHUP reloads it too). A policy that
        /// does not validate is refused and the running one stays.
        #[arg(long)]
        watch: bool,
        /// This replica's name, written in every audit record as `replica` (default: the
        /// host name).
        #[arg(long)]
        replica_id: Option<String>,
        /// Serve Prometheus metrics at `/metrics` (and `/healthz`, `/readyz`) on this address.
        #[arg(long)]
        metrics_listen: Option<String>,
        /// Share state with other replicas in Redis or Valkey 7+:
        /// `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]` (port 6379 by default), or `rediss://`
        /// for TLS; empty means none. Without it, the state is this process's (one replica).
        #[arg(long, env = "AWSGATE_STORE", hide_env_values = true)]
        store: Option<String>,
        /// A load balancer in front of awsgate (a CIDR range or an address; repeat for
        /// several): from it, `X-Forwarded-For` names the agent, for `aws:SourceIp`.
        #[arg(long = "trusted-proxy", value_name = "CIDR")]
        trusted_proxy: Vec<String>,
    },
    /// Agent keys for the sidecar.
    AgentKey {
        #[command(subcommand)]
        command: AgentKeyCommand,
    },
    /// Static bearer tokens for the agents file.
    AgentToken {
        #[command(subcommand)]
        command: AgentTokenCommand,
    },
    /// Work with audit logs.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Validate policy files.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Evaluate a request without calling AWS, like the IAM policy simulator.
    Simulate {
        #[arg(long, env = "AWSGATE_POLICY")]
        policy: PathBuf,
        #[arg(long)]
        action: String,
        /// A resource ARN, or `*` for actions without one. Repeat for several.
        #[arg(long = "resource", required = true)]
        resources: Vec<String>,
        /// The call's region, for `*` requests (default: the policy's `region`).
        #[arg(long)]
        region: Option<String>,
        /// The call's account, for `*` requests (default: the policy's `account`).
        #[arg(long)]
        account: Option<String>,
        /// A condition key's value, `KEY=VALUE` (`s3:prefix=home/alice/`). Repeat a key for
        /// several values. Overrides what awsgate supplies (the time, the region).
        #[arg(long = "context", value_name = "KEY=VALUE")]
        context: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// The tools this policy exposes.
    Tools {
        #[arg(long, env = "AWSGATE_POLICY")]
        policy: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Print the equivalent least-privilege IAM policy.
    IamPolicy {
        #[arg(long, env = "AWSGATE_POLICY")]
        policy: PathBuf,
        /// `json` (the policy to attach on stdout, a trust policy on stderr) or `terraform`
        /// (HCL for the role with both, on stdout).
        #[arg(long, default_value = "json")]
        format: IamFormat,
    },
    /// The catalog of supported actions and their tool names.
    Actions {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IamFormat {
    Json,
    Terraform,
}

#[derive(Debug, Subcommand)]
pub enum AgentKeyCommand {
    /// Print a new key as one entry of the keys file: `awsgate agent-key new NAME >> keys.yaml`.
    New { name: String },
}

#[derive(Debug, Subcommand)]
pub enum AgentTokenCommand {
    /// Print a new token for agent NAME, and the `token_sha256:` line for its entry.
    New { name: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check audit logs' hash chains (one per replica); exit 1 naming the first record that
    /// does not verify.
    Verify {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the tightest policy that allows every call the logs' decision records show.
    Suggest {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Merge two or more resources that differ only after their last `/` into
        /// `prefix/*`, which also allows keys the log does not show.
        #[arg(long)]
        generalize: bool,
        /// Only the calls of this agent (`serve --agents`); `default` for `--policy`.
        #[arg(long)]
        agent: Option<String>,
    },
    /// Judge every logged decision again under a candidate policy and print those that
    /// change; exit 1 if a call would be let through more than it was (or might be), 2 if
    /// the logs cannot be judged.
    Replay {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The candidate policy.
        #[arg(long)]
        policy: PathBuf,
        /// Only the calls of this agent (`serve --agents`); `default` for `--policy`.
        #[arg(long)]
        agent: Option<String>,
        /// One JSON object per changed decision, a line each.
        #[arg(long)]
        json: bool,
    },
}

/// What went wrong, by cause; `main` maps each to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error(transparent)]
    Serve(#[from] gateway::ServeError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// `audit replay` could not judge: exit 2, so that exit 1 means a widening.
    #[error("{0}")]
    Unjudged(String),
}

/// The process outcome of a command that ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A check failed.
    Failed,
}

pub fn run(cli: Cli) -> Result<Outcome, CliError> {
    // Not locked for `serve`: there stdout belongs to the MCP transport.
    let stdout = &mut std::io::stdout();
    match cli.command {
        Command::Serve {
            policy,
            agents,
            agent,
            transport,
            listen,
            audit_log,
            auth_token_file,
            max_sessions,
            aws_listen,
            agent_keys,
            watch,
            console,
            console_token_file,
            replica_id,
            metrics_listen,
            store,
            trusted_proxy,
        } => {
            crate::forwarded::trust(crate::forwarded::parse(&trusted_proxy).map_err(CliError::Invalid)?);
            if console && transport != Transport::Http {
                return Err(CliError::Invalid(
                    "the console is served over HTTP: add `--transport http` to `--console`".into(),
                ));
            }
            let http = (transport == Transport::Http).then_some(mcp::HttpOptions {
                listen,
                auth_token_file,
                max_sessions: usize::try_from(max_sessions).ok(),
                console: console.then_some(mcp::ConsoleOptions { token_file: console_token_file }),
            });
            let sidecar = aws_listen
                .zip(agent_keys)
                .map(|(listen, agent_keys)| crate::sidecar::SidecarOptions { listen, agent_keys });
            if agent.is_some() && agents.is_none() {
                return Err(CliError::Invalid("`--agent NAME` goes with `--agents FILE`".into()));
            }
            let judged_by = match (agents, policy) {
                (Some(file), _) => gateway::JudgedBy::Agents { file, stdio_agent: agent },
                (None, Some(policy)) => gateway::JudgedBy::Policy(policy),
                (None, None) => return Err(CliError::Invalid("give `--policy FILE` or `--agents FILE`".into())),
            };
            let replica = replica_id.unwrap_or_else(host_name);
            if replica.is_empty() || replica.len() > 128 || replica.chars().any(char::is_control) {
                return Err(CliError::Invalid("`--replica-id` must be 1 to 128 printable characters".into()));
            }
            gateway::serve(gateway::ServeOptions {
                judged_by,
                http,
                audit_log,
                sidecar,
                watch,
                replica,
                metrics: metrics_listen,
                // `AWSGATE_STORE=` (empty) means no store, as an unset variable does.
                store: store.filter(|s| !s.trim().is_empty()),
            })?;
            Ok(Outcome::Ok)
        }
        Command::AgentToken { command: AgentTokenCommand::New { name } } => {
            let (token, line) = crate::agents::new_token(&name).map_err(CliError::Invalid)?;
            writeln!(stdout, "# the token to give agent `{name}` (shown once; awsgate keeps only its hash):")?;
            writeln!(stdout, "# {token}")?;
            writeln!(stdout, "{line}")?;
            Ok(Outcome::Ok)
        }
        Command::AgentKey { command: AgentKeyCommand::New { name } } => {
            let entry = crate::sidecar::keys::new_entry(&name).map_err(CliError::Invalid)?;
            writeln!(stdout, "{entry}")?;
            Ok(Outcome::Ok)
        }
        Command::Audit { command: AuditCommand::Verify { files } } => {
            // Each file is its own chain (each replica writes one): all are checked.
            let mut outcome = Outcome::Ok;
            for file in &files {
                if verify_audit(file, stdout)? == Outcome::Failed {
                    outcome = Outcome::Failed;
                }
            }
            Ok(outcome)
        }
        Command::Audit { command: AuditCommand::Suggest { files, generalize, agent } } => {
            suggest_policy(&files, generalize, agent.as_deref(), stdout)
        }
        Command::Audit { command: AuditCommand::Replay { files, policy, agent, json } } => {
            replay(&files, &policy, agent.as_deref(), json, stdout)
        }
        Command::Check { files } => check(&files, stdout),
        Command::Simulate { policy, action, resources, region, account, context, json } => {
            let loaded = load(&policy)?;
            let document = loaded.policy.document();
            let region = region.or_else(|| document.region.clone()).unwrap_or_default();
            let context = simulation_context(document, &region, &context)?;
            let scope = CallScope {
                region,
                account: account.or_else(|| document.account.clone()).unwrap_or_default(),
                context,
            };
            simulate(&loaded.policy, &action, &resources, &scope, json, stdout)
        }
        Command::Tools { policy, json } => tools(&load(&policy)?.policy, json, stdout),
        Command::IamPolicy { policy, format } => {
            let loaded = load(&policy)?;
            let document = loaded.policy.document();
            if format == IamFormat::Terraform {
                let source = policy::terminal_safe(&policy.display().to_string()).into_owned();
                let shadow = loaded.shadow.as_ref().map(|s| s.policy.document());
                write!(stdout, "{}", policy::terraform(document, &catalog::vocabulary(), shadow, &source))?;
                return Ok(Outcome::Ok);
            }
            let shadow = loaded.shadow.as_ref().map(|s| s.policy.document());
            let permissions = policy::least_privilege(document, &catalog::vocabulary(), shadow);
            writeln!(stdout, "{}", serde_json::to_string_pretty(&permissions).unwrap_or_default())?;
            // stdout stays one JSON document; the trust policy example goes beside it.
            let stderr = &mut std::io::stderr();
            let credentials = document.credentials.as_ref();
            let role_arn = credentials.and_then(|c| c.role_arn.as_deref());
            let sent =
                role_arn.is_some() && credentials.is_some_and(|c| c.session_policy == policy::SessionPolicy::Derived);
            let role = role_arn.unwrap_or("the role");
            if sent {
                writeln!(stderr, "# Attach the policy above to {role} (it is also sent as the session policy).")?;
            } else {
                writeln!(stderr, "# Attach the policy above to {role}.")?;
            }
            writeln!(stderr, "# A trust policy for {role} that lets awsgate's source identity assume it:")?;
            let trust = policy::trust_policy_example(document);
            writeln!(stderr, "{}", serde_json::to_string_pretty(&trust).unwrap_or_default())?;
            if let Err(length) = policy::session_policy(document, &catalog::vocabulary(), shadow) {
                writeln!(
                    stderr,
                    "# warning: as a session policy this is {length} characters; AWS allows {}",
                    policy::SESSION_POLICY_MAX_CHARS
                )?;
            }
            Ok(Outcome::Ok)
        }
        Command::Actions { json } => actions(json, stdout),
    }
}

/// Loads a policy for a command that needs one; warnings go to stderr.
pub fn load(path: &Path) -> Result<Loaded, CliError> {
    let loaded = policy::load_file(path, &catalog::vocabulary())?;
    let stderr = &mut std::io::stderr().lock();
    print_diagnostics(path, &loaded.warnings, stderr)?;
    Ok(loaded)
}

/// Prints a policy error the way `check` does: every diagnostic, located.
pub fn report(error: &PolicyError, out: &mut impl Write) -> std::io::Result<()> {
    policy::write_error(error, out)
}

fn print_diagnostics(path: &Path, diagnostics: &[Diagnostic], out: &mut impl Write) -> std::io::Result<()> {
    policy::write_diagnostics(path, diagnostics, out)
}

fn verify_audit(path: &Path, out: &mut impl Write) -> Result<Outcome, CliError> {
    let shown = policy::terminal_safe(&path.display().to_string()).into_owned();
    // A file that cannot be read fails the check, and the other files are still checked.
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) => {
            writeln!(std::io::stderr(), "{shown}: cannot read it: {error}")?;
            return Ok(Outcome::Failed);
        }
    };
    match crate::audit::chain::verify(std::io::BufReader::new(file)) {
        Ok(verified) => {
            writeln!(
                out,
                "{shown}: ok, {} records chained; the last hash is {}",
                verified.records, verified.last_hash
            )?;
            Ok(Outcome::Ok)
        }
        Err(broken) => {
            writeln!(std::io::stderr(), "{shown}:{}", policy::terminal_safe(&broken.to_string()))?;
            Ok(Outcome::Failed)
        }
    }
}

fn suggest_policy(
    files: &[PathBuf],
    generalize: bool,
    agent: Option<&str>,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    let mut calls = match agent {
        Some(agent) => crate::audit::suggest::Calls::of_agent(agent),
        None => crate::audit::suggest::Calls::default(),
    };
    for path in files {
        let shown = policy::terminal_safe(&path.display().to_string()).into_owned();
        let file = std::fs::File::open(path).map_err(|e| CliError::Invalid(format!("cannot read `{shown}`: {e}")))?;
        calls
            .read(std::io::BufReader::new(file))
            .map_err(|(line, what)| CliError::Invalid(format!("{shown}:{line}: {what}")))?;
    }
    if calls.is_empty() {
        let whose = agent.map(|a| format!(" of agent `{a}`")).unwrap_or_default();
        return Err(CliError::Invalid(format!(
            "the logs hold no decision records{whose}, so there is nothing to allow; run the agent with `mode: audit` first"
        )));
    }
    let sources: Vec<String> =
        files.iter().map(|p| policy::terminal_safe(&p.display().to_string()).into_owned()).collect();
    write!(out, "{}", calls.policy(&sources.join(", "), generalize))?;
    Ok(Outcome::Ok)
}

/// `audit replay`: the changed decisions, grouped by what they change from and to (text)
/// or a line each (`--json`), and a summary on stderr. `Failed` when a call would be let
/// through more than it was (or might be: undetermined); `Unjudged` when replay could not
/// judge at all.
fn replay(
    files: &[PathBuf],
    candidate: &Path,
    agent: Option<&str>,
    json: bool,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    use crate::audit::replay::{Changed, LISTED};
    use std::collections::BTreeMap;
    // The candidate alone: its own `shadow:` plays no part in what it decides.
    let candidate_alone =
        policy::load_without_shadow(candidate, &catalog::vocabulary()).map_err(CliError::from).and_then(|loaded| {
            print_diagnostics(candidate, &loaded.warnings, &mut std::io::stderr().lock())?;
            Ok(loaded)
        });
    let loaded = match candidate_alone {
        Ok(loaded) => loaded,
        Err(CliError::Policy(error)) => {
            report(&error, &mut std::io::stderr())?;
            return Err(CliError::Unjudged("the candidate policy does not load".into()));
        }
        Err(other) => return Err(CliError::Unjudged(other.to_string())),
    };
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    // Narrowings first, then widenings, then the undetermined.
    let order = |changed: &Changed| -> (u8, &'static str, &'static str) {
        let kind = match (policy::verdict_rank(changed.from), changed.to) {
            (_, "undetermined") => 2,
            (from, to) if policy::verdict_rank(to) < from => 0,
            _ => 1,
        };
        (kind, changed.from, changed.to)
    };
    let mut groups: BTreeMap<(u8, &'static str, &'static str), (u64, Vec<Changed>)> = BTreeMap::new();
    let replayed = crate::audit::replay::replay(&paths, &loaded.policy, agent, |changed| {
        if json {
            let line = serde_json::to_string(&changed).map_err(std::io::Error::other)?;
            return writeln!(out, "{line}");
        }
        let group = groups.entry(order(&changed)).or_default();
        group.0 += 1;
        if group.1.len() < LISTED {
            group.1.push(changed);
        }
        Ok(())
    })
    .map_err(|e| CliError::Unjudged(policy::terminal_safe(&e.to_string()).into_owned()))?;
    for ((_, from, to), (count, listed)) in &groups {
        writeln!(out, "{from} → {to} ({count}):")?;
        for changed in listed {
            let by = |statement: Option<&str>| statement.map_or("no statement".into(), |s| format!("statement `{s}`"));
            let call = format!(
                "  {}  {}  call {}{}  {} on {}",
                changed.time,
                changed.file,
                changed.call_id,
                changed.agent.as_deref().map(|a| format!(" of agent `{a}`")).unwrap_or_default(),
                changed.action,
                changed.resources.join(", "),
            );
            let why = format!(
                "    was {from} ({}); now {to} ({}): {}",
                by(changed.statement.as_deref()),
                by(changed.new_statement.as_deref()),
                changed.reason
            );
            writeln!(out, "{}", policy::terminal_safe(&call))?;
            writeln!(out, "{}", policy::terminal_safe(&why))?;
        }
        if *count > listed.len() as u64 {
            writeln!(out, "  ... and {} more (`--json` lists every one)", count - listed.len() as u64)?;
        }
    }
    let shown = policy::terminal_safe(&candidate.display().to_string()).into_owned();
    let mut summary = format!(
        "replayed {} decision(s) under `{shown}`: {} narrowed, {} widened, {} undetermined",
        replayed.judged, replayed.narrowed, replayed.widened, replayed.undetermined
    );
    if replayed.refused > 0 {
        summary.push_str(&format!(
            "; {} call(s) refused before the gate left as they were (no policy decides an operation awsgate cannot map)",
            replayed.refused
        ));
    }
    eprintln!("{summary}");
    if replayed.judged == 0 {
        let whose = agent.map(|a| format!(" of agent `{a}`")).unwrap_or_default();
        return Err(CliError::Unjudged(format!("the logs hold no decision{whose} that can be judged again")));
    }
    Ok(if replayed.widened > 0 || replayed.undetermined_not_allowed > 0 { Outcome::Failed } else { Outcome::Ok })
}

/// `1 statement`, `2 statements`.
fn counted(count: usize, what: &str) -> String {
    if count == 1 { format!("1 {what}") } else { format!("{count} {what}s") }
}

fn check(files: &[PathBuf], out: &mut impl Write) -> Result<Outcome, CliError> {
    let vocabulary = catalog::vocabulary();
    let mut outcome = Outcome::Ok;
    for path in files {
        let text = policy::read_text(path).unwrap_or_default();
        if crate::agents::is_agents_file(&text) {
            if check_agents(path, &vocabulary, out)? == Outcome::Failed {
                outcome = Outcome::Failed;
            }
            continue;
        }
        match policy::load_file(path, &vocabulary) {
            Ok(loaded) => {
                print_diagnostics(path, &loaded.warnings, out)?;
                if let Some(shadow) = &loaded.shadow {
                    print_diagnostics(&shadow.path, &shadow.warnings, out)?;
                }
                let policy = &loaded.policy;
                let tools = catalog::tools().filter(|t| policy.lists_tool(&t.iam_action())).count();
                let shadow = shadow_summary(loaded.shadow.as_ref());
                writeln!(
                    out,
                    "{}: ok ({}, {}, {}{shadow})",
                    path.display(),
                    counted(policy.document().statements.len(), "statement"),
                    counted(tools, "tool"),
                    counted(loaded.warnings.len(), "warning"),
                )?;
            }
            Err(error) => {
                outcome = Outcome::Failed;
                report(&error, out)?;
                if let PolicyError::Invalid { diagnostics, .. } = &error {
                    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
                    writeln!(out, "{}: {errors} error(s)", path.display())?;
                }
            }
        }
    }
    Ok(outcome)
}

/// The machine's host name, the default replica id.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "awsgate".to_string())
}

/// `, shadow `FILE` (N statements, M warnings)`, when there is a shadow.
fn shadow_summary(shadow: Option<&policy::Shadow>) -> String {
    shadow.map_or(String::new(), |shadow| {
        let statements = shadow.policy.document().statements.len();
        format!(
            ", shadow `{}` ({}, {})",
            shadow.path.display(),
            counted(statements, "statement"),
            counted(shadow.warnings.len(), "warning")
        )
    })
}

/// Checks an agents file and every policy it names.
fn check_agents(path: &Path, vocabulary: &policy::Vocabulary, out: &mut impl Write) -> Result<Outcome, CliError> {
    match crate::agents::load(path, vocabulary) {
        Ok(loaded) => {
            for (agent, policy) in loaded.file.agents.iter().zip(&loaded.policies) {
                print_diagnostics(&agent.policy, &policy.warnings, out)?;
                if let Some(shadow) = &policy.shadow {
                    print_diagnostics(&shadow.path, &shadow.warnings, out)?;
                }
                let tools = catalog::tools().filter(|t| policy.policy.lists_tool(&t.iam_action())).count();
                let shadow = shadow_summary(policy.shadow.as_ref());
                writeln!(out, "{}: agent `{}`: ok ({}{shadow})", path.display(), agent.name, counted(tools, "tool"))?;
            }
            writeln!(out, "{}: ok ({} agents)", path.display(), loaded.file.agents.len())?;
            Ok(Outcome::Ok)
        }
        Err(error) => {
            report_agents(&error, out)?;
            Ok(Outcome::Failed)
        }
    }
}

/// Prints an agents file's error the way `check` does: located.
pub fn report_agents(error: &crate::agents::AgentsError, out: &mut impl Write) -> std::io::Result<()> {
    use crate::agents::AgentsError;
    match error {
        AgentsError::Invalid { path, diagnostics } => {
            print_diagnostics(path, diagnostics, out)?;
            let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
            writeln!(out, "{}: {errors} error(s)", path.display())
        }
        AgentsError::Policies { failed } => {
            for (agent, error) in failed {
                writeln!(out, "agent `{agent}`: its policy or its shadow does not load:")?;
                report(error, out)?;
            }
            Ok(())
        }
        AgentsError::Read { .. } => writeln!(out, "{}", policy::terminal_safe(&error.to_string())),
    }
}

/// Refuses inputs that could only be typos, so that a simulation never answers a question
/// the user did not mean to ask.
fn validate_request(action: &str, resources: &[String]) -> Result<(), CliError> {
    let Some((service, name)) = action.split_once(':') else {
        return Err(CliError::Invalid(format!(
            "`{action}` is not an IAM action: write `service:Action`, like `s3:GetObject`"
        )));
    };
    if name.is_empty() || action.contains(['*', '?']) {
        return Err(CliError::Invalid(format!(
            "`{action}` is not one action: simulate takes an action name without wildcards"
        )));
    }
    if let Some(known) = catalog::vocabulary().service(&service.to_ascii_lowercase())
        && !known.actions.iter().any(|a| a.eq_ignore_ascii_case(name))
    {
        let hint = policy::closest(name, known.actions.iter().copied())
            .map_or_else(String::new, |hit| format!("; did you mean `{service}:{hit}`?"));
        return Err(CliError::Invalid(format!("unknown action `{action}`{hint}")));
    }
    for resource in resources {
        if resource != "*" && !resource.starts_with("arn:") {
            return Err(CliError::Invalid(format!(
                "`{resource}` is not a resource: give an ARN (`arn:aws:s3:::bucket/key`) or `*`"
            )));
        }
    }
    Ok(())
}

/// The region and account a simulated call goes to, and its condition keys.
struct CallScope {
    region: String,
    account: String,
    context: policy::Context,
}

/// The context of a simulated call: what awsgate would supply without asking AWS (the
/// time, the region, TLS to AWS, the role), then `--context KEY=VALUE` over it. Tags
/// and other looked-up keys are missing unless given.
fn simulation_context(
    document: &policy::PolicyDocument,
    region: &str,
    pairs: &[String],
) -> Result<policy::Context, CliError> {
    let caller = crate::conditions::Caller {
        source_ip: None,
        principal_arn: document.credentials.as_ref().and_then(|c| c.role_arn.clone()),
        secure_transport: true,
        // An agent's tags come with `--context aws:PrincipalTag/KEY=VALUE`.
        principal_tags: Vec::new(),
    };
    let mut context = crate::conditions::global_context(&caller, region);
    let mut given = policy::Context::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(CliError::Invalid(format!(
                "`--context {pair}`: write KEY=VALUE, like `s3:prefix=home/alice/`"
            )));
        };
        let well_formed = key.split_once(':').is_some_and(|(s, k)| !s.is_empty() && !k.is_empty());
        if !well_formed {
            return Err(CliError::Invalid(format!(
                "`--context {pair}`: `{key}` is not a condition key; write `service:key`, like `aws:SourceIp`"
            )));
        }
        given.add(key, value.to_string());
    }
    for (key, values) in given.values() {
        context.set(key, values.to_vec());
    }
    Ok(context)
}

fn simulate(
    policy: &Policy,
    action: &str,
    resources: &[String],
    scope: &CallScope,
    as_json: bool,
    out: &mut impl Write,
) -> Result<Outcome, CliError> {
    validate_request(action, resources)?;
    if !scope.region.is_empty() && !policy::is_region(&scope.region) {
        return Err(CliError::Invalid(format!("`{}` is not an AWS region name (like `us-east-1`)", scope.region)));
    }
    if !scope.account.is_empty() && !policy::is_account(&scope.account) {
        return Err(CliError::Invalid(format!("`{}` is not an AWS account id: it has 12 digits", scope.account)));
    }
    let resources: Vec<&str> = resources.iter().map(String::as_str).collect();
    let request = Request {
        action,
        resources: &resources,
        region: &scope.region,
        account: &scope.account,
        context: &scope.context,
    };
    let decision = policy.decide(&request);
    if as_json {
        writeln!(out, "{}", simulation_json(&decision, &request))?;
    } else {
        writeln!(
            out,
            "decision:  {}{}",
            decision.effect(),
            if decision.enforced { "" } else { " (audit mode: not enforced)" }
        )?;
        writeln!(out, "statement: {}", decision.statement.unwrap_or("-"))?;
        writeln!(out, "reason:    {}", decision.explain(&request))?;
        writeln!(out, "approval:  {}", approval_word(&decision))?;
    }
    Ok(Outcome::Ok)
}

fn approval_word(decision: &Decision<'_>) -> &'static str {
    if decision.approval_required { "required" } else { "not_required" }
}

/// The `simulate --json` object, exactly as the spec gives it.
pub fn simulation_json(decision: &Decision<'_>, request: &Request<'_>) -> serde_json::Value {
    json!({
        "decision": decision.effect(),
        "enforced": decision.enforced,
        "statement": decision.statement,
        "reason": decision.explain(request),
        "approval": approval_word(decision),
        "condition": decision.condition,
    })
}

fn tools(policy: &Policy, as_json: bool, out: &mut impl Write) -> Result<Outcome, CliError> {
    let listed: Vec<&ToolSpec> = catalog::tools().filter(|t| policy.lists_tool(&t.iam_action())).collect();
    if as_json {
        let items: Vec<serde_json::Value> = listed
            .iter()
            .map(|tool| {
                let action = tool.iam_action();
                json!({
                    "name": tool.name,
                    "action": action,
                    "access": tool.access.as_str(),
                    "approval": policy.approval_summary(&action).as_str(),
                    "resources": resources_for(tool, policy),
                    "conditions": policy.allow_conditions(&action),
                    "annotations": annotations_json(tool),
                    "description": catalog::describe(tool, policy),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&items).unwrap_or_default())?;
        return Ok(Outcome::Ok);
    }
    if listed.is_empty() {
        writeln!(out, "this policy exposes no tools")?;
        return Ok(Outcome::Ok);
    }
    writeln!(out, "{:<24} {:<22} {:<6} {:<9} {:<23} RESOURCES", "TOOL", "ACTION", "ACCESS", "APPROVAL", "HINTS")?;
    let mut conditional = Vec::new();
    for tool in listed {
        let action = tool.iam_action();
        let a = tool.annotations;
        let hints: Vec<&str> =
            [(a.read_only, "read-only"), (a.destructive, "destructive"), (a.idempotent, "idempotent")]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, name)| *name)
                .collect();
        writeln!(
            out,
            "{:<24} {:<22} {:<6} {:<9} {:<23} {}",
            tool.name,
            action,
            tool.access.as_str(),
            policy.approval_summary(&action).as_str(),
            hints.join(","),
            resources_for(tool, policy).join(" ")
        )?;
        let conditions = policy.allow_conditions(&action);
        if !conditions.is_empty() {
            conditional.push(format!("{}: only when {}", tool.name, conditions.join("; or when ")));
        }
    }
    if !conditional.is_empty() {
        writeln!(out, "\nconditions:")?;
        for line in conditional {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(Outcome::Ok)
}

fn resources_for(tool: &ToolSpec, policy: &Policy) -> Vec<String> {
    if tool.resource == ResourceShape::None {
        return vec!["*".into()];
    }
    policy.allowed_resources(&tool.iam_action())
}

pub fn annotations_json(tool: &ToolSpec) -> serde_json::Value {
    let a = tool.annotations;
    json!({
        "readOnlyHint": a.read_only,
        "destructiveHint": a.destructive,
        "idempotentHint": a.idempotent,
        "openWorldHint": a.open_world,
    })
}

fn actions(as_json: bool, out: &mut impl Write) -> Result<Outcome, CliError> {
    if as_json {
        let items: Vec<serde_json::Value> = catalog::tools()
            .map(|tool| {
                json!({
                    "tool": tool.name,
                    "action": tool.iam_action(),
                    "operation": tool.operation,
                    "access": tool.access.as_str(),
                    "resource": tool.resource.template(),
                    "annotations": annotations_json(tool),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&items).unwrap_or_default())?;
        return Ok(Outcome::Ok);
    }
    writeln!(out, "{:<31} {:<33} {:<6} RESOURCE", "TOOL", "IAM ACTION", "ACCESS")?;
    for tool in catalog::tools() {
        writeln!(
            out,
            "{:<31} {:<33} {:<6} {}",
            tool.name,
            tool.iam_action(),
            tool.access.as_str(),
            tool.resource.template()
        )?;
    }
    Ok(Outcome::Ok)
}
