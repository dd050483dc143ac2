import { basename, dirname } from 'node:path'
import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import { createStream } from 'rotating-file-stream'
import type { LogConfig } from './config-schema.ts'
import { BoundedDestination } from './log-destination.ts'
import { createScrubber, redactPaths } from './secrets.ts'

export interface AppLogger {
  logger: Logger
  // Flushes and closes the log file.
  close: () => Promise<void>
}

// How often dropped request lines are reported in the log itself.
const DROP_REPORT_MS = 60_000

// Keyed by the stream pino writes to, which every child logger shares (Fastify hands out
// children of the logger it is given, request.log included).
const destinations = new WeakMap<object, BoundedDestination>()
const streamOf = (logger: object) => (logger as Record<symbol, object>)[pino.symbols.streamSym]

// Request lines dropped so far because the log file could not keep up (0 for a logger this
// module did not make), for /metrics.
export function droppedRequestLines (logger: object): number {
  return destinations.get(streamOf(logger))?.dropped ?? 0
}

// pino writes in-process: worker-thread transports do not survive bundling into one executable.
// The file rotates at max_size_mb, logrotate style: output.log, output.log.1, … output.log.N.
// Lines wait for the disk in a bounded backlog (see log-destination.ts).
export function createLogger (file: string, log: LogConfig, secrets: string[], maxBacklogBytes?: number): AppLogger {
  const fileStream = createStream(basename(file), {
    path: dirname(file),
    size: `${log.max_size_mb}M`,
    rotate: log.files
  })
  // Without a listener a log file that cannot be opened would crash the server it describes.
  fileStream.on('error', err => {
    process.stderr.write(`suaicloudapp: cannot write the log file ${file}: ${(err as NodeJS.ErrnoException).code ?? err.message}\n`)
  })
  const destination = new BoundedDestination(fileStream, maxBacklogBytes)
  const streams: pino.StreamEntry[] = [{ level: log.level, stream: destination }]
  if (process.stdout.isTTY) {
    streams.push({ level: log.level, stream: pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }) })
  }
  const scrub = createScrubber(secrets)
  const logger = pino({
    level: log.level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths, censor: '[redacted]' },
    hooks: { streamWrite: scrub }
  }, pino.multistream(streams))
  destinations.set(streamOf(logger), destination)

  // A warning, so it is written whatever the level and never dropped itself.
  const reportDrops = () => {
    const dropped = destination.takeUnreported()
    if (dropped) logger.warn({ dropped }, `dropped ${dropped} request lines in the last minute: ${file} was not written as fast as they came`)
  }
  const reporter = setInterval(reportDrops, DROP_REPORT_MS).unref()
  return {
    logger,
    close: () => {
      clearInterval(reporter)
      reportDrops()
      return new Promise(resolve => fileStream.end(resolve))
    }
  }
}
