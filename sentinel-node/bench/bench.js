#!/usr/bin/env node
/*
 * Benchmark of the Node binding (mcp-threatscan) against a JavaScript RegExp loop and against
 * the Rust core it wraps, in one run, on the same events and the built-in rule pack.
 *
 * Events: two generated sets (seeded PRNG, mulberry32), about 256 B and about 4 KB of JSON per
 * event: `{timestamp, user, agent, tool, prompt, response}` and sometimes `metadata`, filled
 * from a fixed vocabulary of ordinary tool traffic (prose, code, SQL, logs, JSON); a quarter of
 * the events carry one attack, an example taken from the engine's own rules (`engine.rules()`).
 *
 * Methods, per set:
 *   - `scan(object)`       engine.scan(event), one call at a time;
 *   - `scan(string)`       engine.scan(JSON text of the event);
 *   - `scanJson(string)`   engine.scanJson(JSON text of the event): the verdict as JSON text;
 *   - `scanAsync(string)`  latency: one call awaited at a time; throughput: batches of 64 in
 *                          flight (Promise.all), on the libuv pool;
 *   - `RegExp loop`        for each enabled rule a JS RegExp built from its `pattern` (Rust
 *                          regex syntax translated where JS spells it differently; flag `u`
 *                          where it compiles, `i` unless the rule is case-sensitive) or, for a
 *                          keyword-only rule, the alternation of its escaped keywords; `test`
 *                          of every regex on every string the engine scans (tool, prompt,
 *                          response, every string of metadata);
 *   - `core`               the Rust core alone, parse + scan of the same JSON lines with a
 *                          reused scratch: `target/release/core-latency EVENTS.jsonl 1 5` (one
 *                          timed pass after five untimed ones) once per round, in the rotation (env SENTINEL_CORE_LATENCY to point elsewhere).
 *
 * Each sync pass times every call (process.hrtime.bigint() around it, as core-latency does with
 * Instant::now()) and the pass as a whole. Percentiles are over every call of every pass;
 * throughput and the mean per call are those of the best pass. Passes of the methods are run in
 * turn (the order rotates each round) so a noisy neighbour hits them all alike; core-latency is
 * one step of each round (one pass per run, so as many passes as each Node method; its p50 and
 * p99 are the median of its runs'). The binding's overhead per call = mean per call of the best
 * Node pass minus that of the best core pass.
 *
 * Each timed pass of a Sentinel method comes straight after an untimed pass of the same method
 * over the same events, as core-latency times its pass straight after an untimed one. A pass
 * that follows a core-latency run (about half a second in which this process waits and another
 * has the CPU) starts cold and ran 3–5 µs per call slower at 256 B; in the rotation that pass
 * was always scan(object)'s, in every round but the first, where it was the first timed pass.
 * The RegExp loop has no untimed pass: one takes 1–20 s, against a few ms of cold start.
 *
 * The work is not identical: the RegExp loop only matches patterns on the raw strings; Sentinel
 * also normalises text, decodes encoded segments, runs validators and keyword gates, and builds
 * the verdict. JS `\w`, `\d`, `\b` are ASCII where Rust's are Unicode. Patterns JS cannot
 * compile are skipped and counted.
 *
 *   node bench/bench.js [--quick] [--json] [--events N] [--passes N] [--regexp-passes N]
 *                       [--seed N] [--batch N]
 *   npm run bench -- --quick          (from sentinel-node)
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const NODE_DIR = path.resolve(__dirname, '..');
const REPO = path.resolve(NODE_DIR, '..');
const { Engine } = require(NODE_DIR);

const hrtime = process.hrtime.bigint;

// --- options ---------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { quick: false, json: false, events: null, passes: null, regexpPasses: null, seed: 2025, batch: 64 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v <= 0) die(`${a} needs a positive integer`);
      return v;
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--json') opts.json = true;
    else if (a === '--events') opts.events = num();
    else if (a === '--passes') opts.passes = num();
    else if (a === '--regexp-passes') opts.regexpPasses = num();
    else if (a === '--seed') opts.seed = num();
    else if (a === '--batch') opts.batch = num();
    else if (a === '-h' || a === '--help') {
      process.stdout.write(
        'usage: node bench/bench.js [--quick] [--json] [--events N] [--passes N] [--regexp-passes N] [--seed N] [--batch N]\n' +
          '  --quick             1000 events of 256 B and 200 of 4 KB, 2 passes, 1 of the RegExp loop\n' +
          '                      (default: 1000 events per set, 5 passes, 2 of the RegExp loop)\n' +
          '  --json              print the results as one JSON object instead of markdown\n' +
          '  --events N          events per set\n' +
          '  --passes N          measured passes of each Sentinel method, and core-latency\'s passes\n' +
          '  --regexp-passes N   measured passes of the RegExp loop (about 20 ms per 4 KB event)\n' +
          '  --seed N            PRNG seed (default 2025);  --batch N  scanAsync calls in flight (default 64)\n' +
          'env SENTINEL_CORE_LATENCY: the core-latency binary (default <repo>/target/release/core-latency)\n',
      );
      process.exit(0);
    } else die(`unknown option ${a} (try --help)`);
  }
  // Events per set. --quick keeps 1,000 of the cheap 256 B events (the overhead target is read
  // there and a 200-event pass lasts 2 ms) and 200 of the 4 KB ones.
  opts.eventsPerSet = opts.events !== null ? { 256: opts.events, 4096: opts.events } : opts.quick ? { 256: 1000, 4096: 200 } : { 256: 1000, 4096: 1000 };
  if (opts.passes === null) opts.passes = opts.quick ? 2 : 5;
  if (opts.regexpPasses === null) opts.regexpPasses = Math.min(opts.passes, opts.quick ? 1 : 2);
  return opts;
}

function die(msg) {
  process.stderr.write(`bench.js: ${msg}\n`);
  process.exit(2);
}

// --- deterministic events --------------------------------------------------------------------

function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = (rng, list) => list[Math.floor(rng() * list.length)];
const between = (rng, lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));

// Ordinary tool traffic. Checked to draw no finding from the built-in pack (the bench prints
// how many attack-free events Sentinel flags; it should be 0).
const VOCAB = {
  prose: [
    'The billing service handles invoices and payment reminders for every active account.',
    'Quarterly revenue grew 12% year over year, driven mostly by the EMEA region.',
    'Churn fell to 2.1% and the support backlog is down to 43 open tickets.',
    'Hi team, the retro is on Friday afternoon now; please add your notes to the shared doc.',
    'PostgreSQL partial indexes cover a subset of a table, defined by a conditional expression.',
    'The pull request retries webhook deliveries with exponential backoff.',
    'Reviewers asked for a metric on queue depth before the change is merged.',
    'Kubernetes rolls the deployment one pod at a time while readiness probes gate the traffic.',
    'Meeting notes: ship the export feature behind a flag and measure adoption for two weeks.',
    'Jürgen prefers the naïve approach first, then a cache if the numbers justify it.',
    'Summarise the open issues labelled backend and group them by component.',
    'Find the three slowest endpoints from yesterday and suggest an index for each.',
    'Draft a short reply thanking the customer and confirming the refund was issued.',
    'The migration finished in 4 minutes; no rows were rejected and the replica caught up.',
    'Latency p99 is 180 ms on the search endpoint, up from 140 ms last week.',
    'Les résultats du trimestre sont meilleurs que prévu, surtout en Europe du Nord.',
    'The design review is on Thursday; bring the load-test numbers and the cost estimate.',
    'Two of the five nightly jobs ran late because the warehouse was resizing.',
  ],
  code: [
    'def retry(fn, attempts=3):',
    '    for i in range(attempts):',
    '        time.sleep(2 ** i)',
    'const total = items.reduce((sum, item) => sum + item.price * item.qty, 0);',
    'export function formatDate(d) { return d.toISOString().slice(0, 10); }',
    'fn parse_port(s: &str) -> Option<u16> { s.trim().parse().ok() }',
    'let cache = new Map(); // keyed by customer id',
    '    assert len(rows) == expected',
    'for (const row of rows) { totals[row.region] = (totals[row.region] || 0) + row.revenue; }',
    'type Invoice struct { ID int64; Amount float64; Paid bool }',
    'return sorted(orders, key=lambda o: o.created_at, reverse=True)[:20]',
  ],
  sql: [
    'SELECT customer_id, count(*) AS orders FROM orders',
    'WHERE created_at > now() - interval 30 day',
    'GROUP BY customer_id ORDER BY orders DESC LIMIT 20;',
    'CREATE INDEX idx_orders_created ON orders (created_at);',
    'SELECT name, region FROM accounts WHERE active = true;',
    'SELECT region, sum(amount) AS revenue FROM invoices GROUP BY region;',
  ],
  log: [
    '2025-03-04T09:12:03Z INFO request_id=8f2c path=/api/v1/items status=200 duration_ms=41',
    '2025-03-04T09:12:04Z WARN request_id=8f2d path=/api/v1/items status=429 retry_after=2',
    '2025-03-04T09:12:05Z INFO worker=3 job=export_csv rows=1204 elapsed=2.4s',
    '2025-03-04T09:12:07Z ERROR upstream timeout after 5000 ms host=search-2',
    '2025-03-04T09:12:08Z INFO cache hit ratio=0.93 evictions=12',
  ],
  json: [
    '{"number": 1287, "title": "Retry webhook deliveries with backoff", "state": "open"}',
    '{"labels": ["backend", "reliability"], "comments": 14}',
    '{"region": "EMEA", "orders": 1204, "revenue": 98100}',
    '{"id": "evt_2931", "type": "invoice.paid", "amount": 4200, "currency": "EUR"}',
    '{"items": [{"sku": "A-17", "qty": 2}, {"sku": "B-03", "qty": 1}], "total": 57.5}',
  ],
};
const PROMPT_KINDS = ['prose', 'prose', 'prose', 'json', 'sql', 'code'];
const RESPONSE_KINDS = ['prose', 'code', 'sql', 'log', 'json'];
const TOOLS = ['read_file', 'web_search', 'query', 'get_pull_request', 'send_email', 'fetch_url', 'list_issues',
  'calendar_create', 'search_docs', 'create_ticket'];
const USERS = ['maria.k', 'dev-bot', 'o.nakamura', 'sam', 'ci-runner'];
const AGENTS = ['claude-desktop', 'cursor', 'vscode-copilot', 'internal-agent/2.3'];

/** Bytes a string takes inside JSON text (escaped, UTF-8), without the quotes. */
const jsonBytes = (s) => Buffer.byteLength(JSON.stringify(s)) - 2;

/** Text from the vocabulary taking about `bytes` bytes of JSON (never more). */
function filler(rng, bytes, kinds) {
  if (bytes <= 0) return '';
  let out = '';
  while (jsonBytes(out) < bytes) {
    const kind = pick(rng, kinds);
    const sep = out === '' ? '' : kind === 'prose' ? ' ' : '\n';
    out += sep + pick(rng, VOCAB[kind]);
  }
  return trimTo(out, bytes);
}

function trimTo(s, bytes) {
  for (let excess = jsonBytes(s) - bytes; excess > 0; excess = jsonBytes(s) - bytes) {
    s = s.slice(0, Math.max(0, s.length - excess));
    const last = s.charCodeAt(s.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) s = s.slice(0, -1); // never split a surrogate pair
  }
  return s;
}

/** The attack examples of the enabled rules, as {rule, scope, fields}. */
function attackExamples(rules) {
  const out = [];
  for (const rule of rules) {
    if (!rule.enabled) continue;
    for (const ex of rule.examples || []) {
      if (typeof ex === 'string') {
        const scope = rule.scope || ['prompt', 'response', 'metadata'];
        const where = ['prompt', 'response', 'metadata'].filter((f) => scope.includes(f));
        out.push({ rule: rule.id, where: where.length ? where : ['prompt'], text: ex });
      } else if (ex && typeof ex === 'object') {
        out.push({ rule: rule.id, object: ex });
      }
    }
  }
  return out;
}

function attackBytes(a) {
  if (a.text !== undefined) return jsonBytes(a.text);
  const o = a.object;
  return jsonBytes(o.prompt || '') + jsonBytes(o.response || '') + (o.metadata ? Buffer.byteLength(JSON.stringify(o.metadata)) : 0);
}

/** `attack` inside filler: alone, at the start, in the middle or at the end, on its own line. */
function embed(rng, attack, fillerText) {
  if (fillerText === '') return attack;
  const at = pick(rng, ['start', 'middle', 'end']);
  if (at === 'start') return attack + '\n' + fillerText;
  if (at === 'end') return fillerText + '\n' + attack;
  let cut = fillerText.indexOf('\n', fillerText.length >> 1);
  if (cut < 0) cut = fillerText.lastIndexOf(' ', fillerText.length >> 1);
  if (cut < 0) cut = 0;
  return fillerText.slice(0, cut) + '\n' + attack + '\n' + fillerText.slice(cut);
}

/**
 * `count` events of about `target` bytes of JSON each (±10%), a quarter with an attack.
 * Returns [{event, attack: rule id | null}].
 */
function makeEvents(rng, count, target, attacks) {
  const fitting = attacks.filter((a) => attackBytes(a) <= Math.max(96, target * 0.45));
  const t0 = Date.UTC(2025, 2, 4, 9, 0, 0);
  const out = [];
  for (let i = 0; i < count; i++) {
    const size = Math.round(target * (0.9 + 0.2 * rng()));
    const attack = rng() < 0.25 ? pick(rng, fitting) : null;
    const ev = {
      timestamp: new Date(t0 + i * 1373).toISOString(),
      user: pick(rng, USERS),
      agent: pick(rng, AGENTS),
      tool: pick(rng, TOOLS),
      prompt: '',
      response: '',
    };
    if (rng() < 0.5) {
      ev.metadata = target < 1024
        ? { duration_ms: between(rng, 1, 900) }
        : { arguments: { query: filler(rng, between(rng, 40, 160), ['prose']), limit: between(rng, 1, 50) }, duration_ms: between(rng, 1, 900) };
    }
    // What the attack puts in each field; the filler is fitted around it.
    let pIn = '', rIn = '';
    if (attack && attack.text !== undefined) {
      const where = pick(rng, attack.where);
      if (where === 'prompt') pIn = attack.text;
      else if (where === 'response') rIn = attack.text;
      else ev.metadata = Object.assign({}, ev.metadata, { arguments: { input: attack.text } });
    } else if (attack) {
      const o = attack.object;
      if (o.tool) ev.tool = o.tool;
      if (o.metadata) ev.metadata = o.metadata;
      pIn = o.prompt || '';
      rIn = o.response || '';
    }
    const sep = (s) => (s === '' ? 0 : jsonBytes(s) + 2); // the attack and its "\n"
    let budget = size - Buffer.byteLength(JSON.stringify(ev)) - sep(pIn) - sep(rIn);
    budget = Math.max(0, budget);
    const pBudget = Math.round(budget * (0.2 + 0.3 * rng()));
    const prompt = filler(rng, pBudget, PROMPT_KINDS);
    const response = filler(rng, budget - jsonBytes(prompt), RESPONSE_KINDS);
    ev.prompt = pIn ? embed(rng, pIn, prompt) : prompt;
    ev.response = rIn ? embed(rng, rIn, response) : response;
    out.push({ event: ev, attack: attack ? attack.rule : null });
  }
  return out;
}

// --- the RegExp baseline ---------------------------------------------------------------------

const GENERAL_CATEGORIES = new Set(['L', 'Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'M', 'Mn', 'Mc', 'Me', 'N', 'Nd', 'Nl',
  'No', 'P', 'Pc', 'Pd', 'Ps', 'Pe', 'Pi', 'Pf', 'Po', 'S', 'Sm', 'Sc', 'Sk', 'So', 'Z', 'Zs', 'Zl', 'Zp', 'C',
  'Cc', 'Cf', 'Cs', 'Co', 'Cn']);
const POSIX_CLASSES = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9', graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~', space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};
// Characters JS (with flag `u`) accepts escaped; every other escaped punctuation is emitted bare.
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''));

class Unsupported extends Error {}

/** Applies an inline flag spec (`i`, `-i`, `is`, `-u`…) to a frame of flags. */
function applyFlags(spec, frame) {
  let on = true;
  for (const f of spec) {
    if (f === '-') on = false;
    else if (f === 'i') frame.i = on;
    else if (f === 's') frame.s = on;
    else if (f === 'm') frame.m = on;
    else if (f === 'u') { /* Unicode mode: JS's `u` flag, set globally where possible */ }
    else throw new Unsupported(`inline flag ${f}`);
  }
}

/**
 * A Rust `regex` pattern in JS RegExp syntax: { source, flags }. Inline flags (`(?i)`, `(?s:…)`,
 * `(?-i:…)`, `(?m)`, `(?-u:…)`) become JS flags when they hold for the whole pattern, else are
 * expanded where they apply (`[aA]` for a case-insensitive letter, `[\s\S]` for a dot-all `.`,
 * lookarounds for multi-line `^`/`$`); `\A`, `\z`, `(?P<n>`, `\x{…}`, `\pL`, `[[:alpha:]]`,
 * nested classes and needless escapes are respelled. Throws `Unsupported` for what has no JS
 * equivalent here (`(?x)`, `(?U)`, class set operations, `\Q…\E`, `\b{…}`…).
 */
function translate(pattern, caseInsensitive, unicode) {
  // Leading inline flags hold for the whole pattern: `(?i)` becomes JS flag `i`.
  let i = 0;
  const base = { i: caseInsensitive, s: false, m: false };
  for (let m; (m = /^\(\?([a-zA-Z-]+)\)/.exec(pattern.slice(i))); i += m[0].length) applyFlags(m[1], base);
  // Does case-insensitivity change anywhere after them? Then JS gets no `i` flag and each
  // case-insensitive letter is spelled out (`[aA]`); otherwise it is the JS flag.
  const uniformI = !/\(\?[a-zA-Z-]*i[a-zA-Z-]*[:)]/.test(pattern.slice(i));
  const out = [];
  const n = pattern.length;
  // Frames of flags: one per open group. `i` case-insensitive, `s` dot-all, `m` multi-line.
  const stack = [base];
  const flags = () => stack[stack.length - 1];
  const expandCase = (ch) => !uniformI && flags().i && ch.toLowerCase() !== ch.toUpperCase() &&
    [...ch.toLowerCase()].length === 1 && [...ch.toUpperCase()].length === 1;
  const cpEscape = (cp) => {
    if (unicode) return `\\u{${cp.toString(16)}}`;
    if (cp > 0xffff) throw new Unsupported('astral code point without flag u');
    return `\\u${cp.toString(16).padStart(4, '0')}`;
  };
  const literal = (ch, inClass) => {
    // One literal character, escaped for JS.
    if (JS_SYNTAX.has(ch) || (inClass && ch === '-')) return '\\' + ch;
    const cp = ch.codePointAt(0);
    if (cp < 0x20 || cp === 0x7f) return cpEscape(cp);
    return ch;
  };
  const caseLiteral = (ch, inClass) => {
    if (!expandCase(ch)) return literal(ch, inClass);
    const lo = ch.toLowerCase(), up = ch.toUpperCase();
    return inClass ? literal(lo, true) + literal(up, true) : `[${literal(lo, true)}${literal(up, true)}]`;
  };

  // Reads one escape at pattern[i] === '\\'. Returns { text, ch } where ch is the literal char
  // when the escape stands for one (so case expansion and ranges can use it).
  const readEscape = (inClass) => {
    const c = pattern[i + 1];
    if (c === undefined) throw new Unsupported('trailing backslash');
    i += 2;
    switch (c) {
      case 'A': if (inClass) throw new Unsupported('\\A in class'); return { text: '^' };
      case 'z': if (inClass) throw new Unsupported('\\z in class'); return { text: '$' };
      case 'd': case 'D': case 's': case 'S': case 'w': case 'W':
        return { text: '\\' + c };
      case 'b': case 'B':
        if (inClass) throw new Unsupported('\\b in class');
        if (pattern[i] === '{') throw new Unsupported('\\b{…}');
        return { text: '\\' + c };
      case '<': return { text: '\\b(?=\\w)' };
      case '>': return { text: '\\b(?<=\\w)' };
      case 'n': return { text: '\\n', ch: '\n' };
      case 'r': return { text: '\\r', ch: '\r' };
      case 't': return { text: '\\t', ch: '\t' };
      case 'f': return { text: '\\f', ch: '\f' };
      case 'v': return { text: '\\v', ch: '\v' };
      case 'a': return { text: '\\x07', ch: '\x07' };
      case 'x': case 'u': case 'U': {
        let hex;
        if (pattern[i] === '{') {
          const end = pattern.indexOf('}', i);
          if (end < 0) throw new Unsupported(`\\${c}{ without }`);
          hex = pattern.slice(i + 1, end);
          i = end + 1;
        } else {
          const width = { x: 2, u: 4, U: 8 }[c];
          hex = pattern.slice(i, i + width);
          i += width;
        }
        const cp = parseInt(hex, 16);
        if (!/^[0-9a-fA-F]+$/.test(hex) || cp > 0x10ffff) throw new Unsupported(`\\x${hex}`);
        const ch = String.fromCodePoint(cp);
        return { text: cpEscape(cp), ch };
      }
      case 'p': case 'P': {
        if (!unicode) throw new Unsupported('\\p without flag u');
        let name;
        if (pattern[i] === '{') {
          const end = pattern.indexOf('}', i);
          name = pattern.slice(i + 1, end);
          i = end + 1;
        } else {
          name = pattern[i];
          i += 1;
        }
        let neg = c === 'P';
        if (name.startsWith('^')) { neg = !neg; name = name.slice(1); }
        name = name.replace(/\s+/g, '');
        let prop;
        if (name.includes('=') || name.includes(':')) prop = name.replace(':', '=');
        else if (GENERAL_CATEGORIES.has(name) || /^[A-Z][a-z]*_/.test(name) || /^(Any|ASCII|Alphabetic|White_Space|Emoji\w*)$/.test(name)) prop = name;
        else prop = `Script=${name}`;
        return { text: `\\${neg ? 'P' : 'p'}{${prop}}` };
      }
      case 'Q': case 'E': case 'C': case 'K': case 'G': case 'Z':
        throw new Unsupported(`\\${c}`);
      default:
        if (/[0-9]/.test(c)) throw new Unsupported(`\\${c} (octal or backreference)`);
        if (/[A-Za-z]/.test(c)) throw new Unsupported(`\\${c}`);
        return { text: literal(c, inClass), ch: c };
    }
  };

  // Reads a class at pattern[i] === '['; returns its JS text (body only when `nested`).
  const readClass = (nested) => {
    i += 1;
    let negated = false;
    if (pattern[i] === '^') { negated = true; i += 1; }
    if (nested && negated) throw new Unsupported('negated nested class');
    let body = '';
    let first = true;
    let prevCh = null; // last single character, for ranges
    while (i < n) {
      const c = pattern[i];
      if (c === ']' && !first) { i += 1; break; }
      first = false;
      if (c === '[') {
        const posix = /^\[:(\^?)([a-z]+):\]/.exec(pattern.slice(i));
        if (posix) {
          if (posix[1]) throw new Unsupported('negated POSIX class');
          const ranges = POSIX_CLASSES[posix[2]];
          if (!ranges) throw new Unsupported(`[:${posix[2]}:]`);
          body += ranges;
          i += posix[0].length;
        } else {
          body += readClass(true);
        }
        prevCh = null;
        continue;
      }
      if ((c === '&' && pattern[i + 1] === '&') || (c === '~' && pattern[i + 1] === '~') ||
          (c === '-' && pattern[i + 1] === '-')) throw new Unsupported('class set operation');
      if (c === '-' && prevCh !== null && pattern[i + 1] !== ']' && pattern[i + 1] !== undefined) {
        // A range prevCh-hi.
        i += 1;
        let hi;
        let hiText;
        if (pattern[i] === '\\') {
          const e = readEscape(true);
          if (e.ch === undefined) throw new Unsupported('class range to a class escape');
          hi = e.ch;
          hiText = e.text;
        } else {
          hi = String.fromCodePoint(pattern.codePointAt(i));
          i += hi.length;
          hiText = literal(hi, true);
        }
        body += '-' + hiText;
        if (!uniformI && flags().i) {
          const lo = prevCh;
          if (/[a-z]/.test(lo) && /[a-z]/.test(hi)) body += `${lo.toUpperCase()}-${hi.toUpperCase()}`;
          else if (/[A-Z]/.test(lo) && /[A-Z]/.test(hi)) body += `${lo.toLowerCase()}-${hi.toLowerCase()}`;
          else if (/[A-Za-z]/.test(lo + hi) || lo.codePointAt(0) > 0x7f || hi.codePointAt(0) > 0x7f) {
            // Ranges over both cases or non-ASCII: case folding is approximated (not spelled out).
            approx.add('case-insensitive non-letter or non-ASCII range');
          }
        }
        prevCh = null;
        continue;
      }
      const rangeNext = () => pattern[i] === '-' && pattern[i + 1] !== ']' && pattern[i + 1] !== undefined;
      if (c === '\\') {
        const e = readEscape(true);
        if (e.ch === undefined) {
          body += e.text;
          prevCh = null;
          continue;
        }
        body += e.text;
        if (expandCase(e.ch) && !rangeNext()) body += literal(otherCase(e.ch), true);
        prevCh = e.ch;
        continue;
      }
      const ch = String.fromCodePoint(pattern.codePointAt(i));
      i += ch.length;
      body += literal(ch, true);
      if (expandCase(ch) && !rangeNext()) body += literal(otherCase(ch), true);
      prevCh = ch;
    }
    if (nested) return body;
    if (body === '' && !negated) return '[]';
    return `[${negated ? '^' : ''}${body}]`;
  };
  const otherCase = (ch) => (ch.toLowerCase() === ch ? ch.toUpperCase() : ch.toLowerCase());
  const approx = new Set();

  while (i < n) {
    const c = pattern[i];
    if (c === '\\') {
      const e = readEscape(false);
      out.push(e.ch !== undefined && expandCase(e.ch) ? caseLiteral(e.ch, false) : e.text);
      continue;
    }
    if (c === '[') {
      out.push(readClass(false));
      continue;
    }
    if (c === '(') {
      if (pattern[i + 1] === '?') {
        const rest = pattern.slice(i + 2);
        let m;
        if ((m = /^P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest))) {
          // Named group: no backreferences in Rust regex, so a plain group does the same.
          stack.push({ ...flags() });
          out.push('(');
          i += 2 + m[0].length;
        } else if ((m = /^([a-zA-Z-]*):/.exec(rest))) {
          const frame = { ...flags() };
          applyFlags(m[1], frame);
          stack.push(frame);
          out.push('(?:');
          i += 2 + m[0].length;
        } else if ((m = /^([a-zA-Z-]+)\)/.exec(rest))) {
          applyFlags(m[1], flags()); // to the end of the enclosing group
          i += 2 + m[0].length;
        } else {
          throw new Unsupported(`group (?${rest.slice(0, 3)}`);
        }
      } else {
        stack.push({ ...flags() });
        out.push('(');
        i += 1;
      }
      continue;
    }
    if (c === ')') {
      if (stack.length > 1) stack.pop();
      out.push(')');
      i += 1;
      continue;
    }
    if (c === '.') {
      out.push(flags().s ? '[\\s\\S]' : '[^\\n]');
      i += 1;
      continue;
    }
    if (c === '^') {
      out.push(flags().m ? '(?<![^\\n])' : '^');
      i += 1;
      continue;
    }
    if (c === '$') {
      out.push(flags().m ? '(?![^\\n])' : '$');
      i += 1;
      continue;
    }
    if (c === '{') {
      const m = /^\{(\d*)(,?)(\d*)\}/.exec(pattern.slice(i));
      if (!m) throw new Unsupported('bare {');
      out.push(`{${m[1] || '0'}${m[2]}${m[3]}}`);
      i += m[0].length;
      continue;
    }
    if ('*+?|'.includes(c)) {
      out.push(c);
      i += 1;
      continue;
    }
    const ch = String.fromCodePoint(pattern.codePointAt(i));
    i += ch.length;
    out.push(caseLiteral(ch, false));
  }
  return { source: out.join(''), flags: (unicode ? 'u' : '') + (uniformI && base.i ? 'i' : ''), approx: [...approx] };
}

const escapeRegExp = (s) => s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

/**
 * The pack as JS RegExps. Returns { regexes, stats } where stats counts the enabled rules with
 * a pattern or keywords, how many compiled with flag `u`, without it, approximately (case
 * folding of a non-ASCII range), and the skipped ones with the reason.
 */
function buildRegExps(rules) {
  const regexes = [];
  const stats = { rules: 0, patterns: 0, keywordOnly: 0, unicode: 0, nonUnicode: 0, rewritten: 0, approximate: [], skipped: [] };
  for (const rule of rules) {
    if (!rule.enabled) continue;
    const ci = !rule.case_sensitive;
    if (!rule.pattern) {
      if (!rule.keywords || rule.keywords.length === 0) continue;
      stats.rules++;
      stats.keywordOnly++;
      let src = rule.keywords.map(escapeRegExp).join('|');
      if (rule.word_boundary) src = `(?<!\\w)(?:${src})(?!\\w)`;
      regexes.push({ id: rule.id, re: new RegExp(src, 'u' + (ci ? 'i' : '')) });
      stats.unicode++;
      continue;
    }
    stats.rules++;
    stats.patterns++;
    let done = false;
    let lastError = '';
    for (const unicode of [true, false]) {
      try {
        const t = translate(rule.pattern, ci, unicode);
        const re = new RegExp(t.source, t.flags);
        regexes.push({ id: rule.id, re });
        if (unicode) stats.unicode++;
        else stats.nonUnicode++;
        if (t.source !== rule.pattern) stats.rewritten++;
        if (t.approx.length) stats.approximate.push({ id: rule.id, why: t.approx.join('; ') });
        done = true;
        break;
      } catch (e) {
        lastError = e instanceof Unsupported ? `unsupported: ${e.message}` : e.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
      }
    }
    if (!done) stats.skipped.push({ id: rule.id, why: lastError });
  }
  return { regexes, stats };
}

const AUDIT_FIELDS = new Set(['timestamp', 'user', 'agent', 'id', 'server', 'session', 'namespace', 'cluster', 'human']);

/** The strings the engine scans: tool, prompt, response, every string leaf of the rest. */
function contentStrings(event) {
  const out = [event.tool, event.prompt, event.response];
  const walk = (v) => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  for (const [k, v] of Object.entries(event)) {
    if (!AUDIT_FIELDS.has(k) && k !== 'tool' && k !== 'prompt' && k !== 'response') walk(v);
  }
  return out;
}

// --- measuring -------------------------------------------------------------------------------

function percentile(sorted, q) {
  return sorted[Math.floor((sorted.length - 1) * q)];
}

/** One pass of a sync scan: every call timed, and the pass; returns the pass in ns. */
function syncPass(fn, inputs, lat, off) {
  const start = hrtime();
  for (let k = 0; k < inputs.length; k++) {
    const t0 = hrtime();
    fn(inputs[k], k);
    lat[off + k] = Number(hrtime() - t0);
  }
  return Number(hrtime() - start);
}

/** One pass of scanAsync, one call awaited at a time. */
async function asyncSerialPass(engine, inputs, lat, off) {
  const start = hrtime();
  for (let k = 0; k < inputs.length; k++) {
    const t0 = hrtime();
    await engine.scanAsync(inputs[k]);
    lat[off + k] = Number(hrtime() - t0);
  }
  return Number(hrtime() - start);
}

/** One pass of scanAsync with `batch` calls in flight. */
async function asyncBatchPass(engine, inputs, batch) {
  const start = hrtime();
  for (let k = 0; k < inputs.length; k += batch) {
    const end = Math.min(inputs.length, k + batch);
    const pending = new Array(end - k);
    for (let j = k; j < end; j++) pending[j - k] = engine.scanAsync(inputs[j]);
    await Promise.all(pending);
  }
  return Number(hrtime() - start);
}

function summary(lat, passNs, count, bytes) {
  const best = Math.min(...passNs);
  const out = { best_pass_ns: best, mean_ns: best / count, events_per_s: (count / best) * 1e9, mb_per_s: (bytes / best) * 1e3 };
  if (lat) {
    const sorted = Float64Array.from(lat).sort();
    out.p50_ns = percentile(sorted, 0.5);
    out.p99_ns = percentile(sorted, 0.99);
  }
  return out;
}

function coreLatencyPath() {
  if (process.env.SENTINEL_CORE_LATENCY) return process.env.SENTINEL_CORE_LATENCY;
  return path.join(REPO, 'target', 'release', process.platform === 'win32' ? 'core-latency.exe' : 'core-latency');
}

/**
 * Untimed passes core-latency makes before its timed one. Its process is fresh each round,
 * while the binding's engine has scanned the same events pass after pass: with one untimed
 * pass a run's mean per event was 11.4–12.8 µs, with 2 timed passes 9.4–10.2, with 20
 * 7.8 (256 B events). Five untimed passes bring it to about where the binding's engine is.
 */
const CORE_WARM_UP = 5;

/** One run of core-latency on `file`: its JSON line, or { error }. */
function runCore(bin, file, passes) {
  const r = spawnSync(bin, [file, String(passes), String(CORE_WARM_UP)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.error) return { error: r.error.message };
  if (r.status !== 0) return { error: `exit ${r.status}: ${r.stderr.trim()}` };
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch (e) {
    return { error: `unexpected output ${JSON.stringify(r.stdout.slice(0, 200))}` };
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * The core's figures from its runs (one pass each, one per round): the best pass, and the
 * median over the runs of each run's p50, p99 and mean.
 */
function coreSummary(runs) {
  const ok = runs.filter((r) => !r.error);
  if (ok.length === 0) return runs.length ? { error: runs[0].error } : null;
  const best = Math.min(...ok.map((r) => r.best_pass_ns));
  const { events, bytes } = ok[0];
  return {
    runs: ok.length, events, bytes, blocked_per_pass: ok[0].blocked_per_pass,
    p50_ns: median(ok.map((r) => r.p50_ns)), p99_ns: median(ok.map((r) => r.p99_ns)), mean_ns: median(ok.map((r) => r.mean_ns)),
    best_pass_ns: best, best_mean_ns: best / events, events_per_s: (events / best) * 1e9, mb_per_s: (bytes / best) * 1e3,
    raw: runs,
  };
}

// --- output ----------------------------------------------------------------------------------

const fmt = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? '–' :
  v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const us = (ns, digits = 1) => (ns === undefined ? '–' : fmt(ns / 1000, digits));

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const log = (msg) => process.stderr.write(msg + '\n');
  const load0 = os.loadavg();

  let t = hrtime();
  const engine = new Engine();
  const buildMs = Number(hrtime() - t) / 1e6;
  const rules = engine.rules();
  const { regexes, stats } = buildRegExps(rules);
  const attacks = attackExamples(rules);

  // What timing one call costs (syncPass around a no-op): in every per-call figure, as
  // Instant::now() is in core-latency's. Nothing is subtracted; the header says how much.
  const noopInputs = new Array(20000).fill(0);
  const noopLat = new Float64Array(noopInputs.length);
  let timerNs = Infinity;
  for (let r = 0; r < 5; r++) timerNs = Math.min(timerNs, syncPass(() => 0, noopInputs, noopLat, 0) / noopInputs.length);

  let sink = 0;
  let regexpHits = null; // per event of the current set: regexes that matched (last pass)
  const regexpScan = (event, k) => {
    let hits = 0;
    const strs = contentStrings(event);
    for (let s = 0; s < strs.length; s++) {
      const str = strs[s];
      for (let r = 0; r < regexes.length; r++) if (regexes[r].re.test(str)) hits++;
    }
    sink += hits;
    if (regexpHits) regexpHits[k] = hits;
    return hits;
  };
  const scan = (x) => engine.scan(x);
  const scanJson = (x) => engine.scanJson(x);

  const coreBin = coreLatencyPath();
  const haveCore = fs.existsSync(coreBin);
  if (!haveCore) {
    log(`core-latency not found at ${coreBin}: the core and overhead columns are skipped. Build it with ` +
      '`cargo build --release -p sentinel-benches --bin core-latency` (or set SENTINEL_CORE_LATENCY).');
  }

  // One generator per set (seed, seed + 1): the events of a shorter run (--quick) are the
  // first events of a longer one.
  const setDefs = [{ name: '256 B', target: 256 }, { name: '4 KB', target: 4096 }];
  const sets = [];
  for (const [index, def] of setDefs.entries()) {
    const generated = makeEvents(mulberry32(opts.seed + index), opts.eventsPerSet[def.target], def.target, attacks);
    const objects = generated.map((g) => g.event);
    const texts = objects.map((e) => JSON.stringify(e));
    const sizes = texts.map((s) => Buffer.byteLength(s)).sort((a, b) => a - b);
    const bytes = sizes.reduce((a, b) => a + b, 0);
    const N = objects.length;
    const P = opts.passes;
    log(`set ${def.name}: ${N} events, ${(bytes / 1e6).toFixed(2)} MB; warming up…`);

    // Warm-up: every event once through scan (the engine compiles matchers lazily), the first
    // 200 through scanAsync (the pool threads' scratches), the first 50 through the RegExp loop
    // (V8 compiles regexes on first use); and the sanity counts.
    let attacked = 0, attackFlagged = 0, cleanFlagged = 0, blocked = 0;
    const cleanRules = new Map();
    for (let k = 0; k < N; k++) {
      const v = engine.scan(texts[k]);
      engine.scan(objects[k]);
      const flagged = v.findings.length > 0;
      if (v.blocked) blocked++;
      if (generated[k].attack) {
        attacked++;
        if (flagged) attackFlagged++;
      } else if (flagged) {
        cleanFlagged++;
        for (const f of v.findings) cleanRules.set(f.rule, (cleanRules.get(f.rule) || 0) + 1);
      }
    }
    const warm = Math.min(N, 200);
    for (let k = 0; k < warm; k++) await engine.scanAsync(texts[k]);
    await asyncBatchPass(engine, texts.slice(0, warm), opts.batch);
    for (let k = 0; k < Math.min(N, 50); k++) regexpScan(objects[k], k);
    regexpHits = new Int32Array(N);

    const RP = Math.min(opts.regexpPasses, P);
    const lat = { obj: new Float64Array(N * P), str: new Float64Array(N * P), json: new Float64Array(N * P), async1: new Float64Array(N * P), regexp: new Float64Array(N * RP) };
    const passes = { obj: [], str: [], json: [], async1: [], asyncBatch: [], regexp: [], core: [] };
    // Each Sentinel step: an untimed pass, then the timed one (see the header).
    const untimed = new Float64Array(N);
    const steps = [
      ['obj', (p) => (syncPass(scan, objects, untimed, 0), syncPass(scan, objects, lat.obj, p * N))],
      ['str', (p) => (syncPass(scan, texts, untimed, 0), syncPass(scan, texts, lat.str, p * N))],
      ['json', (p) => (syncPass(scanJson, texts, untimed, 0), syncPass(scanJson, texts, lat.json, p * N))],
      ['async1', async (p) => (await asyncSerialPass(engine, texts, untimed, 0), asyncSerialPass(engine, texts, lat.async1, p * N))],
      ['asyncBatch', async () => (await asyncBatchPass(engine, texts, opts.batch), asyncBatchPass(engine, texts, opts.batch))],
      ['regexp', (p) => syncPass(regexpScan, objects, lat.regexp, p * N)],
    ];
    // The core runs in the rotation too: one core-latency pass per round, so that it meets the
    // same neighbours as the Node passes (P passes in all, as many as each Node method).
    const coreRuns = [];
    const coreFile = path.join(os.tmpdir(), `sentinel-node-bench-${process.pid}-${def.target}.jsonl`);
    if (haveCore) {
      fs.writeFileSync(coreFile, texts.join('\n') + '\n');
      steps.push(['core', () => {
        if (coreRuns.some((r) => r.error)) return null;
        const r = runCore(coreBin, coreFile, 1);
        if (r.error) log(`  core-latency failed: ${r.error}`);
        coreRuns.push(r);
        return r.error ? null : r.best_pass_ns;
      }]);
    }
    try {
      for (let p = 0; p < P; p++) {
        for (let s = 0; s < steps.length; s++) {
          const [key, run] = steps[(s + p) % steps.length];
          if (key === 'regexp' && p >= RP) continue; // the slow loop runs in the first RP rounds only
          passes[key].push(await run(p));
        }
        log(`  round ${p + 1}/${P} done`);
      }
    } finally {
      if (haveCore) fs.rmSync(coreFile, { force: true });
    }
    const m = {
      obj: summary(lat.obj, passes.obj, N, bytes),
      str: summary(lat.str, passes.str, N, bytes),
      json: summary(lat.json, passes.json, N, bytes),
      async: { ...summary(null, passes.asyncBatch, N, bytes), serial: summary(lat.async1, passes.async1, N, bytes) },
      regexp: summary(lat.regexp, passes.regexp, N, bytes),
    };
    let regexpAttackHits = 0, regexpCleanHits = 0;
    for (let k = 0; k < N; k++) {
      if (generated[k].attack) regexpAttackHits += regexpHits[k] > 0;
      else regexpCleanHits += regexpHits[k] > 0;
    }
    regexpHits = null;
    m.async.p50_ns = m.async.serial.p50_ns;
    m.async.p99_ns = m.async.serial.p99_ns;

    const core = coreSummary(coreRuns);
    if (core && !core.error) {
      if (core.events !== N || core.bytes !== bytes) log(`  note: core-latency read ${core.events} events / ${core.bytes} B, bench has ${N} / ${bytes}`);
      if (core.blocked_per_pass !== undefined && core.blocked_per_pass !== blocked) {
        log(`  note: core-latency blocks ${core.blocked_per_pass} events, the binding ${blocked}: not the same configuration?`);
      }
    }
    const overhead = core && !core.error ? { str_ns: m.str.mean_ns - core.best_mean_ns, obj_ns: m.obj.mean_ns - core.best_mean_ns, json_ns: m.json.mean_ns - core.best_mean_ns } : null;
    sets.push({
      name: def.name, target_bytes: def.target, events: N, bytes,
      json_bytes: { min: sizes[0], p50: sizes[N >> 1], max: sizes[N - 1] },
      attacks: attacked, attacks_flagged: attackFlagged, clean_flagged: cleanFlagged, clean_flagged_rules: Object.fromEntries(cleanRules),
      blocked, regexp_events_with_a_match: { attack: regexpAttackHits, clean: regexpCleanHits },
      methods: m, core, overhead,
      ratio_vs_regexp: { obj: m.obj.events_per_s / m.regexp.events_per_s, str: m.str.events_per_s / m.regexp.events_per_s, json: m.json.events_per_s / m.regexp.events_per_s, async: m.async.events_per_s / m.regexp.events_per_s },
    });
  }
  const load1 = os.loadavg();

  // Targets.
  const targets = [];
  for (const s of sets) {
    targets.push({ set: s.name, name: 'Sentinel scan(object) ≥ 20× the RegExp loop (throughput)', value: s.ratio_vs_regexp.obj, unit: '×', pass: s.ratio_vs_regexp.obj >= 20 });
  }
  const small = sets.find((s) => s.target_bytes === 256);
  if (small && small.overhead) {
    targets.push({ set: small.name, name: 'binding overhead of scan(string) ≤ 2 µs per call', value: small.overhead.str_ns, unit: 'ns', pass: small.overhead.str_ns <= 2000 });
    targets.push({ set: small.name, name: 'binding overhead of scan(object) ≤ 2 µs per call', value: small.overhead.obj_ns, unit: 'ns', pass: small.overhead.obj_ns <= 2000 });
    targets.push({ set: small.name, name: 'binding overhead of scanJson(string) ≤ 2 µs per call', value: small.overhead.json_ns, unit: 'ns', pass: small.overhead.json_ns <= 2000 });
  } else {
    targets.push({ set: '256 B', name: 'binding overhead ≤ 2 µs per call', value: null, unit: 'ns', pass: null, note: 'core-latency not available' });
  }

  const rel = path.relative(REPO, process.cwd()) || '.';
  const script = path.relative(process.cwd(), __filename);
  const env = process.env.SENTINEL_CORE_LATENCY ? `SENTINEL_CORE_LATENCY=${process.env.SENTINEL_CORE_LATENCY} ` : '';
  const command = `${rel === '.' ? '' : `cd ${rel} && `}${env}node ${script}${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`;
  const cpus = os.cpus();
  const machine = {
    cpu: cpus.length ? cpus[0].model.trim() : 'unknown', cpus: cpus.length, node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`, loadavg_start: load0, loadavg_end: load1,
  };

  if (opts.json) {
    process.stdout.write(JSON.stringify({
      date: new Date().toISOString(), command, machine, options: opts, engine_build_ms: buildMs, rules: rules.length,
      timing_cost_ns: timerNs, core_latency: haveCore ? coreBin : null, regexp: { compiled: regexes.length, ...stats },
      sets, targets, sink,
    }, null, 2) + '\n');
    return;
  }

  const o = [];
  o.push(`# mcp-threatscan (Node binding) benchmark, ${new Date().toISOString().slice(0, 10)}`);
  o.push('');
  o.push(`- Machine: ${machine.cpu}, ${machine.cpus} CPUs (os.cpus()), ${machine.platform}; Node ${machine.node}. ` +
    `Load average (1, 5, 15 min): ${load0.map((x) => x.toFixed(2)).join(', ')} at start, ${load1.map((x) => x.toFixed(2)).join(', ')} at end.`);
  o.push(`- Command: \`${command}\``);
  o.push(`- Engine: built-in pack, ${rules.length} rules, built in ${buildMs.toFixed(0)} ms. ${sets.map((s) => `${s.events.toLocaleString('en-US')} events of ${s.name}`).join(', ')} ` +
    `(mulberry32, seed ${opts.seed} for 256 B and ${opts.seed + 1} for 4 KB; a quarter with one rule example as attack), ${opts.passes} pass${opts.passes > 1 ? "es" : ""} per method in turn; ` +
    `p50/p99 over every call of every pass; throughput and mean from the best pass. scanAsync: latency one awaited at a time, ` +
    `throughput ${opts.batch} in flight. The RegExp loop takes about 20 ms per 4 KB event, so it runs only in the first ` +
    `${Math.min(opts.regexpPasses, opts.passes) > 1 ? `${Math.min(opts.regexpPasses, opts.passes)} rounds` : 'round'}. ` +
    `Timing each call (two process.hrtime.bigint()) costs ${timerNs.toFixed(0)} ns, included in every per-call figure, as Instant::now() is in the core's.`);
  o.push(`- RegExp loop: ${regexes.length} regexes for ${stats.rules} enabled rules with a pattern or keywords ` +
    `(${stats.patterns} patterns: ${stats.unicode - stats.keywordOnly} compiled with flag u, ${stats.nonUnicode} without it, ${stats.rewritten} respelled from Rust syntax; ` +
    `${stats.keywordOnly} keyword-only alternations). Skipped (JS cannot compile): ${stats.skipped.length}` +
    `${stats.skipped.length ? ' (' + stats.skipped.map((s) => `${s.id}: ${s.why}`).join('; ') + ')' : ''}.` +
    `${stats.approximate.length ? ` Approximate: ${stats.approximate.map((s) => s.id).join(', ')} (${stats.approximate[0].why}).` : ''}`);
  for (const s of sets) {
    o.push(`- Set ${s.name}: ${s.events} events, JSON ${s.json_bytes.min}–${s.json_bytes.max} B (p50 ${s.json_bytes.p50} B), ${(s.bytes / 1e6).toFixed(2)} MB; ` +
      `${s.attacks} with an attack, ${s.attacks_flagged} of them flagged by Sentinel (${s.regexp_events_with_a_match.attack} matched by the RegExp loop); ` +
      `attack-free events flagged: ${s.clean_flagged} (RegExp loop: ${s.regexp_events_with_a_match.clean})` +
      `${s.clean_flagged ? ' (' + Object.entries(s.clean_flagged_rules).map(([r, c]) => `${r} ×${c}`).join(', ') + ')' : ''}; blocked: ${s.blocked}.`);
  }
  if (!haveCore) {
    o.push(`- Core: skipped, ${coreBin} not found (build it with \`cargo build --release -p sentinel-benches --bin core-latency\`).`);
  }
  o.push('');
  o.push('| set | method | p50 µs | p99 µs | mean µs (best pass) | events/s | MB/s | × RegExp loop | overhead vs core, ns/call |');
  o.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of sets) {
    const m = s.methods;
    const ov = (k) => (s.overhead ? fmt(s.overhead[k], 0) : '–');
    const row = (label, x, ratio, over) => o.push(`| ${s.name} | ${label} | ${us(x.p50_ns)} | ${us(x.p99_ns)} | ${us(x.mean_ns, 2)} | ${fmt(x.events_per_s, 0)} | ${fmt(x.mb_per_s, 2)} | ${ratio} | ${over} |`);
    row('`scan(object)`', m.obj, fmt(s.ratio_vs_regexp.obj, 0) + '×', ov('obj_ns'));
    row('`scan(string)`', m.str, fmt(s.ratio_vs_regexp.str, 0) + '×', ov('str_ns'));
    row('`scanJson(string)`', m.json, fmt(s.ratio_vs_regexp.json, 0) + '×', ov('json_ns'));
    row(`\`scanAsync(string)\` ×${opts.batch}`, m.async, fmt(s.ratio_vs_regexp.async, 0) + '×', '–');
    row('RegExp loop', m.regexp, '1×', '–');
    if (s.core && !s.core.error) {
      const c = s.core;
      o.push(`| ${s.name} | core (Rust, parse + scan) | ${us(c.p50_ns)} | ${us(c.p99_ns)} | ${us(c.best_mean_ns, 2)} | ${fmt(c.events_per_s, 0)} | ${fmt(c.mb_per_s, 2)} | ${fmt(c.events_per_s / m.regexp.events_per_s, 0)}× | (reference) |`);
    } else {
      o.push(`| ${s.name} | core (Rust, parse + scan) | – | – | – | – | – | – | ${s.core && s.core.error ? 'failed' : 'not run'} |`);
    }
  }
  o.push('');
  o.push('scanAsync row: p50/p99 of one call awaited at a time ' +
    `(its throughput then: ${sets.map((s) => `${s.name} ${fmt(s.methods.async.serial.events_per_s, 0)} events/s`).join(', ')}); ` +
    `events/s and MB/s with ${opts.batch} in flight. MB = 10^6 bytes of event JSON. Core: one core-latency pass per round, ` +
    `p50/p99 the median of its runs'. Overhead = mean per call of the best Node pass minus that of the best core pass` +
    `${opts.quick ? ' (with --quick, best of 2 passes: indicative only)' : ''}.`);
  o.push('');
  o.push('| target | set | value | result |');
  o.push('|---|---|---:|---|');
  for (const tg of targets) {
    const value = tg.value === null ? '–' : tg.unit === '×' ? `${fmt(tg.value, 1)}×` : `${fmt(tg.value, 0)} ns`;
    const indicative = opts.quick && tg.unit === 'ns' && tg.pass !== null ? ' (indicative: --quick)' : '';
    o.push(`| ${tg.name} | ${tg.set} | ${value} | ${tg.pass === null ? `SKIPPED (${tg.note})` : tg.pass ? 'PASS' : 'FAIL'}${indicative} |`);
  }
  process.stdout.write(o.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write((e && e.stack) || String(e));
  process.stderr.write('\n');
  process.exit(1);
});
