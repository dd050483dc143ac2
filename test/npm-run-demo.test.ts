import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { cleanEnv, eventually, root } from './helper.ts'
import { launchChromium } from './harness/chromium.ts'

// `npm run demo` as a newcomer runs it: one command, the dashboard shows every check OK, and
// Ctrl-C (SIGINT to the whole foreground process group, as a terminal sends it) leaves no
// process behind. The demo runs the sources (it is a development command), on Node 24.
const DASHBOARD_DEADLINE_MS = 15_000

// Every process descended from `pid`, read from /proc.
function descendants (pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch {}
  }
  const found: number[] = []
  for (let queue = [pid]; queue.length;) {
    const next = children.get(queue.shift()!) ?? []
    found.push(...next)
    queue.push(...next)
  }
  return found
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true } catch { return false } }

test('npm run demo: every card OK on the dashboard within 15 s, and Ctrl-C leaves no process behind', { timeout: 120_000 }, async t => {
  const startedAt = performance.now()
  // detached: a process group of its own, like a shell's foreground job.
  const demo = spawn('npm', ['run', 'demo'], { cwd: root, env: cleanEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  demo.stdout.on('data', chunk => { output += chunk })
  demo.stderr.on('data', chunk => { output += chunk })
  const exited = new Promise<string>(resolve => demo.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)))
  t.after(() => { if (demo.exitCode === null && demo.signalCode === null) process.kill(-demo.pid!, 'SIGKILL') })

  const url = (await eventually(() => /^dashboard +(http:\/\/127\.0\.0\.1:\d+)\//m.exec(output)?.[1], { timeoutMs: DASHBOARD_DEADLINE_MS, intervalMs: 100 }))
  const browser = await launchChromium()
  t.after(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${url}/`)
  const remaining = DASHBOARD_DEADLINE_MS - (performance.now() - startedAt)
  for (const name of ['database', 'redis', 's3', 'dynamodb']) {
    await page.locator(`#${name} .pill`).filter({ hasText: 'pass' }).waitFor({ timeout: Math.max(remaining, 1) })
    assert.equal(await page.locator(`#${name} .message`).textContent(), 'OK', name)
  }
  await mkdir(join(root, 'test', 'artifacts'), { recursive: true })
  await page.screenshot({ path: join(root, 'test', 'artifacts', 'npm-run-demo.png'), fullPage: true })
  assert.match(output, /Now break something/)
  assert.match(output, /redis-cli -p \d+ shutdown nosave/)

  assert.equal(demo.exitCode, null, `the demo is still running before Ctrl-C:\n${output}`)
  const started = descendants(demo.pid!)
  assert.ok(started.length >= 6, `npm, the demo, the app, mariadbd and three redis-servers run (${started.length} processes)`)
  process.kill(-demo.pid!, 'SIGINT')
  // npm itself, like any program in the job, may leave through the SIGINT.
  assert.match(await exited, /^(code 0|SIGINT)$/, output)
  // A bound, not a measurement: MariaDB's clean shutdown flushes InnoDB, which on a CI runner
  // busy with the other test files has taken more than 10 s.
  const left = () => started.filter(alive).map(pid => `${pid} ${commandOf(pid)}`)
  await eventually(() => left().length === 0, { timeoutMs: 30_000 }).catch(() => assert.fail(`still running 30 s after Ctrl-C: ${left().join(', ')}\n${output}`))
})

const commandOf = (pid: number) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() } catch { return '?' } }
