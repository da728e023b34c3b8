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
    /// Continues the chain of an existing log from its last record; an empty log starts a
    /// new one. The last record must be whole and follow the record before it (its own hash
    /// holds, its `seq` is one more, its `prev` is that record's hash): a forged or torn last
    /// line, a blank line, or a log written before records were chained is an error naming
    /// the line, since appending to it would leave a chain that cannot be verified. A last
    /// record that lacks only its final newline is resumed, and the `bool` says a newline
    /// must be written before the next record.
    pub fn resume(file: &mut std::fs::File) -> Result<(Chain, bool), String> {
        let tail = tail(file).map_err(|e| format!("cannot read its last records: {e}"))?;
        let Some(last) = tail.lines.last() else {
            return Ok((Chain::default(), false));
        };
        let file: &std::fs::File = file;
        let line = |back: u64| -> String {
            match count_lines(file) {
                Ok(lines) => format!("line {}", lines.saturating_sub(back)),
                Err(_) => {
                    if back == 0 {
                        "the last line".into()
                    } else {
                        "the line before the last".into()
                    }
                }
            }
        };
        // Line numbers count back from the file's last line.
        let last_at = 0;
        let record = |text: &[u8], at: u64| -> Result<(u64, String, String), String> {
            if text.iter().all(u8::is_ascii_whitespace) {
                return Err(format!(
                    "{} is blank: awsgate writes none, so the file was edited; remove the blank line, or move the file aside",
                    line(at)
                ));
            }
            let chained = crate::json::strict(text).ok().and_then(|value| {
                let Value::Object(record) = value else { return None };
                let seq = record.get("seq")?.as_u64()?;
                let hash = record.get("hash")?.as_str().filter(|h| is_hash(h))?.to_string();
                let prev = record.get("prev")?.as_str()?.to_string();
                (hash_of(&record) == hash).then_some((seq, hash, prev))
            });
            chained.ok_or_else(|| {
                format!(
                    "{} is not a whole chained audit record (written by an older awsgate, cut short, or altered); \
                     move the file aside and start a new one",
                    line(at)
                )
            })
        };
        let (seq, hash, prev) = record(last, last_at)?;
        let follows = match tail.lines.len() {
            1 => seq == 1 && prev == GENESIS,
            _ => {
                let before = &tail.lines[tail.lines.len() - 2];
                let (before_seq, before_hash, _) = record(before, last_at + 1)?;
                before_seq + 1 == seq && before_hash == prev
            }
        };
        if !follows {
            return Err(format!(
                "{}: its last record (seq {seq}) does not follow the record before it, so it cannot be trusted to \
                 continue from; check the file with `awsgate audit verify`, and move it aside",
                line(last_at)
            ));
        }
        Ok((Chain { seq, prev: hash }, !tail.terminated))
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

/// The end of a file: its last two lines (fewer in a shorter file), and whether the last
/// ends with a newline.
struct Tail {
    lines: Vec<Vec<u8>>,
    terminated: bool,
}

/// Reads the file's last two lines from its end.
fn tail(file: &mut std::fs::File) -> std::io::Result<Tail> {
    const STEP: u64 = 64 * 1024;
    /// Longer than any two records awsgate writes.
    const MOST: u64 = 8 * 1024 * 1024;
    let length = file.seek(SeekFrom::End(0))?;
    let mut bytes = Vec::new();
    let mut start = length;
    loop {
        let from = start.saturating_sub(STEP);
        file.seek(SeekFrom::Start(from))?;
        let mut chunk = vec![0; usize::try_from(start - from).unwrap_or(0)];
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&bytes);
        bytes = chunk;
        start = from;
        let terminated = bytes.last() == Some(&b'\n');
        let body = if terminated { &bytes[..bytes.len() - 1] } else { &bytes[..] };
        // Two whole lines: a newline before the second to last one, or the file's start.
        let newlines = body.iter().filter(|&&b| b == b'\n').count();
        if newlines >= 2 || start == 0 {
            let mut lines: Vec<Vec<u8>> = body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            if start != 0 {
                lines.remove(0);
            }
            if body.is_empty() && !terminated {
                lines.clear();
            }
            let keep = lines.len().saturating_sub(2);
            lines.drain(..keep);
            return Ok(Tail { lines, terminated });
        }
        if length - start > MOST {
            return Err(std::io::Error::other("the last records are longer than 8 MiB"));
        }
    }
}

/// How many lines the file has (a last one without its newline counts).
fn count_lines(mut file: &std::fs::File) -> std::io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = std::io::BufReader::new(file);
    let mut lines = 0;
    let mut last = b'\n';
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        lines += buffer.iter().filter(|&&b| b == b'\n').count() as u64;
        last = buffer[buffer.len() - 1];
        let consumed = buffer.len();
        reader.consume(consumed);
    }
    Ok(lines + u64::from(last != b'\n'))
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
            return Err(broken("a blank line: awsgate writes none, so the file was edited here".into()));
        }
        let record = match crate::json::strict(&line) {
            Ok(Value::Object(record)) => record,
            Err(error) if error.to_string().contains("appears twice") => {
                return Err(broken(format!("{error}: a record names each field once, so this one was altered")));
            }
            _ => {
                return Err(broken(
                    "not a JSON object: the record was damaged or something else was written here".into(),
                ));
            }
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
        let (chain, newline) = Chain::resume(&mut file).unwrap();
        assert_eq!((chain.seq(), newline), (4, false));

        let resume = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Chain::resume(&mut std::fs::File::open(&path).unwrap())
        };
        assert_eq!(resume("").unwrap(), (Chain::default(), false));
        assert!(resume("{\"event\":\"decision\"}\n").is_err());
        // A last record without its final newline: resumed, and a newline is owed.
        let (chain, newline) = resume(lines.concat().trim_end()).unwrap();
        assert_eq!((chain.seq(), newline), (3, true));
        // A blank line after the records is named.
        assert!(resume(&(lines.concat() + "\n")).unwrap_err().starts_with("line 4 is blank"));
        // A forged last record (its own hash right, but not following the one before).
        let forged = Chain { seq: 998, prev: GENESIS.into() }.seal(record(7)).0;
        let error = resume(&(lines.concat() + std::str::from_utf8(&forged).unwrap())).unwrap_err();
        assert!(error.starts_with("line 4: its last record (seq 999) does not follow"), "{error}");
        // A lone first record must start the chain.
        assert!(resume(std::str::from_utf8(&forged).unwrap()).unwrap_err().contains("does not follow"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn verify_refuses_repeated_fields_and_blank_lines() {
        let mut lines = log(2);
        lines[1] = lines[1].replacen("{", "{\"event\":\"result\",", 1);
        let broken = check(&lines).unwrap_err();
        assert_eq!(broken.line, 2);
        assert!(broken.what.contains("appears twice"), "{broken}");
        let mut lines = log(2);
        lines.push("\n".into());
        assert_eq!(check(&lines).unwrap_err().line, 3);
    }
}
