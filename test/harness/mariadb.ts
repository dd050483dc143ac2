import { join } from 'node:path'
import { createConnection } from 'mariadb'
import { LOOPBACK, freePort } from './ports.ts'
import { ServerProcess, findExecutable, makeTempDir, removeTempDir, runTool, waitUntil } from './process.ts'
import type { TlsFiles } from './tls.ts'

export interface MariadbHandle {
  host: string
  port: number
  user: string
  password: string
  database: string
  /** pid of the current mariadbd (changes on restart) */
  readonly pid: number | undefined
  /** Runs one statement as root over the unix socket, e.g. SHOW GLOBAL STATUS LIKE 'Threads_connected'. */
  rootQuery: <T = Array<Record<string, unknown>>>(sql: string, values?: unknown[]) => Promise<T>
  kill9: () => Promise<void>
  /** Starts mariadbd again on the same datadir and port (stopping it first if it runs); resolves when it answers. */
  restart: () => Promise<void>
  stop: () => Promise<void>
}

// The account every server of the harness has, known before one starts.
export const MARIADB_ACCOUNT = { user: 'suai', password: 'suai-test-secret-1', database: 'suai' }
const { user: USER, password: PASSWORD, database: DATABASE } = MARIADB_ACCOUNT
const START_TIMEOUT_MS = 30_000

// Small InnoDB files keep install and start under a second; no native AIO because
// containers often hit the io_setup() limit (aio-max-nr) once a few servers run.
const INNODB_FLAGS = ['--innodb-log-file-size=4M', '--innodb-buffer-pool-size=16M', '--innodb-use-native-aio=0']

// `tls`: the server offers TLS with that certificate (and still takes plain clients), as RDS does.
export async function startMariadb ({ port: wanted, tls }: { port?: number, tls?: TlsFiles } = {}): Promise<MariadbHandle> {
  const dir = await makeTempDir('mariadb')
  const datadir = join(dir, 'data')
  const socketPath = join(dir, 'mariadbd.sock')
  // mariadbd refuses to run as root unless told to
  const asUser = process.getuid?.() === 0 ? ['--user=root'] : []
  const port = wanted ?? await freePort()
  const server = new ServerProcess({
    name: 'mariadbd',
    command: findExecutable('mariadbd', 'mysqld'),
    args: [
      '--no-defaults',
      `--datadir=${datadir}`,
      `--port=${port}`,
      `--bind-address=${LOOPBACK}`,
      `--socket=${socketPath}`,
      `--pid-file=${join(dir, 'mariadbd.pid')}`,
      `--tmpdir=${dir}`,
      '--skip-log-bin',
      '--skip-name-resolve',
      ...INNODB_FLAGS,
      ...(tls ? [`--ssl-ca=${tls.caFile}`, `--ssl-cert=${tls.certFile}`, `--ssl-key=${tls.keyFile}`] : []),
      ...asUser
    ],
    logFile: join(dir, 'mariadbd.log')
  })

  async function rootQuery<T = Array<Record<string, unknown>>> (sql: string, values?: unknown[]): Promise<T> {
    const conn = await createConnection({ socketPath, user: 'root', connectTimeout: 2000 })
    try {
      return await conn.query(sql, values)
    } finally {
      await conn.end()
    }
  }

  async function launch (): Promise<void> {
    server.spawn()
    await waitUntil(`mariadbd on ${LOOPBACK}:${port}`, () => rootQuery('SELECT 1'), { timeoutMs: START_TIMEOUT_MS, proc: server })
  }

  try {
    await runTool(findExecutable('mariadb-install-db', 'mysql_install_db'), [
      '--no-defaults',
      `--datadir=${datadir}`,
      // root without password, so rootQuery needs no secret; the default 'socket' auth needs a matching OS user
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--skip-name-resolve',
      ...INNODB_FLAGS,
      ...asUser
    ], { timeoutMs: START_TIMEOUT_MS })
    await launch()
    await rootQuery(`CREATE DATABASE ${DATABASE}`)
    await rootQuery(`CREATE USER '${USER}'@'${LOOPBACK}' IDENTIFIED BY '${PASSWORD}'`)
    await rootQuery(`GRANT ALL ON ${DATABASE}.* TO '${USER}'@'${LOOPBACK}'`)
  } catch (err) {
    await server.stop(0)
    await removeTempDir(dir)
    throw err
  }

  return {
    host: LOOPBACK,
    port,
    user: USER,
    password: PASSWORD,
    database: DATABASE,
    get pid () { return server.pid },
    rootQuery,
    kill9: () => server.stop(0),
    async restart () {
      await server.stop()
      await launch()
    },
    async stop () {
      // The datadir is thrown away, so there is nothing to shut down cleanly
      await server.stop(0)
      await removeTempDir(dir)
    }
  }
}
