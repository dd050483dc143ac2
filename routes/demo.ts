import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

// The lab switches (see plugins/demo.ts); when [demo] is off, these routes do not exist.
async function demoRoutes (fastify: FastifyInstance) {
  const { demo } = fastify
  if (!demo.enabled) return
  // With an admin token set, only its holder may break this instance on purpose.
  fastify.addHook('preHandler', fastify.requireAdmin)
  fastify.get('/demo', async () => demo.state())
  fastify.post('/demo/health/fail', async () => {
    demo.failHealth()
    return demo.state()
  })
  fastify.post('/demo/health/recover', async () => {
    demo.recoverHealth()
    return demo.state()
  })
  fastify.post('/demo/cpu', {
    schema: {
      querystring: {
        type: 'object',
        properties: { seconds: { type: 'integer', minimum: 1, maximum: 600, default: 300 } }
      }
    }
  }, async request => {
    demo.burnCpu((request.query as { seconds: number }).seconds)
    return demo.state()
  })
  fastify.delete('/demo/cpu', async () => {
    await demo.stopCpu()
    return demo.state()
  })
}

export default fp(demoRoutes, { name: 'demo-routes', dependencies: ['demo', 'access'], encapsulate: true })
