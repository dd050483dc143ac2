import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import autocannon from 'autocannon'
import { cleanEnv, eventually, freePort, makeTempDir, root, startCli, workDir } from './helper.ts'
import { findExecutable, ServerProcess } from './harness/process.ts'

// A load balancer in front of three executables, as an Auto Scaling group has them: haproxy
// probes GET /health as the target group does (faster, for a test). One instance gets SIGTERM
// under load, as on a scale-in: /health turns 503, haproxy takes it out, and only then does its
// listener close, so not one request fails. No retries and no redispatch in haproxy: a request
// sent to a closed port would fail, not be hidden.
process.env.AWS_EC2_METADATA_DISABLED = 'true'
const DRAIN_MS = 1000
const LOAD_SECONDS = 3

function haproxyPath (): string | undefined {
  try {
    return findExecutable('haproxy')
  } catch {
    return undefined
  }
}

// The built executable: the one npm test built and named, or dist/suaicloudapp, built when missing.
async function executable (): Promise<string> {
  if (process.env.SUAI_TEST_BIN) return process.env.SUAI_TEST_BIN
  const binary = join(root, 'dist', 'suaicloudapp')
  if (!existsSync(binary)) await promisify(execFile)('npm', ['run', 'build', '--silent'], { cwd: root, env: cleanEnv() })
  return binary
}

// One command on haproxy's admin socket.
function adminCommand (socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = ''
    const client = connect(socket, () => client.end(`${command}\n`))
    client.on('data', chunk => { answer += chunk })
      .on('end', () => resolve(answer))
      .on('error', reject)
  })
}

// `show stat` as one record per proxy and server, keyed by the CSV header.
async function stats (socket: string): Promise<Array<Record<string, string>>> {
  const [header, ...lines] = (await adminCommand(socket, 'show stat')).trim().split('\n')
  const names = header.replace(/^# /, '').split(',')
  return lines.map(line => Object.fromEntries(line.split(',').map((value, i) => [names[i], value])))
}

// The first moment a TCP connect to the port is refused, polling every few milliseconds.
async function refusedAt (port: number, deadlineMs: number): Promise<number> {
  const deadline = performance.now() + deadlineMs
  while (performance.now() < deadline) {
    const refused = await new Promise<boolean>(resolve => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve(false) })
      socket.once('error', err => resolve((err as NodeJS.ErrnoException).code === 'ECONNREFUSED'))
    })
    if (refused) return performance.now()
    await sleep(5)
  }
  throw new Error(`port ${port} still accepted connections after ${deadlineMs} ms`)
}

test('haproxy in front of 3 executables: SIGTERM one under load, haproxy takes it out through /health before its listener closes, no request fails', {
  skip: haproxyPath() ? false : 'haproxy is not installed (Debian: apt-get install haproxy)',
  timeout: 60_000
}, async t => {
  process.env.SUAI_TEST_BIN = await executable()
  const ports = await Promise.all([freePort(), freePort(), freePort()])
  const apps = await Promise.all(ports.map(async port => {
    const cwd = await workDir(`[server]\nhost = '127.0.0.1'\nport = ${port}\ndrain_ms = ${DRAIN_MS}\n`)
    return { cwd, ...await startCli(t, [], { cwd, env: cleanEnv() }) }
  }))

  const dir = await makeTempDir('haproxy')
  const socket = join(dir, 'admin.sock')
  const front = await freePort()
  await writeFile(join(dir, 'haproxy.cfg'), `global
  stats socket ${socket} mode 600 level admin
  log stdout format raw local0 info

defaults
  mode http
  log global
  timeout connect 1s
  timeout client 10s
  timeout server 10s
  timeout check 500ms
  retries 0

frontend web
  bind 127.0.0.1:${front}
  default_backend apps

backend apps
  balance roundrobin
  option httpchk GET /health
${ports.map((port, i) => `  server app${i} 127.0.0.1:${port} check inter 200 fall 2 rise 2\n`).join('')}`)
  const haproxy = new ServerProcess({ name: 'haproxy', command: haproxyPath()!, args: ['-db', '-f', join(dir, 'haproxy.cfg')], logFile: join(dir, 'haproxy.log') })
  haproxy.spawn()
  t.after(() => haproxy.stop())
  const serverState = async (name: string) => (await stats(socket).catch(() => [])).find(row => row.pxname === 'apps' && row.svname === name)
  await eventually(async () => (await Promise.all(ports.map((_, i) => serverState(`app${i}`)))).every(row => row?.status === 'UP'))

  // The load: what a person opening the page through the load balancer sends, back to back.
  const failures: string[] = []
  const load = new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({ url: `http://127.0.0.1:${front}/`, connections: 8, duration: LOAD_SECONDS }, (err, result) => err ? reject(err) : resolve(result))
      .on('response', (_client, statusCode) => { if (statusCode !== 200) failures.push(`status ${statusCode}`) })
      .on('reqError', err => failures.push(err.message))
  })

  await sleep(1000)
  const victim = apps[1]
  const signalledAt = performance.now()
  victim.child.kill('SIGTERM')
  const closed = refusedAt(ports[1], 5000)
  let down: { at: number, row: Record<string, string> } | undefined
  while (!down && performance.now() - signalledAt < 5000) {
    const row = await serverState('app1')
    if (row?.status.startsWith('DOWN')) down = { at: performance.now(), row }
    else await sleep(10)
  }
  const closedAt = await closed
  // Not stop(): a second SIGTERM while it still closes its clients would make it leave at once.
  const code = await victim.exited
  const result = await load

  assert.deepEqual(failures, [])
  assert.equal(result.errors + result.timeouts + result.non2xx, 0, `errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}`)
  assert.ok(result.requests.total > 500, `requests served through haproxy (${result.requests.total})`)
  assert.equal(code, 0)
  assert.ok(down, 'haproxy marked app1 DOWN')
  // Taken out by its own health check answering 503, not by a refused connection.
  assert.equal(down.row.check_status, 'L7STS', `check status when DOWN: ${down.row.check_status} ${down.row.check_desc}`)
  assert.equal(down.row.check_code, '503')
  const downAfter = down.at - signalledAt
  const closedAfter = closedAt - signalledAt
  assert.ok(downAfter < closedAfter, `DOWN ${Math.round(downAfter)} ms after SIGTERM, before the listener closed at ${Math.round(closedAfter)} ms`)
  assert.ok(closedAfter >= DRAIN_MS, `the listener stayed open for drain_ms (closed after ${Math.round(closedAfter)} ms)`)
  assert.match(await readFile(join(victim.cwd, 'output.log'), 'utf8'), /draining/)
  assert.match(await readFile(join(dir, 'haproxy.log'), 'utf8'), /app1 is DOWN.*Layer7 wrong status.*503/)
  t.diagnostic(`${result.requests.total} requests, 0 failed; app1 DOWN ${Math.round(downAfter)} ms after SIGTERM, listener closed after ${Math.round(closedAfter)} ms`)
})
