//! `Session`: the core's MCP session for Python hosts and gateways that relay a connection.

use crate::engine::{guarded, message_outcome, OnError, PyEngine, Ready};
use crate::errors::type_error;
use crate::input::{classify, is_dict_or_list, parse_message};
use crate::pins::PyToolPins;
use crate::verdict::PyVerdict;
use mcp_threatscan::{Direction, Peer, Session};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::str::FromStr;

/// One MCP connection that a host, proxy or gateway relays: the requests each side sent that
/// await an answer, the server's identity and its tool pins.
///
/// A response does not say which request it answers; the session does, so that a
/// ``tools/call`` result is scanned as the output of the tool that was called and a
/// ``tools/list`` result is checked against ``pins``. ``server`` names the server until it
/// reports its own name in its answer to ``initialize`` (then the pins kept under ``server``
/// move to that name), or for good with ``named=True``. Safe to share between threads.
#[pyclass(frozen, name = "Session", module = "mcp_threatscan")]
pub struct PySession {
    inner: Session,
}

fn peer(sender: &str) -> PyResult<Peer> {
    Peer::from_str(sender).map_err(|e| PyValueError::new_err(e.to_string()))
}

#[pymethods]
impl PySession {
    #[new]
    #[pyo3(signature = (engine, server, *, pins=None, named=false))]
    fn new(engine: &Bound<'_, PyEngine>, server: String, pins: Option<Bound<'_, PyToolPins>>, named: bool) -> Self {
        let mut inner = Session::new(engine.get().engine.clone(), server);
        if let Some(pins) = pins {
            inner = inner.with_pins(pins.get().inner.clone());
        }
        if named {
            inner = inner.named();
        }
        PySession { inner }
    }

    /// Scans one message (a ``dict`` / ``list``, or its JSON text as ``str`` or ``bytes``) sent
    /// by ``sender`` (``"client"`` or ``"server"``), as a relay that follows verdicts does: a
    /// response as the answer to its request, a request that is not blocked remembered for its
    /// response, a batch element by element.
    ///
    /// Message text that is not JSON raises ``EventError`` (``line``, ``column`` and the
    /// fail-mode ``verdict``); ``errors="verdict"`` returns that verdict instead.
    #[pyo3(signature = (message, sender, *, errors="raise"))]
    fn scan(&self, py: Python<'_>, message: &Bound<'_, PyAny>, sender: &str, errors: &str) -> PyResult<PyVerdict> {
        let on_error = OnError::parse(errors)?;
        let from = peer(sender)?;
        guarded(py, || {
            let Some(raw) = classify(message, is_dict_or_list) else {
                return Err(type_error("message", "a dict or list, or JSON text as str or bytes", message));
            };
            let ready = Ready::from_raw(raw);
            let session = &self.inner;
            let result = py.detach(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    let bad = match ready {
                        Ready::Value(value) => return Ok(session.scan(from, &value)),
                        Ready::Text(bytes) => match parse_message(&bytes) {
                            Ok(parsed) => return Ok(session.scan_parsed(from, &parsed.value, &parsed.duplicates)),
                            Err(bad) => bad,
                        },
                        Ready::Bad(bad) => bad,
                    };
                    let reason = bad.problem(None).message;
                    let verdict =
                        session.engine().message_failure_verdict(format_args!("{reason}"), Direction::Request, None);
                    Err(Box::new((bad, verdict)))
                }))
            });
            message_outcome(py, result, on_error)
        })
    }

    /// The server's identity now: the name it reported, or the one the session began with.
    #[getter]
    fn server(&self) -> String {
        self.inner.server().to_string()
    }

    /// How many requests ``sender`` (``"client"`` or ``"server"``) sent that await an answer.
    fn pending(&self, sender: &str) -> PyResult<usize> {
        Ok(self.inner.pending(peer(sender)?))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Session(server={}, pending_client={}, pending_server={})",
            crate::output::quoted(py, &self.inner.server()),
            self.inner.pending(Peer::Client),
            self.inner.pending(Peer::Server)
        )
    }
}
