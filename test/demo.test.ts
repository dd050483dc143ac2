import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { buildApp, eventually, minimalConfig } from './helper.ts'

// The lab switches through inject. The CPU burn is watched from the outside too: the number of
// threads this process has, which is how an operator would see workers that never stopped.
process.env.AWS_EC2_METADATA_DISABLED = 'true'

const enabled = `${minimalConfig}[demo]\nenabled = true\n`
const cores = availableParallelism()
const threads = () => Number(/^Threads:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1])

test('without [demo] enabled = true the switches do not exist', async t => {
  const { fastify } = await buildApp(t, minimalConfig)
  for (const [method, url] of [['GET', '/demo'], ['POST', '/demo/health/fail'], ['POST', '/demo/cpu'], ['DELETE', '/demo/cpu']] as const) {
    assert.equal((await fastify.inject({ method, url })).statusCode, 404, `${method} ${url}`)
  }
  assert.equal((await fastify.inject('/health')).body, 'healthy')
  assert.equal((await fastify.inject('/instance')).json().demo, null)
})

test('POST /demo/health/fail makes /health 503 until POST /demo/health/recover', async t => {
  const { fastify } = await buildApp(t, enabled)
  assert.equal((await fastify.inject('/health')).statusCode, 200)

  const failed = await fastify.inject({ method: 'POST', url: '/demo/health/fail' })
  assert.equal(failed.statusCode, 200)
  assert.equal(failed.json().health.failing, true)

  const health = await fastify.inject('/health')
  assert.equal(health.statusCode, 503)
  assert.equal(health.body, 'unhealthy: failed on purpose by POST /demo/health/fail')
  const json = (await fastify.inject('/health?format=json')).json()
  assert.equal(json.status, 'fail')
  assert.equal(json.output, 'failed on purpose by POST /demo/health/fail')
  const shown = (await fastify.inject('/instance')).json().demo
  assert.equal(shown.health.failing, true)
  assert.ok(Date.parse(shown.health.since) <= Date.now())

  const recovered = await fastify.inject({ method: 'POST', url: '/demo/health/recover' })
  assert.deepEqual(recovered.json().health, { failing: false, since: null })
  assert.equal((await fastify.inject('/health')).body, 'healthy')
})

test('POST /demo/cpu burns every core until its deadline; a second call extends it; DELETE stops it', async t => {
  const { fastify } = await buildApp(t, enabled)
  const cpu = async (method: 'GET' | 'POST' | 'DELETE', url: string) => {
    const res = await fastify.inject({ method, url })
    assert.equal(res.statusCode, 200, res.body)
    return res.json().cpu
  }
  const idle = { running: false, workers: 0, until: null, secondsLeft: 0 }
  assert.deepEqual(await cpu('GET', '/demo'), idle)
  const before = threads()

  const first = await cpu('POST', '/demo/cpu?seconds=1')
  assert.equal(first.running, true)
  assert.equal(first.workers, cores)
  assert.equal(first.secondsLeft, 1)
  await eventually(() => threads() >= before + cores)

  const extended = await cpu('POST', '/demo/cpu?seconds=3')
  assert.equal(extended.workers, cores, 'the same workers, not more')
  assert.ok(Date.parse(extended.until) > Date.parse(first.until))
  // Past the first deadline it still burns.
  await new Promise(resolve => setTimeout(resolve, 1200))
  assert.equal((await cpu('GET', '/demo')).running, true)

  assert.deepEqual(await cpu('DELETE', '/demo/cpu'), idle)
  await eventually(() => threads() <= before)

  // Left alone, a burn ends at its deadline.
  await cpu('POST', '/demo/cpu?seconds=1')
  await eventually(async () => !(await cpu('GET', '/demo')).running, { timeoutMs: 2500 })
  await eventually(() => threads() <= before)
})

test('POST /demo/cpu takes 1 to 600 seconds', async t => {
  const { fastify } = await buildApp(t, enabled)
  for (const seconds of ['0', '601', 'lots']) {
    const res = await fastify.inject({ method: 'POST', url: `/demo/cpu?seconds=${seconds}` })
    assert.equal(res.statusCode, 400, seconds)
    assert.match(res.json().message, /^query parameter seconds must be/)
  }
  assert.equal((await fastify.inject('/demo')).json().cpu.running, false)
})

test('closing the server stops a burn', async t => {
  const { fastify } = await buildApp(t, enabled)
  const before = threads()
  await fastify.inject({ method: 'POST', url: '/demo/cpu?seconds=60' })
  await eventually(() => threads() >= before + cores)
  await fastify.close()
  await eventually(() => threads() <= before)
})

test('with an admin token, only its holder may flip the switches', async t => {
  const token = 'demo-Admin-token-0123456789'
  const { fastify } = await buildApp(t, `${enabled.replace('[server]\n', `[server]\nadmin_token = '${token}'\n`)}`)
  assert.equal((await fastify.inject({ method: 'POST', url: '/demo/health/fail' })).statusCode, 401)
  assert.equal((await fastify.inject('/health')).statusCode, 200)
  const allowed = await fastify.inject({ method: 'POST', url: '/demo/health/fail', headers: { authorization: `Bearer ${token}` } })
  assert.equal(allowed.statusCode, 200)
  assert.equal((await fastify.inject('/health')).statusCode, 503)
})
