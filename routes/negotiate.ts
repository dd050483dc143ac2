import type { FastifyRequest } from 'fastify'

// ?format where an endpoint speaks both: any other value is a 400 that names the choices.
export const formatQuery = { type: 'object', properties: { format: { type: 'string', enum: ['text', 'json'] } } } as const

// The 400 message of a bad ?format, for a route that checks it without the schema.
export function formatProblem (request: FastifyRequest): string | undefined {
  const format = (request.query as { format?: unknown } | undefined)?.format
  if (format === undefined || format === 'text' || format === 'json') return undefined
  return `query parameter format must be one of ${formatQuery.properties.format.enum.join(', ')}`
}

// JSON when asked for with ?format=json or an Accept header naming a JSON type.
export function wantsJson (request: FastifyRequest, jsonType = 'application/json'): boolean {
  const format = (request.query as { format?: string } | undefined)?.format
  if (format !== undefined) return format === 'json'
  const accept = request.headers.accept ?? ''
  return accept.includes(jsonType) || accept.includes('application/json')
}
