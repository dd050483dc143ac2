import { loadConfig, type ConfigProblem, type LoadOptions } from '../lib/config.ts'
import { backends } from '../plugins/backends.ts'

// Checks the config without touching a backend: exit 0 when valid, 2 when not.
export function validate (options: LoadOptions): number {
  const loaded = loadConfig(options, backends)
  for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`)
  if (!loaded.ok) return printProblems(loaded.problems)
  const names = backends.map(backend => backend.name)
  const configured = names.filter(name => loaded.config[name])
  const missing = names.filter(name => !loaded.config[name])
  process.stdout.write(`${loaded.file}: valid\nchecks configured: ${configured.join(', ') || 'none'}${missing.length ? `; not configured: ${missing.join(', ')}` : ''}\n`)
  return 0
}

// Every problem with its excerpt on stderr; returns the exit code of an invalid config.
export function printProblems (problems: ConfigProblem[]): 2 {
  for (const problem of problems) {
    process.stderr.write(`${problem.message}\n${problem.excerpt ? problem.excerpt + '\n' : ''}`)
  }
  process.stderr.write(`${problems.length} problem${problems.length === 1 ? '' : 's'} in the config\n`)
  return 2
}
