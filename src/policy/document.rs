//! The policy file's meaning: the typed document, and the validation that builds it from
//! the located tree while collecting every error and warning.
//!
//! Two formats share one model: awsgate's own (`version: 1`, snake_case keys) and a plain
//! IAM policy document (`Version`, `Statement`), whose settings all take their defaults.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;

mod conditions;

use super::Vocabulary;
use super::condition::Condition;
use super::source::{Key, Location, Node, Value};
use super::suggest::{closest, did_you_mean};

/// Whether a denial stops the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Denied calls are refused. The default: the safest choice.
    #[default]
    Enforce,
    /// Every decision is computed and logged as in enforce, but denied calls still run.
    Audit,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
}

/// Whether a human must confirm each call a statement allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Approval {
    #[default]
    None,
    Required,
}

/// A value with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub at: Location,
}

#[derive(Debug, Clone)]
pub struct Statement {
    /// The `sid`, or `statements[N]` (0-based) when it has none.
    pub label: String,
    pub sid: Option<String>,
    pub at: Location,
    pub effect: Effect,
    /// Action patterns; they list what the statement does *not* cover when `not_actions`.
    pub actions: Vec<Spanned<String>>,
    pub not_actions: bool,
    /// Resource patterns; they list what the statement does *not* cover when `not_resources`.
    pub resources: Vec<Spanned<String>>,
    pub not_resources: bool,
    pub approval: Approval,
    /// The condition block, one entry per (operator, key); all must hold.
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionPolicy {
    /// The AssumeRole request carries the policy's own least-privilege IAM document.
    #[default]
    Derived,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub session_name: String,
    pub duration_seconds: u32,
    pub session_policy: SessionPolicy,
    pub mfa_serial: Option<String>,
    pub web_identity_token_file: Option<PathBuf>,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            profile: None,
            role_arn: None,
            external_id: None,
            session_name: "awsgate".into(),
            duration_seconds: 900,
            session_policy: SessionPolicy::Derived,
            mfa_serial: None,
            web_identity_token_file: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Per MCP session, all tools together; 0 means unlimited.
    pub calls_per_minute: u32,
    pub max_output_bytes: u64,
    pub call_timeout_seconds: u64,
    /// How long tags and key schemas looked up for conditions are reused; 0 = not at all.
    pub tag_cache_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { calls_per_minute: 60, max_output_bytes: 1_048_576, call_timeout_seconds: 30, tag_cache_seconds: 60 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AuditLog {
    #[default]
    Stderr,
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Native,
    Iam,
}

/// A validated policy file, before compilation.
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    pub format: Format,
    pub name: String,
    pub mode: Mode,
    pub region: Option<String>,
    pub account: Option<String>,
    /// Lowercase service names; `None` means every supported service.
    pub services: Option<Vec<String>>,
    pub credentials: Option<Credentials>,
    pub statements: Vec<Statement>,
    pub limits: Limits,
    pub audit_log: AuditLog,
    /// What the AWS-protocol sidecar does with operations it cannot map.
    pub unknown_operations: UnknownOperations,
    /// How `approval: required` reaches a human.
    pub approvals: Approvals,
    /// `shadow: FILE`: a candidate policy every call is also judged by, whose verdict is
    /// only recorded (relative to this policy's directory).
    pub shadow: Option<Spanned<String>>,
}

/// `approvals`: how a call that needs a human's yes asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approvals {
    /// Tried in this order: elicitation when the client can, else the console.
    pub via: Vec<ApprovalChannel>,
    /// How long a call waits for a console decision before answering `ApprovalPending`.
    pub wait_seconds: u64,
    /// How long a pending approval stays open, and an approved one redeemable.
    pub timeout_seconds: u64,
    /// Where each new pending approval is POSTed.
    pub webhook: Option<String>,
}

impl Default for Approvals {
    fn default() -> Approvals {
        Approvals {
            via: vec![ApprovalChannel::Elicitation, ApprovalChannel::Console],
            wait_seconds: 50,
            timeout_seconds: 300,
            webhook: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalChannel {
    Elicitation,
    Console,
}

/// `sidecar.unknown_operations`: what happens to a request the sidecar cannot map to an
/// action and its resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownOperations {
    /// Denied, naming the operation (the default).
    #[default]
    Deny,
    /// Runs when an allow statement covers `service:Operation` on every resource and no
    /// deny statement names the action.
    AllowIfAllowedEverywhere,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding of validation, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub at: Location,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {severity}: {}", self.at, terminal_safe(&self.message))
    }
}

/// The text with control characters (and the bidirectional overrides that can hide code)
/// escaped, so that a policy's text cannot drive the terminal that shows a diagnostic.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

const NATIVE_KEYS: &[&str] = &[
    "version",
    "name",
    "mode",
    "region",
    "account",
    "services",
    "credentials",
    "statements",
    "limits",
    "audit",
    "sidecar",
    "approvals",
    "shadow",
];
const IAM_KEYS: &[&str] = &["Version", "Id", "Statement"];
const CREDENTIAL_KEYS: &[&str] = &[
    "profile",
    "role_arn",
    "external_id",
    "session_name",
    "duration_seconds",
    "session_policy",
    "mfa_serial",
    "web_identity_token_file",
];
const LIMIT_KEYS: &[&str] = &["calls_per_minute", "max_output_bytes", "call_timeout_seconds", "tag_cache_seconds"];
const AUDIT_KEYS: &[&str] = &["log"];
const SIDECAR_KEYS: &[&str] = &["unknown_operations"];
const APPROVAL_KEYS: &[&str] = &["via", "wait_seconds", "timeout_seconds", "webhook"];

/// The names a statement's parts go by in each format.
struct StatementKeys {
    sid: &'static str,
    effect: &'static str,
    actions: &'static str,
    not_actions: &'static str,
    resources: &'static str,
    not_resources: &'static str,
    approval: Option<&'static str>,
    conditions: &'static str,
    /// Keys the format knows but awsgate cannot evaluate, with why.
    unsupported: &'static [(&'static str, &'static str)],
    /// A statement must name its resources (IAM requires it); else they default to `*`.
    resources_required: bool,
}

const NATIVE_STATEMENT: StatementKeys = StatementKeys {
    sid: "sid",
    effect: "effect",
    actions: "actions",
    not_actions: "not_actions",
    resources: "resources",
    not_resources: "not_resources",
    approval: Some("approval"),
    conditions: "conditions",
    unsupported: &[],
    resources_required: false,
};

const IAM_STATEMENT: StatementKeys = StatementKeys {
    sid: "Sid",
    effect: "Effect",
    actions: "Action",
    not_actions: "NotAction",
    resources: "Resource",
    not_resources: "NotResource",
    approval: None,
    conditions: "Condition",
    unsupported: &[
        ("Principal", "`Principal` belongs to resource-based policies; awsgate reads identity policies"),
        ("NotPrincipal", "`NotPrincipal` belongs to resource-based policies; awsgate reads identity policies"),
    ],
    resources_required: true,
};

/// Collects diagnostics while reading the tree.
pub struct Validator<'v> {
    vocabulary: &'v Vocabulary,
    /// Every known action, lowercased `service:action`, for literal actions.
    known_actions: HashSet<String>,
    diagnostics: Vec<Diagnostic>,
    warned_services: HashSet<String>,
    /// A "2008-10-17" IAM document: `${...}` is text, not a policy variable.
    literal_variables: bool,
}

impl<'v> Validator<'v> {
    pub fn new(vocabulary: &'v Vocabulary) -> Self {
        let known_actions = vocabulary
            .services()
            .flat_map(|s| s.actions.iter().map(move |a| format!("{}:{}", s.name, a.to_ascii_lowercase())))
            .collect();
        Validator {
            vocabulary,
            known_actions,
            diagnostics: Vec::new(),
            warned_services: HashSet::new(),
            literal_variables: false,
        }
    }

    pub fn into_diagnostics(mut self) -> Vec<Diagnostic> {
        self.diagnostics.sort_by_key(|d| (d.at, d.severity));
        self.diagnostics
    }

    fn error(&mut self, at: Location, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic { severity: Severity::Error, at, message: message.into() });
    }

    fn warning(&mut self, at: Location, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic { severity: Severity::Warning, at, message: message.into() });
    }

    /// Reads the whole document. `default_name` names a policy that has no `name`.
    pub fn document(&mut self, root: &Node, default_name: &str) -> Option<PolicyDocument> {
        let Value::Mapping(entries) = &root.value else {
            self.error(
                root.at,
                format!("a policy is a mapping with `version` and `statements`; found {}", root.kind()),
            );
            return None;
        };
        let is_iam = entries.iter().any(|(key, _)| key.name == "Statement" || key.name == "Version");
        if is_iam {
            self.iam_document(root.at, entries, default_name)
        } else {
            self.native_document(root.at, entries, default_name)
        }
    }

    fn native_document(&mut self, at: Location, entries: &[(Key, Node)], default_name: &str) -> Option<PolicyDocument> {
        self.known_keys(entries, NATIVE_KEYS, "the policy");
        let mut document = PolicyDocument {
            format: Format::Native,
            name: default_name.to_string(),
            mode: Mode::default(),
            region: None,
            account: None,
            services: None,
            credentials: None,
            statements: Vec::new(),
            limits: Limits::default(),
            audit_log: AuditLog::default(),
            unknown_operations: UnknownOperations::default(),
            approvals: Approvals::default(),
            shadow: None,
        };
        match find(entries, "version") {
            None => self.error(at, "missing `version: 1`"),
            Some(node) => {
                if self.scalar(node, "`version`").is_some_and(|v| v.value != "1") {
                    self.error(node.at, "`version` must be 1");
                }
            }
        }
        if let Some(name) = find(entries, "name").and_then(|n| self.scalar(n, "`name`")) {
            document.name = name.value;
        }
        if let Some(mode) = find(entries, "mode").and_then(|n| self.scalar(n, "`mode`")) {
            match mode.value.as_str() {
                "enforce" => document.mode = Mode::Enforce,
                "audit" => {
                    document.mode = Mode::Audit;
                    self.warning(
                        mode.at,
                        "mode is `audit`: calls the policy denies still run (they are logged as not enforced)",
                    );
                }
                other => self.error(mode.at, format!("`mode` must be `enforce` or `audit`, not `{other}`")),
            }
        }
        if let Some(region) = find(entries, "region").and_then(|n| self.scalar(n, "`region`")) {
            if is_region(&region.value) {
                document.region = Some(region.value);
            } else {
                self.error(region.at, format!("`{}` is not an AWS region name (like `us-east-1`)", region.value));
            }
        }
        if let Some(account) = find(entries, "account").and_then(|n| self.scalar(n, "`account`")) {
            if is_account(&account.value) {
                document.account = Some(account.value);
            } else {
                self.error(account.at, format!("`{}` is not an AWS account id: it has 12 digits", account.value));
            }
        }
        if let Some(node) = find(entries, "services") {
            document.services = Some(self.services(node));
        }
        if let Some(node) = find(entries, "credentials") {
            document.credentials = self.credentials(node);
        }
        match find(entries, "statements") {
            None => self.error(at, "missing `statements`: a policy without statements allows nothing"),
            Some(node) => match &node.value {
                Value::Sequence(items) => {
                    for (index, item) in items.iter().enumerate() {
                        if let Some(statement) = self.statement(item, index, &NATIVE_STATEMENT) {
                            document.statements.push(statement);
                        }
                    }
                }
                _ => self.error(node.at, format!("`statements` must be a list; found {}", node.kind())),
            },
        }
        if let Some(node) = find(entries, "limits") {
            document.limits = self.limits(node);
        }
        if let Some(node) = find(entries, "audit") {
            document.audit_log = self.audit(node);
        }
        if let Some(node) = find(entries, "sidecar") {
            document.unknown_operations = self.sidecar(node);
        }
        if let Some(node) = find(entries, "approvals") {
            document.approvals = self.approvals(node);
        }
        if let Some(shadow) = find(entries, "shadow").and_then(|n| self.scalar(n, "`shadow`")) {
            if shadow.value.trim().is_empty() {
                self.error(shadow.at, "`shadow` names the file of a candidate policy; it is empty");
            } else {
                document.shadow = Some(shadow);
            }
        }
        self.cross_checks(&document);
        Some(document)
    }

    fn iam_document(&mut self, at: Location, entries: &[(Key, Node)], default_name: &str) -> Option<PolicyDocument> {
        self.known_keys(entries, IAM_KEYS, "an IAM policy document");
        match find(entries, "Version") {
            None => {
                self.warning(
                    at,
                    "no `Version`: read as \"2008-10-17\", as AWS does, so `${...}` is literal text; write \"Version\": \"2012-10-17\"",
                );
                self.literal_variables = true;
            }
            Some(node) => match self.scalar(node, "`Version`") {
                Some(version) if version.value == "2012-10-17" => {}
                Some(version) if version.value == "2008-10-17" => self.literal_variables = true,
                Some(version) => self.error(
                    version.at,
                    format!("`Version` must be \"2012-10-17\" (or the older \"2008-10-17\"), not `{}`", version.value),
                ),
                None => {}
            },
        }
        if let Some(id) = find(entries, "Id") {
            self.scalar(id, "`Id`");
        }
        let mut statements = Vec::new();
        match find(entries, "Statement") {
            None => self.error(at, "missing `Statement`"),
            Some(node) => {
                let items: Vec<&Node> = match &node.value {
                    Value::Sequence(items) => items.iter().collect(),
                    Value::Mapping(_) => vec![node],
                    _ => {
                        self.error(
                            node.at,
                            format!("`Statement` must be a statement or a list of them; found {}", node.kind()),
                        );
                        Vec::new()
                    }
                };
                for (index, item) in items.into_iter().enumerate() {
                    if let Some(statement) = self.statement(item, index, &IAM_STATEMENT) {
                        statements.push(statement);
                    }
                }
            }
        }
        let document = PolicyDocument {
            format: Format::Iam,
            name: default_name.to_string(),
            mode: Mode::default(),
            region: None,
            account: None,
            services: None,
            credentials: None,
            statements,
            limits: Limits::default(),
            audit_log: AuditLog::default(),
            unknown_operations: UnknownOperations::default(),
            approvals: Approvals::default(),
            shadow: None,
        };
        self.cross_checks(&document);
        Some(document)
    }

    /// Unknown keys are errors, with the nearest known key as a suggestion.
    fn known_keys(&mut self, entries: &[(Key, Node)], known: &[&str], context: &str) {
        for (key, _) in entries {
            if !known.contains(&key.name.as_str()) {
                let hint = did_you_mean(&key.name, known.iter().copied());
                self.error(key.at, format!("unknown key `{}` in {context}{hint}", key.name));
            }
        }
    }

    /// A string-valued scalar. Plain `null` is refused: a key that is present must say something.
    fn scalar(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        match &node.value {
            Value::Scalar { .. } if node.is_null() => {
                self.error(node.at, format!("{what} is empty"));
                None
            }
            Value::Scalar { text, .. } => Some(Spanned { value: text.clone(), at: node.at }),
            _ => {
                self.error(node.at, format!("{what} must be a single value; found {}", node.kind()));
                None
            }
        }
    }

    fn strings(&mut self, node: &Node, what: &str) -> Vec<Spanned<String>> {
        match &node.value {
            Value::Sequence(items) => {
                if items.is_empty() {
                    self.error(node.at, format!("{what} is an empty list"));
                }
                items.iter().filter_map(|item| self.scalar(item, what)).collect()
            }
            Value::Mapping(_) => {
                self.error(node.at, format!("{what} must be a list of names; found a mapping"));
                Vec::new()
            }
            Value::Scalar { .. } => self.scalar(node, what).into_iter().collect(),
        }
    }

    fn number(&mut self, node: &Node, what: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        let text = self.scalar(node, what)?;
        match text.value.parse::<u64>() {
            Ok(n) if range.contains(&n) => Some(n),
            Ok(n) => {
                self.error(node.at, format!("{what} must be between {} and {}; found {n}", range.start(), range.end()));
                None
            }
            Err(_) => {
                self.error(node.at, format!("{what} must be a whole number; found `{}`", text.value));
                None
            }
        }
    }

    fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Key, Node)]> {
        match &node.value {
            Value::Mapping(entries) => Some(entries),
            _ => {
                self.error(node.at, format!("{what} must be a mapping; found {}", node.kind()));
                None
            }
        }
    }

    fn services(&mut self, node: &Node) -> Vec<String> {
        let mut services = Vec::new();
        for name in self.strings(node, "`services`") {
            let lower = name.value.to_ascii_lowercase();
            if self.vocabulary.service(&lower).is_some() {
                services.push(lower);
            } else {
                let hint = did_you_mean(&lower, self.vocabulary.service_names());
                self.error(
                    name.at,
                    format!(
                        "awsgate has no tools for service `{}` (it supports {}){hint}",
                        name.value,
                        self.vocabulary.service_names().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        services
    }

    fn credentials(&mut self, node: &Node) -> Option<Credentials> {
        let entries = self.mapping(node, "`credentials`")?;
        self.known_keys(entries, CREDENTIAL_KEYS, "`credentials`");
        let mut credentials = Credentials::default();
        let text =
            |v: &mut Self, key: &str| find(entries, key).and_then(|n| v.scalar(n, &format!("`credentials.{key}`")));
        credentials.profile = text(self, "profile").map(|s| s.value);
        if let Some(role) = text(self, "role_arn") {
            if is_arn_of(&role.value, "iam", "role/") {
                credentials.role_arn = Some(role.value);
            } else {
                self.error(
                    role.at,
                    format!("`{}` is not an IAM role ARN (`arn:aws:iam::ACCOUNT:role/NAME`)", role.value),
                );
            }
        }
        credentials.external_id = text(self, "external_id").map(|s| s.value);
        if let Some(name) = text(self, "session_name") {
            let valid = (2..=64).contains(&name.value.len())
                && name.value.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c));
            if valid {
                credentials.session_name = name.value;
            } else {
                self.error(name.at, "`credentials.session_name` must be 2 to 64 letters, digits or `+=,.@-_`");
            }
        }
        if let Some(node) = find(entries, "duration_seconds")
            && let Some(seconds) = self.number(node, "`credentials.duration_seconds`", 900..=43_200)
        {
            credentials.duration_seconds = u32::try_from(seconds).unwrap_or(900);
        }
        if let Some(policy) = text(self, "session_policy") {
            match policy.value.as_str() {
                "derived" => credentials.session_policy = SessionPolicy::Derived,
                "none" => credentials.session_policy = SessionPolicy::None,
                other => self.error(
                    policy.at,
                    format!("`credentials.session_policy` must be `derived` or `none`, not `{other}`"),
                ),
            }
        }
        if let Some(serial) = text(self, "mfa_serial") {
            if is_arn_of(&serial.value, "iam", "mfa/") || is_arn_of(&serial.value, "iam", "u2f/") {
                credentials.mfa_serial = Some(serial.value);
            } else {
                self.error(
                    serial.at,
                    format!("`{}` is not an MFA device ARN (`arn:aws:iam::ACCOUNT:mfa/NAME`)", serial.value),
                );
            }
        }
        credentials.web_identity_token_file = text(self, "web_identity_token_file").map(|s| PathBuf::from(s.value));
        if credentials.role_arn.is_none() {
            for key in [
                "external_id",
                "session_policy",
                "mfa_serial",
                "web_identity_token_file",
                "duration_seconds",
                "session_name",
            ] {
                if let Some((key, _)) = entries.iter().find(|(k, _)| k.name == key) {
                    self.error(key.at, format!("`credentials.{}` needs `credentials.role_arn`", key.name));
                }
            }
        }
        if credentials.web_identity_token_file.is_some() && credentials.profile.is_some() {
            self.error(
                node.at,
                "`credentials` takes `profile` or `web_identity_token_file` as the source identity, not both",
            );
        }
        Some(credentials)
    }

    fn limits(&mut self, node: &Node) -> Limits {
        let mut limits = Limits::default();
        let Some(entries) = self.mapping(node, "`limits`") else {
            return limits;
        };
        self.known_keys(entries, LIMIT_KEYS, "`limits`");
        if let Some(n) =
            find(entries, "calls_per_minute").and_then(|n| self.number(n, "`limits.calls_per_minute`", 0..=1_000_000))
        {
            limits.calls_per_minute = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(n) =
            find(entries, "max_output_bytes").and_then(|n| self.number(n, "`limits.max_output_bytes`", 1024..=1 << 30))
        {
            limits.max_output_bytes = n;
        }
        if let Some(n) = find(entries, "call_timeout_seconds")
            .and_then(|n| self.number(n, "`limits.call_timeout_seconds`", 1..=3600))
        {
            limits.call_timeout_seconds = n;
        }
        if let Some(n) =
            find(entries, "tag_cache_seconds").and_then(|n| self.number(n, "`limits.tag_cache_seconds`", 0..=3600))
        {
            limits.tag_cache_seconds = n;
        }
        limits
    }

    fn audit(&mut self, node: &Node) -> AuditLog {
        let Some(entries) = self.mapping(node, "`audit`") else {
            return AuditLog::default();
        };
        self.known_keys(entries, AUDIT_KEYS, "`audit`");
        match find(entries, "log").and_then(|n| self.scalar(n, "`audit.log`")) {
            Some(log) if log.value == "stderr" => AuditLog::Stderr,
            Some(log) => AuditLog::File(PathBuf::from(log.value)),
            None => AuditLog::default(),
        }
    }

    fn sidecar(&mut self, node: &Node) -> UnknownOperations {
        let Some(entries) = self.mapping(node, "`sidecar`") else {
            return UnknownOperations::default();
        };
        self.known_keys(entries, SIDECAR_KEYS, "`sidecar`");
        match find(entries, "unknown_operations").and_then(|n| self.scalar(n, "`sidecar.unknown_operations`")) {
            Some(value) if value.value == "deny" => UnknownOperations::Deny,
            Some(value) if value.value == "allow_if_allowed_everywhere" => UnknownOperations::AllowIfAllowedEverywhere,
            Some(value) => {
                self.error(
                    value.at,
                    format!(
                        "`sidecar.unknown_operations` must be `deny` or `allow_if_allowed_everywhere`, not `{}`",
                        value.value
                    ),
                );
                UnknownOperations::default()
            }
            None => UnknownOperations::default(),
        }
    }

    fn approvals(&mut self, node: &Node) -> Approvals {
        let mut approvals = Approvals::default();
        let Some(entries) = self.mapping(node, "`approvals`") else {
            return approvals;
        };
        self.known_keys(entries, APPROVAL_KEYS, "`approvals`");
        if let Some(via) = find(entries, "via") {
            approvals.via.clear();
            for name in self.strings(via, "`approvals.via`") {
                let channel = match name.value.as_str() {
                    "elicitation" => ApprovalChannel::Elicitation,
                    "console" => ApprovalChannel::Console,
                    other => {
                        self.error(
                            name.at,
                            format!("`approvals.via` takes `elicitation` and `console`, not `{other}`"),
                        );
                        continue;
                    }
                };
                if approvals.via.contains(&channel) {
                    self.error(name.at, format!("`approvals.via` names `{}` twice", name.value));
                }
                approvals.via.push(channel);
            }
            if approvals.via.is_empty() {
                self.error(via.at, "`approvals.via` is empty: no human could ever approve a call");
            }
        }
        if let Some(n) = find(entries, "wait_seconds").and_then(|n| self.number(n, "`approvals.wait_seconds`", 0..=600))
        {
            approvals.wait_seconds = n;
        }
        if let Some(n) =
            find(entries, "timeout_seconds").and_then(|n| self.number(n, "`approvals.timeout_seconds`", 10..=86_400))
        {
            approvals.timeout_seconds = n;
        }
        if approvals.wait_seconds > approvals.timeout_seconds {
            self.error(
                find(entries, "wait_seconds").map_or(node.at, |n| n.at),
                format!(
                    "`approvals.wait_seconds` ({}) is longer than `approvals.timeout_seconds` ({}): the approval would close while the call waits",
                    approvals.wait_seconds, approvals.timeout_seconds
                ),
            );
        }
        if let Some(url) = find(entries, "webhook").and_then(|n| self.scalar(n, "`approvals.webhook`")) {
            let ok = url.value.parse::<http::Uri>().is_ok_and(|uri| {
                matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some_and(|h| !h.is_empty())
            });
            if ok {
                approvals.webhook = Some(url.value);
            } else {
                self.error(url.at, format!("`approvals.webhook` must be an http or https URL; found `{}`", url.value));
            }
        }
        approvals
    }

    fn statement(&mut self, node: &Node, index: usize, keys: &StatementKeys) -> Option<Statement> {
        let entries = self.mapping(node, "a statement")?;
        let mut known: Vec<&str> = vec![
            keys.sid,
            keys.effect,
            keys.actions,
            keys.not_actions,
            keys.resources,
            keys.not_resources,
            keys.conditions,
        ];
        known.extend(keys.approval);
        for (key, _) in entries {
            if let Some((_, why)) = keys.unsupported.iter().find(|(name, _)| *name == key.name) {
                self.error(key.at, *why);
            } else if !known.contains(&key.name.as_str()) {
                let hint = did_you_mean(&key.name, known.iter().copied());
                self.error(key.at, format!("unknown key `{}` in a statement{hint}", key.name));
            }
        }
        let sid = find(entries, keys.sid).and_then(|n| self.scalar(n, &format!("`{}`", keys.sid)));
        let label = sid.as_ref().map_or_else(
            || match keys.approval {
                Some(_) => format!("statements[{index}]"),
                None => format!("Statement[{index}]"),
            },
            |sid| sid.value.clone(),
        );
        let effect = match find(entries, keys.effect) {
            None => {
                self.error(node.at, format!("statement `{label}` has no `{}` (allow or deny)", keys.effect));
                None
            }
            Some(n) => self.scalar(n, &format!("`{}`", keys.effect)).and_then(|e| {
                match e.value.to_ascii_lowercase().as_str() {
                    "allow" => Some(Effect::Allow),
                    "deny" => Some(Effect::Deny),
                    _ => {
                        self.error(e.at, format!("`{}` must be allow or deny, not `{}`", keys.effect, e.value));
                        None
                    }
                }
            }),
        };
        let statement = StatementRef { entries, at: node.at, label: &label };
        let (actions, not_actions) =
            self.clause(&statement, keys.actions, keys.not_actions, true).unwrap_or_else(|| (Vec::new(), false));
        let (resources, not_resources) = self
            .clause(&statement, keys.resources, keys.not_resources, keys.resources_required)
            .unwrap_or_else(|| (vec![Spanned { value: "*".into(), at: node.at }], false));
        let approval = match keys.approval.and_then(|key| find(entries, key)) {
            None => Approval::None,
            Some(n) => match self.scalar(n, "`approval`") {
                Some(a) if a.value == "none" => Approval::None,
                Some(a) if a.value == "required" => Approval::Required,
                Some(a) => {
                    self.error(a.at, format!("`approval` must be `none` or `required`, not `{}`", a.value));
                    Approval::None
                }
                None => Approval::None,
            },
        };
        for action in &actions {
            self.action(action);
        }
        for resource in &resources {
            self.resource(resource);
        }
        let conditions =
            find(entries, keys.conditions).map(|n| self.conditions(n, &actions, not_actions)).unwrap_or_default();
        let effect = effect?;
        if effect == Effect::Deny && approval == Approval::Required {
            self.warning(node.at, format!("statement `{label}` denies: `approval: required` has no effect on a deny"));
        }
        let everything = |list: &[Spanned<String>]| list.iter().any(|s| s.value == "*");
        if effect == Effect::Allow
            && !not_actions
            && !not_resources
            && conditions.is_empty()
            && everything(&actions)
            && everything(&resources)
        {
            self.warning(node.at, format!("statement `{label}` allows every action on every resource"));
        }
        Some(Statement {
            label,
            sid: sid.map(|s| s.value),
            at: node.at,
            effect,
            actions,
            not_actions,
            resources,
            not_resources,
            approval,
            conditions,
        })
    }

    /// A list or its `not_` form (`actions` / `not_actions`): which one, and its values.
    /// `None` when neither is given and that is allowed (the caller's default applies).
    fn clause(
        &mut self,
        statement: &StatementRef<'_>,
        key: &str,
        not_key: &str,
        required: bool,
    ) -> Option<(Vec<Spanned<String>>, bool)> {
        match (find(statement.entries, key), find(statement.entries, not_key)) {
            (Some(_), Some(second)) => {
                self.error(second.at, format!("a statement takes `{key}` or `{not_key}`, not both"));
                Some((Vec::new(), false))
            }
            (Some(n), None) => Some((self.strings(n, &format!("`{key}`")), false)),
            (None, Some(n)) => Some((self.strings(n, &format!("`{not_key}`")), true)),
            (None, None) if required => {
                self.error(statement.at, format!("statement `{}` needs `{key}` or `{not_key}`", statement.label));
                Some((Vec::new(), false))
            }
            (None, None) => None,
        }
    }

    fn action(&mut self, action: &Spanned<String>) {
        let text = action.value.as_str();
        if text == "*" {
            return;
        }
        let Some((service, name)) = text.split_once(':') else {
            self.error(
                action.at,
                format!("`{text}` is not an IAM action: write `service:Action`, like `s3:GetObject`"),
            );
            return;
        };
        let well_formed = !service.is_empty()
            && !name.is_empty()
            && service.chars().all(|c| c.is_ascii_alphanumeric() || "-*?".contains(c))
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "*?".contains(c));
        if !well_formed {
            self.error(
                action.at,
                format!("`{text}` is not an IAM action: write `service:Action`, like `s3:GetObject`"),
            );
            return;
        }
        if service.contains(['*', '?']) {
            return;
        }
        let service = service.to_ascii_lowercase();
        let Some(known) = self.vocabulary.service(&service) else {
            if self.warned_services.insert(service.clone()) {
                self.warning(
                    action.at,
                    format!("awsgate has no tools for service `{service}`: its actions are kept and take part in evaluation, but no tool uses them"),
                );
            }
            return;
        };
        let matches_some = if name.contains(['*', '?']) {
            let pattern = super::pattern::ActionPattern::new(text);
            known.actions.iter().any(|a| pattern.matches_lowercase(&format!("{service}:{}", a.to_ascii_lowercase())))
        } else {
            self.known_actions.contains(&format!("{service}:{}", name.to_ascii_lowercase()))
        };
        if matches_some {
            return;
        }
        if name.contains(['*', '?']) {
            self.error(action.at, format!("`{text}` matches no {service} action"));
        } else {
            let hint = closest(name, known.actions.iter().copied())
                .map_or_else(String::new, |hit| format!("; did you mean `{service}:{hit}`?"));
            self.error(action.at, format!("unknown action `{text}`{hint}"));
        }
    }

    fn resource(&mut self, resource: &Spanned<String>) {
        let text = resource.value.as_str();
        if text == "*" {
            return;
        }
        if text.contains("${") {
            if !self.literal_variables {
                self.error(resource.at, format!("policy variables are not supported: `{text}`"));
                return;
            }
            self.warning(
                resource.at,
                format!("`{text}` is matched literally: a \"2008-10-17\" document has no policy variables"),
            );
        }
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [arn, partition, service, region, account, rest] = parts.as_slice() else {
            self.error(
                resource.at,
                format!("malformed ARN `{text}`: an ARN is `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, or `*`"),
            );
            return;
        };
        if *arn != "arn" || partition.is_empty() || service.is_empty() || rest.is_empty() {
            self.error(
                resource.at,
                format!("malformed ARN `{text}`: an ARN is `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, or `*`"),
            );
            return;
        }
        let wild = |s: &str| s.contains(['*', '?']);
        if wild(service) {
            // AWS's policy validator refuses these too: the service is never a pattern.
            self.error(
                resource.at,
                format!("`{text}` has a wildcard in its service (`{service}`): name the service, or use `*` for every resource"),
            );
            return;
        }
        if !wild(partition)
            && !matches!(
                *partition,
                "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b" | "aws-iso-e" | "aws-iso-f" | "aws-eusc"
            )
        {
            self.error(
                resource.at,
                format!("unknown partition `{partition}` in `{text}` (`aws`, `aws-cn`, `aws-us-gov`...)"),
            );
        }
        if !wild(region) && !region.is_empty() && !is_region(region) {
            self.error(resource.at, format!("`{region}` in `{text}` is not a region name"));
        }
        if !wild(account) && !account.is_empty() && !is_account(account) {
            self.error(resource.at, format!("`{account}` in `{text}` is not a 12-digit account id"));
        }
        let names_region_or_account = !region.is_empty() || !account.is_empty();
        if *service == "s3" && names_region_or_account && !wild(region) && !wild(account) {
            self.warning(resource.at, format!("S3 bucket and object ARNs have no region or account (`arn:aws:s3:::BUCKET/KEY`): `{text}` matches nothing"));
        }
    }

    /// Warnings that need the whole document: ARNs naming another region or account than
    /// the policy's, and statements about services the policy does not enable.
    fn cross_checks(&mut self, document: &PolicyDocument) {
        for statement in &document.statements {
            for resource in &statement.resources {
                let parts: Vec<&str> = resource.value.splitn(6, ':').collect();
                if let [_, _, _, region, account, _] = parts.as_slice() {
                    if let Some(ours) = &document.region
                        && is_region(region)
                        && region != ours
                    {
                        self.warning(resource.at, format!("`{}` names region `{region}` but the policy's region is `{ours}`: it matches nothing awsgate calls", resource.value));
                    }
                    if let Some(ours) = &document.account
                        && is_account(account)
                        && account != ours
                    {
                        self.warning(resource.at, format!("`{}` names account `{account}` but the policy's account is `{ours}`: it matches nothing awsgate calls", resource.value));
                    }
                }
            }
            if let (Some(enabled), Effect::Allow, false) = (&document.services, statement.effect, statement.not_actions)
            {
                for action in &statement.actions {
                    if let Some((service, _)) = action.value.split_once(':') {
                        let service = service.to_ascii_lowercase();
                        if self.vocabulary.service(&service).is_some() && !enabled.contains(&service) {
                            self.warning(
                                action.at,
                                format!(
                                    "service `{service}` is not in `services`, so `{}` is never allowed",
                                    action.value
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// A statement being read: its entries, where it starts and what it is called.
struct StatementRef<'a> {
    entries: &'a [(Key, Node)],
    at: Location,
    label: &'a str,
}

fn find<'n>(entries: &'n [(Key, Node)], name: &str) -> Option<&'n Node> {
    entries.iter().find(|(key, _)| key.name == name).map(|(_, node)| node)
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`...
pub fn is_region(text: &str) -> bool {
    let mut parts = text.split('-');
    let first_ok = parts.next().is_some_and(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_lowercase()));
    let rest: Vec<&str> = parts.collect();
    first_ok
        && rest.len() >= 2
        && rest.last().is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && rest.iter().rev().skip(1).all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
}

pub fn is_account(text: &str) -> bool {
    text.len() == 12 && text.chars().all(|c| c.is_ascii_digit())
}

/// `arn:PARTITION:SERVICE::ACCOUNT:KIND...` with a 12-digit account.
fn is_arn_of(text: &str, service: &str, kind: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, s, "", account, rest]
        if !partition.is_empty() && *s == service && is_account(account) && rest.starts_with(kind) && rest.len() > kind.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_and_account_shapes() {
        assert!(is_region("us-east-1"));
        assert!(is_region("us-gov-west-1"));
        assert!(!is_region("useast1"));
        assert!(!is_region("US-EAST-1"));
        assert!(is_account("123456789012"));
        assert!(!is_account("12345678901"));
        assert!(is_arn_of("arn:aws:iam::123456789012:role/agent", "iam", "role/"));
        assert!(!is_arn_of("arn:aws:iam::123456789012:user/agent", "iam", "role/"));
    }
}
