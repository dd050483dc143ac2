import { Agent, request } from 'node:http'
import autocannon from 'autocannon'
import { start, type Command, type Server } from './servers.ts'

// How the benches measure: percentiles, sequential latencies on one kept-alive connection,
// autocannon for throughput, and interleaved rounds.

// Linear interpolation between the closest ranks; percentile(values, 50) is the median.
export function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (sorted.length - 1) * p / 100
  const below = Math.floor(rank)
  return sorted[below] + (sorted[Math.ceil(rank)] - sorted[below]) * (rank - below)
}

export const median = (values: number[]) => percentile(values, 50)

// Runs every subject once per round, `rounds` times, starting each round one subject further, so
// a busy moment of the machine (the load generator and the servers share its 2 cores) costs every
// subject alike.
export async function interleave<T> (rounds: number, subjects: T[], measure: (subject: T) => Promise<void>): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < subjects.length; i++) await measure(subjects[(round + i) % subjects.length])
  }
}

// The milliseconds each of `count` calls took, one after another.
export async function latencies (count: number, call: () => Promise<unknown>): Promise<number[]> {
  const ms: number[] = []
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    await call()
    ms.push(performance.now() - started)
  }
  return ms
}

export interface Answer { status: number, body: string }

// GET on one kept-alive connection, as a client that sends one request after another does.
export function httpClient (url: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  return {
    get: (path: string) => get(url + path, agent),
    close: () => agent.destroy()
  }
}

export function get (url: string, agent: Agent | false = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, res => {
      const chunks: Buffer[] = []
      res.on('data', chunk => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    }).on('error', reject).end()
  })
}

export interface Load { requests: number, rps: number, p50: number, p99: number }

// `connections` clients sending GETs back to back for `seconds`. Latencies are kept from each
// response (autocannon's own histogram counts whole milliseconds). Any error or non-2xx answer
// makes the figures meaningless, so it throws.
export function load (url: string, { connections, seconds }: { connections: number, seconds: number }): Promise<Load> {
  const ms: number[] = []
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: seconds }, (err, result) => {
      if (err) return reject(err)
      if (result.errors || result.timeouts || result.non2xx) {
        return reject(new Error(`${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx answers under load`))
      }
      resolve({ requests: result.requests.total, rps: result.requests.total / seconds, p50: percentile(ms, 50), p99: percentile(ms, 99) })
    }).on('response', (_client, _status, _bytes, responseTime) => { ms.push(responseTime) })
  })
}

export interface Round { rps: number, cpuUs: number, p99: number }
export interface Instance { server: Server, rounds: Round[] }

// `count` processes of each command, started alternately, so that no command is the one started
// on a busier machine. Several, because one process is not one figure: two of the same
// executable and config, started the same way, differed by up to 1.2× in /health throughput and
// in CPU per request, each keeping its level through every round (2026-12-02); compared one
// against one, that difference reads as the cost or gain of whatever else differs. Each runs on
// the CPU kept for servers under load (see servers.ts).
export async function startInstances (commands: Command[], count: number): Promise<Instance[][]> {
  const groups: Instance[][] = commands.map(() => [])
  try {
    for (let i = 0; i < count; i++) {
      for (const [j, command] of commands.entries()) groups[j].push({ server: await start(command, { pinned: true }), rounds: [] })
    }
    return groups
  } catch (err) {
    await stopInstances(groups)
    throw err
  }
}

export const stopInstances = (groups: Instance[][]) => Promise.all(groups.flat().map(({ server }) => server.stop()))

// GET `path` from `connections` clients: a second of warm-up for each instance (the JIT compiles
// the hot path before a round counts), then `rounds` rounds of `seconds` over all of them,
// interleaved. Each round records the server's own CPU time per request too: the load generator
// runs on the same machine, and other work there moves req/s far more than CPU per request.
export async function loadRounds (groups: Instance[][], { rounds, connections, seconds, path = '/health' }: { rounds: number, connections: number, seconds: number, path?: string }): Promise<void> {
  const instances = groups[0].flatMap((_, i) => groups.map(group => group[i]))
  for (const { server } of instances) await load(server.url + path, { connections, seconds: 1 })
  await interleave(rounds, instances, async ({ server, rounds }) => {
    const cpuBefore = server.cpuSeconds()
    const { requests, rps, p99 } = await load(server.url + path, { connections, seconds })
    rounds.push({ rps, p99, cpuUs: (server.cpuSeconds() - cpuBefore) / requests * 1e6 })
  })
}

// Each instance's median over its rounds; the group's figure is the median of those.
export const instanceMedians = (group: Instance[], key: keyof Round) => group.map(({ rounds }) => median(rounds.map(round => round[key])))
export const groupMedian = (group: Instance[], key: keyof Round) => median(instanceMedians(group, key))
