import { test } from 'node:test'
import assert from 'node:assert/strict'
import { needs, plan } from './harness/debian.ts'

// What npm test's first step does when packages are missing (test/setup.ts runs the plan).
const [chromium, qemu] = ['chromium', 'qemu-user-static'].map(name => needs.find(need => need.package === name)!)

test('nothing missing: nothing to do', () => {
  assert.deepEqual(plan([], undefined, false), { action: 'none' })
})

test('missing packages without root or sudo: stop with the one apt-get line and why each is needed', () => {
  const next = plan([chromium, qemu], undefined, false)
  assert.equal(next.action, 'stop')
  assert.equal(next.action === 'stop' && next.message,
    'npm test needs Debian packages that are not installed:\n' +
    '  chromium: the dashboard test\n' +
    '  qemu-user-static: running the arm64 executable\n' +
    'Install them, then run npm test again:\n' +
    '  sudo apt-get install -y --no-install-recommends chromium qemu-user-static\n')
})

test('missing packages as root: apt-get update, then one install line', () => {
  const next = plan([chromium], [], true)
  assert.equal(next.action, 'install')
  assert.deepEqual(next.action === 'install' && next.commands, [
    ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'update', '-q'],
    ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '--no-install-recommends', 'chromium']
  ])
})

test('missing packages with a working sudo: the same commands through sudo', () => {
  const next = plan([qemu], ['sudo'], false)
  assert.equal(next.action === 'install' && next.commands.every(command => command[0] === 'sudo'), true)
})
