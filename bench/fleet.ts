import { once } from 'node:events'
import { createServer, request, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient } from 'redis'
import { LOOPBACK, startDynamo, startRedis } from '../test/harness/index.ts'
import { get, groupMedian, instanceMedians, loadRounds, median, startInstances, stopInstances, type Instance, type Round } from './measure.ts'
import type { Row, Section } from './report.ts'
import { start, suaicloudapp, type Server } from './servers.ts'

// What the fleet heartbeat (plugins/fleet.ts) costs the stores and the probe path, at the default
// [fleet] interval_ms: every command it sends to a real Redis, read with MONITOR, and every
// request it sends to dynalite, read by a counting proxy in front of it; and GET /health
// throughput of the same config with the fleet on and off, in interleaved rounds. The instances
// with the fleet on publish through Redis (and read the table, as they do whenever [dynamodb] is
// configured); one more has only [dynamodb] and publishes there, to a table of its own.
// Five instances a side (see startInstances).
const INSTANCES = 5
const CONNECTIONS = 10
const SECONDS = 2
const ROUNDS = 3
const FLEET_KEY = '{suaicloudapp:fleet}'
const FLEET_ITEM = 'suaicloudapp#fleet'
const REDIS_WRITES = new Set(['SET', 'ZADD', 'ZREMRANGEBYSCORE', 'PEXPIRE'])
const THROUGHPUT_RATIO = 0.95

export async function fleet (): Promise<Section> {
  const [redis, dynamo] = await Promise.all([startRedis(), startDynamo()])
  const proxy = await countingProxy(dynamo.endpoint)
  const monitor = createClient({ socket: { host: redis.host, port: redis.port } })
  let dynamoOnly: Server | undefined
  let sides: Instance[][] = []
  try {
    await Promise.all(['withredis', 'dynamoonly'].map(table => dynamo.createTable(table, { hash: ['id', 'S'] })))
    // The app's AWS client reads its keys from the environment its process inherits.
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: dynamo.accessKeyId, AWS_SECRET_ACCESS_KEY: dynamo.secretAccessKey })
    const table = (name: string) => ({ table: name, partition_key: 'id', endpoint: proxy.url })
    const withRedis = { aws: { region: dynamo.region }, redis: { host: redis.host, port: redis.port }, dynamodb: table('withredis') }

    const commands: Command[] = []
    await monitor.connect()
    await monitor.monitor(line => { commands.push({ at: parseFloat(line), args: monitoredArgs(line) }) })
    sides = await startInstances([suaicloudapp(withRedis), suaicloudapp({ ...withRedis, fleet: { enabled: false } })], INSTANCES)
    dynamoOnly = await start(suaicloudapp({ aws: { region: dynamo.region }, dynamodb: table('dynamoonly') }))
    // Every instance loads the backends' clients (one with the fleet off would otherwise never
    // run a check, and hold a smaller heap), so what differs is the heartbeat alone.
    for (const { server } of sides.flat()) await get(`${server.url}/checks`)

    const roundsFrom = Date.now() / 1000
    await loadRounds(sides, { rounds: ROUNDS, connections: CONNECTIONS, seconds: SECONDS })
    return report(sides, commands, proxy.requests, roundsFrom)
  } finally {
    await Promise.all([stopInstances(sides), dynamoOnly?.stop()])
    // A monitoring connection takes the reply to QUIT for a monitored line: it is closed, not quit.
    monitor.destroy()
    proxy.server.closeAllConnections()
    proxy.server.close()
    await Promise.all([redis.stop(), dynamo.stop()])
  }
}

interface DynamoRequest { at: number, action: string, table: string, fleet: boolean, bytes: number }
interface Command { at: number, args: string[] }

// A plain HTTP proxy to dynalite that notes each request's action (X-Amz-Target), table and size
// before passing it on unchanged; dynalite checks that a request is signed, not for which host.
async function countingProxy (target: string) {
  const requests: DynamoRequest[] = []
  const server: HttpServer = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = []
    incoming.on('data', chunk => chunks.push(chunk))
    incoming.on('end', () => {
      const body = Buffer.concat(chunks)
      const { TableName = '' } = JSON.parse(body.toString() || '{}') as { TableName?: string }
      requests.push({ at: Date.now() / 1000, action: String(incoming.headers['x-amz-target']).split('.').pop()!, table: TableName, fleet: body.includes(FLEET_ITEM), bytes: body.length })
      const forward = request(target + incoming.url, { method: incoming.method, headers: incoming.headers }, answer => {
        outgoing.writeHead(answer.statusCode!, answer.headers)
        answer.pipe(outgoing)
      })
      forward.on('error', () => outgoing.destroy())
      forward.end(body)
    })
  })
  server.listen(0, LOOPBACK)
  await once(server, 'listening')
  return { url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`, requests, server }
}

// MONITOR prints each command as `<time> [<db> <client>] "ARG" "ARG" …`, escaping quotes,
// backslashes and every byte outside printable ASCII, so each unescaped character is one byte.
function monitoredArgs (line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map(([, arg]) => arg.replace(/\\x[0-9a-f]{2}|\\./g, 'x'))
}

// The bytes a client sends for a command, in RESP: an array of bulk strings.
const respBytes = (args: string[]) => `*${args.length}\r\n`.length + args.reduce((sum, arg) => sum + `$${arg.length}\r\n`.length + arg.length + 2, 0)

// Events per minute from their times in seconds: intervals between the first and the last, so
// the heartbeat that runs at start-up does not count as a whole interval.
function rate (times: number[]): number {
  return times.length < 2 ? 0 : (times.length - 1) / (times.at(-1)! - times[0]) * 60
}

function report ([on, off]: Instance[][], commands: Command[], dynamoRequests: DynamoRequest[], roundsFrom: number): Section {
  const fleetCommands = commands.filter(({ args }) => args.some(arg => arg.startsWith(FLEET_KEY)))
  // ZADD <index> <expiry> <instance id>: one per heartbeat of each instance.
  const heartbeats = fleetCommands.filter(({ args: [name] }) => name === 'ZADD')
  const byInstance = new Map<string, number[]>()
  for (const { at, args } of heartbeats) byInstance.set(args[3], [...byInstance.get(args[3]) ?? [], at])
  const heartbeatRate = median([...byInstance.values()].map(rate))
  // Counts over the run, per heartbeat, times one instance's heartbeats per minute.
  const perHeartbeat = (count: number) => heartbeats.length ? count / heartbeats.length : 0
  const perMinute = (count: number) => (perHeartbeat(count) * heartbeatRate).toFixed(1)
  const redisWrites = fleetCommands.filter(({ args: [name] }) => REDIS_WRITES.has(name))
  const redisReads = fleetCommands.length - redisWrites.length
  const writeBytes = Math.round(perHeartbeat(redisWrites.reduce((sum, { args }) => sum + respBytes(args), 0)))
  const record = fleetCommands.find(({ args: [name] }) => name === 'SET')?.args[2].length ?? 0
  // The checks the heartbeats run: during the rounds no request asks for one, so every other
  // command then is theirs.
  const during = ({ at }: { at: number }) => at >= roundsFrom
  const roundHeartbeats = heartbeats.filter(during).length
  const checkCommands = commands.filter(during).length - fleetCommands.filter(during).length

  const fleetRequests = (table: string, action: string) => dynamoRequests.filter(r => r.table === table && r.fleet && r.action === action)
  const puts = fleetRequests('dynamoonly', 'PutItem')
  const putRate = rate(puts.map(({ at }) => at))
  const putBytes = median(puts.map(r => r.bytes))
  const perPut = (count: number, of = puts.length) => (of ? count / of * putRate : 0).toFixed(1)
  const dynamoChecks = dynamoRequests.filter(r => during(r) && r.table === 'dynamoonly' && !r.fleet).length
  const tableReads = fleetRequests('withredis', 'GetItem')

  const ratio = (key: keyof Round) => groupMedian(on, key) / groupMedian(off, key)
  const spread = (side: Instance[], key: keyof Round, unit: (value: number) => string) => `${unit(Math.min(...instanceMedians(side, key)))}–${unit(Math.max(...instanceMedians(side, key)))}`
  const kilo = (value: number) => `${(value / 1000).toFixed(1)}k`
  const micro = (value: number) => value.toFixed(1)
  const rps = ratio('rps')
  const rows: Row[] = [
    { figure: `Fleet heartbeat, default interval: GET /health throughput, fleet on vs off (${INSTANCES} instances each, ${CONNECTIONS} connections, ${ROUNDS}×${SECONDS} s rounds interleaved; median of the instances' medians)`, ours: `${Math.round(groupMedian(on, 'rps'))} req/s`, baseline: `${Math.round(groupMedian(off, 'rps'))} req/s`, ratio: `${rps.toFixed(2)}×`, target: `≥ ${THROUGHPUT_RATIO}×`, met: rps >= THROUGHPUT_RATIO },
    { figure: '  the instances\' medians, lowest to highest, req/s', ours: spread(on, 'rps', kilo), baseline: spread(off, 'rps', kilo), ratio: '', target: '' },
    { figure: '  server CPU per /health request, fleet on vs off', ours: `${groupMedian(on, 'cpuUs').toFixed(1)} µs`, baseline: `${groupMedian(off, 'cpuUs').toFixed(1)} µs`, ratio: `${ratio('cpuUs').toFixed(2)}×`, target: '' },
    { figure: '  the instances\' medians, lowest to highest, µs', ours: spread(on, 'cpuUs', micro), baseline: spread(off, 'cpuUs', micro), ratio: '', target: '' },
    { figure: `  Redis: heartbeats per minute per instance (${heartbeats.length} seen from ${byInstance.size}); write commands (${[...REDIS_WRITES].join(', ')}, pipelined) per minute`, ours: `${perMinute(heartbeats.length)}/min; ${perMinute(redisWrites.length)}/min`, baseline: '', ratio: '', target: '' },
    { figure: '  Redis: bytes sent per heartbeat\'s writes (RESP), of which the record', ours: `${writeBytes} B; ${record} B`, baseline: '', ratio: '', target: '' },
    { figure: '  Redis: reads per minute (ZRANGEBYSCORE, MGET); the checks\' commands the heartbeats ran', ours: `${perMinute(redisReads)}/min; ${(roundHeartbeats ? checkCommands / roundHeartbeats * heartbeatRate : 0).toFixed(1)}/min`, baseline: '', ratio: '', target: '' },
    { figure: `  DynamoDB only: PutItem and GetItem of the fleet item per minute (${puts.length} PutItem seen)`, ours: `${putRate.toFixed(1)}/min; ${perPut(fleetRequests('dynamoonly', 'GetItem').length)}/min`, baseline: '', ratio: '', target: '' },
    { figure: '  DynamoDB only: bytes per PutItem request (1 instance); the checks\' requests the heartbeats ran', ours: `${putBytes} B; ${perPut(dynamoChecks, puts.filter(during).length)}/min`, baseline: '', ratio: '', target: '' },
    { figure: '  with Redis: GetItem (to read the table) per minute per instance; PutItem in all', ours: `${perMinute(tableReads.length)}/min; ${fleetRequests('withredis', 'PutItem').length}`, baseline: '', ratio: '', target: '' }
  ]
  return {
    rows,
    data: { instances: INSTANCES, connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, measured: { on: on.map(({ rounds }) => rounds), off: off.map(({ rounds }) => rounds) }, redis: { heartbeats: heartbeats.length, writes: redisWrites.length, reads: redisReads, writeBytesPerHeartbeat: writeBytes, record, checkCommands }, dynamodb: { puts: puts.length, putsPerMinute: putRate, putBytes, checks: dynamoChecks } }
  }
}
