'use strict'
// Every error code, with the details a user needs to find what is wrong: the rule id and its
// source, line and position, the option, the event's field and position, the fail-mode verdict.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Engine, Session, ToolPins } = require('..')
const { event, caught, hasRule } = require('./support')

const engine = new Engine()

const rule = (fields) => `[[rule]]
id = "T-001"
detector = "SEC-01"
name = "test"
severity = "high"
description = "a test rule"
${fields}
`

test('SENTINEL_RULE_ERROR: a pack that is not TOML, with its source and position', () => {
  const err = assert.throws(() => new Engine({ rules: { toml: '[[rule]\nid = 1', name: 'team.toml' } }), (e) => {
    assert.equal(e.code, 'SENTINEL_RULE_ERROR')
    assert.equal(e.kind, 'rule_pack')
    assert.equal(e.source, 'team.toml')
    assert.equal(e.position.line, 1)
    assert.ok(e instanceof Error)
    return true
  })
  assert.equal(err, undefined)
})

test('SENTINEL_RULE_ERROR: an invalid regex names the rule, its line and the column in the pattern', () => {
  assert.throws(() => new Engine({ rules: { toml: rule('pattern = "ab(c"'), name: 'team.toml' } }), (e) => {
    assert.equal(e.code, 'SENTINEL_RULE_ERROR')
    assert.equal(e.kind, 'rule')
    assert.equal(e.ruleId, 'T-001')
    assert.equal(e.source, 'team.toml')
    assert.equal(e.line, 1)
    assert.equal(typeof e.position.column, 'number')
    assert.match(e.message, /T-001/)
    return true
  })
})

test('SENTINEL_RULE_ERROR: a pack file that does not exist', () => {
  const missing = path.join(os.tmpdir(), 'mcp-threatscan-absent', 'rules.toml')
  assert.throws(() => new Engine({ rules: { path: missing } }), (e) => {
    assert.equal(e.code, 'SENTINEL_RULE_ERROR')
    assert.match(e.message, /rules\.toml/)
    return true
  })
})

test('SENTINEL_RULE_ERROR: Engine.create rejects with it', async () => {
  const e = await caught(() => Engine.create({ rules: { toml: rule('pattern = "(("') } }))
  assert.equal(e.code, 'SENTINEL_RULE_ERROR')
  assert.equal(e.ruleId, 'T-001')
  assert.equal(e.source, 'rules[0]')
})

test('SENTINEL_SIZE_LIMIT_ERROR: a pattern whose automaton is too large', () => {
  assert.throws(() => new Engine({ rules: { toml: rule('pattern = "\\\\w{500}\\\\w{500}\\\\w{500}\\\\w{500}"') } }), (e) => {
    assert.equal(e.code, 'SENTINEL_SIZE_LIMIT_ERROR')
    assert.equal(e.ruleId, 'T-001')
    assert.equal(typeof e.sizeLimit, 'number')
    return true
  })
})

test('SENTINEL_CONFIG_ERROR: an unknown option, and an invalid value, name the option', async () => {
  assert.throws(() => new Engine({ maxScanByte: 10 }), (e) => {
    assert.equal(e.code, 'SENTINEL_CONFIG_ERROR')
    assert.equal(e.option, 'maxScanByte')
    assert.match(e.message, /maxScanBytes/)
    return true
  })
  for (const [options, option] of [
    [{ maxScanBytes: -1 }, 'maxScanBytes'],
    [{ maxScanBytes: 1.5 }, 'maxScanBytes'],
    [{ failMode: 'maybe' }, 'failMode'],
    [{ profile: 'paranoid' }, 'profile'],
    [{ actions: { severe: 'block' } }, 'actions'],
    [{ actions: { high: 'explode' } }, 'actions'],
    [{ tools: { deny: 'rm' } }, 'tools'],
    [{ detectors: { 'SEC-01': { enabled: 'no' } } }, 'detectors'],
  ]) {
    assert.throws(() => new Engine(options), (e) => {
      assert.equal(e.code, 'SENTINEL_CONFIG_ERROR', JSON.stringify(options))
      assert.equal(e.option, option)
      assert.ok(e.message.startsWith(`options.${option}: `), e.message)
      return true
    })
  }
  const rejected = await caught(() => Engine.create({ failMode: 'maybe' }))
  assert.equal(rejected.code, 'SENTINEL_CONFIG_ERROR')
})

test('SENTINEL_EVENT_ERROR: JSON text that does not parse, with line, column and the fail-mode verdict', () => {
  assert.throws(() => engine.scan('{"timestamp": "t",\n  "user": }'), (e) => {
    assert.equal(e.code, 'SENTINEL_EVENT_ERROR')
    assert.equal(e.line, 2)
    assert.equal(typeof e.column, 'number')
    assert.deepEqual(Object.keys(e.verdict).slice(0, 3), ['action', 'severity', 'findings'])
    assert.equal(e.verdict.action, 'block')
    assert.ok(hasRule(e.verdict, 'SYS-001'))
    return true
  })
})

test('SENTINEL_EVENT_ERROR: a missing or mistyped field is named', () => {
  const { prompt, ...noPrompt } = event()
  assert.equal(typeof prompt, 'string')
  assert.throws(() => engine.scan(noPrompt), (e) => e.code === 'SENTINEL_EVENT_ERROR' && e.field === 'prompt')
  assert.throws(() => engine.scan(event({ user: 42 })), (e) => e.code === 'SENTINEL_EVENT_ERROR' && e.field === 'user')
  assert.throws(() => engine.scan(''), (e) => e.code === 'SENTINEL_EVENT_ERROR')
})

test('SENTINEL_EVENT_ERROR: invalid UTF-8 in a Buffer', () => {
  const bytes = Buffer.concat([Buffer.from('{"timestamp":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])
  assert.throws(() => engine.scan(bytes), (e) => e.code === 'SENTINEL_EVENT_ERROR' && e.verdict.blocked)
})

test('SENTINEL_EVENT_ERROR: data JSON cannot hold (a cycle, a BigInt) is unreadable, not a crash', () => {
  const cyclic = event()
  cyclic.metadata = { self: cyclic }
  assert.throws(() => engine.scan(cyclic), (e) => e.code === 'SENTINEL_EVENT_ERROR' && /circular/i.test(e.message))
  assert.throws(() => engine.scan(event({ metadata: { n: 10n } })), (e) => e.code === 'SENTINEL_EVENT_ERROR' && e.verdict.blocked)
  // Nesting deeper than the runtime's stack is refused by JSON.stringify, not a stack overflow.
  let deep = {}
  for (let i = 0; i < 200000; i++) deep = { d: deep }
  assert.throws(() => engine.scan(event({ metadata: deep })), (e) => e.code === 'SENTINEL_EVENT_ERROR')
})

test('SENTINEL_EVENT_ERROR: under fail_open the verdict of unreadable input does not block', () => {
  const open = new Engine({ failMode: 'fail_open' })
  assert.throws(() => open.scan('not json'), (e) => e.code === 'SENTINEL_EVENT_ERROR' && !e.verdict.blocked && hasRule(e.verdict, 'SYS-001'))
})

test('SENTINEL_EVENT_ERROR: message text and session text that is not JSON', async () => {
  assert.throws(() => engine.scanMessage('{"jsonrpc": "2.0",', 'request'), (e) => {
    assert.equal(e.code, 'SENTINEL_EVENT_ERROR')
    assert.equal(e.line, 1)
    assert.equal(e.verdict.message.direction, 'request')
    return true
  })
  const rejected = await caught(() => engine.scanMessageAsync('nope', 'response', { method: 'tools/call' }))
  assert.equal(rejected.code, 'SENTINEL_EVENT_ERROR')
  assert.equal(rejected.verdict.blocked, true)
  const s = new Session(engine, 'srv')
  assert.throws(() => s.scan('{', 'server'), (e) => e.code === 'SENTINEL_EVENT_ERROR' && e.verdict.blocked)
  const asyncErr = await caught(() => engine.scanAsync('{'))
  assert.equal(asyncErr.code, 'SENTINEL_EVENT_ERROR')
})

test('SENTINEL_PINS_ERROR: a pins file that is not a pins document', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-threatscan-'))
  const file = path.join(dir, 'pins.json')
  fs.writeFileSync(file, '{"not": "pins"')
  assert.throws(() => ToolPins.load(file), (e) => e.code === 'SENTINEL_PINS_ERROR' && e.message.includes(file))
  assert.throws(() => new ToolPins().save(path.join(file, 'pins.json')), (e) => e.code === 'SENTINEL_PINS_ERROR')
})

test('SENTINEL_INVALID_ARGUMENT: arguments of the wrong type are TypeErrors', async () => {
  const invalid = (fn) => assert.throws(fn, (e) => e instanceof TypeError && e.code === 'SENTINEL_INVALID_ARGUMENT')
  invalid(() => engine.scan(5))
  invalid(() => engine.scan(null))
  invalid(() => engine.scan([event()]))
  invalid(() => engine.scan(new Float64Array(4)))
  invalid(() => engine.scanMessage({ jsonrpc: '2.0', id: 1 }, 'sideways'))
  invalid(() => engine.scanMessage(true, 'request'))
  invalid(() => engine.scanMessage({}, 'request', { method: 5 }))
  invalid(() => engine.scanMessage({}, 'request', { pins: {} }))
  invalid(() => new Engine(5))
  invalid(() => new Engine([]))
  invalid(() => new Engine({ builtinRules: 'no' }))
  invalid(() => new Engine({ rules: 'rules.toml' }))
  invalid(() => new Engine({ rules: [{ toml: 'x', path: 'y' }] }))
  invalid(() => Engine.create(7))
  invalid(() => engine.scanAsync(5))
  invalid(() => new Session(engine, 'srv').scan({}, 'proxy'))
  invalid(() => new Session(engine, 'srv').pending('proxy'))
  invalid(() => new Session(engine, 'srv', { pins: 'pins.json' }))
})
