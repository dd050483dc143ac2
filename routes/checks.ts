import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { CheckResult, Status } from '../lib/check.ts'
import { version } from '../lib/version.ts'
import { formatQuery, wantsJson } from './negotiate.ts'

// The seed's contract: GET /database, /redis, /s3, /dynamodb (one per backend of the list)
// answer exactly "OK" when the backend works. When it does not, the same page says which stage
// failed and what to change. /checks and /ready answer for every configured backend at once,
// and fail while config.toml has problems.
async function checkRoutes (fastify: FastifyInstance) {
  const cacheSeconds = Math.max(1, Math.round(fastify.config.values.checks.cache_ms / 1000))
  const problems = fastify.config.problems.map(({ message, section, key, line }) => ({ message, section, key, line }))

  for (const backend of fastify.backends.all) {
    fastify.get(`/${backend.definition.name}`, { schema: { querystring: formatQuery } }, async (request, reply) => {
      const result = await backend.check()
      reply.code(result.status === 'fail' ? 503 : 200)
      if (wantsJson(request)) return request.isAdmin ? result : { backend: result.backend, status: result.status }
      reply.type('text/plain; charset=utf-8')
      // Anonymous callers, when an admin token is set, learn only whether it works.
      if (!request.isAdmin) return result.status === 'fail' ? 'FAIL' : 'OK'
      return renderText(result)
    })
  }

  // ?backend=<name> answers for that one alone (the dashboard asks per card, so a slow check
  // holds back only its own); ?history=1 adds the server's last results of each.
  const checksQuery = {
    type: 'object',
    properties: {
      backend: { type: 'string', enum: fastify.backends.all.map(backend => backend.definition.name) },
      history: { type: 'string', enum: ['0', '1'] }
    }
  } as const

  // Every configured check in parallel, as the IETF "Health Check Response Format for HTTP
  // APIs" draft (application/health+json) describes. The history is a user-defined key of each
  // check's object, which the draft allows (section 4.10), rather than more entries in its
  // array: those would read as more instances of the component. It is asked for, not always
  // there, so a monitor polling /checks gets the short answer it always got.
  // https://datatracker.ietf.org/doc/html/draft-inadarei-api-health-check
  fastify.get('/checks', { schema: { querystring: checksQuery } }, async (request, reply) => {
    const query = request.query as { backend?: string, history?: '0' | '1' }
    const chosen = fastify.backends.present().filter(backend => query.backend === undefined || backend.definition.name === query.backend)
    const results = await Promise.all(chosen.map(backend => backend.check()))
    const status = problems.length > 0 ? 'fail' : overall(results)
    reply.code(status === 'fail' ? 503 : 200)
      .type('application/health+json')
      .header('cache-control', `max-age=${cacheSeconds}`)
    return {
      status,
      version,
      description: 'suaicloudapp backend checks',
      ...(problems.length > 0 ? { output: 'config.toml has problems', problems } : {}),
      checks: Object.fromEntries(results.map((result, i) => [`${result.backend}:responseTime`, [{
        componentType: chosen[i].definition.componentType,
        observedValue: result.durationMs,
        observedUnit: 'ms',
        status: result.status,
        time: new Date().toISOString(),
        ...(request.isAdmin
          ? { output: result.status === 'pass' ? '' : result.message, stage: result.stage, hint: result.hint, details: result.details }
          : {}),
        // Anonymous callers, when an admin token is set, learn no stage here either.
        ...(query.history === '1'
          ? { history: chosen[i].history.map(({ stage, ...entry }) => request.isAdmin ? { ...entry, stage } : entry) }
          : {})
      }]]))
    }
  })

  // Readiness: this instance can serve what it is for. Not the load balancer's liveness probe
  // (that is /health): a shared backend outage would fail every instance at once.
  fastify.get('/ready', async (request, reply) => {
    if (fastify.draining) return reply.code(503).type('text/plain; charset=utf-8').send('not ready: shutting down\n')
    const results = await runPresent(fastify)
    const failed = results.filter(result => result.status === 'fail')
    const ready = failed.length === 0 && problems.length === 0
    reply.code(ready ? 200 : 503).type('text/plain; charset=utf-8')
    if (ready) return 'ready'
    if (!request.isAdmin) return 'not ready\n'
    const reasons = [...failed.map(result => `${result.backend} (${result.stage})`), ...(problems.length > 0 ? ['config.toml has problems'] : [])]
    return `not ready: ${reasons.join(', ')}\n${problems.map(problem => `${problem.message}\n`).join('')}`
  })
}

export default fp(checkRoutes, { name: 'check-routes', dependencies: ['config', 'access', 'backends'], encapsulate: true })

// The backends with a section in config.toml: checked, or reporting the section's problems.
function runPresent (fastify: FastifyInstance): Promise<CheckResult[]> {
  return Promise.all(fastify.backends.present().map(backend => backend.check()))
}

function overall (results: CheckResult[]): Status {
  if (results.some(result => result.status === 'fail')) return 'fail'
  return results.some(result => result.status === 'warn') ? 'warn' : 'pass'
}

function renderText (result: CheckResult): string {
  if (result.status === 'pass') return 'OK'
  if (result.status === 'warn') return ['OK', ...result.warnings.map(warning => `warning: ${warning}`)].join('\n') + '\n'
  return `FAIL (${result.stage}): ${result.message}\n${result.hint ? `hint: ${result.hint}\n` : ''}`
}
