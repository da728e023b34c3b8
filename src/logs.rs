//! Logs on stderr that can neither block nor crash the server.
//!
//! stdout may carry MCP, so logs go to stderr; but stderr may be a pipe nobody drains or
//! `/dev/full`. Lines go through a bounded queue to a writer thread that ignores write
//! errors; when the queue is full, lines are dropped. tracing-subscriber's own fallback
//! (`eprintln!` on a failed write) would panic there.
//!
//! Only awsgate's own events are shown unless `AWSGATE_LOG` says otherwise: the AWS SDK's
//! logs can quote what a `credential_process` printed (a secret) and dump instance
//! metadata look-ups, and rmcp's debug logs carry whole tool results.

use std::io::Write;
use std::sync::OnceLock;
use std::sync::mpsc::{SyncSender, sync_channel};

/// Lines waiting for the writer; more are dropped.
const QUEUE: usize = 1024;

/// The default filter: awsgate's events at `info`, nothing from the libraries.
pub const DEFAULT_FILTER: &str = "awsgate=info";

enum Job {
    Line(Vec<u8>),
    /// Answer once every line queued before this one was written.
    Flush(SyncSender<()>),
}

fn queue() -> &'static Option<SyncSender<Job>> {
    static QUEUE_SENDER: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();
    QUEUE_SENDER.get_or_init(|| {
        let (sender, jobs) = sync_channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("awsgate-log".into())
            .spawn(move || {
                let mut stderr = std::io::stderr();
                for job in jobs {
                    match job {
                        Job::Line(line) => {
                            let _ = stderr.write_all(&line).and_then(|()| stderr.flush());
                        }
                        Job::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            })
            .ok()
            .map(|_| sender)
    })
}

/// Writes `text` to stderr without blocking or failing; dropped if stderr is not keeping up.
pub fn stderr_line(text: &str) {
    let mut line = scrub(text.as_bytes());
    if !line.ends_with(b"\n") {
        line.push(b'\n');
    }
    if let Some(sender) = queue() {
        let _ = sender.try_send(Job::Line(line));
    }
}

/// One event's text, handed to the writer thread when the formatter is done with it.
#[derive(Default)]
pub struct LossyStderr {
    buffer: Vec<u8>,
}

impl Write for LossyStderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LossyStderr {
    fn drop(&mut self) {
        if !self.buffer.is_empty()
            && let Some(sender) = queue()
        {
            let _ = sender.try_send(Job::Line(scrub(&self.buffer)));
        }
    }
}

/// Prefixes of AWS access key ids (of users, roles' sessions, and the other kinds).
const KEY_ID_PREFIXES: &[&[u8]] =
    &[b"AKIA", b"ASIA", b"AROA", b"AIDA", b"AGPA", b"ANPA", b"ANVA", b"ASCA", b"ABIA", b"ACCA"];

/// Headers and fields whose values are secrets (lower case).
const SECRET_FIELDS: &[&[u8]] =
    &[b"x-amz-security-token", b"session_token", b"sessiontoken", b"secret_access_key", b"secretaccesskey"];

/// A log line with what would identify or unlock awsgate's AWS credentials replaced, at
/// every level: access key ids (`AKIA...`, `ASIA...`: 20 upper-case letters and digits),
/// and the values of session-token and secret-key fields. The AWS SDK's trace logs quote
/// request headers (`authorization: ... Credential=ASIA...`, `x-amz-security-token`).
pub fn scrub(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        let boundary = i == 0 || !line[i - 1].is_ascii_alphanumeric();
        let key_id = boundary
            && rest.len() >= 20
            && KEY_ID_PREFIXES.iter().any(|p| rest.starts_with(p))
            && rest[4..20].iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && rest.get(20).is_none_or(|b| !b.is_ascii_alphanumeric());
        if key_id {
            out.extend_from_slice(b"[access key id]");
            i += 20;
            continue;
        }
        if let Some(field) =
            SECRET_FIELDS.iter().find(|f| rest.len() >= f.len() && rest[..f.len()].eq_ignore_ascii_case(f))
        {
            out.extend_from_slice(&rest[..field.len()]);
            i += field.len();
            // The separators, then the value up to its end.
            while let Some(&b) = line.get(i).filter(|b| b" \t\"':=".contains(b)) {
                out.push(b);
                i += 1;
            }
            let start = i;
            while line.get(i).is_some_and(|b| !b" \t\r\n\"',;}]".contains(b)) {
                i += 1;
            }
            if i > start {
                out.extend_from_slice(b"[redacted]");
            }
            continue;
        }
        out.push(line[i]);
        i += 1;
    }
    out
}

/// Sets up logging: `AWSGATE_LOG` (an `EnvFilter`) or [`DEFAULT_FILTER`], to stderr.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AWSGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    tracing_subscriber::fmt().with_writer(LossyStderr::default).with_env_filter(filter).with_ansi(false).init();
}

/// Waits (half a second at most) for queued lines to reach stderr, before the process exits.
pub fn drain() {
    let Some(sender) = queue() else { return };
    let (done, flushed) = sync_channel(1);
    if sender.try_send(Job::Flush(done)).is_ok() {
        let _ = flushed.recv_timeout(std::time::Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_scrubbed_from_every_line() {
        let line = br#"authorization: "AWS4-HMAC-SHA256 Credential=ASIAIOSFODNN7EXAMPLE/20260101/us-east-1/s3/aws4_request", "x-amz-security-token": "IQoJb3JpZ2luX2VjE+/abc==", key=AKIAIOSFODNN7EXAMPLE."#;
        let scrubbed = String::from_utf8(scrub(line)).unwrap();
        assert!(!scrubbed.contains("IOSFODNN7EXAMPLE") && !scrubbed.contains("IQoJb3"), "{scrubbed}");
        assert!(
            scrubbed.contains("Credential=[access key id]/20260101") && scrubbed.contains("[redacted]"),
            "{scrubbed}"
        );
        // Not a key id: too short, or part of a longer word.
        assert_eq!(scrub(b"AKIA12 XAKIAIOSFODNN7EXAMPLE"), b"AKIA12 XAKIAIOSFODNN7EXAMPLE".to_vec());
    }
}
