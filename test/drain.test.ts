import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { freePort, startCli, workDir } from './helper.ts'

// SIGTERM under requests, with the clients playing a load balancer: probes of /health, and
// traffic that stops once a probe has seen 503. /health must turn 503 at once while the
// listener stays open for drain_ms, every request sent is answered, and the process exits 0.
// (haproxy.test.ts does the same behind a real haproxy.)
test('SIGTERM drains: /health 503 first, no request lost, exit 0', async t => {
  const port = await freePort()
  const cwd = await workDir(`[server]\nhost = '127.0.0.1'\nport = ${port}\ndrain_ms = 800\n`)
  const app = await startCli(t, [], { cwd })
  const seen = { served: 0, probes: 0, failed: [] as string[] }
  let signalledAt = 0
  const lb = { downAt: 0 }

  const probe = async () => {
    while (!lb.downAt) {
      const res = await fetch(`${app.url}/health`)
      await res.text()
      seen.probes++
      if (res.status === 503) lb.downAt = performance.now()
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  const traffic = async () => {
    while (!lb.downAt) {
      try {
        const res = await fetch(`${app.url}/logs?lines=5`)
        await res.text()
        if (res.status === 200) seen.served++
        else seen.failed.push(String(res.status))
      } catch (err) {
        seen.failed.push((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message)
      }
    }
  }
  const clients = [probe(), ...Array.from({ length: 6 }, traffic)]
  await new Promise(resolve => setTimeout(resolve, 300))
  signalledAt = performance.now()
  const exited = once(app.child, 'exit')
  app.child.kill('SIGTERM')
  await Promise.all(clients)
  const [code] = await exited
  const exitedAfter = performance.now() - signalledAt

  assert.deepEqual(seen.failed, [])
  assert.equal(code, 0)
  assert.ok(seen.served > 20, `requests served (${seen.served})`)
  assert.ok(lb.downAt - signalledAt < 300, `/health went down ${Math.round(lb.downAt - signalledAt)} ms after SIGTERM`)
  assert.ok(exitedAfter >= 800, `the listener stayed open for drain_ms (exited after ${Math.round(exitedAfter)} ms)`)
  assert.ok(exitedAfter < 5000, 'exited within the deadline')
  await assert.rejects(fetch(`${app.url}/health`), 'the listener is closed')
})
