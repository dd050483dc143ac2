import { hostname } from 'node:os'
import { Worker } from 'node:worker_threads'
import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { FleetCommand, FleetMessage, FleetWorkerData, Level } from '../lib/fleet-worker.ts'
import { fleetView, type Snapshot } from '../lib/fleet-view.ts'
import { heartbeatOf, identityOf, type Identity } from '../lib/heartbeat.ts'

// The fleet heartbeat: every [fleet] interval_ms this instance runs its checks and publishes who
// it is and how each backend answered (lib/heartbeat.ts), in a thread of its own
// (lib/fleet-worker.ts says why), which sends back what it read. GET /fleet renders the last
// reading; it never waits on a store.

// The executable holds the worker as an entry point of its own (build/executable.ts), named by
// its path in the project; run from the sources (tsx, or bun cli.ts), it is found from this file.
const compiled = import.meta.url.includes('$bunfs')
const workerFile = compiled ? './lib/fleet-worker.ts' : new URL('../lib/fleet-worker.ts', import.meta.url)
const LEVELS: Level[] = ['debug', 'info', 'warn', 'error']

function createFleet (fastify: FastifyInstance) {
  const { values, scrub, secrets } = fastify.config
  const { enabled, interval_ms: intervalMs } = values.fleet
  const { imds, env } = fastify.environment
  const log = fastify.log.child({ plugin: 'fleet' })
  // Off EC2 there is no instance id: host name and port tell two local instances apart.
  let localId = `${hostname()}:${values.server.port}`
  const identity = async () => identityOf(await imds.lookup(), localId)

  let snapshot: Snapshot = {
    stores: [],
    at: Date.now(),
    heartbeats: [],
    problems: [enabled ? 'no heartbeat published yet' : 'the heartbeat is off ([fleet] enabled = false)']
  }
  let told: string | undefined
  let worker: Worker | undefined
  let sent: Identity | undefined
  let restart: NodeJS.Timeout | undefined
  let closing = false
  const loggers = new Map<string, FastifyBaseLogger>()

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

  function received (message: FleetMessage) {
    // A heartbeat that ended as the server closed is nobody's news, and the log may be closed.
    if (closing) return
    if (message.type === 'log') {
      const key = JSON.stringify(message.bindings)
      let child = loggers.get(key)
      if (!child) loggers.set(key, child = fastify.log.child(message.bindings))
      child[message.level](message.facts, message.message)
      return
    }
    // Its checks are this server's too: /metrics, the dashboard and the history show them.
    for (const result of message.results) fastify.backends.get(result.backend)?.heard(result)
    update(message.snapshot, false)
    // An identity the metadata service gave only after the heartbeat started.
    identity().then(now => {
      if (worker && now.id !== sent?.id) worker.postMessage({ type: 'identity', identity: sent = now } satisfies FleetCommand)
    }, () => {})
  }

  async function launch () {
    const present = fastify.backends.present()
    const self = await identity()
    if (closing) return
    const data: FleetWorkerData = {
      sections: Object.fromEntries(present.filter(backend => backend.state === 'configured').map(({ definition: { name } }) => [name, values[name]])),
      fixed: await Promise.all(present.filter(backend => backend.state === 'invalid').map(backend => backend.check())),
      timeoutMs: values.checks.timeout_ms,
      cacheMs: values.checks.cache_ms,
      awsRegion: values.aws?.region,
      secrets,
      env: { ...env },
      identity: sent = self,
      intervalMs,
      // pino's; a server without a logger (logger: false) has none and writes nothing.
      levels: LEVELS.filter(level => (fastify.log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.(level) ?? false)
    }
    const started = worker = new Worker(workerFile, { workerData: data })
    // Never what keeps the process alive.
    started.unref()
    started.on('message', received)
    started.on('error', err => {
      log.error({ err }, 'fleet: the heartbeat thread failed')
      update({ ...snapshot, problems: [`the heartbeat stopped: ${scrub(err.message)}`] }, false)
    })
    // A thread that ended unasked starts again an interval later.
    started.on('exit', () => {
      if (worker === started) worker = undefined
      if (!closing) restart = setTimeout(launchLogged, intervalMs).unref()
    })
  }

  const launchLogged = () => { launch().catch(err => log.error({ err }, 'fleet: the heartbeat could not start')) }

  return {
    start (port: number) {
      localId = `${hostname()}:${port}`
      if (!enabled) return
      // With no store to publish to, running the checks would be for nobody.
      if (!fastify.backends.present().some(backend => backend.records)) {
        return update({ stores: [], at: Date.now(), heartbeats: [], problems: ['neither [redis] nor [dynamodb] is configured'] }, true)
      }
      launchLogged()
    },
    // The thread finishes a heartbeat in flight (bounded by timeout_ms) and closes its clients;
    // one that does not end within twice that is stopped.
    async stop () {
      closing = true
      clearTimeout(restart)
      const running = worker
      if (!running) return
      const ended = new Promise(resolve => running.once('exit', resolve))
      running.postMessage({ type: 'stop' } satisfies FleetCommand)
      const late = setTimeout(() => running.terminate(), 2 * values.checks.timeout_ms)
      await ended
      clearTimeout(late)
    },
    async view () {
      const self = heartbeatOf(await identity(), fastify.backends.present().flatMap(backend => backend.last ?? []))
      return fleetView({ self, snapshot, intervalMs, now: Date.now() })
    }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    fleet: ReturnType<typeof createFleet>
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
