import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp } from './helper.ts'
import { startMariadb, startRedis, type MariadbHandle, type RedisHandle } from './harness/index.ts'

// Backends dying under load: every request still answered within the bound, the process never
// crashes, the check recovers on its own, and the database never sees more than one
// connection from us.
process.env.AWS_EC2_METADATA_DISABLED = 'true'

const TIMEOUT_MS = 1000
const BOUND_MS = TIMEOUT_MS + 500

let db: MariadbHandle
let redis: RedisHandle

before(async () => { [db, redis] = await Promise.all([startMariadb(), startRedis()]) })
after(async () => { await Promise.all([db, redis].map(server => server?.stop())) })

interface Sample { at: number, ms: number, status: number, body: string }

// Keeps `clients` HTTP clients busy on `path` until `stop()`; records every answer.
function load (url: string, clients: number) {
  const samples: Sample[] = []
  const started = performance.now()
  const state = { running: true }
  const workers = Array.from({ length: clients }, async () => {
    while (state.running) {
      const t0 = performance.now()
      const res = await fetch(url)
      samples.push({ at: t0 - started, ms: performance.now() - t0, status: res.status, body: await res.text() })
    }
  })
  return {
    samples,
    elapsed: () => performance.now() - started,
    stop: async () => { state.running = false; await Promise.all(workers) }
  }
}

async function listen (t: TestContext, toml: string) {
  const { fastify } = await buildApp(t, `[checks]\ntimeout_ms = ${TIMEOUT_MS}\ncache_ms = 0\n${toml}`)
  return fastify.listen({ host: '127.0.0.1', port: 0 })
}

async function killAndRestartUnderLoad (url: string, server: { kill9: () => Promise<void>, restart: () => Promise<void> }, sampleConnections?: () => Promise<number>) {
  const traffic = load(url, 8)
  const connections: number[] = []
  const sampler = sampleConnections && setInterval(() => { sampleConnections().then(count => connections.push(count), () => {}) }, 50)
  await new Promise(resolve => setTimeout(resolve, 400))
  await server.kill9()
  const killedAt = traffic.elapsed()
  await new Promise(resolve => setTimeout(resolve, 800))
  await server.restart()
  const restartedAt = traffic.elapsed()
  await new Promise(resolve => setTimeout(resolve, 1500))
  await traffic.stop()
  if (sampler) clearInterval(sampler)
  return { samples: traffic.samples, killedAt, restartedAt, connections }
}

function assertRecovered ({ samples, killedAt, restartedAt }: { samples: Sample[], killedAt: number, restartedAt: number }) {
  assert.ok(samples.length > 50, `enough requests were made (${samples.length})`)
  for (const sample of samples) {
    assert.ok(sample.status === 200 || sample.status === 503, `answered ${sample.status}`)
    assert.ok(sample.ms < BOUND_MS, `answered in ${Math.round(sample.ms)} ms`)
    assert.ok(!/\n\s+at /.test(sample.body))
  }
  assert.ok(samples.some(sample => sample.at > killedAt && sample.status === 503), 'the outage was reported')
  const firstOkAfterRestart = samples.find(sample => sample.at > restartedAt && sample.status === 200)
  assert.ok(firstOkAfterRestart, 'OK again after the restart')
  assert.ok(firstOkAfterRestart.at - restartedAt < 5000, 'within 5 s of the restart')
  assert.equal(samples.at(-1)?.body, 'OK')
}

test('redis killed with -9 and restarted under load', async t => {
  const url = await listen(t, `[redis]\nhost = '${redis.host}'\nport = ${redis.port}\n`)
  assertRecovered(await killAndRestartUnderLoad(`${url}/redis`, redis))
})

test('mariadbd killed with -9 and restarted under load, never more than one connection from us', async t => {
  const url = await listen(t, `[database]\nhost = '${db.host}'\nport = ${db.port}\nuser = '${db.user}'\npassword = '${db.password}'\ndbname = '${db.database}'\n`)
  const ours = async () => {
    const [row] = await db.rootQuery<Array<{ n: bigint }>>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [db.user])
    return Number(row.n)
  }
  const run = await killAndRestartUnderLoad(`${url}/database`, db, ours)
  assertRecovered(run)
  assert.ok(run.connections.length > 10, 'connections were sampled')
  assert.ok(Math.max(...run.connections) <= 1, `at most one connection, saw ${Math.max(...run.connections)}`)
})
