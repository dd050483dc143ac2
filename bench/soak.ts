import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { startDynamo, startMariadb, startRedis, startS3 } from '../test/harness/index.ts'
import { heapUsedAfterGc } from './heap.ts'
import { get, interleave, median } from './measure.ts'
import { connectionsTo, openFds } from './proc.ts'
import { mb, times, type Row, type Section } from './report.ts'
import { rssBytes, start, suaicloudapp, type Server } from './servers.ts'

// Sustained load on every endpoint while Redis and MariaDB are killed and brought back, as a
// student's load test against the lab's load balancer would be: memory, file descriptors and
// backend connections must stay flat, nothing may crash, and the request log must not cost more
// than a tenth of the throughput. The same soak twice, with [log] level info (the default) and
// warn (no request log at all), then the two apps' throughput in interleaved rounds, so that
// other work on the machine costs both alike. Real MariaDB and Redis, s3rver and dynalite, all on
// loopback.
// The app is the executable users get; every heap sample follows a full garbage collection that
// the bench asks for with SIGUSR2 (bench/heap.ts).
const CONNECTIONS = 10
const WARM_UP_S = 15
const SOAK_S = 60
const SAMPLE_MS = 2000
const ROUNDS = 6
const ROUND_S = 5
// What a load generator sends, as fast as it is answered.
const PUBLIC_PATHS = ['/health', '/ready', '/checks', '/database', '/redis', '/s3', '/dynamodb', '/', '/instance']
// What an operator's tail and a metrics scraper send, at a steady rate: /logs at info returns 200
// real lines, ten times the work of the near-empty log at warn, which is not the request log's
// cost and would swamp it in a closed loop.
const ADMIN_PATHS = ['/logs', '/metrics', '/fleet']
const ADMIN_PER_SECOND = 10
// Seconds into the soak: each backend is SIGKILLed at `at` and restarted `down` seconds later.
const OUTAGES = [{ backend: 'redis', at: 10, down: 10 }, { backend: 'database', at: 30, down: 10 }] as const
const EXPECTED_STATUS = new Set([200, 503])
const HEAP_GROWTH_MB = 20
const RSS_DRIFT_MB = 10
const THROUGHPUT_RATIO = 0.9
const BUCKET = 'suaicloudbucket'
const TABLE = 'suaicloudtable'

interface Sample { t: number, phase: 'warm-up' | 'soak', heapUsed: number, rss: number, fds: number, connections: number[], dropped: number }

type Backends = Awaited<ReturnType<typeof startBackends>>

export async function soak (): Promise<Section> {
  const backends = await startBackends()
  const apps: Subject[] = []
  try {
    for (const level of ['info', 'warn'] as const) apps.push(await startApp(level, backends))
    const runs = []
    for (const app of apps) runs.push(await soakRun(app, backends))
    const rounds = await compare(apps)
    return {
      rows: [...throughputRows(rounds, runs), ...runs.flatMap(steadinessRows)],
      data: { connections: CONNECTIONS, adminPerSecond: ADMIN_PER_SECOND, warmUpSeconds: WARM_UP_S, soakSeconds: SOAK_S, outages: OUTAGES, rounds, runs }
    }
  } finally {
    for (const app of apps) await app.server.stop()
    await backends.stop()
  }
}

async function startBackends () {
  const [db, redis, s3, dynamo] = await Promise.all([startMariadb(), startRedis(), startS3(), startDynamo()])
  await Promise.all([s3.createBucket(BUCKET, { suaicloudapp: 'x', 'config.toml': 'x' }), dynamo.createTable(TABLE, { hash: ['id', 'S'] })])
  // The app's AWS clients take these from the environment its ServerProcess inherits; dynalite
  // takes any signed request, s3rver only its own key.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey })
  return {
    sections: {
      aws: { region: s3.region },
      database: { host: db.host, port: db.port, user: db.user, password: db.password, dbname: db.database },
      redis: { host: redis.host, port: redis.port },
      s3: { bucket: BUCKET, endpoint: s3.endpoint },
      dynamodb: { table: TABLE, partition_key: 'id', endpoint: dynamo.endpoint }
    },
    killable: { redis, database: db },
    ports: [db.port, redis.port, Number(new URL(s3.endpoint).port), Number(new URL(dynamo.endpoint).port)],
    stop: async () => { await Promise.all([db, redis, s3, dynamo].map(server => server.stop())) }
  }
}

interface Subject { level: 'info' | 'warn', server: Server }

async function startApp (level: Subject['level'], backends: Backends): Promise<Subject> {
  return { level, server: await start(suaicloudapp({ ...backends.sections, log: { level } })) }
}

async function soakRun ({ level, server }: Subject, backends: Backends) {
  const { pid, url } = server
  const samples: Sample[] = []
  let phase: Sample['phase'] = 'warm-up'
  const started = performance.now()
  const sampling = new AbortController()
  const dropped = async () => Number(/^suaicloudapp_log_request_lines_dropped_total (\d+)$/m.exec((await get(`${url}/metrics`)).body)?.[1])
  // Ends with the run, or when the app no longer answers (a crash, reported below).
  const sampler = (async () => {
    while (!sampling.signal.aborted && !server.exitReason()) {
      const t = (performance.now() - started) / 1000
      const heapUsed = await heapUsedAfterGc(server).catch(() => undefined)
      if (heapUsed === undefined) return
      samples.push({ t, phase, heapUsed, rss: rssBytes(pid), fds: openFds(pid), connections: backends.ports.map(port => connectionsTo(pid, port)), dropped: await dropped().catch(() => NaN) })
      await sleep(SAMPLE_MS)
    }
  })()
  try {
    await hammer(url, WARM_UP_S)
    phase = 'soak'
    const [load] = await Promise.all([hammer(url, SOAK_S), outages(backends)])
    sampling.abort()
    await sampler
    const crashed = server.exitReason()
    const unhandled = readFileSync(join(server.dir, 'output.log'), 'utf8').split('\n').filter(line => line.includes('(kept running)')).length
    return { level, load, crashed, unhandled, samples }
  } finally {
    sampling.abort()
    await sampler
  }
}

// The same load on both apps, ROUND_S seconds each, alternately, every backend up.
async function compare (apps: Subject[]) {
  const rounds: Array<Record<string, { rps: number, cpuUs: number }>> = Array.from({ length: ROUNDS }, () => ({}))
  let round = 0
  await interleave(ROUNDS, apps, async ({ level, server }) => {
    const cpuBefore = server.cpuSeconds()
    const load = await hammer(server.url, ROUND_S)
    rounds[Math.floor(round++ / apps.length)][level] = { rps: load.rps, cpuUs: (server.cpuSeconds() - cpuBefore) / (load.requests + load.adminRequests) * 1e6 }
  })
  return rounds
}

// The public endpoints in turn on each connection, as fast as they answer, and the admin ones at
// a steady rate beside them. Only 200s and the 503s of a backend that is down are expected;
// anything else, a socket error or a timeout counts as an error.
async function hammer (url: string, seconds: number) {
  const requests = (paths: string[]) => paths.map(path => ({ method: 'GET' as const, path }))
  const [load, admin] = await Promise.all([
    autocannon({ url, connections: CONNECTIONS, duration: seconds, requests: requests(PUBLIC_PATHS) }),
    autocannon({ url, connections: 1, overallRate: ADMIN_PER_SECOND, duration: seconds, requests: requests(ADMIN_PATHS) })
  ])
  const statuses: Record<string, number> = {}
  for (const result of [load, admin]) {
    for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) statuses[status] = (statuses[status] ?? 0) + (count ?? 0)
  }
  const unexpected = Object.entries(statuses).filter(([status]) => !EXPECTED_STATUS.has(Number(status))).reduce((sum, [, count]) => sum + count, 0)
  return {
    requests: load.requests.total,
    rps: load.requests.total / seconds,
    adminRequests: admin.requests.total,
    statuses,
    errors: load.errors + load.timeouts + admin.errors + admin.timeouts + unexpected
  }
}

async function outages ({ killable }: Backends) {
  const started = performance.now()
  const until = (seconds: number) => sleep(Math.max(0, started + seconds * 1000 - performance.now()))
  for (const { backend, at, down } of OUTAGES) {
    await until(at)
    await killable[backend].kill9()
    await until(at + down)
    await killable[backend].restart()
  }
}

type Run = Awaited<ReturnType<typeof soakRun>>
type Rounds = Awaited<ReturnType<typeof compare>>

function throughputRows (rounds: Rounds, [info, warn]: Run[]): Row[] {
  const outages = OUTAGES.map(({ backend, at, down }) => `${backend} down at ${at}–${at + down} s`).join(', ')
  const of = (level: string, key: 'rps' | 'cpuUs') => median(rounds.map(round => round[level][key]))
  const ratio = (key: 'rps' | 'cpuUs') => median(rounds.map(round => round.info[key] / round.warn[key]))
  const rps = ratio('rps')
  return [
    {
      figure: `Soak (the executable): ${CONNECTIONS} connections on ${PUBLIC_PATHS.join(' ')} and ${ADMIN_PER_SECOND} req/s on ${ADMIN_PATHS.join(' ')}; throughput at [log] level info vs warn, ${ROUNDS}×${ROUND_S} s interleaved`,
      ours: `${Math.round(of('info', 'rps'))} req/s`,
      baseline: `${Math.round(of('warn', 'rps'))} req/s`,
      ratio: `${rps.toFixed(2)}×`,
      target: `≥ ${THROUGHPUT_RATIO}×`,
      met: rps >= THROUGHPUT_RATIO
    },
    { figure: '  server CPU per request, info vs warn', ours: `${of('info', 'cpuUs').toFixed(1)} µs`, baseline: `${of('warn', 'cpuUs').toFixed(1)} µs`, ratio: `${ratio('cpuUs').toFixed(2)}×`, target: '' },
    { figure: `  the same load for ${SOAK_S} s after ${WARM_UP_S} s of warm-up, ${outages}, one level after the other`, ours: `${Math.round(info.load.rps)} req/s`, baseline: `${Math.round(warn.load.rps)} req/s`, ratio: times(info.load.rps, warn.load.rps), target: '' },
    { figure: '  request lines dropped by the end of the info soak (/metrics)', ours: String(info.samples.at(-1)?.dropped), baseline: '', ratio: '', target: '' }
  ]
}

// The most connections each backend may hold, in the order of `ports`: the server's clients and
// the fleet heartbeat's (a thread with clients of its own, plugins/fleet.ts), each one to MariaDB
// and one to Redis by design, and one to DynamoDB, which no two requests of one thread reach at
// once (concurrent callers share a check in flight); the S3 client's pool opens a second whenever
// the check's two listings overlap and keeps it alive. More than that would be a leak.
const CONNECTIONS_AT_MOST = [2, 2, 4, 2]

// Memory, descriptors, connections and failures of one run, each at the end of the soak against
// the end of the warm-up; connections against what each client may hold.
function steadinessRows ({ level, samples, load, crashed, unhandled }: Run): Row[] {
  const warmUp = samples.filter(sample => sample.phase === 'warm-up').at(-1)!
  const soaked = samples.filter(sample => sample.phase === 'soak')
  const end = soaked.at(-1)!
  const lastHalf = soaked.filter(sample => sample.t >= WARM_UP_S + SOAK_S / 2)
  const rssDrift = slope(lastHalf.map(sample => [sample.t, sample.rss])) * SOAK_S / 2
  const growth = (end.heapUsed - warmUp.heapUsed) / 1024 / 1024
  const answers = Object.entries(load.statuses).map(([status, count]) => `${count}×${status}`).join(', ')
  return [
    { figure: `  [log] level ${level}: heap used after a full GC, end of soak vs end of warm-up`, ours: mb(end.heapUsed), baseline: mb(warmUp.heapUsed), ratio: `${growth >= 0 ? '+' : '−'}${Math.abs(growth).toFixed(1)} MB`, target: `≤ +${HEAP_GROWTH_MB} MB`, met: growth <= HEAP_GROWTH_MB },
    { figure: '    RSS at the end; its growth over the last half (least-squares fit)', ours: mb(end.rss), baseline: '', ratio: mb(rssDrift), target: `≤ ${RSS_DRIFT_MB} MB`, met: rssDrift <= RSS_DRIFT_MB * 1024 * 1024 },
    { figure: '    open file descriptors, end of soak vs end of warm-up', ours: String(end.fds), baseline: String(warmUp.fds), ratio: '', target: '≤ +2', met: end.fds <= warmUp.fds + 2 },
    { figure: '    connections to MariaDB/Redis/S3/DynamoDB, end of soak vs end of warm-up', ours: end.connections.join('/'), baseline: warmUp.connections.join('/'), ratio: '', target: `≤ ${CONNECTIONS_AT_MOST.join('/')}`, met: end.connections.every((count, i) => count <= CONNECTIONS_AT_MOST[i]) },
    { figure: `    crashes; unhandled errors logged; errors other than 503 (answers: ${answers})`, ours: `${crashed ? 1 : 0}; ${unhandled}; ${load.errors}`, baseline: '', ratio: '', target: '0; 0; 0', met: !crashed && unhandled === 0 && load.errors === 0 }
  ]
}

// Least-squares slope of y over x.
function slope (points: Array<[number, number]>): number {
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
  const mx = mean(points.map(([x]) => x))
  const my = mean(points.map(([, y]) => y))
  const covariance = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0)
  const variance = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0)
  return covariance / variance
}
