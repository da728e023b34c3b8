//! The only module that knows MCP: the server handler and the transports (stdio,
//! streamable HTTP at `/mcp`, the older HTTP+SSE at `/sse`). Composed with the rest by
//! [`crate::gateway`].

mod approval;
mod handler;
mod http;
mod sessions;
mod wire;

use std::path::PathBuf;
use std::sync::Arc;

use rmcp::ServiceExt;

pub use handler::{Gateway, Served, Shared};
pub use http::{Settings, serve as serve_http, shutdown_signal};

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub listen: String,
    pub auth_token_file: Option<PathBuf>,
    /// Most streamable HTTP sessions kept at once (default 1000).
    pub max_sessions: Option<usize>,
    /// Serve the operator console at `/console`.
    pub console: Option<ConsoleOptions>,
}

#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// The operator's token (else `AWSGATE_CONSOLE_TOKEN`).
    pub token_file: Option<PathBuf>,
}

/// Serves one MCP client on stdin and stdout, as `agent`, until it goes away.
pub async fn serve_stdio(shared: Arc<Shared>, agent: Option<Arc<str>>) -> Result<(), String> {
    let service = Gateway::new(shared, "stdio", agent).serve(wire::Stdio::start()).await.map_err(|e| e.to_string())?;
    service.waiting().await.map(|_| ()).map_err(|e| e.to_string())
}
