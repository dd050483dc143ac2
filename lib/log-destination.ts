import type { Writable } from 'node:stream'
import { pino } from 'pino'

// The message of the one line per request (app.ts, plugins/request-log.ts): the only lines this
// destination may drop.
export const REQUEST_LINE = 'request'

// What waits to be written before request lines are dropped: a few thousand lines, enough for a
// burst or a rotation, and a few MB of heap at most.
const MAX_BACKLOG_BYTES = 1024 * 1024

// A pino destination in front of the log file's stream that never lets lines queue without
// limit. The file stream takes lines faster than the disk does and would keep all of them in
// memory; when more than maxBacklogBytes wait, request lines are dropped and counted instead.
// Every other line (start-up, check news, summaries, warnings, errors) is rare and always written.
export class BoundedDestination {
  // pino tells a destination that asks for it which message each line carries.
  readonly [pino.symbols.needsMetadataGsym] = true
  lastMsg = ''
  // Since start, for /metrics.
  dropped = 0
  // Since the last report, for the log.
  unreported = 0
  private readonly stream: Writable
  private readonly maxBacklogBytes: number

  constructor (stream: Writable, maxBacklogBytes = MAX_BACKLOG_BYTES) {
    this.stream = stream
    this.maxBacklogBytes = maxBacklogBytes
  }

  write (line: string): void {
    // writableLength: the bytes the stream has accepted and not yet written to the file.
    if (this.lastMsg === REQUEST_LINE && this.stream.writableLength >= this.maxBacklogBytes) {
      this.dropped++
      this.unreported++
      return
    }
    this.stream.write(line)
  }

  takeUnreported (): number {
    const count = this.unreported
    this.unreported = 0
    return count
  }
}
