//! How a verdict is written: one NDJSON object, or a few lines of the human report.
//!
//! Each event's text is built by the worker that scanned it, so formatting runs in parallel
//! too; the main thread only writes the texts in input order.

use mcp_threatscan::{Action, EventError, EventErrorKind, FailMode, Finding, Verdict};
use serde::Serialize;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

/// One event's NDJSON object: where it is, then the verdict's own fields.
#[derive(Serialize)]
struct VerdictLine<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    line: usize,
    #[serde(flatten)]
    verdict: &'a Verdict,
}

/// An unreadable event's NDJSON object: where it is, what was wrong, and the fail-mode
/// verdict.
#[derive(Serialize)]
struct ErrorLine<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
    error: ErrorBody<'a>,
    #[serde(flatten)]
    verdict: &'a Verdict,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

/// Appends an event's NDJSON line to `out`.
pub(crate) fn ndjson_verdict(
    out: &mut Vec<u8>,
    index: usize,
    file: Option<&str>,
    line: usize,
    verdict: &Verdict,
) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &VerdictLine { index, file, line, verdict })?;
    out.push(b'\n');
    Ok(())
}

/// Appends an unreadable event's NDJSON line to `out`.
pub(crate) fn ndjson_error(
    out: &mut Vec<u8>,
    index: usize,
    file: Option<&str>,
    error: &EventError,
    verdict: &Verdict,
) -> io::Result<()> {
    let line = ErrorLine {
        index,
        file,
        line: error.line(),
        column: error.column(),
        error: ErrorBody { message: error.to_string(), field: error.field() },
        verdict,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.push(b'\n');
    Ok(())
}

/// Appends an event's part of the human report: nothing for an allowed event, a header and one
/// line per finding for a warned or blocked one.
pub(crate) fn human_verdict(out: &mut String, index: usize, file: Option<&str>, line: usize, verdict: &Verdict) {
    if verdict.action == Action::Allow {
        return;
    }
    let _ = write!(out, "event {index} (");
    if let Some(file) = file {
        let _ = write!(out, "{}, ", clean(file));
    }
    let _ = write!(out, "line {line}");
    if let Some(id) = &verdict.context.id {
        let _ = write!(out, ", id {}", clean(id));
    }
    if let Some(server) = &verdict.context.server {
        let _ = write!(out, ", server {}", clean(server));
    }
    let _ = write!(out, "): {}", verdict.action.as_str().to_ascii_uppercase());
    if let Some(severity) = verdict.severity {
        let _ = write!(out, " {severity}");
    }
    out.push('\n');
    for finding in &verdict.findings {
        human_finding(out, finding);
    }
}

fn human_finding(out: &mut String, f: &Finding) {
    let _ = write!(out, "  {:<8}  {} {}  {}  ", f.severity.as_str(), f.detector, f.detector_name, f.rule);
    if f.path.is_empty() {
        out.push_str("(event)");
    } else {
        let _ = write!(out, "{} [{}..{}]", clean(&f.path), f.span.start, f.span.end);
    }
    let _ = writeln!(out, "  {}", clean(&f.reason));
}

/// Appends an unreadable event's part of the human report.
pub(crate) fn human_error(
    out: &mut String,
    index: usize,
    file: Option<&str>,
    error: &EventError,
    verdict: &Verdict,
    fail_mode: FailMode,
) {
    let _ = write!(out, "event {index} (");
    let mut sep = "";
    if let Some(file) = file {
        let _ = write!(out, "{}", clean(file));
        sep = ", ";
    }
    match (error.line(), error.column()) {
        (Some(l), Some(c)) => {
            let _ = write!(out, "{sep}line {l}, column {c}");
        }
        (Some(l), None) => {
            let _ = write!(out, "{sep}line {l}");
        }
        _ => {}
    }
    let mode = match fail_mode {
        FailMode::Closed => "fail_closed",
        FailMode::Open => "fail_open",
    };
    let _ = writeln!(out, "): {} unreadable ({mode})", verdict.action.as_str().to_ascii_uppercase());
    // The message without the position, which the header already gives.
    let mut bare = EventError::new(error.kind().clone());
    if let Some(field) = error.field() {
        bare = bare.with_field(field);
    }
    let label = match error.kind() {
        EventErrorKind::Io { .. } => "io error",
        _ => "error",
    };
    let _ = writeln!(out, "  {label:<8}  {}", clean(&bare.to_string()));
}

/// Counts of verdicts, for the human report's last line and the exit code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) blocked: usize,
    pub(crate) warned: usize,
    pub(crate) allowed: usize,
    pub(crate) unreadable: usize,
}

impl Totals {
    /// Counts one readable event's action.
    pub(crate) fn add(&mut self, action: Action) {
        match action {
            Action::Block => self.blocked += 1,
            Action::Warn => self.warned += 1,
            Action::Allow => self.allowed += 1,
        }
    }

    /// Every event, readable or not.
    pub(crate) fn events(&self) -> usize {
        self.blocked + self.warned + self.allowed + self.unreadable
    }

    /// The report's last line.
    pub(crate) fn line(&self) -> String {
        let n = self.events();
        let noun = if n == 1 { "event" } else { "events" };
        format!(
            "{n} {noun}: {} blocked, {} warned, {} allowed, {} unreadable\n",
            self.blocked, self.warned, self.allowed, self.unreadable
        )
    }
}

/// Text from the input, made safe for a terminal: control characters and bidirectional
/// overrides are shown escaped, so a log cannot move the cursor or reorder the report.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
    }
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "{}", c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_threatscan::Engine;

    #[test]
    fn clean_escapes_control_and_bidi_characters() {
        assert_eq!(clean("plain ü"), "plain ü");
        assert_eq!(clean("a\u{1b}[2Jb\n\u{202E}c"), "a\\u{1b}[2Jb\\u{a}\\u{202e}c");
    }

    #[test]
    fn totals_line() {
        let mut t = Totals::default();
        t.add(Action::Block);
        assert_eq!(t.line(), "1 event: 1 blocked, 0 warned, 0 allowed, 0 unreadable\n");
        t.add(Action::Allow);
        t.unreadable += 1;
        assert_eq!(t.line(), "3 events: 1 blocked, 0 warned, 1 allowed, 1 unreadable\n");
    }

    #[test]
    fn error_lines_carry_position_message_and_fail_mode_verdict() {
        let engine = Engine::new().unwrap();
        let err = mcp_threatscan::Event::from_json(b"{\"tool\": 1}").unwrap_err().with_index(7).offset_by(3, 1);
        let verdict = engine.error_verdict(&err);
        let mut out = Vec::new();
        ndjson_error(&mut out, 7, Some("a.json"), &err, &verdict).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["index"], 7);
        assert_eq!(v["file"], "a.json");
        assert_eq!(v["line"], 3);
        assert_eq!(v["column"], 1);
        assert_eq!(v["error"]["field"], "timestamp");
        assert_eq!(v["action"], "block");
        let mut text = String::new();
        human_error(&mut text, 7, None, &err, &verdict, FailMode::Closed);
        assert_eq!(
            text,
            "event 7 (line 3, column 1): BLOCK unreadable (fail_closed)\n  error     field `timestamp`: missing required field (expected a string)\n"
        );
    }
}
