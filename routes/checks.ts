import type { FastifyInstance } from 'fastify'
import type { BackendName, CheckResult, Status } from '../lib/check.ts'
import { version } from '../lib/version.ts'
import { formatQuery, wantsJson } from './negotiate.ts'

export const backendNames: BackendName[] = ['database', 'redis', 's3', 'dynamodb']

const componentTypes: Record<BackendName, string> = { database: 'datastore', redis: 'datastore', s3: 'component', dynamodb: 'datastore' }

// The seed's contract: GET /database, /redis, /s3, /dynamodb answer exactly "OK" when the
// backend works. When it does not, the same page says which stage failed and what to change.
// /checks and /ready answer for every configured backend at once.
export default async function checkRoutes (fastify: FastifyInstance) {
  const cacheSeconds = Math.max(1, Math.round((fastify.config.values?.checks.cache_ms ?? 1000) / 1000))

  for (const name of backendNames) {
    fastify.get(`/${name}`, { schema: { querystring: formatQuery } }, async (request, reply) => {
      const result = await fastify.backends.get(name)!.check()
      reply.code(result.status === 'fail' ? 503 : 200)
      if (wantsJson(request)) return request.isAdmin ? result : { backend: result.backend, status: result.status }
      reply.type('text/plain; charset=utf-8')
      // Anonymous callers, when an admin token is set, learn only whether it works.
      if (!request.isAdmin) return result.status === 'fail' ? 'FAIL' : 'OK'
      return renderText(result)
    })
  }

  // Every configured check in parallel, as the IETF "Health Check Response Format for HTTP
  // APIs" draft (application/health+json) describes.
  // https://datatracker.ietf.org/doc/html/draft-inadarei-api-health-check
  fastify.get('/checks', async (request, reply) => {
    const results = await runConfigured(fastify)
    const status = overall(results)
    reply.code(status === 'fail' ? 503 : 200)
      .type('application/health+json')
      .header('cache-control', `max-age=${cacheSeconds}`)
    return {
      status,
      version,
      description: 'suaicloudapp backend checks',
      checks: Object.fromEntries(results.map(result => [`${result.backend}:responseTime`, [{
        componentType: componentTypes[result.backend],
        observedValue: result.durationMs,
        observedUnit: 'ms',
        status: result.status,
        time: new Date().toISOString(),
        ...(request.isAdmin
          ? { output: result.status === 'pass' ? '' : result.message, stage: result.stage, hint: result.hint, details: result.details }
          : {})
      }]]))
    }
  })

  // Readiness: this instance can serve what it is for. Not the load balancer's liveness probe
  // (that is /health): a shared backend outage would fail every instance at once.
  fastify.get('/ready', async (request, reply) => {
    if (fastify.draining) return reply.code(503).type('text/plain; charset=utf-8').send('not ready: shutting down\n')
    const results = await runConfigured(fastify)
    const failed = results.filter(result => result.status === 'fail')
    reply.code(failed.length ? 503 : 200).type('text/plain; charset=utf-8')
    if (!failed.length) return 'ready'
    return request.isAdmin ? `not ready: ${failed.map(result => `${result.backend} (${result.stage})`).join(', ')}\n` : 'not ready\n'
  })
}

export async function runConfigured (fastify: FastifyInstance): Promise<CheckResult[]> {
  const configured = [...fastify.backends.values()].filter(backend => backend.configured)
  return Promise.all(configured.map(backend => backend.check()))
}

function overall (results: CheckResult[]): Status {
  if (results.some(result => result.status === 'fail')) return 'fail'
  return results.some(result => result.status === 'warn') ? 'warn' : 'pass'
}

export function renderText (result: CheckResult): string {
  if (result.status === 'pass') return 'OK'
  if (result.status === 'warn') return ['OK', ...result.warnings.map(warning => `warning: ${warning}`)].join('\n') + '\n'
  return `FAIL (${result.stage}): ${result.message}\n${result.hint ? `hint: ${result.hint}\n` : ''}`
}
