import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { REQUEST_LINE } from './lib/log-destination.ts'
import access from './plugins/access.ts'
import configPlugin, { type ConfigPluginOptions } from './plugins/config.ts'
import database from './plugins/database.ts'
import dynamodb from './plugins/dynamodb.ts'
import metrics from './plugins/metrics.ts'
import redis from './plugins/redis.ts'
import requestLog from './plugins/request-log.ts'
import s3 from './plugins/s3.ts'
import routes from './routes/index.ts'

export type AppOptions = ConfigPluginOptions

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
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: describeValidation(error) })
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

  await fastify.register(configPlugin, options)
  await fastify.register(access)
  await fastify.register(requestLog)
  await fastify.register(database)
  await fastify.register(redis)
  await fastify.register(s3)
  await fastify.register(dynamodb)
  await fastify.register(metrics)
  await fastify.register(routes)
}

// Ajv coerces "Infinity" and "1e999" to numbers and then skips minimum and maximum, which it
// applies to finite numbers only (ajv-validator/ajv#2212): without this, ?lines=Infinity would
// read the whole log and ?seconds=Infinity would be a 500.
async function refuseInfinity (request: FastifyRequest, reply: FastifyReply) {
  const bad = Object.entries(request.query ?? {}).find(([, value]) => typeof value === 'number' && !Number.isFinite(value))
  if (bad) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: `query parameter ${bad[0]} must be a finite number` })
}

function takesNumbers (schema: unknown): boolean {
  const properties = (schema as { properties?: Record<string, { type?: string }> } | undefined)?.properties ?? {}
  return Object.values(properties).some(property => property.type === 'integer' || property.type === 'number')
}

function describeValidation (error: FastifyError): string {
  const where = error.validationContext === 'querystring' ? 'query parameter' : error.validationContext ?? 'request'
  return (error.validation ?? []).map(problem => {
    const name = problem.instancePath.replace(/^\//, '') || String(problem.params.missingProperty ?? '')
    const allowed = problem.params.allowedValues as string[] | undefined
    return `${where} ${name} ${allowed ? `must be one of ${allowed.join(', ')}` : problem.message}`
  }).join('; ')
}
