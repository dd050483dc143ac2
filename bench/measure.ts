import { Agent, request } from 'node:http'
import autocannon from 'autocannon'

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
