//! `Engine`: the core's engine as a frozen Python class. Options become a `Config`, packs go
//! to the builder, and every scan runs with the GIL released.

use crate::errors::{build_error, config_error, event_error, panic_error, type_error};
use crate::input::{classify, is_dict, is_dict_or_list, parse_message, to_value, BadInput, Raw};
use crate::output::serde_to_py;
use crate::pins::PyToolPins;
use crate::rules::PyRule;
use crate::verdict::PyVerdict;
use mcp_threatscan::{Config, Direction, Engine, Event, FailMode, MessageContext, Verdict};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyInt, PyList, PyString};
use rayon::prelude::*;
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::str::FromStr;

/// What to do with input that cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnError {
    /// Raise `EventError` (the default).
    Raise,
    /// Return the engine's fail-mode verdict (a `SYS-001` finding; blocked under
    /// `fail_closed`), as the `sentinel` command does.
    Verdict,
}

impl OnError {
    pub(crate) fn parse(s: &str) -> PyResult<OnError> {
        match s {
            "raise" => Ok(OnError::Raise),
            "verdict" => Ok(OnError::Verdict),
            other => Err(PyValueError::new_err(format!("errors must be 'raise' or 'verdict', not {other:?}"))),
        }
    }
}

/// Input converted under the GIL, ready to be parsed and scanned without it.
pub(crate) enum Ready {
    Text(Vec<u8>),
    Value(Value),
    Bad(BadInput),
}

impl Ready {
    pub(crate) fn from_raw(raw: Raw<'_>) -> Ready {
        match raw {
            Raw::Text(bytes) => Ready::Text(bytes),
            Raw::Data(obj) => match to_value(&obj) {
                Ok(value) => Ready::Value(value),
                Err(e) => Ready::Bad(BadInput::NotJson(e)),
            },
            Raw::Unencodable => Ready::Bad(BadInput::unencodable()),
        }
    }

    fn into_event(self) -> Result<Event, BadInput> {
        match self {
            Ready::Text(bytes) => Event::from_json(&bytes).map_err(BadInput::Event),
            Ready::Value(value) => Event::from_value(value).map_err(BadInput::Event),
            Ready::Bad(bad) => Err(bad),
        }
    }
}

/// A message scanned (`Ok(Ok)`), unreadable (`Ok(Err)`: why, and its fail-mode verdict) or
/// a panic caught (`Err`).
pub(crate) type MessageResult = std::thread::Result<Result<Verdict, Box<(BadInput, Verdict)>>>;

/// What a message scan gives Python: the verdict; for an unreadable message `EventError` (with
/// the fail-mode verdict) or, with `errors="verdict"`, that verdict; a `SentinelError` for a
/// panic.
pub(crate) fn message_outcome(py: Python<'_>, result: MessageResult, on_error: OnError) -> PyResult<PyVerdict> {
    match result {
        Ok(Ok(verdict)) => Ok(PyVerdict::from(verdict)),
        Ok(Err(failed)) => match on_error {
            OnError::Raise => Err(event_error(py, &failed.0.problem(None), failed.1)),
            OnError::Verdict => Ok(PyVerdict::from(failed.1)),
        },
        Err(payload) => Err(panic_error(py, payload)),
    }
}

/// Runs `f`, turning a panic into a `SentinelError` (the core does not panic on any input;
/// this boundary keeps a bug from surfacing as `PanicException`).
pub(crate) fn guarded<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(panic_error(py, payload)),
    }
}

/// The Sentinel engine: compiled rules and policy, immutable, safe to share between threads.
///
/// Build it once (the built-in pack of about 320 rules takes about 0.3 s) and
/// scan with it from any number of threads: every scan releases the GIL.
#[pyclass(frozen, name = "Engine", module = "mcp_threatscan")]
pub struct PyEngine {
    pub(crate) engine: Engine,
}

impl PyEngine {
    fn fail(&self, py: Python<'_>, bad: &BadInput, index: Option<usize>, on_error: OnError) -> PyResult<PyVerdict> {
        let verdict = bad.verdict(&self.engine);
        match on_error {
            OnError::Raise => Err(event_error(py, &bad.problem(index), verdict)),
            OnError::Verdict => Ok(PyVerdict::from(verdict)),
        }
    }
}

fn rule_sources(rules: &Bound<'_, PyAny>) -> PyResult<Vec<Pack>> {
    let one = |item: &Bound<'_, PyAny>, label: String| -> PyResult<Pack> {
        // The type says which: a `str` is TOML text, an `os.PathLike` a file. (Never the
        // content: a path with `=` in it, or a pack without one, must not be mistaken.)
        if let Ok(s) = item.cast::<PyString>() {
            return Ok(Pack::Toml(label, s.to_cow()?.into_owned()));
        }
        if item.hasattr("__fspath__")? {
            return Ok(Pack::File(item.extract::<PathBuf>()?));
        }
        Err(type_error("rules", "a path, TOML text, or a list of them", item))
    };
    if rules.is_instance_of::<PyList>() || rules.is_instance_of::<pyo3::types::PyTuple>() {
        let mut packs = Vec::new();
        for (i, item) in rules.try_iter()?.enumerate() {
            packs.push(one(&item?, format!("rules[{i}]"))?);
        }
        Ok(packs)
    } else {
        Ok(vec![one(rules, "rules".to_string())?])
    }
}

/// A user rule pack: TOML text (with the label errors name) or a file.
enum Pack {
    Toml(String, String),
    File(PathBuf),
}

/// An option given as a dict, in its JSON form.
fn from_data(py: Python<'_>, option: &str, data: &Bound<'_, PyAny>) -> PyResult<Value> {
    if !data.is_instance_of::<PyDict>() {
        return Err(type_error(option, "a dict", data));
    }
    to_value(data).map_err(|e| config_error(py, option, format!("at {}: {}", e.path, e.message)))
}

/// An integer option, in its JSON form (one that does not fit 64 bits as a float, which the
/// core refuses as it refuses a negative one).
fn integer(option: &str, value: Option<Bound<'_, PyAny>>) -> PyResult<Option<Value>> {
    let Some(value) = value.filter(|v| !v.is_none()) else { return Ok(None) };
    if !value.is_instance_of::<PyInt>() || value.is_instance_of::<PyBool>() {
        return Err(type_error(option, "an int", &value));
    }
    Ok(Some(match (value.extract::<u64>(), value.extract::<i64>()) {
        (Ok(n), _) => Value::from(n),
        (_, Ok(n)) => Value::from(n),
        _ => Value::from(value.extract::<f64>()?),
    }))
}

#[pymethods]
impl PyEngine {
    /// Builds an engine: the built-in rules (unless ``builtin_rules=False``), the packs in
    /// ``rules``, and the policy given by the other options. ``None`` means the default.
    ///
    /// ``rules`` is a rule pack or a list of them, applied in order: TOML text as a ``str``, or
    /// a file as an ``os.PathLike`` (``pathlib.Path``). The type decides, never the content. ``actions``
    /// maps severities to actions (``{"medium": "block"}``; unnamed severities keep the
    /// default: critical and high block, medium warns, low allows). ``tools`` and
    /// ``detectors`` take the core configuration's form: ``{"allow": [...], "deny": [...],
    /// "dangerous": [...]}`` (globs) and ``{"SEC-01": {"enabled": False, "severity_floor":
    /// "high", "severity_cap": "medium"}}``.
    ///
    /// Raises ``RuleError`` for a pack that cannot be read or is invalid (with ``rule_id``,
    /// ``source``, ``line``, ``position``), ``ConfigError`` for an invalid option value, and
    /// ``TypeError`` for an option of the wrong type.
    #[new]
    #[pyo3(signature = (
        profile=None, rules=None, actions=None, *, max_scan_bytes=None, max_prompt_chars=None,
        max_response_chars=None, fail_mode=None, scan_mimes=None, max_json_depth=None, tools=None,
        detectors=None, builtin_rules=true
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        profile: Option<String>,
        rules: Option<Bound<'_, PyAny>>,
        actions: Option<Bound<'_, PyAny>>,
        max_scan_bytes: Option<Bound<'_, PyAny>>,
        max_prompt_chars: Option<Bound<'_, PyAny>>,
        max_response_chars: Option<Bound<'_, PyAny>>,
        fail_mode: Option<String>,
        scan_mimes: Option<Vec<String>>,
        max_json_depth: Option<Bound<'_, PyAny>>,
        tools: Option<Bound<'_, PyAny>>,
        detectors: Option<Bound<'_, PyAny>>,
        builtin_rules: bool,
    ) -> PyResult<Self> {
        // Each option given is converted to its JSON form (a wrong Python type is a TypeError
        // here) and set by the core, which checks its value and names it in a ConfigError.
        let mut options: Vec<(&str, Value)> = Vec::new();
        options.extend(profile.map(|p| ("profile", Value::String(p))));
        options.extend(fail_mode.map(|f| ("fail_mode", Value::String(f))));
        if let Some(actions) = actions {
            let Ok(actions) = actions.cast::<PyDict>() else {
                return Err(type_error("actions", "a dict of severity names to action names", &actions));
            };
            let mut map = serde_json::Map::new();
            for (severity, action) in actions.iter() {
                let severity: String = severity.extract().map_err(|_| type_error("actions keys", "str", &severity))?;
                let action: String = action.extract().map_err(|_| type_error("actions values", "str", &action))?;
                map.insert(severity, Value::String(action));
            }
            options.push(("actions", Value::Object(map)));
        }
        for (name, value) in [
            ("max_scan_bytes", max_scan_bytes),
            ("max_prompt_chars", max_prompt_chars),
            ("max_response_chars", max_response_chars),
            ("max_json_depth", max_json_depth),
        ] {
            options.extend(integer(name, value)?.map(|v| (name, v)));
        }
        options.extend(scan_mimes.map(|m| ("scan_mimes", Value::from(m))));
        if let Some(tools) = tools {
            options.push(("tools", from_data(py, "tools", &tools)?));
        }
        if let Some(detectors) = detectors {
            options.push(("detectors", from_data(py, "detectors", &detectors)?));
        }
        let mut config = Config::default();
        for (name, value) in &options {
            config.set_option(name, value).map_err(|e| build_error(py, &e, None))?;
        }
        let packs = match rules {
            None => Vec::new(),
            Some(r) if r.is_none() => Vec::new(),
            Some(r) => rule_sources(&r)?,
        };
        let mut builder = Engine::builder().config(config);
        if !builtin_rules {
            builder = builder.without_builtin_rules();
        }
        // A one-line `str` that fails to build was most likely meant as a path: say how to
        // pass one.
        let one_line: Vec<String> = packs
            .iter()
            .filter_map(|p| match p {
                Pack::Toml(label, text) if !text.trim().contains('\n') => Some(label.clone()),
                _ => None,
            })
            .collect();
        for pack in packs {
            builder = match pack {
                Pack::Toml(label, text) => builder.rules_toml(&label, &text),
                Pack::File(path) => builder.rules_file(path),
            };
        }
        let built = py.detach(move || catch_unwind(AssertUnwindSafe(move || builder.build())));
        match built {
            Ok(Ok(engine)) => Ok(PyEngine { engine }),
            Ok(Err(e)) => {
                let note = e.source_name().is_some_and(|s| one_line.iter().any(|l| l == s)).then_some(
                    "a str given as rules is TOML text; to read a rule pack from a file, pass a pathlib.Path",
                );
                Err(build_error(py, &e, note))
            }
            Err(payload) => Err(panic_error(py, payload)),
        }
    }

    /// Scans one event: a ``dict``, or its JSON text as ``str`` or ``bytes``.
    ///
    /// Events follow shared/seeds/001: ``timestamp``, ``user``, ``agent``, ``tool``,
    /// ``prompt`` and ``response`` are required strings; ``metadata`` is optional JSON;
    /// ``id``, ``server``, ``session``, ``namespace``, ``cluster``, ``human`` are carried to
    /// the verdict; any other key is scanned like metadata.
    ///
    /// An event that cannot be read (invalid JSON, a missing or mistyped field, a value JSON
    /// cannot hold) raises ``EventError`` with ``field``, ``path``, ``line`` and ``column``,
    /// and the engine's fail-mode verdict in ``verdict``; with ``errors="verdict"`` that
    /// verdict is returned instead (a ``SYS-001`` finding, blocked under ``fail_closed``).
    /// An argument that is not a dict, str or bytes raises ``TypeError``.
    #[pyo3(signature = (event, *, errors="raise"))]
    fn scan(&self, py: Python<'_>, event: &Bound<'_, PyAny>, errors: &str) -> PyResult<PyVerdict> {
        let on_error = OnError::parse(errors)?;
        guarded(py, || {
            let Some(raw) = classify(event, is_dict) else {
                return Err(type_error("event", "a dict, or JSON text as str or bytes", event));
            };
            let ready = Ready::from_raw(raw);
            let engine = &self.engine;
            let result = py.detach(|| catch_unwind(AssertUnwindSafe(|| ready.into_event().map(|e| engine.scan(&e)))));
            match result {
                Ok(Ok(verdict)) => Ok(PyVerdict::from(verdict)),
                Ok(Err(bad)) => self.fail(py, &bad, None, on_error),
                Err(payload) => Err(panic_error(py, payload)),
            }
        })
    }

    /// Scans a batch of events (any iterable of what `scan` takes) in parallel on Rust
    /// threads, with the GIL released; returns the verdicts in input order.
    ///
    /// With ``errors="raise"`` (default) the first unreadable event (lowest index) raises
    /// ``EventError`` with its ``index`` and nothing is returned; with ``errors="verdict"``
    /// each unreadable event gets the fail-mode verdict in its place, as in the ``sentinel``
    /// command. An item that is not a dict, str or bytes raises ``TypeError``.
    #[pyo3(signature = (events, *, errors="raise"))]
    fn scan_many(&self, py: Python<'_>, events: &Bound<'_, PyAny>, errors: &str) -> PyResult<Vec<PyVerdict>> {
        let on_error = OnError::parse(errors)?;
        if events.is_instance_of::<PyString>()
            || events.is_instance_of::<PyBytes>()
            || events.is_instance_of::<PyByteArray>()
            || events.is_instance_of::<PyDict>()
        {
            return Err(type_error("events", "an iterable of events (use scan() for one event)", events));
        }
        guarded(py, || {
            let mut ready = Vec::new();
            for (i, item) in events.try_iter()?.enumerate() {
                let item = item?;
                let Some(raw) = classify(&item, is_dict) else {
                    return Err(type_error(&format!("events[{i}]"), "a dict, or JSON text as str or bytes", &item));
                };
                ready.push(Ready::from_raw(raw));
            }
            let engine = &self.engine;
            let parsed = py.detach(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    let parsed: Vec<Result<Event, BadInput>> = ready.into_par_iter().map(Ready::into_event).collect();
                    if on_error == OnError::Raise {
                        if let Some((i, Err(bad))) = parsed.iter().enumerate().find(|(_, p)| p.is_err()) {
                            return Err((i, bad.clone()));
                        }
                    }
                    Ok(parsed
                        .into_par_iter()
                        .map(|p| match p {
                            Ok(event) => engine.scan(&event),
                            Err(bad) => bad.verdict(engine),
                        })
                        .collect::<Vec<Verdict>>())
                }))
            });
            match parsed {
                Ok(Ok(verdicts)) => Ok(verdicts.into_iter().map(PyVerdict::from).collect()),
                Ok(Err((i, bad))) => self.fail(py, &bad, Some(i), OnError::Raise).map(|_| Vec::new()),
                Err(payload) => Err(panic_error(py, payload)),
            }
        })
    }

    /// Scans one MCP JSON-RPC message (a request, notification, result or error, or a batch
    /// of them): a ``dict`` / ``list``, or its JSON text as ``str`` or ``bytes``.
    ///
    /// ``direction`` is ``"request"`` (anything with a ``method``) or ``"response"``. For a
    /// response, ``method`` names the method of the request it answers (a response does not
    /// carry it) and ``tool`` the tool of a ``tools/call``; ``server`` is named in the verdict
    /// and keys the ``pins`` (`ToolPins`) that ``tools/list`` results are checked against.
    ///
    /// Message text that is not JSON raises ``EventError`` (``line``, ``column``, and the
    /// fail-mode ``verdict``); ``errors="verdict"`` returns that verdict instead.
    #[pyo3(signature = (message, direction, *, method=None, tool=None, server=None, pins=None, errors="raise"))]
    #[allow(clippy::too_many_arguments)]
    fn scan_message(
        &self,
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        direction: String,
        method: Option<String>,
        tool: Option<String>,
        server: Option<String>,
        pins: Option<Bound<'_, PyToolPins>>,
        errors: &str,
    ) -> PyResult<PyVerdict> {
        let on_error = OnError::parse(errors)?;
        let direction = Direction::from_str(&direction).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let pins = pins.map(|p| p.get().inner.clone());
        guarded(py, || {
            let Some(raw) = classify(message, is_dict_or_list) else {
                return Err(type_error("message", "a dict or list, or JSON text as str or bytes", message));
            };
            let ready = Ready::from_raw(raw);
            let engine = &self.engine;
            let context = MessageContext {
                method: method.as_deref(),
                tool: tool.as_deref(),
                server: server.as_deref(),
                pins: pins.as_deref(),
                ..MessageContext::default()
            };
            let result = py.detach(|| {
                catch_unwind(AssertUnwindSafe(|| match ready {
                    Ready::Value(value) => Ok(engine.scan_message_in(&value, direction, &context)),
                    Ready::Text(bytes) => match parse_message(&bytes) {
                        Ok(parsed) => {
                            let context = MessageContext { duplicates: &parsed.duplicates, ..context };
                            Ok(engine.scan_message_in(&parsed.value, direction, &context))
                        }
                        Err(bad) => Err(Box::new((bad, engine.scan_message_json(&bytes, direction, &context)))),
                    },
                    Ready::Bad(bad) => {
                        let reason = bad.problem(None).message;
                        let verdict =
                            engine.message_failure_verdict(format_args!("{reason}"), direction, context.method);
                        Err(Box::new((bad, verdict)))
                    }
                }))
            });
            message_outcome(py, result, on_error)
        })
    }

    /// The rule catalogue: every rule, enabled or not, in pack order, as `Rule` objects.
    fn rules(&self) -> Vec<PyRule> {
        self.engine.rules().map(PyRule::from).collect()
    }

    /// One rule by its code, or ``None``.
    fn rule(&self, id: &str) -> Option<PyRule> {
        self.engine.rule(id).map(PyRule::from)
    }

    /// Every detector as a dict (``code``, ``name``, ``category``, ``description``,
    /// ``profile``, ``enabled``), in registration order.
    fn detectors<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.engine
            .detectors()
            .map(|(info, enabled)| {
                let d = PyDict::new(py);
                d.set_item("code", &info.code)?;
                d.set_item("name", &info.name)?;
                d.set_item("category", &info.category)?;
                d.set_item("description", &info.description)?;
                d.set_item("profile", info.profile.as_str())?;
                d.set_item("enabled", enabled)?;
                Ok(d.into_any())
            })
            .collect()
    }

    /// The configuration the engine was built with, in the core's serde form (the form of
    /// the ``sentinel --config`` TOML file).
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, self.engine.config())
    }

    fn __repr__(&self) -> String {
        let config = self.engine.config();
        let (total, enabled) = self.engine.rules().fold((0, 0), |(t, e), r| (t + 1, e + usize::from(r.enabled())));
        format!(
            "Engine(profile='{}', rules={total} ({enabled} enabled), fail_mode='{}')",
            config.profile.as_str(),
            match config.fail_mode {
                FailMode::Closed => "fail_closed",
                FailMode::Open => "fail_open",
            }
        )
    }
}
