//! Reloading the policy (SPEC 10): on SIGHUP, or when the file changes with `--watch`. A
//! policy that does not validate is refused with its located errors and the running one
//! stays. A valid one is recorded (`policy_reloaded`, naming the old and new hashes) and
//! then put in force for the calls that start from then on; calls in flight finish under
//! the old one. What awsgate was started with (`credentials`, `region`, `account`,
//! `audit`) needs a restart to change, so a reload that changes them is refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::SharedCredentialsProvider;
use serde::Serialize;

use crate::aws::Aws;
use crate::catalog;
use crate::pipeline::Live;
use crate::policy::{self, PolicyDocument, PolicyError};

/// How often `--watch` looks at the file.
pub const WATCH_EVERY: Duration = Duration::from_millis(500);

/// A reload that took effect.
#[derive(Debug, Clone)]
pub struct Reloaded {
    pub old_hash: String,
    pub new_hash: String,
    /// The shadow's hashes, before and after (`-` for none).
    pub old_shadow: String,
    pub new_shadow: String,
    /// New credentials, when the role's derived session policy changed: the sidecar signs
    /// with them from now on.
    pub credentials: Option<SharedCredentialsProvider>,
}

#[derive(Debug, Serialize)]
struct Record<'a> {
    time: String,
    event: &'static str,
    /// What asked for it: `SIGHUP` or `watch`.
    trigger: &'a str,
    policy: &'a str,
    mode: &'static str,
    old_policy_hash: &'a str,
    new_policy_hash: &'a str,
    /// The shadow policies' hashes, before and after, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    old_shadow_policy_hash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shadow_policy_hash: Option<&'a str>,
    tools: usize,
}

/// Re-reads the policy file and puts it in force. `Err` says why the running policy
/// stays, with the file's located errors.
pub async fn reload(path: &Path, live: &Live, trigger: &str) -> Result<Option<Reloaded>, String> {
    let vocabulary = catalog::vocabulary();
    let loaded = policy::load_file(path, &vocabulary).map_err(|error| describe(&error))?;
    let current = live.current();
    let shadow_hash = |shadow: Option<&policy::Shadow>| shadow.map(|s| s.hash.clone());
    if loaded.hash == current.policy_hash() && shadow_hash(loaded.shadow.as_ref()) == shadow_hash(current.shadow()) {
        return Ok(None);
    }
    for warning in &loaded.warnings {
        tracing::warn!("{}:{warning}", path.display());
    }
    restart_only(current.policy().document(), loaded.policy.document())?;
    let session_policy = crate::aws::derived_session_policy(
        loaded.policy.document(),
        loaded.shadow.as_ref().map(|s| s.policy.document()),
    )
    .map_err(|length| format!("the derived session policy is {length} characters, more than AWS allows"))?;
    let mut credentials = None;
    let aws = if session_policy.as_deref() == current.session_policy() {
        None
    } else {
        // The role's credentials carry the policy too: new ones, with the new session
        // policy, for the calls under the new one.
        let (aws, config) =
            Aws::connect(loaded.policy.document(), session_policy.clone(), None).await.map_err(|e| e.to_string())?;
        credentials = config.credentials_provider();
        Some((aws, session_policy))
    };
    let document = loaded.policy.document();
    let record = Record {
        time: crate::audit::now_rfc3339(),
        event: "policy_reloaded",
        trigger,
        policy: &document.name,
        mode: loaded.policy.mode().as_str(),
        old_policy_hash: current.policy_hash(),
        new_policy_hash: &loaded.hash,
        old_shadow_policy_hash: current.shadow().map(|s| s.hash.as_str()),
        shadow_policy_hash: loaded.shadow.as_ref().map(|s| s.hash.as_str()),
        tools: catalog::tools().filter(|t| loaded.policy.lists_tool(&t.iam_action())).count(),
    };
    // A change that cannot be audited does not happen.
    current
        .audit()
        .write(&record)
        .await
        .map_err(|e| format!("the audit log cannot record the reload ({e}), so the running policy stays"))?;
    let shadow_hash = |shadow: Option<&policy::Shadow>| shadow.map_or("-".to_string(), |s| s.hash.clone());
    let reloaded = Reloaded {
        old_hash: current.policy_hash().to_string(),
        new_hash: loaded.hash.clone(),
        old_shadow: shadow_hash(current.shadow()),
        new_shadow: shadow_hash(loaded.shadow.as_ref()),
        credentials,
    };
    live.replace(current.reloaded(loaded.policy, loaded.hash, loaded.shadow, aws));
    Ok(Some(reloaded))
}

pub fn describe(error: &PolicyError) -> String {
    let mut text = Vec::new();
    let _ = crate::policy::write_error(error, &mut text);
    let text = String::from_utf8_lossy(&text);
    format!("{}; the running policy stays", text.trim_end().replace('\n', "; "))
}

/// What awsgate was started with, which a reload cannot change.
pub fn restart_only(old: &PolicyDocument, new: &PolicyDocument) -> Result<(), String> {
    let changed = [
        ("credentials", old.credentials != new.credentials),
        ("region", old.region != new.region),
        ("account", old.account != new.account),
        ("audit", old.audit_log != new.audit_log),
    ];
    let changed: Vec<&str> = changed.iter().filter(|(_, c)| *c).map(|(name, _)| *name).collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the new policy changes `{}`, which awsgate reads only at start: restart it for that; the running policy stays",
        changed.join("`, `")
    ))
}

/// Reloads on SIGHUP and, with `watch`, when the file changes, until `stop`. Each reload
/// that took effect is handed to `changed`.
pub async fn run<F, Fut>(
    path: PathBuf,
    live: Arc<Live>,
    watch: bool,
    stop: tokio_util::sync::CancellationToken,
    changed: F,
) where
    F: Fn(Reloaded) -> Fut,
    Fut: Future<Output = ()>,
{
    // The policy file and its shadow's, as in force.
    let stamps = || {
        let shadow = live.current().shadow().map(|s| s.path.clone());
        std::iter::once(stamp(&path)).chain(shadow.map(|s| stamp(&s))).collect::<Vec<_>>()
    };
    let mut triggers = Triggers::new(watch, stamps());
    while let Some(trigger) = triggers.next(&stop, stamps).await {
        match reload(&path, &live, trigger).await {
            Ok(Some(reloaded)) => {
                crate::metrics::reloaded(true);
                tracing::info!(
                    trigger,
                    old = %reloaded.old_hash,
                    new = %reloaded.new_hash,
                    old_shadow = %reloaded.old_shadow,
                    new_shadow = %reloaded.new_shadow,
                    "policy reloaded"
                );
                changed(reloaded).await;
            }
            Ok(None) => tracing::info!(trigger, "the policy file is unchanged"),
            Err(why) => {
                crate::metrics::reloaded(false);
                tracing::error!(trigger, "policy reload refused: {why}");
            }
        }
    }
}

/// What starts a reload: SIGHUP, or with `--watch` a change to what `stamps` says of the
/// files (looked at every [`WATCH_EVERY`]).
pub struct Triggers<S> {
    hangup: Option<tokio::signal::unix::Signal>,
    ticks: tokio::time::Interval,
    watch: bool,
    seen: S,
}

impl<S: PartialEq> Triggers<S> {
    pub fn new(watch: bool, seen: S) -> Triggers<S> {
        let hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(signal) => Some(signal),
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGHUP; reloads happen only with --watch");
                None
            }
        };
        let mut ticks = tokio::time::interval(WATCH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Triggers { hangup, ticks, watch, seen }
    }

    /// The next trigger (`SIGHUP` or `watch`), or `None` once `stop` is cancelled.
    pub async fn next(
        &mut self,
        stop: &tokio_util::sync::CancellationToken,
        stamps: impl Fn() -> S,
    ) -> Option<&'static str> {
        loop {
            tokio::select! {
                () = stop.cancelled() => return None,
                Some(()) = async { match self.hangup.as_mut() { Some(h) => h.recv().await, None => None } } => return Some("SIGHUP"),
                _ = self.ticks.tick(), if self.watch => {
                    let now = stamps();
                    if now != self.seen {
                        self.seen = now;
                        return Some("watch");
                    }
                }
            }
        }
    }

    /// What the files are after a reload that took effect (it may watch more of them).
    pub fn saw(&mut self, stamps: S) {
        self.seen = stamps;
    }
}

/// What `--watch` compares: the file's length, modification time and inode (an editor
/// that saves by renaming a new file over the old one changes the inode).
pub fn stamp(path: &Path) -> Option<(u64, SystemTime, u64)> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.len(), metadata.modified().ok()?, metadata.ino()))
}
