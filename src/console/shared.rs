//! The console's approvals in the shared store (`--store`), so that every replica lists
//! them, any replica decides them and each is used once in the whole gateway. The same
//! contract as the in-process desk ([`super::desk::Local`]), each step one Lua script on the
//! store's clock:
//!
//! * `ask`: the call's fingerprint finds the approval open for it (joined), or decided for
//!   it (used up now); else one is created, unless the caps say no;
//! * `reserve` and `decide`: only a pending, unreserved approval is reserved, only a
//!   pending one decided, and the decision is published for the replica where the call
//!   waits;
//! * `take`: a waiting call takes its decided approval, deleting it: of two, one gets it;
//! * `leave`: the last abandoned waiter withdraws a pending approval.
//!
//! A call waits on a local `watch` channel; the events subscription and a poll each second
//! of the approvals waited on here move it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::Script;
use tokio::sync::watch;

use super::desk::{DecideError, MAX_OPEN, MAX_PER_SESSION, State, Summary, Ticket};
use crate::store::{Store, lua_now_us};

/// How long the store remembers a decided approval's id, so a second decision is told it
/// was decided (409) rather than unknown.
const REMEMBER_DECIDED_MS: u64 = 3_600_000;

#[derive(Debug)]
pub struct SharedDesk {
    store: Arc<Store>,
    /// The approvals calls of this replica wait on, and their channels.
    watched: Mutex<HashMap<String, watch::Sender<State>>>,
}

fn key(id: &str) -> String {
    format!("awsgate:approval:{id}")
}

fn fingerprint_key(fingerprint: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(fingerprint.as_bytes());
    format!("awsgate:fp:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn state_of(state: Option<&str>, mfa: Option<String>, reason: Option<String>) -> State {
    let given = |v: Option<String>| v.filter(|v| !v.is_empty());
    match state {
        Some("pending") => State::Pending,
        Some("approved") => State::Approved { mfa_code: given(mfa) },
        Some("denied") => State::Denied { reason: given(reason) },
        _ => State::Expired,
    }
}

fn summary_of(json: &str) -> Result<Summary, String> {
    use serde::Deserialize;
    // Through an owned value: a summary's names are static strings, which cannot borrow.
    serde_json::from_str::<serde_json::Value>(json)
        .and_then(Summary::deserialize)
        .map_err(|e| format!("the store holds an approval awsgate cannot read: {e}"))
}

impl SharedDesk {
    pub fn new(store: Arc<Store>) -> SharedDesk {
        SharedDesk { store, watched: Mutex::default() }
    }

    fn watch(&self, id: &str) -> watch::Receiver<State> {
        let Ok(mut watched) = self.watched.lock() else { return watch::channel(State::Expired).1 };
        watched.entry(id.to_string()).or_insert_with(|| watch::channel(State::Pending).0).subscribe()
    }

    pub async fn ask(&self, fingerprint: &str, summary: Summary, timeout: Duration) -> Result<Ticket, String> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let summary =
            Summary { id: id.clone(), status: "pending", expires_at: crate::audit::rfc3339_after(timeout), ..summary };
        let json = serde_json::to_string(&summary).map_err(|e| e.to_string())?;
        let timeout_ms = timeout.as_millis().max(1).to_string();
        let answer: Vec<String> = self
            .store
            .script(
                &ASK,
                &[&fingerprint_key(fingerprint)],
                &[
                    &id,
                    &json,
                    &timeout_ms,
                    &summary.session,
                    &MAX_PER_SESSION.to_string(),
                    &MAX_OPEN.to_string(),
                    summary.agent.as_deref().unwrap_or(""),
                    if summary.needs_mfa { "1" } else { "0" },
                ],
            )
            .await?;
        let field = |n: usize| answer.get(n).cloned().unwrap_or_default();
        match field(0).as_str() {
            "taken" => Ok(match state_of(Some(&field(2)), Some(field(3)), Some(field(4))) {
                State::Approved { mfa_code } => Ticket::Approved { id: field(1), mfa_code },
                State::Denied { reason } => Ticket::Denied { id: field(1), reason },
                _ => return Err("the approval changed while it was taken".into()),
            }),
            "wait" => {
                let id = field(1);
                Ok(Ticket::Wait { decided: self.watch(&id), id, opened: field(2) == "1" })
            }
            "session" => Err(format!(
                "this session already has {MAX_PER_SESSION} approvals waiting in the console; they must be decided first"
            )),
            _ => Err(format!("the console already has {MAX_OPEN} approvals waiting; they must be decided first")),
        }
    }

    pub async fn take(&self, id: &str) -> Result<Option<State>, String> {
        let answer: Vec<String> = self.store.script(&TAKE, &[], &[id]).await?;
        Ok(match answer.first().map(String::as_str) {
            Some(state @ ("approved" | "denied")) => {
                Some(state_of(Some(state), answer.get(1).cloned(), answer.get(2).cloned()))
            }
            _ => None,
        })
    }

    pub async fn reserve(&self, id: &str, approve: bool, has_code: bool) -> Result<Summary, DecideError> {
        let answer: Vec<String> = self
            .store
            .script(&RESERVE, &[], &[id, if approve { "1" } else { "0" }, if has_code { "1" } else { "0" }])
            .await
            .map_err(DecideError::Unavailable)?;
        match answer.first().map(String::as_str) {
            Some("ok") => summary_of(answer.get(1).map_or("", String::as_str)).map_err(DecideError::Unavailable),
            Some("decided") => Err(DecideError::Decided(id.to_string())),
            Some("needs_mfa") => Err(DecideError::NeedsMfa),
            _ => Err(DecideError::NotFound(id.to_string())),
        }
    }

    pub async fn release(&self, id: &str) {
        let _: Result<i64, String> = self.store.script(&RELEASE, &[], &[id]).await;
    }

    pub async fn decide(
        &self,
        id: &str,
        approve: bool,
        mfa_code: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Summary, DecideError> {
        let answer: Vec<String> = self
            .store
            .script(
                &DECIDE,
                &[],
                &[
                    id,
                    if approve { "approved" } else { "denied" },
                    mfa_code.unwrap_or(""),
                    reason.unwrap_or(""),
                    &REMEMBER_DECIDED_MS.to_string(),
                ],
            )
            .await
            .map_err(DecideError::Unavailable)?;
        match answer.first().map(String::as_str) {
            Some("ok") => {
                let summary = summary_of(answer.get(1).map_or("", String::as_str)).map_err(DecideError::Unavailable)?;
                Ok(Summary { status: if approve { "approved" } else { "denied" }, ..summary })
            }
            Some("decided") => Err(DecideError::Decided(id.to_string())),
            _ => Err(DecideError::NotFound(id.to_string())),
        }
    }

    /// As [`super::desk::Local::leave`].
    pub async fn leave(&self, id: &str, abandoned: bool) -> Option<Summary> {
        let answer: Vec<String> =
            self.store.script(&LEAVE, &[], &[id, if abandoned { "1" } else { "0" }]).await.ok()?;
        let summary = summary_of(answer.first()?).ok()?;
        Some(Summary { status: "withdrawn", ..summary })
    }

    pub async fn withdraw_agent(&self, agent: &str) -> Vec<Summary> {
        let answer: Vec<String> = self.store.script(&WITHDRAW_AGENT, &[], &[agent]).await.unwrap_or_default();
        answer.iter().filter_map(|json| summary_of(json).ok()).map(|s| Summary { status: "withdrawn", ..s }).collect()
    }

    /// The pending approvals of every replica, oldest first.
    pub async fn pending(&self) -> Result<Vec<Summary>, String> {
        let answer: Vec<String> = self.store.script(&PENDING, &[], &[]).await?;
        let mut open: Vec<Summary> = answer
            .chunks(3)
            .filter_map(|row| {
                let [json, left_ms, waiters] = row else { return None };
                let summary = summary_of(json).ok()?;
                Some(Summary {
                    seconds_left: left_ms.parse::<u64>().unwrap_or(0) / 1000,
                    waiting: waiters.parse::<i64>().unwrap_or(0) > 0,
                    ..summary
                })
            })
            .collect();
        open.sort_by(|a, b| a.asked_at.cmp(&b.asked_at));
        Ok(open)
    }

    pub fn trouble(&self) -> Option<String> {
        self.store.trouble()
    }

    /// How many approvals calls of this replica wait on.
    pub fn waited_on(&self) -> usize {
        self.watched.lock().map_or(0, |w| w.len())
    }

    /// Re-reads the approvals waited on here (all of them, or `only`) and moves their
    /// channels; forgets those no call waits on any more.
    pub async fn refresh(&self, only: Option<&str>) {
        let ids: Vec<String> = match self.watched.lock() {
            Ok(mut watched) => {
                watched.retain(|_, sender| sender.receiver_count() > 0);
                watched.keys().filter(|id| only.is_none_or(|o| o == id.as_str())).cloned().collect()
            }
            Err(_) => return,
        };
        if ids.is_empty() {
            return;
        }
        if only.is_none() {
            let marked: Vec<&str> = ids.iter().map(String::as_str).collect();
            let _: Result<i64, String> = self.store.script(&TOUCH, &[], &marked).await;
        }
        let keys: Vec<String> = ids.iter().map(|id| key(id)).collect();
        let Ok(rows) = self.store.fields(&keys, &["state", "mfa", "reason"]).await else { return };
        let Ok(watched) = self.watched.lock() else { return };
        for (id, row) in ids.iter().zip(rows) {
            let mut row = row.into_iter();
            let (state, mfa, reason) = (row.next().flatten(), row.next().flatten(), row.next().flatten());
            let state = state_of(state.as_deref(), mfa, reason);
            if let Some(sender) = watched.get(id) {
                sender.send_if_modified(|current| {
                    let changed = *current != state;
                    *current = state.clone();
                    changed
                });
            }
        }
    }
}

/// Deletes an approval and its fingerprint's pointer, when that still names it.
const FORGET: &str = r"
local function forget(id)
  local k = 'awsgate:approval:' .. id
  local fp = redis.call('HGET', k, 'fp')
  if fp and redis.call('GET', fp) == id then redis.call('DEL', fp) end
  redis.call('DEL', k)
  redis.call('ZREM', 'awsgate:approvals', id)
end
local function prune(ms)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', 'awsgate:approvals', '-inf', ms)) do forget(id) end
end
";

/// KEYS[1] the fingerprint's pointer; ARGV: id, summary, timeout ms, session,
/// per-session cap, total cap, agent, needs MFA.
static ASK: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(&format!(
        "{}{FORGET}{}",
        lua_now_us!(),
        r"
local ms = math.floor(now / 1000)
prune(ms)
local existing = redis.call('GET', KEYS[1])
if existing then
  local k = 'awsgate:approval:' .. existing
  local st = redis.call('HGET', k, 'state')
  if st == 'approved' or st == 'denied' then
    local v = redis.call('HMGET', k, 'mfa', 'reason')
    forget(existing)
    return {'taken', existing, st, v[1] or '', v[2] or ''}
  elseif st == 'pending' then
    redis.call('HINCRBY', k, 'waiters', 1)
    redis.call('HSET', k, 'seen', ms)
    return {'wait', existing, '0'}
  end
  redis.call('DEL', KEYS[1])
end
local open = redis.call('ZRANGE', 'awsgate:approvals', 0, -1)
local mine = 0
for _, id in ipairs(open) do
  if redis.call('HGET', 'awsgate:approval:' .. id, 'session') == ARGV[4] then mine = mine + 1 end
end
if mine >= tonumber(ARGV[5]) then return {'session'} end
if #open >= tonumber(ARGV[6]) then return {'total'} end
local timeout = tonumber(ARGV[3])
local k = 'awsgate:approval:' .. ARGV[1]
redis.call('HSET', k, 'state', 'pending', 'summary', ARGV[2], 'fp', KEYS[1], 'session', ARGV[4],
  'agent', ARGV[7], 'needs_mfa', ARGV[8], 'waiters', 1, 'reserved', 0, 'expires', ms + timeout, 'timeout', timeout,
  'seen', ms)
redis.call('PEXPIRE', k, timeout)
redis.call('SET', KEYS[1], ARGV[1], 'PX', timeout)
redis.call('ZADD', 'awsgate:approvals', ms + timeout, ARGV[1])
return {'wait', ARGV[1], '1'}
"
    ))
});

/// ARGV: id. The decided approval, deleted: of two calls, one gets it.
static TAKE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(&format!(
        "{FORGET}{}",
        r"
local k = 'awsgate:approval:' .. ARGV[1]
local st = redis.call('HGET', k, 'state')
if st == 'approved' or st == 'denied' then
  local v = redis.call('HMGET', k, 'mfa', 'reason')
  forget(ARGV[1])
  return {st, v[1] or '', v[2] or ''}
end
return {}
"
    ))
});

/// ARGV: id, approve, has a code.
static RESERVE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
local k = 'awsgate:approval:' .. ARGV[1]
local st = redis.call('HGET', k, 'state')
if not st then
  if redis.call('EXISTS', 'awsgate:decided:' .. ARGV[1]) == 1 then return {'decided'} end
  return {'missing'}
end
if st ~= 'pending' or redis.call('HGET', k, 'reserved') == '1' then return {'decided'} end
if ARGV[2] == '1' and ARGV[3] == '0' and redis.call('HGET', k, 'needs_mfa') == '1' then return {'needs_mfa'} end
redis.call('HSET', k, 'reserved', 1)
return {'ok', redis.call('HGET', k, 'summary')}
",
    )
});

/// ARGV: id.
static RELEASE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
local k = 'awsgate:approval:' .. ARGV[1]
if redis.call('EXISTS', k) == 1 then redis.call('HSET', k, 'reserved', 0) end
return 0
",
    )
});

/// ARGV: id, `approved` or `denied`, MFA code, reason, how long to remember the id (ms).
static DECIDE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(&format!(
        "{}{}",
        lua_now_us!(),
        r"
local ms = math.floor(now / 1000)
local k = 'awsgate:approval:' .. ARGV[1]
local st = redis.call('HGET', k, 'state')
if not st then
  if redis.call('EXISTS', 'awsgate:decided:' .. ARGV[1]) == 1 then return {'decided'} end
  return {'missing'}
end
if st ~= 'pending' then return {'decided'} end
local timeout = tonumber(redis.call('HGET', k, 'timeout'))
local text = redis.call('HGET', k, 'summary')
redis.call('HSET', k, 'state', ARGV[2], 'mfa', ARGV[3], 'reason', ARGV[4], 'expires', ms + timeout)
redis.call('PEXPIRE', k, timeout)
local fp = redis.call('HGET', k, 'fp')
if fp then redis.call('PEXPIRE', fp, timeout) end
redis.call('ZADD', 'awsgate:approvals', ms + timeout, ARGV[1])
redis.call('SET', 'awsgate:decided:' .. ARGV[1], 1, 'PX', tonumber(ARGV[5]))
redis.call('PUBLISH', 'awsgate:events', ARGV[1])
return {'ok', text}
"
    ))
});

/// ARGV: id, abandoned. The summary of a withdrawn approval, else nothing.
static LEAVE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(&format!(
        "{FORGET}{}",
        r"
local k = 'awsgate:approval:' .. ARGV[1]
if redis.call('EXISTS', k) == 0 then return {} end
local waiters = redis.call('HINCRBY', k, 'waiters', -1)
if ARGV[2] == '1' and waiters <= 0 and redis.call('HGET', k, 'state') == 'pending'
   and redis.call('HGET', k, 'reserved') ~= '1' then
  local summary = redis.call('HGET', k, 'summary')
  forget(ARGV[1])
  redis.call('PUBLISH', 'awsgate:events', ARGV[1])
  return {summary}
end
return {}
"
    ))
});

/// ARGV: agent. The summaries of its approvals, each withdrawn.
static WITHDRAW_AGENT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(&format!(
        "{FORGET}{}",
        r"
local gone = {}
for _, id in ipairs(redis.call('ZRANGE', 'awsgate:approvals', 0, -1)) do
  local k = 'awsgate:approval:' .. id
  if redis.call('HGET', k, 'agent') == ARGV[1] then
    table.insert(gone, redis.call('HGET', k, 'summary'))
    forget(id)
    redis.call('PUBLISH', 'awsgate:events', id)
  end
end
return gone
"
    ))
});

/// ARGV: the ids calls of this replica wait on: each marked as still waited on (`seen`).
static TOUCH: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(concat!(
        lua_now_us!(),
        r"
local ms = math.floor(now / 1000)
for _, id in ipairs(ARGV) do
  local k = 'awsgate:approval:' .. id
  if redis.call('EXISTS', k) == 1 then redis.call('HSET', k, 'seen', ms) end
end
return 0
"
    ))
});

/// Each pending approval: its summary, milliseconds left, whether a call waits on it (a
/// replica re-marked it within 3.5 s: it does so each second while a call waits).
static PENDING: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(&format!(
        "{}{FORGET}{}",
        lua_now_us!(),
        r"
local ms = math.floor(now / 1000)
prune(ms)
local rows = {}
for _, id in ipairs(redis.call('ZRANGE', 'awsgate:approvals', 0, -1)) do
  local v = redis.call('HMGET', 'awsgate:approval:' .. id, 'state', 'summary', 'expires', 'waiters', 'seen')
  if v[1] == 'pending' then
    table.insert(rows, v[2])
    table.insert(rows, tostring(math.max(0, tonumber(v[3]) - ms)))
    -- A call waits if a replica said so lately: a killed replica's waiters stop counting.
    local live = tonumber(v[4] or '0') > 0 and ms - tonumber(v[5] or '0') <= 3500
    table.insert(rows, live and '1' or '0')
  end
end
return rows
"
    ))
});
