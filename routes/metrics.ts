import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

async function metricsRoutes (fastify: FastifyInstance) {
  fastify.get('/metrics', { preHandler: fastify.requireAdmin }, async (_request, reply) => {
    reply.type(fastify.metrics.contentType)
    return fastify.metrics.metrics()
  })
}

export default fp(metricsRoutes, { name: 'metrics-routes', dependencies: ['metrics', 'access'], encapsulate: true })
