import fp from 'fastify-plugin'
import type { Imds } from '../lib/imds.ts'
import type { Lookup } from '../lib/lookup.ts'

// The outside world as the app meets it: the environment, the instance metadata service and
// DNS. Given, never reached for, so that a test hands in its own.
export interface Environment {
  env: NodeJS.ProcessEnv
  imds: Imds
  lookup: Lookup
}

declare module 'fastify' {
  interface FastifyInstance {
    environment: Environment
  }
}

export default fp<Environment>(async function environment (fastify, { env, imds, lookup }) {
  fastify.decorate('environment', { env, imds, lookup })
}, { name: 'environment' })
