//! Agent keys: the access key pairs agents sign their requests with, in place of AWS
//! credentials. `awsgate agent-key new NAME` makes one; `--agent-keys FILE` holds them.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::policy::source::{self, Node, Value};

/// One agent's key. The secret never leaves this struct except to verify a signature.
#[derive(Clone)]
pub struct AgentKey {
    pub name: String,
    pub access_key_id: String,
    secret: String,
}

impl AgentKey {
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentKey").field("name", &self.name).field("access_key_id", &self.access_key_id).finish()
    }
}

#[derive(Debug, Default)]
pub struct AgentKeys {
    by_id: HashMap<String, AgentKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot read the agent keys file `{}`: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "the agent keys file `{}` can be read by others (mode {mode:o}); it holds secrets: run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    Readable { path: PathBuf, mode: u32 },
    #[error("{}:{message}", path.display())]
    Invalid { message: String, path: PathBuf },
}

const ID_LEN: usize = 20;
const SECRET_LEN: usize = 40;

impl AgentKeys {
    /// Reads `path`: a YAML list of `{name, access_key_id, secret_access_key}`. Refused
    /// when others than its owner can read it, and on any malformed entry.
    pub fn load(path: &Path) -> Result<AgentKeys, KeysError> {
        let read = |source| KeysError::Read { path: path.to_path_buf(), source };
        let metadata = std::fs::metadata(path).map_err(read)?;
        refuse_readable(path, &metadata)?;
        let text = std::fs::read_to_string(path).map_err(read)?;
        AgentKeys::parse(&text).map_err(|message| KeysError::Invalid { message, path: path.to_path_buf() })
    }

    /// The keys in `text`; `Err` says where the first problem is (`line:column: ...`).
    pub fn parse(text: &str) -> Result<AgentKeys, String> {
        let root = source::parse(text).map_err(|errors| {
            errors.first().map_or_else(|| "cannot be read".into(), |e| format!("{}: {}", e.at, e.message))
        })?;
        let Value::Sequence(items) = &root.value else {
            return Err(format!(
                "{}: expected a list of keys (`- {{name: ..., access_key_id: ..., secret_access_key: ...}}`)",
                root.at
            ));
        };
        let mut keys = AgentKeys::default();
        let mut names = HashMap::new();
        for item in items {
            let key = entry(item)?;
            if let Some(other) = names.insert(key.name.clone(), item.at) {
                return Err(format!("{}: the name `{}` is used twice (also at {other})", item.at, key.name));
            }
            if keys.by_id.contains_key(&key.access_key_id) {
                return Err(format!("{}: the access key id `{}` is used twice", item.at, key.access_key_id));
            }
            keys.by_id.insert(key.access_key_id.clone(), key);
        }
        if keys.by_id.is_empty() {
            return Err("1:1: no keys: add one with `awsgate agent-key new NAME >> FILE`".into());
        }
        Ok(keys)
    }

    pub fn get(&self, access_key_id: &str) -> Option<&AgentKey> {
        self.by_id.get(access_key_id)
    }

    /// Is there a key of this name?
    pub fn has_name(&self, name: &str) -> bool {
        self.by_id.values().any(|key| key.name == name)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(unix)]
fn refuse_readable(path: &Path, metadata: &std::fs::Metadata) -> Result<(), KeysError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeysError::Readable { path: path.to_path_buf(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_readable(_: &Path, _: &std::fs::Metadata) -> Result<(), KeysError> {
    Ok(())
}

fn entry(node: &Node) -> Result<AgentKey, String> {
    let Value::Mapping(fields) = &node.value else {
        return Err(format!("{}: a key must be a mapping with name, access_key_id and secret_access_key", node.at));
    };
    let mut name = None;
    let mut id = None;
    let mut secret = None;
    for (key, value) in fields {
        let Value::Scalar { text, .. } = &value.value else {
            return Err(format!("{}: `{}` must be a string", value.at, key.name));
        };
        let slot = match key.name.as_str() {
            "name" => &mut name,
            "access_key_id" => &mut id,
            "secret_access_key" => &mut secret,
            other => {
                return Err(format!(
                    "{}: unknown field `{}` (a key has name, access_key_id and secret_access_key)",
                    key.at,
                    crate::catalog::args::printable(other)
                ));
            }
        };
        *slot = Some((text.clone(), value.at));
    }
    let missing = |field: &str| format!("{}: this key has no `{field}`", node.at);
    let (name, at) = name.ok_or_else(|| missing("name"))?;
    if !is_name(&name) {
        return Err(format!("{at}: `name` must be 1 to 64 letters, digits and `._@-`"));
    }
    let (access_key_id, at) = id.ok_or_else(|| missing("access_key_id"))?;
    if access_key_id.len() != ID_LEN || !access_key_id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        return Err(format!("{at}: `access_key_id` must be {ID_LEN} upper-case letters and digits"));
    }
    let (secret, at) = secret.ok_or_else(|| missing("secret_access_key"))?;
    if secret.len() != SECRET_LEN || !secret.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/') {
        return Err(format!("{at}: `secret_access_key` must be {SECRET_LEN} letters, digits, `+` and `/`"));
    }
    Ok(AgentKey { name, access_key_id, secret })
}

pub fn is_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
}

/// A new key for agent `name`, as one entry of the keys file. The id and the secret come
/// from the operating system's random source.
pub fn new_entry(name: &str) -> Result<String, String> {
    if !is_name(name) {
        return Err(format!(
            "`{}` is not a key name: use 1 to 64 letters, digits and `._@-`",
            crate::catalog::args::printable(name)
        ));
    }
    const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut random = Vec::with_capacity(64);
    while random.len() < ID_LEN + SECRET_LEN {
        random.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    // Four of each UUID's bits are fixed (version and variant); skipping those bytes
    // keeps every character uniform.
    let bytes: Vec<u8> = random
        .chunks(16)
        .flat_map(|chunk| chunk.iter().enumerate().filter(|(i, _)| *i != 6 && *i != 8).map(|(_, b)| *b))
        .collect();
    let mut bytes = bytes.into_iter();
    let mut take = |alphabet: &[u8], n: usize| -> String {
        (0..n).map(|_| alphabet[usize::from(bytes.next().unwrap_or(0)) % alphabet.len()] as char).collect()
    };
    let id = format!("AGK{}", take(ID_CHARS, ID_LEN - 3));
    let secret = take(SECRET_CHARS, SECRET_LEN);
    Ok(format!("- {{name: {name}, access_key_id: {id}, secret_access_key: \"{secret}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_entry_is_a_valid_keys_file() {
        let one = new_entry("reports-agent").unwrap();
        let two = new_entry("other").unwrap();
        let keys = AgentKeys::parse(&format!("{one}\n{two}\n")).unwrap();
        assert_eq!(keys.len(), 2);
        assert_ne!(one, two);
    }

    #[test]
    fn problems_are_located() {
        let error = AgentKeys::parse("- {name: a, access_key_id: SHORT, secret_access_key: x}").unwrap_err();
        assert!(error.starts_with("1:") && error.contains("access_key_id"), "{error}");
        let entry = new_entry("a").unwrap();
        let error = AgentKeys::parse(&format!("{entry}\n{entry}")).unwrap_err();
        assert!(error.contains("used twice"), "{error}");
        assert!(new_entry("bad name").is_err());
    }
}
