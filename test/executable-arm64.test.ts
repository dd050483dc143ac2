import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { copyFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isDeepStrictEqual, promisify } from 'node:util'
import type { FleetView } from '../lib/fleet-view.ts'
import { version } from '../lib/version.ts'
import { cleanEnv, configToml, eventually, freePort, makeTempDir, root, startCli } from './helper.ts'
import { startDynamo, startMariadb, startRedis, startS3, type DynamoHandle, type MariadbHandle, type RedisHandle, type S3Handle } from './harness/index.ts'

// The Graviton file, dist/suaicloudapp-arm64, run here under qemu's user-mode emulator with
// Debian's aarch64 glibc: --version, validate, and check against the same local stack as the
// x86-64 file. Emulation is slow (seconds to start), hence the long timeouts.
const run = promisify(execFile)
const QEMU = '/usr/bin/qemu-aarch64-static'
// libc6-arm64-cross puts the aarch64 loader and glibc here.
const SYSROOT = '/usr/aarch64-linux-gnu'
const binary = join(root, 'dist', 'suaicloudapp-arm64')
const missing = [QEMU, join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1')].filter(file => !existsSync(file))
const skip = missing.length > 0 && `no aarch64 emulation here (${missing.join(', ')} missing): apt-get install qemu-user-static libc6-arm64-cross`
const TIMEOUT_MS = 120_000

let db: MariadbHandle
let redis: RedisHandle
let s3: S3Handle
let dynamo: DynamoHandle
let dir: string

function arm64 (args: string[], env = cleanEnv()) {
  return run(QEMU, ['-L', SYSROOT, join(dir, 'suaicloudapp'), ...args], { cwd: dir, env, timeout: TIMEOUT_MS })
    .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }), (err: { code: number, stdout: string, stderr: string }) => err)
}

before(async () => {
  if (skip) return
  if (!existsSync(binary)) await run('npm', ['run', 'build', '--silent'], { cwd: root, env: cleanEnv() })
  ;[db, redis, s3, dynamo] = await Promise.all([startMariadb(), startRedis(), startS3(), startDynamo()])
  await s3.createBucket('deployed', { suaicloudapp: 'binary', 'config.toml': '[server]\n' })
  await dynamo.createTable('seed', { hash: ['id', 'S'] })
  dir = await makeTempDir('arm64')
  await copyFile(binary, join(dir, 'suaicloudapp'))
  await writeFile(join(dir, 'config.toml'), configToml({
    server: { host: '127.0.0.1', port: 8080 },
    checks: { timeout_ms: 20_000 },
    aws: { region: s3.region },
    database: { host: db.host, port: db.port, user: db.user, password: db.password, dbname: db.database },
    redis: { host: redis.host, port: redis.port },
    s3: { bucket: 'deployed', endpoint: s3.endpoint },
    dynamodb: { table: 'seed', partition_key: 'id', endpoint: dynamo.endpoint }
  }))
}, { timeout: 240_000 })

after(async () => {
  await Promise.all([db, redis, s3, dynamo].map(server => server?.stop()))
})

test('the arm64 executable prints its version and validates its config', { skip, timeout: 2 * TIMEOUT_MS }, async () => {
  const printed = await arm64(['--version'])
  assert.equal(printed.code, 0, printed.stderr)
  assert.match(printed.stdout, new RegExp(`^suaicloudapp ${version.replaceAll('.', '\\.')} `))

  const valid = await arm64(['validate'])
  assert.equal(valid.code, 0, valid.stderr)
  assert.equal(valid.stdout, `${join(dir, 'config.toml')}: valid\nchecks configured: database, redis, s3, dynamodb\n`)
})

test('the arm64 executable passes check against MariaDB, Redis, S3 and DynamoDB', { skip, timeout: TIMEOUT_MS }, async () => {
  const checked = await arm64(['check'], cleanEnv({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }))
  assert.equal(checked.code, 0, checked.stdout + checked.stderr)
  for (const name of ['database', 'redis', 's3', 'dynamodb']) assert.match(checked.stdout, new RegExp(`^${name} +pass +\\d+ +OK$`, 'm'))
})

test('the arm64 executable serves, and its fleet heartbeat thread, an entry point of its own, publishes through Redis', { skip, timeout: 2 * TIMEOUT_MS }, async t => {
  const env = cleanEnv({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, SUAI_SERVER_PORT: String(await freePort()), SUAI_SERVER_DRAIN_MS: '0' })
  const app = await startCli(t, [], { cwd: dir, env, run: [QEMU, '-L', SYSROOT, join(dir, 'suaicloudapp')], timeoutMs: TIMEOUT_MS / 2 })
  assert.equal(await (await fetch(`${app.url}/health`)).text(), 'healthy')
  await eventually(async () => {
    const view = await (await fetch(`${app.url}/fleet`)).json() as FleetView
    return isDeepStrictEqual(view.source.stores, ['redis', 'dynamodb'])
  }, { timeoutMs: TIMEOUT_MS / 2, intervalMs: 500 })
  assert.equal(await app.stop(), 0)
})
