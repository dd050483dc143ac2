import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { stringify } from 'smol-toml'
import { buildServer, type BuildOptions } from '../server.ts'
import { makeTempDir, runToEnd, type Finished } from './harness/process.ts'
import { freePort } from './harness/ports.ts'

export { freePort, makeTempDir }

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

// The program under test: the sources through tsx, or a built executable when SUAI_TEST_BIN
// names one, so the same end-to-end tests prove both.
export function program (): string[] {
  const bin = process.env.SUAI_TEST_BIN
  if (bin) return [resolve(root, bin)]
  return [process.execPath, '--import', import.meta.resolve('tsx'), join(root, 'cli.ts')]
}

// The environment a user's shell would give, minus anything of ours that leaked in from the
// outer environment, and never the instance metadata service.
export function cleanEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('SUAI_') && !key.startsWith('AWS_')) env[key] = value
  }
  return { ...env, AWS_EC2_METADATA_DISABLED: 'true', ...extra }
}

// config.toml's text for these sections, written by the TOML library the app reads it with,
// so every value (a quote or a backslash in a password) arrives as it was given.
export function configToml (sections: Record<string, Record<string, unknown> | undefined>): string {
  return stringify(Object.fromEntries(Object.entries(sections).filter(([, section]) => section !== undefined)))
}

// A fresh working directory holding config.toml (or `name`) with this text.
export async function workDir (toml: string | Buffer, name = 'config.toml'): Promise<string> {
  const dir = await makeTempDir('app')
  await writeFile(join(dir, name), toml)
  return dir
}

export type CliResult = Finished

// `uid` and `gid` run it as another user (the test runner must be root for that).
export function runCli (args: string[], { cwd, env = cleanEnv(), uid, gid }: { cwd: string, env?: NodeJS.ProcessEnv, uid?: number, gid?: number }): Promise<CliResult> {
  const [command, ...prefix] = program()
  return runToEnd(command, [...prefix, ...args], { cwd, env, uid, gid })
}

export interface Running {
  url: string
  child: ChildProcess
  output: () => string
  // Its exit code, once it exits by itself.
  exited: Promise<number | null>
  // SIGTERM unless it already exited; its exit code.
  stop: () => Promise<number | null>
}

// Starts `serve` as a user does and waits for its "listening on" line.
// `run` is the program and its first arguments (program() unless given); `timeoutMs` how long it
// may take to say it listens.
export async function startCli (t: TestContext, args: string[], { cwd, env = cleanEnv(), run = program(), timeoutMs = 15_000 }: { cwd: string, env?: NodeJS.ProcessEnv, run?: string[], timeoutMs?: number }): Promise<Running> {
  const [command, ...prefix] = run
  const child = spawn(command, [...prefix, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    return exited
  }
  t.after(stop)
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within ${timeoutMs} ms:\n${output}`)), timeoutMs)
    const onData = (chunk: Buffer) => {
      output += chunk
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match) { clearTimeout(timer); resolve(match[1].replace('0.0.0.0', '127.0.0.1')) }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    exited.then(code => { clearTimeout(timer); reject(new Error(`exited with ${code} before listening:\n${output}`)) }, reject)
  })
  return { url, child, output: () => output, exited, stop }
}

// The app as the server builds it (real logger, real output.log), for inject(). `env` is all
// the environment the app sees, with the metadata service off unless it says otherwise;
// `options` bring a test's own DNS, metadata client or backends.
export async function buildApp (t: TestContext, toml: string, env: NodeJS.ProcessEnv = {}, options: BuildOptions = {}) {
  const cwd = await workDir(toml)
  const built = await buildServer({ cwd, env: { AWS_EC2_METADATA_DISABLED: 'true', ...env }, programDir: cwd }, options)
  t.after(() => built.close())
  await built.fastify.ready()
  return { ...built, cwd, logFile: built.fastify.config.logFile }
}

export const minimalConfig = `[server]
host = '127.0.0.1'
port = 8080
`

// The log file's text, '' until the logger has created it.
export async function readLog (file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '')
}

// Polls until `probe` returns a truthy value (log lines reach the file asynchronously).
export async function eventually<T> (probe: () => Promise<T> | T, { timeoutMs = 5000, intervalMs = 25 } = {}): Promise<NonNullable<Exclude<T, false | '' | 0>>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value as NonNullable<Exclude<T, false | '' | 0>>
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}
