import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { InstanceNetwork } from '../lib/imds.ts'
import { version } from '../lib/version.ts'
import { dashboardFiles } from './dashboard-files.ts'

// The page may load only its own style and script from this server and talk only to this
// server: a check message is text from a backend, and must never become markup or a request
// elsewhere.
const contentSecurityPolicy = [
  "default-src 'none'",
  "style-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

// GET / for people: a page (routes/dashboard/) that polls /instance and /checks per card.
// GET /instance for the page and for scripts: which instance answered, since when, its
// backends, and the demo switches when they are on; for the admin (anyone when no token is set)
// also where it sits in its VPC, what pinpointing starts from.

// The page polls /instance every few seconds; the network is asked of the metadata service at
// most this often (a security group attached meanwhile shows within it).
const NETWORK_TTL_MS = 60_000
async function dashboardRoutes (fastify: FastifyInstance) {
  const configProblems = fastify.config.problems.map(problem => problem.message)
  const { imds } = fastify.environment
  const files = dashboardFiles()
  const backends = fastify.backends.all.map(({ definition: { name, title, kind }, state }) => ({ name, title, kind, state }))

  const pages: Array<[url: string, file: keyof typeof files, type: string]> = [
    ['/', 'index.html', 'text/html; charset=utf-8'],
    ['/dashboard.css', 'dashboard.css', 'text/css; charset=utf-8'],
    ['/dashboard.js', 'dashboard.js', 'text/javascript; charset=utf-8']
  ]
  for (const [url, file, type] of pages) {
    fastify.get(url, async (_request, reply) => {
      reply.type(type)
        .header('content-security-policy', contentSecurityPolicy)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-cache')
      return files[file]
    })
  }

  // The account id stays out: the page does not need it, and the load balancer is public.
  async function place (): Promise<Omit<InstanceNetwork, 'accountId'> | null> {
    const { network } = await imds.network()
    if (!network) return null
    const { accountId, ...rest } = network
    return rest
  }
  let network: { until: number, lookup: ReturnType<typeof place> } | undefined
  const networkNow = () => {
    if (!network || Date.now() > network.until) network = { until: Date.now() + NETWORK_TTL_MS, lookup: place() }
    return network.lookup
  }

  fastify.get('/instance', async request => {
    const { instance, note } = await imds.lookup()
    return {
      version,
      uptime: Math.round(process.uptime()),
      instance,
      network: instance && request.isAdmin ? await networkNow() : null,
      note,
      configProblems,
      backends,
      demo: fastify.demo.enabled ? fastify.demo.state() : null
    }
  })
}

export default fp(dashboardRoutes, { name: 'dashboard-routes', dependencies: ['config', 'environment', 'backends', 'demo'], encapsulate: true })
