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
//!   result with `isError: true`). A blocked notification is dropped and logged;
//! - quarantine: in the server's answer to a list (`tools/list`, …), the entries that would
//!   block are withheld and the rest is forwarded (see below).
//!
//! A blocked response is answered only when its id is one the other side is waiting for (its
//! request went through the proxy and is not answered yet), so no request is answered twice.
//!
//! **Quarantine, not break.** An MCP client lists the tools before it calls one, so blocking a
//! whole `tools/list` answer for one poisoned description would break every tool of the server.
//! In the server's answer to `tools/list`, `prompts/list`, `resources/list` and
//! `resources/templates/list`, each entry of the list (`result.tools[i]`, `result.prompts[i]`,
//! `result.resources[i]`, `result.resourceTemplates[i]`) whose findings would block is withheld
//! from the host, and the rest goes through:
//! - a finding belongs to the entry its JSON path is in (`result.tools[3].description`,
//!   `result.tools[3].inputSchema…`, `result.tools[3]` for a pin finding); it blocks when its
//!   own action is `block` ([`Engine::action_for_finding`]: the severity → action table, the
//!   fail mode for `SYS-001`/`SYS-002`);
//! - the answer is blocked whole, as any message, when a blocking finding lies outside every
//!   entry (`result.nextCursor`, `result._meta`), when the scan cap left part of it unscanned
//!   (`SYS-002`), or when findings past the cap are not listed (`SYS-004`: they cannot be
//!   placed);
//! - the entries that share the key of a withheld one (a second tool of the same name) are
//!   withheld too: the host must not call that name at all;
//! - each withheld entry is logged and audited with its findings (`decision=quarantine`, and
//!   `entry`: its kind `tool`/`prompt`/`resource`/`resource_template`, index, name, URI); the
//!   rest of the answer is decided by the findings left (`allow` or `warn`) and audited with
//!   the entries it lost (`quarantined`);
//! - the answer is re-serialised, since it changed (same members, keys in sorted order); when
//!   nothing is withheld it is forwarded byte for byte. When every entry is withheld the list
//!   is empty, still a valid answer.
//!
//! The proxy keeps what it withheld (kind and key: a tool's or prompt's name, a resource's URI,
//! a template's URI template → the findings). A host request that uses a quarantined entry —
//! `tools/call` of a quarantined tool, `prompts/get` of a quarantined prompt, `resources/read`
//! of a quarantined resource's URI — never reaches the server: it gets the block error (or the
//! tool error under `--block-style tool-error`), the reason naming the quarantine and the
//! entry's top finding, the entry's findings in the verdict; it is audited as `block` with
//! `quarantined`. A later list that offers the entry without a finding that blocks releases
//! it (logged `event=quarantine_release`, audited `decision=release`); a list that does not
//! mention it (another page) leaves it as it is. Not covered: a `resources/read` of a URI that
//! a withheld template would expand to (the proxy does not expand templates); lists inside a
//! JSON-RPC batch (a blocked element blocks its batch, as before; a request of a host's batch
//! that uses a quarantined entry is a blocked element).
//!
//! **Server identity.** Tool pins (`--pins`), verdicts, logs and audit records name the server
//! by `--server-name` when given, else by the name the server reports in its answer to
//! `initialize` (`serverInfo.name`, or for protocol 2026-07-28 the
//! `io.modelcontextprotocol/serverInfo` in the `_meta` of the `server/discover` result), and by
//! its command line until that answer. The version is not part of it: an upgraded server is the
//! same server, and a tool it changed a change (`MCP-001`). So the same server started with
//! another directory argument is the same server, not one whose every tool shadows the other's
//! (`MCP-002`). The first answer that names the server wins for the session. A server can claim
//! another's name; its tools are then checked against that server's pins, so a same-named tool
//! with another definition is a rug pull (`MCP-001`, high) instead of shadowing (medium). Pins
//! that an earlier version kept under the command line move to the name ([`ToolPins::rekey`]).
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
//! arrives, while a streaming tokenizer ([`mcp_threatscan::framing`]) reads the top-level `id`
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
//! [`mcp_threatscan::framing::MAX_CAPTURE`] bytes); otherwise the line counts as one without
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
use mcp_threatscan::framing::{Line, LineReader};
use mcp_threatscan::{
    Action, DuplicateKey, Engine, Finding, ParsedJson, Peer, Request, Scratch, Session, Severity, ToolPins, Verdict,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
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
    /// The server's command line: its identity until it tells its name.
    command_line: String,
    /// The server as configured: `--server-name`, else the command line (`server` in audit
    /// records).
    label: String,
    /// The exchange: requests awaiting their responses, the server's identity (see the module
    /// documentation) and its tool pins.
    session: Session,
    /// The list entries withheld from the host, by kind and key (a tool's or a prompt's name, a
    /// resource's URI, a template's URI template).
    quarantine: Mutex<HashMap<(ListKind, String), Quarantined>>,
    block_style: BlockStyle,
    log_json: bool,
    verbose: bool,
    /// Where the pins are kept (`--pins`).
    pins_path: Option<PathBuf>,
    host_out: Mutex<io::Stdout>,
    server_in: Mutex<Option<BufWriter<ChildStdin>>>,
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
    /// The MCP peer this side is.
    fn peer(self) -> Peer {
        match self {
            Side::Host => Peer::Client,
            Side::Server => Peer::Server,
        }
    }

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
        config.mcp.scan_mimes = mcp_threatscan::McpConfig::parse_mimes(&list);
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
    let command_line = command.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
    let server: Arc<str> = Arc::from(options.server.as_deref().unwrap_or(&command_line));
    let pins = match &options.pins {
        Some(path) => match ToolPins::load(path) {
            Ok(pins) => Some(Arc::new(pins)),
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
    let mut session = Session::new(engine.clone(), &*server);
    if options.server.is_some() {
        session = session.named();
    }
    if let Some(pins) = pins {
        session = session.with_pins(pins);
    }
    let proxy = Arc::new(Proxy {
        engine,
        label: server.to_string(),
        command_line,
        session,
        quarantine: Mutex::new(HashMap::new()),
        block_style: options.block_style,
        log_json: options.log_json,
        verbose: options.verbose,
        pins_path: options.pins.clone(),
        host_out: Mutex::new(io::stdout()),
        server_in: Mutex::new(Some(BufWriter::new(stdin))),
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
    for Request { id, method, .. } in proxy.session.drain(Peer::Client) {
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

/// One message from `from`: scan, decide, forward or answer.
fn handle(proxy: &Proxy, scratch: &mut Scratch, from: Side, line: &[u8]) {
    // Parsed keeping the values of duplicated keys: the server may keep the first value where
    // serde_json keeps the last, so each is scanned.
    let ParsedJson { value: message, duplicates } = match mcp_threatscan::parse_json(line) {
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
    let answered = proxy.session.answered(from.peer(), message);
    let verdict = proxy.scan(scratch, from, message, duplicates, answered.as_ref());
    let blocked = verdict.is_blocked();
    // A server's answer to a list: its entries can be quarantined one by one.
    let list = match (from, &answered) {
        (Side::Server, Some(Request { method: answers, .. })) => ListKind::of_list(answers),
        _ => None,
    };
    if let (Some(kind), true) = (list, blocked) {
        if let Some(removed) = proxy.quarantine_plan(verdict, kind, message) {
            return proxy.forward_quarantined(from, message, verdict, kind, &removed);
        }
    }
    // A host's request that uses a quarantined entry: refused here.
    if from == Side::Host && !is_response && !blocked {
        if let Some(refusal) = proxy.refusal(verdict, message) {
            proxy.record(from, &refusal.verdict, Action::Block.as_str(), None, &refusal.extra());
            if let Some(id) = id {
                let reply = proxy.block_reply(
                    id,
                    &refusal.verdict,
                    method == Some("tools/call"),
                    Some(&refusal.headline),
                    None,
                );
                proxy.send(from, &reply);
            }
            return;
        }
    }
    if let (Side::Server, Some(request), false) = (from, &answered, blocked) {
        // The answer to the handshake names the server (from its own record on).
        proxy.identify(request, message);
    }
    proxy.decision(from, verdict, None);

    if !blocked {
        if let Some(kind) = list {
            if let Some(entries) = list_entries(message, kind) {
                proxy.update_quarantine(kind, entries, &BTreeMap::new());
            }
        }
        // Remember requests so that their responses can be scanned knowing the method.
        proxy.remember(from, message);
        return proxy.write_to(from.other(), line);
    }

    // Blocked: answer whoever is waiting, never forward.
    match (message, &answered) {
        // A blocked request: its sender gets the error.
        (Value::Object(_), _) if !is_response => {
            if let Some(id) = id {
                proxy.send(from, &proxy.block_reply(id, verdict, method == Some("tools/call"), None, None));
            }
        }
        // A blocked response: the requester (the other side) gets the error instead, when it
        // is waiting for this id (otherwise it was answered already, or never asked).
        (Value::Object(_), Some(Request { method: answers, .. })) => {
            if let Some(id) = id {
                proxy.send(from.other(), &proxy.block_reply(id, verdict, answers == "tools/call", None, None));
            }
        }
        (Value::Object(_), None) => {}
        // Only an empty batch gets here (JSON-RPC 2.0 §6).
        (Value::Array(_), _) => {
            proxy.send(from, &error_response(&Value::Null, INVALID_REQUEST, "Invalid Request: an empty batch", None))
        }
        _ => {
            let data = json!({ "sentinel": verdict });
            proxy.send(from, &error_response(&Value::Null, BLOCKED, &block_text(verdict, None), Some(&data)));
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
        answered: Option<Request>,
        verdict: Verdict,
        /// A request of the host that uses a quarantined entry: refused, with this headline.
        refusal: Option<Refusal>,
    }
    let elements: Vec<Element<'_>> = batch
        .iter()
        .enumerate()
        .map(|(index, message)| {
            let is_response = is_response(message);
            // Resolved whatever the decision: no id a batch answers stays pending.
            let answered = proxy.session.answered(from.peer(), message);
            let duplicates = in_element(duplicates, index);
            let mut verdict = proxy.scan(scratch, from, message, duplicates, answered.as_ref()).clone();
            let mut refusal = None;
            if from == Side::Host && !is_response && !verdict.is_blocked() {
                refusal = proxy.refusal(&verdict, message);
                if let Some(r) = &refusal {
                    verdict = r.verdict.clone();
                }
            }
            Element { message, is_response, answered, verdict, refusal }
        })
        .collect();
    let action = elements.iter().map(|e| e.verdict.action).max().unwrap_or(Action::Allow);
    let size = elements.len();
    for (index, e) in elements.iter().enumerate() {
        let extra = e.refusal.as_ref().map(Refusal::extra).unwrap_or_default();
        proxy.record(from, &e.verdict, e.verdict.action.as_str(), Some(InBatch { index, size, action }), &extra);
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
            if let (Side::Server, Some(Request { method: answers, .. })) = (from, &e.answered) {
                if let Some(kind) = ListKind::of_list(answers) {
                    if let Some(entries) = list_entries(e.message, kind) {
                        proxy.update_quarantine(kind, entries, &BTreeMap::new());
                    }
                }
            }
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
        let headline = |e: &Element<'_>| e.refusal.as_ref().map(|r| r.headline.clone());
        let (verdict, headline, note) = if e.verdict.is_blocked() {
            (&e.verdict, headline(e), None)
        } else {
            (&blocker.verdict, headline(blocker), Some(sibling_note.as_str()))
        };
        let headline = headline.as_deref();
        let Some(id) = message_id(e.message) else { continue };
        if e.is_response {
            if let Some(Request { method: answers, .. }) = &e.answered {
                to_other.push(proxy.block_reply(id, verdict, answers == "tools/call", headline, note));
            }
        } else if e.message.get("method").is_some() && answered_ids.insert(id_key(id)) {
            let is_tool_call = e.message.get("method").and_then(Value::as_str) == Some("tools/call");
            to_sender.push(proxy.block_reply(id, verdict, is_tool_call, headline, note));
        }
    }
    if !to_sender.is_empty() {
        proxy.send(from, &Value::Array(to_sender));
    }
    if !to_other.is_empty() {
        proxy.send(from.other(), &Value::Array(to_other));
    }
}

/// The one-line reason of a block: the most severe finding, after `headline` when there is one.
fn block_text(verdict: &Verdict, headline: Option<&str>) -> String {
    let headline = headline.map_or_else(String::new, |h| format!("{h}: "));
    match top_finding(verdict) {
        Some(f) => {
            let more = match verdict.findings.len() {
                1 => String::new(),
                n => format!("; {} more finding{}", n - 1, if n == 2 { "" } else { "s" }),
            };
            let at = if f.path.is_empty() { String::new() } else { format!(" at {}", f.path) };
            format!(
                "Blocked by Sentinel: {headline}{} {} ({}): {} (rule {}{at}){more}",
                f.detector, f.detector_name, f.severity, f.reason, f.rule
            )
        }
        None if headline.is_empty() => "Blocked by Sentinel".to_string(),
        None => format!("Blocked by Sentinel: {}", headline.trim_end_matches([':', ' '])),
    }
}

/// The first of the most severe findings.
fn top_finding(verdict: &Verdict) -> Option<&mcp_threatscan::Finding> {
    verdict.findings.iter().fold(None, |best: Option<&mcp_threatscan::Finding>, f| match best {
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
        self.session.remember(from.peer(), request);
    }

    /// Scans one message from `from`; a response with the request it answers.
    fn scan<'s>(
        &self,
        scratch: &'s mut Scratch,
        from: Side,
        message: &Value,
        duplicates: &[DuplicateKey],
        answered: Option<&Request>,
    ) -> &'s Verdict {
        let verdict = self.session.scan_with(scratch, from.peer(), message, duplicates, answered);
        if let (Some(pins), Some(path)) = (self.session.pins(), &self.pins_path) {
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
    /// tool-error` a `tools/call` result with `isError: true`. `headline` says what the
    /// request is refused for before the top finding (a quarantined tool); `note` says why a
    /// message that is not blocked itself is (another of its batch is).
    fn block_reply(
        &self,
        id: &Value,
        verdict: &Verdict,
        is_tool_call: bool,
        headline: Option<&str>,
        note: Option<&str>,
    ) -> Value {
        let mut text = block_text(verdict, headline);
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
            "time": now(), "method": method, "tool": null,
            "direction": if response { "response" } else { "request" },
            "source": side, "id": id, "decision": "block", "severity": "high", "event": "oversize", "bytes": bytes,
            "findings": [{"rule": mcp_threatscan::RULE_UNREADABLE, "detector": mcp_threatscan::SCAN_INTEGRITY,
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
            let Some(Request { method: answers, .. }) = self.session.resolve(from.peer(), &id) else { return };
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
        let fail_open = self.engine.config().fail_mode == mcp_threatscan::FailMode::Open;
        let decision = if fail_open { "allow" } else { "block" };
        self.log_line(&[("event", "parse_error"), ("decision", decision), ("source", from.as_str())], &reason);
        self.audit_record(json!({
            "time": now(), "method": null, "tool": null, "direction": null,
            "source": from.as_str(), "id": null, "decision": decision, "severity": "high",
            "findings": [{"rule": mcp_threatscan::RULE_UNREADABLE, "detector": mcp_threatscan::SCAN_INTEGRITY,
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
        self.record(from, verdict, verdict.action.as_str(), in_batch, &Extra::default());
    }

    /// Logs and audits one decision: `decision` is the verdict's action, or `quarantine` for a
    /// list entry withheld from the host; `extra` adds fields to the audit record (and the
    /// NDJSON log line) and to the key=value log line. An `allow` is logged only with `-v`.
    fn record(&self, from: Side, verdict: &Verdict, decision: &str, in_batch: Option<InBatch>, extra: &Extra) {
        let info = verdict.message.as_ref();
        let method = info.and_then(|m| m.method.as_deref());
        let id = info.and_then(|m| m.id.as_ref());
        let tool = info.and_then(|m| m.tool.as_deref());
        let direction = info.map_or("request", |m| m.direction.as_str());
        let batch = in_batch.map(|b| json!({"index": b.index, "size": b.size, "decision": b.action.as_str()}));
        let mut record = json!({
            "time": now(), "method": method, "tool": tool, "direction": direction,
            "source": from.as_str(), "id": id, "decision": decision, "severity": verdict.severity,
            "findings": verdict.findings,
        });
        if let Some(batch) = &batch {
            record["batch"] = batch.clone();
        }
        for (key, value) in &extra.audit {
            record[*key] = value.clone();
        }
        self.audit_record(record);
        if decision == Action::Allow.as_str() && !self.verbose {
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
            for (key, value) in &extra.audit {
                record[*key] = value.clone();
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
        for (key, value) in &extra.log {
            line.push_str(&format!(" {key}={}", quote(value)));
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

    /// One audit record, with the server it is about: `server`, as it was configured (the
    /// `--server-name`, else the command line), and `server_identity`, the identity its tools
    /// are pinned under (see the module documentation).
    fn audit_record(&self, mut record: Value) {
        if let Some(audit) = &self.audit {
            record["server"] = Value::from(self.label.as_str());
            record["server_identity"] = Value::from(&*self.server());
            let mut out = lock(audit);
            let _ = writeln!(out, "{record}");
            let _ = out.flush();
        }
    }
}

// --- Quarantine: the entries of a list that would block, withheld from the host -----------------

/// The kinds of list entries a server offers, which the proxy can quarantine one by one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ListKind {
    Tool,
    Prompt,
    Resource,
    ResourceTemplate,
}

impl ListKind {
    /// The kind of entries the result of a list method holds.
    fn of_list(method: &str) -> Option<ListKind> {
        match method {
            "tools/list" => Some(ListKind::Tool),
            "prompts/list" => Some(ListKind::Prompt),
            "resources/list" => Some(ListKind::Resource),
            "resources/templates/list" => Some(ListKind::ResourceTemplate),
            _ => None,
        }
    }

    /// The kind of entry a request uses, and the parameter that names it.
    fn of_use(method: &str) -> Option<(ListKind, &'static str)> {
        match method {
            "tools/call" => Some((ListKind::Tool, "name")),
            "prompts/get" => Some((ListKind::Prompt, "name")),
            "resources/read" => Some((ListKind::Resource, "uri")),
            _ => None,
        }
    }

    /// The member of the list result that holds the entries.
    fn list_key(self) -> &'static str {
        match self {
            ListKind::Tool => "tools",
            ListKind::Prompt => "prompts",
            ListKind::Resource => "resources",
            ListKind::ResourceTemplate => "resourceTemplates",
        }
    }

    /// The member of an entry that identifies it (what a request names it by).
    fn key_field(self) -> &'static str {
        match self {
            ListKind::Tool | ListKind::Prompt => "name",
            ListKind::Resource => "uri",
            ListKind::ResourceTemplate => "uriTemplate",
        }
    }

    fn list_method(self) -> &'static str {
        match self {
            ListKind::Tool => "tools/list",
            ListKind::Prompt => "prompts/list",
            ListKind::Resource => "resources/list",
            ListKind::ResourceTemplate => "resources/templates/list",
        }
    }

    /// `tool`, `prompt`, `resource`, `resource_template`: in audit records and log lines.
    fn as_str(self) -> &'static str {
        match self {
            ListKind::Tool => "tool",
            ListKind::Prompt => "prompt",
            ListKind::Resource => "resource",
            ListKind::ResourceTemplate => "resource_template",
        }
    }

    /// For a sentence: `tool`, `prompt`, `resource`, `resource template`.
    fn noun(self) -> &'static str {
        match self {
            ListKind::ResourceTemplate => "resource template",
            other => other.as_str(),
        }
    }
}

/// What made a quarantined entry quarantined: the findings at its paths in the list that
/// withheld it.
struct Quarantined {
    findings: Vec<Finding>,
}

/// A host request refused because it uses a quarantined entry.
struct Refusal {
    /// The request's verdict, blocked, with the entry's findings added.
    verdict: Verdict,
    /// What the error message says before the top finding.
    headline: String,
    kind: ListKind,
    key: String,
}

impl Refusal {
    fn extra(&self) -> Extra {
        Extra {
            audit: vec![("quarantined", json!({"kind": self.kind.as_str(), "key": self.key}))],
            log: vec![("quarantined", self.kind.as_str().to_string())],
        }
    }
}

/// Fields a decision's audit record (and NDJSON log line), and its key=value log line, carry
/// beyond the verdict's.
#[derive(Default)]
struct Extra {
    audit: Vec<(&'static str, Value)>,
    log: Vec<(&'static str, String)>,
}

/// The entries of a list result: `result.tools`, `result.prompts`, … when it is an array.
fn list_entries(message: &Value, kind: ListKind) -> Option<&Vec<Value>> {
    message.get("result")?.get(kind.list_key())?.as_array()
}

/// What identifies an entry (a tool's name, a resource's URI), when it has it.
fn entry_key(entry: &Value, kind: ListKind) -> Option<&str> {
    entry.get(kind.key_field()).and_then(Value::as_str)
}

/// The index of the list entry a finding's path is in: `result.tools[3].description` is in
/// entry 3 of `result.tools`, and so is `result.tools[3]` itself (a pin finding) or
/// `result.tools[3].description(json).x`. `None` for a path outside every entry
/// (`result.nextCursor`, `result.tools`, ``).
fn entry_index(path: &str, kind: ListKind) -> Option<usize> {
    let rest = path.strip_prefix("result.")?.strip_prefix(kind.list_key())?.strip_prefix('[')?;
    let end = rest.find(']')?;
    let index = &rest[..end];
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let after = &rest[end + 1..];
    if !(after.is_empty() || after.starts_with(['.', '[', '('])) {
        return None;
    }
    index.parse().ok()
}

impl Proxy {
    /// The server's identity now (see the module documentation).
    fn server(&self) -> Arc<str> {
        self.session.server()
    }

    /// Takes the server's identity from its answer to the handshake ([`Session::identify`]):
    /// logs it, and saves the pins that moved from the command line to the name.
    fn identify(&self, request: &Request, message: &Value) {
        let Some(name) = self.session.identify(request, message) else { return };
        self.log_event(
            "server_identity",
            &format!(
                "the MCP server is `{name}` (its serverInfo): its tools are pinned under that name, not under \
                 its command line `{}`",
                self.command_line
            ),
        );
        if let (Some(pins), Some(path)) = (self.session.pins(), &self.pins_path) {
            if pins.is_dirty() {
                match pins.save(path) {
                    Ok(()) => self.log_event(
                        "pins_moved",
                        &format!("the tool pins kept under the command line now belong to `{name}`"),
                    ),
                    Err(e) => self.log_event("pins_error", &e.to_string()),
                }
            }
        }
    }

    /// Which entries of a blocked list response to withhold, so that the rest can go through:
    /// `None` when the message must be blocked whole.
    ///
    /// Each finding whose own action is `block` ([`Engine::action_for_finding`]) must lie in
    /// an entry (its path is under `result.tools[i]`); one outside every entry
    /// (`result.nextCursor`, `_meta`) blocks the message, as does a `SYS-002` (the scan cap
    /// left some of the message unscanned) or a `SYS-004` (findings not listed, so not
    /// placed). The entries that share the key of a withheld one (a second tool of the same
    /// name) are withheld too: the host must not call that name at all. Indices ascending.
    fn quarantine_plan(&self, verdict: &Verdict, kind: ListKind, message: &Value) -> Option<Vec<usize>> {
        let entries = list_entries(message, kind)?;
        let mut blocking = BTreeSet::new();
        for f in &verdict.findings {
            let rule = &*f.rule;
            let whole = rule == mcp_threatscan::RULE_FINDINGS_NOT_LISTED || rule == mcp_threatscan::RULE_TRUNCATED;
            if self.engine.action_for_finding(f) != Action::Block && !whole {
                continue;
            }
            if whole {
                return None;
            }
            let index = entry_index(&f.path, kind).filter(|&i| i < entries.len())?;
            blocking.insert(index);
        }
        if blocking.is_empty() {
            return None;
        }
        let keys: HashSet<&str> = blocking.iter().filter_map(|&i| entry_key(&entries[i], kind)).collect();
        Some(
            (0..entries.len())
                .filter(|i| blocking.contains(i) || entry_key(&entries[*i], kind).is_some_and(|k| keys.contains(k)))
                .collect(),
        )
    }

    /// Forwards a list response without the entries of `removed`: each one logged and audited
    /// (`decision=quarantine`, with its findings), quarantined in the proxy's state, and the
    /// rest of the message decided by the findings left (logged and audited as any message,
    /// with the entries it lost in `quarantined`), re-serialised.
    fn forward_quarantined(&self, from: Side, message: &Value, verdict: &Verdict, kind: ListKind, removed: &[usize]) {
        let Some(entries) = list_entries(message, kind) else { return };
        let mut withheld: BTreeMap<usize, Vec<Finding>> = removed.iter().map(|&i| (i, Vec::new())).collect();
        let mut rest = verdict.clone();
        rest.findings.clear();
        for f in &verdict.findings {
            match entry_index(&f.path, kind).and_then(|i| withheld.get_mut(&i)) {
                Some(found) => found.push(f.clone()),
                None => rest.findings.push(f.clone()),
            }
        }
        rest.action = rest.findings.iter().map(|f| self.engine.action_for_finding(f)).max().unwrap_or(Action::Allow);
        rest.severity = rest.findings.iter().map(|f| f.severity).max();
        let mut described = Vec::new();
        for &i in removed {
            let entry = &entries[i];
            let key = entry_key(entry, kind);
            let name = entry.get("name").and_then(Value::as_str);
            let mut about = json!({"kind": kind.as_str(), "index": i, "name": name});
            if kind.key_field() != "name" {
                about[kind.key_field()] = json!(key);
            }
            described.push(about.clone());
            let findings = &withheld[&i];
            let mut record = verdict.clone();
            record.findings = findings.clone();
            record.severity = findings.iter().map(|f| f.severity).max();
            record.action = Action::Block;
            if let Some(info) = record.message.as_mut() {
                info.tool = if kind == ListKind::Tool { key.map(str::to_string) } else { None };
            }
            let mut log = Vec::new();
            if kind != ListKind::Tool {
                log.push((kind.as_str(), key.unwrap_or("").to_string()));
            }
            if findings.is_empty() {
                // Withheld for its key: another entry of that key is poisoned.
                log.push(("same_key_as", "a quarantined entry".to_string()));
            }
            log.push(("entry", i.to_string()));
            self.record(from, &record, "quarantine", None, &Extra { audit: vec![("entry", about)], log });
        }
        let count = removed.len().to_string();
        self.record(
            from,
            &rest,
            rest.action.as_str(),
            None,
            &Extra { audit: vec![("quarantined", Value::Array(described))], log: vec![("quarantined", count)] },
        );
        self.update_quarantine(kind, entries, &withheld);
        let mut out = message.clone();
        if let Some(list) = out.get_mut("result").and_then(|r| r.get_mut(kind.list_key())).and_then(Value::as_array_mut)
        {
            let mut index = 0;
            list.retain(|_| {
                let keep = !withheld.contains_key(&index);
                index += 1;
                keep
            });
        }
        self.send(from.other(), &out);
    }

    /// Brings the quarantine up to date with a list the host is sent: the entries of
    /// `withheld` (by index, with their findings) are quarantined under their key; any other
    /// entry of the list is offered cleanly, so its key is released. A key the list does not
    /// mention keeps its state (a later page, or a list that dropped it, releases nothing).
    fn update_quarantine(&self, kind: ListKind, entries: &[Value], withheld: &BTreeMap<usize, Vec<Finding>>) {
        let mut quarantined: HashMap<&str, Vec<Finding>> = HashMap::new();
        for (i, findings) in withheld {
            if let Some(key) = entries.get(*i).and_then(|e| entry_key(e, kind)) {
                quarantined.entry(key).or_default().extend(findings.iter().cloned());
            }
        }
        let mut released = Vec::new();
        {
            let mut quarantine = lock(&self.quarantine);
            for entry in entries {
                let Some(key) = entry_key(entry, kind) else { continue };
                if !quarantined.contains_key(key) && quarantine.remove(&(kind, key.to_string())).is_some() {
                    released.push(key.to_string());
                }
            }
            for (key, findings) in quarantined {
                quarantine.insert((kind, key.to_string()), Quarantined { findings });
            }
        }
        for key in released {
            let detail = format!(
                "{} `{key}` is no longer quarantined: {} offers it without a finding that blocks",
                kind.noun(),
                kind.list_method()
            );
            self.log_line(&[("event", "quarantine_release"), ("kind", kind.as_str())], &detail);
            self.audit_record(json!({
                "time": now(), "method": kind.list_method(),
                "tool": if kind == ListKind::Tool { Some(&key) } else { None },
                "direction": "response", "source": "server", "decision": "release",
                "entry": {"kind": kind.as_str(), "key": key}, "findings": [],
            }));
        }
    }

    /// The refusal of a host request that uses a quarantined entry (`tools/call` of a
    /// quarantined tool, `prompts/get` of a quarantined prompt, `resources/read` of a
    /// quarantined resource's URI): its verdict blocked, with the entry's findings.
    fn refusal(&self, verdict: &Verdict, message: &Value) -> Option<Refusal> {
        let method = message.get("method").and_then(Value::as_str)?;
        let (kind, param) = ListKind::of_use(method)?;
        let key = message.get("params")?.get(param)?.as_str()?;
        let findings = {
            let quarantine = lock(&self.quarantine);
            quarantine.get(&(kind, key.to_string()))?.findings.clone()
        };
        let mut refused = verdict.clone();
        refused.findings.splice(0..0, findings);
        refused.action = Action::Block;
        refused.severity = refused.findings.iter().map(|f| f.severity).max();
        let headline =
            format!("{} `{key}` is quarantined (withheld from the host's {})", kind.noun(), kind.list_method());
        Some(Refusal { verdict: refused, headline, kind, key: key.to_string() })
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
