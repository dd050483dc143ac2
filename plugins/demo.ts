import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'

// Switches for course labs: fail this instance's /health to watch the load balancer take it
// out, or burn its CPU to watch an Auto Scaling alarm add instances. Off unless
// [demo] enabled = true; routes/demo.ts serves the switches only then.

// Source text, not a file: a worker of a single executable has no script on disk to load.
const BURN_ONE_CORE = 'for (;;) {}'
const HEALTH_FAILURE = 'failed on purpose by POST /demo/health/fail'

export function createDemo (enabled: boolean, log: FastifyBaseLogger) {
  let healthFailedAt: Date | undefined
  let workers: Worker[] = []
  let until = 0
  let timer: NodeJS.Timeout | undefined

  function stopCpu (): Promise<unknown> {
    clearTimeout(timer)
    if (workers.length > 0) log.info({ workers: workers.length }, 'demo: CPU burn stopped')
    const stopping = workers.map(worker => worker.terminate())
    workers = []
    until = 0
    return Promise.all(stopping)
  }

  return {
    enabled,
    // Read by /health on every probe.
    get healthFailure () { return healthFailedAt && HEALTH_FAILURE },
    failHealth () {
      healthFailedAt ??= new Date()
      log.warn('demo: /health answers 503 until POST /demo/health/recover')
    },
    recoverHealth () {
      healthFailedAt = undefined
      log.warn('demo: /health recovered')
    },
    // One busy thread per core until the deadline; a second call moves the deadline, never earlier.
    burnCpu (seconds: number) {
      until = Math.max(until, Date.now() + seconds * 1000)
      if (workers.length === 0) {
        workers = Array.from({ length: availableParallelism() }, () => {
          const worker = new Worker(BURN_ONE_CORE, { eval: true })
          // A burning thread must never be what keeps the process alive.
          worker.unref()
          worker.on('error', err => log.error({ err }, 'demo: CPU burn worker failed'))
          return worker
        })
      }
      clearTimeout(timer)
      timer = setTimeout(stopCpu, until - Date.now()).unref()
      log.warn({ workers: workers.length, until: new Date(until).toISOString() }, 'demo: burning CPU on every core')
    },
    stopCpu,
    state () {
      return {
        health: { failing: Boolean(healthFailedAt), since: healthFailedAt?.toISOString() ?? null },
        cpu: {
          running: workers.length > 0,
          workers: workers.length,
          until: until ? new Date(until).toISOString() : null,
          secondsLeft: Math.max(0, Math.ceil((until - Date.now()) / 1000))
        }
      }
    }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    demo: ReturnType<typeof createDemo>
  }
}

// The switches' state, read by /health, the dashboard and the switches' routes.
export default fp(async function demo (fastify) {
  const state = createDemo(fastify.config.values.demo.enabled, fastify.log)
  fastify.decorate('demo', state)
  fastify.addHook('onClose', () => state.stopCpu())
}, { name: 'demo', dependencies: ['config'] })
