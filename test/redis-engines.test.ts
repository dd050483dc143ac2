import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, configToml } from './helper.ts'
import { startRedis, type RedisHandle } from './harness/index.ts'
import { startRespServer, type RespServerKind } from './harness/resp.ts'

// The engines ElastiCache offers, as the redis check meets them: Valkey 8 (which reports a Redis
// compatibility version beside its own), Redis OSS 5 (no HELLO, its own AUTH errors) through the
// loopback RESP fixture, and the real redis-server 7 of this machine.

const TIMEOUT_MS = 1000
const TOKEN = 'elasticache-Auth-token-1'

let redis7: RedisHandle
before(async () => { redis7 = await startRedis() })
after(async () => { await redis7?.stop() })

interface Result { status: string, stage: string, message: string, hint?: string, details: Record<string, unknown> }

async function checkRedis (t: TestContext, section: Record<string, unknown>): Promise<{ result: Result, body: string }> {
  const { fastify } = await buildApp(t, configToml({ checks: { timeout_ms: TIMEOUT_MS, cache_ms: 0 }, redis: section }))
  const res = await fastify.inject('/redis?format=json')
  return { result: res.json() as Result, body: res.body }
}

async function fixture (t: TestContext, kind: RespServerKind, password?: string) {
  const server = await startRespServer(kind, { password })
  t.after(() => server.stop())
  return server
}

test('Valkey 8: the details name the engine and its own version, not the Redis compatibility version', async t => {
  const valkey = await fixture(t, 'valkey-8.0.1')
  const { result } = await checkRedis(t, { host: valkey.host, port: valkey.port })
  assert.equal(result.status, 'pass', JSON.stringify(result))
  assert.equal(result.details.engine, 'valkey')
  assert.equal(result.details.version, '8.0.1')
})

test('Redis 5, which has no HELLO, passes; the details say redis 5.0.14', async t => {
  const redis5 = await fixture(t, 'redis-5.0.14')
  const { result } = await checkRedis(t, { host: redis5.host, port: redis5.port })
  assert.equal(result.status, 'pass', JSON.stringify(result))
  assert.deepEqual([result.details.engine, result.details.version], ['redis', '5.0.14'])
  const names = redis5.commands.map(words => words[0].toUpperCase())
  assert.ok(!names.includes('HELLO'), names.join(' '))
  assert.ok(['INFO', 'SET', 'GET', 'DEL'].every(name => names.includes(name)), names.join(' '))
})

test('Redis 5 with an AUTH token: the right one passes, a wrong or missing one fails at auth with the password hint', async t => {
  const redis5 = await fixture(t, 'redis-5.0.14', TOKEN)
  const right = await checkRedis(t, { host: redis5.host, port: redis5.port, password: TOKEN })
  assert.equal(right.result.status, 'pass', right.body)
  for (const password of ['not-the-token', undefined]) {
    const { result, body } = await checkRedis(t, { host: redis5.host, port: redis5.port, password })
    assert.deepEqual([result.status, result.stage], ['fail', 'auth'], body)
    assert.match(result.message, password ? /invalid password/ : /NOAUTH/)
    assert.match(result.hint ?? '', /set \[redis\] password \(the AUTH token\)/)
    assert.ok(!body.includes(TOKEN) && !body.includes('not-the-token'), body)
  }
})

test('Redis 5 without a password, given one: fails at auth, not as an unknown error', async t => {
  const redis5 = await fixture(t, 'redis-5.0.14')
  const { result, body } = await checkRedis(t, { host: redis5.host, port: redis5.port, password: TOKEN })
  assert.deepEqual([result.status, result.stage], ['fail', 'auth'], body)
  assert.match(result.message, /no password is set/)
})

test('Redis 7 (the real server): the details say redis and its version', async t => {
  const { result } = await checkRedis(t, { host: redis7.host, port: redis7.port })
  assert.equal(result.status, 'pass', JSON.stringify(result))
  assert.equal(result.details.engine, 'redis')
  assert.match(String(result.details.version), /^[67]\.\d+\.\d+$/)
})
