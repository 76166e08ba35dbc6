//! Scanning: the walk over an event's or message's JSON, each string's scan cap, decoding
//! layers, and for each layer the keyword pass (one Aho-Corasick walk), the verification of
//! gated rules around their hits, the union pass of the rules without keywords, and the
//! findings their hits become.

use crate::compiled::Inner;
use crate::decode;
use crate::deferred::Deferred;
use crate::detector::{Hit, Judgement, Text};
use crate::event::{self, Field};
use crate::findings::{EventEmitter, Findings};
use crate::json::{self, push_index, push_key, DuplicateKey};
use crate::keywords::word_bounded;
use crate::matchers::Anchor;
use crate::normalize::{OffsetMap, View};
use crate::rule::floor_char_boundary;
use crate::scratch::{Gate, MatchState, Origin, RuleHits, MAX_DECODE_DEPTH};
use crate::verdict::Span;
use crate::verify::{ceil_char_boundary, tail_matches, ANCHOR_BUDGET, ANCHOR_SPACING};
use regex_automata::Input;
use serde_json::Value;

/// How far around a keyword hit a gated rule's regex is verified, each way (bytes). A match
/// that contains the keyword and is at most this long is always found.
pub const GATE_WINDOW: usize = 2048;
/// How far past a keyword hit a gated rule's window reaches. A window re-searches up to
/// `GATE_WINDOW` bytes of the previous one; reaching far ahead makes that overlap small when
/// hits are dense (a rule then searches the text about once, not twice), and costs nothing
/// more when they are sparse than one pass over what the window covers.
pub(crate) const GATE_LOOKAHEAD: usize = 16 * GATE_WINDOW;

/// The entries of `list` for rule `r` at positions in `within`. On first use in a string,
/// `list` is sorted (by rule, then position) and the entries of rules whose gates stayed closed
/// are dropped: most hits are of those.
pub(crate) fn live_in<'a, T: Copy + Ord>(
    list: &'a mut Vec<T>,
    sorted: &mut bool,
    rule_hits: &[RuleHits],
    key: impl Fn(&T) -> (u32, u32),
    r: u32,
    within: std::ops::Range<u32>,
) -> &'a [T] {
    if !*sorted {
        list.retain(|e| rule_hits[key(e).0 as usize].is_live());
        list.sort_unstable();
        *sorted = true;
    }
    let from = list.partition_point(|e| key(e) < (r, within.start));
    let to = list.partition_point(|e| key(e) < (r, within.end));
    &list[from..to]
}

impl Inner {
    /// Walks a JSON value, scanning each string leaf with its JSON path.
    ///
    /// `json_depth` is how many more levels of strings that hold JSON are parsed and scanned
    /// as JSON as well (MCP messages); 0 scans strings as text only (events).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn walk(
        &self,
        m: &mut MatchState,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &mut String,
        value: &Value,
        json_depth: usize,
    ) {
        match value {
            Value::String(s) => {
                self.check_text(out, &Text { field, path, text: s, tool });
                let whole = self.scan_text(m, out, tool, field, path, s);
                if json_depth > 0 && whole {
                    self.scan_json_string(m, out, tool, field, path, s, json_depth);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    push_index(path, i);
                    self.walk(m, out, tool, field, path, item, json_depth);
                    path.truncate(len);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let len = path.len();
                    push_key(path, key, path.is_empty());
                    self.walk(m, out, tool, field, path, item, json_depth);
                    path.truncate(len);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// The value a duplicated key shadowed: the duplication is reported (`SYS-003`) and the
    /// value scanned at the key's path, as `field`. A shadowed tool name (the event's `tool`,
    /// an MCP `params.name` given as [`Field::Tool`]) gets the tool policy too.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn shadowed(
        &self,
        m: &mut MatchState,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &mut String,
        duplicate: &DuplicateKey,
        json_depth: usize,
    ) {
        out.push(
            self,
            self.duplicate_rule as usize,
            None,
            field,
            &duplicate.path,
            Span::default(),
            format_args!(
                "the key at {} appears more than once: a parser that keeps the first value reads {}, \
                 which is scanned too",
                duplicate.path,
                event::json_type(&duplicate.value)
            ),
        );
        path.clear();
        path.push_str(&duplicate.path);
        if let (Field::Tool, Value::String(name)) = (field, &duplicate.value) {
            self.tool_policy(out, name, path);
        }
        self.walk(m, out, tool, field, path, &duplicate.value, json_depth);
    }

    /// The tool's results are the contents of files (`tools.documents`).
    pub(crate) fn is_document_tool(&self, tool: &str) -> bool {
        !tool.is_empty() && self.documents.iter().any(|g| g.matches(tool))
    }

    /// The detectors' checks of a tool name called, found at `path` (the tool policy:
    /// dangerous, denied, unlisted).
    pub(crate) fn tool_policy(&self, out: &mut Findings, name: &str, path: &str) {
        for &d in &self.tool_checkers {
            let mut emitter = EventEmitter { inner: self, out, detector: d };
            self.detectors[d].imp.check_tool(name, path, &mut emitter);
        }
    }

    /// The detectors' checks of one string (size limits, and the embedder's).
    pub(crate) fn check_text(&self, out: &mut Findings, text: &Text<'_>) {
        for &d in &self.text_checkers {
            let mut emitter = EventEmitter { inner: self, out, detector: d };
            self.detectors[d].imp.check_text(text, &mut emitter);
        }
    }

    /// The one finding for what the scan cap left unscanned in this event or message.
    pub(crate) fn report_overflow(&self, m: &MatchState, out: &mut Findings) {
        let over = &m.over;
        if over.strings == 0 {
            return;
        }
        let cap = self.config.limits.max_scan_bytes;
        let more = match over.strings {
            1 => String::new(),
            n => format!(", in {n} strings from this one on"),
        };
        out.push(
            self,
            self.truncated_rule as usize,
            None,
            over.field,
            &over.path,
            over.span,
            format_args!(
                "{} bytes past the scan cap of {cap} bytes (max_scan_bytes, for the whole event or message) were not \
                 scanned{more}",
                over.bytes
            ),
        );
    }

    /// A string that holds a JSON object or array is parsed and its leaves scanned too, at
    /// `path` + `(json)`, so that escapes inside it do not hide anything (nor duplicate keys
    /// inside it: their values are scanned and reported as well). Findings of a rule already
    /// found in the string as text are not repeated, and the leaves do not count against the
    /// scan budget (the string itself did).
    #[allow(clippy::too_many_arguments)]
    fn scan_json_string(
        &self,
        m: &mut MatchState,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &mut String,
        text: &str,
        json_depth: usize,
    ) {
        let trimmed = text.trim_start();
        if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
            return;
        }
        let len = path.len();
        path.push_str("(json)");
        let Ok(parsed) = json::parse_at(text.as_bytes(), path.clone()) else {
            path.truncate(len);
            return;
        };
        let from = out.verdict.findings.len();
        let budget = m.budget;
        self.walk(m, out, tool, field, path, &parsed.value, json_depth - 1);
        path.truncate(len);
        m.budget = budget;
        out.dedupe_since(from, path);
        if !parsed.duplicates.is_empty() {
            let at = path.clone();
            for duplicate in &parsed.duplicates {
                self.shadowed(m, out, tool, field, path, duplicate, json_depth - 1);
            }
            m.budget = budget;
            path.clear();
            path.push_str(&at);
        }
    }

    /// Scans one string: one Aho-Corasick pass and at most one regex-union pass over its view.
    /// Returns whether the whole string was scanned (the scan cap did not cut it).
    ///
    /// The cap (`max_scan_bytes`) is a budget for the whole event or message: every string
    /// scanned uses it up, so neither one long string nor many short ones get content past it
    /// unscanned without a `SYS-002` finding (which the fail mode acts on).
    pub(crate) fn scan_text(
        &self,
        m: &mut MatchState,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &str,
        full: &str,
    ) -> bool {
        if full.is_empty() {
            return true;
        }
        let text = if full.len() > m.budget {
            let cut = floor_char_boundary(full, m.budget);
            // One finding per event or message, at the first string the cap cut, written at
            // the end (`report_overflow`).
            let over = &mut m.over;
            if over.strings == 0 {
                over.path.clear();
                over.path.push_str(path);
                over.field = field;
                over.span = Span { start: cut, end: full.len() };
            }
            over.strings += 1;
            over.bytes += full.len() - cut;
            &full[..cut]
        } else {
            full
        };
        m.budget -= text.len();
        if !text.is_empty() {
            out.string_start = out.verdict.findings.len();
            self.scan_layer(m, out, tool, field, path, text, None, 0);
        }
        text.len() == full.len()
    }

    /// Scans one layer of a string: the string itself (depth 0), or a segment of it decoded
    /// from base64, percent-encoding, … (`origin` is then the encoded segment of the original
    /// string, and findings point at it). Then decodes the layer's own encoded segments and
    /// scans them, to `MAX_DECODE_DEPTH`.
    #[allow(clippy::too_many_arguments)]
    fn scan_layer(
        &self,
        m: &mut MatchState,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &str,
        text: &str,
        origin: Option<Origin>,
        depth: usize,
    ) {
        self.match_layer(m, out, tool, field, path, text, origin);
        if depth >= MAX_DECODE_DEPTH || text.len() < 8 {
            return;
        }
        let mut segments = [None; decode::MAX_SEGMENTS];
        let mut n = 0;
        decode::segments(text, |s| {
            segments[n] = Some(s);
            n += 1;
        });
        for segment in segments.into_iter().flatten() {
            let mut decoded = std::mem::take(&mut m.decoded[depth]);
            let mut bytes = std::mem::take(&mut m.decoded_bytes[depth]);
            if decode::decode(text, segment, &mut bytes, &mut decoded) {
                let origin = origin.unwrap_or(Origin {
                    span: Span { start: segment.start, end: segment.end },
                    encoding: segment.encoding,
                });
                self.scan_layer(m, out, tool, field, path, &decoded, Some(origin), depth + 1);
            }
            m.decoded[depth] = decoded;
            m.decoded_bytes[depth] = bytes;
        }
    }

    /// One Aho-Corasick pass and at most one regex-union pass over the view of `text`.
    #[allow(clippy::too_many_arguments)]
    fn match_layer(
        &self,
        m: &mut MatchState,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &str,
        text: &str,
        origin: Option<Origin>,
    ) {
        let MatchState {
            view,
            map,
            union_cache,
            patset,
            single_caches,
            single_caps,
            tail_caches,
            head_caches,
            rule_hits,
            touched,
            required_seen,
            required_touched,
            starts,
            inner_hits,
            pending,
            hits,
            walks,
            phrase,
            ..
        } = m;
        view.build(text, map);
        for (kind, hit) in view.evasions().iter().enumerate() {
            if hit.count > 0 {
                let r = self.evasion_rules[kind] as usize;
                if self.rules[r].applies_to_tool(tool) && !(origin.is_some() && out.has(&self.rules[r].id, path)) {
                    let count = hit.count;
                    let name = &self.rules[r].reason;
                    match origin {
                        None => {
                            let span = Span { start: hit.start as usize, end: hit.end as usize };
                            out.push(self, r, None, field, path, span, format_args!("{name}: {count} in {path}"));
                        }
                        Some(o) => out.push(
                            self,
                            r,
                            None,
                            field,
                            path,
                            o.span,
                            format_args!("{name}: {count} in {} text of {path}", o.encoding.as_str()),
                        ),
                    }
                }
            }
        }
        let hay = view.text(text);
        let mx = &self.matchers;

        // Keywords: one Aho-Corasick pass. Keyword-only rules remember their first hit; a
        // keyword-gated rule's regex is verified in a window around its hits until it matches.
        if let Some(ac) = &mx.ac {
            ac.find_all(hay.as_bytes(), hits, walks);
            for hit in hits.iter() {
                let pid = hit.pattern as usize;
                if pid >= mx.derived_start {
                    let derived = &mx.derived[pid - mx.derived_start];
                    for &(r, bit) in &derived.clauses {
                        let seen = &mut required_seen[r as usize];
                        if *seen == 0 {
                            required_touched.push(r);
                        }
                        *seen |= 1 << bit;
                    }
                    for &r in &derived.starts {
                        starts.push((r, hit.start));
                    }
                    for &(r, b) in &derived.inner {
                        inner_hits.push((r, hit.start, b));
                    }
                    continue;
                }
                let r = mx.ac_rule[pid] as usize;
                let rule = &self.rules[r];
                // Most hits repeat a keyword of a rule already seen in this string: settle those
                // first. A keyword-only rule keeps its first hit; a gated rule's windows already
                // cover the hit once the search reached it (see below).
                let seen = match rule_hits[r] {
                    RuleHits::None => None,
                    RuleHits::Gated { searched, .. } => {
                        let searched = searched as usize;
                        if searched >= hay.len() || hit.end as usize + GATE_WINDOW <= searched {
                            continue;
                        }
                        Some(searched)
                    }
                    RuleHits::First { .. } | RuleHits::Matched => continue,
                };
                if !rule.scope.contains(field)
                    || (mx.ac_bounded[pid] && !word_bounded(hay, hit.start as usize, hit.end as usize))
                {
                    continue;
                }
                if rule.regex.is_none() {
                    rule_hits[r] = RuleHits::First { start: hit.start, end: hit.end };
                    touched.push(r as u32);
                    continue;
                }
                let searched = seen.unwrap_or_else(|| {
                    touched.push(r as u32);
                    0
                });
                // Windows of one rule: a match of at most GATE_WINDOW bytes that contains this
                // hit lies in [hit.start - W, hit.end + W]. What was searched before, up to
                // `searched`, holds no such match wholly, so the new window starts at most W
                // before `searched`; it reaches GATE_LOOKAHEAD ahead, so that the next hits
                // within reach are covered and each rule searches each byte about once.
                // Once the search reached the end of the text, every later hit is covered: the
                // windows so far form one searched range from the first hit's window on.
                let from = (hit.start as usize).saturating_sub(GATE_WINDOW).max(searched.saturating_sub(GATE_WINDOW));
                let start = floor_char_boundary(hay, from);
                let end = ceil_char_boundary(hay, (hit.end as usize + GATE_LOOKAHEAD).min(hay.len()));
                rule_hits[r] = RuleHits::Gated { gate: Gate::Pending, searched: end as u32 };
                pending.push((r as u32, start as u32, end as u32));
            }

            // The windows are verified once the pass is over, when the rest of the string is
            // known. A rule whose required literals were not all seen is left out.
            for &(r, _, _) in pending.iter() {
                let r = r as usize;
                if let RuleHits::Gated { gate: gate @ Gate::Pending, .. } = &mut rule_hits[r] {
                    let complete = self.rules[r].required.met(required_seen[r]);
                    *gate = if complete { Gate::Live } else { Gate::Excluded };
                }
            }
            let mut starts_sorted = false;
            let mut inner_sorted = false;
            for &(r, start, end) in pending.iter() {
                let r = r as usize;
                let rule = &self.rules[r];
                if !rule_hits[r].is_live() {
                    continue;
                }
                let Some((ri, single)) = rule.regex.and_then(|ri| Some((ri, mx.single[ri].get()?))) else { continue };
                let cache = single_caches[ri].get_or_insert_with(|| single.create_cache());
                let window = start as usize..end as usize;
                let caps = &mut single_caps[ri];
                // An anchored rule runs at its starts in the window, unless they are dense.
                let r32 = r as u32;
                let found = match rule.anchor {
                    None => rule.first_valid_match(single, cache, caps, hay, window, None),
                    Some(Anchor::Start { tail: t }) => {
                        let at = live_in(starts, &mut starts_sorted, rule_hits, |&(r, p)| (r, p), r32, start..end);
                        match mx.tails[t].get().filter(|_| at.len() * ANCHOR_SPACING <= window.len()) {
                            None => rule.first_valid_match(single, cache, caps, hay, window, None),
                            Some(tail) => {
                                let tail_cache = tail_caches[t].get_or_insert_with(|| tail.create_cache());
                                rule.first_valid_match(single, cache, caps, hay, window, Some((at, tail, tail_cache)))
                            }
                        }
                    }
                    Some(Anchor::Tail { tail: t, reach }) => {
                        let at = live_in(starts, &mut starts_sorted, rule_hits, |&(r, p)| (r, p), r32, start..end);
                        let tail = mx.tails[t].get().filter(|_| at.len() * ANCHOR_SPACING <= window.len());
                        if let Some(tail) = tail {
                            let tail_cache = tail_caches[t].get_or_insert_with(|| tail.create_cache());
                            let end = window.end;
                            // The first hit where the tail matches; or, once the tail runs
                            // have read `ANCHOR_BUDGET` windows' worth, the hit where that
                            // happened (the scan from there finds the same match, if any).
                            let mut budget = window.len() * ANCHOR_BUDGET;
                            let hit = at.iter().find(|&&(_, p)| {
                                tail_matches(tail, tail_cache, hay, p as usize..end, &mut budget) != Some(false)
                            });
                            hit.and_then(|&(_, p)| {
                                let from = floor_char_boundary(
                                    hay,
                                    (p as usize).saturating_sub(reach as usize).max(window.start),
                                );
                                rule.first_valid_match(single, cache, caps, hay, from..end, None)
                            })
                        } else {
                            rule.first_valid_match(single, cache, caps, hay, window, None)
                        }
                    }
                    Some(Anchor::Inner) => {
                        let at =
                            live_in(inner_hits, &mut inner_sorted, rule_hits, |&(r, p, _)| (r, p), r32, start..end);
                        if at.len() * ANCHOR_SPACING > window.len() {
                            rule.first_valid_match(single, cache, caps, hay, window, None)
                        } else {
                            rule.first_valid_inner(single, cache, caps, hay, window, at, mx, head_caches, tail_caches)
                        }
                    }
                };
                if let Some(span) = found {
                    rule_hits[r] = RuleHits::Matched;
                    self.fire(view, map, out, tool, field, path, text, r, span, origin);
                }
            }
            pending.clear();
            starts.clear();
            inner_hits.clear();
            for &r in required_touched.iter() {
                required_seen[r as usize] = 0;
            }
            required_touched.clear();
        }

        // Rules without keywords: one pass of their union, then each reported rule's own regex
        // for its span.
        let field_index = field as usize;
        if let Some(union) = mx.union.as_ref().filter(|_| mx.ungated[field_index]).and_then(Deferred::get) {
            let cache = union_cache.get_or_insert_with(|| union.create_cache());
            union.which_overlapping_matches_with(cache, &Input::new(hay), patset);
            for pid in patset.iter() {
                let r = mx.regex_rule[pid.as_usize()] as usize;
                let rule = &self.rules[r];
                if !rule.scope.contains(field) {
                    continue;
                }
                let Some((ri, single)) = rule.regex.and_then(|ri| Some((ri, mx.single[ri].get()?))) else { continue };
                let cache = single_caches[ri].get_or_insert_with(|| single.create_cache());
                if let Some(span) = rule.first_valid_match(single, cache, &mut single_caps[ri], hay, 0..hay.len(), None)
                {
                    self.fire(view, map, out, tool, field, path, text, r, span, origin);
                }
            }
            patset.clear();
        }

        // Rules written as cue phrases: one walk of the phrase automaton over the word view.
        if let Some(tier) = mx.phrases.as_ref().filter(|_| mx.phrase_fields[field_index]) {
            tier.find(hay, field, phrase);
            for f in &phrase.found {
                self.fire(view, map, out, tool, field, path, text, f.rule as usize, f.span, origin);
            }
        }

        // Keyword-only rules, and reset the keyword table.
        for &r in touched.iter() {
            let r = r as usize;
            if let RuleHits::First { start, end } = rule_hits[r] {
                self.fire(view, map, out, tool, field, path, text, r, (start as usize, end as usize), origin);
            }
            rule_hits[r] = RuleHits::None;
        }
        touched.clear();
    }

    /// Turns a rule hit (a span of the view) into a finding, after the detector's judgement.
    #[allow(clippy::too_many_arguments)]
    fn fire(
        &self,
        view: &View,
        map: &mut OffsetMap,
        out: &mut Findings,
        tool: &str,
        field: Field,
        path: &str,
        text: &str,
        r: usize,
        span: (usize, usize),
        origin: Option<Origin>,
    ) {
        let rule = &self.rules[r];
        if !rule.applies_to_tool(tool) {
            return;
        }
        if origin.is_some() && out.has(&rule.id, path) {
            return; // already found in the layer above
        }
        let span = match origin {
            None => {
                let (start, end) = map.original_span(view, text, span.0, span.1);
                Span { start, end }
            }
            Some(o) => o.span,
        };
        let hit = Hit { rule: &rule.id, field, path, text, span, tool };
        let detector = &self.detectors[rule.detector];
        let judgement = if detector.hooks.judge { detector.imp.judge(&hit) } else { Judgement::Accept };
        let severity = match judgement {
            Judgement::Accept => None,
            Judgement::Severity(s) => Some(s),
            Judgement::Reject => return,
        };
        match origin {
            None => out.push(self, r, severity, field, path, span, format_args!("{}", rule.reason)),
            Some(o) => out.push(
                self,
                r,
                severity,
                field,
                path,
                span,
                format_args!("{} (in {} text)", rule.reason, o.encoding.as_str()),
            ),
        }
    }
}
