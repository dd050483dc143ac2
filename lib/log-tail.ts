import { open } from 'node:fs/promises'
import pretty from 'pino-pretty'

export const levels = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const
export type LevelName = keyof typeof levels

export interface TailOptions {
  lines: number
  // Keep only entries at or above this level.
  minLevel?: LevelName
  // Reading stops after this many bytes from the end, so a filter that matches nothing in a
  // huge file still answers quickly.
  maxScanBytes?: number
  chunkBytes?: number
}

// The last `lines` complete lines of a log file, oldest first, read backwards from the end in
// chunks: the cost follows the lines asked for, not the size of the file. Lines are split on
// bytes, so a line (or a multi-byte character) that straddles two chunks comes out whole.
// A last line without its newline is still being written and is left out.
export async function tailLog (file: string, { lines, minLevel, maxScanBytes = 64 * 1024 * 1024, chunkBytes = 64 * 1024 }: TailOptions): Promise<string[]> {
  const handle = await open(file, 'r')
  try {
    const { size } = await handle.stat()
    const found: string[] = []
    const floor = Math.max(0, size - maxScanBytes)
    let position = size
    let carry: Buffer[] = []
    let endSeen = false
    while (position > floor && found.length < lines) {
      const length = Math.min(chunkBytes, position - floor)
      position -= length
      const chunk = Buffer.allocUnsafe(length)
      await handle.read(chunk, 0, length, position)
      let end = length
      for (let i = length - 1; i >= 0 && found.length < lines; i--) {
        if (chunk[i] !== 0x0a) continue
        const line = Buffer.concat([chunk.subarray(i + 1, end), ...carry])
        carry = []
        end = i
        if (endSeen) keep(line)
        endSeen = true
      }
      carry.unshift(chunk.subarray(0, end))
    }
    // The very first line of the file has no newline before it.
    if (position === 0 && endSeen && found.length < lines) keep(Buffer.concat(carry))
    return found.reverse()

    function keep (line: Buffer) {
      if (line.length === 0) return
      const text = line.toString('utf8')
      if (minLevel === undefined || levelOf(text) >= levels[minLevel]) found.push(text)
    }
  } finally {
    await handle.close()
  }
}

function levelOf (line: string): number {
  try {
    const level = (JSON.parse(line) as { level?: unknown }).level
    return typeof level === 'number' ? level : 0
  } catch {
    return 0
  }
}

const prettify = pretty.prettyFactory({
  colorize: false,
  singleLine: true,
  translateTime: 'UTC:yyyy-mm-dd HH:MM:ss.l',
  ignore: 'pid,hostname'
})

// One human-readable line per entry; a line that is not JSON is shown as it is.
export function humanize (line: string): string {
  try {
    return prettify(JSON.parse(line)).trimEnd()
  } catch {
    return line
  }
}
