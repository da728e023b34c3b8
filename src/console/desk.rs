//! Approvals waiting for an operator in the console (SPEC 8), from any front door. A call
//! that needs approval opens one (or joins the one its session already has open for the
//! same call) and waits up to `approvals.wait_seconds` for the decision. Past that, the
//! agent is told `ApprovalPending` with the approval's id; once approved, exactly one call
//! with the same fingerprint (front door, session, tool or operation, arguments) runs within
//! `approvals.timeout_seconds`. Bounded: a session may have 16 open, the server 256, and
//! each closes after its timeout.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize};
use tokio::sync::watch;

/// Most approvals one session may have open at once.
pub const MAX_PER_SESSION: usize = 16;

/// Most approvals open at once.
pub const MAX_OPEN: usize = 256;

/// What the operator sees of a call that waits. (Read back from the shared store, where
/// an approval keeps it as JSON.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub id: String,
    /// The MCP tool, or the sidecar's API operation.
    pub tool: String,
    pub action: String,
    pub resources: Vec<String>,
    pub statement: Option<String>,
    /// The arguments that matter, long values only by their size.
    pub arguments: String,
    #[serde(deserialize_with = "transport_of")]
    pub transport: &'static str,
    pub session: String,
    pub agent: Option<String>,
    pub client: String,
    pub policy: String,
    pub asked_at: String,
    /// When the approval closes undecided: after it, it can no longer be given.
    pub expires_at: String,
    /// Seconds until then, when listed.
    pub seconds_left: u64,
    /// A call is waiting on the decision now (its agent has not yet been told
    /// `ApprovalPending`).
    pub waiting: bool,
    /// The role needs an MFA code, which the operator gives with the approval.
    pub needs_mfa: bool,
    /// `pending`, `approved`, `denied` or `withdrawn`.
    #[serde(deserialize_with = "status_of")]
    pub status: &'static str,
}

/// One of the names `words` holds, as its static string.
fn one_of<'de, D: Deserializer<'de>>(deserializer: D, words: &[&'static str]) -> Result<&'static str, D::Error> {
    let text = String::deserialize(deserializer)?;
    words
        .iter()
        .find(|w| **w == text)
        .copied()
        .ok_or_else(|| serde::de::Error::custom(format!("unknown value `{text}`")))
}

fn transport_of<'de, D: Deserializer<'de>>(deserializer: D) -> Result<&'static str, D::Error> {
    one_of(deserializer, &["stdio", "http", "sse", "sidecar"])
}

fn status_of<'de, D: Deserializer<'de>>(deserializer: D) -> Result<&'static str, D::Error> {
    one_of(deserializer, &["pending", "approved", "denied", "withdrawn"])
}

/// Where an approval stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Pending,
    Approved {
        mfa_code: Option<String>,
    },
    /// With the operator's reason, when one was given.
    Denied {
        reason: Option<String>,
    },
    /// Closed without a decision.
    Expired,
}

#[derive(Debug)]
struct Entry {
    fingerprint: String,
    session: String,
    summary: Summary,
    state: watch::Sender<State>,
    /// Pending: when it closes; decided: until when it may be redeemed.
    expires: Instant,
    timeout: Duration,
    /// An operator's decision is being recorded: a second one is refused.
    reserved: bool,
    /// Calls waiting on it now.
    waiters: usize,
}

/// A waiting call's hold on its approval.
#[derive(Debug)]
pub enum Ticket {
    /// An approval for this very call was given earlier (the agent called again): it is
    /// used up now.
    Approved { id: String, mfa_code: Option<String> },
    /// An operator denied this very call earlier; the denial is used up now.
    Denied { id: String, reason: Option<String> },
    /// Wait for the decision. `opened` is true for a new approval (the webhook is told).
    Wait { id: String, decided: watch::Receiver<State>, opened: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    #[error("no open approval has the id `{0}` (it was decided, used or timed out)")]
    NotFound(String),
    #[error("approval `{0}` was already decided")]
    Decided(String),
    #[error("this call's role needs an MFA code: give the 6 digits of the device with the approval")]
    NeedsMfa,
    #[error("`mfa_code` must be 6 digits")]
    BadMfa,
    /// The shared store could not be asked.
    #[error("{0}")]
    Unavailable(String),
}

/// The open approvals: in this process, or in the shared store (`--store`).
#[derive(Debug)]
pub enum Desk {
    Local(Local),
    Shared(std::sync::Arc<super::shared::SharedDesk>),
}

impl Default for Desk {
    fn default() -> Desk {
        Desk::Local(Local::default())
    }
}

impl Desk {
    pub async fn ask(&self, fingerprint: &str, summary: Summary, timeout: Duration) -> Result<Ticket, String> {
        match self {
            Desk::Local(local) => local.ask(fingerprint, summary, timeout),
            Desk::Shared(shared) => shared.ask(fingerprint, summary, timeout).await,
        }
    }

    /// `Err` when the shared store could not be asked.
    pub async fn take(&self, id: &str) -> Result<Option<State>, String> {
        match self {
            Desk::Local(local) => Ok(local.take(id)),
            Desk::Shared(shared) => shared.take(id).await,
        }
    }

    pub async fn reserve(&self, id: &str, approve: bool, mfa_code: Option<&str>) -> Result<Summary, DecideError> {
        match self {
            Desk::Local(local) => local.reserve(id, approve, mfa_code),
            Desk::Shared(shared) => {
                let code = code_of(mfa_code)?;
                shared.reserve(id, approve, code.is_some()).await
            }
        }
    }

    pub async fn release(&self, id: &str) {
        match self {
            Desk::Local(local) => local.release(id),
            Desk::Shared(shared) => shared.release(id).await,
        }
    }

    pub async fn decide(
        &self,
        id: &str,
        approve: bool,
        mfa_code: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Summary, DecideError> {
        match self {
            Desk::Local(local) => local.decide(id, approve, mfa_code, reason),
            Desk::Shared(shared) => {
                let code = code_of(mfa_code)?;
                shared.decide(id, approve, code.as_deref(), reason).await
            }
        }
    }

    /// As [`Local::leave`].
    pub async fn leave(&self, id: &str, abandoned: bool) -> Option<Summary> {
        match self {
            Desk::Local(local) => local.leave(id, abandoned),
            Desk::Shared(shared) => shared.leave(id, abandoned).await,
        }
    }

    /// Why the shared store cannot be used now, if it cannot (never, without a store).
    pub fn trouble(&self) -> Option<String> {
        match self {
            Desk::Local(_) => None,
            Desk::Shared(shared) => shared.trouble(),
        }
    }

    pub async fn withdraw_agent(&self, agent: &str) -> Vec<Summary> {
        match self {
            Desk::Local(local) => local.withdraw_agent(agent),
            Desk::Shared(shared) => shared.withdraw_agent(agent).await,
        }
    }

    /// Approvals waiting for a decision (of every replica, with a store), oldest first.
    pub async fn pending(&self) -> Result<Vec<Summary>, String> {
        match self {
            Desk::Local(local) => Ok(local.pending()),
            Desk::Shared(shared) => shared.pending().await,
        }
    }

    /// For the metrics: the approvals waiting here (with a store, those calls of this
    /// replica wait on, so that replicas' figures add up).
    pub fn waiting_here(&self) -> usize {
        match self {
            Desk::Local(local) => local.pending().len(),
            Desk::Shared(shared) => shared.waited_on(),
        }
    }
}

/// A given MFA code, trimmed: 6 digits, or none.
fn code_of(mfa_code: Option<&str>) -> Result<Option<String>, DecideError> {
    match mfa_code.map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(code.to_string())),
        Some(_) => Err(DecideError::BadMfa),
        None => Ok(None),
    }
}

/// The open approvals, in this process.
#[derive(Debug, Default)]
pub struct Local {
    entries: Mutex<HashMap<String, Entry>>,
    /// The ids decided lately (the last [`RECALLED`]), so that a decision sent after
    /// another is told the approval was decided (409) even once its call took it.
    decided: Mutex<std::collections::VecDeque<String>>,
}

/// How many decided ids the desk remembers.
const RECALLED: usize = 1024;

impl Local {
    /// The approval for a call: one given or denied earlier for the same fingerprint is
    /// used up; one open for it is joined; else a new one opens, unless too many are open.
    pub fn ask(&self, fingerprint: &str, summary: Summary, timeout: Duration) -> Result<Ticket, String> {
        let mut entries = self.entries.lock().map_err(|_| "the approvals are unavailable".to_string())?;
        prune(&mut entries);
        let mine = entries
            .iter()
            .find(|(_, e)| e.fingerprint == fingerprint)
            .map(|(id, e)| (id.clone(), e.state.borrow().clone()));
        if let Some((id, state)) = mine {
            match state {
                State::Approved { mfa_code } => {
                    entries.remove(&id);
                    return Ok(Ticket::Approved { id, mfa_code });
                }
                State::Denied { reason } => {
                    entries.remove(&id);
                    return Ok(Ticket::Denied { id, reason });
                }
                State::Pending => {
                    let Some(entry) = entries.get_mut(&id) else { return Err("the approvals are unavailable".into()) };
                    entry.waiters += 1;
                    let decided = entry.state.subscribe();
                    return Ok(Ticket::Wait { id, decided, opened: false });
                }
                State::Expired => {
                    entries.remove(&id);
                }
            }
        }
        let session = summary.session.clone();
        if entries.values().filter(|e| e.session == session).count() >= MAX_PER_SESSION {
            return Err(format!(
                "this session already has {MAX_PER_SESSION} approvals waiting in the console; they must be decided first"
            ));
        }
        if entries.len() >= MAX_OPEN {
            return Err(format!("the console already has {MAX_OPEN} approvals waiting; they must be decided first"));
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (state, decided) = watch::channel(State::Pending);
        let summary =
            Summary { id: id.clone(), status: "pending", expires_at: crate::audit::rfc3339_after(timeout), ..summary };
        let entry = Entry {
            fingerprint: fingerprint.to_string(),
            session,
            summary,
            state,
            expires: Instant::now() + timeout,
            timeout,
            reserved: false,
            waiters: 1,
        };
        entries.insert(id.clone(), entry);
        Ok(Ticket::Wait { id, decided, opened: true })
    }

    /// A waiting call takes the approval it saw decided. `None` when another call with the
    /// same fingerprint took it first, or it closed.
    pub fn take(&self, id: &str) -> Option<State> {
        let mut entries = self.entries.lock().ok()?;
        let state = entries.get(id)?.state.borrow().clone();
        match state {
            State::Approved { .. } | State::Denied { .. } => {
                entries.remove(id);
                Some(state)
            }
            State::Pending | State::Expired => None,
        }
    }

    /// Reserves the approval for this decision, which is then recorded and made by
    /// [`Local::decide`] or given back by [`Local::release`]. Of two decisions sent at once
    /// for one approval, only the first is reserved: the other gets [`DecideError::Decided`].
    pub fn reserve(&self, id: &str, approve: bool, mfa_code: Option<&str>) -> Result<Summary, DecideError> {
        let mut entries = self.entries.lock().map_err(|_| DecideError::NotFound(id.to_string()))?;
        prune(&mut entries);
        let entry = entries.get_mut(id).ok_or_else(|| self.missing(id))?;
        if entry.reserved {
            return Err(DecideError::Decided(id.to_string()));
        }
        checked(entry, id, approve, mfa_code)?;
        entry.reserved = true;
        Ok(entry.summary.clone())
    }

    /// A waiting call stops waiting. When it was abandoned (cancelled, or its client went
    /// away) and no other call waits on the approval, a pending approval is withdrawn: it
    /// leaves the console and can no longer be decided or used. The withdrawn approval's
    /// summary, for its record.
    pub fn leave(&self, id: &str, abandoned: bool) -> Option<Summary> {
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.get_mut(id)?;
        entry.waiters = entry.waiters.saturating_sub(1);
        let pending = *entry.state.borrow() == State::Pending && !entry.reserved;
        if !(abandoned && pending && entry.waiters == 0) {
            return None;
        }
        let entry = entries.remove(id)?;
        entry.state.send_replace(State::Expired);
        Some(Summary { status: "withdrawn", ..entry.summary })
    }

    /// Withdraws every approval asked for `agent`, waiting or decided and not yet used
    /// (a reload removed the agent): their summaries, for their records.
    pub fn withdraw_agent(&self, agent: &str) -> Vec<Summary> {
        let Ok(mut entries) = self.entries.lock() else { return Vec::new() };
        let ids: Vec<String> = entries
            .iter()
            .filter(|(_, e)| e.summary.agent.as_deref() == Some(agent))
            .map(|(id, _)| id.clone())
            .collect();
        ids.iter()
            .filter_map(|id| entries.remove(id))
            .map(|entry| {
                entry.state.send_replace(State::Expired);
                Summary { status: "withdrawn", ..entry.summary }
            })
            .collect()
    }

    /// Gives back a reservation whose decision could not be recorded.
    pub fn release(&self, id: &str) {
        if let Ok(mut entries) = self.entries.lock()
            && let Some(entry) = entries.get_mut(id)
        {
            entry.reserved = false;
        }
    }

    /// The operator's decision. Approving a call whose role needs an MFA code takes the
    /// code too; a denial may give the agent a reason.
    pub fn decide(
        &self,
        id: &str,
        approve: bool,
        mfa_code: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Summary, DecideError> {
        let mut entries = self.entries.lock().map_err(|_| DecideError::NotFound(id.to_string()))?;
        prune(&mut entries);
        let entry = entries.get_mut(id).ok_or_else(|| self.missing(id))?;
        let code = checked(entry, id, approve, mfa_code)?;
        if let Ok(mut decided) = self.decided.lock() {
            if decided.len() == RECALLED {
                decided.pop_front();
            }
            decided.push_back(id.to_string());
        }
        let state = if approve {
            State::Approved { mfa_code: code }
        } else {
            State::Denied { reason: reason.map(str::to_string) }
        };
        entry.summary.status = if approve { "approved" } else { "denied" };
        entry.expires = Instant::now() + entry.timeout;
        entry.state.send_replace(state);
        Ok(entry.summary.clone())
    }

    /// Why no open approval has this id: it was decided lately, or is unknown.
    fn missing(&self, id: &str) -> DecideError {
        let recalled = self.decided.lock().is_ok_and(|decided| decided.iter().any(|d| d == id));
        if recalled { DecideError::Decided(id.to_string()) } else { DecideError::NotFound(id.to_string()) }
    }

    /// Approvals waiting for a decision, oldest first.
    pub fn pending(&self) -> Vec<Summary> {
        let Ok(mut entries) = self.entries.lock() else { return Vec::new() };
        prune(&mut entries);
        let now = Instant::now();
        let mut open: Vec<Summary> = entries
            .values()
            .filter(|e| *e.state.borrow() == State::Pending)
            .map(|e| Summary {
                seconds_left: e.expires.saturating_duration_since(now).as_secs(),
                waiting: e.waiters > 0,
                ..e.summary.clone()
            })
            .collect();
        open.sort_by(|a, b| a.asked_at.cmp(&b.asked_at));
        open
    }
}

/// The MFA code of a decision the entry can take.
fn checked(entry: &Entry, id: &str, approve: bool, mfa_code: Option<&str>) -> Result<Option<String>, DecideError> {
    if *entry.state.borrow() != State::Pending {
        return Err(DecideError::Decided(id.to_string()));
    }
    let code = code_of(mfa_code)?;
    if approve && entry.summary.needs_mfa && code.is_none() {
        return Err(DecideError::NeedsMfa);
    }
    Ok(code)
}

/// Closes what timed out, telling any call still waiting.
fn prune(entries: &mut HashMap<String, Entry>) {
    let now = Instant::now();
    entries.retain(|_, entry| {
        let keep = entry.expires > now;
        if !keep && *entry.state.borrow() == State::Pending {
            entry.state.send_replace(State::Expired);
        }
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(session: &str, needs_mfa: bool) -> Summary {
        Summary {
            id: String::new(),
            tool: "s3_put_object".into(),
            action: "s3:PutObject".into(),
            resources: vec!["arn:aws:s3:::reports/q3.csv".into()],
            statement: Some("Uploads".into()),
            arguments: "bucket = \"reports\"".into(),
            transport: "http",
            session: session.into(),
            agent: None,
            client: "test".into(),
            policy: "p".into(),
            asked_at: crate::audit::now_rfc3339(),
            expires_at: String::new(),
            seconds_left: 0,
            waiting: false,
            needs_mfa,
            status: "pending",
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    fn wait_id(ticket: Ticket) -> (String, watch::Receiver<State>, bool) {
        match ticket {
            Ticket::Wait { id, decided, opened } => (id, decided, opened),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_approval_lets_exactly_one_matching_call_run() {
        let desk = Local::default();
        let (id, decided, opened) = wait_id(desk.ask("call-a", summary("s1", false), MINUTE).unwrap());
        assert!(opened);
        // The same call asked again joins the open approval.
        let (again, _, opened) = wait_id(desk.ask("call-a", summary("s1", false), MINUTE).unwrap());
        assert_eq!((again.as_str(), opened), (id.as_str(), false));
        assert_eq!(desk.pending().len(), 1);
        desk.decide(&id, true, None, None).unwrap();
        assert_eq!(*decided.borrow(), State::Approved { mfa_code: None });
        assert!(desk.pending().is_empty());
        assert!(matches!(desk.decide(&id, false, None, None), Err(DecideError::Decided(_))));
        // The agent called again after ApprovalPending: it runs once, then asks afresh.
        assert!(matches!(desk.ask("call-a", summary("s1", false), MINUTE).unwrap(), Ticket::Approved { .. }));
        let (_, _, opened) = wait_id(desk.ask("call-a", summary("s1", false), MINUTE).unwrap());
        assert!(opened);
    }

    #[test]
    fn of_two_decisions_at_once_only_the_first_is_reserved() {
        let desk = Local::default();
        let (id, decided, _) = wait_id(desk.ask("call-a", summary("s1", false), MINUTE).unwrap());
        desk.reserve(&id, true, None).unwrap();
        assert_eq!(desk.reserve(&id, false, None).unwrap_err(), DecideError::Decided(id.clone()));
        // A decision that could not be recorded gives its reservation back.
        desk.release(&id);
        desk.reserve(&id, false, None).unwrap();
        desk.decide(&id, false, None, None).unwrap();
        assert_eq!(*decided.borrow(), State::Denied { reason: None });
    }

    #[test]
    fn an_abandoned_approval_is_withdrawn_once_no_call_waits_on_it() {
        let desk = Local::default();
        let (id, _, _) = wait_id(desk.ask("call-a", summary("s1", false), MINUTE).unwrap());
        let (_, _, joined) = wait_id(desk.ask("call-a", summary("s1", false), MINUTE).unwrap());
        assert!(!joined);
        // One of two waiting calls goes away: the approval stays for the other.
        assert!(desk.leave(&id, true).is_none());
        assert_eq!(desk.pending().len(), 1);
        // The last one is cancelled: withdrawn, and it can no longer be decided.
        assert_eq!(desk.leave(&id, true).map(|s| s.status), Some("withdrawn"));
        assert!(desk.pending().is_empty());
        assert!(matches!(desk.reserve(&id, true, None), Err(DecideError::NotFound(_))));
        // A call told ApprovalPending leaves without abandoning it: it stays for the retry.
        let (id, _, _) = wait_id(desk.ask("call-b", summary("s1", false), MINUTE).unwrap());
        assert!(desk.leave(&id, false).is_none());
        assert_eq!(desk.pending().len(), 1);
    }

    #[test]
    fn a_waiting_call_takes_its_approval_once() {
        let desk = Local::default();
        let (id, _, _) = wait_id(desk.ask("call-a", summary("s1", false), MINUTE).unwrap());
        assert_eq!(desk.take(&id), None);
        desk.decide(&id, true, None, None).unwrap();
        assert_eq!(desk.take(&id), Some(State::Approved { mfa_code: None }));
        assert_eq!(desk.take(&id), None);
        // Decided and used: a second decision is told it was decided, not that it is unknown.
        assert_eq!(desk.reserve(&id, false, None).unwrap_err(), DecideError::Decided(id.clone()));
        assert!(matches!(desk.reserve("no-such-id", false, None), Err(DecideError::NotFound(_))));
    }

    #[test]
    fn a_denial_is_told_once_and_mfa_needs_six_digits() {
        let desk = Local::default();
        let (id, _, _) = wait_id(desk.ask("call-a", summary("s1", true), MINUTE).unwrap());
        assert_eq!(desk.decide(&id, true, None, None).unwrap_err(), DecideError::NeedsMfa);
        assert_eq!(desk.decide(&id, true, Some("12345"), None).unwrap_err(), DecideError::BadMfa);
        desk.decide(&id, false, None, Some("not on a Friday")).unwrap();
        assert!(
            matches!(desk.ask("call-a", summary("s1", true), MINUTE).unwrap(), Ticket::Denied { reason: Some(r), .. } if r == "not on a Friday")
        );
        let (id, decided, _) = wait_id(desk.ask("call-a", summary("s1", true), MINUTE).unwrap());
        desk.decide(&id, true, Some(" 123456 "), None).unwrap();
        assert_eq!(*decided.borrow(), State::Approved { mfa_code: Some("123456".into()) });
    }

    #[test]
    fn open_approvals_are_bounded_and_time_out() {
        let desk = Local::default();
        for n in 0..MAX_PER_SESSION {
            desk.ask(&format!("call-{n}"), summary("s1", false), MINUTE).unwrap();
        }
        assert!(desk.ask("one-more", summary("s1", false), MINUTE).unwrap_err().contains("this session"));
        let (_, decided, _) = wait_id(desk.ask("short", summary("s2", false), Duration::ZERO).unwrap());
        assert_eq!(desk.pending().len(), MAX_PER_SESSION);
        assert_eq!(*decided.borrow(), State::Expired);
    }
}
