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
    let mut line = text.as_bytes().to_vec();
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
            let _ = sender.try_send(Job::Line(std::mem::take(&mut self.buffer)));
        }
    }
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
