import { hostname } from 'node:os'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { CheckResult } from '../lib/check.ts'
import { fleetView, type Heartbeat, type Snapshot } from '../lib/fleet-view.ts'
import { version } from '../lib/version.ts'

// The fleet heartbeat: every [fleet] interval_ms this instance runs its checks and publishes
// who it is and how each backend answered through the first shared store whose check passes
// ([redis], else the [dynamodb] table), and reads every other instance's heartbeat from every
// store that works. GET /fleet renders the last reading; it never waits on a store.
function createFleet (fastify: FastifyInstance) {
  const { values, scrub } = fastify.config
  const { enabled, interval_ms: intervalMs } = values.fleet
  const timeoutMs = values.checks.timeout_ms
  const { imds } = fastify.environment
  const log = fastify.log.child({ plugin: 'fleet' })
  // Off EC2 there is no instance id: host name and port tell two local instances apart.
  let localId = `${hostname()}:${values.server.port}`

  let snapshot: Snapshot = {
    stores: [],
    at: Date.now(),
    heartbeats: [],
    problems: [enabled ? 'no heartbeat published yet' : 'the heartbeat is off ([fleet] enabled = false)']
  }
  let told: string | undefined
  let timer: NodeJS.Timeout | undefined
  let beating: Promise<void> | undefined
  // Aborts the store calls in flight on close, so shutdown never waits for their timeout.
  const closing = new AbortController()

  // This instance now, from the checks' latest results (never their messages or hints).
  async function heartbeat (results: CheckResult[]): Promise<Heartbeat> {
    const { instance } = await imds.lookup()
    return {
      id: instance?.instanceId ?? localId,
      instanceId: instance?.instanceId ?? null,
      availabilityZone: instance?.availabilityZone ?? null,
      privateIp: instance?.privateIp ?? null,
      version,
      uptime: Math.round(process.uptime()),
      at: Date.now(),
      backends: Object.fromEntries(results.map(({ backend, status, stage, durationMs }) => [backend, { status, stage, durationMs }]))
    }
  }

  async function beat () {
    const present = fastify.backends.present()
    // With no store to publish to, running the checks would be for nobody.
    if (!present.some(backend => backend.records)) {
      return update({ stores: [], at: Date.now(), heartbeats: [], problems: ['neither [redis] nor [dynamodb] is configured'] }, true)
    }
    const results = await Promise.all(present.map(backend => backend.check()))
    if (closing.signal.aborted) return
    const self = await heartbeat(results)
    const record = JSON.stringify(self)
    const seen = new Map<string, Heartbeat>()
    const stores: string[] = []
    const problems: string[] = []
    for (const [i, { definition: { name }, records }] of present.entries()) {
      if (!records) continue
      if (results[i].status === 'fail') { problems.push(`${name}: its check fails (${results[i].stage})`); continue }
      const publish = () => bounded(signal => records.publish(self.id, record, 3 * intervalMs, signal), timeoutMs, closing.signal)
      try {
        // The first store that works gets the heartbeat. A later one gets it too only when it
        // holds instances the first does not have: they cannot reach the first, so they must
        // see us here.
        let found = (stores.length === 0 ? await publish() : await bounded(signal => records.read(signal), timeoutMs, closing.signal)).flatMap(parse)
        if (stores.length > 0 && found.some(heartbeat => !seen.has(heartbeat.id))) found = (await publish()).flatMap(parse)
        for (const heartbeat of found) {
          if ((seen.get(heartbeat.id)?.at ?? -Infinity) < heartbeat.at) seen.set(heartbeat.id, heartbeat)
        }
        stores.push(name)
      } catch (err) {
        problems.push(`${name}: ${scrub(String((err as Error)?.message ?? err))}`)
      }
    }
    update({ stores, at: Date.now(), heartbeats: [...seen.values()], problems }, false)
  }

  // Logged once per change of stores, not on every heartbeat; a warning only when a configured
  // store fails.
  function update (next: Snapshot, unconfigured: boolean) {
    snapshot = next
    const news = next.stores.join(' and ') || 'none'
    if (news === told) return
    told = news
    if (next.stores.length > 0) log.info({ stores: next.stores, problems: next.problems.length > 0 ? next.problems : undefined }, `fleet: heartbeats through ${news}`)
    else if (unconfigured) log.info('fleet: neither [redis] nor [dynamodb] is configured; GET /fleet shows this instance only')
    else log.warn({ problems: next.problems }, 'fleet: no shared store works; GET /fleet shows this instance only')
  }

  function schedule (delayMs: number) {
    if (closing.signal.aborted) return
    // Never what keeps the process alive.
    timer = setTimeout(() => {
      const started = Date.now()
      beating = beat()
        .catch(err => log.error({ err }, 'fleet: heartbeat failed'))
        .finally(() => { beating = undefined; schedule(Math.max(0, intervalMs - (Date.now() - started))) })
    }, delayMs).unref()
  }

  return {
    start (port: number) {
      localId = `${hostname()}:${port}`
      if (enabled) schedule(0)
    },
    // Waits for a heartbeat in flight (its checks are bounded by timeout_ms), so no check opens a
    // connection after the backends closed.
    async stop () {
      closing.abort(new Error('the server is closing'))
      clearTimeout(timer)
      await beating
    },
    async view () {
      const self = await heartbeat(fastify.backends.present().flatMap(backend => backend.last ?? []))
      return fleetView({ self, snapshot, intervalMs, now: Date.now() })
    }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    fleet: ReturnType<typeof createFleet>
  }
}

// Bounded by its own timeout and by the server's close, whatever the store's client does with
// the signal.
function bounded<T> (work: (signal: AbortSignal) => Promise<T>, timeoutMs: number, closing: AbortSignal): Promise<T> {
  const signal = AbortSignal.any([closing, AbortSignal.timeout(timeoutMs)])
  const aborted = new Promise<never>((_resolve, reject) => {
    const stop = () => reject(closing.aborted ? closing.reason : new Error(`no answer within ${timeoutMs} ms`))
    if (signal.aborted) stop()
    signal.addEventListener('abort', stop, { once: true })
  })
  const working = work(signal)
  // Its late failure is no longer anyone's news.
  working.catch(() => {})
  return Promise.race([working, aborted])
}

// A record another instance wrote: kept only when it has the fields the view reads.
function parse (record: string): Heartbeat[] {
  try {
    const heartbeat = JSON.parse(record) as Heartbeat
    return typeof heartbeat.id === 'string' && typeof heartbeat.at === 'number' && typeof heartbeat.backends === 'object' ? [heartbeat] : []
  } catch {
    return []
  }
}

export default fp(async function fleet (fastify) {
  const { values } = fastify.config
  const state = createFleet(fastify)
  fastify.decorate('fleet', state)
  // Only a server that listens is part of the fleet (the check command and inject never do), and
  // only after start-up: the first heartbeat runs the checks.
  fastify.addHook('onListen', async () => {
    const address = fastify.server.address()
    state.start(typeof address === 'object' && address ? address.port : values.server.port)
  })
  fastify.addHook('onClose', () => state.stop())
}, { name: 'fleet', dependencies: ['config', 'environment', 'backends'] })
