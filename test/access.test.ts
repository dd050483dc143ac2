import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, eventually, readLog } from './helper.ts'
import { closedPort, startRedis, type PortHandle, type RedisHandle } from './harness/index.ts'

process.env.AWS_EC2_METADATA_DISABLED = 'true'

const TOKEN = 'admin-Token-0123456789abcdef'
let redis: RedisHandle
let closed: PortHandle

before(async () => { [redis, closed] = await Promise.all([startRedis(), closedPort()]) })
after(async () => { await Promise.all([redis, closed].map(server => server?.stop())) })

const config = (token?: string) => `[server]\n${token ? `admin_token = '${token}'\n` : ''}` +
  `[redis]\nhost = '${redis.host}'\nport = ${redis.port}\n` +
  `[database]\nhost = '127.0.0.1'\nport = ${closed.port}\nuser = 'u'\npassword = 'db-Password-77'\ndbname = 'd'\n`
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

test('with admin_token, /logs, /metrics and /fleet need the token', async t => {
  const { fastify } = await buildApp(t, config(TOKEN))
  for (const url of ['/logs', '/metrics', '/fleet']) {
    const anonymous = await fastify.inject(url)
    assert.equal(anonymous.statusCode, 401, url)
    assert.match(anonymous.headers['www-authenticate'] as string, /^Bearer/)
    assert.equal((await fastify.inject({ url, headers: bearer('wrong-token-0123456789') })).statusCode, 401, url)
    assert.equal((await fastify.inject({ url, headers: bearer(TOKEN) })).statusCode, 200, url)
  }
})

test('with admin_token, anonymous callers get only OK/FAIL; the token holder gets stage and hint', async t => {
  const { fastify } = await buildApp(t, config(TOKEN))
  const anonymous = await fastify.inject('/database')
  assert.equal(anonymous.statusCode, 503)
  assert.equal(anonymous.body, 'FAIL')
  assert.deepEqual((await fastify.inject('/database?format=json')).json(), { backend: 'database', status: 'fail' })
  assert.equal((await fastify.inject('/ready')).body, 'not ready\n')
  const entry = (await fastify.inject('/checks')).json().checks['database:responseTime'][0]
  assert.equal(entry.status, 'fail')
  assert.equal(entry.hint, undefined)
  assert.equal(entry.output, undefined)

  const admin = await fastify.inject({ url: '/database', headers: bearer(TOKEN) })
  assert.match(admin.body, /^FAIL \(connect\): .*\nhint: /)
  assert.equal((await fastify.inject('/redis')).body, 'OK')
  assert.equal((await fastify.inject('/health')).body, 'healthy', '/health stays open for the load balancer')
})

test('without admin_token everything is open and start-up warns once that /logs is public', async t => {
  const { fastify, logFile } = await buildApp(t, config())
  assert.equal((await fastify.inject('/logs')).statusCode, 200)
  assert.match((await fastify.inject('/database')).body, /^FAIL \(connect\)/)
  const log = await eventually(async () => { const text = await readLog(logFile); return text.includes('admin_token') && text })
  assert.equal(log.split('\n').filter(line => line.includes('no [server] admin_token')).length, 1)
})

test('GET /metrics reports check results, HTTP requests by route and process metrics', async t => {
  const { fastify } = await buildApp(t, config())
  await fastify.inject('/redis')
  await fastify.inject('/database')
  await fastify.inject('/no-such-page-1')
  const res = await fastify.inject('/metrics')
  assert.equal(res.statusCode, 200)
  assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/)
  assert.match(res.body, /^suaicloudapp_check_up\{backend="redis"\} 1$/m)
  assert.match(res.body, /^suaicloudapp_check_up\{backend="database"\} 0$/m)
  assert.match(res.body, /^suaicloudapp_check_duration_seconds\{backend="redis"\} [\d.e-]+$/m)
  assert.match(res.body, /^http_requests_total\{method="GET",route="\/redis",status_code="200"\} 1$/m)
  assert.match(res.body, /^http_requests_total\{method="GET",route="unmatched",status_code="404"\} 1$/m)
  assert.ok(!res.body.includes('no-such-page-1'), 'raw URLs never become labels')
  assert.match(res.body, /^process_cpu_user_seconds_total /m)
  assert.ok(!res.body.includes('db-Password-77'))
})
