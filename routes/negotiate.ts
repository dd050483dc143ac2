import type { FastifyRequest } from 'fastify'

// JSON when asked for with ?format=json or an Accept header naming a JSON type.
export function wantsJson (request: FastifyRequest, jsonType = 'application/json'): boolean {
  const format = (request.query as { format?: string } | undefined)?.format
  if (format !== undefined) return format === 'json'
  const accept = request.headers.accept ?? ''
  return accept.includes(jsonType) || accept.includes('application/json')
}
