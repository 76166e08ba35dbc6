//! Engine configuration: plain data, (de)serialisable, validated when the engine is built.

use crate::error::{position_of, BuildError, Kind};
use crate::severity::{ActionMap, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Which detectors run. `security` (the default) runs the detectors that work well on
/// structured MCP tool data; `all` adds the noisier ones (as `SENTINEL_MCP_DETECTORS` in
/// the proxy specification).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The security detectors only (default).
    #[default]
    Security,
    /// Every detector.
    All,
}

impl Profile {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Security => "security",
            Profile::All => "all",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = crate::severity::ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "security" => Ok(Profile::Security),
            "all" => Ok(Profile::All),
            _ => Err(crate::severity::ParseEnumError::new("profile", s, "security, all")),
        }
    }
}

/// What happens when an input cannot be parsed or scanned. There is no implicit choice: the
/// default is [`FailMode::Closed`], and failing open must be asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Block, with a finding that says why (default).
    #[default]
    #[serde(rename = "fail_closed", alias = "closed")]
    Closed,
    /// Allow, and still report a finding that says why.
    #[serde(rename = "fail_open", alias = "open")]
    Open,
}

impl FromStr for FailMode {
    type Err = crate::severity::ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "fail_closed" | "closed" => Ok(FailMode::Closed),
            "fail_open" | "open" => Ok(FailMode::Open),
            _ => Err(crate::severity::ParseEnumError::new("fail mode", s, "fail_closed, fail_open")),
        }
    }
}

/// Size limits. Character counts are Unicode scalar values (Python's `len`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// A prompt longer than this many characters is reported as oversize (default 3,000).
    pub max_prompt_chars: usize,
    /// A response longer than this many characters is reported as oversize (default 5,000).
    pub max_response_chars: usize,
    /// How many UTF-8 bytes of text one event or one MCP message may have scanned, counted
    /// over all its strings (default 16 MiB: well above ordinary traffic; the scan is linear,
    /// about a millisecond per 100 KB). Content past it is not scanned and is never let through
    /// on trust: one `SYS-002` finding reports it and the fail mode decides (blocked under
    /// `fail_closed`, allowed with the finding under `fail_open`). Many short strings use it up
    /// as one long one does.
    pub max_scan_bytes: usize,
}

/// The default [`Limits::max_scan_bytes`]: 16 MiB.
pub const DEFAULT_MAX_SCAN_BYTES: usize = 16 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits { max_prompt_chars: 3_000, max_response_chars: 5_000, max_scan_bytes: DEFAULT_MAX_SCAN_BYTES }
    }
}

/// Tool-name policy. Entries are case-insensitive globs (`*` and `?`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolPolicy {
    /// When not empty, only tools matching one of these globs may be called.
    pub allow: Vec<String>,
    /// Tools that may never be called.
    pub deny: Vec<String>,
    /// Tools that give arbitrary command or code execution on a host. The default holds
    /// `os_shell` (the detection specification) and the common names of shell and code-execution tools:
    /// see [`DEFAULT_DANGEROUS_TOOLS`].
    pub dangerous: Vec<String>,
    /// Tools whose results are the contents of files or documents: code, SQL or command
    /// injection and path traversal in such a result (and in a `resources/read` result) are
    /// data, not an attack on the host, and are reported with low confidence (see
    /// [`crate::Confidence`]). The default is [`DEFAULT_DOCUMENT_TOOLS`]; prompt injection, secrets
    /// and personal data in the same content are judged as anywhere else.
    pub documents: Vec<String>,
}

/// The default document-tool list: the common names of tools that return a file's contents,
/// and `resources/read` (an event logged for that MCP method names it as its tool).
pub const DEFAULT_DOCUMENT_TOOLS: &[&str] = &[
    "read_file",
    "read_text_file",
    "read_multiple_files",
    "read_file_*",
    "file_read",
    "fs_read*",
    "get_file_contents",
    "get_file_content",
    "view_file",
    "open_file",
    "cat_file",
    "read_resource",
    "resources/read",
];

/// The default dangerous-tool list: shell and code-execution tools under their common names
/// (case-insensitive globs). `os_shell` is the seed's; the others are the names MCP servers
/// and agent frameworks give the same capability.
pub const DEFAULT_DANGEROUS_TOOLS: &[&str] = &[
    "os_shell",
    "*shell_exec*",
    "shell",
    "run_shell*",
    "bash",
    "zsh",
    "sh",
    "powershell",
    "pwsh",
    "cmd",
    "cmd_exec*",
    "terminal",
    "run_in_terminal",
    "*terminal_exec*",
    "exec",
    "exec_command",
    "execute_command",
    "run_command",
    "run_cmd",
    "system_exec*",
    "subprocess*",
    "execute_code",
    "code_exec*",
    "run_code",
    "python_exec*",
    "run_python",
    "eval",
    "ssh_exec*",
    "remote_exec*",
    "sentinel_exec",
    "sentinel_script_run",
];

impl Default for ToolPolicy {
    fn default() -> Self {
        ToolPolicy {
            allow: Vec::new(),
            deny: Vec::new(),
            dangerous: DEFAULT_DANGEROUS_TOOLS.iter().map(|s| s.to_string()).collect(),
            documents: DEFAULT_DOCUMENT_TOOLS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Per-detector settings, keyed by detector code in [`Config::detectors`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// `Some(false)` turns the detector off, `Some(true)` turns it on whatever the profile.
    pub enabled: Option<bool>,
    /// Findings of this detector are raised to at least this severity.
    pub severity_floor: Option<Severity>,
    /// Findings of this detector are lowered to at most this severity.
    pub severity_cap: Option<Severity>,
}

/// Everything that shapes an [`Engine`](crate::Engine) apart from the rules themselves.
///
/// ```
/// use mcp_threatscan::{Config, Action, Severity};
/// let mut config = Config::default();
/// config.actions.set(Severity::Medium, Action::Block);
/// config.limits.max_scan_bytes = 1 << 20;
/// let engine = mcp_threatscan::Engine::builder().config(config).build().unwrap();
/// # let _ = engine;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Which detectors run.
    pub profile: Profile,
    /// The severity → action table.
    pub actions: ActionMap,
    /// Per-detector settings by detector code (e.g. `"SEC-01"`).
    pub detectors: BTreeMap<String, DetectorConfig>,
    /// Tool-name policy.
    pub tools: ToolPolicy,
    /// Size limits.
    pub limits: Limits,
    /// How MCP messages are scanned ([`crate::Engine::scan_message`]).
    pub mcp: McpConfig,
    /// What happens when an input cannot be parsed or scanned.
    pub fail_mode: FailMode,
}

impl Config {
    /// A configuration from TOML text, with the keys of [`Config`] (`profile`, `actions`,
    /// `detectors`, `tools`, `limits`, `mcp`, `fail_mode`); missing keys keep their defaults,
    /// unknown keys are errors. `source` names the text in errors (a file name or a label).
    ///
    /// ```
    /// let config = mcp_threatscan::Config::from_toml("sentinel.toml", "fail_mode = \"open\"\n[limits]\nmax_scan_bytes = 4096\n").unwrap();
    /// assert_eq!(config.limits.max_scan_bytes, 4096);
    /// let err = mcp_threatscan::Config::from_toml("sentinel.toml", "[limits]\nmax_scan_bytez = 1\n").unwrap_err();
    /// assert_eq!(err.kind(), mcp_threatscan::ErrorKind::Config);
    /// assert_eq!(err.position().map(|p| p.line), Some(2));
    /// ```
    pub fn from_toml(source: &str, text: &str) -> Result<Config, BuildError> {
        toml::from_str::<Config>(text).map_err(|e| {
            let position = e.span().map(|s| position_of(text, s.start));
            BuildError::new(Kind::ConfigText {
                source: source.to_string(),
                position,
                message: e.message().trim_end().to_string(),
            })
        })
    }

    /// Sets one option by name, with its value in JSON form: the options every binding takes
    /// (keyword arguments, an options object), each one of [`Config::OPTIONS`]. `profile` and
    /// `fail_mode` are names (`"security"`, `"fail_open"`); `actions` maps severity names to
    /// action names and changes only those; `max_scan_bytes`, `max_prompt_chars`,
    /// `max_response_chars` and `max_json_depth` are non-negative integers; `scan_mimes` is a
    /// list of MIME types or prefixes; `tools` and `detectors` are the objects of
    /// [`ToolPolicy`] and [`Config::detectors`]. An error names the option
    /// ([`BuildError::option`]).
    ///
    /// ```
    /// use serde_json::json;
    /// let mut config = mcp_threatscan::Config::default();
    /// config.set_option("actions", &json!({"medium": "block"})).unwrap();
    /// config.set_option("max_scan_bytes", &json!(4096)).unwrap();
    /// assert_eq!(config.limits.max_scan_bytes, 4096);
    /// let err = config.set_option("fail_mode", &json!("maybe")).unwrap_err();
    /// assert_eq!(err.option(), Some("fail_mode"));
    /// ```
    pub fn set_option(&mut self, name: &str, value: &serde_json::Value) -> Result<(), BuildError> {
        use serde_json::Value;
        let err = |message: String| BuildError::new(Kind::Option { name: name.to_string(), message });
        let kind = crate::event::json_type;
        let string =
            |v: &Value| v.as_str().map(str::to_string).ok_or_else(|| err(format!("must be a string, not {}", kind(v))));
        let count = |v: &Value| {
            v.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| err("must be a non-negative integer that fits in 64 bits".into()))
        };
        match name {
            "profile" => self.profile = Profile::from_str(&string(value)?).map_err(|e| err(e.to_string()))?,
            "fail_mode" => self.fail_mode = FailMode::from_str(&string(value)?).map_err(|e| err(e.to_string()))?,
            "actions" => {
                let Value::Object(map) = value else {
                    return Err(err(format!("must map severity names to action names, not {}", kind(value))));
                };
                for (severity, action) in map {
                    let severity = Severity::from_str(severity).map_err(|e| err(e.to_string()))?;
                    let action = crate::Action::from_str(&string(action)?).map_err(|e| err(e.to_string()))?;
                    self.actions.set(severity, action);
                }
            }
            "max_scan_bytes" => self.limits.max_scan_bytes = count(value)?,
            "max_prompt_chars" => self.limits.max_prompt_chars = count(value)?,
            "max_response_chars" => self.limits.max_response_chars = count(value)?,
            "max_json_depth" => self.mcp.max_json_depth = count(value)?,
            "scan_mimes" => {
                let Value::Array(items) = value else {
                    return Err(err(format!("must be a list of MIME types, not {}", kind(value))));
                };
                let mimes: Result<Vec<String>, _> =
                    items.iter().map(|m| string(m).map(|m| m.trim().to_ascii_lowercase())).collect();
                self.mcp.scan_mimes = mimes?;
            }
            "tools" => self.tools = serde_json::from_value(value.clone()).map_err(|e| err(e.to_string()))?,
            "detectors" => self.detectors = serde_json::from_value(value.clone()).map_err(|e| err(e.to_string()))?,
            _ => return Err(err(format!("no such option (the options are {})", Config::OPTIONS.join(", ")))),
        }
        Ok(())
    }

    /// The options of [`Config::set_option`].
    pub const OPTIONS: &'static [&'static str] = &[
        "profile",
        "fail_mode",
        "actions",
        "max_scan_bytes",
        "max_prompt_chars",
        "max_response_chars",
        "scan_mimes",
        "max_json_depth",
        "tools",
        "detectors",
    ];

    /// A configuration from JSON text, with the same keys as [`Config::from_toml`] (what the
    /// bindings pass on as an object).
    ///
    /// ```
    /// let config = mcp_threatscan::Config::from_json("options", r#"{"profile": "all", "tools": {"deny": ["rm"]}}"#).unwrap();
    /// assert_eq!(config.tools.deny, vec!["rm".to_string()]);
    /// ```
    pub fn from_json(source: &str, text: &str) -> Result<Config, BuildError> {
        serde_json::from_str::<Config>(text).map_err(|e| {
            // serde_json counts lines from 1 and columns from 1 (0 when it has no position).
            let position = (e.line() > 0).then(|| {
                let line_start: usize = text.split_inclusive('\n').take(e.line() - 1).map(str::len).sum();
                let offset = text[line_start.min(text.len())..]
                    .char_indices()
                    .nth(e.column().saturating_sub(1))
                    .map_or(text.len(), |(i, _)| line_start + i);
                position_of(text, offset)
            });
            let message = e.to_string();
            // serde_json appends " at line L column C": the position says it.
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            BuildError::new(Kind::ConfigText { source: source.to_string(), position, message })
        })
    }
}

/// How MCP messages are scanned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// MIME types whose `blob` resource contents are decoded and scanned (the proxy specification
    /// `SENTINEL_MCP_SCAN_MIMES`). An entry ending in `/` matches any subtype (`text/`);
    /// matching ignores case and parameters (`text/plain; charset=utf-8`). A resource without
    /// a MIME type is always scanned, and a `text` field is always scanned whatever its label.
    pub scan_mimes: Vec<String>,
    /// How deep strings that hold JSON are parsed and scanned as JSON (JSON inside a string
    /// inside a string, …). 0 scans such strings as plain text only.
    pub max_json_depth: usize,
}

/// The default [`McpConfig::scan_mimes`], as in the proxy specification.
pub const DEFAULT_SCAN_MIMES: &[&str] = &["text/", "application/json", "application/xml", "application/yaml"];

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig { scan_mimes: DEFAULT_SCAN_MIMES.iter().map(|s| s.to_string()).collect(), max_json_depth: 3 }
    }
}

impl McpConfig {
    /// Parses a comma-separated MIME list (`text/,application/json`), as in
    /// `SENTINEL_MCP_SCAN_MIMES`. Empty entries are ignored.
    pub fn parse_mimes(list: &str) -> Vec<String> {
        list.split(',').map(|m| m.trim().to_ascii_lowercase()).filter(|m| !m.is_empty()).collect()
    }

    /// True when a resource of this MIME type is scanned: it has none, or it is on the list.
    pub fn scans_mime(&self, mime: Option<&str>) -> bool {
        let Some(mime) = mime else { return true };
        let essence = mime.split(';').next().unwrap_or("").trim();
        self.scan_mimes.iter().any(|m| {
            if m.ends_with('/') {
                essence.len() > m.len() && essence[..m.len()].eq_ignore_ascii_case(m)
            } else {
                essence.eq_ignore_ascii_case(m)
            }
        })
    }
}
