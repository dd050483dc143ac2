import type { FastifyInstance } from 'fastify'
import { version } from '../lib/version.ts'
import { wantsJson } from './negotiate.ts'

// The load balancer's probe. It depends on no backend, on purpose: a shared database outage
// must not make an Auto Scaling group replace every instance. It fails only when this
// instance cannot do its job at all, i.e. its config is broken.
export default async function healthRoutes (fastify: FastifyInstance) {
  const problems = fastify.config.problems.map(problem => problem.message)
  fastify.get('/health', {
    // Probes arrive every few seconds; they must not flood output.log: only warnings and
    // errors of this route are logged.
    logLevel: 'warn'
  }, async (request, reply) => {
    // A lab switch (POST /demo/health/fail) fails this instance's probe on purpose.
    const onPurpose = fastify.demo.healthFailure
    const healthy = problems.length === 0 && !onPurpose
    reply.code(healthy ? 200 : 503)
    if (wantsJson(request, 'application/health+json')) {
      reply.type('application/health+json')
      return {
        status: healthy ? 'pass' : 'fail',
        version,
        uptime: Math.round(process.uptime()),
        ...(healthy ? {} : onPurpose ? { output: onPurpose } : { output: 'config.toml is invalid', notes: problems })
      }
    }
    reply.type('text/plain; charset=utf-8')
    if (onPurpose) return `unhealthy: ${onPurpose}`
    return healthy ? 'healthy' : `unhealthy: the config is invalid\n${problems.join('\n')}\n`
  })
}
