import type { FastifyInstance } from 'fastify'
import type { BackendName, CheckResult } from '../lib/check.ts'
import { wantsJson } from './negotiate.ts'

export const backendNames: BackendName[] = ['database', 'redis', 's3', 'dynamodb']

// The seed's contract: GET /database, /redis, /s3, /dynamodb answer exactly "OK" when the
// backend works. When it does not, the same page says which stage failed and what to change.
export default async function checkRoutes (fastify: FastifyInstance) {
  for (const name of backendNames) {
    fastify.get(`/${name}`, async (request, reply) => {
      const result = await fastify.backends.get(name)!.check()
      reply.code(result.status === 'fail' ? 503 : 200)
      if (wantsJson(request)) return result
      reply.type('text/plain; charset=utf-8')
      return renderText(result)
    })
  }
}

export function renderText (result: CheckResult): string {
  if (result.status === 'pass') return 'OK'
  if (result.status === 'warn') return ['OK', ...result.warnings.map(warning => `warning: ${warning}`)].join('\n') + '\n'
  return `FAIL (${result.stage}): ${result.message}\n${result.hint ? `hint: ${result.hint}\n` : ''}`
}
