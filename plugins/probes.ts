import fp from 'fastify-plugin'
import type { ProbeRecord } from '../lib/audit.ts'

declare module 'fastify' {
  interface FastifyInstance {
    probes: ReturnType<typeof createProbes>
  }
}

// A load balancer probes from a few addresses (one per node, per Availability Zone); a cap keeps
// a flood of stray callers from growing the map.
const MAX_ADDRESSES = 32

// Who asked GET /health, and when: passive evidence that the load balancer reaches this
// instance, which needs no permission. One map write per probe, nothing logged.
function createProbes () {
  const seen = new Map<string, ProbeRecord>()
  return {
    heard (address: string, userAgent: string | undefined) {
      const record = seen.get(address)
      if (record) {
        record.count++
        record.last = Date.now()
        return
      }
      if (seen.size >= MAX_ADDRESSES) {
        const oldest = [...seen.values()].reduce((a, b) => a.last <= b.last ? a : b)
        seen.delete(oldest.address)
      }
      seen.set(address, { address, userAgent: (userAgent ?? '').slice(0, 80), count: 1, last: Date.now() })
    },
    list: (): ProbeRecord[] => [...seen.values()].map(record => ({ ...record }))
  }
}

export default fp(async function probes (fastify) {
  fastify.decorate('probes', createProbes())
}, { name: 'probes' })
