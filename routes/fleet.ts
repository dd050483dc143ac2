import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

// GET /fleet: every instance that published a heartbeat within 3 intervals, grouped by
// availability zone, with the verdict first. Behind the admin token when one is set: it names
// instances, addresses and which backends fail.
async function fleetRoutes (fastify: FastifyInstance) {
  fastify.get('/fleet', { preHandler: fastify.requireAdmin }, async () => fastify.fleet.view())
}

export default fp(fleetRoutes, { name: 'fleet-routes', dependencies: ['access', 'fleet'], encapsulate: true })
