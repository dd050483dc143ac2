import { Agent } from 'node:http'
import { createPool } from 'mariadb'
import { createClient } from 'redis'
import { startMariadb, startRedis, type MariadbHandle, type RedisHandle } from '../test/harness/index.ts'
import { get, httpClient, interleave, latencies, percentile, type Answer } from './measure.ts'
import { ms, type Row, type Section } from './report.ts'
import { start, suaicloudapp } from './servers.ts'

// What a check costs over the backend's own round trip, and what a flood of checks costs the
// backend. Real MariaDB and Redis on loopback, started by the test harness.
const N = 2000
const ROUNDS = 4
const WARM_UP = 200
const BURST = 1000
const OVERHEAD_TARGET_MS = 0.5

export async function checks (): Promise<Section> {
  const [db, redis] = await Promise.all([startMariadb(), startRedis()])
  try {
    const latency = await checkLatency(db, redis)
    const burst = await checkBurst(db)
    return { rows: [...latency.rows, ...burst.rows], data: { latency: latency.data, burst: burst.data } }
  } finally {
    await Promise.all([db.stop(), redis.stop()])
  }
}

const databaseSection = (db: MariadbHandle) => ({ host: db.host, port: db.port, user: db.user, password: db.password, dbname: db.database })

// One request after another on one connection, for the endpoint and for the raw client alike.
// cache_ms = 0, so every request runs the check.
async function checkLatency (db: MariadbHandle, redisServer: RedisHandle): Promise<Section> {
  const app = await start(suaicloudapp({ checks: { cache_ms: 0 }, database: databaseSection(db), redis: { host: redisServer.host, port: redisServer.port } }))
  const http = httpClient(app.url)
  const redis = createClient({ socket: { host: redisServer.host, port: redisServer.port } })
  await redis.connect()
  const pool = createPool({ host: db.host, port: db.port, user: db.user, password: db.password, database: db.database, connectionLimit: 1 })
  const key = `suaicloudapp:bench:${process.pid}`
  // A failing check answers fast: only the expected answer counts.
  const expect = (path: string, body: string) => async () => {
    const answer = await http.get(path)
    if (answer.status !== 200 || answer.body !== body) throw new Error(`GET ${path}: ${answer.status} ${answer.body}`)
  }
  const probes: Record<string, () => Promise<unknown>> = {
    '/health': expect('/health', 'healthy'),
    '/redis': expect('/redis', 'OK'),
    PING: () => redis.ping(),
    // What the /redis check sends: node-redis pipelines commands issued together.
    'SET+GET+DEL': () => Promise.all([redis.set(key, '1', { expiration: { type: 'PX', value: 10_000 } }), redis.get(key), redis.del(key)]),
    '/database': expect('/database', 'OK'),
    'SELECT 1': () => pool.query('SELECT 1'),
    // What the /database check sends.
    'SELECT VERSION(), DATABASE()': () => pool.query('SELECT VERSION() AS version, DATABASE() AS db')
  }
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(probes).map(name => [name, []]))
  try {
    for (const probe of Object.values(probes)) await latencies(WARM_UP, probe)
    await interleave(ROUNDS, Object.keys(probes), async name => { samples[name].push(...await latencies(N / ROUNDS, probes[name])) })
  } finally {
    http.close()
    await Promise.all([redis.quit(), pool.end(), app.stop()])
  }

  const p = (name: string, q: number) => percentile(samples[name], q)
  const versus = (figure: string, ours: string, baseline: string, q: number, target?: number): Row => {
    const overhead = p(ours, q) - p(baseline, q)
    return {
      figure: `${figure}, p${q}`,
      ours: ms(p(ours, q)),
      baseline: ms(p(baseline, q)),
      ratio: `${overhead >= 0 ? '+' : '−'}${Math.abs(overhead).toFixed(2)} ms`,
      target: target === undefined ? '' : `≤ +${target} ms`,
      met: target === undefined ? undefined : overhead <= target
    }
  }
  const each = `1 connection, sequential, N=${N}`
  return {
    rows: [
      versus(`GET /redis vs node-redis PING (${each})`, '/redis', 'PING', 50, OVERHEAD_TARGET_MS),
      versus('GET /redis vs node-redis PING', '/redis', 'PING', 99),
      versus(`GET /database vs mariadb SELECT 1, pool of 1 (${each})`, '/database', 'SELECT 1', 50, OVERHEAD_TARGET_MS),
      versus('GET /database vs mariadb SELECT 1', '/database', 'SELECT 1', 99),
      ...[50, 99].map(q => ({ figure: `  of which the HTTP round trip: GET /health, p${q}`, ours: ms(p('/health', q)), baseline: '', ratio: '', target: '' })),
      versus('  of which the check\'s commands: SET+GET+DEL pipelined vs PING', 'SET+GET+DEL', 'PING', 50),
      versus('  of which the check\'s query: SELECT VERSION(), DATABASE() vs SELECT 1', 'SELECT VERSION(), DATABASE()', 'SELECT 1', 50)
    ],
    data: {
      n: N,
      rounds: ROUNDS,
      ms: Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, { p50: percentile(values, 50), p99: percentile(values, 99) }]))
    }
  }
}

// BURST concurrent GET /database on a fresh executable with the default cache_ms, and what
// MariaDB saw, from its status counters. Each rootQuery is a connection of its own, counted and
// taken off; SHOW statements are not counted in Com_select.
async function checkBurst (db: MariadbHandle): Promise<Section> {
  const cacheMs = 1000
  const app = await start(suaicloudapp({ checks: { cache_ms: cacheMs }, database: databaseSection(db) }))
  let rootConnections = 0
  const root = async <T>(sql: string) => { rootConnections++; return db.rootQuery<T>(sql) }
  const counters = async () => Object.fromEntries((await root<Array<{ Variable_name: string, Value: string }>>(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_select', 'Connections')"
  )).map(row => [row.Variable_name, Number(row.Value)]))

  let answers: Answer[]
  let seconds: number
  let before: Record<string, number>
  let after: Record<string, number>
  let maxThreads = 0
  const agent = new Agent({ maxSockets: Infinity })
  try {
    before = await counters()
    rootConnections = 0
    const burstOver = new AbortController()
    // The app's connections to MariaDB, watched while the burst runs.
    const watch = (async () => {
      while (!burstOver.signal.aborted) {
        const threads = await root<Array<{ User: string }>>('SHOW PROCESSLIST')
        maxThreads = Math.max(maxThreads, threads.filter(thread => thread.User === db.user).length)
      }
    })()
    const started = performance.now()
    answers = await Promise.all(Array.from({ length: BURST }, () => get(`${app.url}/database`, agent)))
    seconds = (performance.now() - started) / 1000
    burstOver.abort()
    await watch
    after = await counters()
  } finally {
    agent.destroy()
    await app.stop()
  }
  const failed = answers.filter(answer => answer.status !== 200 || answer.body !== 'OK')
  if (failed.length) throw new Error(`${failed.length} of ${BURST} GET /database did not answer OK: ${failed[0].status} ${failed[0].body}`)

  const connections = after.Connections - before.Connections - rootConnections
  const queries = after.Com_select - before.Com_select
  const windows = Math.ceil(seconds * 1000 / cacheMs)
  const figure = `${BURST} concurrent GET /database (cache_ms ${cacheMs}, answered in ${ms(seconds * 1000)})`
  return {
    rows: [
      { figure: `${figure}: connections MariaDB accepted`, ours: String(connections), baseline: '', ratio: '', target: '≤ 1', met: connections <= 1 },
      { figure: '  at most connected at once (Threads_connected of our user)', ours: String(maxThreads), baseline: '', ratio: '', target: '≤ 1', met: maxThreads <= 1 },
      { figure: `  queries MariaDB ran (Com_select), over ${windows} cache window${windows > 1 ? 's' : ''}`, ours: String(queries), baseline: '', ratio: '', target: `≤ ${windows}`, met: queries <= windows }
    ],
    data: { requests: BURST, cacheMs, seconds, connections, maxThreads, queries, windows }
  }
}
