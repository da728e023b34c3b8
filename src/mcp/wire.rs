//! JSON-RPC framing that answers malformed input as JSON-RPC 2.0 says, for stdio and the
//! HTTP+SSE transport. rmcp's own line transport answers an unparsable line with -32600 and
//! no `id`, a request with malformed params of a known method with -32601, and a request
//! whose params are not an object with nothing; a client then waits for ever. Here: -32700
//! (`id: null`) for text that is not JSON, -32600 for JSON that is not a request, -32602 for
//! a known method with params it cannot take.
//!
//! The stdio transport reads on its own task into a bounded queue, so that rmcp's
//! `receive`, polled inside a `select!`, never drops half a line.

use std::future::Future;
use std::sync::Arc;

use rmcp::model::{ClientJsonRpcMessage, ClientRequest, JsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::{RoleServer, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Mutex, mpsc};

/// The longest line accepted on stdio. Above the HTTP body bound (12 MiB), so that an
/// argument that is merely too long (an object body) gets the tool's own clear error.
pub const MAX_LINE_BYTES: usize = 32 * 1024 * 1024;

/// Methods rmcp 3.9 parses into typed requests (its `ClientRequest`): one that arrives as a
/// `CustomRequest` had params rmcp could not take. A method rmcp does not type (`tasks/list`)
/// is not here: it reaches the handler and gets -32601.
const KNOWN_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/call",
    "tools/list",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "resources/directory/read",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "tasks/get",
    "tasks/update",
    "tasks/cancel",
];

/// What a piece of input is.
#[derive(Debug)]
pub enum Decoded {
    /// A message for the handler.
    Message(Box<ClientJsonRpcMessage>),
    /// Malformed: answer with this JSON-RPC error object, which the handler never sees.
    Reply(Value),
    /// Malformed, but a notification or a response: JSON-RPC answers nothing.
    Ignore,
}

fn error(id: Value, code: i64, message: String) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

pub fn decode(bytes: &[u8]) -> Decoded {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(e) => return Decoded::Reply(error(Value::Null, -32700, format!("parse error: {e}"))),
    };
    let id = value.get("id").filter(|id| id.is_string() || id.is_number()).cloned();
    let method = value.get("method").and_then(Value::as_str).map(str::to_string);
    if value.is_object() && value.get("jsonrpc") != Some(&json!("2.0")) {
        let message = "invalid request: `jsonrpc` must be \"2.0\"".to_string();
        return Decoded::Reply(error(id.unwrap_or(Value::Null), -32600, message));
    }
    if value.get("id").is_some_and(|raw| id.is_none() && !raw.is_null()) {
        let message = "invalid request: `id` must be a string or a number".to_string();
        return Decoded::Reply(error(Value::Null, -32600, message));
    }
    match serde_json::from_value::<ClientJsonRpcMessage>(value) {
        Ok(JsonRpcMessage::Request(request)) if matches!(&request.request, ClientRequest::CustomRequest(custom) if KNOWN_METHODS.contains(&custom.method.as_str())) =>
        {
            let method = method.unwrap_or_default();
            Decoded::Reply(error(json!(request.id), -32602, format!("invalid params for `{method}`")))
        }
        Ok(message) => Decoded::Message(Box::new(message)),
        Err(e) => match (id, method) {
            (Some(id), Some(method)) if KNOWN_METHODS.contains(&method.as_str()) => {
                Decoded::Reply(error(id, -32602, format!("invalid params for `{method}`: {e}")))
            }
            (Some(id), _) => Decoded::Reply(error(id, -32600, format!("invalid request: {e}"))),
            (None, Some(_)) => Decoded::Ignore,
            (None, None) => Decoded::Reply(error(Value::Null, -32600, format!("invalid request: {e}"))),
        },
    }
}

/// The `id` of a message too long to parse, when it stands before the long part (as
/// clients write it), so that the caller's request gets its answer.
fn leading_id(line: &[u8]) -> Option<Value> {
    let head = line.get(..line.len().min(256))?;
    let text = String::from_utf8_lossy(head);
    let after = text.split_once("\"id\"")?.1.trim_start().strip_prefix(':')?.trim_start();
    let end = after.find([',', '}'])?;
    let id: Value = serde_json::from_str(after.get(..end)?.trim()).ok()?;
    (id.is_number() || id.is_string()).then_some(id)
}

/// MCP over stdin and stdout, one JSON-RPC message per line.
pub struct Stdio {
    inbox: mpsc::Receiver<ClientJsonRpcMessage>,
    out: Arc<Mutex<tokio::io::Stdout>>,
}

impl Stdio {
    pub fn start() -> Stdio {
        let out = Arc::new(Mutex::new(tokio::io::stdout()));
        let (to_handler, inbox) = mpsc::channel(16);
        tokio::spawn(read_lines(to_handler, out.clone()));
        Stdio { inbox, out }
    }
}

async fn write_line(out: &Mutex<tokio::io::Stdout>, mut line: Vec<u8>) -> std::io::Result<()> {
    line.push(b'\n');
    let mut out = out.lock().await;
    out.write_all(&line).await?;
    out.flush().await
}

async fn read_lines(to_handler: mpsc::Sender<ClientJsonRpcMessage>, out: Arc<Mutex<tokio::io::Stdout>>) {
    let mut reader = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut line).await;
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let reply = if line.len() > MAX_LINE_BYTES && line.last() != Some(&b'\n') {
            // Skip the rest of the oversized line before answering it.
            let mut rest = Vec::new();
            loop {
                rest.clear();
                match (&mut reader).take(64 * 1024).read_until(b'\n', &mut rest).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) if rest.last() == Some(&b'\n') => break,
                    Ok(_) => {}
                }
            }
            let id = leading_id(&line).unwrap_or(Value::Null);
            Decoded::Reply(error(id, -32600, format!("message over {MAX_LINE_BYTES} bytes")))
        } else {
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            decode(text)
        };
        match reply {
            Decoded::Message(message) => {
                if to_handler.send(*message).await.is_err() {
                    return;
                }
            }
            Decoded::Reply(value) => {
                if write_line(&out, value.to_string().into_bytes()).await.is_err() {
                    return;
                }
            }
            Decoded::Ignore => {}
        }
    }
}

impl Transport<RoleServer> for Stdio {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let out = self.out.clone();
        async move {
            let line = serde_json::to_vec::<ServerJsonRpcMessage>(&item).map_err(std::io::Error::other)?;
            write_line(&out, line).await
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        self.inbox.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inbox.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(bytes: &str) -> Value {
        match decode(bytes.as_bytes()) {
            Decoded::Reply(value) => value,
            other => panic!("{bytes}: {other:?}"),
        }
    }

    #[test]
    fn malformed_input_gets_the_json_rpc_error_codes() {
        let parse = reply("this is not json");
        assert_eq!((parse["error"]["code"].as_i64(), &parse["id"]), (Some(-32700), &Value::Null));
        let params = reply(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"nme":"x"}}"#);
        assert_eq!((params["error"]["code"].as_i64(), params["id"].as_i64()), (Some(-32602), Some(3)));
        let string = reply(r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":"str"}"#);
        assert_eq!((string["error"]["code"].as_i64(), string["id"].as_str()), (Some(-32602), Some("a")));
        let array = reply("[1, 2]");
        assert_eq!(array["error"]["code"].as_i64(), Some(-32600));
    }

    #[test]
    fn an_oversized_line_is_answered_with_its_id() {
        assert_eq!(leading_id(br#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"#), Some(json!(42)));
        assert_eq!(leading_id(br#"{"id": "a-1", "jsonrpc":"2.0""#), Some(json!("a-1")));
        assert_eq!(leading_id(br#"{"jsonrpc":"2.0","method":"x","params":{"#), None);
    }

    #[test]
    fn good_messages_and_unknown_methods_reach_the_handler() {
        for text in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"s3_get_object","arguments":{}}}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"nosuch"}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"tasks/list","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"ping","params":{}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        ] {
            assert!(matches!(decode(text.as_bytes()), Decoded::Message(_)), "{text}");
        }
    }
}
