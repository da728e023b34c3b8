//! Streamable HTTP sessions, bounded: rmcp's `LocalSessionManager` keeps every session
//! until it idles out, so 3,000 `initialize` calls held 170 MB. This wrapper caps the
//! count; a new session over the cap closes the one idle the longest (a client whose
//! session is gone gets 404 and, as MCP requires, starts a new one).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::common::server_side_http::ServerSseMessage;
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, LocalSessionManagerError};
use rmcp::transport::streamable_http_server::session::{SessionId, SessionManager};

/// Default for `--max-sessions`.
pub const DEFAULT_MAX_SESSIONS: usize = 1000;

/// A session with no request for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

pub struct BoundedSessions {
    inner: LocalSessionManager,
    max: usize,
    last_used: Mutex<HashMap<SessionId, Instant>>,
}

impl BoundedSessions {
    pub fn new(max: usize) -> BoundedSessions {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(IDLE_TIMEOUT);
        BoundedSessions { inner, max: max.max(1), last_used: Mutex::new(HashMap::new()) }
    }

    fn touch(&self, id: &SessionId) {
        if let Ok(mut last_used) = self.last_used.lock()
            && let Some(seen) = last_used.get_mut(id)
        {
            *seen = Instant::now();
        }
    }

    /// The session to close to make room for a new one, if the cap is reached: the one
    /// idle the longest. Sessions rmcp already ended are forgotten first.
    async fn make_room(&self) {
        let live: Vec<SessionId> = self.inner.sessions.read().await.keys().cloned().collect();
        let victim = {
            let Ok(mut last_used) = self.last_used.lock() else { return };
            if last_used.len() >= self.max {
                let live: std::collections::HashSet<&SessionId> = live.iter().collect();
                last_used.retain(|id, _| live.contains(id));
            }
            if last_used.len() < self.max {
                return;
            }
            let idlest = last_used.iter().min_by_key(|(_, seen)| **seen).map(|(id, _)| id.clone());
            if let Some(id) = &idlest {
                last_used.remove(id);
            }
            idlest
        };
        if let Some(id) = victim {
            tracing::info!(session = %id, max = self.max, "closing the idlest MCP session to stay under --max-sessions");
            let _ = self.inner.close_session(&id).await;
        }
    }
}

impl SessionManager for BoundedSessions {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.make_room().await;
        let (id, transport) = self.inner.create_session().await?;
        if let Ok(mut last_used) = self.last_used.lock() {
            last_used.insert(id.clone(), Instant::now());
        }
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.touch(id);
        self.inner.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        if let Ok(mut last_used) = self.last_used.lock() {
            last_used.remove(id);
        }
        self.inner.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.touch(id);
        self.inner.create_stream(id, message).await
    }

    async fn accept_message(&self, id: &SessionId, message: ClientJsonRpcMessage) -> Result<(), Self::Error> {
        self.touch(id);
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.touch(id);
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.touch(id);
        self.inner.resume(id, last_event_id).await
    }
}
