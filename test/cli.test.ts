import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { cleanEnv, eventually, freePort, program, readLog, runCli, startCli, workDir } from './helper.ts'
import { runInTerminal } from './harness/terminal.ts'

const noStack = (text: string) => assert.ok(!/\n\s+at /.test(text), `no stack trace expected:\n${text}`)

test('validate exits 0 and lists the configured checks', async () => {
  const cwd = await workDir("[database]\nhost = 'h'\nuser = 'u'\ndbname = 'd'\n")
  const { code, stdout } = await runCli(['validate'], { cwd })
  assert.equal(code, 0)
  assert.match(stdout, /config\.toml: valid/)
  assert.match(stdout, /checks configured: database; not configured: redis, s3, dynamodb/)
})

test('validate exits 2 with a message naming the file and line for each class of mistake', async () => {
  const cases: Array<[string, RegExp]> = [
    ['[server]\nport = 80 80\n', /bad\.toml:2:\d+: TOML syntax error/],
    ["[server]\nport = 'http'\n", /bad\.toml:2: server\.port must be a whole number/],
    ['[server]\nport = 65536\n', /bad\.toml:2: server\.port is out of range: TCP port, 1-65535/],
    ["[redis]\nhots = 'h'\n", /bad\.toml:2: unknown key redis\.hots — did you mean host\?/]
  ]
  const cwd = await workDir('')
  for (const [toml, message] of cases) {
    const dir = await workDir(toml, 'bad.toml')
    const { code, stderr, stdout } = await runCli(['validate', '--config', join(dir, 'bad.toml')], { cwd })
    assert.equal(code, 2, toml)
    assert.match(stderr, message)
    noStack(stderr + stdout)
  }
})

test('--version, --help, help, and mistakes on the command line: one line and where to look', async () => {
  const cwd = await workDir('')
  const version = await runCli(['--version'], { cwd })
  assert.equal(version.code, 0)
  assert.match(version.stdout, /^suaicloudapp 0\.1\.0/)
  for (const args of [['--help'], ['help']]) {
    const help = await runCli(args, { cwd })
    assert.equal(help.code, 0, args.join(' '))
    assert.match(help.stdout, /^Usage: suaicloudapp/)
  }
  const mistakes: Array<[string[], string]> = [
    [['--bogus'], "suaicloudapp: Unknown option '--bogus'"],
    [['frobnicate'], 'suaicloudapp: unknown command "frobnicate"'],
    [['chekc'], 'suaicloudapp: unknown command "chekc" — did you mean check?'],
    [['servce', 'install'], 'suaicloudapp: unknown command "servce install" — did you mean service install?'],
    [['validate', '--json'], 'suaicloudapp: --json is not an option of validate']
  ]
  for (const [args, line] of mistakes) {
    const bad = await runCli(args, { cwd })
    assert.equal(bad.code, 2, args.join(' '))
    assert.equal(bad.stderr, `${line}\nRun suaicloudapp --help for the commands and options.\n`)
  }
})

test('serve with a broken config still listens: /health is 503 with the problems, on stderr and in output.log', async t => {
  const port = await freePort()
  const cwd = await workDir(`[server]\nhost = '127.0.0.1'\nport = ${port}\n[s3]\nbukcet = 'b'\n`)
  const app = await startCli(t, [], { cwd })
  const res = await fetch(`${app.url}/health`)
  assert.equal(res.status, 503)
  assert.match(await res.text(), /unknown key s3\.bukcet — did you mean bucket\?/)
  assert.match(app.output(), /the config has problems/)
  await eventually(async () => (await readLog(join(cwd, 'output.log'))).includes('s3.bukcet'))
  assert.equal(await app.stop(), 0, 'exits 0 on SIGTERM')
})

test('serve takes SUAI_SERVER_PORT, writes output.log in the working directory, and exits 0 on SIGTERM', async t => {
  const port = await freePort()
  const cwd = await workDir("[server]\nhost = '127.0.0.1'\n")
  const app = await startCli(t, [], { cwd, env: cleanEnv({ SUAI_SERVER_PORT: String(port) }) })
  assert.equal(app.url, `http://127.0.0.1:${port}`)
  const res = await fetch(`${app.url}/health`)
  assert.equal(await res.text(), 'healthy')
  const logs = await (await fetch(`${app.url}/logs`)).text()
  assert.match(logs, /listening/)
  assert.equal(await app.stop(), 0)
  assert.match(await readLog(join(cwd, 'output.log')), /shutting down/)
})

test('on a terminal, the first Ctrl-C says how long the drain takes and that a second one leaves at once', async () => {
  const port = await freePort()
  const cwd = await workDir(`[server]\nhost = '127.0.0.1'\nport = ${port}\ndrain_ms = 60000\n`)
  const terminal = runInTerminal(program(), { cwd, env: cleanEnv() })
  await eventually(() => fetch(`http://127.0.0.1:${port}/health`).then(res => res.ok, () => false), { timeoutMs: 15_000, intervalMs: 100 })
  terminal.type('\x03')
  await terminal.waitFor(/stopping after 60000 ms of draining \(press Ctrl-C again to leave at once\)/)
  terminal.type('\x03')
  // A finished drain exits 0; leaving at once is 1 from the handler, or 130 (killed by SIGINT),
  // which one CI run under full load produced and no run since has reproduced.
  const code = await terminal.exited
  assert.ok(code === 1 || code === 130, `the second Ctrl-C leaves at once, not after the 60 s drain (exit code ${code})`)
})

test('a misspelt SUAI_ variable is a warning naming the closest one, in validate and at start-up', async t => {
  const port = await freePort()
  const cwd = await workDir(`[server]\nhost = '127.0.0.1'\nport = ${port}\n[database]\nhost = 'h'\nuser = 'u'\ndbname = 'd'\n`)
  const env = cleanEnv({ SUAI_DATABASE_HOTS: 'x' })
  const warning = 'environment variable SUAI_DATABASE_HOTS is not a setting and is ignored — did you mean SUAI_DATABASE_HOST?'
  const valid = await runCli(['validate'], { cwd, env })
  assert.equal(valid.code, 0)
  assert.equal(valid.stderr, `warning: ${warning}\n`)
  const app = await startCli(t, [], { cwd, env })
  assert.match(app.output(), new RegExp(`suaicloudapp: warning: ${warning.replace('?', '\\?')}`))
  await eventually(async () => (await readLog(join(cwd, 'output.log'))).includes('SUAI_DATABASE_HOTS'))
})

test('a port in use is one clear line and exit 1', async t => {
  const blocker = createServer()
  await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
  t.after(() => blocker.close())
  const { port } = blocker.address() as { port: number }
  const cwd = await workDir(`[server]\nhost = '127.0.0.1'\nport = ${port}\n`)
  const { code, stderr } = await runCli([], { cwd })
  assert.equal(code, 1)
  assert.match(stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`))
  noStack(stderr)
})
