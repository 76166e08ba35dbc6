'use strict'
// Shared by the tests: paths, events in the seed's form, the CLI.
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const REPO = path.resolve(__dirname, '..', '..')
const EVENTS = path.join(REPO, 'examples', 'events')

/** An event in shared/seeds/001's form, with `fields` set or added. */
function event(fields = {}) {
  return {
    timestamp: '2024-01-15T14:30:00Z',
    user: 'alice',
    agent: 'ChatBot',
    tool: 'web_search',
    prompt: 'Search for data',
    response: 'Results found',
    ...fields,
  }
}

/** The events of a JSON array file or an NDJSON file. */
function loadEvents(file) {
  const text = fs.readFileSync(file, 'utf8')
  if (text.trimStart().startsWith('[')) return JSON.parse(text)
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l))
}

/** The `sentinel` binary: $SENTINEL_BIN, or the debug build `cargo test` leaves. */
function sentinelBinary() {
  const bin = process.env.SENTINEL_BIN || path.join(process.env.CARGO_TARGET_DIR || path.join(REPO, 'target'), 'debug', 'sentinel')
  if (!fs.existsSync(bin)) {
    throw new Error(`the sentinel CLI is not built at ${bin}: run \`cargo build -p mcp-threatscan-cli\` (or set SENTINEL_BIN)`)
  }
  return bin
}

/** `sentinel scan --format ndjson FILE`: its lines. */
function runCli(file, ...flags) {
  const done = spawnSync(sentinelBinary(), ['scan', '--format', 'ndjson', ...flags, file], { encoding: 'utf8', maxBuffer: 1 << 28 })
  if (done.status !== 0 && done.status !== 1 && done.status !== 2) {
    throw new Error(`sentinel scan exited ${done.status}: ${done.stderr}`)
  }
  return done.stdout.split('\n').filter((l) => l !== '')
}

/** A CLI line without its `index` / `file` / `line` keys: the verdict's own JSON. */
function stripPosition(line) {
  const stripped = line.replace(/^\{"index":\d+,(?:"file":"[^"]*",)?"line":\d+,/, '{')
  if (stripped === line) throw new Error(`not a CLI verdict line: ${line}`)
  return stripped
}

/** Asserts that `fn` throws (or rejects with) an error with this `code` and returns it. */
async function caught(fn) {
  try {
    await fn()
  } catch (err) {
    return err
  }
  throw new Error('expected an error, got none')
}

/** The rule codes of a verdict's findings, in order. */
function rules(verdict) {
  return verdict.findings.map((f) => f.rule)
}

/** True when a finding of the verdict has this rule code. */
function hasRule(verdict, rule) {
  return verdict.findings.some((f) => f.rule === rule)
}

module.exports = { REPO, EVENTS, event, loadEvents, runCli, stripPosition, caught, rules, hasRule }
