import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { readDashboardFiles } from '../routes/dashboard-files.ts'
import { report } from './report.ts'
import { hostBun, runtimeOf, targets } from './runtime.ts'

// npm run build: dist/suaicloudapp (x86-64) and dist/suaicloudapp-arm64 (Graviton), each one
// file with Bun's runtime and the bundled app inside (https://bun.com/docs/bundler/executables).
// Bun, not Node, because its Linux builds need only glibc 2.17 and no libstdc++: Node's own
// binaries need glibc 2.28 and do not start on Amazon Linux 2.

const root = resolve(import.meta.dirname, '..')
const dist = join(root, 'dist')

function gitCommit (): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'unknown'
  }
}

const compiler = hostBun()
const bunVersion = execFileSync(compiler, ['--version'], { encoding: 'utf8' }).trim()
const commit = gitCommit()
const dashboard = readDashboardFiles()
mkdirSync(dist, { recursive: true })
for (const target of targets) {
  const output = join(dist, target.file)
  // Unlink first: writing over an executable that is still running fails with ETXTBSY.
  rmSync(output, { force: true })
  execFileSync(compiler, [
    // The fleet heartbeat's thread is an entry point of its own (plugins/fleet.ts starts it).
    'build', 'cli.ts', 'lib/fleet-worker.ts', '--compile', '--outfile', output,
    // Precompiled to JavaScriptCore bytecode: start-up parses nothing (about half the time here).
    '--bytecode',
    // Each module a check imports on first use (the AWS SDK clients, node-redis, mariadb) in a
    // chunk of its own inside the file, read only then: in one bundle, a process that never ran
    // a check still held them all (94 MB at its first 200 from /health, against 81 MB split).
    '--splitting', '--format', 'esm',
    '--target', `bun-linux-${target.arch}`,
    '--compile-executable-path', runtimeOf(target),
    '--define', `SUAI_COMMIT=${JSON.stringify(commit)}`,
    // The dashboard's HTML, CSS and script, which the executable has no folder to read from.
    '--define', `SUAI_DASHBOARD=${JSON.stringify(dashboard)}`,
    // The executable reads config.toml and nothing else from its folder: a stray .env or
    // bunfig.toml there must not change how it runs.
    '--no-compile-autoload-dotenv', '--no-compile-autoload-bunfig'
  ], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
  report(output, `Bun ${bunVersion} (${target.runtime})`)
}
