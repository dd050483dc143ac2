import { execFileSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import * as esbuild from 'esbuild'

const root = resolve(import.meta.dirname, '..')
export const distDir = join(root, 'dist')

function gitCommit (): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'unknown'
  }
}

// One CommonJS file with every dependency inside: both SEA and pkg run a
// single CJS script and cannot require() anything from node_modules.
export async function bundle (): Promise<string> {
  const outfile = join(distDir, 'suaicloudapp.cjs')
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['cli.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: false,
    legalComments: 'none',
    // import() of what stays outside the bundle (builtins) becomes require():
    // code compiled by vm.Script, as pkg's bytecode loader does, has no import().
    supported: { 'dynamic-import': false },
    define: { SUAI_COMMIT: JSON.stringify(gitCommit()) },
    logLevel: 'warning'
  })
  if (result.warnings.length > 0) {
    throw new Error(`esbuild gave ${result.warnings.length} warning(s), see above`)
  }
  return outfile
}
