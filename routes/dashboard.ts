import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { imds } from '../lib/imds.ts'
import { version } from '../lib/version.ts'
import { dashboard, page } from './dashboard-page.ts'

// The page may run only its own inline style and script and talk only to this server: a
// check message is text from a backend, and must never become markup or a request elsewhere.
const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`
const contentSecurityPolicy = [
  "default-src 'none'",
  `style-src ${sha256(dashboard.style)}`,
  `script-src ${sha256(dashboard.script)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

// GET / for people (a page that polls /checks and /instance), GET /instance for the page and
// for scripts: which instance answered, since when, and the demo switches when they are on.
export default async function dashboardRoutes (fastify: FastifyInstance) {
  const configProblems = fastify.config.problems.map(problem => problem.message)

  fastify.get('/', async (_request, reply) => {
    reply.type('text/html; charset=utf-8')
      .header('content-security-policy', contentSecurityPolicy)
      .header('cache-control', 'no-cache')
    return page
  })

  fastify.get('/instance', async () => {
    const { instance, note } = await imds.lookup()
    return {
      version,
      uptime: Math.round(process.uptime()),
      instance,
      note,
      configProblems,
      demo: fastify.demo.enabled ? fastify.demo.state() : null
    }
  })
}
