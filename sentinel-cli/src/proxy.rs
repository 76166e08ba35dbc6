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
//! A blocked response is answered only when its id is one the other side is waiting for (its
//! request went through the proxy and is not answered yet), so no request is answered twice.
//!
//! Batches (JSON-RPC 2.0 §6, MCP protocol versions before 2025-06-18): each element is scanned
//! on its own, a response element knowing the method (and tool) of the request it answers, a
//! request element as a request; every response element resolves its id from the other side's
//! pending requests, whatever the decision. Each element's decision is logged and audited (the
//! audit record says where it sits in its batch and what became of the batch). The batch is
//! forwarded byte for byte when no element is blocked; when one is, none of it is forwarded,
//! and each id that someone waits for gets the block error exactly once, in one batch per side:
//! the sender for the batch's requests, the other side for the requests the batch's responses
//! answer. An element that is not blocked itself gets the reason of the most severe blocked
//! one.
//!
//! Lines that are not JSON are logged. Under `fail_closed` (the default) they are not
//! forwarded; from the host, the host is told with a JSON-RPC parse error (-32700, id null);
//! from the server, nothing is sent to anyone (the server is not answered: a line that is not
//! JSON has no id). Under `fail_open` they are forwarded. Blank lines carry nothing and are
//! ignored.
//!
//! Over-size lines (longer than `--max-message-bytes`, 64 MiB by default, not counting the
//! newline): the proxy never holds more than that of a line; the rest is discarded as it
//! arrives, while a streaming tokenizer ([`sentinel_core::framing`]) reads the top-level `id`
//! and `method` wherever they are. The line is never forwarded, whatever the fail mode (it
//! cannot be scanned), and is logged and audited (`event=oversize decision=block`). Then, with
//! code [`TOO_LARGE`] (or a `tools/call` result with `isError: true` under
//! `--block-style tool-error`):
//! - a response (a `result` or `error`, no `method`) whose id the other side waits for: its
//!   pending entry is removed and the waiting side gets the error for that id (the host for a
//!   server's response, the server for the host's), so it does not hang; a response nobody
//!   waits for is only logged;
//! - any other line with an id (a request) is answered to its sender;
//! - without an id: a notification (it has a `method`) or a response is only logged; from the
//!   host, any other line gets the error with id null (as an unreadable request does); from
//!   the server, nothing is sent.
//!
//! The id and method are read only at the top level of a JSON object, and only when they are
//! short (a number or string id, a string method, at most
//! [`sentinel_core::framing::MAX_CAPTURE`] bytes); otherwise the line counts as one without
//! them.
//!
//! The proxy goes on relaying the next line in every case.
//!
//! Lifecycle: when the host closes the proxy's stdin (or signals the proxy), the server's stdin
//! is closed; after the grace period it gets SIGTERM, after another grace period SIGKILL (its
//! whole process group, so that `npx`/`uvx` launchers and their children go too). When the
//! server exits, every request still waiting for its answer gets an error ([`SERVER_GONE`]) and
//! the proxy exits with the server's status (128 + the signal when it was killed by one).

use crate::args::{BlockStyle, ProxyArgs};
use crate::settings::{self, SetupError};
use sentinel_core::framing::{Line, LineReader};
use sentinel_core::{
    Action, Direction, DuplicateKey, Engine, MessageContext, ParsedJson, Scratch, Severity, ToolPins, Verdict,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
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
/// JSON-RPC error code for a message longer than `--max-message-bytes`, which the proxy
/// discarded unread.
pub(crate) const TOO_LARGE: i64 = -32053;
/// The default of `--max-message-bytes`: 64 MiB.
pub(crate) const DEFAULT_MAX_MESSAGE_BYTES: u64 = 64 * 1024 * 1024;
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
    /// The longest line relayed (`--max-message-bytes`).
    max_message_bytes: usize,
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
    max_message_bytes: usize,
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
    let max_message_bytes = match args.max_message_bytes {
        Some(n) => n,
        None => env_parse::<u64>("SENTINEL_MCP_MAX_MESSAGE_BYTES")?.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES),
    };
    if max_message_bytes == 0 {
        return Err(SetupError::Env {
            name: "SENTINEL_MCP_MAX_MESSAGE_BYTES".into(),
            value: "0".into(),
            message: "the maximum message size must be 1 byte or more".into(),
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
            max_message_bytes: usize::try_from(max_message_bytes).unwrap_or(usize::MAX),
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
        max_message_bytes: options.max_message_bytes,
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

/// Reads newline-delimited messages from one side and handles each, until end of input. A
/// line longer than `--max-message-bytes` is discarded as it arrives (see [`Proxy::oversize`]).
fn relay(proxy: &Proxy, from: Side, input: impl Read) {
    let mut input = LineReader::new(BufReader::with_capacity(1 << 16, input), proxy.max_message_bytes);
    let mut scratch = proxy.engine.create_scratch();
    let mut line = Vec::new();
    loop {
        // A large message's buffer is not kept for the small ones that follow.
        if line.capacity() > 1 << 20 {
            line = Vec::new();
        }
        match input.next_line(&mut line) {
            Ok(None) => return,
            Ok(Some(Line::Complete)) => {}
            Ok(Some(Line::Oversize { bytes, id, method, response })) => {
                proxy.oversize(from, bytes, id, method, response);
                continue;
            }
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

/// A message's id, unless it has none or it is null.
fn message_id(message: &Value) -> Option<&Value> {
    message.get("id").filter(|id| !id.is_null())
}

/// Whether a message is a response: an object with a `result` or an `error` and no method.
fn is_response(message: &Value) -> bool {
    message.as_object().is_some_and(|o| {
        o.get("method").and_then(Value::as_str).is_none() && (o.contains_key("result") || o.contains_key("error"))
    })
}

/// The request a response answers: its method and (for `tools/call`) tool.
type Answered = (String, Option<String>);

/// One message from `from`: scan, decide, forward or answer.
fn handle(proxy: &Proxy, scratch: &mut Scratch, from: Side, line: &[u8]) {
    // Parsed keeping the values of duplicated keys: the server may keep the first value where
    // serde_json keeps the last, so each is scanned.
    let ParsedJson { value: message, duplicates } = match sentinel_core::parse_json(line) {
        Ok(parsed) => parsed,
        Err(e) => return proxy.unparsable(from, line, &e),
    };
    match &message {
        Value::Array(batch) if !batch.is_empty() => handle_batch(proxy, scratch, from, line, batch, &duplicates),
        _ => handle_one(proxy, scratch, from, line, &message, &duplicates),
    }
}

/// The duplicated keys inside element `index` of a batch (their paths start with `[index]`).
fn in_element(duplicates: &[DuplicateKey], index: usize) -> &[DuplicateKey] {
    let prefix = format!("[{index}]");
    let inside = |d: &DuplicateKey| d.path.starts_with(&prefix);
    // In document order: the element's duplicates are one run.
    let start = duplicates.iter().position(inside).unwrap_or(duplicates.len());
    let len = duplicates[start..].iter().take_while(|d| inside(d)).count();
    &duplicates[start..start + len]
}

/// A message that is not a batch (an object, or a value that is no message at all).
fn handle_one(
    proxy: &Proxy,
    scratch: &mut Scratch,
    from: Side,
    line: &[u8],
    message: &Value,
    duplicates: &[DuplicateKey],
) {
    let method = message.get("method").and_then(Value::as_str);
    let id = message_id(message);
    let is_response = is_response(message);
    // What this message answers, when it is a response: the other side's pending request.
    let answered = if is_response { proxy.resolve(from, message_id(message)) } else { None };
    let verdict = proxy.scan(scratch, from, message, duplicates, is_response, answered.as_ref());
    let blocked = verdict.is_blocked();
    proxy.decision(from, verdict, None);

    if !blocked {
        // Remember requests so that their responses can be scanned knowing the method.
        proxy.remember(from, message);
        return proxy.write_to(from.other(), line);
    }

    // Blocked: answer whoever is waiting, never forward.
    match (message, &answered) {
        // A blocked request: its sender gets the error.
        (Value::Object(_), _) if !is_response => {
            if let Some(id) = id {
                proxy.send(from, &proxy.block_reply(id, verdict, method == Some("tools/call"), None));
            }
        }
        // A blocked response: the requester (the other side) gets the error instead, when it
        // is waiting for this id (otherwise it was answered already, or never asked).
        (Value::Object(_), Some((answers, _))) => {
            if let Some(id) = id {
                proxy.send(from.other(), &proxy.block_reply(id, verdict, answers == "tools/call", None));
            }
        }
        (Value::Object(_), None) => {}
        // Only an empty batch gets here (JSON-RPC 2.0 §6).
        (Value::Array(_), _) => {
            proxy.send(from, &error_response(&Value::Null, INVALID_REQUEST, "Invalid Request: an empty batch", None))
        }
        _ => {
            let data = json!({ "sentinel": verdict });
            proxy.send(from, &error_response(&Value::Null, BLOCKED, &block_text(verdict), Some(&data)));
        }
    }
}

/// Where a message sits in its batch, for its audit record and log line.
#[derive(Clone, Copy)]
struct InBatch {
    index: usize,
    size: usize,
    /// What became of the whole batch.
    action: Action,
}

/// A non-empty batch: each element scanned on its own (a response knowing the request it
/// answers), blocked whole when any element is.
fn handle_batch(
    proxy: &Proxy,
    scratch: &mut Scratch,
    from: Side,
    line: &[u8],
    batch: &[Value],
    duplicates: &[DuplicateKey],
) {
    struct Element<'a> {
        message: &'a Value,
        is_response: bool,
        answered: Option<Answered>,
        verdict: Verdict,
    }
    let elements: Vec<Element<'_>> = batch
        .iter()
        .enumerate()
        .map(|(index, message)| {
            let is_response = is_response(message);
            // Resolved whatever the decision: no id a batch answers stays pending.
            let answered = if is_response { proxy.resolve(from, message_id(message)) } else { None };
            let duplicates = in_element(duplicates, index);
            let verdict = proxy.scan(scratch, from, message, duplicates, is_response, answered.as_ref()).clone();
            Element { message, is_response, answered, verdict }
        })
        .collect();
    let action = elements.iter().map(|e| e.verdict.action).max().unwrap_or(Action::Allow);
    let size = elements.len();
    for (index, e) in elements.iter().enumerate() {
        proxy.decision(from, &e.verdict, Some(InBatch { index, size, action }));
    }
    // The most severe blocked element (the first of them), whose reason its siblings get.
    let blocker = elements.iter().enumerate().filter(|(_, e)| e.verdict.is_blocked()).fold(
        None,
        |best: Option<(usize, &Element<'_>)>, (i, e)| match best {
            Some((_, b)) if b.verdict.severity >= e.verdict.severity => best,
            _ => Some((i, e)),
        },
    );
    let Some((blocker_index, blocker)) = blocker else {
        for e in &elements {
            proxy.remember(from, e.message);
        }
        return proxy.write_to(from.other(), line);
    };
    let blocker_id = message_id(blocker.message).map_or_else(|| "no id".to_string(), |id| format!("id {id}"));
    proxy.log_line(
        &[("event", "batch"), ("decision", "block"), ("source", from.as_str())],
        &format!(
            "a batch of {size} messages from the {} is not forwarded: its message {blocker_index} ({blocker_id}) is blocked",
            from.as_str()
        ),
    );
    let sibling_note = format!("another message of its batch ({blocker_id}) is blocked");
    // Each id answered once: the batch's requests to the sender, the requests its responses
    // answer to the other side. A batch of notifications only gets nothing.
    let mut to_sender = Vec::new();
    let mut to_other = Vec::new();
    let mut answered_ids = std::collections::HashSet::new();
    for e in &elements {
        let (verdict, note) =
            if e.verdict.is_blocked() { (&e.verdict, None) } else { (&blocker.verdict, Some(sibling_note.as_str())) };
        let Some(id) = message_id(e.message) else { continue };
        if e.is_response {
            if let Some((answers, _)) = &e.answered {
                to_other.push(proxy.block_reply(id, verdict, answers == "tools/call", note));
            }
        } else if e.message.get("method").is_some() && answered_ids.insert(id_key(id)) {
            let is_tool_call = e.message.get("method").and_then(Value::as_str) == Some("tools/call");
            to_sender.push(proxy.block_reply(id, verdict, is_tool_call, note));
        }
    }
    if !to_sender.is_empty() {
        proxy.send(from, &Value::Array(to_sender));
    }
    if !to_other.is_empty() {
        proxy.send(from.other(), &Value::Array(to_other));
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

/// A `tools/call` result with `isError: true` and `text` (`--block-style tool-error`), so the
/// model sees the failure.
fn tool_error(id: &Value, text: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": text}], "isError": true}})
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

    /// The request a response answers, taken from the other side's pending requests (so it is
    /// answered once): `None` when nobody waits for its id.
    fn resolve(&self, from: Side, id: Option<&Value>) -> Option<Answered> {
        let key = id_key(id?);
        match from {
            Side::Server => lock(&self.pending_host).remove(&key),
            Side::Host => lock(&self.pending_server).remove(&key).map(|m| (m, None)),
        }
    }

    /// Scans one message from `from`; a response with the request it answers.
    fn scan<'s>(
        &self,
        scratch: &'s mut Scratch,
        from: Side,
        message: &Value,
        duplicates: &[DuplicateKey],
        is_response: bool,
        answered: Option<&Answered>,
    ) -> &'s Verdict {
        let direction = if is_response { Direction::Response } else { Direction::Request };
        let pins = self.pins.as_ref().map(|(p, _)| p);
        let context = MessageContext {
            method: answered.map(|(m, _)| m.as_str()),
            tool: answered.and_then(|(_, t)| t.as_deref()),
            server: Some(&self.server),
            pins: if from == Side::Server { pins } else { None },
            duplicates,
        };
        let verdict = self.engine.scan_message_with(scratch, message, direction, &context);
        if let Some((pins, path)) = &self.pins {
            if pins.is_dirty() {
                if let Err(e) = pins.save(path) {
                    self.log_event("pins_error", &e.to_string());
                }
            }
        }
        verdict
    }

    /// The answer to request `id` when it, or its response, is blocked: a JSON-RPC error
    /// ([`BLOCKED`], the verdict in `error.data.sentinel`), or with `--block-style
    /// tool-error` a `tools/call` result with `isError: true`. `note` says why a message that
    /// is not blocked itself is (another of its batch is).
    fn block_reply(&self, id: &Value, verdict: &Verdict, is_tool_call: bool, note: Option<&str>) -> Value {
        let mut text = block_text(verdict);
        if let Some(note) = note {
            text = format!("{text}; {note}");
        }
        if self.block_style == BlockStyle::ToolError && is_tool_call {
            return tool_error(id, &text);
        }
        let data = json!({ "sentinel": serde_json::to_value(verdict).unwrap_or(Value::Null) });
        error_response(id, BLOCKED, &text, Some(&data))
    }

    /// A line longer than `--max-message-bytes` (already discarded): logged and audited, never
    /// forwarded, and whoever waits on its id is told (see the module documentation).
    fn oversize(&self, from: Side, bytes: u64, id: Option<Value>, method: Option<String>, response: bool) {
        let max = self.max_message_bytes;
        let side = from.as_str();
        let kind = if response { "response" } else { "message" };
        let mut envelope = Vec::new();
        if let Some(id) = &id {
            envelope.push(format!("id {id}"));
        }
        if let Some(method) = &method {
            envelope.push(format!("method {}", Value::from(method.as_str())));
        }
        let envelope = if envelope.is_empty() { String::new() } else { format!(" ({})", envelope.join(", ")) };
        let reason = format!(
            "a {kind} from the {side} of {bytes} bytes{envelope} exceeds the proxy's maximum of {max} bytes \
             (--max-message-bytes); it was discarded unread"
        );
        let bytes_text = bytes.to_string();
        self.log_line(
            &[("event", "oversize"), ("decision", "block"), ("source", side), ("bytes", &bytes_text)],
            &reason,
        );
        self.audit_record(json!({
            "time": now(), "server": self.server, "method": method, "tool": null,
            "direction": if response { "response" } else { "request" },
            "source": side, "id": id, "decision": "block", "severity": "high", "event": "oversize", "bytes": bytes,
            "findings": [{"rule": sentinel_core::RULE_UNREADABLE, "detector": sentinel_core::SCAN_INTEGRITY,
                          "severity": "high", "reason": reason}],
        }));
        let data = json!({ "bytes": bytes, "max_bytes": max });
        let Some(id) = id else {
            // No id: nobody can be told which message it was. A notification needs no answer;
            // from the host, anything else is answered as an unreadable request is (id null).
            if from == Side::Host && method.is_none() && !response {
                let text = format!(
                    "Message too large: a message of {bytes} bytes, without a readable id, exceeds the proxy's \
                     maximum of {max} bytes (--max-message-bytes); it was not forwarded"
                );
                self.send(Side::Host, &error_response(&Value::Null, TOO_LARGE, &text, Some(&data)));
            }
            return;
        };
        if response {
            // The side that sent the request waits for this answer: it gets the error instead.
            let Some((answers, _)) = self.resolve(from, Some(&id)) else { return };
            let (sender, waiter) = match from {
                Side::Server => ("MCP server", "host"),
                Side::Host => ("client", "server"),
            };
            let text = format!(
                "Response too large: the {sender}'s response to {answers} ({bytes} bytes) exceeds the proxy's \
                 maximum of {max} bytes (--max-message-bytes); it was not forwarded to the {waiter}"
            );
            let reply = if self.block_style == BlockStyle::ToolError && answers == "tools/call" {
                tool_error(&id, &text)
            } else {
                error_response(&id, TOO_LARGE, &text, Some(&data))
            };
            return self.send(from.other(), &reply);
        }
        // A request (or a message of no known kind with an id): its sender gets the error.
        let what = method.as_deref().map_or_else(|| "message".to_string(), |m| format!("{m} request"));
        let text = format!(
            "Message too large: the {what} of {bytes} bytes exceeds the proxy's maximum of {max} bytes \
             (--max-message-bytes); it was not forwarded"
        );
        let reply = if self.block_style == BlockStyle::ToolError && method.as_deref() == Some("tools/call") {
            tool_error(&id, &text)
        } else {
            error_response(&id, TOO_LARGE, &text, Some(&data))
        };
        self.send(from, &reply);
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

    /// Logs and audits a decision (of a message of a batch: with where it sits in the batch
    /// and what became of the batch).
    fn decision(&self, from: Side, verdict: &Verdict, in_batch: Option<InBatch>) {
        let decision = verdict.action.as_str();
        let info = verdict.message.as_ref();
        let method = info.and_then(|m| m.method.as_deref());
        let id = info.and_then(|m| m.id.as_ref());
        let tool = info.and_then(|m| m.tool.as_deref());
        let direction = info.map_or("request", |m| m.direction.as_str());
        let batch = in_batch.map(|b| json!({"index": b.index, "size": b.size, "decision": b.action.as_str()}));
        let mut record = json!({
            "time": now(), "server": self.server, "method": method, "tool": tool, "direction": direction,
            "source": from.as_str(), "id": id, "decision": decision, "severity": verdict.severity,
            "findings": verdict.findings,
        });
        if let Some(batch) = &batch {
            record["batch"] = batch.clone();
        }
        self.audit_record(record);
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
            let mut record = record;
            if let Some(batch) = batch {
                record["batch"] = batch;
            }
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
        if let Some(b) = in_batch {
            line.push_str(&format!(" batch={}/{} batch_decision={}", b.index, b.size, b.action.as_str()));
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
