import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checks } from './checks.ts'
import { fleet } from './fleet.ts'
import { logs } from './logs.ts'
import { table, type Row, type Section } from './report.ts'
import { bun, pinLoad, placement, root } from './servers.ts'
import { soak } from './soak.ts'
import { startup } from './startup.ts'
import { throughput } from './throughput.ts'

// npm run bench: every bench in one go, one table, one bench/results.json. `npm run bench --
// NAME…` runs only those. Everything it starts listens on loopback and is stopped at the end.
process.env.AWS_EC2_METADATA_DISABLED = 'true'
pinLoad()

const benches: Record<string, () => Promise<Section>> = { throughput, checks, logs, startup, fleet, soak }
const chosen = process.argv.slice(2)
const unknown = chosen.filter(name => !(name in benches))
if (unknown.length) {
  console.error(`unknown bench ${unknown.join(', ')}; choose from ${Object.keys(benches).join(', ')}`)
  process.exit(2)
}

const rows: Row[] = []
const data: Record<string, unknown> = {}
for (const [name, bench] of Object.entries(benches)) {
  if (chosen.length && !chosen.includes(name)) continue
  const started = performance.now()
  process.stderr.write(`${name}… `)
  const section = await bench()
  process.stderr.write(`${((performance.now() - started) / 1000).toFixed(0)} s\n`)
  rows.push(...section.rows)
  data[name] = section.data
}

const bunVersion = execFileSync(bun, ['--version'], { encoding: 'utf8' }).trim()
console.log(`\nBun ${bunVersion} is the executable's runtime and runs every baseline server but the one marked Node 24; the load and the raw clients run on Node ${process.version}; ${placement}. Loopback, ${new Date().toISOString().slice(0, 10)}.\n`)
console.log(table(rows))
const results = join(root, 'bench', 'results.json')
writeFileSync(results, JSON.stringify({ at: new Date().toISOString(), bun: bunVersion, clientNode: process.version, rows, ...data }, null, 2) + '\n')
console.log(`\nwritten to ${results}`)
