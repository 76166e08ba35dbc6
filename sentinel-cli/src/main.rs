//! The `sentinel` command: threat detection for MCP traffic from the shell.
//!
//! `sentinel proxy` guards an MCP server: it spawns it, relays its stdio JSON-RPC and answers
//! threats with a JSON-RPC error instead of passing them on.
//!
//! `sentinel eval` scores the detectors on a labelled corpus; `sentinel rules` lists and
//! explains the rule catalogue.
//!
//! `sentinel scan` reads MCP event logs (a JSON object, an array of objects, NDJSON or
//! concatenated objects, from files or standard input), scans every event with
//! [`mcp_threatscan`] on all cores and reports one verdict per event, as NDJSON for machines
//! or as a short human report. The exit code says whether anything must be blocked: 0 nothing,
//! 1 at least one event reaches `block`, 2 a usage error or an event that could not be read.

mod args;
mod eval;
mod output;
mod proxy;
mod rules;
mod scan;
mod settings;

use clap::Parser;
use std::process::ExitCode;

/// Exit code: nothing reached `block`.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: at least one event reached `block`.
pub(crate) const EXIT_BLOCKED: u8 = 1;
/// Exit code: a usage error, or an input or event that could not be read.
pub(crate) const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse_from(args::rewrite_target(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { EXIT_OK });
        }
    };
    let code = match cli.command {
        args::Command::Scan(args) => scan::run(&args),
        args::Command::Eval(args) => eval::run(&args),
        args::Command::Rules(args) => rules::run(&args),
        args::Command::Proxy(args) => proxy::run(args),
    };
    ExitCode::from(code)
}

/// Prints `sentinel: <message>` on standard error, ignoring a closed stderr.
pub(crate) fn report(message: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "sentinel: {message}");
}
