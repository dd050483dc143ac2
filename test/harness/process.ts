import { execFile, spawn } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { accessSync, closeSync, constants, openSync, readFileSync, rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const liveChildren = new Set<ChildProcess>()
const tempDirs = new Set<string>()

function cleanUpNow (): void {
  for (const child of liveChildren) child.kill('SIGKILL')
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
}

let exitHooked = false
// A test file that fails, forgets stop() or is killed by the runner must not leave servers or dirs behind.
function hookExit (): void {
  if (exitHooked) return
  exitHooked = true
  process.on('exit', cleanUpNow)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanUpNow()
      // Our listener is gone now, so this ends the process the default way, with the signal's status
      process.kill(process.pid, signal)
    })
  }
}

function childEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', ...extra }
}

function lastLines (text: string, count = 40): string {
  return text.trimEnd().split('\n').slice(-count).join('\n') || '(empty)'
}

export async function makeTempDir (name: string): Promise<string> {
  hookExit()
  const dir = await mkdtemp(join(tmpdir(), `suai-${name}-`))
  tempDirs.add(dir)
  return dir
}

export async function removeTempDir (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

// Debian and Ubuntu keep mariadbd in /usr/sbin, which is not on a normal user's PATH.
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin']

export function findExecutable (...names: string[]): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS]
  for (const name of names) {
    for (const dir of dirs) {
      const file = join(dir, name)
      try {
        accessSync(file, constants.X_OK)
        return file
      } catch {}
    }
  }
  throw new Error(`none of ${names.join(', ')} found on PATH or in ${SBIN_DIRS.join(', ')}; .ci/run installs mariadb-server and redis-server`)
}

/** Runs a short-lived tool to completion and returns its stdout; the error carries its output. */
export function runTool (command: string, args: string[], { timeoutMs = 30_000, env = {} }: { timeoutMs?: number, env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  hookExit()
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: timeoutMs, env: childEnv(env) }, (err, stdout, stderr) => {
      liveChildren.delete(child)
      if (err === null) return resolve(stdout)
      const why = err.killed ? `killed after ${timeoutMs} ms` : `code ${err.code}`
      reject(new Error(`${basename(command)} ${args.join(' ')} failed (${why})\n${lastLines(stdout + stderr)}`))
    })
    liveChildren.add(child)
  })
}

export interface Finished { code: number | null, stdout: string, stderr: string }

/** Runs a program to its end and returns its exit code and output, whatever the code. */
export function runToEnd (command: string, args: string[], options: SpawnOptions): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', chunk => { stdout += chunk })
    child.stderr?.on('data', chunk => { stderr += chunk })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

interface Run {
  child: ChildProcess
  exited: Promise<void>
  exitReason?: string
}

/** A long-running server child whose stdout and stderr are appended to logFile. */
export class ServerProcess {
  readonly name: string
  readonly command: string
  readonly args: string[]
  readonly logFile: string
  private current: Run | undefined

  constructor ({ name, command, args, logFile }: { name: string, command: string, args: string[], logFile: string }) {
    this.name = name
    this.command = command
    this.args = args
    this.logFile = logFile
  }

  spawn (): void {
    hookExit()
    const fd = openSync(this.logFile, 'a')
    let child: ChildProcess
    try {
      child = spawn(this.command, this.args, { stdio: ['ignore', fd, fd], env: childEnv() })
    } finally {
      closeSync(fd)
    }
    // A forgotten server must not keep the test process alive; the exit hook kills it instead.
    child.unref()
    liveChildren.add(child)
    const run: Run = { child, exited: Promise.resolve() }
    run.exited = new Promise(resolve => {
      const gone = (reason: string): void => {
        liveChildren.delete(child)
        run.exitReason ??= reason
        resolve()
      }
      child.once('error', err => gone(`failed: ${err.message}`))
      child.once('exit', (code, signal) => gone(signal === null ? `exited with code ${code}` : `was killed by ${signal}`))
    })
    this.current = run
  }

  get pid (): number | undefined {
    return this.current?.child.pid
  }

  /** Why the process is not running; undefined while it runs. */
  get exitReason (): string | undefined {
    return this.current === undefined ? 'was never started' : this.current.exitReason
  }

  logTail (): string {
    let text: string
    try {
      text = readFileSync(this.logFile, 'utf8')
    } catch (err) {
      text = `(log unreadable: ${(err as Error).message})`
    }
    return `--- ${this.name} log, last lines ---\n${lastLines(text)}`
  }

  /** SIGTERM (SIGKILL right away when graceMs is 0, or once graceMs passes); resolves when the process is gone. */
  async stop (graceMs = 5000): Promise<void> {
    const run = this.current
    if (run === undefined || run.exitReason !== undefined) return
    // Referenced again so the event loop stays alive until the exit is seen
    run.child.ref()
    run.child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL')
    const escalate = setTimeout(() => run.child.kill('SIGKILL'), graceMs)
    await run.exited
    clearTimeout(escalate)
  }
}

/**
 * Retries check until it resolves, then returns. Fails early when proc dies, or after timeoutMs,
 * with the last check error and the server's log tail in the message.
 */
export async function waitUntil (what: string, check: () => Promise<unknown>, { timeoutMs = 20_000, proc }: { timeoutMs?: number, proc?: ServerProcess } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastError = 'none'
  for (;;) {
    const exitReason = proc?.exitReason
    if (proc !== undefined && exitReason !== undefined) {
      throw new Error(`${what}: ${proc.name} ${exitReason} before it answered\n${proc.logTail()}`)
    }
    try {
      await check()
      return
    } catch (err) {
      lastError = (err as Error).message
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: no answer within ${timeoutMs} ms (last error: ${lastError})${proc === undefined ? '' : '\n' + proc.logTail()}`)
    }
    await sleep(25)
  }
}
