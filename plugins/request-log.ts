import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { REQUEST_LINE } from '../lib/log-destination.ts'

// How the request log is kept worth its cost. Measured under load on GET /database, a line per
// request took the server's CPU per request from 65 to 100 µs (the summary: 56 µs at info and at
// warn alike), and at load-test rates it would rotate the check news out of output.log within
// seconds. So a successful, fast request is a line only until its route has written
// LINES_PER_MINUTE lines in the current minute (a person with curl sees every request); past that
// it is only counted, in one summary line per route and minute. Whatever an operator reads is always a line of its own:
// non-2xx answers, slow requests, the admin endpoints and every request that changes state.
export const LINES_PER_MINUTE = 60
const SLOW_MS = 1000
const SUMMARY_MS = 60_000

interface RouteMinute {
  requests: number
  lines: number
  totalMs: number
  maxMs: number
  statusCodes: Record<number, number>
}

export default fp(async function requestLog (fastify) {
  const minutes = new Map<string, RouteMinute>()

  const summarise = () => {
    for (const [route, minute] of minutes) {
      if (minute.requests === minute.lines) continue
      fastify.log.info({
        route,
        requests: minute.requests,
        lines: minute.lines,
        statusCodes: minute.statusCodes,
        avgMs: Number((minute.totalMs / minute.requests).toFixed(2)),
        maxMs: Math.round(minute.maxMs)
      }, `${route}: ${minute.requests} requests in the last minute, ${minute.lines} of them logged one by one`)
    }
    minutes.clear()
  }
  const timer = setInterval(summarise, SUMMARY_MS).unref()
  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    summarise()
  })

  // Routes that log only warnings (the load balancer's /health probe) get no hook at all.
  fastify.addHook('onRoute', route => {
    if (route.logLevel === 'warn') return
    const guarded = [route.preHandler ?? []].flat().includes(fastify.requireAdmin)
    route.onResponse = [...[route.onResponse ?? []].flat(), async (request: FastifyRequest, reply: FastifyReply) => {
      const key = `${request.method} ${route.url}`
      const minute = minutes.get(key) ?? { requests: 0, lines: 0, totalMs: 0, maxMs: 0, statusCodes: {} }
      minutes.set(key, minute)
      const ms = reply.elapsedTime
      const { statusCode } = reply
      minute.requests++
      minute.totalMs += ms
      minute.maxMs = Math.max(minute.maxMs, ms)
      minute.statusCodes[statusCode] = (minute.statusCodes[statusCode] ?? 0) + 1
      const changesState = request.method !== 'GET' && request.method !== 'HEAD'
      const worthALine = guarded || changesState || statusCode < 200 || statusCode > 299 || ms >= SLOW_MS
      if (!worthALine && minute.lines >= LINES_PER_MINUTE) return
      minute.lines++
      request.log.info({ method: request.method, url: request.url, statusCode, ms: Math.round(ms) }, REQUEST_LINE)
    }]
  })
}, { name: 'request-log', dependencies: ['access'] })
