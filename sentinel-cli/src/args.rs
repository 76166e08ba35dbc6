//! The command line: subcommands and their flags (clap derive).

use clap::{Args, Parser, Subcommand, ValueEnum};
use mcp_threatscan::{Action, FailMode, Profile};
use std::num::NonZeroUsize;
use std::path::PathBuf;

/// Threat detection for Model Context Protocol (MCP) traffic.
#[derive(Debug, Parser)]
#[command(name = "sentinel", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Scan MCP event logs and report one verdict per event.
    ///
    /// Reads a JSON object, a JSON array of objects, NDJSON or concatenated objects from each
    /// FILE, or from standard input when there is none or FILE is `-`. Exits with 0 when no
    /// event is blocked, 1 when one is, and 2 on a usage error or when an event could not be
    /// read (the readable ones are still scanned and reported).
    Scan(ScanArgs),
    /// Score the detectors on a labelled corpus: recall and precision per category, the share
    /// of threats warned or blocked, and the false-alarm rates on benign items.
    Eval(EvalArgs),
    /// List every rule (code, detector, category, severity, name), or explain one.
    Rules(RulesArgs),
    /// Guard an MCP server: spawn it and relay its stdio JSON-RPC, scanning every message.
    ///
    /// `sentinel proxy [OPTIONS] -- COMMAND [ARGS...]`, or `sentinel proxy [OPTIONS] --target
    /// COMMAND [ARGS...]` (everything after --target's command belongs to the command). Requests
    /// are scanned before they reach the server and responses before they reach the host; a
    /// blocked message is answered with a JSON-RPC error (code -32051) naming the detector,
    /// severity and reason. Flags override the SENTINEL_MCP_* environment variables, which
    /// override SENTINEL_HOOK_*. The proxy exits with the server's exit status.
    Proxy(ProxyArgs),
}

/// How a blocked `tools/call` is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum BlockStyle {
    /// A JSON-RPC error (code -32051) with the verdict in `error.data.sentinel`.
    Error,
    /// A `tools/call` result with `isError: true` and the reason as text, so the model sees
    /// the failure (other methods still get the JSON-RPC error).
    ToolError,
}

/// The flags of `sentinel proxy`.
#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// MIME types of resource blobs to decode and scan, comma-separated; a trailing `/`
    /// matches any subtype [env: SENTINEL_MCP_SCAN_MIMES; default:
    /// text/,application/json,application/xml,application/yaml].
    #[arg(long, value_name = "LIST")]
    pub(crate) scan_mimes: Option<String>,

    /// Shutdown grace, in seconds: after the host leaves, the server gets this long to exit
    /// once its stdin is closed, then SIGTERM, then this long again before SIGKILL
    /// [env: SENTINEL_MCP_TIMEOUT_SEC; default: 5].
    #[arg(long, value_name = "SECS")]
    pub(crate) timeout: Option<f64>,

    /// Largest message (one JSON-RPC line, without its newline) the proxy relays, in bytes; a
    /// longer one is never forwarded, the rest of it is discarded as it arrives, and the peer
    /// waiting on its id gets an error [env: SENTINEL_MCP_MAX_MESSAGE_BYTES; default: 67108864].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_message_bytes: Option<u64>,

    /// Log decisions as NDJSON on standard error [env: SENTINEL_MCP_LOG_JSON=1].
    #[arg(long)]
    pub(crate) log_json: bool,

    /// Also log allowed messages [env: SENTINEL_HOOK_VERBOSE=1].
    #[arg(long, short = 'v')]
    pub(crate) verbose: bool,

    /// Append one NDJSON record per scanned message to FILE (time, server, method, tool,
    /// direction, id, decision, findings).
    #[arg(long, value_name = "FILE")]
    pub(crate) audit: Option<PathBuf>,

    /// How a blocked tools/call is answered.
    #[arg(long, value_enum, default_value = "error", value_name = "STYLE")]
    pub(crate) block_style: BlockStyle,

    /// Tool-pin store: tool definitions as first seen, to report changed ones (MCP-001) and
    /// shadowed names (MCP-002) [env: SENTINEL_MCP_PINS; default:
    /// $XDG_STATE_HOME/sentinel/tool-pins.json or ~/.local/state/sentinel/tool-pins.json].
    #[arg(long, value_name = "FILE", conflicts_with = "no_pins")]
    pub(crate) pins: Option<PathBuf>,

    /// Do not pin tool definitions.
    #[arg(long)]
    pub(crate) no_pins: bool,

    /// The server's identity: the key of its tool pins, and its name in verdicts, logs and
    /// audit records [default: the name the server reports in its initialize result
    /// (serverInfo.name, not its version), its command line until then; audit records name it
    /// by the command line as `server`, by the identity as `server_identity`].
    #[arg(long, value_name = "NAME")]
    pub(crate) server_name: Option<String>,

    #[command(flatten)]
    pub(crate) engine: EngineArgs,

    /// The MCP server to run, after `--` (or after `--target`).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub(crate) command: Vec<std::ffi::OsString>,
}

/// Rewrites `sentinel proxy … --target CMD ARGS…` into `sentinel proxy … -- CMD ARGS…`, so that
/// every argument after the command belongs to it, as in shared/seeds/003.
pub(crate) fn rewrite_target(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.get(1).is_none_or(|a| a != "proxy") {
        return args;
    }
    for i in 2..args.len() {
        let arg = args[i].to_string_lossy().into_owned();
        if arg == "--" {
            break;
        }
        if arg == "--target" {
            args[i] = "--".into();
            break;
        }
        if let Some(command) = arg.strip_prefix("--target=") {
            let command = std::ffi::OsString::from(command);
            args[i] = "--".into();
            args.insert(i + 1, command);
            break;
        }
    }
    args
}

/// The output format of `sentinel scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// A report of the warned, blocked and unreadable events, and totals.
    Human,
    /// One JSON object per event, in input order.
    Ndjson,
}

/// The flags of `sentinel scan`.
#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// Event logs to scan (`-` is standard input; the default when none is given).
    #[arg(value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,

    /// Output format [default: human on a terminal, ndjson otherwise].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub(crate) format: Option<Format>,

    /// Worker threads [default: all cores].
    #[arg(long, short = 'j', value_name = "N")]
    pub(crate) jobs: Option<NonZeroUsize>,

    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

/// The flags that shape the engine, shared by every subcommand. Flags override the
/// configuration file.
#[derive(Debug, Args)]
pub(crate) struct EngineArgs {
    /// A rule pack (TOML) to add to the built-in rules; repeatable.
    #[arg(long = "rules", value_name = "FILE")]
    pub(crate) rules: Vec<PathBuf>,

    /// Engine configuration (TOML, the fields of mcp_threatscan::Config).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Which detectors run.
    #[arg(long, value_name = "security|all")]
    pub(crate) profile: Option<Profile>,

    /// Action for critical findings: allow, warn or block.
    #[arg(long, value_name = "ACTION")]
    pub(crate) on_critical: Option<Action>,

    /// Action for high findings: allow, warn or block.
    #[arg(long, value_name = "ACTION")]
    pub(crate) on_high: Option<Action>,

    /// Action for medium findings: allow, warn or block.
    #[arg(long, value_name = "ACTION")]
    pub(crate) on_medium: Option<Action>,

    /// Action for low findings: allow, warn or block.
    #[arg(long, value_name = "ACTION")]
    pub(crate) on_low: Option<Action>,

    /// What an unreadable event gets: fail_closed blocks it, fail_open allows it.
    #[arg(long, value_name = "fail_closed|fail_open")]
    pub(crate) fail_mode: Option<FailMode>,

    /// Scan each string (each message, for the proxy) up to this many bytes; the rest is
    /// reported as not scanned.
    #[arg(long, value_name = "N")]
    pub(crate) max_scan_bytes: Option<usize>,
}

/// The flags of `sentinel eval`.
#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// A labelled corpus in the format of shared/corpus/dev.jsonl (JSON Lines of
    /// `{"id", "labels", "event", "also_ok"?}`).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value = "human", value_name = "FORMAT")]
    pub(crate) format: ReportFormat,

    /// Also list the items of this category that were missed (repeatable).
    #[arg(long, value_name = "CATEGORY")]
    pub(crate) misses: Vec<String>,

    /// Also list the false positives of this category, or `benign` for the benign items that
    /// were warned or blocked (repeatable).
    #[arg(long, value_name = "CATEGORY")]
    pub(crate) false_positives: Vec<String>,

    /// Worker threads [default: all cores].
    #[arg(long, short = 'j', value_name = "N")]
    pub(crate) jobs: Option<NonZeroUsize>,

    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

/// The flags of `sentinel rules`.
#[derive(Debug, Args)]
pub(crate) struct RulesArgs {
    /// Explain this rule (its code) instead of listing every rule.
    #[arg(value_name = "CODE")]
    pub(crate) code: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value = "human", value_name = "FORMAT")]
    pub(crate) format: ReportFormat,

    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

/// The output format of `sentinel eval` and `sentinel rules`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    /// Text for people.
    Human,
    /// JSON.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn actions_are_case_insensitive_and_flags_parse() {
        let cli = Cli::try_parse_from([
            "sentinel",
            "scan",
            "--on-critical",
            "Warn",
            "--fail-mode",
            "fail_open",
            "--profile",
            "ALL",
            "-j",
            "3",
            "a.json",
            "-",
        ])
        .unwrap();
        let Command::Scan(args) = cli.command else { panic!("not scan") };
        assert_eq!(args.engine.on_critical, Some(Action::Warn));
        assert_eq!(args.engine.fail_mode, Some(FailMode::Open));
        assert_eq!(args.engine.profile, Some(Profile::All));
        assert_eq!(args.jobs.map(NonZeroUsize::get), Some(3));
        assert_eq!(args.files.len(), 2);
        assert!(Cli::try_parse_from(["sentinel", "scan", "--on-high", "explode"]).is_err());
        assert!(Cli::try_parse_from(["sentinel", "scan", "--jobs", "0"]).is_err());
    }

    fn proxy(args: &[&str]) -> ProxyArgs {
        let args = rewrite_target(args.iter().map(Into::into).collect());
        let Command::Proxy(p) = Cli::try_parse_from(args).unwrap().command else { panic!("not proxy") };
        p
    }

    #[test]
    fn proxy_takes_the_command_after_dashes_or_target() {
        let p = proxy(&["sentinel", "proxy", "--on-high", "warn", "--", "uvx", "srv", "--on-high", "x"]);
        assert_eq!(p.engine.on_high, Some(Action::Warn));
        assert_eq!(p.command, ["uvx", "srv", "--on-high", "x"]);
        // Everything after --target's command belongs to the command, flags included.
        let p = proxy(&["sentinel", "proxy", "--log-json", "--target", "npx", "-y", "pkg", "--audit", "a"]);
        assert!(p.log_json);
        assert_eq!(p.audit, None);
        assert_eq!(p.command, ["npx", "-y", "pkg", "--audit", "a"]);
        let p = proxy(&["sentinel", "proxy", "--target=node", "server.js"]);
        assert_eq!(p.command, ["node", "server.js"]);
        // A --target after -- is the command's.
        let p = proxy(&["sentinel", "proxy", "--", "srv", "--target", "x"]);
        assert_eq!(p.command, ["srv", "--target", "x"]);
        assert!(Cli::try_parse_from(["sentinel", "proxy"]).is_err(), "a command is required");
    }

    #[test]
    fn proxy_max_message_bytes_is_a_positive_number() {
        assert_eq!(
            proxy(&["sentinel", "proxy", "--max-message-bytes", "65536", "--", "srv"]).max_message_bytes,
            Some(65536)
        );
        assert_eq!(proxy(&["sentinel", "proxy", "--", "srv"]).max_message_bytes, None);
        for bad in ["0", "-1", "lots"] {
            assert!(
                Cli::try_parse_from(["sentinel", "proxy", "--max-message-bytes", bad, "--", "srv"]).is_err(),
                "{bad}"
            );
        }
    }
}
