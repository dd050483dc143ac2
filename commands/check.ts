import type { CheckResult, Status } from '../lib/check.ts'
import type { LoadOptions } from '../lib/config.ts'
import { buildServer, type BuildOptions } from '../server.ts'
import { showProgress, type Progress } from './progress.ts'
import { printProblems } from './validate.ts'

// A backend without its config section is listed as skip and does not fail the run: a course
// environment may use only some of the four.
export type CheckRow = Omit<CheckResult, 'status'> & { status: Status | 'skip' }

// Every backend checked once, in parallel, by the same plugins the server uses: exit 0 when
// none fails, 1 when one does, 2 when the config is invalid. Each check is bounded by
// [checks] timeout_ms, and closing the app closes every client, so the process then ends.
export async function check (options: LoadOptions, { json }: { json: boolean }): Promise<number> {
  // A dumb terminal cannot move its cursor.
  const live = process.stdout.isTTY && process.env.TERM !== 'dumb' && !json
  const { loaded, rows } = await checkAll(options, {}, live ? names => showProgress(names, process.stdout) : undefined)
  if (!loaded.ok) return printProblems(loaded.problems)
  const colour = process.stdout.isTTY && process.stdout.hasColors()
  process.stdout.write(json ? JSON.stringify(rows, null, 2) + '\n' : renderTable(rows, loaded.file ?? '', colour))
  return rows.some(row => row.status === 'fail') ? 1 : 0
}

// Every backend of the list checked once; no row at all while the config has problems.
// `watch` shows each row as it comes.
export async function checkAll (options: LoadOptions, build: BuildOptions = {}, watch?: (names: string[]) => Progress) {
  // Neither a listener nor a log file: run as root, this one-shot must not leave a root-owned
  // output.log that the service, running as another user, could not write.
  const { fastify, loaded, close } = await buildServer(options, { ...build, log: false })
  let progress: Progress | undefined
  try {
    if (!loaded.ok) return { loaded, rows: [] }
    await fastify.ready()
    progress = watch?.(fastify.backends.all.map(backend => backend.definition.name))
    const rows = await Promise.all(fastify.backends.all.map(async (backend): Promise<CheckRow> => {
      const result = await backend.check()
      const row: CheckRow = backend.state === 'not_configured' ? { ...result, status: 'skip' } : result
      progress?.done(row)
      return row
    }))
    return { loaded, rows }
  } finally {
    progress?.erase()
    await close()
  }
}

const ANSI: Record<CheckRow['status'], string> = { pass: '32', warn: '33', fail: '31', skip: '2' }

function renderTable (rows: CheckRow[], file: string, colour: boolean): string {
  const paint = (code: string, text: string) => colour ? `\x1b[${code}m${text}\x1b[0m` : text
  const cells = rows.map(row => [
    row.backend,
    row.status,
    row.status === 'skip' ? '-' : String(row.durationMs),
    row.status === 'fail' ? `${row.stage}: ${row.message}` : row.message
  ])
  const header = ['BACKEND', 'STATUS', 'MS', 'MESSAGE']
  const widths = [0, 1, 2].map(column => Math.max(...[header, ...cells].map(line => line[column].length)))
  // Padding before painting: escape codes have no width on screen.
  const line = ([backend, status, ms, message]: string[], code?: string) =>
    `${backend.padEnd(widths[0])}  ${code ? paint(code, status.padEnd(widths[1])) : status.padEnd(widths[1])}  ${ms.padStart(widths[2])}  ${message}`.trimEnd()
  const indent = ' '.repeat(widths[0] + widths[1] + widths[2] + 6)

  const lines = [paint('1', line(header))]
  rows.forEach((row, index) => {
    lines.push(line(cells[index], ANSI[row.status]))
    if (row.hint && row.status !== 'pass') lines.push(indent + paint('2', `hint: ${row.hint}`))
  })
  const counts = (Object.keys(ANSI) as Array<CheckRow['status']>)
    .map(status => [status, rows.filter(row => row.status === status).length] as const)
    .filter(([, count]) => count > 0)
    .map(([status, count]) => `${count} ${status}`)
  lines.push('', `${file}: ${counts.join(', ')}`)
  return lines.join('\n') + '\n'
}
