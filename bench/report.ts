// One line of the table: a figure of ours beside the baseline it is compared with, in the same
// run. `met` is undefined for a figure shown for context, without a target.
export interface Row {
  figure: string
  ours: string
  baseline: string
  ratio: string
  target: string
  met?: boolean
}

// What a bench hands back: its rows, and its raw figures for bench/results.json.
export interface Section { rows: Row[], data: Record<string, unknown> }

export const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 0)} ms`
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
export const times = (ours: number, baseline: number) => `${(ours / baseline).toFixed(2)}×`

export function table (rows: Row[]): string {
  const cells = [
    ['figure', 'ours', 'baseline', 'ratio', 'target', 'met?'],
    ...rows.map(row => [row.figure, row.ours, row.baseline, row.ratio, row.target, row.met === undefined ? '' : row.met ? 'yes' : 'NO'])
  ]
  const widths = cells[0].map((_, column) => Math.max(...cells.map(line => line[column].length)))
  const line = (values: string[]) => `| ${values.map((value, column) => value.padEnd(widths[column])).join(' | ')} |`
  return [line(cells[0]), `|${widths.map(width => '-'.repeat(width + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n')
}
