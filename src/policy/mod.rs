//! The gate: parse, validate, compile and evaluate policies. Pure: no I/O beyond reading
//! the policy file, no async runtime, no AWS SDK, no MCP. What it knows of AWS's actions
//! comes in as a [`Vocabulary`] from the catalog.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

mod condition;
mod document;
mod gate;
mod iam;
mod pattern;
pub mod source;
mod suggest;

use std::path::{Path, PathBuf};

pub use condition::{
    ConditionKey, Context, EMPTY_CONTEXT, Found, GLOBAL_KEYS, KeyType, Truth, UNKNOWABLE_GLOBAL_KEYS, parse_date,
    recorded_untested,
};
pub use document::{
    Approval, AuditLog, Credentials, Diagnostic, Effect, Format, Limits, Mode, PolicyDocument, SessionPolicy, Severity,
    Spanned, Statement, UnknownOperations, terminal_safe,
};
pub use document::{ApprovalChannel, Approvals as ApprovalSettings};
pub use document::{is_account, is_region};
pub use gate::{
    ApprovalSummary, Decision, Policy, Reason, Request, partition_of, unscoped_star_requests, verdict_rank,
};
pub use iam::{
    IAM_POLICY_VERSION, SESSION_POLICY_MAX_CHARS, least_privilege, session_policy, terraform, trust_policy_example,
};
pub use pattern::{ActionPattern, ArnPattern};
pub use source::Location;
pub use suggest::closest;

/// The IAM action names of one service awsgate has tools for.
#[derive(Debug, Clone, Copy)]
pub struct ServiceVocabulary {
    /// Lowercase service prefix, as in `s3:GetObject`.
    pub name: &'static str,
    /// Every IAM action of the service, in AWS's spelling.
    pub actions: &'static [&'static str],
    /// The actions awsgate has tools for (a subset of `actions`).
    pub tool_actions: &'static [&'static str],
    /// The condition keys awsgate supplies for the tools' actions.
    pub condition_keys: &'static [ConditionKey],
}

/// What the gate knows of AWS: the services awsgate has tools for, their actions, and the
/// shapes of the resources the tools' actions touch.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    services: Vec<ServiceVocabulary>,
    /// Lowercased `service:action` of each tool action to its resource ARN templates
    /// (`arn:${Partition}:s3:::${Bucket}`), for the least-privilege export.
    templates: std::collections::HashMap<String, Vec<String>>,
}

impl Vocabulary {
    pub fn new(services: Vec<ServiceVocabulary>) -> Vocabulary {
        Vocabulary { services, templates: Default::default() }
    }

    /// Records that `action` (`service:Action`) acts on resources of `template`'s shape.
    pub fn add_template(&mut self, action: &str, template: String) {
        let list = self.templates.entry(action.to_ascii_lowercase()).or_default();
        if !list.contains(&template) {
            list.push(template);
        }
    }

    /// The resource templates of a tool action; empty when none was recorded.
    pub fn templates(&self, action: &str) -> &[String] {
        self.templates.get(&action.to_ascii_lowercase()).map_or(&[], Vec::as_slice)
    }

    pub fn service(&self, name: &str) -> Option<&ServiceVocabulary> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn services(&self) -> impl Iterator<Item = &ServiceVocabulary> {
        self.services.iter()
    }

    pub fn service_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.services.iter().map(|s| s.name)
    }
}

/// A policy that passed validation, with the warnings it raised.
#[derive(Debug)]
pub struct Loaded {
    pub policy: Policy,
    pub warnings: Vec<Diagnostic>,
    /// The hex SHA-256 of the policy's text: which policy was in force, in audit records
    /// and the console.
    pub hash: String,
    /// The shadow policy its `shadow:` names (or the agents file gives it), loaded.
    pub shadow: Option<Shadow>,
}

/// A candidate policy judged beside the one in force: what it says is only recorded.
#[derive(Debug, Clone)]
pub struct Shadow {
    pub path: PathBuf,
    pub policy: std::sync::Arc<Policy>,
    pub hash: String,
    /// Its own warnings, and the settings a shadow does not use.
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy `{}`: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("policy `{}` is invalid ({} error(s))", path.display(), errors(diagnostics))]
    Invalid { path: PathBuf, diagnostics: Vec<Diagnostic> },
}

fn errors(diagnostics: &[Diagnostic]) -> usize {
    diagnostics.iter().filter(|d| d.severity == Severity::Error).count()
}

/// Validates and compiles policy text. On failure, returns every diagnostic (errors and
/// warnings, in file order); on success, the warnings.
pub fn parse(text: &str, default_name: &str, vocabulary: &Vocabulary) -> Result<Loaded, Vec<Diagnostic>> {
    let root = source::parse(text).map_err(|syntax| {
        syntax
            .into_iter()
            .map(|e| Diagnostic { severity: Severity::Error, at: e.at, message: e.message })
            .collect::<Vec<_>>()
    })?;
    let mut validator = document::Validator::new(vocabulary);
    let document = validator.document(&root, default_name);
    let diagnostics = validator.into_diagnostics();
    match document {
        Some(document) if errors(&diagnostics) == 0 => {
            use sha2::Digest;
            let hash = sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
            Ok(Loaded { policy: Policy::compile(document, vocabulary), warnings: diagnostics, hash, shadow: None })
        }
        _ => Err(diagnostics),
    }
}

/// Writes a policy error the way `awsgate check` does: every diagnostic, located.
pub fn write_error(error: &PolicyError, out: &mut impl std::io::Write) -> std::io::Result<()> {
    match error {
        PolicyError::Invalid { path, diagnostics } => write_diagnostics(path, diagnostics, out),
        PolicyError::Read { .. } => writeln!(out, "{}", terminal_safe(&error.to_string())),
    }
}

/// One line per diagnostic: `FILE:LINE:COLUMN: severity: message`.
pub fn write_diagnostics(
    path: &Path,
    diagnostics: &[Diagnostic],
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    for diagnostic in diagnostics {
        writeln!(out, "{}:{diagnostic}", terminal_safe(&path.display().to_string()))?;
    }
    Ok(())
}

/// Reads, validates and compiles a policy file. A policy with no `name` is named after
/// the file.
pub fn load_file(path: &Path, vocabulary: &Vocabulary) -> Result<Loaded, PolicyError> {
    let mut loaded = load_without_shadow(path, vocabulary)?;
    if let Some(named) = loaded.policy.document().shadow.clone() {
        let shadow = path.parent().unwrap_or(Path::new(".")).join(&named.value);
        loaded.shadow = Some(load_shadow(&shadow, vocabulary).map_err(|error| match error {
            // Said where the shadow is named, since the file itself cannot be read.
            PolicyError::Read { source, .. } => PolicyError::Invalid {
                path: path.to_path_buf(),
                diagnostics: vec![Diagnostic {
                    severity: Severity::Error,
                    at: named.at,
                    message: format!("cannot read the shadow policy `{}`: {source}", shadow.display()),
                }],
            },
            invalid => invalid,
        })?);
    }
    Ok(loaded)
}

/// As [`load_file`], leaving the policy's `shadow:` unread: for judging with the policy
/// alone (`audit replay`'s candidate).
pub fn load_without_shadow(path: &Path, vocabulary: &Vocabulary) -> Result<Loaded, PolicyError> {
    let text = read_text(path).map_err(|source| PolicyError::Read { path: path.to_path_buf(), source })?;
    let default_name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("policy");
    parse(&text, default_name, vocabulary)
        .map_err(|diagnostics| PolicyError::Invalid { path: path.to_path_buf(), diagnostics })
}

/// Largest policy or agents file awsgate reads (a 10,000-statement policy is about 2 MiB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// A policy or agents file's text: a regular file of at most [`MAX_FILE_BYTES`] (a device
/// such as `/dev/zero` would never end).
pub fn read_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!("larger than {} MiB", MAX_FILE_BYTES >> 20)));
    }
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!("larger than {} MiB", MAX_FILE_BYTES >> 20)));
    }
    Ok(text)
}

/// Reads a shadow policy: a policy file like any other, which names no shadow itself.
pub fn load_shadow(path: &Path, vocabulary: &Vocabulary) -> Result<Shadow, PolicyError> {
    let text = read_text(path).map_err(|source| PolicyError::Read { path: path.to_path_buf(), source })?;
    let default_name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("shadow");
    let loaded = parse(&text, default_name, vocabulary)
        .map_err(|diagnostics| PolicyError::Invalid { path: path.to_path_buf(), diagnostics })?;
    if let Some(named) = &loaded.policy.document().shadow {
        let diagnostic = Diagnostic {
            severity: Severity::Error,
            at: named.at,
            message: "a shadow policy cannot name a shadow of its own".into(),
        };
        return Err(PolicyError::Invalid { path: path.to_path_buf(), diagnostics: vec![diagnostic] });
    }
    let mut warnings = loaded.warnings;
    let document = loaded.policy.document();
    let unused: Vec<&str> = [
        ("credentials", document.credentials.is_some()),
        ("region", document.region.is_some()),
        ("account", document.account.is_some()),
        ("limits", document.limits != document::Limits::default()),
        ("audit", document.audit_log != document::AuditLog::default()),
        ("approvals", document.approvals != document::Approvals::default()),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect();
    if !unused.is_empty() {
        warnings.push(Diagnostic {
            severity: Severity::Warning,
            at: Location { line: 1, column: 1 },
            message: format!(
                "a shadow only judges: its {} {} not used (the policy in force's are)",
                unused.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "),
                if unused.len() == 1 { "is" } else { "are" }
            ),
        });
    }
    Ok(Shadow { path: path.to_path_buf(), policy: std::sync::Arc::new(loaded.policy), hash: loaded.hash, warnings })
}
