import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp } from './helper.ts'
import { closedPort, type PortHandle } from './harness/index.ts'

// A config fails section by section: a section that validates is checked, a section with
// problems answers with them on its own endpoint, and /checks, /ready and /health say the
// config has problems while any exist.
process.env.AWS_EC2_METADATA_DISABLED = 'true'

let closed: PortHandle
before(async () => { closed = await closedPort() })
after(() => closed?.stop())

const database = () => `[database]\nhost = '${closed.host}'\nport = ${closed.port}\nuser = 'u'\ndbname = 'd'\n`

test('a misspelt key in [server] leaves a valid [database] checked; /checks and /ready are 503 listing the problem', async t => {
  const { fastify } = await buildApp(t, `[server]\nhots = '127.0.0.1'\n${database()}`)

  const checked = await fastify.inject('/database')
  assert.equal(checked.statusCode, 503)
  assert.match(checked.body, /^FAIL \(connect\): the connection was refused/, 'checked, not "not configured"')

  const checks = await fastify.inject('/checks')
  assert.equal(checks.statusCode, 503)
  const body = checks.json()
  assert.equal(body.status, 'fail')
  assert.equal(body.output, 'config.toml has problems')
  assert.deepEqual(body.problems.map((problem: { section: string, key: string, line: number }) => [problem.section, problem.key, problem.line]), [['server', 'hots', 2]])
  assert.match(body.problems[0].message, /config\.toml:2: unknown key server\.hots — did you mean host\?/)
  assert.equal(body.checks['database:responseTime'][0].stage, 'connect')

  const ready = await fastify.inject('/ready')
  assert.equal(ready.statusCode, 503)
  assert.match(ready.body, /^not ready: database \(connect\), config\.toml has problems\n.*unknown key server\.hots/)

  const health = await fastify.inject('/health')
  assert.equal(health.statusCode, 503)
  assert.match(health.body, /^unhealthy: the config is invalid\n.*unknown key server\.hots/)
})

test('a section with problems answers on its own endpoint with each problem: file, line, key and fix', async t => {
  const { fastify } = await buildApp(t, `[redis]\nhost = 'h'\nport = 'x'\ntsl = true\n${database()}`)
  const redis = await fastify.inject('/redis')
  assert.equal(redis.statusCode, 503)
  assert.match(redis.body, /^FAIL \(config\): \[redis\] has 2 problems in config\.toml: /)
  assert.match(redis.body, /config\.toml:4: unknown key redis\.tsl — did you mean tls\?/)
  assert.match(redis.body, /config\.toml:3: redis\.port must be a whole number: TCP port, 1-65535 \(got "x"\)/)
  assert.match(redis.body, /\nhint: fix them \(suaicloudapp validate lists every problem\), then restart\n$/)
  const json = (await fastify.inject('/redis?format=json')).json()
  assert.deepEqual(json.details.problems.map((problem: { key: string, line: number }) => [problem.key, problem.line]), [['tsl', 4], ['port', 3]])

  assert.match((await fastify.inject('/database')).body, /^FAIL \(connect\)/, 'the valid section is still checked')
  const checks = (await fastify.inject('/checks')).json()
  assert.equal(checks.checks['redis:responseTime'][0].stage, 'config')
})

test('a valid config has no problems on /checks, and an absent section is still "not configured"', async t => {
  const { fastify } = await buildApp(t, "[server]\nhost = '127.0.0.1'\n")
  const checks = await fastify.inject('/checks')
  assert.equal(checks.statusCode, 200)
  assert.equal(checks.json().problems, undefined)
  assert.match((await fastify.inject('/redis')).body, /^FAIL \(config\): \[redis\] is not configured\nhint: add a \[redis\] section with host, port, tls, username, password \(host is required\)/)
})

test('a broken [server] keeps its valid keys: the admin token still guards /logs', async t => {
  const { fastify } = await buildApp(t, "[server]\nport = 8080.0\nadmin_token = 'a-token-of-32-characters-or-so!!'\n")
  assert.equal((await fastify.inject('/logs')).statusCode, 401)
  assert.match((await fastify.inject('/health')).body, /config\.toml:2: server\.port must be a whole number: .*\(got 8080\.0, a float; write 8080 without the decimal point\)/)
})
