//! The operator's console (SPEC 8): approvals for calls from any front door, decided in
//! the page at `/console` or its JSON API, the live audit feed, and the policy in force.
//! Operators use their own token, never an agent's, so an agent cannot approve itself.
//!
//! * [`desk`]: the open approvals, bounded, each with its timeout; [`shared`]: the same in
//!   the replicas' shared store.
//! * [`api`]: the HTTP routes (the page, `/console/api/...`) and their guard.
//! * [`webhook`]: a POST per new approval, which never decides or loses one.

pub mod api;
pub mod desk;
pub mod shared;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use desk::{Desk, Summary};

use crate::audit::AuditLog;
use crate::policy::ApprovalSettings;

/// How often a waiting MCP call tells its client it is still waiting.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// The console's shared state.
#[derive(Debug)]
pub struct Console {
    pub desk: Desk,
    /// The replicas' shared store, whose feed holds every replica's records.
    pub store: Option<Arc<crate::store::Store>>,
    webhook: webhook::Sender,
    /// Cancelled when awsgate shuts down: calls still waiting are answered at once.
    closing: CancellationToken,
    /// Calls waiting for a decision now.
    waiting: std::sync::atomic::AtomicUsize,
}

/// How a wait for the console ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    /// Approved: run the call once (with the MFA code the operator gave, if any).
    Approved {
        id: String,
        mfa_code: Option<String>,
    },
    Denied {
        id: String,
        /// The operator's reason, when one was given.
        reason: Option<String>,
    },
    /// Not decided within `wait_seconds`: the agent calls again once it is.
    Pending {
        id: String,
    },
    /// Closed after `timeout_seconds` without a decision.
    TimedOut {
        id: String,
    },
    /// The console cannot take it (too many waiting).
    Unavailable(String),
    /// The shared store holding the approval cannot be used: the call is refused as every
    /// call is then (`Unavailable`), not promised an approval the store may have lost.
    StoreLost(String),
    Cancelled,
}

impl Console {
    /// The console; its approvals in `store` when replicas share one.
    pub fn new(store: Option<Arc<crate::store::Store>>) -> Result<Console, String> {
        let desk = match &store {
            Some(store) => Desk::Shared(Arc::new(shared::SharedDesk::new(store.clone()))),
            None => Desk::default(),
        };
        Ok(Console {
            desk,
            store,
            webhook: webhook::Sender::new()?,
            closing: CancellationToken::new(),
            waiting: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// With a shared store: moves the calls waiting here when their approval is decided or
    /// withdrawn on any replica (`events` names each), and re-reads them every second in
    /// case a message was lost, until `stop`.
    pub async fn follow_store(&self, mut events: tokio::sync::mpsc::Receiver<String>, stop: CancellationToken) {
        let Desk::Shared(shared) = &self.desk else { return };
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                event = events.recv() => match event {
                    Some(id) => shared.refresh(Some(&id)).await,
                    None => return,
                },
                _ = every.tick() => shared.refresh(None).await,
            }
        }
    }

    /// A reload removed `agent`: its approvals are withdrawn (`why: agent_removed`), so no
    /// one later given its name can use them.
    pub async fn withdraw_agent(&self, agent: &str, audit: &AuditLog) -> Result<(), std::io::Error> {
        for summary in self.desk.withdraw_agent(agent).await {
            audit.write(&Withdrawn::of(summary, "agent_removed")).await?;
        }
        Ok(())
    }

    /// awsgate is shutting down: every call waiting for a decision stops waiting, is told
    /// so, and its approval is withdrawn (`why: shutdown`).
    pub fn close(&self) {
        self.closing.cancel();
    }

    /// After [`Console::close`]: resolves once no call waits any more (each has its answer),
    /// or after `limit`, so that the server stops only after the answers are on their way.
    pub async fn settled(&self, limit: Duration) {
        let started = tokio::time::Instant::now();
        let mut waited = false;
        while self.waiting.load(std::sync::atomic::Ordering::SeqCst) > 0 && started.elapsed() < limit {
            waited = true;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if waited {
            // The answers leave through their connections.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Puts the call before the operator, or uses the decision already made for the same
    /// call, and waits up to `wait_seconds`. `progress(seconds_waited)` runs every
    /// [`PROGRESS_EVERY`] while it waits.
    ///
    /// A wait that ends because the call was cancelled, or whose future is dropped (its
    /// client went away), withdraws the approval when no other call waits on it, and
    /// writes an `approval_withdrawn` record to `audit`.
    pub async fn wait<F, Fut>(
        &self,
        fingerprint: &str,
        summary: Summary,
        settings: &ApprovalSettings,
        cancel: Cancel<'_>,
        audit: Arc<AuditLog>,
        mut progress: F,
    ) -> Waited
    where
        F: FnMut(u64) -> Fut,
        Fut: Future<Output = ()>,
    {
        let timeout = Duration::from_secs(settings.timeout_seconds);
        let _counted = Counted::new(&self.waiting);
        let started = tokio::time::Instant::now();
        let deadline = started + Duration::from_secs(settings.wait_seconds);
        let mut ticks = tokio::time::interval_at(started + PROGRESS_EVERY, PROGRESS_EVERY);
        // With a shared store, whether it can still be used, every second: a call does not
        // wait out `wait_seconds` on an approval the store may have lost.
        let mut store_checks = tokio::time::interval(Duration::from_secs(1));
        let shared = matches!(self.desk, Desk::Shared(_));
        // Asked again when a call with the same arguments took the approval this one waited
        // on: each approval lets exactly one call run, so this call needs its own.
        'asking: loop {
            let ticket = match self.desk.ask(fingerprint, summary.clone(), timeout).await {
                Ok(ticket) => ticket,
                Err(why) => return Waited::Unavailable(why),
            };
            let (id, mut decided) = match ticket {
                desk::Ticket::Approved { id, mfa_code } => return Waited::Approved { id, mfa_code },
                desk::Ticket::Denied { id, reason } => return Waited::Denied { id, reason },
                desk::Ticket::Wait { id, decided, opened } => {
                    if opened && let Some(url) = &settings.webhook {
                        self.webhook.announce(url, Summary { id: id.clone(), ..summary.clone() });
                    }
                    (id, decided)
                }
            };
            let mut waiting = Waiting { desk: &self.desk, id: id.clone(), audit: audit.clone(), left: false };
            loop {
                let state = decided.borrow_and_update().clone();
                match state {
                    desk::State::Pending => {}
                    desk::State::Expired => {
                        waiting.left = true;
                        // In the shared store an approval also leaves before its time when a
                        // call on another replica took it, or the store lost it.
                        if matches!(self.desk, Desk::Shared(_)) && started.elapsed() < timeout {
                            return Waited::Unavailable(format!(
                                "approval `{id}` closed: it timed out, a call with the same arguments on another replica used it, or the shared store lost it; call again to ask anew"
                            ));
                        }
                        return Waited::TimedOut { id };
                    }
                    desk::State::Approved { .. } | desk::State::Denied { .. } => {
                        waiting.left = true;
                        return match self.desk.take(&id).await {
                            Ok(Some(desk::State::Approved { mfa_code })) => Waited::Approved { id, mfa_code },
                            Ok(Some(desk::State::Denied { reason })) => Waited::Denied { id, reason },
                            Ok(Some(_)) => Waited::Denied { id, reason: None },
                            Ok(None) => continue 'asking,
                            Err(why) => Waited::Unavailable(format!(
                                "approval `{id}` was decided, but awsgate cannot take it from the shared store now ({why}); call again with the same arguments"
                            )),
                        };
                    }
                }
                tokio::select! {
                    biased;
                    () = self.closing.cancelled() => {
                        waiting.left = true;
                        if let Some(summary) = self.desk.leave(&id, true).await {
                            let record = Withdrawn::of(summary, "shutdown");
                            if let Err(error) = waiting.audit.write(&record).await {
                                tracing::error!(%error, approval = %id, "cannot record a withdrawn approval");
                            }
                        }
                        return Waited::Unavailable(format!(
                            "awsgate is shutting down, so approval `{id}` was withdrawn; ask again once it is back"
                        ));
                    }
                    () = cancel.token.cancelled() => {
                        waiting.abandon(cancel.why);
                        return Waited::Cancelled;
                    }
                    changed = decided.changed() => {
                        if changed.is_err() {
                            // The approval closed (timed out and pruned).
                            waiting.left = true;
                            return Waited::TimedOut { id };
                        }
                    }
                    () = tokio::time::sleep_until(deadline) => {
                        // The agent calls again once it is approved: the approval stays open,
                        // unless the store holding it cannot be reached (it may come back
                        // without it), which the agent is told rather than promised otherwise.
                        waiting.left = true;
                        if let Some(why) = self.desk.trouble() {
                            return Waited::StoreLost(format!(
                                "{why}; approval `{id}` was waiting in the shared store, so call again once awsgate is available"
                            ));
                        }
                        self.desk.leave(&id, false).await;
                        return Waited::Pending { id };
                    }
                    _ = ticks.tick() => progress(started.elapsed().as_secs()).await,
                _ = store_checks.tick(), if shared => {
                    if let Some(why) = self.desk.trouble() {
                        waiting.left = true;
                        return Waited::StoreLost(format!(
                            "{why}; approval `{id}` was waiting in the shared store, so call again once awsgate is available"
                        ));
                    }
                }
                }
            }
        }
    }
}

/// One call counted as waiting while it lives.
struct Counted<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Counted<'a> {
    fn new(count: &'a std::sync::atomic::AtomicUsize) -> Counted<'a> {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Counted(count)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What ends a wait early, and what the withdrawal record calls it (`cancelled` by the
/// client, `client_gone`).
#[derive(Debug, Clone, Copy)]
pub struct Cancel<'a> {
    pub token: &'a CancellationToken,
    pub why: &'static str,
}

/// A call waiting on an approval. Dropped before it left (its client went away), it
/// withdraws the approval as a cancelled call does.
struct Waiting<'d> {
    desk: &'d Desk,
    id: String,
    audit: Arc<AuditLog>,
    left: bool,
}

impl Waiting<'_> {
    fn abandon(&mut self, why: &'static str) {
        self.left = true;
        let audit = self.audit.clone();
        // In the background: a dropped call cannot wait for it.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let withdrawn = match self.desk {
            Desk::Local(local) => local.leave(&self.id, true),
            Desk::Shared(shared) => {
                let (shared, id) = (shared.clone(), self.id.clone());
                runtime.spawn(async move {
                    if let Some(summary) = shared.leave(&id, true).await {
                        record_withdrawn(&audit, summary, why).await;
                    }
                });
                return;
            }
        };
        if let Some(summary) = withdrawn {
            runtime.spawn(async move { record_withdrawn(&audit, summary, why).await });
        }
    }
}

async fn record_withdrawn(audit: &AuditLog, summary: Summary, why: &'static str) {
    let record = Withdrawn::of(summary, why);
    if let Err(error) = audit.write(&record).await {
        tracing::error!(%error, approval = %record.approval_id, "cannot record a withdrawn approval");
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.left {
            self.abandon("client_gone");
        }
    }
}

/// The `approval_withdrawn` record: the call that asked is gone.
#[derive(Debug, serde::Serialize)]
struct Withdrawn {
    time: String,
    event: &'static str,
    approval_id: String,
    /// `cancelled`, `client_gone`, `shutdown` or `agent_removed`.
    why: &'static str,
    tool: String,
    action: String,
    resources: Vec<String>,
    session: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<String>,
    policy: String,
}

impl Withdrawn {
    fn of(summary: Summary, why: &'static str) -> Withdrawn {
        Withdrawn {
            time: crate::audit::now_rfc3339(),
            event: "approval_withdrawn",
            approval_id: summary.id,
            why,
            tool: summary.tool,
            action: summary.action,
            resources: summary.resources,
            session: summary.session,
            agent: summary.agent,
            policy: summary.policy,
        }
    }
}

/// What an agent is told of an operator's denial.
pub fn denied_message(id: &str, reason: Option<&str>) -> String {
    match reason {
        Some(reason) => format!("an operator denied it in the console (approval `{id}`), saying: {reason}"),
        None => format!("an operator denied it in the console (approval `{id}`)"),
    }
}

/// The `approval_id` and what to do, for an agent told `ApprovalPending`.
pub fn pending_message(action: &str, id: &str, timeout_seconds: u64) -> String {
    format!(
        "`{action}` is waiting for an operator's approval in the awsgate console (approval `{id}`); nothing was sent to AWS. \
         Call again with the same arguments once it is approved; the approval stays open for {timeout_seconds} s"
    )
}
