//! The state replicas share (SPEC 12), in Redis or Valkey: `--store redis://...`. Without a
//! store, each piece stays in the process, where the pipeline, the console's desk and the
//! MCP door keep it themselves.
//!
//! What the store holds, each piece changed only by one Lua script so that no two replicas
//! see it half-changed:
//!
//! * rate-limit windows (`awsgate:rate:<agent>`, a sorted set of call times on the store's
//!   clock, so replicas whose clocks differ still count one window);
//! * console approvals (`awsgate:approval:<id>`, a hash; `awsgate:approvals`, their ids by
//!   when each closes; `awsgate:fp:<sha256>`, the open approval of a call's fingerprint).
//!   Each is created once, decided once (the reservation and the decision are scripts that
//!   test the state first) and used once (taken by a script that deletes it);
//! * the single-use approval tokens of 2026-07-28 input-required results
//!   (`awsgate:token:<token>`, taken with `GETDEL`);
//! * the console's feed: each replica's audit records, the last [`FEED_KEPT`] in
//!   `awsgate:feed` and each published on the channel of the same name.
//!
//! Decisions are published on `awsgate:events`, so a call waiting on another replica wakes
//! at once; the replicas also re-read the approvals they wait on every second, which covers
//! a message lost while the subscriber reconnects.
//!
//! Reachability is watched: a ping each second, and every failed command, set the trouble
//! that `/readyz` reports and that refuses every call with `Unavailable` until it clears.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long one command may take before the store counts as unreachable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Most commands in flight on the shared connection at once.
const IN_FLIGHT: usize = 512;

/// How often reachability is checked when nothing else says so.
const PING_EVERY: Duration = Duration::from_secs(1);

/// How many of the latest audit records (of all replicas) the console's feed keeps.
pub const FEED_KEPT: isize = 500;

/// Most audit records waiting to be published to the feed; past it, the feed skips some
/// (the audit file has them all).
const FEED_QUEUE: usize = 1024;

/// The trouble of a store not yet asked.
const NOT_YET: &str = "the store has not answered yet";

const APPROVALS: &str = "awsgate:approvals";
const EVENTS: &str = "awsgate:events";
pub const FEED: &str = "awsgate:feed";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`--store {shown}`: {why}")]
    Address { shown: String, why: String },
}

/// The shared store, and whether it can be reached now.
pub struct Store {
    client: redis::Client,
    connection: ConnectionManager,
    /// The address without any password, for messages.
    shown: String,
    /// Why the store cannot be used now, if it cannot.
    trouble: Mutex<Option<String>>,
    errors: AtomicU64,
    members: AtomicU64,
    /// Names this process's entries in the rate-limit windows: unique, so that replicas that
    /// share a name (or a replica restarted within the window) never overwrite each other's.
    nonce: String,
    replica: String,
    feed: mpsc::Sender<String>,
    feed_queue: Mutex<Option<mpsc::Receiver<String>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("address", &self.shown).finish_non_exhaustive()
    }
}

/// The address as shown: the scheme, host, port and database, never a user, a password, a
/// query or a fragment.
pub fn shown_address(address: &str) -> String {
    match address.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.split(['?', '#']).next().unwrap_or("");
            let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{rest}")
        }
        None => "<not a URL>".to_string(),
    }
}

/// The store failed: why, in words that never hold its password.
fn failure(error: &redis::RedisError) -> String {
    if error.is_timeout() {
        "the store did not answer in time".into()
    } else if error.is_connection_refusal() || error.is_connection_dropped() {
        "the store cannot be reached".into()
    } else if error.is_io_error() {
        // A TLS failure (`rediss://`: an unknown issuer, a name that does not match) says
        // which; an I/O error's text never holds the address's password.
        let detail: String = error.to_string().chars().filter(|c| !c.is_control()).take(200).collect();
        format!("the store cannot be reached ({detail})")
    } else if error.kind() == redis::ErrorKind::AuthenticationFailed {
        "the store refused awsgate's credentials (the user and password of `--store`)".into()
    } else if let Some(code) = error.code() {
        // Redis's own words (`NOAUTH Authentication required.`, `ERR DB index is out of
        // range`): they never repeat a password.
        let detail: String = error.detail().unwrap_or("").chars().filter(|c| !c.is_control()).take(200).collect();
        let hint = match code {
            "NOAUTH" => " (`--store` names no password, and the store wants one)",
            "WRONGPASS" => " (the user and password of `--store`)",
            "NOPERM" => {
                " (the `--store` user must be allowed awsgate's scripts: `+@scripting` and the commands they call)"
            }
            _ => "",
        };
        format!("the store refused: {code} {detail}").trim_end().to_string() + hint
    } else if error.kind() == redis::ErrorKind::Parse {
        "the store's answer is not Redis's protocol (is `--store` the address of Redis or Valkey?)".into()
    } else {
        format!("the store failed: {}", error.kind_name())
    }
}

trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for redis::RedisError {
    fn kind_name(&self) -> String {
        format!("{:?}", self.kind())
    }
}

impl Store {
    /// A store at `address` (`redis://` or `rediss://`). Connects lazily: a store that is
    /// down at start makes the gateway unready, not fail, and it connects once it can.
    pub fn open(address: &str, replica: &str) -> Result<Store, StoreError> {
        let shown = shown_address(address);
        let refuse = |why: String| StoreError::Address { shown: shown.clone(), why };
        let scheme = address.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
        if !matches!(scheme.as_deref(), Some("redis" | "rediss")) {
            return Err(refuse(
                "the store must be a `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]` or `rediss://` (TLS) address of Redis or Valkey".into(),
            ));
        }
        let rest = address.split_once("://").map_or("", |(_, rest)| rest);
        if rest.contains(['?', '#']) {
            return Err(refuse(
                "the address takes no query or fragment: name the database after the port (`/5`) and the password before the host (`redis://:PASSWORD@HOST`)".into(),
            ));
        }
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        if let Some((_, db)) = host.split_once('/')
            && !db.is_empty()
            && db.parse::<u32>().is_err()
        {
            return Err(refuse(format!("the database `{db}` is not a number 0 or more (`redis://HOST:PORT/DB`)")));
        }
        let client =
            redis::Client::open(address).map_err(|e| refuse(format!("not a Redis address ({})", e.kind_name())))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500))
            .set_concurrency_limit(IN_FLIGHT);
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| refuse(format!("cannot set up the connection ({})", e.kind_name())))?;
        let (feed, queue) = mpsc::channel(FEED_QUEUE);
        Ok(Store {
            client,
            connection,
            shown,
            trouble: Mutex::new(Some(NOT_YET.into())),
            errors: AtomicU64::new(0),
            members: AtomicU64::new(0),
            nonce: uuid::Uuid::new_v4().simple().to_string(),
            replica: replica.to_string(),
            feed,
            feed_queue: Mutex::new(Some(queue)),
        })
    }

    /// Waits for the store's first answer (or first failure), at most the first ping's
    /// timeout, so that the calls a client makes as soon as awsgate is ready are not
    /// refused while it connects. A store still silent stays the trouble `/readyz` reports.
    pub async fn first_answer(&self) {
        let deadline = tokio::time::Instant::now() + RESPONSE_TIMEOUT * 2;
        while self.trouble().as_deref() == Some(NOT_YET) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn address(&self) -> &str {
        &self.shown
    }

    /// Why calls cannot be served now, if the store is the reason. Without the store's
    /// address: agents and `/readyz` see this; the log names the address.
    pub fn trouble(&self) -> Option<String> {
        self.trouble.lock().map(|t| t.clone()).unwrap_or_else(|_| Some("the store's state is lost".into()))
    }

    fn set_trouble(&self, why: Option<String>) {
        if let Ok(mut trouble) = self.trouble.lock() {
            // Each change is logged: the first answer, a failure (from the start too, so that
            // a wrong address or password is said at once) and a failure's new reason.
            match (&*trouble, &why) {
                (Some(_), None) => tracing::info!(store = %self.shown, "the store answers"),
                (old, Some(why)) if old.as_deref() != Some(why.as_str()) => {
                    tracing::error!(store = %self.shown, why, "the store cannot be used; calls are refused")
                }
                _ => {}
            }
            *trouble = why;
        }
    }

    /// A command's outcome, noting a failure as the store's trouble.
    fn noted<T>(&self, outcome: redis::RedisResult<T>) -> Result<T, String> {
        outcome.map_err(|error| {
            let why = failure(&error);
            self.errors.fetch_add(1, Ordering::Relaxed);
            crate::metrics::store_error();
            // An error the server answered with (a script's) is not the store being away.
            if !matches!(error.kind(), redis::ErrorKind::Server(_)) {
                self.set_trouble(Some(why.clone()));
            }
            why
        })
    }

    fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// Checks reachability every second, keeps the events subscription and publishes the
    /// feed, until `stop`. `events` is told each approval id decided or withdrawn anywhere,
    /// `records` each audit record another replica wrote.
    pub async fn run(
        self: std::sync::Arc<Self>,
        events: mpsc::Sender<String>,
        records: mpsc::Sender<String>,
        stop: CancellationToken,
    ) {
        let queue = self.feed_queue.lock().ok().and_then(|mut q| q.take());
        let pinging = {
            let store = self.clone();
            let stop = stop.clone();
            async move {
                loop {
                    let mut connection = store.connection();
                    // A script, as every call runs: a user the store lets in but not run
                    // awsgate's scripts (`NOPERM`) is trouble, not a healthy store.
                    let answered = tokio::time::timeout(RESPONSE_TIMEOUT * 2, async {
                        HEALTH.prepare_invoke().invoke_async::<String>(&mut connection).await
                    })
                    .await;
                    match answered {
                        Ok(Ok(_)) => store.set_trouble(None),
                        Ok(Err(error)) => {
                            crate::metrics::store_error();
                            store.set_trouble(Some(failure(&error)));
                        }
                        Err(_) => store.set_trouble(Some("the store did not answer in time".into())),
                    }
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(PING_EVERY) => {}
                    }
                }
            }
        };
        let subscribing = {
            let store = self.clone();
            let stop = stop.clone();
            async move {
                while !stop.is_cancelled() {
                    store.subscribe_once(&events, &records, &stop).await;
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    }
                }
            }
        };
        let publishing = {
            let store = self.clone();
            async move {
                let Some(mut queue) = queue else { return };
                while let Some(line) = queue.recv().await {
                    let mut connection = store.connection();
                    let outcome: redis::RedisResult<()> = redis::pipe()
                        .lpush(FEED, &line)
                        .ignore()
                        .ltrim(FEED, 0, FEED_KEPT - 1)
                        .ignore()
                        .publish(FEED, &line)
                        .ignore()
                        .query_async(&mut connection)
                        .await;
                    if let Err(error) = outcome {
                        tracing::warn!(why = failure(&error), "an audit record did not reach the shared console feed");
                    }
                }
            }
        };
        tokio::select! {
            () = pinging => {}
            () = subscribing => {}
            () = publishing => {}
            () = stop.cancelled() => {}
        }
    }

    async fn subscribe_once(
        &self,
        events: &mpsc::Sender<String>,
        records: &mpsc::Sender<String>,
        stop: &CancellationToken,
    ) {
        use futures_util::StreamExt;
        let connected = tokio::time::timeout(CONNECT_TIMEOUT * 2, self.client.get_async_pubsub()).await;
        let Ok(Ok(mut pubsub)) = connected else { return };
        if pubsub.subscribe(&[EVENTS, FEED]).await.is_err() {
            return;
        }
        let own = format!("\"replica\":{}", serde_json::Value::from(self.replica.as_str()));
        let mut messages = pubsub.on_message();
        loop {
            let message = tokio::select! {
                () = stop.cancelled() => return,
                message = messages.next() => message,
            };
            let Some(message) = message else { return };
            let Ok(payload) = message.get_payload::<String>() else { continue };
            if message.get_channel_name() == EVENTS {
                let _ = events.try_send(payload);
            } else if !payload.contains(&own) {
                // JSON escapes every quote inside a string, so this text appears only as
                // the record's own `replica` field.
                let _ = records.try_send(payload);
            }
        }
    }

    /// Where this replica's audit records go to reach the shared feed (a bounded queue,
    /// never waited on).
    pub fn feed(&self) -> mpsc::Sender<String> {
        self.feed.clone()
    }

    /// The latest records of every replica, oldest first.
    pub async fn recent(&self) -> Result<Vec<String>, String> {
        let mut connection = self.connection();
        let mut lines: Vec<String> = self.noted(connection.lrange(FEED, 0, FEED_KEPT - 1).await)?;
        lines.reverse();
        Ok(lines)
    }

    /// Counts a call against `limit` calls in any 60 s for `who`: `Ok(Err(seconds))` when
    /// over it, with when to retry.
    pub async fn admit(&self, who: &str, limit: u32) -> Result<Result<(), u64>, String> {
        let member = format!("{}-{}", self.nonce, self.members.fetch_add(1, Ordering::Relaxed));
        let mut connection = self.connection();
        let wait: u64 = self.noted(
            ADMIT.key(format!("awsgate:rate:{who}")).arg(limit).arg(member).invoke_async(&mut connection).await,
        )?;
        Ok(if wait == 0 { Ok(()) } else { Err(wait) })
    }

    /// Issues a single-use approval token bound to `digest`, unless `session` already has
    /// `per_session` waiting or the gateway `total`.
    pub async fn issue_token(
        &self,
        token: &str,
        digest: &str,
        session: &str,
        per_session: usize,
        total: usize,
        ttl: Duration,
    ) -> Result<Result<(), &'static str>, String> {
        let mut connection = self.connection();
        let answer: String = self.noted(
            ISSUE_TOKEN
                .arg(token)
                .arg(digest)
                .arg(session)
                .arg(per_session)
                .arg(total)
                .arg(ttl.as_millis() as u64)
                .invoke_async(&mut connection)
                .await,
        )?;
        Ok(match answer.as_str() {
            "ok" => Ok(()),
            "session" => Err("this session already has the most approvals that may wait at once; answer those first"),
            _ => Err("the server already has the most approvals that may wait at once"),
        })
    }

    /// Takes a token back: the digest it was bound to, once.
    pub async fn redeem_token(&self, token: &str) -> Result<Option<String>, String> {
        let mut connection = self.connection();
        let taken: Option<String> = self.noted(connection.get_del(format!("awsgate:token:{token}")).await)?;
        Ok(taken)
    }

    pub(crate) async fn script<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, String> {
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        let mut connection = self.connection();
        self.noted(invocation.invoke_async(&mut connection).await)
    }

    /// Reads each field of each hash, in one round trip.
    pub(crate) async fn fields(&self, keys: &[String], fields: &[&str]) -> Result<Vec<Vec<Option<String>>>, String> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("HMGET").arg(key).arg(fields);
        }
        let mut connection = self.connection();
        self.noted(pipe.query_async(&mut connection).await)
    }

    pub fn events_channel() -> &'static str {
        EVENTS
    }

    pub fn approvals_index() -> &'static str {
        APPROVALS
    }
}

/// The store's time in microseconds, in a script.
macro_rules! lua_now_us {
    () => {
        "local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000000 + tonumber(t[2]);"
    };
}
pub(crate) use lua_now_us;

/// At most ARGV[1] calls in any 60 s: the calls of the window are kept by time; over the
/// limit, the seconds until the oldest leaves it.
static ADMIT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(concat!(
        lua_now_us!(),
        r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000000)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local wait = math.ceil((tonumber(oldest[2]) + 60000000 - now) / 1000000)
  if wait < 1 then wait = 1 end
  return wait
end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], 61000)
return 0
"
    ))
});

/// What the reachability check runs: a script reading the store's clock, as the others do.
static HEALTH: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| Script::new("return redis.call('TIME')[1]"));

/// A token, bounded per session and in all (the sets hold each token until it expires).
static ISSUE_TOKEN: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(concat!(
        lua_now_us!(),
        r"
local ms = math.floor(now / 1000)
local ttl = tonumber(ARGV[6])
local all = 'awsgate:tokens'
local mine = 'awsgate:tokens:' .. ARGV[3]
redis.call('ZREMRANGEBYSCORE', all, '-inf', ms)
redis.call('ZREMRANGEBYSCORE', mine, '-inf', ms)
if redis.call('ZCARD', mine) >= tonumber(ARGV[4]) then return 'session' end
if redis.call('ZCARD', all) >= tonumber(ARGV[5]) then return 'total' end
redis.call('SET', 'awsgate:token:' .. ARGV[1], ARGV[2], 'PX', ttl)
redis.call('ZADD', all, ms + ttl, ARGV[1])
redis.call('ZADD', mine, ms + ttl, ARGV[1])
redis.call('PEXPIRE', all, ttl)
redis.call('PEXPIRE', mine, ttl)
return 'ok'
"
    ))
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_shown_without_credentials() {
        assert_eq!(shown_address("redis://:s3cret@cache:6379/2"), "redis://cache:6379/2");
        assert_eq!(shown_address("rediss://user:p@ss@cache:6380"), "rediss://cache:6380");
        assert_eq!(shown_address("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(shown_address("redis://h:1/2?password=secret#x"), "redis://h:1/2");
    }

    #[test]
    fn only_redis_addresses_are_taken() {
        let refused = Store::open("http://cache:6379", "r1").unwrap_err().to_string();
        assert!(refused.contains("redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]"), "{refused}");
        let refused = Store::open("memcached://:pw@cache", "r1").unwrap_err().to_string();
        assert!(!refused.contains("pw"), "{refused}");
        // What would be silently dropped, or fail only later, is refused at once.
        let refused = Store::open("redis://cache:6379/0?password=pw", "r1").unwrap_err().to_string();
        assert!(refused.contains("no query") && !refused.contains("pw"), "{refused}");
        let refused = Store::open("redis://:p/w@cache:6379/-1", "r1").unwrap_err().to_string();
        assert!(refused.contains("the database `-1`") && !refused.contains("p/w"), "{refused}");
    }
}
