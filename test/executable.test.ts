import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, copyFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { isDeepStrictEqual, promisify } from 'node:util'
import type { FleetView } from '../lib/fleet-view.ts'
import { version } from '../lib/version.ts'
import { cleanEnv, eventually, freePort, makeTempDir, readLog, root, runCli, startCli } from './helper.ts'
import {
  closedPort, startDynamo, startMariadb, startRedis, startS3,
  type DynamoHandle, type MariadbHandle, type PortHandle, type RedisHandle, type S3Handle
} from './harness/index.ts'

// The built executable, run the way the launch template's user data runs it: copied with
// config.toml into a folder of its own and started from there. SUAI_TEST_BIN=path tests a given
// executable (npm test builds dist/suaicloudapp and names it) instead of building one.
process.env.AWS_EC2_METADATA_DISABLED = 'true'
const run = promisify(execFile)

let db: MariadbHandle
let redis: RedisHandle
let s3: S3Handle
let dynamo: DynamoHandle
let closed: PortHandle
let dir: string
let env: NodeJS.ProcessEnv

async function build (): Promise<string> {
  if (process.env.SUAI_TEST_BIN) return resolve(root, process.env.SUAI_TEST_BIN)
  // Built when run alone, so a stale dist/ never stands in for the sources as they are now.
  await run('npm', ['run', 'build', '--silent'], { cwd: root, env: cleanEnv() })
  return join(root, 'dist', 'suaicloudapp')
}

function config (port: number, { databasePort = db.port } = {}): string {
  return `[server]\nhost = '127.0.0.1'\nport = ${port}\n[checks]\ntimeout_ms = 2000\n[aws]\nregion = '${s3.region}'\n` +
    `[database]\nhost = '${db.host}'\nport = ${databasePort}\nuser = '${db.user}'\npassword = '${db.password}'\ndbname = '${db.database}'\n` +
    `[redis]\nhost = '${redis.host}'\nport = ${redis.port}\n` +
    `[s3]\nbucket = 'deployed'\nendpoint = '${s3.endpoint}'\n` +
    `[dynamodb]\ntable = 'seed'\npartition_key = 'id'\nendpoint = '${dynamo.endpoint}'\n`
}

before(async () => {
  let binary: string
  [binary, db, redis, s3, dynamo, closed] = await Promise.all([build(), startMariadb(), startRedis(), startS3(), startDynamo(), closedPort()])
  await s3.createBucket('deployed', { suaicloudapp: 'binary', 'config.toml': '[server]\n' })
  await dynamo.createTable('seed', { hash: ['id', 'S'] })
  // The AWS SDK inside the executable reads its keys from the environment, as on a laptop.
  env = cleanEnv({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey })

  dir = await makeTempDir('exe')
  const copy = join(dir, 'suaicloudapp')
  await copyFile(binary, copy)
  await chmod(copy, 0o755)
  await writeFile(join(dir, 'config.toml'), config(await freePort()))
  process.env.SUAI_TEST_BIN = copy
}, { timeout: 120_000 })

after(async () => {
  await Promise.all([db, redis, s3, dynamo, closed].map(server => server?.stop()))
})

test('./suaicloudapp, as the seed user data runs it: /health and every backend answer OK, output.log is in its folder', async t => {
  const app = await startCli(t, [], { cwd: dir, env })
  const health = await fetch(`${app.url}/health`)
  assert.equal(health.status, 200)
  assert.equal(await health.text(), 'healthy')
  for (const path of ['/database', '/redis', '/s3', '/dynamodb']) {
    const res = await fetch(app.url + path)
    assert.equal(res.status, 200, path)
    assert.equal(await res.text(), 'OK', path)
  }
  await eventually(async () => (await readLog(join(dir, 'output.log'))).includes('listening'))
  // The fleet heartbeat runs in a thread of its own, an entry point of its own in the executable:
  // it published through Redis and read the table too.
  await eventually(async () => {
    const view = await (await fetch(`${app.url}/fleet`)).json() as FleetView
    return isDeepStrictEqual(view.source.stores, ['redis', 'dynamodb'])
  }, { timeoutMs: 15_000 })
  assert.match(await readLog(join(dir, 'output.log')), /fleet: heartbeats through redis and dynamodb/)
  assert.equal(await app.stop(), 0)
})

test('check exits 0 when every backend passes, 1 when one fails, 2 when the config is invalid', async () => {
  const pass = await runCli(['check'], { cwd: dir, env })
  assert.equal(pass.code, 0, pass.stdout + pass.stderr)
  for (const name of ['database', 'redis', 's3', 'dynamodb']) assert.match(pass.stdout, new RegExp(`^${name} +pass +\\d+ +OK$`, 'm'))

  await writeFile(join(dir, 'failing.toml'), config(await freePort(), { databasePort: closed.port }))
  const fail = await runCli(['check', '--json', '--config', 'failing.toml'], { cwd: dir, env })
  assert.equal(fail.code, 1, fail.stderr)
  const statuses = Object.fromEntries(JSON.parse(fail.stdout).map((result: { backend: string, status: string }) => [result.backend, result.status]))
  assert.deepEqual(statuses, { database: 'fail', redis: 'pass', s3: 'pass', dynamodb: 'pass' })

  const invalid = await runCli(['check'], { cwd: dir, env: cleanEnv({ SUAI_SERVER_PORT: 'http' }) })
  assert.equal(invalid.code, 2)
  assert.match(invalid.stderr, /SUAI_SERVER_PORT: server\.port must be a whole number/)
})

test('validate and --version', async () => {
  const valid = await runCli(['validate'], { cwd: dir })
  assert.equal(valid.code, 0, valid.stderr)
  assert.equal(valid.stdout, `${join(dir, 'config.toml')}: valid\nchecks configured: database, redis, s3, dynamodb\n`)

  const { stdout } = await runCli(['--version'], { cwd: dir })
  const commit = (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).catch(() => ({ stdout: 'unknown' }))).stdout.trim()
  assert.equal(stdout, `suaicloudapp ${version} (commit ${commit})\n`)
})

test('service install --dry-run names this executable and its folder', async () => {
  const { code, stdout } = await runCli(['service', 'install', '--dry-run'], { cwd: dir })
  assert.equal(code, 0)
  assert.match(stdout, new RegExp(`^ExecStart=${join(dir, 'suaicloudapp')} serve --config ${join(dir, 'config.toml')}$`, 'm'))
  assert.match(stdout, new RegExp(`^WorkingDirectory=${dir}$`, 'm'))
  assert.ok(!existsSync('/etc/systemd/system/suaicloudapp.service'))
})
