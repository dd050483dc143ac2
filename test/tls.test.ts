import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { CheckRow } from '../commands/check.ts'
import { cleanEnv, configToml, runCli, workDir } from './helper.ts'
import { makeCertificates, startMariadb, startRedis, type MariadbHandle, type RedisHandle } from './harness/index.ts'

// The TLS paths of the database and redis checks against real TLS servers whose certificates a
// throwaway CA signed. The app trusts that CA only through NODE_EXTRA_CA_CERTS, which Node reads
// at start-up, so every case runs the CLI: `check --json` prints the results, exit 1 on a failure.

const TIMEOUT_MS = 1000
const TLS_USER = { user: 'suai_tls', password: 'suai-tls-secret-1' }
const certs = await makeCertificates()
let db: MariadbHandle
let tlsRedis: RedisHandle
let plainRedis: RedisHandle

before(async () => {
  [db, tlsRedis, plainRedis] = await Promise.all([startMariadb({ tls: certs }), startRedis({ tls: certs }), startRedis()])
  // A user the server admits over TLS only: a pass as this user proves the connection was encrypted.
  await db.rootQuery(`CREATE USER '${TLS_USER.user}'@'${db.host}' IDENTIFIED BY '${TLS_USER.password}' REQUIRE SSL`)
  await db.rootQuery(`GRANT ALL ON ${db.database}.* TO '${TLS_USER.user}'@'${db.host}'`)
})

after(async () => {
  await Promise.all([db, tlsRedis, plainRedis].map(server => server?.stop()))
})

// Runs `check --json` with only this section configured and returns its row.
async function check (backend: 'database' | 'redis', section: Record<string, unknown>, { trustCa }: { trustCa: boolean }): Promise<CheckRow> {
  const toml = configToml({ checks: { timeout_ms: TIMEOUT_MS, cache_ms: 0 }, [backend]: section })
  const env = cleanEnv(trustCa ? { NODE_EXTRA_CA_CERTS: certs.caFile } : {})
  const { code, stdout, stderr } = await runCli(['check', '--json'], { cwd: await workDir(toml), env })
  const row = (JSON.parse(stdout) as CheckRow[]).find(row => row.backend === backend)!
  assert.equal(code, row.status === 'fail' ? 1 : 0, stdout)
  // Nothing on stderr: no warning from Node (an IP address given as SNI server name, say).
  assert.equal(stderr, '')
  return row
}

const databaseSection = (tls: string, login = { user: db.user, password: db.password }) =>
  ({ host: db.host, port: db.port, ...login, dbname: db.database, tls })

test('database: tls = "required" with the CA trusted passes over TLS', async () => {
  const row = await check('database', databaseSection('required', TLS_USER), { trustCa: true })
  assert.equal(row.status, 'pass', JSON.stringify(row))
  assert.equal(row.details.tls, true)
})

test('database: tls = "required" without the CA trusted fails at tls and says how to trust it', async () => {
  const row = await check('database', databaseSection('required', TLS_USER), { trustCa: false })
  assert.equal(row.status, 'fail')
  assert.equal(row.stage, 'tls', JSON.stringify(row))
  assert.match(row.message, /self-signed certificate/)
  assert.match(row.hint!, /set tls = "off", or trust its CA by starting suaicloudapp with NODE_EXTRA_CA_CERTS=/)
})

test('database: tls = "off" against a server that offers TLS passes in plain', async () => {
  const row = await check('database', databaseSection('off'), { trustCa: false })
  assert.equal(row.status, 'pass', JSON.stringify(row))
  assert.equal(row.details.tls, false)
})

test('redis: tls = true with the CA trusted passes against the TLS-only port', async () => {
  const row = await check('redis', { host: tlsRedis.host, port: tlsRedis.port, tls: true }, { trustCa: true })
  assert.equal(row.status, 'pass', JSON.stringify(row))
  assert.equal(row.details.mode, 'standalone')
})

test('redis: tls = false against the TLS-only port fails within timeout_ms and says to set tls = true', async () => {
  const row = await check('redis', { host: tlsRedis.host, port: tlsRedis.port, tls: false }, { trustCa: true })
  assert.equal(row.status, 'fail')
  // The server drops a client whose first bytes are no TLS handshake.
  assert.equal(row.stage, 'connect', JSON.stringify(row))
  assert.match(row.hint!, /closed the connection: if the cluster has in-transit encryption, set \[redis\] tls = true/)
  assert.ok(row.durationMs < TIMEOUT_MS, `${row.durationMs} ms`)
})

test('redis: tls = true against a plain Redis fails at tls and says to set tls = false', async () => {
  const row = await check('redis', { host: plainRedis.host, port: plainRedis.port, tls: true }, { trustCa: true })
  assert.equal(row.status, 'fail')
  // Plain Redis reads the ClientHello as the start of a command and waits for the rest: the TCP
  // connection was made, so this is no security group.
  assert.equal(row.stage, 'tls', JSON.stringify(row))
  assert.match(row.message, /within 1000 ms \(during tls\)/)
  assert.equal(row.hint, 'the server does not speak TLS on that port: set [redis] tls = false')
  assert.ok(row.durationMs < TIMEOUT_MS + 500, `${row.durationMs} ms`)
})

test('redis: tls = true without the CA trusted fails at tls and says how to trust it', async () => {
  const row = await check('redis', { host: tlsRedis.host, port: tlsRedis.port, tls: true }, { trustCa: false })
  assert.equal(row.status, 'fail')
  assert.equal(row.stage, 'tls', JSON.stringify(row))
  assert.match(row.message, /self-signed certificate/)
  assert.match(row.hint!, /its CA trusted \(start suaicloudapp with NODE_EXTRA_CA_CERTS=/)
})
