import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmod } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { cleanEnv, program, root, runCli, workDir } from './helper.ts'
import { runInTerminal } from './harness/terminal.ts'
import { closedPort, startSilentServer } from './harness/index.ts'

const noStack = (text: string) => assert.ok(!/\n\s+at /.test(text), `no stack trace expected:\n${text}`)
const UNIT_FILE = '/etc/systemd/system/suaicloudapp.service'
const systemdRuns = existsSync('/run/systemd/system')
const NOBODY = 65534

function allBackends (host: string, port: number, timeoutMs: number): string {
  const endpoint = `'http://${host}:${port}'`
  return `[checks]\ntimeout_ms = ${timeoutMs}\n[aws]\nregion = 'us-east-1'\n` +
    `[database]\nhost = '${host}'\nport = ${port}\nuser = 'u'\ndbname = 'd'\n` +
    `[redis]\nhost = '${host}'\nport = ${port}\n` +
    `[s3]\nbucket = 'b'\nendpoint = ${endpoint}\n` +
    `[dynamodb]\ntable = 't'\npartition_key = 'id'\nendpoint = ${endpoint}\n`
}

// The AWS SDK signs requests even to a local endpoint; these keys only ever reach loopback.
const awsEnv = cleanEnv({ AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local-secret' })

test('check without backend sections lists each as skip and exits 0, writing no output.log', async () => {
  const cwd = await workDir('')
  const { code, stdout } = await runCli(['check'], { cwd })
  assert.equal(code, 0, stdout)
  for (const name of ['database', 'redis', 's3', 'dynamodb']) {
    assert.match(stdout, new RegExp(`^${name} +skip +- +\\[${name}\\] is not configured$`, 'm'))
  }
  assert.match(stdout, /hint: add a \[database\] section/)
  assert.match(stdout, /config\.toml: 4 skip\n$/)
  assert.ok(!stdout.includes('\x1b['), 'no colour when stdout is not a terminal')
  assert.ok(!existsSync(join(cwd, 'output.log')), 'check writes no log file')
})

test('check exits 1 when a configured backend fails, naming the stage and the hint', async t => {
  const closed = await closedPort()
  t.after(() => closed.stop())
  const cwd = await workDir(`[database]\nhost = '${closed.host}'\nport = ${closed.port}\nuser = 'u'\ndbname = 'd'\n`)
  const { code, stdout } = await runCli(['check'], { cwd })
  assert.equal(code, 1, stdout)
  assert.match(stdout, /^database +fail +\d+ +connect: the connection was refused/m)
  assert.match(stdout, new RegExp(`^ +hint: nothing listens on ${closed.host}:${closed.port}`, 'm'))
  assert.match(stdout, /^redis +skip/m)
  assert.match(stdout, /1 fail, 3 skip\n$/)

  const json = await runCli(['check', '--json'], { cwd })
  assert.equal(json.code, 1)
  const results = JSON.parse(json.stdout)
  assert.deepEqual(results.map((result: { backend: string, status: string }) => [result.backend, result.status]),
    [['database', 'fail'], ['redis', 'skip'], ['s3', 'skip'], ['dynamodb', 'skip']])
  assert.equal(results[0].stage, 'connect')
})

test('check against backends that never answer ends after about timeout_ms and exits', { timeout: 30_000 }, async t => {
  const silent = await startSilentServer()
  t.after(() => silent.stop())
  const TIMEOUT_MS = 1000
  // The program's own start-up, measured here, is not what is being bounded.
  const idle = await workDir('')
  let started = performance.now()
  await runCli(['check'], { cwd: idle })
  const startup = performance.now() - started

  const cwd = await workDir(allBackends(silent.host, silent.port, TIMEOUT_MS))
  started = performance.now()
  const { code, stdout, stderr } = await runCli(['check', '--json'], { cwd, env: awsEnv })
  const elapsed = performance.now() - started
  assert.equal(code, 1, stderr)
  for (const result of JSON.parse(stdout)) {
    assert.equal(result.status, 'fail', result.backend)
    assert.match(result.message, /within 1000 ms/, result.backend)
  }
  // Loading the four clients comes on top of the bare start-up measured above, and a busy
  // machine delays timers: the margin is for that, a hang would never end.
  assert.ok(elapsed - startup < TIMEOUT_MS + 2000, `took ${Math.round(elapsed)} ms, start-up alone ${Math.round(startup)} ms`)
})

test('check with an invalid config prints the problems like validate and exits 2', async () => {
  const cwd = await workDir("[server]\nport = 'http'\n")
  const { code, stdout, stderr } = await runCli(['check'], { cwd })
  assert.equal(code, 2)
  assert.equal(stdout, '')
  assert.match(stderr, /config\.toml:2: server\.port must be a whole number: TCP port, 1-65535 \(got "http"\)\n1 problem in the config\n$/)
})

test('an option of another command is a usage error', async () => {
  const cwd = await workDir('')
  await Promise.all([['validate', '--json'], ['check', '--dry-run'], ['service'], ['service', 'start']].map(async args => {
    const { code, stderr } = await runCli(args, { cwd })
    assert.equal(code, 2, args.join(' '))
    assert.match(stderr, /\nRun suaicloudapp --help for the commands and options\.\n$/)
  }))
  assert.equal((await runCli(['service'], { cwd })).stderr.split('\n')[0], 'suaicloudapp: unknown command "service" — did you mean service install or service uninstall?')
})

test('check on a terminal shows each backend as checking… until its own result, then only the table', { timeout: 30_000 }, async t => {
  const [closed, silent] = await Promise.all([closedPort(), startSilentServer()])
  t.after(() => Promise.all([closed.stop(), silent.stop()]))
  // The database is refused at once; Redis never answers and takes the whole timeout.
  const cwd = await workDir(`[checks]\ntimeout_ms = 3000\n[database]\nhost = '${closed.host}'\nport = ${closed.port}\nuser = 'u'\ndbname = 'd'\n` +
    `[redis]\nhost = '${silent.host}'\nport = ${silent.port}\n`)
  const terminal = runInTerminal([...program(), 'check'], { cwd, env: cleanEnv() })
  await terminal.waitFor(/redis +\S*checking…/)
  await terminal.waitFor(/database +\S*fail\S* \d+ ms/)
  assert.doesNotMatch(terminal.screen(), /BACKEND/, 'the database answered before Redis timed out, and showed it')
  assert.equal(await terminal.exited, 1)
  const screen = terminal.screen()
  // The progress block is erased (cursor up, clear to the end) before the table.
  assert.ok(screen.lastIndexOf('checking…') < screen.indexOf('\x1b[J'), screen)
  assert.match(screen.slice(screen.indexOf('\x1b[J')), /BACKEND +STATUS[^]*database +\S*fail[^]*redis +\S*fail/)

  const piped = await runCli(['check'], { cwd })
  assert.ok(!piped.stdout.includes('checking'), 'piped output is the table alone')
})

test('service install --dry-run prints the unit running this program with the config in use, and the steps', async () => {
  const cwd = await workDir('')
  const other = await workDir('[server]\nport = 8081\n', 'course.toml')
  const config = join(other, 'course.toml')
  const { code, stdout, stderr } = await runCli(['service', 'install', '--dry-run', '--user', 'ec2-user', '--config', config], { cwd })
  assert.equal(code, 0, stderr)
  const unit = /<<'EOF'\n([^]*?)EOF\n/.exec(stdout)?.[1] ?? assert.fail(stdout)
  const lines = unit.split('\n')
  assert.ok(lines.includes(`ExecStart=${[...program(), 'serve', '--config', config].join(' ')}`), unit)
  for (const line of [`WorkingDirectory=${other}`, 'User=ec2-user', 'Restart=on-failure', 'After=network-online.target', 'Wants=network-online.target', 'StandardOutput=journal', 'WantedBy=multi-user.target']) {
    assert.ok(lines.includes(line), `${line} in\n${unit}`)
  }
  assert.ok(stdout.startsWith('# suaicloudapp service install --dry-run: nothing was changed'))
  assert.ok(stdout.includes(`cat > ${UNIT_FILE} <<'EOF'\n`))
  assert.ok(stdout.endsWith('EOF\nsystemctl daemon-reload\nsystemctl enable suaicloudapp\nsystemctl restart suaicloudapp\n'), stdout)

  const plain = await runCli(['service', 'install', '--dry-run'], { cwd })
  assert.ok(!plain.stdout.includes('User='), 'no User= without --user')
  assert.ok(plain.stdout.includes(`WorkingDirectory=${cwd}\n`))

  const uninstall = await runCli(['service', 'uninstall', '--dry-run'], { cwd })
  assert.equal(uninstall.code, 0)
  assert.ok(uninstall.stdout.endsWith(`systemctl disable --now suaicloudapp\nrm -f ${UNIT_FILE}\nsystemctl daemon-reload\n`), uninstall.stdout)
})

test('service install refuses in one line: a bad --user, no config file', async () => {
  const cwd = await workDir('')
  const badUser = await runCli(['service', 'install', '--dry-run', '--user', 'root\nExecStartPre=/bin/sh'], { cwd })
  assert.equal(badUser.code, 1)
  assert.match(badUser.stderr, /^suaicloudapp: --user "root\\nExecStartPre=\/bin\/sh" is not a valid user name\n$/)
  const noConfig = await runCli(['service', 'install', '--dry-run', '--config', 'missing.toml'], { cwd })
  assert.equal(noConfig.code, 1)
  assert.equal(noConfig.stderr, `suaicloudapp: config file not found: ${join(cwd, 'missing.toml')} (from --config); check the path\n`)
})

// Never run where systemd is the init and we are root: that would install a real service.
test('service install and uninstall refuse without root, and without systemd', { skip: systemdRuns && process.getuid?.() === 0 && 'systemd runs here' }, async () => {
  const cwd = await workDir('')
  const asRoot = process.getuid?.() === 0
  for (const command of ['install', 'uninstall']) {
    const { code, stdout, stderr } = await runCli(['service', command], { cwd })
    assert.equal(code, 1, stdout + stderr)
    assert.match(stderr, asRoot
      ? /^suaicloudapp: systemd is not running on this machine \(\/run\/systemd\/system is missing\)/
      : new RegExp(`^suaicloudapp: service ${command} must run as root`))
    assert.equal(stderr.split('\n').length, 2, stderr)
    noStack(stderr)
    if (!asRoot) continue
    // The same, as an ordinary user: the working directory must be theirs to enter.
    await chmod(cwd, 0o755)
    const nobody = await runCli(['service', command], { cwd, uid: NOBODY, gid: NOBODY })
    assert.equal(nobody.code, 1, nobody.stderr)
    assert.equal(nobody.stderr, `suaicloudapp: service ${command} must run as root; run it with sudo\n`)
  }
  assert.ok(!existsSync(UNIT_FILE), 'no unit was written')
})

test('deploy/user-data.sh is valid bash', async () => {
  await promisify(execFile)('bash', ['-n', join(root, 'deploy', 'user-data.sh')])
})
