import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { humanize, levels, tailLog, type LevelName } from '../lib/log-tail.ts'

interface LogsQuery {
  lines: number
  level?: LevelName
  format: 'text' | 'json'
}

// The server's own log, often the only window into an instance in a private subnet.
async function logsRoutes (fastify: FastifyInstance) {
  fastify.get<{ Querystring: LogsQuery }>('/logs', {
    preHandler: fastify.requireAdmin,
    schema: {
      querystring: {
        type: 'object',
        properties: {
          lines: { type: 'integer', minimum: 1, maximum: 10000, default: 200 },
          level: { type: 'string', enum: Object.keys(levels) },
          format: { type: 'string', enum: ['text', 'json'], default: 'text' }
        }
      }
    }
  }, async (request, reply) => {
    const { lines, level, format } = request.query
    let entries: string[]
    try {
      entries = await tailLog(fastify.config.logFile, { lines, minLevel: level })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      // Nothing written yet: the file is created with the first line.
      if (code === 'ENOENT') return ''
      request.log.warn({ code }, 'cannot read the log file')
      reply.code(503).type('text/plain; charset=utf-8')
      return `cannot read the log file ${fastify.config.logFile} (${code}); check the [log] file setting and the folder's permissions\n`
    }
    if (format === 'json') {
      reply.type('application/x-ndjson; charset=utf-8')
      return entries.map(entry => entry + '\n').join('')
    }
    reply.type('text/plain; charset=utf-8')
    return entries.map(entry => humanize(entry) + '\n').join('')
  })
}

export default fp(logsRoutes, { name: 'logs-routes', dependencies: ['config', 'access'], encapsulate: true })
