import { createHash, timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'

declare module 'fastify' {
  interface FastifyRequest {
    // True when no admin token is configured, or the request carries it.
    isAdmin: boolean
  }
  interface FastifyInstance {
    requireAdmin: typeof requireAdmin
  }
}

// preHandler for routes that only the holder of [server] admin_token may use.
async function requireAdmin (request: FastifyRequest, reply: FastifyReply) {
  if (request.isAdmin) return
  await reply.code(401).header('www-authenticate', 'Bearer realm="suaicloudapp"')
    .send({ statusCode: 401, error: 'Unauthorized', message: 'this endpoint needs the admin token: send Authorization: Bearer <[server] admin_token>' })
}

// Hashing both sides gives equal lengths, so the comparison takes the same time whatever the
// caller sent.
const digest = (text: string) => createHash('sha256').update(text).digest()

// [server] admin_token, optional. Unset, everything is open as in the seed.
export default fp(async function access (fastify) {
  const token = fastify.config.server.admin_token
  const expected = token ? digest(token) : undefined

  // Without a token every request is admin: no hook needs to run on every request.
  fastify.decorateRequest('isAdmin', !expected)
  if (expected) {
    fastify.addHook('onRequest', async request => {
      const header = request.headers.authorization
      request.isAdmin = header?.startsWith('Bearer ') === true && timingSafeEqual(digest(header.slice(7).trim()), expected)
    })
  }
  fastify.decorate('requireAdmin', requireAdmin)
  if (!expected) {
    fastify.addHook('onReady', async () => {
      fastify.log.warn('no [server] admin_token is set: /logs, /metrics and failure details are public; set one when the port is reachable from the internet')
    })
  }
}, { name: 'access', dependencies: ['config'] })
