'use strict'
/**
 * Guard the tools of an MCP server with mcp-threatscan: copy this file into your server.
 *
 * `guardTool(engine, name, handler)` wraps a tool handler of the official SDK's `McpServer`
 * (`server.registerTool(name, config, handler)`) so that
 *
 * 1. the call's arguments are scanned as the `tools/call` request the client sent, before the
 *    handler runs (prompt injection in an argument, command / SQL injection, path traversal,
 *    a dangerous or denied tool name, ...);
 * 2. what the handler returns is scanned as the `tools/call` result the client's model will
 *    read, before it is returned (instructions hidden in fetched content, leaked secrets,
 *    personal data, ...).
 *
 * A blocked verdict becomes a tool error result (`isError: true`) whose text names the rules,
 * e.g. `echo: call blocked by mcp-threatscan: PI-001 prompt_injection at params.arguments.text`;
 * the handler's output is never sent, nor the matched text. A `warn` verdict is logged and let
 * through. The whole verdict (findings with their reasons) is logged on stderr.
 *
 * @example
 * const { Engine } = require('mcp-threatscan')
 * const { guardTool } = require('./guard')
 * const engine = await Engine.create()              // once per process (about 0.3 s)
 * server.registerTool('read_file', { inputSchema: { path: z.string() } },
 *   guardTool(engine, 'read_file', async ({ path }) => ({
 *     content: [{ type: 'text', text: await fs.readFile(path, 'utf8') }],
 *   })))
 */

/**
 * @typedef {object} GuardOptions
 * @property {string} [server] The server name put in verdicts and logs.
 * @property {((line: string) => void) | null} [log] Where blocked and warned verdicts are
 *   logged (default: one line on stderr, which is free on a stdio server); `null` for silence.
 */

/**
 * Wraps a tool handler so that mcp-threatscan scans its arguments and its result.
 *
 * @param {import('mcp-threatscan').Engine} engine The engine to scan with (build it once).
 * @param {string} name The tool's name, as clients call it.
 * @param {Function} handler The handler as `registerTool` takes it: `(args, extra)` for a tool
 *   with an `inputSchema`, `(extra)` for one without.
 * @param {GuardOptions} [options]
 * @returns {Function} A handler of the same shape, to pass to `registerTool`.
 */
function guardTool(engine, name, handler, options = {}) {
  const { server, log = (line) => process.stderr.write(line + '\n') } = options

  /** Logs a blocked or warned verdict; true when it is blocked. */
  function blocked(verdict, what) {
    if (verdict.action !== 'allow' && log) {
      log(`mcp-threatscan ${verdict.action}s the ${what} of ${name}: ${JSON.stringify(verdict)}`)
    }
    return verdict.blocked
  }

  return async function guarded(...params) {
    // The SDK calls `handler(args, extra)` when the tool has an input schema, else `handler(extra)`.
    const [args, extra] = params.length >= 2 ? params : [{}, params[0]]
    const id = extra?.requestId ?? 0 // the JSON-RPC id of the call, recorded in the verdict

    const request = { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }
    const call = await engine.scanMessageAsync(request, 'request', { server })
    if (blocked(call, 'call')) return refusal(`${name}: call blocked`, call)

    // A thrown error reaches the client too (the SDK sends its message as an error result).
    let result
    let thrown
    try {
      result = await handler(...params)
    } catch (err) {
      thrown = err
      result = toolError(err instanceof Error ? err.message : String(err))
    }
    const response = { jsonrpc: '2.0', id, result }
    const answer = await engine.scanMessageAsync(response, 'response', { method: 'tools/call', tool: name, server })
    if (blocked(answer, 'result')) return refusal(`${name}: result blocked`, answer)
    if (thrown !== undefined) throw thrown
    return result
  }
}

/**
 * A tool error result naming the rules that fired, their category and where (at most five).
 * Not the finding's `reason`: a reason can quote what its rule matches (`<IMPORTANT>`), and the
 * refusal would then be blocked in turn by a scanner further along (host.js, `sentinel proxy`).
 */
function refusal(what, verdict) {
  const findings = verdict.findings
  const parts = findings.slice(0, 5).map((f) => `${f.rule} ${f.category} at ${f.path || 'the call'}`)
  if (findings.length > 5) parts.push(`and ${findings.length - 5} more`)
  return toolError(`${what} by mcp-threatscan: ${parts.join('; ')}`)
}

/** A `tools/call` result with `isError: true`, as the SDK builds for a thrown error. */
function toolError(text) {
  return { content: [{ type: 'text', text }], isError: true }
}

module.exports = { guardTool }
