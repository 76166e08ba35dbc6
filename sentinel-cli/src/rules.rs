//! `sentinel rules`: list the rule catalogue, or explain one rule.

use crate::args::{ReportFormat, RulesArgs};
use crate::{report, settings, EXIT_ERROR, EXIT_OK};
use mcp_threatscan::{Engine, Example, RuleInfo};
use serde_json::json;
use std::io::{self, Write};

/// Runs `sentinel rules` and returns the exit code.
pub(crate) fn run(args: &RulesArgs) -> u8 {
    let Some(engine) = settings::engine_or_report(&args.engine) else { return EXIT_ERROR };
    let mut out = io::stdout().lock();
    let written = match &args.code {
        Some(code) => match engine.rule(code) {
            Some(rule) => explain(&mut out, rule, args.format),
            None => {
                report(format_args!("no rule has the code {code:?} (`sentinel rules` lists them)"));
                return EXIT_ERROR;
            }
        },
        None => list(&mut out, &engine, args.format),
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            report(format_args!("cannot write: {e}"));
            EXIT_ERROR
        }
        _ => EXIT_OK,
    }
}

fn as_json(rule: RuleInfo<'_>) -> serde_json::Value {
    json!({
        "id": rule.id(),
        "detector": rule.detector(),
        "detector_name": rule.detector_name(),
        "category": rule.category(),
        "severity": rule.severity(),
        "enabled": rule.enabled(),
        "source": rule.source(),
        "spec": rule.spec(),
    })
}

fn list(out: &mut impl Write, engine: &Engine, format: ReportFormat) -> io::Result<()> {
    if format == ReportFormat::Json {
        let all: Vec<_> = engine.rules().map(as_json).collect();
        serde_json::to_writer_pretty(&mut *out, &all)?;
        return writeln!(out);
    }
    writeln!(out, "{:<10} {:<7} {:<26} {:<9} name", "code", "detector", "category", "severity")?;
    let mut count = 0;
    for rule in engine.rules() {
        count += 1;
        let off = if rule.enabled() { "" } else { "  (disabled)" };
        writeln!(
            out,
            "{:<10} {:<7} {:<26} {:<9} {}{off}",
            rule.id(),
            rule.detector(),
            rule.category(),
            rule.severity(),
            rule.spec().name
        )?;
    }
    writeln!(out, "\n{count} rules. `sentinel rules CODE` explains one.")
}

fn example_text(e: &Example) -> String {
    match e {
        Example::Text(t) => format!("{t:?}"),
        Example::Event(e) => serde_json::to_string(e).unwrap_or_default(),
    }
}

fn explain(out: &mut impl Write, rule: RuleInfo<'_>, format: ReportFormat) -> io::Result<()> {
    if format == ReportFormat::Json {
        serde_json::to_writer_pretty(&mut *out, &as_json(rule))?;
        return writeln!(out);
    }
    let spec = rule.spec();
    writeln!(out, "{}: {}", rule.id(), spec.name)?;
    writeln!(out, "  detector:  {} {}", rule.detector(), rule.detector_name())?;
    writeln!(out, "  category:  {}", rule.category())?;
    writeln!(out, "  severity:  {}{}", rule.severity(), if rule.enabled() { "" } else { " (disabled)" })?;
    writeln!(out, "  source:    {}", rule.source())?;
    writeln!(out, "\n  {}", spec.description)?;
    if !spec.keywords.is_empty() {
        writeln!(
            out,
            "\n  keywords{}: {}",
            if spec.word_boundary { " (whole words)" } else { "" },
            spec.keywords.join(", ")
        )?;
    }
    if let Some(p) = rule.effective_pattern() {
        writeln!(out, "  pattern:   {p}")?;
    }
    if !spec.cues.is_empty() {
        let within = spec.cue_within().unwrap_or_default();
        let order = if spec.ordered { ", in this order" } else { "" };
        writeln!(out, "\n  cues, each class within {within} bytes of the others{order}:")?;
        for (k, class) in spec.cues.iter().enumerate() {
            writeln!(out, "    {}. {}", k + 1, class.join(" | "))?;
        }
    }
    if !spec.scope.is_empty() {
        let scope: Vec<_> = spec.scope.iter().map(|s| format!("{s:?}").to_lowercase()).collect();
        writeln!(out, "  scope:     {}", scope.join(", "))?;
    }
    if let Some(v) = spec.validator {
        writeln!(out, "  validator: {}", format!("{v:?}").to_lowercase())?;
    }
    for (title, examples) in [("fires on", &spec.examples), ("does not fire on", &spec.negative_examples)] {
        if !examples.is_empty() {
            writeln!(out, "\n  {title}:")?;
            for e in examples {
                writeln!(out, "    {}", example_text(e))?;
            }
        }
    }
    if !spec.references.is_empty() {
        writeln!(out, "\n  references:")?;
        for r in &spec.references {
            writeln!(out, "    {r}")?;
        }
    }
    Ok(())
}
