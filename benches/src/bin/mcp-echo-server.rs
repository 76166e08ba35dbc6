//! A minimal MCP server on stdio for the proxy benchmark (`benches/proxy.rs`): it answers
//! `initialize` and echoes each `tools/call`'s `arguments.text` back as text content, one line
//! in, one line out, flushed at once. It does as little as a server can, so that what the
//! benchmark measures on top of it is the proxy.

use serde_json::{json, Value};
use std::io::{self, BufRead, Write};

fn main() -> io::Result<()> {
    let stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    for line in stdin.lines() {
        let line = line?;
        let Ok(request) = serde_json::from_str::<Value>(&line) else { continue };
        let Some(id) = request.get("id") else { continue }; // a notification
        let result = match request.get("method").and_then(Value::as_str) {
            Some("initialize") => json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "mcp-echo-server", "version": "1.0"},
            }),
            Some("tools/call") => {
                let text = request.pointer("/params/arguments/text").and_then(Value::as_str).unwrap_or("");
                json!({"content": [{"type": "text", "text": text}], "isError": false})
            }
            _ => json!({}),
        };
        serde_json::to_writer(&mut stdout, &json!({"jsonrpc": "2.0", "id": id, "result": result}))?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    Ok(())
}
