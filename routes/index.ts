import type { FastifyInstance } from 'fastify'
import auditRoutes from './audit.ts'
import checkRoutes from './checks.ts'
import dashboardRoutes from './dashboard.ts'
import demoRoutes from './demo.ts'
import fleetRoutes from './fleet.ts'
import healthRoutes from './health.ts'
import logsRoutes from './logs.ts'
import metricsRoutes from './metrics.ts'

// Every endpoint, registered explicitly: a bundled executable has no folder to scan. Each
// declares the plugins it reads.
export default async function routes (fastify: FastifyInstance) {
  await fastify.register(healthRoutes)
  await fastify.register(logsRoutes)
  await fastify.register(checkRoutes)
  await fastify.register(dashboardRoutes)
  await fastify.register(metricsRoutes)
  await fastify.register(demoRoutes)
  await fastify.register(fleetRoutes)
  await fastify.register(auditRoutes)
}
