#!/usr/bin/env node
'use strict'
/**
 * A host-side guard: put it between an MCP client and any stdio MCP server.
 *
 *   node host.js [--name NAME] [-- COMMAND [ARGS...]]     (default command: node server.js)
 *
 * It spawns the server and relays newline-delimited JSON-RPC both ways (this process's stdin
 * and stdout are the client's side), scanning every message with a `Session` of mcp-threatscan,
 * which knows which request each response answers (a `tools/call` result is scanned as the
 * output of the tool that was called). Per message, by verdict:
 * - allow / warn: forwarded as is (a warning is logged on stderr);
 * - block: not forwarded. A blocked request is answered to its sender with a JSON-RPC error
 *   (code -32051, as `sentinel proxy` uses; the verdict in `error.data.sentinel`); a blocked
 *   response is replaced by that error, with the same id; a blocked notification is dropped.
 * - not JSON: the session throws SENTINEL_EVENT_ERROR with the engine's fail-mode verdict:
 *   blocked under fail_closed (the default), and the client gets a parse error (-32700, id null).
 */
const { spawn } = require('node:child_process')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { Engine, Session } = require('mcp-threatscan')

const BLOCKED = -32051
const PARSE_ERROR = -32700

/** `[--name NAME] [-- COMMAND ARGS...]` → the server's command and its name. */
function parseArgs(argv) {
  let name
  if (argv[0] === '--name') [, name, ...argv] = argv
  if (argv[0] === '--') argv = argv.slice(1)
  const command = argv.length ? argv : [process.execPath, path.join(__dirname, 'server.js')]
  return { command, name: name ?? command.join(' ') } // until the server reports its own name
}

/**
 * One line for the peer: the rules that fired and their category. Not the matched text, nor the
 * reasons, which can quote a rule's trigger (`<IMPORTANT>`) and get the error blocked further on.
 */
function describe(verdict) {
  const rules = verdict.findings.map((f) => `${f.rule} ${f.category}`)
  return `blocked by mcp-threatscan: ${[...new Set(rules)].join('; ')}`
}

function errorResponse(id, code, message, verdict) {
  return { jsonrpc: '2.0', id, error: { code, message, data: { sentinel: JSON.parse(JSON.stringify(verdict)) } } }
}

async function main() {
  const { command, name } = parseArgs(process.argv.slice(2))
  const engine = await Engine.create()
  const session = new Session(engine, name)

  const child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] })
  child.on('error', (err) => {
    console.error(`host.js: cannot start ${command.join(' ')}: ${err.message}`)
    process.exit(127)
  })
  // 'close': the server exited and its stdout is read to the end. Exit with its status.
  child.on('close', (code, signal) => process.exit(code ?? 128 + (os.constants.signals[signal] ?? 0)))
  child.stdin.on('error', () => {}) // the server is gone: its exit ends this process
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal)) // pass it on

  const send = {
    client: (message) => process.stdout.write(JSON.stringify(message) + '\n'),
    server: (message) => child.stdin.write(JSON.stringify(message) + '\n'),
  }
  const forward = {
    client: (line) => child.stdin.write(line + '\n'), // what the client sent goes to the server
    server: (line) => process.stdout.write(line + '\n'),
  }
  const peer = { client: 'server', server: 'client' }

  /** Scans one line from `sender` and forwards it, or answers in its place. */
  function relay(line, sender) {
    if (!line.trim()) return
    let verdict
    let message
    try {
      verdict = session.scan(line, sender) // sync: lines are relayed in order
      message = JSON.parse(line)
    } catch (err) {
      if (err.code !== 'SENTINEL_EVENT_ERROR') throw err
      verdict = err.verdict // not JSON: the fail mode decides
    }
    if (verdict.action !== 'allow') {
      console.error(`host.js: ${verdict.action} ${sender} message: ${JSON.stringify(verdict)}`)
    }
    if (!verdict.blocked) return forward[sender](line)

    if (message === undefined) {
      // Not JSON, so no id: only the client is told (a server's line has no one waiting on it).
      if (sender === 'client') send.client(errorResponse(null, PARSE_ERROR, describe(verdict), verdict))
      return
    }
    // A batch is blocked whole: every request in it gets the error, every response becomes it.
    for (const item of Array.isArray(message) ? message : [message]) {
      if (item === null || typeof item !== 'object' || item.id === undefined) continue // a notification
      const error = errorResponse(item.id, BLOCKED, describe(verdict), verdict)
      if ('method' in item) send[sender](error) // a request: answered to its sender
      else send[peer[sender]](error) // a response: the error goes where it was headed
    }
  }

  readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
    .on('line', (line) => relay(line, 'client'))
    .on('close', () => child.stdin.end()) // the client left: the server sees EOF and exits
  readline.createInterface({ input: child.stdout, crlfDelay: Infinity })
    .on('line', (line) => relay(line, 'server'))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
