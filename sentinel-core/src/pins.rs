//! Tool pinning: each server's tool definitions as first seen, to report a definition that
//! changed (a rug pull) and a tool name another server already offers (shadowing).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;

/// Tool pinning: the definition of each tool of each server, as first seen, to report a
/// definition that changed later (a rug pull, `MCP-001`) and a tool name that another server
/// already offers (tool shadowing, `MCP-002`).
///
/// A pin is the SHA-256 of the tool's definition in canonical JSON (keys sorted, no spaces), so
/// reordered keys are not a change. Scanning a `tools/list` pins a new tool only when its
/// definition has no finding that blocks ([`Engine::action_for_finding`](crate::Engine::action_for_finding)) and was scanned
/// whole: a poisoned definition is not the reference its fixed version is compared with. Pins are kept as they were first seen: a changed tool is
/// reported every time until its pin is removed ([`ToolPins::forget`], or by editing the file).
/// Shared between threads; [`ToolPins::load`] and [`ToolPins::save`] keep pins across sessions.
#[derive(Debug, Default)]
pub struct ToolPins {
    state: Mutex<PinState>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PinState {
    /// Server → tool → SHA-256 of the definition, hex.
    servers: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(skip)]
    dirty: bool,
    /// Servers whose pins moved to another key ([`ToolPins::rekey`]): removed from the file
    /// at the next save, not merged back from it.
    #[serde(skip)]
    retired: BTreeSet<String>,
}

/// What checking one tool definition against the pins found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinCheck {
    /// The SHA-256 of the definition seen now, hex.
    pub hash: String,
    /// The pinned hash, when the definition is not the pinned one.
    pub changed_from: Option<String>,
    /// Other servers that offer a tool of the same name.
    pub shadows: Vec<String>,
    /// The tool was not pinned before (it is now).
    pub new: bool,
}

/// Tool pins that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The pins file could not be read or written.
    #[error("tool pins {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The pins file is not a pins document.
    #[error("tool pins {path}: line {line}, column {column}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// Line of the error (1-based).
        line: usize,
        /// Column of the error (1-based).
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl ToolPins {
    /// No pins.
    pub fn new() -> ToolPins {
        ToolPins::default()
    }

    /// Pins from a file written by [`ToolPins::save`]; no pins when the file does not exist.
    pub fn load(path: impl AsRef<Path>) -> Result<ToolPins, PinError> {
        let path = path.as_ref();
        Ok(ToolPins { state: Mutex::new(read_pins(path)?) })
    }

    /// Writes the pins to `path` (atomically: a temporary file renamed over it), merged with
    /// pins another process wrote there meanwhile (its pins of tools this one has not seen).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PinError> {
        let path = path.as_ref();
        let io = |source| PinError::Io { path: path.display().to_string(), source };
        let mut merged = read_pins(path)?;
        let mut state = self.lock();
        for server in &state.retired {
            merged.servers.remove(server);
        }
        for (server, tools) in &state.servers {
            let entry = merged.servers.entry(server.clone()).or_default();
            for (tool, hash) in tools {
                entry.entry(tool.clone()).or_insert_with(|| hash.clone());
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut text = serde_json::to_string_pretty(&merged).expect("pins serialise");
        text.push('\n');
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        merged.dirty = false;
        *state = merged;
        Ok(())
    }

    /// True when pins were added since the last load or save.
    pub fn is_dirty(&self) -> bool {
        self.lock().dirty
    }

    /// Checks a tool definition of `server` against the pins, and pins it if it is new.
    pub fn check(&self, server: &str, tool: &str, definition: &Value) -> PinCheck {
        let check = self.inspect(server, tool, definition);
        if check.new {
            self.pin(server, tool, check.hash.clone());
        }
        check
    }

    /// [`ToolPins::check`] without pinning a new tool (`new` then says it is not pinned).
    pub(crate) fn inspect(&self, server: &str, tool: &str, definition: &Value) -> PinCheck {
        let hash = definition_hash(definition);
        let state = self.lock();
        let shadows = state
            .servers
            .iter()
            .filter(|(s, tools)| s.as_str() != server && tools.contains_key(tool))
            .map(|(s, _)| s.clone())
            .collect();
        let mut check = PinCheck { hash, changed_from: None, shadows, new: false };
        match state.servers.get(server).and_then(|tools| tools.get(tool)) {
            Some(pinned) if *pinned != check.hash => check.changed_from = Some(pinned.clone()),
            Some(_) => {}
            None => check.new = true,
        }
        check
    }

    /// Pins a tool's definition hash, unless the tool is pinned already.
    pub(crate) fn pin(&self, server: &str, tool: &str, hash: String) {
        let mut state = self.lock();
        let tools = state.servers.entry(server.to_string()).or_default();
        if !tools.contains_key(tool) {
            tools.insert(tool.to_string(), hash);
            state.dirty = true;
        }
    }

    /// Removes the pin of one tool (to accept its new definition), or of every tool of the
    /// server when `tool` is `None`. Returns whether anything was removed.
    pub fn forget(&self, server: &str, tool: Option<&str>) -> bool {
        let mut state = self.lock();
        let removed = match tool {
            Some(t) => state.servers.get_mut(server).is_some_and(|tools| tools.remove(t).is_some()),
            None => state.servers.remove(server).is_some(),
        };
        state.dirty |= removed;
        removed
    }

    /// Moves the pins of server `from` to server `to` (tools `to` has pinned already keep
    /// their pin), and removes `from` from the pins file at the next [`ToolPins::save`].
    /// Returns whether `from` had pins. For a caller that changes how it names a server: the
    /// proxy moves the pins an earlier version kept under a server's command line to the name
    /// the server reports, so they do not all read as tools of another server (`MCP-002`).
    pub fn rekey(&self, from: &str, to: &str) -> bool {
        if from == to {
            return false;
        }
        let mut state = self.lock();
        let Some(old) = state.servers.remove(from) else { return false };
        let tools = state.servers.entry(to.to_string()).or_default();
        for (tool, hash) in old {
            tools.entry(tool).or_insert(hash);
        }
        state.retired.insert(from.to_string());
        state.dirty = true;
        true
    }

    /// The pinned hash of a tool.
    pub fn pinned(&self, server: &str, tool: &str) -> Option<String> {
        self.lock().servers.get(server)?.get(tool).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PinState> {
        // A panic while holding the lock cannot leave the map half-written (each operation is
        // one insert or remove), so a poisoned lock is still good to use.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn read_pins(path: &Path) -> Result<PinState, PinError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PinState::default()),
        Err(source) => return Err(PinError::Io { path: path.display().to_string(), source }),
    };
    serde_json::from_str(&text).map_err(|e| PinError::Parse {
        path: path.display().to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// SHA-256 of a JSON value in canonical form (object keys sorted, no whitespace), hex.
pub fn definition_hash(value: &Value) -> String {
    let mut hasher = Sha256::new();
    canonical(value, &mut hasher);
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

fn canonical(value: &Value, h: &mut Sha256) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            h.update(b"{");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    h.update(b",");
                }
                h.update(serde_json::to_string(key).expect("a string serialises").as_bytes());
                h.update(b":");
                canonical(&map[key], h);
            }
            h.update(b"}");
        }
        Value::Array(items) => {
            h.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    h.update(b",");
                }
                canonical(item, h);
            }
            h.update(b"]");
        }
        other => h.update(other.to_string().as_bytes()),
    }
}
