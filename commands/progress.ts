import type { CheckRow } from './check.ts'

// `check` on a terminal: one line per backend that says "checking…" until its own check
// answers, then its status and time, so a slow backend does not hide the fast ones. The block
// is erased before the final table is printed. Nothing of it is written when stdout is not a
// terminal (or with --json): piped output stays the table alone.
export interface Progress {
  done: (row: CheckRow) => void
  erase: () => void
}

const PAINT: Record<CheckRow['status'], string> = { pass: '32', warn: '33', fail: '31', skip: '2' }

export function showProgress (names: string[], out: NodeJS.WriteStream): Progress {
  const width = Math.max(...names.map(name => name.length))
  const line = (name: string, text: string) => `${name.padEnd(width)}  ${text}`
  out.write(names.map(name => line(name, '\x1b[2mchecking…\x1b[0m')).join('\n') + '\n')
  return {
    done: row => {
      const up = names.length - names.indexOf(row.backend)
      const status = `\x1b[${PAINT[row.status]}m${row.status}\x1b[0m${row.status === 'skip' ? '' : ` ${row.durationMs} ms`}`
      // Up to the row, rewrite it, and back down to where the cursor was.
      out.write(`\x1b[${up}A\r\x1b[2K${line(row.backend, status)}\x1b[${up}B\r`)
    },
    erase: () => { out.write(`\x1b[${names.length}A\r\x1b[J`) }
  }
}
