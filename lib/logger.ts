import { basename, dirname } from 'node:path'
import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import { createStream } from 'rotating-file-stream'
import type { LogConfig } from './config-schema.ts'
import { createScrubber, redactPaths } from './secrets.ts'

export interface AppLogger {
  logger: Logger
  // Flushes and closes the log file.
  close: () => Promise<void>
}

// pino writes in-process: worker-thread transports do not survive bundling into one executable.
// The file rotates at max_size_mb, logrotate style: output.log, output.log.1, … output.log.N.
export function createLogger (file: string, log: LogConfig, secrets: string[]): AppLogger {
  const fileStream = createStream(basename(file), {
    path: dirname(file),
    size: `${log.max_size_mb}M`,
    rotate: log.files
  })
  // Without a listener a log file that cannot be opened would crash the server it describes.
  fileStream.on('error', err => {
    process.stderr.write(`suaicloudapp: cannot write the log file ${file}: ${(err as NodeJS.ErrnoException).code ?? err.message}\n`)
  })
  const streams: pino.StreamEntry[] = [{ level: log.level, stream: fileStream }]
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
  return {
    logger,
    close: () => new Promise(resolve => fileStream.end(resolve))
  }
}
