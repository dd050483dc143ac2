import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, eventually, readLog } from './helper.ts'
import { closedPort, startMariadb, startRedis, type MariadbHandle, type PortHandle, type RedisHandle } from './harness/index.ts'

process.env.AWS_EC2_METADATA_DISABLED = 'true'

let db: MariadbHandle
let redis: RedisHandle
let closed: PortHandle

before(async () => {
  [db, redis, closed] = await Promise.all([startMariadb(), startRedis(), closedPort()])
})
after(async () => {
  await Promise.all([db, redis, closed].map(server => server?.stop()))
})

const database = (port = db.port) => `[database]\nhost = '${db.host}'\nport = ${port}\nuser = '${db.user}'\npassword = '${db.password}'\ndbname = '${db.database}'\n`
const redisSection = () => `[redis]\nhost = '${redis.host}'\nport = ${redis.port}\n`

async function status (name: string): Promise<number> {
  const [row] = await db.rootQuery<Array<{ Value: string }>>(`SHOW GLOBAL STATUS LIKE '${name}'`)
  return Number(row.Value)
}

test('GET /checks answers application/health+json for every configured backend', async t => {
  const { fastify } = await buildApp(t, database() + redisSection())
  const res = await fastify.inject('/checks')
  assert.equal(res.statusCode, 200, res.body)
  assert.match(res.headers['content-type'] as string, /^application\/health\+json/)
  assert.match(res.headers['cache-control'] as string, /^max-age=\d+$/)
  const body = res.json()
  assert.equal(body.status, 'pass')
  assert.deepEqual(Object.keys(body.checks).sort(), ['database:responseTime', 'redis:responseTime'])
  const [entry] = body.checks['database:responseTime']
  assert.equal(entry.componentType, 'datastore')
  assert.equal(entry.observedUnit, 'ms')
  assert.equal(typeof entry.observedValue, 'number')
  assert.equal(entry.status, 'pass')
  assert.ok(!Number.isNaN(Date.parse(entry.time)))
})

test('GET /checks is 503 with the failing stage when one backend fails; /ready too, /health stays 200', async t => {
  const { fastify } = await buildApp(t, database(closed.port) + redisSection())
  const checks = await fastify.inject('/checks')
  assert.equal(checks.statusCode, 503)
  const body = checks.json()
  assert.equal(body.status, 'fail')
  assert.equal(body.checks['database:responseTime'][0].stage, 'connect')
  assert.match(body.checks['database:responseTime'][0].output, /refused/)
  assert.equal(body.checks['redis:responseTime'][0].status, 'pass')

  const ready = await fastify.inject('/ready')
  assert.equal(ready.statusCode, 503)
  assert.equal(ready.body, 'not ready: database (connect)\n')
  assert.equal((await fastify.inject('/health')).statusCode, 200, 'a backend outage must not fail liveness')
})

test('GET /ready is 200 when every configured backend passes', async t => {
  const { fastify } = await buildApp(t, redisSection())
  const res = await fastify.inject('/ready')
  assert.equal(res.statusCode, 200)
  assert.equal(res.body, 'ready')
})

test('1000 concurrent /database requests cost one connection and one query', async t => {
  const { fastify } = await buildApp(t, database())
  const connectionsBefore = await status('Connections')
  const selectsBefore = await status('Com_select')
  const answers = await Promise.all(Array.from({ length: 1000 }, () => fastify.inject('/database')))
  assert.ok(answers.every(res => res.statusCode === 200 && res.body === 'OK'))
  // Each status() opens one root session of its own: the second reading of Connections counts
  // the Com_select reading's session, itself, and ours. Root runs SHOW, which is not a SELECT.
  assert.equal(await status('Connections') - connectionsBefore, 3, 'connections opened')
  assert.equal(await status('Com_select') - selectsBefore, 1, 'queries run')
})

test('a result is reused for cache_ms, then the check runs again', async t => {
  const { fastify } = await buildApp(t, '[checks]\ncache_ms = 300\n' + database())
  const selects = () => status('Com_select')
  const start = await selects()
  await fastify.inject('/database')
  await fastify.inject('/database')
  assert.equal(await selects() - start, 1, 'second request within cache_ms served from cache')
  await new Promise(resolve => setTimeout(resolve, 350))
  await fastify.inject('/database')
  assert.equal(await selects() - start, 2, 'a request after cache_ms runs the check again')
})

test('output.log gets a line when a check changes status, not on every repeat', async t => {
  const { fastify, logFile } = await buildApp(t, '[checks]\ncache_ms = 0\n' + database(closed.port))
  for (let i = 0; i < 3; i++) assert.equal((await fastify.inject('/database')).statusCode, 503)
  await fastify.inject('/logs?lines=1')
  const log = await eventually(async () => { const text = await readLog(logFile); return text.includes('/logs?lines=1') && text })
  const failures = log.split('\n').filter(line => line.includes('database check failed'))
  assert.equal(failures.length, 1, log)
  assert.equal(JSON.parse(failures[0]).level, 40)
  assert.equal(JSON.parse(failures[0]).stage, 'connect')
})

test('GET /checks?history=1 gives the last 20 results per backend, from every caller, without messages', async t => {
  const token = 'history-Admin-token-1'
  const { fastify } = await buildApp(t, `[server]\nadmin_token = '${token}'\n[checks]\ncache_ms = 0\n` + database(closed.port) + redisSection())
  const admin = { authorization: `Bearer ${token}` }
  const history = async (headers = admin) => (await fastify.inject({ url: '/checks?history=1', headers })).json().checks

  // Every way a check runs is remembered: its endpoint, /checks, and the registry the fleet
  // heartbeat calls.
  await fastify.inject('/database')
  await fastify.inject('/checks')
  await fastify.backends.get('database')?.check()
  const first = await history()
  // The request for the history itself ran a fourth check.
  const entries = first['database:responseTime'][0].history
  assert.equal(entries.length, 4)
  for (const entry of entries) {
    assert.deepEqual(Object.keys(entry).sort(), ['durationMs', 'stage', 'status', 'time'])
    assert.equal(entry.status, 'fail')
    assert.equal(entry.stage, 'connect')
    assert.equal(typeof entry.durationMs, 'number')
    assert.ok(!Number.isNaN(Date.parse(entry.time)))
  }
  assert.deepEqual(entries.map((entry: { time: string }) => entry.time), entries.map((entry: { time: string }) => entry.time).sort(), 'oldest first')
  assert.equal(first['redis:responseTime'][0].history.at(-1).status, 'pass')

  // Bounded: the oldest are dropped.
  for (let i = 0; i < 25; i++) await fastify.inject('/database')
  assert.equal((await history())['database:responseTime'][0].history.length, 20)

  // Anonymous callers get times, statuses and durations, not the stage.
  const anonymous = (await history({} as typeof admin))['database:responseTime'][0].history
  assert.equal(anonymous.length, 20)
  assert.deepEqual(Object.keys(anonymous[0]).sort(), ['durationMs', 'status', 'time'])
  // Without ?history the answer is the short one it always was.
  assert.equal((await fastify.inject('/checks')).json().checks['database:responseTime'][0].history, undefined)
})

test('a cached result is remembered once, however many callers share it', async t => {
  const { fastify } = await buildApp(t, '[checks]\ncache_ms = 60000\n' + redisSection())
  await Promise.all(Array.from({ length: 10 }, () => fastify.inject('/redis')))
  await fastify.inject('/redis')
  const entry = (await fastify.inject('/checks?history=1')).json().checks['redis:responseTime'][0]
  assert.equal(entry.history.length, 1)
  assert.equal(entry.history[0].status, 'pass')
})

test('GET /checks?backend= answers for that backend alone; bad values are 400s naming the choices', async t => {
  const { fastify } = await buildApp(t, database(closed.port) + redisSection())
  const redisOnly = await fastify.inject('/checks?backend=redis')
  assert.equal(redisOnly.statusCode, 200, 'a failing database does not fail the answer for redis')
  assert.deepEqual(Object.keys(redisOnly.json().checks), ['redis:responseTime'])
  assert.equal((await fastify.inject('/checks?backend=database')).statusCode, 503)
  // A backend of the list without a section: no check to answer with.
  assert.deepEqual((await fastify.inject('/checks?backend=s3')).json().checks, {})

  const badBackend = await fastify.inject('/checks?backend=mysql')
  assert.equal(badBackend.statusCode, 400)
  assert.match(badBackend.json().message, /backend.*database, redis, s3, dynamodb/)
  const badHistory = await fastify.inject('/checks?history=yes')
  assert.equal(badHistory.statusCode, 400)
  assert.match(badHistory.json().message, /history.*0, 1/)
})
