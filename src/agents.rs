//! The agents file (`serve --agents FILE`): many agents on one gateway, each with its own
//! policy, identified by a static bearer token (kept as its SHA-256), an OIDC subject, a
//! sidecar key, or several of these, with tags for `aws:PrincipalTag/<key>`.
//!
//! Read once into [`AgentsFile`], every mistake reported with its line and column, like a
//! policy's; the policies it names are loaded and checked with it, all or nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::policy::source::{self, Key, Node, Value};
use crate::policy::{self, Diagnostic, Loaded, Location, PolicyError, Severity, Vocabulary};

/// The name `--policy FILE` gives its one agent, whom every caller is.
pub const DEFAULT_AGENT: &str = "default";

/// Most agents one file may list.
const MAX_AGENTS: usize = 1_000;

/// Most tags one agent may carry (AWS's limit for session tags).
const MAX_TAGS: usize = 50;

/// A checked agents file.
#[derive(Debug, Clone)]
pub struct AgentsFile {
    pub oidc: Option<Oidc>,
    pub agents: Vec<Agent>,
}

/// OAuth 2.1 access tokens (JWT) from one issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oidc {
    pub issuer: String,
    pub audience: String,
    /// The claim that names the agent (`sub` unless given).
    pub agent_claim: String,
    pub algorithms: Vec<String>,
}

/// The algorithms accepted when `algorithms` is not given.
pub const DEFAULT_ALGORITHMS: &[&str] = &["RS256", "ES256", "EdDSA"];

/// Asymmetric algorithms a JWT may be signed with; `none` and the HS* family never.
const ALGORITHMS: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

/// One agent: who it is and what judges it.
#[derive(Debug, Clone)]
pub struct Agent {
    pub name: String,
    pub policy: PathBuf,
    /// `shadow:`: a candidate policy its calls are also judged by (only recorded).
    pub shadow: Option<PathBuf>,
    /// Where the agents file names the shadow.
    pub shadow_at: Option<Location>,
    /// The value of the OIDC agent claim in its tokens.
    pub subject: Option<String>,
    /// The SHA-256 of its static bearer token.
    pub token_sha256: Option<[u8; 32]>,
    /// Its sidecar key: a `name` in `--agent-keys`.
    pub agent_key: Option<String>,
    /// `aws:PrincipalTag/<key>` values and AssumeRole session tags, in file order.
    pub tags: Vec<(String, String)>,
    /// Where its `subject` is written, for messages.
    pub subject_at: Option<Location>,
}

/// An agents file that did not load: where, and why.
#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    #[error("cannot read the agents file `{}`: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the agents file `{}` is invalid ({} error(s))", path.display(), errors(diagnostics))]
    Invalid { path: PathBuf, diagnostics: Vec<Diagnostic> },
    #[error("{} agent(s) cannot be served: {}", failed.len(), failed.iter().map(|(agent, _)| format!("`{agent}`")).collect::<Vec<_>>().join(", "))]
    Policies { failed: Vec<(String, PolicyError)> },
}

fn errors(diagnostics: &[Diagnostic]) -> usize {
    diagnostics.iter().filter(|d| d.severity == Severity::Error).count()
}

/// An agents file with every policy it names, loaded and compiled.
#[derive(Debug)]
pub struct LoadedAgents {
    pub file: AgentsFile,
    /// Each agent's policy, in the order of `file.agents`.
    pub policies: Vec<Loaded>,
}

/// Reads `path`, then every policy it names (relative to the file's directory).
pub fn load(path: &Path, vocabulary: &Vocabulary) -> Result<LoadedAgents, AgentsError> {
    let text = policy::read_text(path).map_err(|source| AgentsError::Read { path: path.to_path_buf(), source })?;
    let directory = path.parent().unwrap_or(Path::new("."));
    let file = parse(&text, directory)
        .map_err(|diagnostics| AgentsError::Invalid { path: path.to_path_buf(), diagnostics })?;
    // Every policy is read, so that `check` reports all their errors at once.
    let mut policies = Vec::with_capacity(file.agents.len());
    let mut failed = Vec::new();
    for agent in &file.agents {
        let loaded = policy::load_file(&agent.policy, vocabulary).and_then(|mut loaded| {
            if let Some(shadow) = &agent.shadow {
                if let Some(named) = &loaded.policy.document().shadow {
                    // Two shadows for one agent: which one is meant cannot be told.
                    let diagnostic = Diagnostic {
                        severity: Severity::Error,
                        at: named.at,
                        message: format!(
                            "the agents file gives agent `{}` the shadow `{}`, and this policy names its own: keep one",
                            agent.name,
                            shadow.display()
                        ),
                    };
                    return Err(PolicyError::Invalid { path: agent.policy.clone(), diagnostics: vec![diagnostic] });
                }
                loaded.shadow = Some(policy::load_shadow(shadow, vocabulary).map_err(|error| match error {
                    // Said where the agents file names the shadow, since it cannot be read.
                    PolicyError::Read { source, .. } => PolicyError::Invalid {
                        path: path.to_path_buf(),
                        diagnostics: vec![Diagnostic {
                            severity: Severity::Error,
                            at: agent.shadow_at.unwrap_or(Location { line: 1, column: 1 }),
                            message: format!(
                                "cannot read agent `{}`'s shadow policy `{}`: {source}",
                                agent.name,
                                shadow.display()
                            ),
                        }],
                    },
                    invalid => invalid,
                })?);
            }
            Ok(loaded)
        });
        match loaded {
            Ok(loaded) => policies.push(loaded),
            Err(error) => failed.push((agent.name.clone(), error)),
        }
    }
    if !failed.is_empty() {
        return Err(AgentsError::Policies { failed });
    }
    Ok(LoadedAgents { file, policies })
}

/// Does `text` look like an agents file (a mapping with `agents:`) rather than a policy?
pub fn is_agents_file(text: &str) -> bool {
    source::parse(text).is_ok_and(
        |root| matches!(&root.value, Value::Mapping(entries) if entries.iter().any(|(k, _)| k.name == "agents")),
    )
}

/// Reads an agents file's text; policy paths are taken relative to `directory`.
pub fn parse(text: &str, directory: &Path) -> Result<AgentsFile, Vec<Diagnostic>> {
    let root = source::parse(text).map_err(|syntax| {
        syntax
            .into_iter()
            .map(|e| Diagnostic { severity: Severity::Error, at: e.at, message: e.message })
            .collect::<Vec<_>>()
    })?;
    let mut reader = Reader { diagnostics: Vec::new() };
    let file = reader.file(&root, directory);
    match file {
        Some(file) if errors(&reader.diagnostics) == 0 => Ok(file),
        _ => Err(reader.diagnostics),
    }
}

struct Reader {
    diagnostics: Vec<Diagnostic>,
}

impl Reader {
    fn error(&mut self, at: Location, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic { severity: Severity::Error, at, message: message.into() });
    }

    fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Key, Node)]> {
        match &node.value {
            Value::Mapping(entries) => Some(entries),
            _ => {
                self.error(node.at, format!("{what} must be a mapping, found {}", node.kind()));
                None
            }
        }
    }

    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if !node.is_null() && !text.trim().is_empty() => Some(text.clone()),
            _ => {
                self.error(node.at, format!("{what} must be a non-empty string, found {}", node.kind()));
                None
            }
        }
    }

    fn file(&mut self, root: &Node, directory: &Path) -> Option<AgentsFile> {
        let entries = self.mapping(root, "the agents file")?;
        let mut oidc = None;
        let mut oidc_given = false;
        let mut agents = None;
        for (key, value) in entries {
            match key.name.as_str() {
                "oidc" => {
                    oidc_given = true;
                    oidc = self.oidc(value);
                }
                "agents" => agents = Some(self.agents(value, directory)),
                other => {
                    self.error(key.at, format!("unknown key `{other}` in the agents file (expected `agents`, `oidc`)"))
                }
            }
        }
        let Some(agents) = agents else {
            self.error(root.at, "the agents file needs `agents:`, a list of agents");
            return None;
        };
        if !oidc_given {
            for at in agents.iter().filter_map(|a| a.subject_at) {
                self.error(at, "an agent names a `subject`, but the file has no `oidc:` issuer to take it from");
            }
        }
        Some(AgentsFile { oidc, agents })
    }

    fn oidc(&mut self, node: &Node) -> Option<Oidc> {
        let entries = self.mapping(node, "`oidc`")?;
        let (mut issuer, mut audience, mut claim, mut algorithms) = (None, None, None, None);
        for (key, value) in entries {
            match key.name.as_str() {
                "issuer" => issuer = self.url(value, "`oidc.issuer`"),
                "audience" => audience = self.text(value, "`oidc.audience`"),
                "agent_claim" => claim = self.text(value, "`oidc.agent_claim`"),
                "algorithms" => algorithms = self.algorithms(value),
                other => self.error(
                    key.at,
                    format!(
                        "unknown key `{other}` in `oidc` (expected `issuer`, `audience`, `agent_claim`, `algorithms`)"
                    ),
                ),
            }
        }
        let missing = |field: &str| format!("`oidc` needs `{field}`");
        if issuer.is_none() && !self.diagnostics.iter().any(|d| d.message.contains("oidc.issuer")) {
            self.error(node.at, missing("issuer"));
        }
        if audience.is_none() && !self.diagnostics.iter().any(|d| d.message.contains("oidc.audience")) {
            self.error(node.at, format!("{}: the resource its access tokens are for (RFC 8707)", missing("audience")));
        }
        Some(Oidc {
            issuer: issuer?,
            audience: audience?,
            agent_claim: claim.unwrap_or_else(|| "sub".to_string()),
            algorithms: algorithms.unwrap_or_else(|| DEFAULT_ALGORITHMS.iter().map(|a| (*a).to_string()).collect()),
        })
    }

    /// An issuer: HTTPS, or plain HTTP on a loopback host.
    fn url(&mut self, node: &Node, what: &str) -> Option<String> {
        let text = self.text(node, what)?;
        if text.contains(['?', '#', '@']) {
            self.error(
                node.at,
                format!("{what} must be a plain URL, without user information, query or fragment: `{text}`"),
            );
            return None;
        }
        if !crate::oidc::allowed_url(&text) {
            self.error(
                node.at,
                format!("{what} must be an https:// URL (plain http only on a loopback host): `{text}`"),
            );
            return None;
        }
        Some(text)
    }

    fn algorithms(&mut self, node: &Node) -> Option<Vec<String>> {
        let Value::Sequence(items) = &node.value else {
            self.error(node.at, format!("`oidc.algorithms` must be a list, found {}", node.kind()));
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            let Some(name) = self.text(item, "an algorithm") else { continue };
            if name.eq_ignore_ascii_case("none") || name.to_ascii_uppercase().starts_with("HS") {
                self.error(
                    item.at,
                    format!("`{name}` is never accepted: an unsigned or shared-secret token could be made by anyone who has the issuer's public key"),
                );
            } else if !ALGORITHMS.contains(&name.as_str()) {
                self.error(item.at, format!("unknown algorithm `{name}` (accepted: {})", ALGORITHMS.join(", ")));
            } else {
                out.push(name);
            }
        }
        if out.is_empty() && items.is_empty() {
            self.error(node.at, "`oidc.algorithms` is empty: no token could verify");
        }
        Some(out)
    }

    fn agents(&mut self, node: &Node, directory: &Path) -> Vec<Agent> {
        let Value::Sequence(items) = &node.value else {
            self.error(node.at, format!("`agents` must be a list of agents, found {}", node.kind()));
            return Vec::new();
        };
        if items.is_empty() {
            self.error(node.at, "`agents` is empty: name at least one agent");
        }
        if items.len() > MAX_AGENTS {
            self.error(node.at, format!("{} agents: at most {MAX_AGENTS} may be listed", items.len()));
        }
        let mut agents: Vec<Agent> = Vec::new();
        // What must be unique, and where each was first seen.
        let mut seen: HashMap<(&'static str, String), Location> = HashMap::new();
        for item in items {
            let Some(agent) = self.agent(item, directory) else { continue };
            let mut unique = |field: &'static str, value: Option<String>, reader: &mut Reader| {
                if let Some(value) = value
                    && let Some(first) = seen.insert((field, value.clone()), item.at)
                {
                    let shown = if field == "token_sha256" { String::new() } else { format!(" `{value}`") };
                    reader.error(item.at, format!("two agents have the same {field}{shown} (the other at {first})"));
                }
            };
            unique("name", Some(agent.name.clone()), self);
            unique("subject", agent.subject.clone(), self);
            unique("token_sha256", agent.token_sha256.map(hex), self);
            unique("agent_key", agent.agent_key.clone(), self);
            agents.push(agent);
        }
        agents
    }

    fn agent(&mut self, node: &Node, directory: &Path) -> Option<Agent> {
        let entries = self.mapping(node, "an agent")?;
        let (mut name, mut policy, mut subject, mut token, mut key, mut tags) =
            (None, None, None, None, None, Vec::new());
        let mut shadow = None;
        let mut shadow_at = None;
        let mut subject_at = None;
        for (field, value) in entries {
            match field.name.as_str() {
                "name" => {
                    name = self.text(value, "`name`");
                    if let Some(text) = &name
                        && !is_agent_name(text)
                    {
                        self.error(value.at, format!("`{text}` is not an agent name: use 1 to 64 letters, digits and `._-`"));
                    }
                }
                "policy" => policy = self.text(value, "`policy`").map(|p| directory.join(p)),
                "shadow" => {
                    shadow = self.text(value, "`shadow`").map(|p| directory.join(p));
                    shadow_at = Some(value.at);
                }
                "subject" => {
                    subject = self.text(value, "`subject`");
                    subject_at = Some(value.at);
                }
                "token_sha256" => {
                    let text = self.text(value, "`token_sha256`");
                    token = text.as_deref().and_then(|text| {
                        let parsed = unhex(text);
                        if parsed.is_none() {
                            self.error(
                                value.at,
                                "`token_sha256` must be 64 hex digits: the line `awsgate agent-token new NAME` prints",
                            );
                        }
                        parsed
                    });
                }
                "agent_key" => {
                    key = self.text(value, "`agent_key`");
                    if let Some(text) = &key
                        && !crate::sidecar::keys::is_name(text)
                    {
                        self.error(value.at, format!("`{text}` is not a key name: use 1 to 64 letters, digits and `._@-`, as `awsgate agent-key new` does"));
                    }
                }
                "tags" => tags = self.tags(value),
                other => self.error(
                    field.at,
                    format!("unknown key `{other}` in an agent (expected `name`, `policy`, `shadow`, `subject`, `token_sha256`, `agent_key`, `tags`)"),
                ),
            }
        }
        let Some(name) = name else {
            self.error(node.at, "an agent needs a `name`");
            return None;
        };
        let Some(policy) = policy else {
            self.error(node.at, format!("agent `{name}` needs a `policy` file"));
            return None;
        };
        if subject.is_none() && token.is_none() && key.is_none() {
            self.error(
                node.at,
                format!(
                    "agent `{name}` has no way to authenticate: give it a `token_sha256`, a `subject` or an `agent_key`"
                ),
            );
        }
        Some(Agent { name, policy, shadow, shadow_at, subject, token_sha256: token, agent_key: key, tags, subject_at })
    }

    fn tags(&mut self, node: &Node) -> Vec<(String, String)> {
        let Some(entries) = self.mapping(node, "`tags`") else { return Vec::new() };
        if entries.len() > MAX_TAGS {
            self.error(node.at, format!("{} tags: AWS allows at most {MAX_TAGS} session tags", entries.len()));
        }
        let mut out = Vec::new();
        for (key, value) in entries {
            let Some(text) = self.text(value, &format!("tag `{}`", key.name)) else { continue };
            let fits = |s: &str, max: usize| {
                s.chars().count() <= max && s.chars().all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c))
            };
            if key.name.is_empty() || !fits(&key.name, 128) || key.name.to_ascii_lowercase().starts_with("aws:") {
                self.error(key.at, format!("`{}` is not a tag key AWS accepts (1-128 letters, digits, spaces and `_.:/=+-@`, not starting with `aws:`)", key.name));
            } else if !fits(&text, 256) {
                self.error(
                    value.at,
                    format!(
                        "tag `{}`: its value is not one AWS accepts (up to 256 letters, digits, spaces and `_.:/=+-@`)",
                        key.name
                    ),
                );
            } else if out.iter().any(|(k, _): &(String, String)| k.eq_ignore_ascii_case(&key.name)) {
                self.error(key.at, format!("tag `{}` is given twice (tag keys are case-insensitive)", key.name));
            } else {
                out.push((key.name.clone(), text));
            }
        }
        out
    }
}

/// An agent's name: 1 to 64 letters, digits and `._-`.
pub fn is_agent_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn hex(bytes: [u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// The SHA-256 of a bearer token, as the agents file keeps it.
pub fn token_hash(token: &str) -> [u8; 32] {
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// A new static token for agent `name`: the token to give the agent, and the line to put
/// in its entry. 32 bytes from the operating system's random source, base64url.
pub fn new_token(name: &str) -> Result<(String, String), String> {
    use base64::Engine;
    if !is_agent_name(name) {
        return Err(format!(
            "`{}` is not an agent name: use 1 to 64 letters, digits and `._-`",
            crate::catalog::args::printable(name)
        ));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("the operating system gave no random bytes: {e}"))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let line = format!("token_sha256: {}", hex(token_hash(&token)));
    Ok((token, line))
}

/// The agent a request was authenticated as, put in its extensions by the HTTP guard.
#[derive(Debug, Clone)]
pub struct Authenticated(pub std::sync::Arc<str>);

/// The identities in force: a reload of the agents file replaces them.
#[derive(Debug)]
pub struct Identities(std::sync::RwLock<std::sync::Arc<Identity>>);

impl Identities {
    pub fn new(identity: Identity) -> Identities {
        Identities(std::sync::RwLock::new(std::sync::Arc::new(identity)))
    }

    pub fn current(&self) -> std::sync::Arc<Identity> {
        match self.0.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, identity: Identity) {
        let identity = std::sync::Arc::new(identity);
        match self.0.write() {
            Ok(mut current) => *current = identity,
            Err(poisoned) => *poisoned.into_inner() = identity,
        }
    }
}

/// Who a request is, by its credentials.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The agents' names by the SHA-256 of their tokens.
    tokens: Vec<([u8; 32], String)>,
    /// The agents' names by the subject (agent claim) of their OIDC access tokens.
    subjects: HashMap<String, String>,
    verifier: Option<std::sync::Arc<crate::oidc::Verifier>>,
}

/// What a bearer token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Agent(String),
    /// A valid access token whose subject no agent has.
    NoAgent(String),
    /// Not a token awsgate accepts, and why (for the log; the client is told less).
    Refused(String),
}

impl Identity {
    /// The identities of a reloaded file: the verifier in force is kept when the `oidc`
    /// settings are the same (with the keys it has), else a new one is made.
    pub fn reloaded(file: &AgentsFile, current: &Identity) -> Result<Identity, String> {
        let mut identity = Identity::of(file)?;
        if let (Some(old), Some(new)) = (&current.verifier, &identity.verifier)
            && old.settings() == new.settings()
        {
            identity.verifier = Some(old.clone());
        }
        Ok(identity)
    }

    pub fn of(file: &AgentsFile) -> Result<Identity, String> {
        let tokens = file.agents.iter().filter_map(|a| a.token_sha256.map(|hash| (hash, a.name.clone()))).collect();
        let subjects =
            file.agents.iter().filter_map(|a| a.subject.clone().map(|subject| (subject, a.name.clone()))).collect();
        let verifier = match &file.oidc {
            Some(oidc) => Some(std::sync::Arc::new(crate::oidc::Verifier::new(oidc.clone())?)),
            None => None,
        };
        Ok(Identity { tokens, subjects, verifier })
    }

    /// The issuer's verifier, when the file names one.
    pub fn verifier(&self) -> Option<&crate::oidc::Verifier> {
        self.verifier.as_deref()
    }

    /// The agent a bearer token names: a static token by its hash, else an access token
    /// of the issuer by its agent claim.
    pub async fn resolve(&self, token: &str) -> Resolved {
        if let Some(agent) = self.by_token(token) {
            return Resolved::Agent(agent.to_string());
        }
        let Some(verifier) = &self.verifier else {
            return Resolved::Refused("no agent has this token".into());
        };
        match verifier.verify(token).await {
            Ok(subject) => match self.subjects.get(&subject) {
                Some(agent) => Resolved::Agent(agent.clone()),
                None => Resolved::NoAgent(subject),
            },
            Err(error) => Resolved::Refused(error.to_string()),
        }
    }

    /// The agent whose static token this is. Every stored hash is compared, each in
    /// constant time, so the time taken says nothing of which one matched.
    pub fn by_token(&self, token: &str) -> Option<&str> {
        let hash = token_hash(token);
        let mut found = None;
        for (stored, name) in &self.tokens {
            let same = stored.iter().zip(hash.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            if same {
                found = Some(name.as_str());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(text: &str) -> Vec<String> {
        parse(text, Path::new("/etc/awsgate")).unwrap_err().iter().map(|d| format!("{}: {}", d.at, d.message)).collect()
    }

    #[test]
    fn a_file_reads_into_agents() {
        let (token, line) = new_token("reports-bot").unwrap();
        let text = format!(
            "agents:\n  - name: reports-bot\n    policy: reports.yaml\n    {line}\n    agent_key: reports\n    tags: {{team: reports}}\n"
        );
        let file = parse(&text, Path::new("/etc/awsgate")).unwrap();
        let agent = &file.agents[0];
        assert_eq!(agent.policy, Path::new("/etc/awsgate/reports.yaml"));
        assert_eq!(agent.tags, vec![("team".to_string(), "reports".to_string())]);
        assert_eq!(Identity::of(&file).unwrap().by_token(&token), Some("reports-bot"));
        assert_eq!(Identity::of(&file).unwrap().by_token("another"), None);
    }

    #[test]
    fn mistakes_are_located() {
        let hash = "a".repeat(64);
        let text = format!(
            "agents:\n  - name: a\n    policy: p.yaml\n  - name: b c\n    policy: p.yaml\n    token_sha256: xyz\n  - name: d\n    policy: p.yaml\n    token_sha256: {hash}\n  - name: e\n    policy: p.yaml\n    token_sha256: {hash}\n    colour: red\n"
        );
        let found = messages(&text);
        assert!(found.iter().any(|m| m.starts_with("2:5:") && m.contains("no way to authenticate")), "{found:?}");
        assert!(found.iter().any(|m| m.starts_with("4:11:") && m.contains("not an agent name")), "{found:?}");
        assert!(found.iter().any(|m| m.starts_with("6:19:") && m.contains("64 hex digits")), "{found:?}");
        assert!(
            found.iter().any(|m| m.starts_with("10:5:") && m.contains("two agents have the same token_sha256")),
            "{found:?}"
        );
        assert!(found.iter().any(|m| m.starts_with("13:5:") && m.contains("unknown key `colour`")), "{found:?}");
    }

    #[test]
    fn oidc_refuses_what_anyone_could_sign() {
        let found = messages(
            "oidc:\n  issuer: http://login.example.com/\n  audience: x\n  algorithms: [none, HS256, RS256]\nagents:\n  - {name: a, policy: p.yaml, subject: s}\n",
        );
        assert!(found.iter().any(|m| m.starts_with("2:11:") && m.contains("https://")), "{found:?}");
        assert!(found.iter().any(|m| m.starts_with("4:16:") && m.contains("`none` is never accepted")), "{found:?}");
        assert!(found.iter().any(|m| m.starts_with("4:22:") && m.contains("`HS256` is never accepted")), "{found:?}");
    }
}
