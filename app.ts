import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { BackendList } from './lib/backend.ts'
import type { LoadedConfig } from './lib/config.ts'
import { REQUEST_LINE } from './lib/log-destination.ts'
import access from './plugins/access.ts'
import audit from './plugins/audit.ts'
import backends from './plugins/backends.ts'
import configPlugin from './plugins/config.ts'
import demo from './plugins/demo.ts'
import environmentPlugin, { type Environment } from './plugins/environment.ts'
import fleet from './plugins/fleet.ts'
import metrics from './plugins/metrics.ts'
import probes from './plugins/probes.ts'
import requestLog from './plugins/request-log.ts'
import routes from './routes/index.ts'

export interface AppOptions {
  loaded: LoadedConfig
  // The backends to check: the list of plugins/backends.ts, the one the config was loaded with.
  backends: BackendList
  environment: Environment
}

declare module 'fastify' {
  interface FastifyInstance {
    // Set on SIGTERM: /health and /ready answer 503 so the load balancer stops sending.
    draining: boolean
  }
}

// The application as a plain plugin: it never listens, so tests build it with inject and
// server.ts owns the logger, the timeouts and the port.
export default async function app (fastify: FastifyInstance, options: AppOptions) {
  fastify.decorate('draining', false)

  const endpoints = new Map<string, Set<string>>()
  fastify.addHook('onRoute', route => {
    const methods = [route.method].flat().filter(method => method !== 'HEAD')
    endpoints.set(route.url, new Set([...(endpoints.get(route.url) ?? []), ...methods]))
    // Only routes with numbers in their query pay for this check (a hook on every request would
    // cost the /health probe too).
    if (takesNumbers(route.schema?.querystring)) route.preHandler = [refuseInfinity, ...[route.preHandler ?? []].flat()]
  })

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: describeValidation(error, request.routeOptions.schema?.querystring) })
    }
    const statusCode = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500
    if (statusCode >= 500) {
      // The cause stays in the log; the caller learns only that it was ours.
      request.log.error({ err: error }, 'request failed')
      return reply.code(statusCode).send({ statusCode, error: 'Internal Server Error', message: 'the server failed to answer; see GET /logs for the cause' })
    }
    return reply.code(statusCode).send({ statusCode, error: error.code ?? 'Bad Request', message: fastify.config.scrub(error.message) })
  })

  fastify.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]
    const allowed = endpoints.get(path)
    request.log.info({ method: request.method, url: request.url, statusCode: allowed ? 405 : 404 }, REQUEST_LINE)
    const list = [...endpoints].map(([url, methods]) => `${[...methods].join(',')} ${url}`).join(', ')
    if (allowed) {
      reply.header('allow', [...allowed, 'HEAD'].join(', '))
      return reply.code(405).send({ statusCode: 405, error: 'Method Not Allowed', message: `${request.method} is not allowed on ${path}; use ${[...allowed].join(' or ')}` })
    }
    return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no endpoint ${request.method} ${path}; endpoints: ${list}` })
  })

  await fastify.register(configPlugin, { loaded: options.loaded })
  await fastify.register(environmentPlugin, options.environment)
  await fastify.register(access)
  await fastify.register(requestLog)
  await fastify.register(backends, { list: options.backends })
  await fastify.register(demo)
  await fastify.register(metrics)
  await fastify.register(fleet)
  await fastify.register(probes)
  await fastify.register(audit)
  await fastify.register(routes)
}

// Ajv coerces "Infinity" and "1e999" to numbers and then skips minimum and maximum, which it
// applies to finite numbers only (ajv-validator/ajv#2212): without this, ?lines=Infinity would
// read the whole log and ?seconds=Infinity would be a 500.
async function refuseInfinity (request: FastifyRequest, reply: FastifyReply) {
  const bad = Object.entries(request.query ?? {}).find(([, value]) => typeof value === 'number' && !Number.isFinite(value))
  if (bad) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `query parameter ${bad[0]} ${allowed(propertiesOf(request.routeOptions.schema?.querystring)[bad[0]]) ?? 'must be a finite number'}` })
}

interface QueryProperty { type?: string, enum?: unknown[], minimum?: number, maximum?: number }

function propertiesOf (schema: unknown): Record<string, QueryProperty> {
  return (schema as { properties?: Record<string, QueryProperty> } | undefined)?.properties ?? {}
}

function takesNumbers (schema: unknown): boolean {
  return Object.values(propertiesOf(schema)).some(property => property.type === 'integer' || property.type === 'number')
}

// What a query parameter takes, in words, so every 400 says what would have been right.
function allowed (property: QueryProperty | undefined): string | undefined {
  if (property?.enum) return `must be one of ${property.enum.join(', ')}`
  if (property?.type !== 'integer' && property?.type !== 'number') return undefined
  const kind = property.type === 'integer' ? 'a whole number' : 'a number'
  const { minimum, maximum } = property
  const range = minimum !== undefined && maximum !== undefined ? ` from ${minimum} to ${maximum}` : minimum !== undefined ? ` of at least ${minimum}` : maximum !== undefined ? ` of at most ${maximum}` : ''
  return `must be ${kind}${range}`
}

function describeValidation (error: FastifyError, querystring: unknown): string {
  const where = error.validationContext === 'querystring' ? 'query parameter' : error.validationContext ?? 'request'
  const properties = where === 'query parameter' ? propertiesOf(querystring) : {}
  return (error.validation ?? []).map(problem => {
    const name = problem.instancePath.replace(/^\//, '') || String(problem.params.missingProperty ?? '')
    return `${where} ${name} ${allowed(properties[name]) ?? problem.message}`
  }).join('; ')
}
