import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createConnection, type ConnectionConfig } from 'mariadb'
import { MYSQL_VERSION, makeCertificates, startMysql8, type Mysql8Handle, type Mysql8Options, type TlsFiles } from './harness/index.ts'
import { findExecutable, runTool } from './harness/process.ts'

// The MySQL 8.4 stand-in read through the mariadb driver the app uses (and the mysql CLI where
// it can): caching_sha2_password's three ways in, the query the check sends, and the server's
// connect-time errors with their codes and SQLSTATEs.

const PASSWORD = 'suai-password'
let tls: TlsFiles
let ssl: { ca: string }

before(async () => {
  tls = await makeCertificates()
  ssl = { ca: await readFile(tls.caFile, 'utf8') }
})

const servers: Mysql8Handle[] = []
after(() => Promise.all(servers.map(server => server.stop())))

async function server (options: Mysql8Options = {}): Promise<Mysql8Handle> {
  const started = await startMysql8(options)
  servers.push(started)
  return started
}

const config = (db: Mysql8Handle, more: Partial<ConnectionConfig> = {}): ConnectionConfig => ({
  host: db.host, port: db.port, user: 'suai', password: PASSWORD, database: 'suai', connectTimeout: 2000, ...more
})

async function versionAndDatabase (settings: ConnectionConfig) {
  const conn = await createConnection(settings)
  try {
    const [row] = await conn.query('SELECT VERSION() AS version, DATABASE() AS db')
    return row
  } finally {
    await conn.end()
  }
}

interface DriverError { errno: number, sqlState: string, code: string, text: string, fatal: boolean }
async function refusal (settings: ConnectionConfig): Promise<DriverError> {
  return await createConnection(settings).then(
    async conn => { await conn.end(); return assert.fail('expected the connection to be refused') },
    (err: unknown) => err as DriverError)
}

test('plain TCP, cold cache: full authentication with the RSA key, then fast authentication', async () => {
  const db = await server()
  assert.deepEqual(await versionAndDatabase(config(db, { allowPublicKeyRetrieval: true })), { version: MYSQL_VERSION, db: 'suai' })
  assert.deepEqual(await versionAndDatabase(config(db)), { version: MYSQL_VERSION, db: 'suai' }, 'fast auth needs no key')
  assert.deepEqual(db.authPaths, [{ user: 'suai', path: 'full-rsa' }, { user: 'suai', path: 'fast' }])
})

test('plain TCP, cold cache, key retrieval not allowed: the driver itself refuses to go on', async () => {
  const db = await server()
  const err = await refusal(config(db))
  assert.equal(err.code, 'ER_CANNOT_RETRIEVE_RSA_KEY')
  assert.deepEqual(db.authPaths, [])
})

test('TLS, cold cache: full authentication sends the password in clear inside TLS', async () => {
  const db = await server({ tls })
  assert.deepEqual(await versionAndDatabase(config(db, { ssl })), { version: MYSQL_VERSION, db: 'suai' })
  assert.deepEqual(await versionAndDatabase(config(db, { ssl })), { version: MYSQL_VERSION, db: 'suai' })
  assert.deepEqual(db.authPaths.map(entry => entry.path), ['full-tls', 'fast'])
})

test('no database named: DATABASE() is NULL', async () => {
  const db = await server({ accounts: { suai: { password: PASSWORD, cached: true } } })
  assert.deepEqual(await versionAndDatabase(config(db, { database: undefined })), { version: MYSQL_VERSION, db: null })
})

interface Refusal {
  options: Mysql8Options
  settings?: Partial<ConnectionConfig>
  // What the driver reports: errno, SQLSTATE, its name for the error, the server's message.
  error: [errno: number, sqlState: string, code: string, text: string]
}

const host = '127.0.0.1'
const refusals: Record<string, Refusal> = {
  'wrong password (fast auth fails, full auth fails)': {
    options: { accounts: { suai: { password: 'another', cached: true } } },
    settings: { allowPublicKeyRetrieval: true },
    error: [1045, '28000', 'ER_ACCESS_DENIED_ERROR', `Access denied for user 'suai'@'${host}' (using password: YES)`]
  },
  'no password given': {
    options: {},
    settings: { password: '' },
    error: [1045, '28000', 'ER_ACCESS_DENIED_ERROR', `Access denied for user 'suai'@'${host}' (using password: NO)`]
  },
  'unknown database': {
    options: { databases: ['other'], accounts: { suai: { password: PASSWORD, cached: true } } },
    error: [1049, '42000', 'ER_BAD_DB_ERROR', 'Unknown database \'suai\'']
  },
  // Sent before the handshake: no SQLSTATE on the wire, so the driver reports its default.
  'too many connections': {
    options: { refuse: 'too-many-connections' },
    error: [1040, 'HY000', 'ER_CON_COUNT_ERROR', 'Too many connections']
  },
  'host blocked': {
    options: { refuse: 'host-blocked' },
    error: [1129, 'HY000', 'ER_HOST_IS_BLOCKED', `Host '${host}' is blocked because of many connection errors; unblock with 'mysqladmin flush-hosts'`]
  },
  'secure transport required, connecting without TLS': {
    options: { requireSecureTransport: true, accounts: { suai: { password: PASSWORD, cached: true } } },
    error: [3159, 'HY000', 'ER_SECURE_TRANSPORT_REQUIRED', 'Connections using insecure transport are prohibited while --require_secure_transport=ON.']
  },
  // The driver's table of names stops before 3118: it names the error by its number.
  'account locked': {
    options: { accounts: { suai: { password: PASSWORD, cached: true, locked: true } } },
    error: [3118, 'HY000', 'ER_MYSQL_3118', `Access denied for user 'suai'@'${host}'. Account is locked.`]
  },
  'password expired, client cannot handle it': {
    options: { accounts: { suai: { password: PASSWORD, cached: true, passwordExpired: true } } },
    error: [1862, 'HY000', 'ER_MUST_CHANGE_PASSWORD_LOGIN', 'Your password has expired. To log in you must change it using a client that supports expired passwords.']
  }
}

for (const [name, want] of Object.entries(refusals)) {
  test(`refused: ${name} → ${want.error[0]} (${want.error[1]})`, async () => {
    const db = await server(want.options)
    const err = await refusal(config(db, want.settings))
    assert.deepEqual([err.errno, err.sqlState, err.code, err.text], want.error)
  })
}

test('secure transport required: the same account over TLS gets in', async () => {
  const db = await server({ tls, requireSecureTransport: true })
  assert.deepEqual(await versionAndDatabase(config(db, { ssl })), { version: MYSQL_VERSION, db: 'suai' })
})

test('password expired, client that handles it: logged in to the sandbox, where SELECT is 1820', async () => {
  const db = await server({ accounts: { suai: { password: PASSWORD, cached: true, passwordExpired: true } } })
  // A driver option its type declarations do not list yet (it sets CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS).
  const conn = await createConnection(Object.assign(config(db), { permitConnectionWhenExpired: true }))
  try {
    const err = await conn.query('SELECT VERSION() AS version, DATABASE() AS db').then(() => assert.fail('expected 1820'), (err: unknown) => err as DriverError)
    assert.deepEqual({ errno: err.errno, sqlState: err.sqlState, code: err.code }, { errno: 1820, sqlState: 'HY000', code: 'ER_MUST_CHANGE_PASSWORD' })
  } finally {
    await conn.end()
  }
})

// The mysql CLI of Debian's mariadb-client, as a student runs it on the instance. --no-defaults
// keeps any option file from pointing it elsewhere.
function cli (db: Mysql8Handle, ...options: string[]): Promise<string> {
  return runTool(findExecutable('mariadb', 'mysql'), [
    '--no-defaults', '--protocol=TCP', `--host=${db.host}`, `--port=${db.port}`, '--user=suai', `--password=${PASSWORD}`,
    '--connect-timeout=2', '--batch', ...options, '--execute=SELECT VERSION(), DATABASE()', 'suai'
  ], { timeoutMs: 5000 })
}

test('mysql CLI: RSA full authentication without TLS, then fast authentication', async () => {
  const db = await server()
  assert.equal(await cli(db, '--skip-ssl'), `VERSION()\tDATABASE()\n${MYSQL_VERSION}\tsuai\n`)
  assert.equal(await cli(db, '--skip-ssl'), `VERSION()\tDATABASE()\n${MYSQL_VERSION}\tsuai\n`)
  assert.deepEqual(db.authPaths.map(entry => entry.path), ['full-rsa', 'fast'])
})

test('mysql CLI: full authentication over TLS', async () => {
  const db = await server({ tls })
  assert.equal(await cli(db, `--ssl-ca=${tls.caFile}`), `VERSION()\tDATABASE()\n${MYSQL_VERSION}\tsuai\n`)
  assert.deepEqual(db.authPaths.map(entry => entry.path), ['full-tls'])
})

test('mysql CLI: the connect-time errors as a student reads them', async () => {
  const cases: Array<[Mysql8Options, RegExp]> = [
    [{ refuse: 'too-many-connections' }, /ERROR 1040 \(HY000\): Too many connections/],
    [{ requireSecureTransport: true }, /ERROR 3159 \(HY000\): Connections using insecure transport are prohibited while --require_secure_transport=ON\./],
    [{ accounts: { suai: { password: 'another' } } }, /ERROR 1045 \(28000\): Access denied for user 'suai'@'127\.0\.0\.1' \(using password: YES\)/]
  ]
  for (const [options, said] of cases) {
    const db = await server(options)
    await assert.rejects(cli(db, '--skip-ssl'), said)
  }
})
