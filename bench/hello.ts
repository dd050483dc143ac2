import Fastify from 'fastify'

// The baseline: a bare Fastify server with one route, started by the same Node binary as the
// executable, so the difference is what suaicloudapp adds.
const fastify = Fastify()
fastify.get('/health', async () => 'healthy')
await fastify.listen({ host: '127.0.0.1', port: Number(process.argv[2]) })
