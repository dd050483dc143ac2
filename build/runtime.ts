import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { arch } from 'node:process'
import { join, resolve } from 'node:path'

// The Bun runtime each executable is made of, taken from Bun's own npm packages, so the build
// needs the npm registry and nothing else. Both packages are optionalDependencies pinned in
// package-lock.json: npm installs the one for this machine's CPU and skips the other (its `cpu`
// field does not match), which the build then fetches with `npm pack` and checks against the
// lockfile's integrity.

export interface Target {
  // The file users upload, in dist/.
  file: string
  arch: 'x64' | 'arm64'
  // The Bun package holding that architecture's runtime. x64 takes the baseline build, which
  // runs on CPUs without AVX2 too (https://bun.com/docs/bundler/executables#cross-compile-to-other-platforms).
  runtime: string
}

export const targets: Target[] = [
  { file: 'suaicloudapp', arch: 'x64', runtime: '@oven/bun-linux-x64-baseline' },
  { file: 'suaicloudapp-arm64', arch: 'arm64', runtime: '@oven/bun-linux-aarch64' }
]

const root = resolve(import.meta.dirname, '..')
const require = createRequire(import.meta.url)
const cacheDir = join(root, 'node_modules', '.cache', 'suaicloudapp')

interface Locked { version: string, integrity: string }

function locked (name: string): Locked {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, Locked | undefined> }
  const entry = lock.packages[`node_modules/${name}`]
  if (!entry) throw new Error(`${name} is not in package-lock.json; add it with npm install --save-optional --save-exact ${name}`)
  return entry
}

// The Bun that runs here and compiles every target.
export function hostBun (): string {
  const host = targets.find(target => target.arch === arch)
  if (process.platform !== 'linux' || !host) {
    throw new Error(`the build runs on Linux x86-64 or arm64 (this is ${process.platform} ${arch}): the executables are made by Bun's Linux runtime`)
  }
  return runtimeOf(host)
}

// Path to the `bun` binary of a target: from node_modules when npm installed it, otherwise
// fetched once into node_modules/.cache.
export function runtimeOf (target: Target): string {
  const { version, integrity } = locked(target.runtime)
  try {
    const installed = require.resolve(`${target.runtime}/bin/bun`)
    const installedVersion = (require(`${target.runtime}/package.json`) as { version: string }).version
    if (installedVersion === version) return installed
  } catch {}

  const dir = join(cacheDir, `${target.runtime.replace('/', '+')}@${version}`)
  const bun = join(dir, 'package', 'bin', 'bun')
  if (existsSync(bun)) return bun
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const spec = `${target.runtime}@${version}`
  let packed: Array<{ filename: string }>
  try {
    packed = JSON.parse(execFileSync('npm', ['pack', spec, '--json', '--pack-destination', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }))
  } catch (err) {
    throw new Error(`cannot fetch ${spec} from the npm registry (${(err as Error).message.split('\n')[0]}); it holds Bun's ${target.arch} runtime`)
  }
  const tarball = join(dir, packed[0].filename)
  const [algorithm, expected] = integrity.split('-', 2)
  const actual = createHash(algorithm).update(readFileSync(tarball)).digest('base64')
  if (actual !== expected) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`${spec} from the registry does not match package-lock.json's integrity (${integrity}); refusing to build with it`)
  }
  execFileSync('tar', ['-xzf', tarball, '-C', dir, 'package/bin/bun'])
  rmSync(tarball)
  return bun
}
