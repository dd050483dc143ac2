import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

// The audit's report as JSON, for the admin (anyone, when no admin token is set): it names
// resource ids, rules and the role's missing permissions. Served from the audit's cache, so a
// refreshing dashboard asks AWS at most once a minute.
async function auditRoutes (fastify: FastifyInstance) {
  fastify.get('/audit', { preHandler: fastify.requireAdmin }, async (_request, reply) => {
    const report = await fastify.audit.cached()
    reply.code(report.status === 'fail' ? 503 : 200).header('cache-control', 'no-store')
    return report
  })
}

export default fp(auditRoutes, { name: 'audit-routes', dependencies: ['access', 'audit'], encapsulate: true })
