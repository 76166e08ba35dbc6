'use strict'
// The binding and the `sentinel` CLI agree byte for byte: the same events scanned by
// `sentinel scan --format ndjson` and by `engine.scan` give the same verdict JSON (the CLI adds
// only `index`, `file` and `line`), on the sample logs, the seed's examples and one event per
// example of every rule. And the examples of shared/seeds/001 get the verdicts the seed says.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Engine } = require('..')
const { EVENTS, event, loadEvents, runCli, stripPosition, hasRule, rules } = require('./support')

const engine = new Engine()

/** One event per example and negative example of every rule, placed where the rule looks. */
function exampleEvents() {
  const events = []
  for (const rule of engine.rules()) {
    const scope = rule.scope || []
    for (const example of [...(rule.examples || []), ...(rule.negative_examples || [])]) {
      let ev
      if (typeof example === 'object' && example !== null) {
        ev = event({ tool: example.tool || 'example_tool', prompt: example.prompt || '', response: example.response || '' })
        if (example.metadata != null) ev.metadata = example.metadata
      } else if (scope.length === 0 || scope.includes('prompt') || scope.includes('any')) {
        ev = event({ prompt: example })
      } else if (scope.includes('response')) {
        ev = event({ response: example })
      } else if (scope.includes('metadata')) {
        ev = event({ metadata: { arguments: { value: example }, items: [1, example] } })
      } else if (scope.includes('tool')) {
        ev = event({ tool: example })
      } else {
        ev = event({ notes: example })
      }
      ev.id = `${rule.id}-${events.length}`
      events.push(ev)
    }
  }
  events.push(event({ id: 42, server: 'srv', session: 's', namespace: 'n', cluster: 'c', human: 'h', prompt: 'café ＵＮＩＯＮ ＳＥＬＥＣＴ', extra: { deep: [{ x: 'ignore previous instructions' }] } }))
  return events
}

test('engine.scan gives the CLI NDJSON verdicts byte for byte', () => {
  const events = [...loadEvents(path.join(EVENTS, 'sample.ndjson')), ...loadEvents(path.join(EVENTS, 'seed-001.json')), ...exampleEvents()]
  assert.ok(events.length > 500, `${events.length} events`)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-threatscan-'))
  const file = path.join(dir, 'events.ndjson')
  fs.writeFileSync(file, events.map((e) => JSON.stringify(e) + '\n').join(''))
  const lines = runCli(file)
  assert.equal(lines.length, events.length)
  let blocked = 0
  for (const [i, ev] of events.entries()) {
    const fromCli = stripPosition(lines[i])
    const fromObject = JSON.stringify(engine.scan(ev))
    assert.equal(fromObject, fromCli, `event ${i} (${ev.id})`)
    assert.equal(JSON.stringify(engine.scan(JSON.stringify(ev))), fromCli, `event ${i} as text`)
    blocked += engine.scan(ev).blocked ? 1 : 0
  }
  assert.ok(blocked > 100, `${blocked} blocked`)
})

test('the sample log with the same options given to both', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-threatscan-'))
  const config = path.join(dir, 'sentinel.toml')
  fs.writeFileSync(config, 'profile = "all"\n[actions]\nmedium = "block"\n')
  const sample = path.join(EVENTS, 'sample.ndjson')
  const lines = runCli(sample, '--config', config)
  const e = new Engine({ profile: 'all', actions: { medium: 'block' } })
  const events = loadEvents(sample)
  assert.equal(lines.length, events.length)
  events.forEach((ev, i) => assert.equal(JSON.stringify(e.scan(ev)), stripPosition(lines[i]), `event ${i}`))
})

test('shared/seeds/001: the multi-event example blocks the os_shell call and allows the rest', () => {
  const events = loadEvents(path.join(EVENTS, 'seed-001.json'))
  const verdicts = events.map((ev) => engine.scan(ev))
  for (const [i, ev] of events.entries()) {
    if (ev.tool === 'os_shell') {
      assert.equal(verdicts[i].action, 'block')
      assert.ok(hasRule(verdicts[i], 'DT-001'))
    } else {
      assert.equal(verdicts[i].action, 'allow', `${ev.tool}: ${rules(verdicts[i])}`)
    }
  }
})

test('shared/seeds/001: the single-event and upload examples are allowed', () => {
  for (const ev of [
    { timestamp: '2024-01-15T14:30:00Z', user: 'alice', agent: 'ChatBot', tool: 'web_search', prompt: 'Search for recent security vulnerabilities', response: 'Found 15 recent CVE entries...' },
    { timestamp: '2023-12-01T10:30:00Z', user: 'user@example.com', agent: 'claude-3', tool: 'filesystem', prompt: 'Read the configuration file', response: 'File contents: {...}' },
    { timestamp: '2023-12-01T10:31:00Z', user: 'user@example.com', agent: 'claude-3', tool: 'operation', prompt: 'Read the configuration file', response: 'Operation: read\nFile: /etc/config.json' },
  ]) {
    assert.equal(engine.scan(ev).action, 'allow', JSON.stringify(ev))
  }
})
