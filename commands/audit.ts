import type { AuditRow, AuditStatus } from '../lib/audit.ts'
import type { LoadOptions } from '../lib/config.ts'
import { buildServer, type BuildOptions } from '../server.ts'
import { printProblems } from './validate.ts'

// The environment held against the course's instructions, once, with read-only calls: exit 0
// when no row fails, 1 when one does, 2 when the config is invalid (as check). Bounded by the
// audit's budget (plugins/audit.ts AUDIT_BUDGET_MS).
export async function audit (options: LoadOptions, { json }: { json: boolean }, build: BuildOptions = {}): Promise<number> {
  // Neither a listener nor a log file, as for check.
  const { fastify, loaded, close } = await buildServer(options, { ...build, log: false })
  try {
    if (!loaded.ok) return printProblems(loaded.problems)
    await fastify.ready()
    const report = await fastify.audit.run({ serving: false })
    const colour = process.stdout.isTTY && process.stdout.hasColors()
    process.stdout.write(json ? JSON.stringify(report, null, 2) + '\n' : renderTable(report.rows, loaded.file ?? '', colour))
    return report.rows.some(row => row.status === 'fail') ? 1 : 0
  } finally {
    await close()
  }
}

const ANSI: Record<AuditStatus, string> = { pass: '32', warn: '33', fail: '31', unknown: '2' }

function renderTable (rows: AuditRow[], file: string, colour: boolean): string {
  const paint = (code: string, text: string) => colour ? `\x1b[${code}m${text}\x1b[0m` : text
  const width = Math.max(...rows.map(row => row.status.length), 'STATUS'.length)
  const indent = ' '.repeat(width + 2)
  const lines = [paint('1', `${'STATUS'.padEnd(width)}  INSTRUCTION`)]
  for (const row of rows) {
    lines.push(`${paint(ANSI[row.status], row.status.padEnd(width))}  ${row.instruction}`)
    lines.push(`${indent}${paint('2', `found: ${row.evidence}`)}`)
    if (row.fix) lines.push(`${indent}fix: ${row.fix}`)
  }
  const counts = (Object.keys(ANSI) as AuditStatus[])
    .map(status => [status, rows.filter(row => row.status === status).length] as const)
    .filter(([, count]) => count > 0)
    .map(([status, count]) => `${count} ${status}`)
  lines.push('', `${file}: ${counts.join(', ')}`)
  return lines.join('\n') + '\n'
}
