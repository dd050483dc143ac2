import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { droppedRequestLines } from '../lib/logger.ts'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry
  }
}

// Prometheus metrics, one registry per app (tests build many apps in one process).
export default fp(async function metrics (fastify) {
  const registry = new Registry()
  // The event-loop delay is sampled once a second, not every 10 ms: at prom-client's default an
  // idle server spent 7 ms of CPU a second on the sampling alone (Bun), a steady draw on a
  // burstable instance's CPU credits; a loop held up still shows in the next sample.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1000 })

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status code',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry]
  })
  const durations = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['route'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3, 10],
    registers: [registry]
  })
  // Labelled by the route's pattern, never the raw URL: a scanner must not mint a label per path
  // it tries. A hook per route knows its pattern without asking for request.routeOptions, which
  // is built anew on every read (a measurable share of a /health probe); it keeps the labelled
  // children it has made, so a probe hashes no labels, and it is a callback hook, so a probe
  // allocates no promise for it.
  const record = (route: string) => {
    const counters = new Map<string, ReturnType<typeof requests.labels>>()
    const timer = durations.labels({ route })
    return (request: FastifyRequest, reply: FastifyReply) => {
      const key = `${request.method} ${reply.statusCode}`
      let counter = counters.get(key)
      if (!counter) counters.set(key, counter = requests.labels({ method: request.method, route, status_code: reply.statusCode }))
      counter.inc()
      timer.observe(reply.elapsedTime / 1000)
    }
  }
  fastify.addHook('onRoute', route => {
    const count = record(route.url)
    const hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => { count(request, reply); done() }
    route.onResponse = [...[route.onResponse ?? []].flat(), hook]
  })
  const unmatched = record('unmatched')
  fastify.addHook('onResponse', (request, reply, done) => {
    if (request.is404) unmatched(request, reply)
    done()
  })

  // Read at scrape time from the latest result of each backend: scraping runs no check.
  const latest = () => fastify.backends.all.flatMap(backend => backend.last ? [backend.last] : [])
  registry.registerMetric(new Gauge({
    name: 'suaicloudapp_check_up',
    help: 'Latest check result per backend: 1 pass or warn, 0 fail',
    labelNames: ['backend'],
    registers: [],
    collect () {
      this.reset()
      for (const result of latest()) this.set({ backend: result.backend }, result.status === 'fail' ? 0 : 1)
    }
  }))
  registry.registerMetric(new Gauge({
    name: 'suaicloudapp_check_duration_seconds',
    help: 'Duration of the latest check per backend',
    labelNames: ['backend'],
    registers: [],
    collect () {
      this.reset()
      for (const result of latest()) this.set({ backend: result.backend }, result.durationMs / 1000)
    }
  }))

  registry.registerMetric(new Counter({
    name: 'suaicloudapp_log_request_lines_dropped_total',
    help: 'Request log lines dropped because output.log was not written as fast as they came',
    registers: [],
    collect () {
      this.reset()
      this.inc(droppedRequestLines(fastify.log))
    }
  }))

  // `kill -USR2 <pid>` collects all garbage, then records the heap still in use: a reading taken
  // at any point of the collector's cycle swings by tens of MB, so only this one shows a leak (the
  // soak in `npm run bench` reads it). A signal, because only the instance's own user or root can
  // send one: no HTTP caller can make the server spend a full collection. Offered where a full
  // collection can be asked for: Bun (the executable), or Node started with --expose-gc.
  const collect = collectAllGarbage()
  if (collect) {
    const heapAfterGc = new Gauge({ name: 'suaicloudapp_heap_used_after_gc_bytes', help: 'Heap used right after the full garbage collection of the last SIGUSR2', registers: [registry] })
    const readings = new Counter({ name: 'suaicloudapp_heap_readings_total', help: 'Full garbage collections run on SIGUSR2', registers: [registry] })
    const onSignal = () => {
      collect()
      heapAfterGc.set(process.memoryUsage().heapUsed)
      readings.inc()
    }
    process.on('SIGUSR2', onSignal)
    fastify.addHook('onClose', async () => { process.off('SIGUSR2', onSignal) })
  }

  fastify.decorate('metrics', registry)
}, { name: 'metrics', dependencies: ['backends'] })

// A synchronous full collection: Bun.gc(true) on Bun, gc() on Node with --expose-gc.
function collectAllGarbage (): (() => void) | undefined {
  const { Bun, gc } = globalThis as { Bun?: { gc: (force: boolean) => void }, gc?: () => void }
  if (Bun) return () => Bun.gc(true)
  return gc
}
