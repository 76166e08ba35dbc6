//! The overhead of `sentinel proxy` per MCP message.
//!
//! What is measured: the round trip of one `tools/call` request and its result over stdio,
//! as a host sees it: write the request line, read the response line. Twice in the same run:
//!
//! - `proxy/direct/<size>`: straight to a minimal MCP server (`src/bin/mcp-echo-server.rs`, which
//!   echoes `arguments.text` back as text content);
//! - `proxy/proxied/<size>`: the same server behind `sentinel proxy --no-pins -- <server>`,
//!   which parses and scans the request before it reaches the server and the result before it
//!   reaches the host (built-in rules, default policy; nothing is blocked or logged).
//!
//! - `proxy/scan/<size>`: in this process, what the proxy computes for the pair: parse the
//!   request line and `Engine::scan_message_with` it, the same for the response (warm scratch,
//!   built-in rules).
//!
//! The difference between `proxied` and `direct` is the proxy's cost per request–response
//! pair: two extra pipe hops and thread wake-ups, two JSON parses and two scans; `scan` says how
//! much of it is the engine. `<size>` is the bytes of benign text in `arguments.text` (the
//! result carries it back, so both directions scan it): 256 B, 4 KB and 64 KB of the seeded
//! filler of `sentinel_benches::inputs`, which the built-in pack finds nothing in. After the
//! criterion groups, a summary prints the median and 99th percentile of both round trips, of
//! the scans, and the overhead, over alternating round trips.
//!
//! Needs the release `sentinel` binary: `cargo build --release -p mcp-threatscan-cli`, then
//! `cargo bench -p sentinel-benches --bench proxy` (`SENTINEL_BIN` points elsewhere). About two
//! minutes on two cores. Figures are in BENCHMARKS.md.

use criterion::{BenchmarkId, Criterion, Throughput};
use mcp_threatscan::{Direction, Engine, MessageContext, Scratch};
use sentinel_benches::inputs::{Input, Mix, SIZES};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const ECHO_SERVER: &str = env!("CARGO_BIN_EXE_mcp-echo-server");

/// The release `sentinel` binary: `$SENTINEL_BIN`, else `target/release/sentinel`.
fn sentinel_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("SENTINEL_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("release").join("sentinel");
    if !path.is_file() {
        panic!(
            "{} not found: the proxy bench runs the release build of sentinel. \
             Build it first with `cargo build --release -p mcp-threatscan-cli` (or set SENTINEL_BIN).",
            path.display()
        );
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sentinel-cli/src/proxy.rs");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(bin), Some(src)) = (modified(&path), modified(&source)) {
        if src > bin {
            eprintln!(
                "warning: {} is older than sentinel-cli/src/proxy.rs: run `cargo build --release -p mcp-threatscan-cli`",
                path.display()
            );
        }
    }
    path
}

/// A running MCP server (or proxy) with its stdio: one request line in, one response line out.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    line: Vec<u8>,
}

impl Session {
    fn spawn(program: &Path, args: &[&str]) -> Session {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::with_capacity(1 << 20, child.stdout.take().expect("piped stdout"));
        let mut session = Session { child, stdin: Some(stdin), stdout, line: Vec::with_capacity(1 << 20) };
        let init = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;
        session.round_trip(&[init.as_slice(), b"\n"].concat());
        session
    }

    /// Writes one request line, reads one response line; returns the response.
    fn round_trip(&mut self, request: &[u8]) -> &[u8] {
        let stdin = self.stdin.as_mut().expect("open stdin");
        stdin.write_all(request).expect("write a request");
        stdin.flush().expect("flush a request");
        self.line.clear();
        let n = self.stdout.read_until(b'\n', &mut self.line).expect("read a response");
        assert!(n > 0, "the server closed its stdout");
        &self.line
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        drop(self.stdin.take()); // end of input: the server (and the proxy) exit
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The two ways to reach the server.
fn sessions() -> [(&'static str, Session); 2] {
    let sentinel = sentinel_bin();
    [
        ("direct", Session::spawn(Path::new(ECHO_SERVER), &[])),
        ("proxied", Session::spawn(&sentinel, &["proxy", "--no-pins", "--timeout", "1", "--", ECHO_SERVER])),
    ]
}

/// A `tools/call` request line carrying about `size` bytes of benign text.
fn request(size: usize, label: &str) -> Vec<u8> {
    let event = Input::new(Mix::Benign, size, label).event;
    let arguments = event.metadata.as_ref().and_then(|m| m["arguments"].as_str()).unwrap_or_default();
    let mut text = [event.prompt.as_str(), event.response.as_str(), arguments].join(" ");
    let mut cut = size.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    let message = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": text}},
    });
    let mut line = serde_json::to_vec(&message).expect("a request serialises");
    line.push(b'\n');
    line
}

/// Checks that a response is the echo's result (the proxy did not block the bench input).
fn check(response: &[u8], how: &str) {
    let value: serde_json::Value = serde_json::from_slice(response).expect("a JSON response");
    assert!(
        value.get("result").is_some(),
        "{how}: the bench request was not answered with a result: {}",
        String::from_utf8_lossy(&response[..response.len().min(500)])
    );
}

/// What the proxy does with one request and its response, in this process: parse each line,
/// scan it as the proxy does (the response knowing it answers a `tools/call` of `echo`).
struct Scan {
    engine: Engine,
    scratch: Scratch,
}

impl Scan {
    fn new() -> Scan {
        let engine = Engine::new().expect("the built-in pack builds");
        let scratch = engine.create_scratch();
        Scan { engine, scratch }
    }

    /// Parses and scans both lines; returns the number of findings (none, for the bench input).
    fn pair(&mut self, request: &[u8], response: &[u8]) -> usize {
        let request: serde_json::Value = serde_json::from_slice(request).expect("a JSON request");
        let context = MessageContext::default();
        let mut findings =
            self.engine.scan_message_with(&mut self.scratch, &request, Direction::Request, &context).findings.len();
        let response: serde_json::Value = serde_json::from_slice(response).expect("a JSON response");
        let context = MessageContext { method: Some("tools/call"), tool: Some("echo"), ..MessageContext::default() };
        findings +=
            self.engine.scan_message_with(&mut self.scratch, &response, Direction::Response, &context).findings.len();
        findings
    }
}

fn bench_round_trip(c: &mut Criterion, sessions: &mut [(&'static str, Session); 2], scan: &mut Scan) {
    let mut group = c.benchmark_group("proxy");
    group.measurement_time(Duration::from_secs(5));
    for &(size, label) in &SIZES {
        let line = request(size, label);
        group.throughput(Throughput::Elements(1));
        let mut response = Vec::new();
        for (how, session) in sessions.iter_mut() {
            response = session.round_trip(&line).to_vec();
            check(&response, how);
            group.bench_with_input(BenchmarkId::new(*how, label), &line, |b, line| {
                b.iter(|| session.round_trip(line).len())
            });
        }
        assert_eq!(
            scan.pair(&line, &response),
            0,
            "the bench input has findings: the proxy would not relay it unchanged"
        );
        group.bench_with_input(BenchmarkId::new("scan", label), &line, |b, line| b.iter(|| scan.pair(line, &response)));
    }
    group.finish();
}

/// Median and 99th percentile, in microseconds, of alternating round trips each way and of
/// the in-process scans of the same pair.
fn summary(sessions: &mut [(&'static str, Session); 2], scan: &mut Scan) {
    println!();
    println!("sentinel proxy: cost per tools/call round trip, µs (median / 99th percentile)");
    println!(
        "{:>6} {:>6}  {:>15}  {:>17}  {:>17}  {:>17}",
        "size", "rounds", "direct", "proxied", "overhead", "of which scans"
    );
    for &(size, label) in &SIZES {
        // About two seconds of round trips per size on an idle machine.
        let rounds = match size {
            s if s <= 1024 => 2_000,
            s if s <= 8 << 10 => 500,
            _ => 60,
        };
        let line = request(size, label);
        let response = sessions[0].1.round_trip(&line).to_vec();
        let mut times: [Vec<f64>; 3] = std::array::from_fn(|_| Vec::with_capacity(rounds));
        for _ in 0..rounds {
            for (i, (_, session)) in sessions.iter_mut().enumerate() {
                let start = Instant::now();
                std::hint::black_box(session.round_trip(&line).len());
                times[i].push(start.elapsed().as_secs_f64() * 1e6);
            }
            let start = Instant::now();
            std::hint::black_box(scan.pair(&line, &response));
            times[2].push(start.elapsed().as_secs_f64() * 1e6);
        }
        let pct = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
            (at(0.5), at(0.99))
        };
        let [direct, proxied, scans] = &mut times;
        let ((d50, d99), (p50, p99), (s50, s99)) = (pct(direct), pct(proxied), pct(scans));
        println!(
            "{label:>6} {rounds:>6}  {d50:>7.1} / {d99:>5.1}  {p50:>8.1} / {p99:>6.1}  {:>8.1} / {:>6.1}  {s50:>8.1} / {s99:>6.1}",
            p50 - d50,
            p99 - d99,
        );
    }
}

fn main() {
    let mut sessions = sessions();
    let mut scan = Scan::new();
    let mut c = Criterion::default().configure_from_args();
    bench_round_trip(&mut c, &mut sessions, &mut scan);
    c.final_summary();
    summary(&mut sessions, &mut scan);
}
