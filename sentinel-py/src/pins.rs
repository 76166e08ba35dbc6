//! `ToolPins`: the core's tool pinning (rug pulls `MCP-001`, shadowing `MCP-002`), shared
//! between threads and passed to `Engine.scan_message(..., pins=...)`.

use crate::errors::pins_error;
use mcp_threatscan::ToolPins;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

/// The definition of each tool of each MCP server, as first seen.
///
/// Pass it to `Engine.scan_message(result, "response", method="tools/list", server=...,
/// pins=pins)`: a tool whose definition changed since it was pinned is reported (``MCP-001``,
/// a rug pull), and so is a tool name another server already offers (``MCP-002``). A pin is the
/// SHA-256 of the definition in canonical JSON. Safe to share between threads; `load` and
/// `save` keep pins across sessions.
#[pyclass(frozen, name = "ToolPins", module = "mcp_threatscan")]
pub struct PyToolPins {
    pub(crate) inner: Arc<ToolPins>,
}

#[pymethods]
impl PyToolPins {
    /// No pins.
    #[new]
    fn new() -> Self {
        PyToolPins { inner: Arc::new(ToolPins::new()) }
    }

    /// Pins from a file written by `save` (no pins when the file does not exist). Raises
    /// `PinsError` when it cannot be read or parsed.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        match py.detach(|| ToolPins::load(&path)) {
            Ok(pins) => Ok(PyToolPins { inner: Arc::new(pins) }),
            Err(e) => Err(pins_error(py, &e)),
        }
    }

    /// Writes the pins to ``path`` atomically, merged with pins another process wrote there.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let pins = self.inner.clone();
        py.detach(move || pins.save(&path)).map_err(|e| pins_error(py, &e))
    }

    /// Removes the pin of one tool (to accept its new definition), or of every tool of the
    /// server when ``tool`` is ``None``. Returns whether anything was removed.
    #[pyo3(signature = (server, tool=None))]
    fn forget(&self, server: &str, tool: Option<&str>) -> bool {
        self.inner.forget(server, tool)
    }

    /// The pinned SHA-256 (hex) of a tool's definition, or ``None``.
    fn pinned(&self, server: &str, tool: &str) -> Option<String> {
        self.inner.pinned(server, tool)
    }

    /// True when pins were added or removed since the last `load` or `save`.
    #[getter]
    fn dirty(&self) -> bool {
        self.inner.is_dirty()
    }

    fn __repr__(&self) -> String {
        format!("ToolPins(dirty={})", if self.inner.is_dirty() { "True" } else { "False" })
    }
}
