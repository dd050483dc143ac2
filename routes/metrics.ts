import type { FastifyInstance } from 'fastify'

export default async function metricsRoutes (fastify: FastifyInstance) {
  fastify.get('/metrics', { preHandler: fastify.requireAdmin }, async (_request, reply) => {
    reply.type(fastify.metrics.contentType)
    return fastify.metrics.metrics()
  })
}
