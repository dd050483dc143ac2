import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, cleanEnv, configToml, eventually, freePort, startCli, workDir } from './helper.ts'

// SIGUSR2 runs a full garbage collection and /metrics shows the heap still in use: what the soak
// in `npm run bench` reads from the executable. Only a signal asks for it, so no HTTP caller can
// make the server spend one; the reading itself stays behind the admin token like all of /metrics.
const TOKEN = 'bench-reader-token'
const READINGS = /^suaicloudapp_heap_readings_total (\d+)$/m
const HEAP = /^suaicloudapp_heap_used_after_gc_bytes (\d+)$/m

test('SIGUSR2 records the heap used after a full collection in /metrics, for the admin only, and the server keeps serving', async t => {
  const cwd = await workDir(configToml({ server: { host: '127.0.0.1', port: await freePort(), admin_token: TOKEN } }))
  // The sources on Node offer the reading only with --expose-gc; the executable (Bun) always.
  const app = await startCli(t, [], { cwd, env: cleanEnv({ NODE_OPTIONS: '--expose-gc' }) })
  const metrics = async (token?: string) => fetch(`${app.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  const readings = async () => Number(READINGS.exec(await (await metrics(TOKEN)).text())?.[1])

  assert.equal(await readings(), 0)
  for (const expected of [1, 2]) {
    app.child.kill('SIGUSR2')
    await eventually(async () => await readings() === expected)
  }
  const heap = Number(HEAP.exec(await (await metrics(TOKEN)).text())?.[1])
  assert.ok(heap > 1024 * 1024 && heap < 1024 ** 3, `heap used after GC: ${heap} bytes`)

  assert.equal((await metrics()).status, 401)
  assert.equal((await fetch(`${app.url}/health`)).status, 200)
  assert.equal(app.child.exitCode, null)
})

test('where no full collection can be asked for (Node without --expose-gc), /metrics offers no heap reading', async t => {
  const { fastify } = await buildApp(t, configToml({ server: { host: '127.0.0.1', port: 8080 } }))
  const body = (await fastify.inject('/metrics')).body
  assert.match(body, /^# TYPE http_requests_total counter$/m)
  assert.doesNotMatch(body, /suaicloudapp_heap_/)
})
