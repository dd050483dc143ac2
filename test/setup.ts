import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { needs, plan, present } from './harness/debian.ts'

// The first step of npm test: the real servers and tools the suites start, from Debian's
// packages. Missing ones are installed with one apt-get line when this runs as root (or sudo
// works without a password) on Debian or Ubuntu; otherwise npm test stops here at once with
// that line, instead of failing in the middle of a suite.

const isRoot = process.getuid?.() === 0
function elevate (): string[] | undefined {
  if (!existsSync('/etc/debian_version') || !present('apt-get')) return undefined
  if (isRoot) return []
  return spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0 ? ['sudo'] : undefined
}

const missing = needs.filter(need => !need.files.every(present))
const next = plan(missing, missing.length ? elevate() : undefined, isRoot)
if (next.action === 'stop') {
  process.stderr.write(next.message)
  process.exit(1)
}
if (next.action === 'install') {
  process.stdout.write(next.announce)
  try {
    for (const [command, ...args] of next.commands) execFileSync(command, args, { stdio: 'inherit' })
  } catch {
    process.stderr.write(`npm test: apt-get failed (see above); run ${next.commands.at(-1)!.join(' ')} yourself\n`)
    process.exit(1)
  }
}
