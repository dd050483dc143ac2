import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, cleanEnv, configToml, freePort, startCli, workDir } from './helper.ts'
import { makeCertificates, startMysql8, type Mysql8Handle, type Mysql8Options, type TlsFiles } from './harness/index.ts'

// The database check against the MySQL 8.4 stand-in: caching_sha2_password's full
// authentication with and without TLS, and every error the server sends at connect time with
// its stage and the hint that says what to change.

const PASSWORD = 'Secret-Mysql8-Password-4f3e'
const TIMEOUT_MS = 1000
let tls: TlsFiles

before(async () => { tls = await makeCertificates() })

const servers: Mysql8Handle[] = []
after(() => Promise.all(servers.map(server => server.stop())))

async function server (options: Mysql8Options = {}): Promise<Mysql8Handle> {
  const started = await startMysql8({ accounts: { suai: { password: PASSWORD } }, ...options })
  servers.push(started)
  return started
}

const section = (db: Mysql8Handle, tlsMode = 'off') => ({ host: db.host, port: db.port, user: 'suai', password: PASSWORD, dbname: 'suai', tls: tlsMode })
const toml = (db: Mysql8Handle, tlsMode?: string) => configToml({ checks: { timeout_ms: TIMEOUT_MS, cache_ms: 0 }, database: section(db, tlsMode) })

async function check (t: TestContext, db: Mysql8Handle, tlsMode?: string) {
  const { fastify } = await buildApp(t, toml(db, tlsMode))
  const started = performance.now()
  const res = await fastify.inject('/database?format=json')
  const ms = performance.now() - started
  assert.ok(ms < TIMEOUT_MS + 500, `answered in ${Math.round(ms)} ms`)
  assert.ok(!res.body.includes(PASSWORD), 'the password in the answer')
  return res.json() as { status: string, stage: string, message: string, hint?: string, details: Record<string, unknown> }
}

test('caching_sha2_password, cold cache, no TLS: full authentication with the server\'s RSA key passes', async t => {
  const db = await server()
  const result = await check(t, db)
  assert.equal(result.status, 'pass', JSON.stringify(result))
  assert.equal(result.details.version, '8.4.3')
  assert.deepEqual(db.authPaths, [{ user: 'suai', path: 'full-rsa' }])
})

test('caching_sha2_password, cold cache, over TLS (the served app, trusting the CA): full authentication passes', async t => {
  const db = await server({ tls })
  const port = await freePort()
  const cwd = await workDir(`[server]\nhost = '127.0.0.1'\nport = ${port}\n` + toml(db, 'required'))
  const app = await startCli(t, [], { cwd, env: cleanEnv({ NODE_EXTRA_CA_CERTS: tls.caFile }) })
  const res = await fetch(`${app.url}/database`)
  assert.equal(await res.text(), 'OK')
  assert.deepEqual(db.authPaths, [{ user: 'suai', path: 'full-tls' }])
})

const refusals: Array<[string, Mysql8Options, string, RegExp, RegExp]> = [
  ['wrong password', { accounts: { suai: { password: 'another', cached: true } } }, 'auth', /Access denied for user 'suai'/, /check \[database\] user and password/],
  ['unknown database', { databases: ['other'] }, 'database', /Unknown database 'suai'/, /CREATE DATABASE suai/],
  ['too many connections', { refuse: 'too-many-connections' }, 'connect', /Too many connections/, /max_connections reached.*SHOW PROCESSLIST.*parameter group/],
  ['host blocked', { refuse: 'host-blocked' }, 'connect', /is blocked because of many connection errors/, /TRUNCATE TABLE performance_schema\.host_cache \(FLUSH HOSTS before MySQL 8\.4\).*max_connect_errors in the DB's parameter group/],
  ['secure transport required', { requireSecureTransport: true }, 'tls', /insecure transport are prohibited/, /^the server accepts TLS connections only .*set \[database\] tls = "required"/],
  ['account locked', { accounts: { suai: { password: PASSWORD, cached: true, locked: true } } }, 'auth', /Account is locked/, /ALTER USER 'suai'@'%' ACCOUNT UNLOCK/],
  ['password expired', { accounts: { suai: { password: PASSWORD, cached: true, passwordExpired: true } } }, 'auth', /Your password has expired/, /the password of 'suai' has expired.*ALTER USER USER\(\) IDENTIFIED BY/]
]

for (const [name, options, stage, message, hint] of refusals) {
  test(`database ${name}: stage ${stage} and a hint`, async t => {
    const result = await check(t, await server(options))
    assert.equal(result.status, 'fail')
    assert.equal(result.stage, stage, JSON.stringify(result))
    assert.match(result.message, message)
    assert.match(result.hint ?? '', hint)
  })
}
