import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { version } from '../lib/version.ts'
import { formatProblem, wantsJson } from './negotiate.ts'

// The load balancer's probe. It depends on no backend, on purpose: a shared database outage
// must not make an Auto Scaling group replace every instance. It fails only when this
// instance cannot or should not serve: its config is broken, it is shutting down, or a lab
// switch (POST /demo/health/fail) failed it on purpose.
async function healthRoutes (fastify: FastifyInstance) {
  const problems = fastify.config.problems.map(problem => problem.message)
  // Probes arrive every few seconds; they must not flood output.log: only warnings and errors of
  // this route are logged, through one logger made once. Fastify's default, a child logger per
  // request for its request id, was ~2 µs of the ~15 µs of CPU a probe costs (npm run bench).
  const probeLog = fastify.log.child({ route: '/health' }, { level: 'warn' })
  // ?format is checked by hand, not by a schema: a validator run on every probe was a share of
  // what /health cost over a bare server (npm run bench).
  fastify.get('/health', {
    logLevel: 'warn',
    childLoggerFactory: () => probeLog
  }, async (request, reply) => {
    fastify.probes.heard(request.ip, request.headers['user-agent'])
    const badFormat = formatProblem(request)
    if (badFormat) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: badFormat })
    const reason = fastify.draining
      ? 'shutting down'
      : fastify.demo.healthFailure ?? (problems.length > 0 ? 'the config is invalid' : undefined)
    const notes = reason === 'the config is invalid' ? problems : []
    reply.code(reason ? 503 : 200)
    if (wantsJson(request, 'application/health+json')) {
      reply.type('application/health+json')
      return {
        status: reason ? 'fail' : 'pass',
        version,
        uptime: Math.round(process.uptime()),
        ...(reason ? { output: reason } : {}),
        ...(notes.length ? { notes } : {})
      }
    }
    reply.type('text/plain; charset=utf-8')
    if (!reason) return 'healthy'
    return `unhealthy: ${reason}${notes.map(note => `\n${note}`).join('')}${notes.length ? '\n' : ''}`
  })
}

export default fp(healthRoutes, { name: 'health-routes', dependencies: ['config', 'demo', 'probes'], encapsulate: true })
