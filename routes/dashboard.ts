import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { version } from '../lib/version.ts'
import { dashboardPage } from './dashboard-page.ts'

// The page may run only its own inline style and script and talk only to this server: a
// check message is text from a backend, and must never become markup or a request elsewhere.
const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`
const policyFor = ({ style, script }: { style: string, script: string }) => [
  "default-src 'none'",
  `style-src ${sha256(style)}`,
  `script-src ${sha256(script)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

// GET / for people (a page that polls /checks and /instance), GET /instance for the page and
// for scripts: which instance answered, since when, and the demo switches when they are on.
async function dashboardRoutes (fastify: FastifyInstance) {
  const configProblems = fastify.config.problems.map(problem => problem.message)
  const { imds } = fastify.environment
  const page = dashboardPage(fastify.backends.all.map(({ definition: { name, title, kind } }) => [name, title, kind]))
  const contentSecurityPolicy = policyFor(page)

  fastify.get('/', async (_request, reply) => {
    reply.type('text/html; charset=utf-8')
      .header('content-security-policy', contentSecurityPolicy)
      .header('cache-control', 'no-cache')
    return page.html
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

export default fp(dashboardRoutes, { name: 'dashboard-routes', dependencies: ['config', 'environment', 'backends', 'demo'], encapsulate: true })
