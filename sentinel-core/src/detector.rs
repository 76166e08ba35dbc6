//! The `Detector` trait: what a detector contributes to the shared matchers and how it judges
//! its own hits.
//!
//! Every detector's literal keywords and regexes are compiled into the engine's single
//! Aho-Corasick automaton and single multi-pattern regex; a detector never walks the text
//! itself. It may
//! - judge each hit of its rules ([`Detector::judge`]): drop it, or change its severity from
//!   context (the tool, the field);
//! - check each string the engine scans ([`Detector::check_text`]) and each tool name that is
//!   called ([`Detector::check_tool`]) for what patterns cannot express (size limits, tool
//!   policy), emitting findings under rule ids it declares in [`Detector::emits`].
//!
//! The hooks see the same thing whatever the input was: the fields of an [`Event`](crate::Event)
//! and the parts of an MCP message routed to the same fields (see [`crate::Engine::scan_message`])
//! are the same strings, with their JSON paths, so a detector fires on a message as on an
//! event. Every built-in detector implements the trait too.
//!
//! Embedders register their own detectors with
//! [`EngineBuilder::detector`](crate::EngineBuilder::detector) and reference them from rule
//! packs by code.

use crate::config::{Config, Profile};
use crate::event::Field;
use crate::rule::RuleSpec;
use crate::severity::Severity;
use crate::verdict::Span;
use std::fmt;
use wildmatch::WildMatch;

/// Who a detector is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectorInfo {
    /// Stable code (e.g. `SEC-01`).
    pub code: String,
    /// Name (e.g. `PromptInjection`).
    pub name: String,
    /// Default category of its findings (snake_case).
    pub category: String,
    /// One line on what it looks for.
    pub description: String,
    /// The smallest profile that runs it.
    pub profile: Profile,
}

/// A rule hit handed to [`Detector::judge`].
#[derive(Clone, Copy, Debug)]
pub struct Hit<'a> {
    /// The rule's id.
    pub rule: &'a str,
    /// The field the hit is in.
    pub field: Field,
    /// JSON path of the scanned string.
    pub path: &'a str,
    /// The scanned string (original text, up to the scan cap).
    pub text: &'a str,
    /// Where the hit is in `text`.
    pub span: Span,
    /// The event's tool name.
    pub tool: &'a str,
}

impl<'a> Hit<'a> {
    /// The matched text.
    pub fn matched(&self) -> &'a str {
        self.text.get(self.span.start..self.span.end).unwrap_or("")
    }
}

/// What a detector decides about a hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// Keep it at the rule's severity.
    Accept,
    /// Keep it at another severity.
    Severity(Severity),
    /// Drop it.
    Reject,
}

/// A string the engine scans, handed to [`Detector::check_text`]: every string leaf of an
/// event or MCP message (the whole string, before the scan cap), with where it is.
#[derive(Clone, Copy, Debug)]
pub struct Text<'a> {
    /// The field it is in.
    pub field: Field,
    /// Its JSON path (`prompt`, `metadata.arguments.q`, `result.content[0].text`).
    pub path: &'a str,
    /// The string.
    pub text: &'a str,
    /// The event's tool name, or the MCP tool called (empty when none).
    pub tool: &'a str,
}

/// Which of a detector's hooks the engine calls: a hook left out costs nothing on the scan
/// path. [`Detector::hooks`] says; the default is every hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hooks {
    /// [`Detector::judge`], on each hit of the detector's rules.
    pub judge: bool,
    /// [`Detector::check_tool`], on each tool name called.
    pub check_tool: bool,
    /// [`Detector::check_text`], on each string scanned.
    pub check_text: bool,
}

impl Hooks {
    /// Every hook.
    pub const ALL: Hooks = Hooks { judge: true, check_tool: true, check_text: true };
    /// None: a detector whose work is all in its rules.
    pub const NONE: Hooks = Hooks { judge: false, check_tool: false, check_text: false };
}

/// Receives the findings of [`Detector::check_text`] and [`Detector::check_tool`].
pub trait Emit {
    /// Reports a finding of `rule` (one of the detector's [`Detector::emits`] ids) in `field`
    /// at `path`, at `span` of that field's text, with a one-line reason. A rule that is
    /// disabled, or not declared, is ignored.
    fn emit(&mut self, rule: &str, field: Field, path: &str, span: Span, reason: fmt::Arguments<'_>);
}

/// A detector: a named family of rules, and optionally code that judges their hits
/// ([`Detector::judge`]) or checks each string and tool name ([`Detector::check_text`],
/// [`Detector::check_tool`]).
///
/// Its keywords and regexes are compiled into the engine's shared matchers with every other
/// detector's; a detector never walks the text itself. Register one with
/// [`EngineBuilder::detector`](crate::EngineBuilder::detector) and reference it from rule packs
/// by its code.
pub trait Detector: Send + Sync {
    /// Who the detector is.
    fn info(&self) -> DetectorInfo;

    /// Rules the detector contributes from code, beyond the packs. Default: none.
    fn rules(&self) -> Vec<RuleSpec> {
        Vec::new()
    }

    /// Ids of the rules the detector emits from its checks; each must exist in a pack or in
    /// [`Detector::rules`]. Default: none.
    fn emits(&self) -> Vec<String> {
        Vec::new()
    }

    /// Judges a hit of one of its rules (validators have already passed). Default: accept.
    /// Must not allocate: it runs on the scan path.
    fn judge(&self, hit: &Hit<'_>) -> Judgement {
        let _ = hit;
        Judgement::Accept
    }

    /// Checks one string the engine scans, in an event or an MCP message alike. Default:
    /// nothing. Must not allocate: it runs on the scan path.
    fn check_text(&self, text: &Text<'_>, out: &mut dyn Emit) {
        let _ = (text, out);
    }

    /// Checks a tool name that is called, at `path`: an event's `tool`, a `tools/call`
    /// request's `params.name` (and a value a duplicated key shadowed there). Default: nothing.
    /// Must not allocate.
    fn check_tool(&self, tool: &str, path: &str, out: &mut dyn Emit) {
        let _ = (tool, path, out);
    }

    /// Which hooks the engine calls. Default: all of them.
    fn hooks(&self) -> Hooks {
        Hooks::ALL
    }
}

/// A built-in detector whose work is all in its rules (or whose rules the engine emits itself:
/// scan integrity, adversarial Unicode, tool integrity).
struct PatternDetector {
    info: DetectorInfo,
    emits: &'static [&'static str],
}

impl Detector for PatternDetector {
    fn info(&self) -> DetectorInfo {
        self.info.clone()
    }

    fn emits(&self) -> Vec<String> {
        self.emits.iter().map(|r| r.to_string()).collect()
    }

    fn hooks(&self) -> Hooks {
        Hooks::NONE
    }
}

fn info(code: &str, name: &str, category: &str, description: &str, profile: Profile) -> DetectorInfo {
    DetectorInfo {
        code: code.into(),
        name: name.into(),
        category: category.into(),
        description: description.into(),
        profile,
    }
}

/// Code of the engine's own detector (unreadable input, content past the scan cap, duplicate
/// keys, findings not listed).
pub const SCAN_INTEGRITY: &str = "SYS-00";
/// Rule: an event could not be parsed or scanned.
pub const RULE_UNREADABLE: &str = "SYS-001";
/// Rule: content past the scan cap was not scanned (the fail mode decides the action).
pub const RULE_TRUNCATED: &str = "SYS-002";
/// Rule: a JSON object has a key more than once (every value is scanned).
pub const RULE_DUPLICATE_KEY: &str = "SYS-003";
/// Rule: more findings than a verdict lists (they still count in its action).
pub const RULE_FINDINGS_NOT_LISTED: &str = "SYS-004";

/// The rules of the adversarial-Unicode detector, by evasion kind: invisible characters in
/// words, bidi controls, tag characters, homoglyphs, styled letters.
pub const UNICODE_RULES: [&str; 5] = ["AU-001", "AU-002", "AU-003", "AU-004", "AU-005"];

/// Code of the MCP tool-integrity detector (tool pinning).
pub const TOOL_INTEGRITY: &str = "SEC-49";
/// Rule: a pinned tool's definition changed (a rug pull).
pub const RULE_TOOL_CHANGED: &str = "MCP-001";
/// Rule: a tool name shadows a tool of another server.
pub const RULE_TOOL_SHADOWED: &str = "MCP-002";

/// The built-in detectors for a configuration, in catalogue order.
pub(crate) fn builtins(config: &Config) -> Vec<Box<dyn Detector>> {
    use Profile::Security;
    let emitting = |code, name, category, description, emits| -> Box<dyn Detector> {
        Box::new(PatternDetector { info: info(code, name, category, description, Security), emits })
    };
    let p = |code, name, category, description| emitting(code, name, category, description, &[]);
    vec![
        emitting(
            SCAN_INTEGRITY,
            "ScanIntegrity",
            "scan_integrity",
            "Input that could not be parsed or fully scanned (reported by the engine itself)",
            &[],
        ),
        p("SEC-01", "PromptInjection", "prompt_injection", "Instruction override and goal hijacking"),
        p("SEC-02", "CredentialExposure", "credential_exposure", "Secrets in real provider formats"),
        p("SEC-04", "DataExfiltration", "data_exfiltration", "Data sent, or to be sent, to outside endpoints"),
        p("SEC-05", "Jailbreak", "jailbreak", "Persona and mode prompts that lift the safety policy"),
        p("SEC-23", "PiiLeakage", "pii_leakage", "Personal identifiers"),
        emitting(
            "SEC-24",
            "AdversarialUnicode",
            "adversarial_unicode",
            "Invisible, bidi, tag, homoglyph and styled characters used to hide text from filters",
            &UNICODE_RULES,
        ),
        p("SEC-25", "CodeInjection", "code_injection", "Script and HTML injection, template injection, eval payloads"),
        p("SEC-26", "PromptTemplateLeakage", "prompt_template_leakage", "System-prompt extraction and disclosure"),
        p("SEC-31", "VectorRetrievalPoisoning", "retrieval_poisoning", "Instructions hidden in retrieved content"),
        p("SEC-40", "SqlInjection", "sql_injection", "SQL injection payloads in arguments and queries"),
        p("SEC-41", "CommandInjection", "command_injection", "Shell metacharacter and command injection"),
        Box::new(ToolPolicyDetector::new(&config.tools)),
        p("SEC-43", "SuspiciousKeyword", "suspicious_keyword", "The keyword list of the detection specification"),
        Box::new(OversizeDetector {
            max_prompt: config.limits.max_prompt_chars,
            max_response: config.limits.max_response_chars,
        }),
        p("SEC-45", "ToolPoisoning", "tool_poisoning", "Hidden instructions in tool descriptions and results"),
        p("SEC-46", "PrivilegeEscalation", "privilege_escalation", "sudo, su, setuid and requests for admin rights"),
        p("SEC-47", "PathTraversal", "path_traversal", "Directory traversal and sensitive file paths"),
        p("SEC-48", "Ssrf", "ssrf", "Cloud metadata, loopback and private addresses in URLs"),
        emitting(
            TOOL_INTEGRITY,
            "ToolIntegrity",
            "tool_integrity",
            "MCP tool definitions that changed since they were pinned, and tool names shadowing another server's",
            &[RULE_TOOL_CHANGED, RULE_TOOL_SHADOWED],
        ),
    ]
}

/// Tool-name policy (the detection specification "Dangerous Tools"; allow- and deny-lists).
pub(crate) struct ToolPolicyDetector {
    allow: Vec<WildMatch>,
    deny: Vec<WildMatch>,
    dangerous: Vec<WildMatch>,
}

/// Rule: the tool is on the dangerous-tool list.
pub const RULE_DANGEROUS_TOOL: &str = "DT-001";
/// Rule: the tool is on the deny list.
pub const RULE_DENIED_TOOL: &str = "DT-002";
/// Rule: an allow list is set and the tool is not on it.
pub const RULE_TOOL_NOT_ALLOWED: &str = "DT-003";

impl ToolPolicyDetector {
    fn new(policy: &crate::config::ToolPolicy) -> Self {
        let compile = |globs: &[String]| globs.iter().map(|g| WildMatch::new_case_insensitive(g)).collect();
        ToolPolicyDetector {
            allow: compile(&policy.allow),
            deny: compile(&policy.deny),
            dangerous: compile(&policy.dangerous),
        }
    }
}

impl Detector for ToolPolicyDetector {
    fn info(&self) -> DetectorInfo {
        info(
            "SEC-42",
            "DangerousTool",
            "dangerous_tool",
            "Tool-name policy: dangerous, denied and unlisted tools",
            Profile::Security,
        )
    }

    fn emits(&self) -> Vec<String> {
        vec![RULE_DANGEROUS_TOOL.into(), RULE_DENIED_TOOL.into(), RULE_TOOL_NOT_ALLOWED.into()]
    }

    fn hooks(&self) -> Hooks {
        Hooks { check_tool: true, ..Hooks::NONE }
    }

    /// Matches the name as written and, when it is not ASCII, as its normalised view too
    /// (invisible characters dropped, homoglyphs and styled letters folded): `os_shеll` with a
    /// Cyrillic `е` is `os_shell`. Only a non-ASCII name allocates.
    fn check_tool(&self, tool: &str, path: &str, out: &mut dyn Emit) {
        let folded = (!tool.is_ascii()).then(|| crate::normalized_view(tool));
        let matches = |globs: &[WildMatch]| {
            globs.iter().any(|g| g.matches(tool) || folded.as_deref().is_some_and(|f| g.matches(f)))
        };
        let shown = ShownTool(tool, folded.as_deref());
        let span = Span { start: 0, end: tool.len() };
        if matches(&self.dangerous) {
            out.emit(
                RULE_DANGEROUS_TOOL,
                Field::Tool,
                path,
                span,
                format_args!("tool {shown} is on the dangerous-tool list"),
            );
        }
        if matches(&self.deny) {
            out.emit(RULE_DENIED_TOOL, Field::Tool, path, span, format_args!("tool {shown} is on the deny list"));
        }
        if !self.allow.is_empty() && !matches(&self.allow) {
            out.emit(
                RULE_TOOL_NOT_ALLOWED,
                Field::Tool,
                path,
                span,
                format_args!("tool {shown} is not on the allow list"),
            );
        }
    }
}

/// A tool name in a reason, with what it folds to when that differs (no allocation).
struct ShownTool<'a>(&'a str, Option<&'a str>);

impl std::fmt::Display for ShownTool<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(folded) if folded != self.0 => write!(f, "`{}` (read as `{folded}`)", self.0),
            _ => write!(f, "`{}`", self.0),
        }
    }
}

/// Size limits (the detection specification "Size Limits"), in characters.
pub(crate) struct OversizeDetector {
    max_prompt: usize,
    max_response: usize,
}

/// Rule: the prompt is longer than the limit.
pub const RULE_PROMPT_SIZE: &str = "SZ-001";
/// Rule: the response is longer than the limit.
pub const RULE_RESPONSE_SIZE: &str = "SZ-002";

impl Detector for OversizeDetector {
    fn info(&self) -> DetectorInfo {
        info("SEC-44", "Oversize", "oversize", "Prompts and responses over the size limits", Profile::Security)
    }

    fn emits(&self) -> Vec<String> {
        vec![RULE_PROMPT_SIZE.into(), RULE_RESPONSE_SIZE.into()]
    }

    fn hooks(&self) -> Hooks {
        Hooks { check_text: true, ..Hooks::NONE }
    }

    /// A prompt or response string over its limit, in characters (a string of n bytes has at
    /// most n characters: the count runs only past that cheap bound).
    fn check_text(&self, text: &Text<'_>, out: &mut dyn Emit) {
        let (rule, limit) = match text.field {
            Field::Prompt => (RULE_PROMPT_SIZE, self.max_prompt),
            Field::Response => (RULE_RESPONSE_SIZE, self.max_response),
            _ => return,
        };
        let s = text.text;
        if s.len() > limit {
            let chars = s.chars().count();
            if chars > limit {
                let start = s.char_indices().nth(limit).map_or(s.len(), |(i, _)| i);
                let field = text.field;
                out.emit(
                    rule,
                    field,
                    text.path,
                    Span { start, end: s.len() },
                    format_args!("{field} is {chars} characters, over the {limit}-character limit"),
                );
            }
        }
    }
}
