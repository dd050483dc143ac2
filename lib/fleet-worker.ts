import { parentPort, workerData } from 'node:worker_threads'
import type { Backend, BackendDeps } from './backend.ts'
import type { CheckLog, CheckResult } from './check.ts'
import type { Snapshot } from './fleet-view.ts'
import { beat, type Beating, type Identity } from './heartbeat.ts'
import { createImds } from './imds.ts'
import { createLookup } from './lookup.ts'
import { createScrubber } from './secrets.ts'
import { backends as list } from '../plugins/backends.ts'

// The fleet heartbeat's thread (started by plugins/fleet.ts). Its checks and store calls run here,
// with clients and connections of their own, so that the server's thread runs no socket code but
// its own between requests: on Bun, the heartbeat's rare calls through the shared node:net and
// stream code cost the /health path 5-12% of its throughput at saturation (npm run bench -- fleet).
// What this thread finds goes back as messages: each heartbeat's snapshot and check results, and
// the checks' log lines, which the server's logger writes.

export interface FleetWorkerData {
  // The configured backends' sections, by name; backends whose section has problems answer
  // with `fixed`, the result the server gives them.
  sections: Record<string, unknown>
  fixed: CheckResult[]
  timeoutMs: number
  cacheMs: number
  awsRegion?: string
  // The configured secrets, removed from what the stores' errors say.
  secrets: string[]
  env: NodeJS.ProcessEnv
  identity: Identity
  intervalMs: number
  // The levels the server's logger writes; lines below them are not sent.
  levels: Level[]
}

export type Level = 'debug' | 'info' | 'warn' | 'error'

export type FleetMessage =
  | { type: 'beat', snapshot: Snapshot, results: CheckResult[] }
  | { type: 'log', level: Level, bindings: Record<string, string>, facts: object, message: string }

// From the server: a new identity (the metadata service answered late), or stop.
export type FleetCommand = { type: 'identity', identity: Identity } | { type: 'stop' }

const data = workerData as FleetWorkerData
const port = parentPort!
const post = (message: FleetMessage) => port.postMessage(message)
let identity = data.identity

function logger (bindings: Record<string, string>): CheckLog & { error: CheckLog['warn'] } {
  const line = (level: Level) => (facts: object, message: string) => {
    if (data.levels.includes(level)) post({ type: 'log', level, bindings, facts: cloneable(facts), message })
  }
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') }
}

// An error crosses as pino's serializer would write it: some clients' errors hold sockets.
function cloneable (facts: object): object {
  return Object.fromEntries(Object.entries(facts).map(([key, value]) => {
    if (!(value instanceof Error)) return [key, value]
    const { name, message, stack, code } = value as NodeJS.ErrnoException
    return [key, { type: name, message, stack, code }]
  }))
}

const log = logger({ plugin: 'fleet' })
const scrub = createScrubber(data.secrets)
// Made here from the environment: the server's metadata client and DNS lookup are functions,
// which cannot cross to a thread. Names resolve through the system's resolver, the server's
// default too; the identity this instance publishes is the server's (FleetWorkerData.identity).
const imds = createImds({ env: data.env })
const lookup = createLookup()
const deps = (name: string): BackendDeps => ({ log: logger({ backend: name }), timeoutMs: data.timeoutMs, cacheMs: data.cacheMs, scrub, awsRegion: data.awsRegion, env: data.env, imds, lookup })

const created: Backend[] = []
const beating: Beating[] = list.flatMap(definition => {
  const { name } = definition
  const fixed = data.fixed.find(result => result.backend === name)
  if (fixed) return [{ name, check: async () => fixed }]
  if (data.sections[name] === undefined) return []
  const backend = definition.create(data.sections[name] as never, deps(name))
  created.push(backend)
  return [{ name, check: backend.check, records: backend.records }]
})

const closing = new AbortController()
let timer: NodeJS.Timeout | undefined
let running: Promise<void> | undefined

function schedule (delayMs: number) {
  timer = setTimeout(() => {
    const started = Date.now()
    running = beat({ backends: beating, identity, intervalMs: data.intervalMs, timeoutMs: data.timeoutMs, scrub, closing: closing.signal })
      .then(({ snapshot, results }) => { if (!closing.signal.aborted) post({ type: 'beat', snapshot, results }) })
      .catch(err => log.error({ err }, 'fleet: heartbeat failed'))
      .finally(() => {
        running = undefined
        if (!closing.signal.aborted) schedule(Math.max(0, data.intervalMs - (Date.now() - started)))
      })
  }, delayMs)
}

// A heartbeat in flight is waited for (its checks are bounded by timeout_ms), so no check opens
// a connection after the clients closed; then the thread ends by itself.
port.on('message', async (command: FleetCommand) => {
  if (command.type === 'identity') {
    identity = command.identity
    return
  }
  closing.abort(new Error('the server is closing'))
  clearTimeout(timer)
  await running
  await Promise.all(created.map(backend => backend.close()))
  port.close()
})

schedule(0)
