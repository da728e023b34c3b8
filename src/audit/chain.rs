//! The audit log's hash chain (SPEC 9). Each record carries `seq` (1, 2, ...), `prev` (the
//! previous record's `hash`, or 64 zeros for the first) and `hash`: the hex SHA-256 of the
//! record's canonical JSON without `hash`. Canonical JSON is the record with object keys
//! sorted by their bytes and no whitespace; strings and numbers are written as serde_json
//! writes them, which reads back to the same text. A record edited, removed or moved
//! breaks a link that [`verify`] names. Cutting records off the end of the file cannot be
//! seen from the file alone.

use std::io::{BufRead, Read, Seek, SeekFrom};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where the chain stands: the last record's `seq` and `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    seq: u64,
    prev: String,
}

impl Default for Chain {
    fn default() -> Chain {
        Chain { seq: 0, prev: GENESIS.to_string() }
    }
}

impl Chain {
    /// Continues the chain of an existing log from its last line; an empty log starts a
    /// new one. A last line that is not a chained record (a log written before records
    /// were chained, or a torn write) is an error: appending to it would leave a chain
    /// that cannot be verified.
    pub fn resume(file: &mut std::fs::File) -> Result<Chain, String> {
        let Some(last) = last_line(file).map_err(|e| format!("cannot read its last record: {e}"))? else {
            return Ok(Chain::default());
        };
        let parsed: Option<(u64, String)> = serde_json::from_str::<Value>(&last).ok().and_then(|value| {
            let seq = value.get("seq")?.as_u64()?;
            let hash = value.get("hash")?.as_str().filter(|h| is_hash(h))?.to_string();
            Some((seq, hash))
        });
        match parsed {
            Some((seq, prev)) => Ok(Chain { seq, prev }),
            None => Err("its last line is not a chained audit record (written by an older awsgate, or cut short); \
                 move the file aside and start a new one"
                .into()),
        }
    }

    /// Chains `record` after the last one: sets `seq`, `prev` and `hash`, and returns the
    /// line to append (with its newline) and where the chain then stands. The line is the
    /// canonical JSON itself, its hash appended as the last member.
    pub fn seal(&self, mut record: Map<String, Value>) -> (Vec<u8>, Chain) {
        let seq = self.seq + 1;
        record.remove("hash");
        record.insert("seq".into(), Value::from(seq));
        record.insert("prev".into(), Value::from(self.prev.as_str()));
        let mut line = canonical(record);
        let hash = hex(&Sha256::digest(&line));
        // `{...}` becomes `{...,"hash":"..."}`.
        line.pop();
        line.extend_from_slice(b",\"hash\":\"");
        line.extend_from_slice(hash.as_bytes());
        line.extend_from_slice(b"\"}\n");
        (line, Chain { seq, prev: hash })
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// The hex SHA-256 of a record's canonical JSON (without its `hash`).
pub fn hash_of(record: &Map<String, Value>) -> String {
    let mut record = record.clone();
    record.remove("hash");
    hex(&Sha256::digest(canonical(record)))
}

/// Canonical JSON: object keys sorted by their bytes, at every level, and no whitespace.
fn canonical(mut record: Map<String, Value>) -> Vec<u8> {
    fn sort(value: &mut Value) {
        match value {
            Value::Object(object) => {
                object.sort_keys();
                object.values_mut().for_each(sort);
            }
            Value::Array(items) => items.iter_mut().for_each(sort),
            _ => {}
        }
    }
    record.sort_keys();
    record.values_mut().for_each(sort);
    let mut text = Vec::with_capacity(1024);
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut text, &record);
    text
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The file's last non-empty line, read from its end.
fn last_line(file: &mut std::fs::File) -> std::io::Result<Option<String>> {
    const STEP: u64 = 64 * 1024;
    /// Longer than any record awsgate writes.
    const MOST: u64 = 4 * 1024 * 1024;
    let length = file.seek(SeekFrom::End(0))?;
    let mut tail = Vec::new();
    let mut start = length;
    loop {
        let from = start.saturating_sub(STEP);
        file.seek(SeekFrom::Start(from))?;
        let mut chunk = vec![0; usize::try_from(start - from).unwrap_or(0)];
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        start = from;
        let trimmed = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if let Some(newline) = trimmed.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(String::from_utf8_lossy(&trimmed[newline + 1..]).into_owned()));
        }
        if start == 0 {
            return Ok((!trimmed.is_empty()).then(|| String::from_utf8_lossy(trimmed).into_owned()));
        }
        if length - start > MOST {
            return Err(std::io::Error::other("the last line is longer than 4 MiB"));
        }
    }
}

/// A log whose every link holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    /// The last record's hash (64 zeros for an empty log): keep it elsewhere to notice
    /// records cut off the end later.
    pub last_hash: String,
}

/// The first link that does not hold: the line it is on and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct Broken {
    pub line: u64,
    pub what: String,
}

/// Checks every link of a log, in order.
pub fn verify(reader: impl BufRead) -> Result<Verified, Broken> {
    let mut chain = Chain::default();
    for (index, line) in reader.split(b'\n').enumerate() {
        let line_number = index as u64 + 1;
        let broken = |what: String| Broken { line: line_number, what };
        let line = line.map_err(|e| broken(format!("cannot read the file: {e}")))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(Value::Object(record)) = serde_json::from_slice::<Value>(&line) else {
            return Err(broken("not a JSON object: the record was damaged or something else was written here".into()));
        };
        let expected = chain.seq + 1;
        let Some(seq) = record.get("seq").and_then(Value::as_u64) else {
            return Err(broken("the record has no `seq`: it is not part of the chain".into()));
        };
        let Some(hash) = record.get("hash").and_then(Value::as_str) else {
            return Err(broken(format!("record seq {seq} has no `hash`")));
        };
        if seq > expected {
            let missing = if seq == expected + 1 {
                format!("seq {expected} is")
            } else {
                format!("seq {expected} to {} are", seq - 1)
            };
            return Err(broken(format!("record {missing} missing here, where seq {seq} is (removed or reordered)")));
        }
        if seq < expected {
            return Err(broken(format!(
                "record seq {seq} is out of order: seq {expected} was expected (records were reordered or copied)"
            )));
        }
        if record.get("prev").and_then(Value::as_str) != Some(chain.prev.as_str()) {
            return Err(broken(format!(
                "record seq {seq} does not follow the record before it: its `prev` is not that record's hash \
                 (a record was removed, replaced or altered)"
            )));
        }
        if hash_of(&record) != hash {
            return Err(broken(format!("record seq {seq} was altered: its content does not match its hash")));
        }
        chain = Chain { seq, prev: hash.to_string() };
    }
    Ok(Verified { records: chain.seq, last_hash: chain.prev })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(n: u64) -> Map<String, Value> {
        let Value::Object(map) = json!({"time": "t", "event": "decision", "call_id": n.to_string(), "resources": ["a", "b"], "duration_ms": 1.25, "client": {"version": "1", "name": "c"}})
        else {
            unreachable!()
        };
        map
    }

    fn log(records: u64) -> Vec<String> {
        let mut chain = Chain::default();
        (1..=records)
            .map(|n| {
                let (line, next) = chain.seal(record(n));
                chain = next;
                String::from_utf8(line).unwrap()
            })
            .collect()
    }

    fn check(lines: &[String]) -> Result<Verified, Broken> {
        verify(lines.concat().as_bytes())
    }

    #[test]
    fn a_sealed_log_verifies_and_names_its_last_hash() {
        let lines = log(5);
        let verified = check(&lines).unwrap();
        assert_eq!(verified.records, 5);
        let last: Value = serde_json::from_str(&lines[4]).unwrap();
        assert_eq!(verified.last_hash, last["hash"]);
        let first: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["seq"], 1);
        assert_eq!(first["prev"], GENESIS);
        assert_eq!(check(&[]).unwrap().records, 0);
    }

    #[test]
    fn the_hash_ignores_key_order_and_whitespace() {
        let lines = log(1);
        let value: Value = serde_json::from_str(&lines[0]).unwrap();
        let Value::Object(map) = value else { unreachable!() };
        let mut reversed = Map::new();
        for (key, value) in map.iter().rev() {
            reversed.insert(key.clone(), value.clone());
        }
        let pretty = serde_json::to_string(&reversed).unwrap().replace(",", ", ") + "\n";
        assert_eq!(check(&[pretty]).unwrap().records, 1);
    }

    #[test]
    fn an_edited_record_is_named() {
        let mut lines = log(4);
        lines[2] = lines[2].replace("\"decision\"", "\"result\"");
        let broken = check(&lines).unwrap_err();
        assert_eq!(broken.line, 3);
        assert!(broken.what.contains("altered"), "{}", broken.what);
    }

    #[test]
    fn an_edited_record_with_its_hash_recomputed_breaks_the_next_link() {
        let mut lines = log(4);
        let Value::Object(mut edited) = serde_json::from_str(&lines[1]).unwrap() else { unreachable!() };
        edited.insert("event".into(), json!("result"));
        let hash = hash_of(&edited);
        edited.insert("hash".into(), json!(hash));
        lines[1] = serde_json::to_string(&edited).unwrap() + "\n";
        let broken = check(&lines).unwrap_err();
        assert_eq!(broken.line, 3);
        assert!(broken.what.contains("does not follow"), "{}", broken.what);
    }

    #[test]
    fn a_removed_record_is_named() {
        let mut lines = log(4);
        lines.remove(1);
        let broken = check(&lines).unwrap_err();
        assert_eq!(broken.line, 2);
        assert!(broken.what.contains("seq 2 is missing"), "{}", broken.what);
    }

    #[test]
    fn swapped_records_are_named() {
        let mut lines = log(4);
        lines.swap(1, 2);
        let broken = check(&lines).unwrap_err();
        assert_eq!(broken.line, 2);
        assert!(broken.what.contains("seq 2 is missing"), "{}", broken.what);
    }

    #[test]
    fn a_resumed_chain_continues_from_the_last_line() {
        let dir = std::env::temp_dir().join(format!("awsgate-chain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.jsonl");
        let lines = log(3);
        // Long enough that the last line starts before the last 64 KiB read.
        let mut long = record(9);
        long.insert("resources".into(), json!(vec!["x".repeat(1000); 100]));
        let (extra, _) = {
            let Value::Object(third) = serde_json::from_str(&lines[2]).unwrap() else { unreachable!() };
            Chain { seq: 3, prev: third["hash"].as_str().unwrap().into() }.seal(long)
        };
        std::fs::write(&path, lines.concat() + std::str::from_utf8(&extra).unwrap()).unwrap();
        let mut file = std::fs::File::open(&path).unwrap();
        let chain = Chain::resume(&mut file).unwrap();
        assert_eq!(chain.seq(), 4);

        std::fs::write(&path, "").unwrap();
        assert_eq!(Chain::resume(&mut std::fs::File::open(&path).unwrap()).unwrap(), Chain::default());
        std::fs::write(&path, "{\"event\":\"decision\"}\n").unwrap();
        assert!(Chain::resume(&mut std::fs::File::open(&path).unwrap()).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
