//! `ToolPins`: the core's tool pinning (rug pulls `MCP-001`, shadowing `MCP-002`).

use crate::errors::pins_error;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;

/// The definition of each tool of each MCP server, as first seen.
///
/// Pass it to `engine.scanMessage(result, 'response', { method: 'tools/list', server, pins })`
/// or to a `Session`: a tool whose definition changed since it was pinned is reported
/// (`MCP-001`, a rug pull), and so is a tool name another server already offers (`MCP-002`).
/// A pin is the SHA-256 of the definition in canonical JSON. `load` and `save` keep pins
/// across runs.
#[napi]
pub struct ToolPins {
    pub(crate) inner: Arc<mcp_threatscan::ToolPins>,
}

#[napi]
impl ToolPins {
    /// No pins.
    #[napi(constructor)]
    pub fn new() -> Self {
        ToolPins { inner: Arc::new(mcp_threatscan::ToolPins::new()) }
    }

    /// Pins from a file written by `save` (none when the file does not exist). Throws
    /// `SENTINEL_PINS_ERROR` when it cannot be read or parsed.
    #[napi(factory, catch_unwind)]
    pub fn load(env: Env, path: String) -> Result<Self> {
        match mcp_threatscan::ToolPins::load(&path) {
            Ok(pins) => Ok(ToolPins { inner: Arc::new(pins) }),
            Err(e) => Err(pins_error(&e).into_error(&env)),
        }
    }

    /// Writes the pins to `path` atomically, merged with pins another process wrote there.
    #[napi(catch_unwind)]
    pub fn save(&self, env: Env, path: String) -> Result<()> {
        self.inner.save(&path).map_err(|e| pins_error(&e).into_error(&env))
    }

    /// Removes the pin of one tool (to accept its new definition), or of every tool of the
    /// server when `tool` is not given. Whether anything was removed.
    #[napi]
    pub fn forget(&self, server: String, tool: Option<String>) -> bool {
        self.inner.forget(&server, tool.as_deref())
    }

    /// The pinned SHA-256 (hex) of a tool's definition, or `null`.
    #[napi]
    pub fn pinned(&self, server: String, tool: String) -> Option<String> {
        self.inner.pinned(&server, &tool)
    }

    /// True when pins were added or removed since the last `load` or `save`.
    #[napi(getter)]
    pub fn dirty(&self) -> bool {
        self.inner.is_dirty()
    }
}

impl Default for ToolPins {
    fn default() -> Self {
        ToolPins::new()
    }
}
