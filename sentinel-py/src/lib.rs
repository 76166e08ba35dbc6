//! # sentinel-py: the Sentinel engine in Python (`mcp_threatscan`)
//!
//! **What it is for.** Python MCP servers, gateways and guardrail stacks call
//! `mcp_threatscan.Engine.scan` in-process, in microseconds, instead of a Python regex loop or a
//! model: same rules, same verdicts as the `sentinel` command and every other binding.
//!
//! ```python
//! from mcp_threatscan import Engine
//!
//! engine = Engine()                       # built-in rules; build once, share between threads
//! verdict = engine.scan({"timestamp": "2024-01-15T14:31:00Z", "user": "bob", "agent": "AssistantBot",
//!                        "tool": "os_shell", "prompt": "Run whoami command", "response": "user123"})
//! assert verdict.blocked and verdict.findings[0].rule == "DT-001"
//! ```
//!
//! **How it stays thin.** This crate converts types, releases the GIL while the core scans,
//! and maps errors to the package's exceptions (defined in `python/mcp_threatscan/_errors.py`).
//! It holds no detection logic, no rule parsing and no global state: `Engine` is a frozen
//! Python class around `mcp_threatscan::Engine` (an `Arc` inside), `Verdict` and `Finding` wrap
//! the core's types and expose their JSON form (`to_dict()` / `to_json()`) unchanged.
//!
//! Modules: [`engine`] (the `Engine` class and its options), [`input`] (Python objects to
//! events and JSON), [`output`] (JSON values to Python objects), [`verdict`] (`Verdict`,
//! `Finding`, `MessageInfo`), [`rules`] (`Rule`), [`pins`] (`ToolPins`), [`session`]
//! (`Session`), [`errors`] (exception mapping).

use pyo3::prelude::*;

pub mod engine;
pub mod errors;
pub mod input;
pub mod output;
pub mod pins;
pub mod rules;
pub mod session;
pub mod verdict;

/// The native module `mcp_threatscan._sentinel`; `mcp_threatscan` re-exports its classes.
///
/// `gil_used = false`: nothing here relies on the GIL for thread safety (the engine is
/// immutable and `Sync`, tool pins lock internally), so free-threaded Python may load it
/// without re-enabling the GIL.
#[pymodule(gil_used = false)]
#[pyo3(name = "_sentinel")]
fn sentinel_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<engine::PyEngine>()?;
    m.add_class::<verdict::PyVerdict>()?;
    m.add_class::<verdict::PyFinding>()?;
    m.add_class::<verdict::PyMessageInfo>()?;
    m.add_class::<rules::PyRule>()?;
    m.add_class::<pins::PyToolPins>()?;
    m.add_class::<session::PySession>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
