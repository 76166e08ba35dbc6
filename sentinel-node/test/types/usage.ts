// Uses the whole API as a TypeScript user would; `npm run typecheck` (tsc --noEmit) checks it
// against the generated index.d.ts. It is type-checked, not run.
import { Engine, Session, ToolPins } from '../..'
import type { EngineOptions, Finding, MessageOptions, Rule, RulePack, SessionOptions, Verdict } from '../..'

async function main(): Promise<void> {
  const packs: RulePack[] = [{ toml: '[[rule]]\nid = "X-1"', name: 'team' }, { path: 'rules.toml' }]
  const options: EngineOptions = {
    profile: 'all',
    rules: packs,
    builtinRules: true,
    actions: { medium: 'block', low: 'allow' },
    failMode: 'fail_closed',
    maxScanBytes: 1 << 20,
    maxPromptChars: 10_000,
    maxResponseChars: 50_000,
    scanMimes: ['text/', 'application/json'],
    maxJsonDepth: 64,
    tools: { allow: ['read_*'], deny: ['rm'], dangerous: ['shell'] },
    detectors: { 'SEC-01': { enabled: true, severity_floor: 'high' } },
  }
  const engine: Engine = new Engine(options)
  const built: Engine = await Engine.create({ rules: { path: 'rules.toml' } })

  const event = { timestamp: 't', user: 'u', agent: 'a', tool: 'x', prompt: 'p', response: 'r' }
  const v: Verdict = engine.scan(event)
  const fromText: Verdict = engine.scan(JSON.stringify(event))
  const fromBuffer: Verdict = engine.scan(Buffer.from(JSON.stringify(event)))
  const later: Verdict = await built.scanAsync(event)
  const text: string = engine.scanJson(event) + engine.scanMessageJson({ jsonrpc: '2.0', id: 9, method: 'ping' }, 'request')
  const action: 'allow' | 'warn' | 'block' = v.action
  const severity: 'low' | 'medium' | 'high' | 'critical' | null = v.severity
  const blocked: boolean = v.blocked
  const findings: Finding[] = v.findings
  for (const f of findings) {
    const where: string = `${f.field} ${f.path} ${f.span.start}-${f.span.end}`
    const why: string = `${f.rule} ${f.detector} ${f.detector_name} ${f.category} ${f.severity} ${f.reason} ${where}`
    const confidence: 'low' | 'medium' | undefined = f.confidence
    void why
    void confidence
  }
  const codes: string[] = v.findings.map((f) => f.rule)
  const has: boolean = v.findings.some((f) => f.rule === 'PI-001')
  const json: string = JSON.stringify(v)
  const context: Array<string | undefined> = [v.id, v.server, v.session, v.namespace, v.cluster, v.human]
  const message = v.message
  if (message !== undefined) {
    const dir: 'request' | 'response' = message.direction
    void dir
  }

  const pins = new ToolPins()
  const messageOptions: MessageOptions = { method: 'tools/call', tool: 'read', server: 'notes', pins }
  const m: Verdict = engine.scanMessage({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, 'request')
  const r: Verdict = await engine.scanMessageAsync('{"jsonrpc":"2.0","id":1,"result":{}}', 'response', messageOptions)
  const batch: Verdict = engine.scanMessage([{ jsonrpc: '2.0', id: 1, method: 'ping' }], 'request')

  const sessionOptions: SessionOptions = { pins, named: false }
  const session = new Session(engine, 'notes', sessionOptions)
  const s1: Verdict = session.scan({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, 'client')
  const s2: Verdict = await session.scanAsync('{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}', 'server')
  const server: string = session.server + session.scanJson('{"jsonrpc":"2.0","id":3,"method":"ping"}', 'client')
  const pending: number = session.pending('client')

  pins.save('pins.json')
  const loaded: ToolPins = ToolPins.load('pins.json')
  const pinned: string | null = loaded.pinned('notes', 'read')
  const forgot: boolean = loaded.forget('notes') || loaded.forget('notes', 'read')
  const dirty: boolean = loaded.dirty

  const rules: Rule[] = engine.rules()
  const one: Rule | null = engine.rule('PI-001')
  const enabled: boolean = rules.every((x) => x.enabled && x.id.length > 0 && x.detector_name.length > 0)
  const config: Record<string, unknown> = engine.config

  try {
    engine.scan('{')
  } catch (err) {
    const e = err as Error & { code?: string; verdict?: Verdict }
    if (e.code === 'SENTINEL_EVENT_ERROR' && e.verdict) console.log(e.verdict.action)
  }
  console.log(text, context, fromText, fromBuffer, later, action, severity, blocked, codes, has, json, m, r, batch, s1, s2, server, pending, pinned, forgot, dirty, one, enabled, config)
}

void main()
