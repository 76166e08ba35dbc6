'use strict'
// The package's entry: the generated addon (index.js) with the two conversions that cost most
// across the boundary done in JavaScript instead. An object event or message is serialised here
// with JSON.stringify (from the addon it is a call back into JavaScript, about 5 µs at 256 B),
// and the verdict is built here with JSON.parse from the JSON text the addon returns (from the
// addon, one napi call per property), lazily. Everything else — what a wrong argument, an unreadable
// event or a cycle gives — is the addon's: such input is handed to it as it came.
// The types are index.d.ts's: these classes have the same members.

const native = require('./index.js')

const ENGINE = Symbol('mcp-threatscan.engine')
const SESSION = Symbol('mcp-threatscan.session')

/** JSON text for `value` when it is data the addon would serialise anyway; else `value`. */
function text(value, arraysOk) {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value
  if (!arraysOk && Array.isArray(value)) return value
  let json
  try {
    json = JSON.stringify(value)
  } catch {
    return value // a cycle, a BigInt, too deep: the addon reports it with the fail-mode verdict
  }
  return typeof json === 'string' ? json : value
}

const JSON_TEXT = Symbol('mcp-threatscan.json')
const PARSED = Symbol('mcp-threatscan.parsed')
const ACTIONS = { a: 'allow', w: 'warn', b: 'block' }

/**
 * A verdict: the core's JSON form, read lazily. `action` and `blocked` are read off the text
 * (it always begins `{"action":"…"`); the rest is parsed on first use, so a host that checks
 * `blocked` and moves on never pays for building the findings. `JSON.stringify(verdict)` is the
 * text itself, re-serialised: the CLI's NDJSON verdict, byte for byte.
 */
class Verdict {
  constructor(json) {
    this[JSON_TEXT] = json
    this[PARSED] = undefined
  }

  get action() {
    return ACTIONS[this[JSON_TEXT][11]]
  }

  get blocked() {
    return this[JSON_TEXT][11] === 'b'
  }

  get severity() {
    return parsed(this).severity
  }

  get findings() {
    return parsed(this).findings
  }

  get message() {
    return parsed(this).message
  }

  get id() {
    return parsed(this).id
  }

  get server() {
    return parsed(this).server
  }

  get session() {
    return parsed(this).session
  }

  get namespace() {
    return parsed(this).namespace
  }

  get cluster() {
    return parsed(this).cluster
  }

  get human() {
    return parsed(this).human
  }

  toJSON() {
    return parsed(this)
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return { ...parsed(this), blocked: this.blocked }
  }
}

function parsed(v) {
  if (v[PARSED] === undefined) v[PARSED] = JSON.parse(v[JSON_TEXT])
  return v[PARSED]
}

function wrapEngine(inner) {
  const engine = Object.create(Engine.prototype)
  Object.defineProperty(engine, ENGINE, { value: inner })
  return engine
}

class Engine {
  constructor(options) {
    Object.defineProperty(this, ENGINE, { value: new native.Engine(options) })
  }

  static create(options) {
    return native.Engine.create(options).then(wrapEngine)
  }

  scan(event) {
    return new Verdict(this[ENGINE].scanJson(text(event, false)))
  }

  scanJson(event) {
    return this[ENGINE].scanJson(text(event, false))
  }

  scanAsync(event) {
    return this[ENGINE].scanAsync(text(event, false))
  }

  scanMessage(message, direction, options) {
    return new Verdict(this[ENGINE].scanMessageJson(text(message, true), direction, options))
  }

  scanMessageJson(message, direction, options) {
    return this[ENGINE].scanMessageJson(text(message, true), direction, options)
  }

  scanMessageAsync(message, direction, options) {
    return this[ENGINE].scanMessageAsync(text(message, true), direction, options)
  }

  rules() {
    return this[ENGINE].rules()
  }

  rule(id) {
    return this[ENGINE].rule(id)
  }

  get config() {
    return this[ENGINE].config
  }
}

class Session {
  constructor(engine, server, options) {
    const inner = engine instanceof Engine ? engine[ENGINE] : engine
    Object.defineProperty(this, SESSION, { value: new native.Session(inner, server, options) })
  }

  scan(message, sender) {
    return new Verdict(this[SESSION].scanJson(text(message, true), sender))
  }

  scanJson(message, sender) {
    return this[SESSION].scanJson(text(message, true), sender)
  }

  scanAsync(message, sender) {
    return this[SESSION].scanAsync(text(message, true), sender)
  }

  get server() {
    return this[SESSION].server
  }

  pending(sender) {
    return this[SESSION].pending(sender)
  }
}

module.exports = { Engine, Session, ToolPins: native.ToolPins, Verdict }
