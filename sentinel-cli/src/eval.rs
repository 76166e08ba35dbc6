//! `sentinel eval`: score the detectors on a labelled corpus.
//!
//! The corpus is JSON Lines in the format of shared/corpus/dev.jsonl: each line an object with
//! `id`, `labels` (category names, or `benign`), `event` (an MCP event) and optionally
//! `also_ok` (categories that are defensible but not required for the item). Scoring, as the
//! corpus README recommends:
//!
//! - recall per category: an item counts as caught when a finding has its category;
//! - precision per category: a prediction counts as false when the category is neither among
//!   the item's labels nor its `also_ok`;
//! - the share of threat items whose action is warn or block;
//! - on benign items, the block rate and the warn-or-block rate.

use crate::args::{EvalArgs, ReportFormat};
use crate::{report, settings, EXIT_ERROR, EXIT_OK};
use mcp_threatscan::input::Records;
use mcp_threatscan::{Action, Engine, Event, Verdict};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::num::NonZeroUsize;

/// One labelled item of the corpus.
struct Item {
    id: String,
    labels: BTreeSet<String>,
    also_ok: BTreeSet<String>,
    event: Event,
}

/// What the engine said about one item.
struct Outcome {
    action: Action,
    categories: BTreeSet<String>,
    rules: BTreeSet<String>,
}

/// Counts for one category.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct CategoryScore {
    /// Items labelled with the category.
    pub(crate) support: usize,
    /// Labelled items that got a finding of the category.
    pub(crate) caught: usize,
    /// Items with a finding of the category that is neither a label nor `also_ok`.
    pub(crate) false_positives: usize,
    /// Items with a finding of the category that is in `also_ok` only (not counted either way).
    pub(crate) also_ok: usize,
    /// `caught / support`, when there is support.
    pub(crate) recall: Option<f64>,
    /// `caught / (caught + false_positives)`, when anything was predicted.
    pub(crate) precision: Option<f64>,
}

/// A rate with its counts.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Rate {
    pub(crate) count: usize,
    pub(crate) of: usize,
    pub(crate) rate: f64,
}

impl Rate {
    fn new(count: usize, of: usize) -> Rate {
        Rate { count, of, rate: if of == 0 { 0.0 } else { count as f64 / of as f64 } }
    }
}

/// The whole report, as `--format json` prints it.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    pub(crate) file: String,
    pub(crate) items: usize,
    pub(crate) benign_items: usize,
    pub(crate) threat_items: usize,
    /// Lines that could not be read as labelled items.
    pub(crate) unreadable: usize,
    /// Per category, for every category labelled or predicted.
    pub(crate) categories: BTreeMap<String, CategoryScore>,
    /// Mean recall over the labelled categories.
    pub(crate) macro_recall: f64,
    /// Threat items whose action is warn or block.
    pub(crate) threats_warned_or_blocked: Rate,
    /// Threat items whose action is block.
    pub(crate) threats_blocked: Rate,
    /// Benign items whose action is block.
    pub(crate) benign_blocked: Rate,
    /// Benign items whose action is warn or block.
    pub(crate) benign_warned_or_blocked: Rate,
}

/// Runs `sentinel eval` and returns the exit code.
pub(crate) fn run(args: &EvalArgs) -> u8 {
    let Some(engine) = settings::engine_or_report(&args.engine) else { return EXIT_ERROR };
    let shown = args.file.display().to_string();
    let file = match File::open(&args.file) {
        Ok(f) => f,
        Err(e) => {
            report(format_args!("cannot open {shown}: {e}"));
            return EXIT_ERROR;
        }
    };
    let (items, unreadable) = read_items(BufReader::new(file), &shown);
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(args.jobs.map_or(0, NonZeroUsize::get)).build() {
        Ok(pool) => pool,
        Err(e) => {
            report(format_args!("cannot start the worker threads: {e}"));
            return EXIT_ERROR;
        }
    };
    let outcomes: Vec<Outcome> = pool.install(|| {
        items
            .par_iter()
            .map_init(|| engine.create_scratch(), |scratch, item| outcome(engine.scan_with(scratch, &item.event)))
            .collect()
    });
    let mut report = score(&items, &outcomes);
    report.file = shown;
    report.unreadable = unreadable;
    let mut out = io::stdout().lock();
    let written = match args.format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report).map_err(io::Error::from).and_then(|()| writeln!(out))
        }
        ReportFormat::Human => write_human(&mut out, &report),
    }
    .and_then(|()| write_lists(&mut out, args, &engine, &items, &outcomes));
    if let Err(e) = written.and_then(|()| out.flush()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            crate::report(format_args!("cannot write the report: {e}"));
            return EXIT_ERROR;
        }
    }
    if unreadable > 0 {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}

fn outcome(verdict: &Verdict) -> Outcome {
    Outcome {
        action: verdict.action,
        categories: verdict.findings.iter().map(|f| f.category.to_string()).collect(),
        rules: verdict.findings.iter().map(|f| f.rule.to_string()).collect(),
    }
}

/// Reads the labelled items; unreadable lines are reported on stderr and counted.
fn read_items(reader: impl io::BufRead, file: &str) -> (Vec<Item>, usize) {
    let mut items = Vec::new();
    let mut unreadable = 0;
    for record in Records::new(reader) {
        let parsed = record.map_err(|e| e.to_string()).and_then(|r| {
            let line = r.line;
            mcp_threatscan::parse_json(&r.bytes)
                .map_err(|e| format!("line {line}: invalid JSON: {e}"))
                .and_then(|v| item(v).map_err(|e| format!("line {line}: {e}")))
        });
        match parsed {
            Ok(item) => items.push(item),
            Err(e) => {
                unreadable += 1;
                report(format_args!("{file}: {e}"));
            }
        }
    }
    (items, unreadable)
}

fn string_set(value: Option<&Value>, field: &str, required: bool) -> Result<BTreeSet<String>, String> {
    match value {
        None if !required => Ok(BTreeSet::new()),
        None => Err(format!("missing field `{field}` (expected an array of strings)")),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| format!("field `{field}`: expected strings")))
            .collect(),
        Some(_) => Err(format!("field `{field}`: expected an array of strings")),
    }
}

fn item(parsed: mcp_threatscan::ParsedJson) -> Result<Item, String> {
    let mut value = parsed.value;
    let labels = string_set(value.get("labels"), "labels", true)?;
    let also_ok = string_set(value.get("also_ok"), "also_ok", false)?;
    let id = value.get("id").and_then(Value::as_str).unwrap_or("").to_string();
    let event = value.get_mut("event").map(Value::take).ok_or("missing field `event`")?;
    let mut event = Event::from_value(event).map_err(|e| format!("event: {e}"))?;
    // The event's duplicated keys, with paths from the event (as `Event::from_json` gives).
    event.duplicates = parsed
        .duplicates
        .into_iter()
        .filter_map(|mut d| {
            let rest = d.path.strip_prefix("event")?;
            let rest = rest.strip_prefix('.').or_else(|| rest.starts_with('[').then_some(rest))?;
            d.path = rest.to_string();
            Some(d)
        })
        .collect();
    Ok(Item { id, labels, also_ok, event })
}

fn is_threat(item: &Item) -> bool {
    item.labels.iter().any(|l| l != "benign")
}

/// Scores the outcomes against the labels.
pub(crate) fn score_counts(
    labelled: &[(BTreeSet<String>, BTreeSet<String>)],
    outcomes: &[(Action, BTreeSet<String>)],
) -> Report {
    let mut report = Report { items: labelled.len(), ..Report::default() };
    let mut categories: BTreeMap<String, CategoryScore> = BTreeMap::new();
    let (mut threats, mut threats_flagged, mut threats_blocked) = (0, 0, 0);
    let (mut benign, mut benign_blocked, mut benign_flagged) = (0, 0, 0);
    for ((labels, also_ok), (action, predicted)) in labelled.iter().zip(outcomes) {
        let threat = labels.iter().any(|l| l != "benign");
        if threat {
            threats += 1;
            threats_flagged += usize::from(*action >= Action::Warn);
            threats_blocked += usize::from(*action == Action::Block);
        } else {
            benign += 1;
            benign_flagged += usize::from(*action >= Action::Warn);
            benign_blocked += usize::from(*action == Action::Block);
        }
        for label in labels.iter().filter(|l| *l != "benign") {
            let c = categories.entry(label.clone()).or_default();
            c.support += 1;
            c.caught += usize::from(predicted.contains(label));
        }
        for p in predicted {
            if labels.contains(p) {
                continue;
            }
            let c = categories.entry(p.clone()).or_default();
            if also_ok.contains(p) {
                c.also_ok += 1;
            } else {
                c.false_positives += 1;
            }
        }
    }
    let mut recalls = Vec::new();
    for c in categories.values_mut() {
        if c.support > 0 {
            let r = c.caught as f64 / c.support as f64;
            c.recall = Some(r);
            recalls.push(r);
        }
        if c.caught + c.false_positives > 0 {
            c.precision = Some(c.caught as f64 / (c.caught + c.false_positives) as f64);
        }
    }
    report.macro_recall = if recalls.is_empty() { 0.0 } else { recalls.iter().sum::<f64>() / recalls.len() as f64 };
    report.categories = categories;
    report.benign_items = benign;
    report.threat_items = threats;
    report.threats_warned_or_blocked = Rate::new(threats_flagged, threats);
    report.threats_blocked = Rate::new(threats_blocked, threats);
    report.benign_blocked = Rate::new(benign_blocked, benign);
    report.benign_warned_or_blocked = Rate::new(benign_flagged, benign);
    report
}

fn score(items: &[Item], outcomes: &[Outcome]) -> Report {
    let labelled: Vec<_> = items.iter().map(|i| (i.labels.clone(), i.also_ok.clone())).collect();
    let predicted: Vec<_> = outcomes.iter().map(|o| (o.action, o.categories.clone())).collect();
    score_counts(&labelled, &predicted)
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |x| format!("{:.1}%", x * 100.0))
}

fn write_human(out: &mut impl Write, r: &Report) -> io::Result<()> {
    writeln!(out, "{}: {} items ({} benign, {} threat)", r.file, r.items, r.benign_items, r.threat_items)?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<26} {:>7} {:>7} {:>9} {:>6} {:>6} {:>7}",
        "category", "support", "recall", "precision", "caught", "fp", "also_ok"
    )?;
    for (name, c) in &r.categories {
        writeln!(
            out,
            "{:<26} {:>7} {:>7} {:>9} {:>6} {:>6} {:>7}",
            name,
            c.support,
            pct(c.recall),
            pct(c.precision),
            c.caught,
            c.false_positives,
            c.also_ok
        )?;
    }
    writeln!(out)?;
    writeln!(out, "macro recall (labelled categories): {:.1}%", r.macro_recall * 100.0)?;
    let rate = |x: &Rate| format!("{}/{} ({:.2}%)", x.count, x.of, x.rate * 100.0);
    writeln!(out, "threat items warned or blocked:     {}", rate(&r.threats_warned_or_blocked))?;
    writeln!(out, "threat items blocked:               {}", rate(&r.threats_blocked))?;
    writeln!(out, "benign items blocked:               {}", rate(&r.benign_blocked))?;
    writeln!(out, "benign items warned or blocked:     {}", rate(&r.benign_warned_or_blocked))?;
    if r.unreadable > 0 {
        writeln!(out, "unreadable lines:                   {}", r.unreadable)?;
    }
    Ok(())
}

fn excerpt(text: &str) -> String {
    let t: String = text.chars().take(140).collect();
    t.replace('\n', "\\n")
}

/// One line of a listing: the item, what the engine did and which rules fired.
fn write_item(out: &mut impl Write, item: &Item, o: &Outcome) -> io::Result<()> {
    let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(",");
    writeln!(
        out,
        "{} [{}] {} rules={} tool={} prompt={:?} response={:?}",
        item.id,
        join(&item.labels),
        o.action,
        join(&o.rules),
        item.event.tool,
        excerpt(&item.event.prompt),
        excerpt(&item.event.response)
    )
}

/// `--misses` and `--false-positives` listings, for rule work.
fn write_lists(
    out: &mut impl Write,
    args: &EvalArgs,
    _engine: &Engine,
    items: &[Item],
    outcomes: &[Outcome],
) -> io::Result<()> {
    for category in &args.misses {
        writeln!(out, "\n# missed {category}")?;
        for (item, o) in items.iter().zip(outcomes) {
            if item.labels.contains(category) && !o.categories.contains(category) {
                write_item(out, item, o)?;
            }
        }
    }
    for category in &args.false_positives {
        writeln!(out, "\n# false positives: {category}")?;
        for (item, o) in items.iter().zip(outcomes) {
            let hit = if category == "benign" {
                !is_threat(item) && o.action >= Action::Warn
            } else {
                o.categories.contains(category) && !item.labels.contains(category) && !item.also_ok.contains(category)
            };
            if hit {
                write_item(out, item, o)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_items_event_keeps_its_duplicated_keys() {
        let line = br#"{"labels": ["prompt_injection"], "id": "x", "id": "y", "event": {"timestamp": "t",
            "user": "u", "agent": "a", "tool": "t", "prompt": "attack", "prompt": "hi", "response": "r"}}"#;
        let item = item(mcp_threatscan::parse_json(line).unwrap()).unwrap();
        assert_eq!(item.event.prompt, "hi");
        let paths: Vec<&str> = item.event.duplicates.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["prompt"], "the item's own duplicate `id` is not the event's");
    }

    #[test]
    fn scoring_follows_the_corpus_readme() {
        let labelled = vec![
            (set(&["sql_injection"]), set(&[])),
            (set(&["sql_injection", "oversize"]), set(&[])),
            (set(&["jailbreak"]), set(&["prompt_injection"])),
            (set(&["benign"]), set(&[])),
            (set(&["benign"]), set(&[])),
        ];
        let outcomes = vec![
            (Action::Block, set(&["sql_injection"])),
            (Action::Warn, set(&["oversize", "code_injection"])),
            (Action::Allow, set(&["prompt_injection"])),
            (Action::Block, set(&["sql_injection"])),
            (Action::Allow, set(&[])),
        ];
        let r = score_counts(&labelled, &outcomes);
        let sql = &r.categories["sql_injection"];
        assert_eq!((sql.support, sql.caught, sql.false_positives), (2, 1, 1));
        assert_eq!(sql.recall, Some(0.5));
        assert_eq!(sql.precision, Some(0.5));
        let pi = &r.categories["prompt_injection"];
        assert_eq!((pi.also_ok, pi.false_positives, pi.precision), (1, 0, None), "also_ok is neither way");
        assert_eq!(r.categories["jailbreak"].recall, Some(0.0));
        assert_eq!(r.categories["code_injection"].false_positives, 1);
        assert_eq!((r.threats_warned_or_blocked.count, r.threat_items), (2, 3));
        assert_eq!((r.benign_blocked.count, r.benign_warned_or_blocked.count, r.benign_items), (1, 1, 2));
        // Recall over sql (0.5), oversize (1.0), jailbreak (0.0).
        assert!((r.macro_recall - 0.5).abs() < 1e-9);
    }
}
