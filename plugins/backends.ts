import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Backend, BackendDefinition, BackendDeps, BackendList } from '../lib/backend.ts'
import type { CheckResult, Stage, Status } from '../lib/check.ts'
import type { ConfigProblem } from '../lib/config.ts'
import database from './database.ts'
import dynamodb from './dynamodb.ts'
import redis from './redis.ts'
import s3 from './s3.ts'

// The one list of backends. The config's schema, the endpoints, /checks, /ready, /metrics, the
// dashboard's cards and the check command all derive from it: a new backend is one file in
// plugins/ and one entry here.
export const backends = [database, redis, s3, dynamodb] as const

// What the server remembers of a backend's recent checks, for GET /checks?history=1 and the
// dashboard: the last HISTORY_LENGTH, oldest first, in memory. Never the message or the hint:
// they can hold a host name or a secret.
export const HISTORY_LENGTH = 20
export interface HistoryEntry {
  time: string
  status: Status
  stage: Stage
  durationMs: number
}

// A backend as the routes see it: configured (its section validated), invalid (its section has
// problems, which its check reports) or not configured (no section); its latest result, for
// /metrics, which reports what the checks found without running them, and its history.
export interface RegisteredBackend extends Backend {
  definition: BackendDefinition
  state: 'configured' | 'invalid' | 'not_configured'
  last?: CheckResult
  history: HistoryEntry[]
  // A result of this backend's check run elsewhere (the fleet heartbeat's thread), remembered as
  // one run here.
  heard: (result: CheckResult) => void
}

export interface BackendsOptions {
  list: BackendList
}

// What a backend's factory is given: the engine's settings and the environment. The audit's
// read-only calls are made with the same.
export function backendDeps (fastify: FastifyInstance, log: FastifyBaseLogger): BackendDeps {
  const { values, scrub } = fastify.config
  const { env, imds, lookup } = fastify.environment
  return { log, timeoutMs: values.checks.timeout_ms, cacheMs: values.checks.cache_ms, scrub, awsRegion: values.aws?.region, env, imds, lookup }
}

function createRegistry (fastify: FastifyInstance, list: BackendList) {
  const { values, problems } = fastify.config
  const entries = list.map((definition): RegisteredBackend => {
    const { name } = definition
    // Problems of its own section, or of a file that could not be read at all.
    const own = problems.filter(problem => problem.section === name || problem.section === undefined)
    const section = values[name]
    if (own.length > 0) return { definition, state: 'invalid', history: [], heard: () => {}, ...answering(invalid(name, own)) }
    if (section === undefined) return { definition, state: 'not_configured', history: [], heard: () => {}, ...answering(notConfigured(definition)) }
    const backend = definition.create(section, backendDeps(fastify, fastify.log.child({ backend: name })))
    const entry: RegisteredBackend = {
      definition,
      state: 'configured',
      history: [],
      // Whoever asked (an endpoint, /checks, the dashboard), a new result is remembered once: a
      // cached one, or one shared by concurrent callers, is the same object.
      check: async () => {
        const result = await backend.check()
        if (result !== entry.last) entry.heard(result)
        return result
      },
      heard: result => {
        remember(entry.history, result)
        entry.last = result
      },
      close: backend.close,
      records: backend.records
    }
    return entry
  })
  return {
    all: entries,
    get: (name: string) => entries.find(entry => entry.definition.name === name),
    // Those whose section is in config.toml, valid or not: what /checks and /ready answer for.
    present: () => entries.filter(entry => entry.state !== 'not_configured'),
    close: () => Promise.all(entries.map(entry => entry.close()))
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    backends: ReturnType<typeof createRegistry>
  }
}

function remember (history: HistoryEntry[], { status, stage, durationMs }: CheckResult) {
  history.push({ time: new Date().toISOString(), status, stage, durationMs })
  if (history.length > HISTORY_LENGTH) history.shift()
}

function answering (result: CheckResult): Backend {
  return { check: async () => result, close: async () => {} }
}

function configResult (backend: string, message: string, hint: string, details: Record<string, unknown> = {}): CheckResult {
  return { backend, status: 'fail', stage: 'config', message, hint, warnings: [], durationMs: 0, details }
}

function invalid (name: string, problems: ConfigProblem[]): CheckResult {
  return configResult(
    name,
    `[${name}] has ${problems.length === 1 ? 'a problem' : `${problems.length} problems`} in config.toml: ${problems.map(problem => problem.message).join('; ')}`,
    `fix ${problems.length === 1 ? 'it' : 'them'} (suaicloudapp validate lists every problem), then restart`,
    { problems: problems.map(({ message, section, key, line }) => ({ message, section, key, line })) }
  )
}

// Says which keys to add, read from the section's schema: every key, and which of them have no
// default.
function notConfigured ({ name, section }: BackendDefinition): CheckResult {
  const keys = Object.keys(section.properties)
  const required = (section.required ?? []).filter(key => (section.properties[key] as { default?: unknown }).default === undefined)
  const needed = required.length === 0 ? '' : ` (${listed(required)} ${required.length === 1 ? 'is' : 'are'} required)`
  return configResult(
    name,
    `[${name}] is not configured`,
    `add a [${name}] section with ${keys.join(', ')}${needed} to config.toml (or set SUAI_${name.toUpperCase()}_* variables), then restart`
  )
}

function listed (words: string[]): string {
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} and ${words.at(-1)}` : words[0]
}

// The registry every route and /metrics depends on: one entry per backend of the list, each
// closed with the server.
export default fp<BackendsOptions>(async function backendsPlugin (fastify, { list }) {
  const registry = createRegistry(fastify, list)
  fastify.decorate('backends', registry)
  fastify.addHook('onClose', async () => { await registry.close() })
}, { name: 'backends', dependencies: ['config', 'environment'] })
