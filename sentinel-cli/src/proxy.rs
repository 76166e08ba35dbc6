//! `sentinel proxy`: a stdio MCP proxy that blocks threats.
//!
//! **What it is for.** One line in an MCP host's configuration puts Sentinel in front of any
//! stdio MCP server: the host starts `sentinel proxy -- <server command>` instead of the
//! server. The proxy spawns the server and relays newline-delimited JSON-RPC both ways; every
//! message is scanned with [`Engine::scan_message_with`] on the way.
//!
//! Decisions, per message:
//! - allow: the line is forwarded byte for byte;
//! - warn: forwarded byte for byte, and logged;
//! - block: not forwarded. A request (or a response's request) with an id is answered with a
//!   JSON-RPC error, code [`BLOCKED`], naming the detector, severity and reason, with the
//!   verdict in `error.data.sentinel` (or, with `--block-style tool-error`, a `tools/call`
//!   result with `isError: true`). A blocked notification is dropped and logged.
//!
//! Lines that are not JSON: under `fail_closed` (the default) they are not forwarded and are
//! logged; the host is told with a JSON-RPC parse error (-32700, id null). Under `fail_open`
//! they are forwarded and logged. Blank lines carry nothing and are ignored.
//!
//! Lifecycle: when the host closes the proxy's stdin (or signals the proxy), the server's stdin
//! is closed; after the grace period it gets SIGTERM, after another grace period SIGKILL (its
//! whole process group, so that `npx`/`uvx` launchers and their children go too). When the
//! server exits, every request still waiting for its answer gets an error ([`SERVER_GONE`]) and
//! the proxy exits with the server's status (128 + the signal when it was killed by one).

use crate::args::{BlockStyle, ProxyArgs};
use crate::settings::{self, SetupError};
use sentinel_core::{Action, Direction, Engine, MessageContext, Scratch, Severity, ToolPins, Verdict};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// JSON-RPC error code of a message blocked by Sentinel.
/// (Implementation-defined server errors are -32000 to -32099; -32000 and -32001 are taken by
/// the MCP SDKs for a closed connection and a request timeout, -32002 by MCP's "resource not
/// found", -32042 by its URL elicitation.)
pub(crate) const BLOCKED: i64 = -32051;
/// JSON-RPC error code for a request the server exited without answering.
pub(crate) const SERVER_GONE: i64 = -32052;
/// How long the proxy drains the server's stdout after the server exited, before it stops the
/// processes the server left holding it.
const DRAIN: Duration = Duration::from_millis(300);
/// JSON-RPC error code for a line that is not JSON (the JSON-RPC "Parse error").
pub(crate) const PARSE_ERROR: i64 = -32700;
/// JSON-RPC "Invalid Request" (an empty batch).
pub(crate) const INVALID_REQUEST: i64 = -32600;
/// Exit code when the server cannot be started (as a shell's "command not found").
const EXIT_SPAWN: u8 = 127;

/// Everything the proxy's threads share.
struct Proxy {
    engine: Engine,
    server: String,
    block_style: BlockStyle,
    log_json: bool,
    verbose: bool,
    pins: Option<(ToolPins, PathBuf)>,
    host_out: Mutex<io::Stdout>,
    server_in: Mutex<Option<BufWriter<ChildStdin>>>,
    /// Host requests the server has not answered yet: id (as JSON text) → method, tool.
    pending_host: Mutex<HashMap<String, (String, Option<String>)>>,
    /// Server requests the host has not answered yet: id (as JSON text) → method.
    pending_server: Mutex<HashMap<String, String>>,
    audit: Option<Mutex<BufWriter<File>>>,
    shutting_down: AtomicBool,
    exited: AtomicBool,
    /// The host stopped reading the proxy's stdout.
    host_gone: AtomicBool,
    pid: u32,
    grace: Duration,
    /// The proxy itself, for the threads that shutdown starts.
    me: std::sync::OnceLock<std::sync::Weak<Proxy>>,
}

/// Where a message comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Host,
    Server,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Host => Side::Server,
            Side::Server => Side::Host,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Side::Host => "host",
            Side::Server => "server",
        }
    }
}

/// Locks a mutex; the proxy's locks guard plain data that a panic cannot leave half-written.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the proxy; returns the exit code.
pub(crate) fn run(args: ProxyArgs) -> u8 {
    match setup(&args) {
        Ok((engine, options)) => serve(engine, options, &args.command),
        Err(e) => {
            crate::report(format_args!("{e}"));
            crate::EXIT_ERROR
        }
    }
}

/// The proxy's settings beyond the engine.
struct Options {
    block_style: BlockStyle,
    log_json: bool,
    verbose: bool,
    grace: Duration,
    audit: Option<PathBuf>,
    pins: Option<PathBuf>,
    server: Option<String>,
}

/// Reads an environment variable; empty counts as unset.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Result<Option<T>, SetupError>
where
    T::Err: std::fmt::Display,
{
    match env(name) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|e: T::Err| SetupError::Env {
            name: name.to_string(),
            value: v.clone(),
            message: e.to_string(),
        }),
    }
}

fn env_flag(name: &str) -> bool {
    env(name).is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// The engine and options: flags over `SENTINEL_MCP_*` over `SENTINEL_HOOK_*` over defaults
/// (shared/seeds/003).
fn setup(args: &ProxyArgs) -> Result<(Engine, Options), SetupError> {
    let mut config = settings::config(&args.engine)?;
    for (severity, flag, name) in [
        (Severity::Critical, args.engine.on_critical, "CRITICAL"),
        (Severity::High, args.engine.on_high, "HIGH"),
        (Severity::Medium, args.engine.on_medium, "MEDIUM"),
        (Severity::Low, args.engine.on_low, "LOW"),
    ] {
        if flag.is_none() {
            let action = match env_parse::<Action>(&format!("SENTINEL_MCP_ON_{name}"))? {
                Some(a) => Some(a),
                None => env_parse::<Action>(&format!("SENTINEL_HOOK_ON_{name}"))?,
            };
            if let Some(action) = action {
                config.actions.set(severity, action);
            }
        }
    }
    if args.engine.profile.is_none() {
        if let Some(profile) = env_parse("SENTINEL_MCP_DETECTORS")? {
            config.profile = profile;
        }
    }
    if args.engine.max_scan_bytes.is_none() {
        if let Some(n) = env_parse("SENTINEL_MCP_MAX_SCAN_BYTES")? {
            config.limits.max_scan_bytes = n;
        }
    }
    if let Some(list) = args.scan_mimes.clone().or_else(|| env("SENTINEL_MCP_SCAN_MIMES")) {
        config.mcp.scan_mimes = sentinel_core::McpConfig::parse_mimes(&list);
    }
    let grace = match args.timeout {
        Some(s) => s,
        None => env_parse("SENTINEL_MCP_TIMEOUT_SEC")?.unwrap_or(5.0),
    };
    if !(grace.is_finite() && grace >= 0.0) {
        return Err(SetupError::Env {
            name: "--timeout".into(),
            value: grace.to_string(),
            message: "the grace period must be a number of seconds, 0 or more".into(),
        });
    }
    let pins = if args.no_pins {
        None
    } else {
        args.pins.clone().or_else(|| env("SENTINEL_MCP_PINS").map(PathBuf::from)).or_else(default_pins_path)
    };
    let mut builder = Engine::builder().config(config);
    for pack in &args.engine.rules {
        builder = builder.rules_file(pack);
    }
    let engine = builder.build().map_err(SetupError::Build)?;
    Ok((
        engine,
        Options {
            block_style: args.block_style,
            log_json: args.log_json || env_flag("SENTINEL_MCP_LOG_JSON"),
            verbose: args.verbose || env_flag("SENTINEL_HOOK_VERBOSE"),
            grace: Duration::from_secs_f64(grace),
            audit: args.audit.clone(),
            pins,
            server: args.server_name.clone(),
        },
    ))
}

/// `$XDG_STATE_HOME/sentinel/tool-pins.json`, else `~/.local/state/sentinel/tool-pins.json`.
fn default_pins_path() -> Option<PathBuf> {
    let state = env("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".local").join("state")))?;
    Some(state.join("sentinel").join("tool-pins.json"))
}

fn serve(engine: Engine, options: Options, command: &[OsString]) -> u8 {
    let server = options
        .server
        .clone()
        .unwrap_or_else(|| command.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" "));
    let pins = match &options.pins {
        Some(path) => match ToolPins::load(path) {
            Ok(pins) => Some((pins, path.clone())),
            Err(e) => {
                crate::report(format_args!("{e}"));
                return crate::EXIT_ERROR;
            }
        },
        None => None,
    };
    let audit = match &options.audit {
        Some(path) => match std::fs::OpenOptions::new().create(true).append(true).open(path) {
            Ok(f) => Some(Mutex::new(BufWriter::new(f))),
            Err(e) => {
                crate::report(format_args!("cannot open the audit file {}: {e}", path.display()));
                return crate::EXIT_ERROR;
            }
        },
        None => None,
    };

    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        cmd.process_group(0);
    }
    let mut child: Child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            crate::report(format_args!("cannot start the MCP server {:?}: {e}", command[0]));
            return EXIT_SPAWN;
        }
    };
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        crate::report(format_args!("the MCP server's stdio could not be piped"));
        let _ = child.kill();
        return crate::EXIT_ERROR;
    };
    let proxy = Arc::new(Proxy {
        engine,
        server,
        block_style: options.block_style,
        log_json: options.log_json,
        verbose: options.verbose,
        pins,
        host_out: Mutex::new(io::stdout()),
        server_in: Mutex::new(Some(BufWriter::new(stdin))),
        pending_host: Mutex::new(HashMap::new()),
        pending_server: Mutex::new(HashMap::new()),
        audit,
        shutting_down: AtomicBool::new(false),
        exited: AtomicBool::new(false),
        host_gone: AtomicBool::new(false),
        pid: child.id(),
        grace: options.grace,
        me: std::sync::OnceLock::new(),
    });
    let _ = proxy.me.set(Arc::downgrade(&proxy));

    #[cfg(unix)]
    watch_signals(&proxy);
    {
        let proxy = proxy.clone();
        std::thread::Builder::new()
            .name("host-reader".into())
            .spawn(move || {
                relay(&proxy, Side::Host, io::stdin().lock());
                proxy.log_event("host_disconnect", "the host closed the proxy's stdin; stopping the server");
                shutdown(&proxy);
            })
            .expect("spawn the host reader");
    }
    // The server's stdout and the server's exit are watched apart: a process the server
    // started can keep its stdout open after the server is gone.
    let (events, done) = std::sync::mpsc::channel::<Option<u8>>();
    {
        let (proxy, events) = (proxy.clone(), events.clone());
        std::thread::Builder::new()
            .name("server-reader".into())
            .spawn(move || {
                relay(&proxy, Side::Server, BufReader::new(stdout));
                let _ = events.send(None);
            })
            .expect("spawn the server reader");
    }
    std::thread::Builder::new()
        .name("server-waiter".into())
        .spawn(move || {
            let code = match child.wait() {
                Ok(s) => exit_code(s),
                Err(e) => {
                    crate::report(format_args!("cannot wait for the MCP server: {e}"));
                    crate::EXIT_ERROR
                }
            };
            let _ = events.send(Some(code));
        })
        .expect("spawn the server waiter");
    let mut stdout_closed = false;
    let code = loop {
        match done.recv() {
            Ok(Some(code)) => break code,
            Ok(None) => stdout_closed = true,
            Err(_) => break crate::EXIT_ERROR,
        }
    };
    proxy.exited.store(true, Ordering::SeqCst);
    if !stdout_closed {
        // Give what the server wrote before it exited time to be relayed; then stop whatever
        // of its process group still holds its stdout.
        if done.recv_timeout(DRAIN).is_err() {
            proxy
                .log_event("server_exit", "the server exited but its stdout is still open: stopping its process group");
            kill_group(proxy.pid);
            let _ = done.recv_timeout(DRAIN);
        }
    }
    // Requests the server will never answer.
    let pending: Vec<(String, (String, Option<String>))> = lock(&proxy.pending_host).drain().collect();
    for (id, (method, _)) in pending {
        let id: Value = serde_json::from_str(&id).unwrap_or(Value::Null);
        let message = format!("MCP server exited before answering {method} (exit status {code})");
        proxy.send(Side::Host, &error_response(&id, SERVER_GONE, &message, None));
    }
    proxy.log_event("server_exit", &format!("the MCP server exited with status {code}"));
    if let Some(audit) = &proxy.audit {
        let _ = lock(audit).flush();
    }
    code
}

#[cfg(unix)]
fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(sig)) => 128u8.wrapping_add(sig as u8),
        _ => crate::EXIT_ERROR,
    }
}

#[cfg(not(unix))]
fn exit_code(status: std::process::ExitStatus) -> u8 {
    status.code().map_or(crate::EXIT_ERROR, |c| c as u8)
}

/// SIGKILL to what is left of the server's process group once the server itself exited (the
/// group id stays reserved while any member lives, so it cannot name another group).
fn kill_group(pid: u32) {
    #[cfg(unix)]
    {
        use rustix::process::{kill_process_group, Pid, Signal};
        if let Some(pid) = Pid::from_raw(pid as i32) {
            let _ = kill_process_group(pid, Signal::KILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// SIGTERM, SIGINT or SIGHUP to the proxy: the same shutdown as the host leaving.
#[cfg(unix)]
fn watch_signals(proxy: &Arc<Proxy>) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            crate::report(format_args!("cannot watch signals: {e}"));
            return;
        }
    };
    let proxy = proxy.clone();
    let _ = std::thread::Builder::new().name("signals".into()).spawn(move || {
        if let Some(sig) = signals.forever().next() {
            proxy.log_event("signal", &format!("the proxy got signal {sig}; stopping the server"));
            shutdown(&proxy);
        }
    });
}

/// Stops the server: closes its stdin, waits the grace period, SIGTERM, waits, SIGKILL. Runs
/// once; returns at once when the server is already gone.
fn shutdown(proxy: &Arc<Proxy>) {
    if proxy.shutting_down.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Some(mut stdin) = lock(&proxy.server_in).take() {
        let _ = stdin.flush();
    }
    let proxy = proxy.clone();
    let _ = std::thread::Builder::new().name("shutdown".into()).spawn(move || {
        if proxy.wait_exit(proxy.grace) {
            return;
        }
        proxy.log_event("transport_dispose", "action=grace_expired: sending SIGTERM to the MCP server");
        proxy.signal_server(false);
        if proxy.wait_exit(proxy.grace) {
            return;
        }
        proxy.log_event("transport_dispose", "action=kill: sending SIGKILL to the MCP server");
        proxy.signal_server(true);
    });
}

impl Proxy {
    /// Waits up to `d` for the server to exit.
    fn wait_exit(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.exited.load(Ordering::SeqCst) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.exited.load(Ordering::SeqCst)
    }

    /// SIGTERM (or SIGKILL) to the server's process group. The server is not reaped before
    /// `exited` is set, so its pid cannot have been reused.
    fn signal_server(&self, kill: bool) {
        if self.exited.load(Ordering::SeqCst) {
            return;
        }
        #[cfg(unix)]
        {
            use rustix::process::{kill_process, kill_process_group, Pid, Signal};
            let sig = if kill { Signal::KILL } else { Signal::TERM };
            if let Some(pid) = Pid::from_raw(self.pid as i32) {
                if kill_process_group(pid, sig).is_err() {
                    let _ = kill_process(pid, sig);
                }
            }
        }
        #[cfg(not(unix))]
        let _ = kill;
    }
}

/// Reads newline-delimited messages from one side and handles each, until end of input.
fn relay(proxy: &Proxy, from: Side, input: impl Read) {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let mut scratch = proxy.engine.create_scratch();
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                proxy.log_event("read_error", &format!("reading from the {}: {e}", from.as_str()));
                return;
            }
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        handle(proxy, &mut scratch, from, &line);
    }
}

/// The id of a message as JSON text (so that `1` and `"1"` stay different keys).
fn id_key(id: &Value) -> String {
    id.to_string()
}

/// One message from `from`: scan, decide, forward or answer.
fn handle(proxy: &Proxy, scratch: &mut Scratch, from: Side, line: &[u8]) {
    let message: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return proxy.unparsable(from, line, &e),
    };
    let obj = message.as_object();
    let method = obj.and_then(|o| o.get("method")).and_then(Value::as_str);
    let id = obj.and_then(|o| o.get("id")).filter(|id| !id.is_null());
    let is_response = obj.is_some_and(|o| method.is_none() && (o.contains_key("result") || o.contains_key("error")));
    // What this message answers, when it is a response: the other side's pending request.
    let answered = if is_response {
        id.and_then(|id| match from {
            Side::Server => lock(&proxy.pending_host).remove(&id_key(id)),
            Side::Host => lock(&proxy.pending_server).remove(&id_key(id)).map(|m| (m, None)),
        })
    } else {
        None
    };
    let direction = if is_response { Direction::Response } else { Direction::Request };
    let pins = proxy.pins.as_ref().map(|(p, _)| p);
    let context = MessageContext {
        method: answered.as_ref().map(|(m, _)| m.as_str()),
        tool: answered.as_ref().and_then(|(_, t)| t.as_deref()),
        server: Some(&proxy.server),
        pins: if from == Side::Server { pins } else { None },
    };
    let verdict = proxy.engine.scan_message_with(scratch, &message, direction, &context);
    if let Some((pins, path)) = &proxy.pins {
        if pins.is_dirty() {
            if let Err(e) = pins.save(path) {
                proxy.log_event("pins_error", &e.to_string());
            }
        }
    }
    let blocked = verdict.action == Action::Block;
    proxy.decision(from, verdict);

    if !blocked {
        // Remember requests so that their responses can be scanned knowing the method.
        match &message {
            Value::Array(batch) => batch.iter().for_each(|item| proxy.remember(from, item)),
            single => proxy.remember(from, single),
        }
        return proxy.write_to(from.other(), line);
    }

    // Blocked: answer whoever is waiting, never forward.
    let verdict_json = serde_json::to_value(verdict).unwrap_or(Value::Null);
    let text = block_text(verdict);
    let data = json!({ "sentinel": verdict_json });
    let is_tool_call = method == Some("tools/call") || answered.as_ref().is_some_and(|(m, _)| m == "tools/call");
    let reply = |id: &Value| {
        if proxy.block_style == BlockStyle::ToolError && is_tool_call {
            json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": text}], "isError": true}})
        } else {
            error_response(id, BLOCKED, &text, Some(&data))
        }
    };
    match (&message, is_response) {
        // A blocked request: its sender gets the error.
        (Value::Object(_), false) => {
            if let Some(id) = id {
                proxy.send(from, &reply(id));
            }
        }
        // A blocked response: the requester (the other side) gets the error instead.
        (Value::Object(_), true) => {
            if let Some(id) = id {
                proxy.send(from.other(), &reply(id));
            }
        }
        // A blocked batch: every request in it is answered with the error, in one batch
        // response (JSON-RPC 2.0 §6); a batch of notifications only gets nothing.
        (Value::Array(batch), _) => {
            let replies: Vec<Value> = batch
                .iter()
                .filter(|item| item.get("method").is_some())
                .filter_map(|item| item.get("id").filter(|i| !i.is_null()))
                .map(reply)
                .collect();
            if !replies.is_empty() {
                proxy.send(from, &Value::Array(replies));
            } else if batch.is_empty() {
                proxy.send(
                    from,
                    &error_response(&Value::Null, INVALID_REQUEST, "Invalid Request: an empty batch", None),
                );
            }
        }
        _ => proxy.send(from, &error_response(&Value::Null, BLOCKED, &text, Some(&data))),
    }
}

/// The one-line reason of a block: the most severe finding.
fn block_text(verdict: &Verdict) -> String {
    match top_finding(verdict) {
        Some(f) => {
            let more = match verdict.findings.len() {
                1 => String::new(),
                n => format!("; {} more finding{}", n - 1, if n == 2 { "" } else { "s" }),
            };
            let at = if f.path.is_empty() { String::new() } else { format!(" at {}", f.path) };
            format!(
                "Blocked by Sentinel: {} {} ({}): {} (rule {}{at}){more}",
                f.detector, f.detector_name, f.severity, f.reason, f.rule
            )
        }
        None => "Blocked by Sentinel".to_string(),
    }
}

/// The first of the most severe findings.
fn top_finding(verdict: &Verdict) -> Option<&sentinel_core::Finding> {
    verdict.findings.iter().fold(None, |best: Option<&sentinel_core::Finding>, f| match best {
        Some(b) if b.severity >= f.severity => Some(b),
        _ => Some(f),
    })
}

fn error_response(id: &Value, code: i64, message: &str, data: Option<&Value>) -> Value {
    let mut error = json!({ "code": code, "message": message });
    if let Some(data) = data {
        error["data"] = data.clone();
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": error })
}

impl Proxy {
    /// A line to one side, as it is.
    fn write_to(&self, to: Side, line: &[u8]) {
        match to {
            Side::Host => self.write_host(line),
            Side::Server => self.write_server(line),
        }
    }

    /// A message of the proxy's own to one side.
    fn send(&self, to: Side, message: &Value) {
        self.write_to(to, &to_line(message));
    }

    /// A line to the host. The first failed write means the host is gone: that is logged
    /// once, and the server is shut down as when the host closes stdin.
    fn write_host(&self, line: &[u8]) {
        if self.host_gone.load(Ordering::SeqCst) {
            return;
        }
        let mut out = lock(&self.host_out);
        if out.write_all(line).and_then(|()| out.flush()).is_err() {
            drop(out);
            if !self.host_gone.swap(true, Ordering::SeqCst) {
                self.log_event("host_disconnect", "the host stopped reading the proxy's stdout; stopping the server");
                if let Some(me) = self.me.get().and_then(std::sync::Weak::upgrade) {
                    shutdown(&me);
                }
            }
        }
    }

    fn write_server(&self, line: &[u8]) {
        let mut guard = lock(&self.server_in);
        let Some(stdin) = guard.as_mut() else {
            drop(guard);
            self.log_event("dropped", "a message for the MCP server arrived after its stdin was closed");
            return;
        };
        if stdin.write_all(line).and_then(|()| stdin.flush()).is_err() {
            drop(guard);
            self.log_event("server_write_error", "the MCP server stopped reading its stdin");
        }
    }

    /// Remembers a forwarded request (it has a method and an id), so that its response is
    /// scanned knowing the method (and, for `tools/call`, the tool) it answers.
    fn remember(&self, from: Side, request: &Value) {
        let method = request.get("method").and_then(Value::as_str);
        let Some((method, id)) = method.zip(request.get("id").filter(|i| !i.is_null())) else { return };
        match from {
            Side::Host => {
                let tool = (method == "tools/call")
                    .then(|| request.pointer("/params/name").and_then(Value::as_str).map(str::to_string))
                    .flatten();
                lock(&self.pending_host).insert(id_key(id), (method.to_string(), tool));
            }
            Side::Server => {
                lock(&self.pending_server).insert(id_key(id), method.to_string());
            }
        }
    }

    /// A line that is not JSON: fail-closed drops it (telling the host), fail-open forwards it.
    fn unparsable(&self, from: Side, line: &[u8], error: &serde_json::Error) {
        let reason = format!(
            "a line from the {} is not JSON (line of {} bytes; column {}: {error})",
            from.as_str(),
            line.len(),
            error.column()
        );
        let fail_open = self.engine.config().fail_mode == sentinel_core::FailMode::Open;
        let decision = if fail_open { "allow" } else { "block" };
        self.log_line(&[("event", "parse_error"), ("decision", decision), ("source", from.as_str())], &reason);
        self.audit_record(json!({
            "time": now(), "server": self.server, "method": null, "tool": null, "direction": null,
            "source": from.as_str(), "id": null, "decision": decision, "severity": "high",
            "findings": [{"rule": sentinel_core::RULE_UNREADABLE, "detector": sentinel_core::SCAN_INTEGRITY,
                          "severity": "high", "reason": reason}],
        }));
        if fail_open {
            self.write_to(from.other(), line);
        } else if from == Side::Host {
            self.send(Side::Host, &error_response(&Value::Null, PARSE_ERROR, &format!("Parse error: {reason}"), None));
        }
    }

    /// Logs and audits a decision.
    fn decision(&self, from: Side, verdict: &Verdict) {
        let decision = verdict.action.as_str();
        let info = verdict.message.as_ref();
        let method = info.and_then(|m| m.method.as_deref());
        let id = info.and_then(|m| m.id.as_ref());
        let tool = info.and_then(|m| m.tool.as_deref());
        let direction = info.map_or("request", |m| m.direction.as_str());
        self.audit_record(json!({
            "time": now(), "server": self.server, "method": method, "tool": tool, "direction": direction,
            "source": from.as_str(), "id": id, "decision": decision, "severity": verdict.severity,
            "findings": verdict.findings,
        }));
        if verdict.action == Action::Allow && !self.verbose {
            return;
        }
        let top = top_finding(verdict);
        if self.log_json {
            let record = json!({
                "time": now(), "event": method, "decision": decision, "direction": direction, "source": from.as_str(),
                "id": id, "tool": tool, "detector": top.map(|f| &f.detector), "rule": top.map(|f| &f.rule),
                "severity": verdict.severity, "reason": top.map(|f| &f.reason), "findings": verdict.findings,
            });
            self.write_log(&record.to_string());
            return;
        }
        let event = quote(method.unwrap_or("-"));
        let mut line = format!("[sentinel] event={event} decision={decision} direction={direction}");
        if let Some(f) = top {
            line.push_str(&format!(" detector={} rule={} severity={}", f.detector, f.rule, f.severity));
        }
        if let Some(tool) = tool {
            line.push_str(&format!(" tool={}", quote(tool)));
        }
        if let Some(id) = id {
            line.push_str(&format!(" id={}", quote(&id.to_string())));
        }
        if let Some(f) = top {
            line.push_str(&format!(" reason={}", quote(&f.reason)));
            if verdict.findings.len() > 1 {
                line.push_str(&format!(" findings={}", verdict.findings.len()));
            }
        }
        self.write_log(&line);
    }

    /// Logs a lifecycle event.
    fn log_event(&self, event: &str, detail: &str) {
        self.log_line(&[("event", event)], detail);
    }

    fn log_line(&self, fields: &[(&str, &str)], detail: &str) {
        if self.log_json {
            let mut record = serde_json::Map::new();
            record.insert("time".into(), now().into());
            for (k, v) in fields {
                record.insert((*k).into(), (*v).into());
            }
            record.insert("detail".into(), detail.into());
            self.write_log(&Value::Object(record).to_string());
        } else {
            let mut line = String::from("[sentinel]");
            for (k, v) in fields {
                line.push_str(&format!(" {k}={v}"));
            }
            line.push_str(&format!(" detail={}", quote(detail)));
            self.write_log(&line);
        }
    }

    /// One log line in one write, so that the server's stderr (which is the proxy's too)
    /// cannot land in the middle of it.
    fn write_log(&self, line: &str) {
        let mut buf = String::with_capacity(line.len() + 1);
        buf.push_str(line);
        buf.push('\n');
        let _ = io::stderr().lock().write_all(buf.as_bytes());
    }

    fn audit_record(&self, record: Value) {
        if let Some(audit) = &self.audit {
            let mut out = lock(audit);
            let _ = writeln!(out, "{record}");
            let _ = out.flush();
        }
    }
}

/// A value for a key=value log line: bare when it is one plain word, JSON-quoted otherwise.
fn quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'=') {
        s.to_string()
    } else {
        Value::from(s).to_string()
    }
}

fn to_line(message: &Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).unwrap_or_default();
    line.push(b'\n');
    line
}

fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
