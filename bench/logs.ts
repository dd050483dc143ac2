import { closeSync, openSync, statfsSync, statSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { httpClient, interleave, latencies, median } from './measure.ts'
import { mb, ms, times, type Section } from './report.ts'
import { start, suaicloudapp, type Command } from './servers.ts'

// GET /logs?lines=200 reads output.log backwards from its end, so a 1 GB log should answer as
// fast as a 1 MB one. Both files are pino lines as the app writes them, made by writing one
// buffer again and again (seconds for the gigabyte), each in the executable's temporary folder,
// deleted with it.
const SMALL = 1024 * 1024
// Under 1024 MiB, the largest [log] max_size_mb: a bigger file would be rotated away at start.
const LARGE = 1000 * 1024 * 1024
const NEEDED_FREE = 3 * 1024 * 1024 * 1024
const PATH = '/logs?lines=200'
const N = 200
const ROUNDS = 5
const TARGET = 1.2

// About 1 MiB of the lines a busy instance writes: requests, and now and then a check's news.
function chunk (): Buffer {
  const lines: string[] = []
  let time = Date.parse('2026-01-01T00:00:00Z')
  for (let bytes = 0, i = 0; bytes < SMALL; i++) {
    time += 37
    const at = new Date(time).toISOString()
    const path = ['/database', '/redis', '/s3', '/dynamodb', '/checks', '/'][i % 6]
    const line = i % 50 === 49
      ? JSON.stringify({ level: 40, time: at, backend: 'redis', status: 'fail', stage: 'connect', durationMs: 3001, reason: 'no answer from redis 10.0.1.12:6379 within 3000 ms (during connect)', msg: 'redis check failed' })
      : JSON.stringify({ level: 30, time: at, reqId: `req-${i.toString(36)}`, method: 'GET', url: path, statusCode: 200, ms: i % 7, msg: 'request' })
    lines.push(line)
    bytes += line.length + 1
  }
  return Buffer.from(lines.join('\n') + '\n')
}

function writeLog (file: string, size: number) {
  const buffer = chunk()
  const fd = openSync(file, 'w')
  try {
    for (let written = 0; written < size; written += buffer.length) writeSync(fd, buffer)
  } finally {
    closeSync(fd)
  }
}

export async function logs (): Promise<Section> {
  const { bavail, bsize } = statfsSync(tmpdir())
  const free = bavail * bsize
  if (free < NEEDED_FREE) {
    return {
      rows: [{ figure: `GET ${PATH}: 1 GB vs 1 MB output.log`, ours: 'skipped', baseline: '', ratio: '', target: `≤ ${TARGET}×`, met: undefined }],
      data: { skipped: `only ${mb(free)} free in ${tmpdir()}, ${mb(NEEDED_FREE)} needed` }
    }
  }
  let generatedMs = 0
  const withLog = (size: number): Command => async (port, dir) => {
    const started = performance.now()
    writeLog(join(dir, 'output.log'), size)
    generatedMs += performance.now() - started
    return suaicloudapp({ log: { max_size_mb: 1024 } })(port, dir)
  }
  const large = await start(withLog(LARGE))
  const small = await start(withLog(SMALL))
  const subjects = [{ server: large, ms: [] as number[] }, { server: small, ms: [] as number[] }]
  try {
    await interleave(ROUNDS, subjects, async subject => {
      const http = httpClient(subject.server.url)
      try {
        subject.ms.push(...await latencies(N / ROUNDS, async () => {
          const answer = await http.get(PATH)
          const lines = answer.body.split('\n').length - 1
          if (answer.status !== 200 || lines !== 200) throw new Error(`GET ${PATH}: ${answer.status}, ${lines} lines`)
        }))
      } finally {
        http.close()
      }
    })
    // A file rotated away at start would make the large case a small one.
    const largeSize = statSync(join(large.dir, 'output.log')).size
    if (largeSize < LARGE) throw new Error(`output.log shrank to ${mb(largeSize)}: it was rotated`)
  } finally {
    await Promise.all([large.stop(), small.stop()])
  }
  const [largeMs, smallMs] = subjects.map(subject => median(subject.ms))
  return {
    rows: [{
      figure: `GET ${PATH}: ${mb(LARGE)} vs ${mb(SMALL)} output.log (written in ${(generatedMs / 1000).toFixed(1)} s), median of ${N}`,
      ours: ms(largeMs),
      baseline: ms(smallMs),
      ratio: times(largeMs, smallMs),
      target: `≤ ${TARGET}×`,
      met: largeMs / smallMs <= TARGET
    }],
    data: { sizes: { large: LARGE, small: SMALL }, generatedMs, n: N, rounds: ROUNDS, medianMs: { large: largeMs, small: smallMs } }
  }
}
