import { createServer } from 'node:http'

// The baselines: one GET /health answering "healthy" as text, started by the same Bun binary as
// the executable (or by Node 24 to compare runtimes; both strip the types of this file
// themselves), so the difference is what suaicloudapp adds. Each loads only its own framework, so start-up compares like with like.
// Usage: hello.ts http|express|fastify PORT
const [kind, port] = [process.argv[2], Number(process.argv[3])]
const host = '127.0.0.1'

if (kind === 'http') {
  createServer((request, response) => {
    if (request.url !== '/health') return response.writeHead(404).end()
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 7 }).end('healthy')
  }).listen(port, host)
} else if (kind === 'express') {
  const { default: express } = await import('express')
  express().get('/health', (_request, response) => { response.type('text/plain').send('healthy') }).listen(port, host)
} else if (kind === 'fastify') {
  const { default: Fastify } = await import('fastify')
  const fastify = Fastify()
  fastify.get('/health', async () => 'healthy')
  await fastify.listen({ host, port })
} else {
  throw new Error(`unknown baseline ${kind}; use http, express or fastify`)
}
