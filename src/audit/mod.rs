//! Audit records and their sink: one JSON object per line, to stderr or appended to a
//! file. A call writes a `decision` record before any AWS request and a `result` record
//! after it; if the decision cannot be written, the call is refused. Records carry names,
//! ARNs and outcomes, never credentials or payloads (bodies, items, messages). Records are
//! hash-chained ([`chain`]), so an edit, a removal or a reordering can be shown.

pub mod chain;
pub mod replay;
pub mod suggest;

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};

use chain::Chain;

/// How long a call waits for its record to be written before it gives up on the sink.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Records waiting for the writer; past this, a call waits for room (within the timeout).
const QUEUE: usize = 64;

/// Where records go: a writer thread that owns the sink (stderr or an append-only file),
/// fed through a bounded queue. A sink that blocks (a stderr pipe nobody drains, a hung
/// disk) or fails makes writes fail within [`WRITE_TIMEOUT`], never hang or panic.
///
/// Each record is chained by the call that writes it, under a lock that it holds only to
/// seal the record and put it in the queue (for which it already has room), so the queue's
/// order is the chain's. The writer thread only writes: the less it does, the sooner a call
/// has its confirmation. A record sealed but then not written leaves a gap that `audit
/// verify` names as missing, which it is.
#[derive(Debug)]
pub struct AuditLog {
    queue: mpsc::Sender<Job>,
    chain: Mutex<Chain>,
    feed: Arc<Feed>,
    /// `--replica-id`: written in every record as `replica`.
    replica: Option<String>,
    /// Why the last write failed, until one succeeds again (for `/readyz`).
    failing: Arc<Mutex<Option<String>>>,
}

/// Records kept for the console: the last [`RECENT`] written, and each new one as it is
/// written. A console that reads slowly misses records rather than holding the writer.
#[derive(Debug)]
pub struct Feed {
    recent: Mutex<VecDeque<Arc<str>>>,
    live: broadcast::Sender<Arc<str>>,
    /// Where each record written here also goes (the replicas' shared feed), never
    /// waiting: a full queue skips it.
    forward: std::sync::OnceLock<mpsc::Sender<String>>,
}

/// Records the console can show from before it connected.
pub const RECENT: usize = 500;

impl Feed {
    fn new(earlier: Vec<Arc<str>>) -> Feed {
        let mut recent = VecDeque::with_capacity(RECENT);
        recent.extend(earlier.into_iter().rev().take(RECENT).rev());
        Feed { recent: Mutex::new(recent), live: broadcast::channel(256).0, forward: std::sync::OnceLock::new() }
    }

    /// Sends each record written from now on to `forward` too.
    pub fn forward(&self, forward: mpsc::Sender<String>) {
        let _ = self.forward.set(forward);
    }

    /// Shows a record written elsewhere (by another replica) to the live feed's readers.
    pub fn show(&self, line: Arc<str>) {
        let _ = self.live.send(line);
    }

    fn push(&self, line: &[u8]) {
        let text: Arc<str> = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(line)).into();
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(text.clone());
        }
        if let Some(forward) = self.forward.get() {
            let _ = forward.try_send(text.to_string());
        }
        let _ = self.live.send(text);
    }

    /// The records written lately, oldest first.
    pub fn recent(&self) -> Vec<Arc<str>> {
        self.recent.lock().map(|r| r.iter().cloned().collect()).unwrap_or_default()
    }

    /// Each record from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.live.subscribe()
    }
}

type Job = (Vec<u8>, oneshot::Sender<std::io::Result<()>>);

impl AuditLog {
    /// Records on stderr, in a chain that starts at `seq` 1.
    pub fn stderr() -> AuditLog {
        AuditLog::start(Box::new(std::io::stderr()), Chain::default(), Vec::new())
    }

    /// Opens `path` for appending, creating it if needed, and continues its chain. A
    /// regular file is locked for as long as awsgate runs: a second writer would fork the
    /// chain. (A device such as `/dev/null` holds no chain, and any number may write it.)
    pub fn file(path: &Path) -> std::io::Result<AuditLog> {
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        if file.metadata().is_ok_and(|m| m.file_type().is_file()) {
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(std::io::Error::other("another process is writing it (it is locked)"));
                }
                Err(std::fs::TryLockError::Error(error)) => return Err(error),
            }
        }
        let (chain, newline) = Chain::resume(&mut file).map_err(std::io::Error::other)?;
        if newline {
            // A last record without its final newline (a write cut short after the record):
            // the next record starts on a line of its own.
            file.write_all(b"\n")?;
            tracing::warn!(path = %path.display(), "the audit log's last record had no final newline; one was added before the next record");
        }
        // The console shows the records of earlier runs too.
        let earlier = last_records(&mut file, RECENT);
        Ok(AuditLog::start(Box::new(file), chain, earlier))
    }

    fn start(mut sink: Box<dyn Write + Send>, chain: Chain, earlier: Vec<Arc<str>>) -> AuditLog {
        let (queue, mut jobs) = mpsc::channel::<Job>(QUEUE);
        let feed = Arc::new(Feed::new(earlier));
        let fed = feed.clone();
        let spawned = std::thread::Builder::new().name("awsgate-audit".into()).spawn(move || {
            while let Some((line, done)) = jobs.blocking_recv() {
                let written = sink.write_all(&line).and_then(|()| sink.flush());
                let ok = written.is_ok();
                // The call first; the console's feed after.
                let _ = done.send(written);
                if ok {
                    fed.push(&line);
                }
            }
        });
        if let Err(error) = spawned {
            // With no writer, every write fails: the calls are refused.
            tracing::error!(%error, "cannot start the audit writer");
        }
        AuditLog { queue, chain: Mutex::new(chain), feed, replica: None, failing: Arc::default() }
    }

    /// Every record names `replica` (`--replica-id`).
    pub fn for_replica(mut self, replica: String) -> AuditLog {
        self.replica = Some(replica);
        self
    }

    /// Why records cannot be written now, if they cannot (the last write failed).
    pub fn trouble(&self) -> Option<String> {
        self.failing.lock().ok().and_then(|failing| failing.clone())
    }

    /// The records the console shows.
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// Writes one record (a JSON object) as one chained line and flushes it. An error
    /// means the record may not be on disk: the caller must not go on as if it were.
    pub async fn write(&self, record: &impl Serialize) -> std::io::Result<()> {
        let Value::Object(mut record) = serde_json::to_value(record).map_err(std::io::Error::other)? else {
            return Err(std::io::Error::other("an audit record must be a JSON object"));
        };
        if let Some(replica) = &self.replica {
            record.insert("replica".into(), Value::String(replica.clone()));
        }
        let written = self.write_object(record).await;
        if let Ok(mut failing) = self.failing.lock() {
            *failing = written.as_ref().err().map(|e| e.to_string());
        }
        written
    }

    async fn write_object(&self, record: serde_json::Map<String, Value>) -> std::io::Result<()> {
        let (done, written) = oneshot::channel();
        // One deadline for both waits: for room in the queue (a burst of calls), and for
        // the writer to confirm.
        let deadline = tokio::time::Instant::now() + WRITE_TIMEOUT;
        let too_slow =
            || std::io::Error::new(std::io::ErrorKind::TimedOut, "the audit sink did not take the record in time");
        let stopped = || std::io::Error::other("the audit writer stopped");
        let room = match self.queue.try_reserve() {
            Ok(room) => room,
            Err(mpsc::error::TrySendError::Closed(())) => return Err(stopped()),
            Err(mpsc::error::TrySendError::Full(())) => {
                match tokio::time::timeout_at(deadline, self.queue.reserve()).await {
                    Ok(Ok(room)) => room,
                    Ok(Err(_)) => return Err(stopped()),
                    Err(_) => return Err(too_slow()),
                }
            }
        };
        {
            let mut chain = self.chain.lock().map_err(|_| stopped())?;
            let (line, next) = chain.seal(record);
            *chain = next;
            room.send((line, done));
        }
        match tokio::time::timeout_at(deadline, written).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(std::io::Error::other("the audit writer stopped")),
            Err(_) => Err(too_slow()),
        }
    }
}

/// Most bytes read back from the end of an audit file for the console's history.
const HISTORY_BYTES: u64 = 4 * 1024 * 1024;

/// The last `count` records of an audit file (whole lines that are JSON objects, within
/// its last [`HISTORY_BYTES`]), oldest first. Unreadable history is no history: the
/// chain was checked by the caller, and the console only shows it.
fn last_records(file: &mut std::fs::File, count: usize) -> Vec<Arc<str>> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(length) = file.seek(SeekFrom::End(0)) else { return Vec::new() };
    let start = length.saturating_sub(HISTORY_BYTES);
    let mut tail = Vec::new();
    let read = file.seek(SeekFrom::Start(start)).and_then(|_| file.take(HISTORY_BYTES).read_to_end(&mut tail));
    if read.is_err() {
        return Vec::new();
    }
    let mut lines: Vec<&[u8]> = tail.split(|&b| b == b'\n').collect();
    if start > 0 && !lines.is_empty() {
        // The first line was cut by the window.
        lines.remove(0);
    }
    let records: Vec<Arc<str>> = lines
        .iter()
        .filter_map(|line| std::str::from_utf8(line).ok())
        .filter(|line| serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()))
        .map(Arc::from)
        .collect();
    let skip = records.len().saturating_sub(count);
    records.into_iter().skip(skip).collect()
}

/// The MCP client, from `initialize`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Client {
    pub name: String,
    pub version: String,
}

/// One audit record. `event` is `decision` or `result`; the result fields are absent on
/// decision records.
#[derive(Debug, Clone, Serialize)]
pub struct Record<'a> {
    pub time: String,
    pub event: &'static str,
    pub call_id: &'a str,
    pub session: &'a str,
    pub client: &'a Client,
    /// `stdio`, `http`, `sse` or `sidecar`.
    pub transport: &'static str,
    /// The agent key's name, for sidecar calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<&'a str>,
    pub policy: &'a str,
    pub mode: &'static str,
    pub tool: &'a str,
    pub action: Option<&'a str>,
    pub resources: &'a [String],
    pub decision: Option<&'static str>,
    pub enforced: Option<bool>,
    pub statement: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub approval: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// On a decision: the condition keys and values the gate judged by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<&'a crate::policy::Context>,
    /// On a decision the shadow policy would have made otherwise: what it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<&'a ShadowVerdict>,
}

/// The shadow policy's verdict, when it differs from the policy in force.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowVerdict {
    pub decision: &'static str,
    pub statement: Option<String>,
    pub reason: String,
}

/// Now, as RFC 3339 UTC with milliseconds: `2026-11-22T05:07:30.123Z`.
pub fn now_rfc3339() -> String {
    rfc3339_after(std::time::Duration::ZERO)
}

/// The moment `later` from now, as [`now_rfc3339`] writes it.
pub fn rfc3339_after(later: std::time::Duration) -> String {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + later;
    rfc3339(since.as_secs(), since.subsec_millis())
}

fn rfc3339(seconds: u64, millis: u32) -> String {
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_795_324_050, 123), "2026-11-22T05:07:30.123Z");
    }

    #[tokio::test]
    async fn a_full_sink_fails_the_write() {
        let log = AuditLog::file(Path::new("/dev/full")).unwrap();
        let client = Client::default();
        let record = sample(&client, &[]);
        assert!(log.write(&record).await.is_err());
    }

    /// A sink that never returns, like a stderr pipe nobody drains.
    struct Stuck;

    impl Write for Stuck {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(0)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_stuck_sink_fails_every_write_within_the_timeout() {
        let log = AuditLog::start(Box::new(Stuck), Chain::default(), Vec::new());
        let client = Client::default();
        let record = sample(&client, &[]);
        let started = std::time::Instant::now();
        assert!(log.write(&record).await.is_err());
        assert!(started.elapsed() >= WRITE_TIMEOUT);
        // Many calls at once: the queue fills, the rest wait for room, and every one has
        // its answer within the timeout.
        let writes = (0..QUEUE * 2).map(|_| log.write(&record));
        let results = futures_util::future::join_all(writes).await;
        assert!(results.iter().all(Result::is_err));
        assert!(started.elapsed() < WRITE_TIMEOUT * 3, "{:?}", started.elapsed());
    }

    fn sample<'a>(client: &'a Client, resources: &'a [String]) -> Record<'a> {
        Record {
            time: now_rfc3339(),
            event: "decision",
            call_id: "1",
            session: "s",
            client,
            transport: "stdio",
            agent: None,
            policy: "p",
            mode: "enforce",
            tool: "s3_get_object",
            action: Some("s3:GetObject"),
            resources,
            decision: Some("deny"),
            enforced: Some(true),
            statement: None,
            reason: Some("no statement allows it"),
            approval: Some("not_required"),
            outcome: None,
            error: None,
            aws_request_id: None,
            duration_ms: None,
            context: None,
            shadow: None,
        }
    }

    #[tokio::test]
    async fn records_are_single_lines_even_with_hostile_text() {
        let dir = std::env::temp_dir().join(format!("awsgate-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.jsonl");
        let log = AuditLog::file(&path).unwrap();
        let client = Client { name: "c".into(), version: "1".into() };
        let resources = vec!["arn:aws:s3:::b/line\nbreak\"quote".to_string()];
        let record = sample(&client, &resources);
        log.write(&record).await.unwrap();
        log.write(&record).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let parsed: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(parsed["resources"][0], "arn:aws:s3:::b/line\nbreak\"quote");
        assert!(parsed.get("outcome").is_none());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn a_reopened_log_continues_its_chain_and_one_writer_holds_it() {
        let dir = std::env::temp_dir().join(format!("awsgate-audit-chain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.jsonl");
        let client = Client::default();
        let record = sample(&client, &[]);
        let log = AuditLog::file(&path).unwrap();
        log.write(&record).await.unwrap();
        log.write(&record).await.unwrap();
        let second = AuditLog::file(&path).unwrap_err();
        assert!(second.to_string().contains("locked"), "{second}");
        drop(log);
        // The writer thread lets go of the file once it has drained its queue.
        let started = std::time::Instant::now();
        let log = loop {
            match AuditLog::file(&path) {
                Ok(log) => break log,
                Err(_) if started.elapsed() < Duration::from_secs(5) => std::thread::sleep(Duration::from_millis(10)),
                Err(error) => panic!("{error}"),
            }
        };
        log.write(&record).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let verified = chain::verify(text.as_bytes()).unwrap();
        assert_eq!(verified.records, 3);
        std::fs::remove_dir_all(&dir).ok();
    }
}
