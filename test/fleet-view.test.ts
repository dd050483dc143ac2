import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fleetView, type Heartbeat } from '../lib/fleet-view.ts'

// The verdict alone, from heartbeats written by hand: what a student reads first.
const INTERVAL_MS = 1000
const NOW = 1_800_000_000_000

function instance (id: string, zone: string | null, redis: 'pass' | 'fail', ageMs = 0): Heartbeat {
  return {
    id,
    instanceId: zone ? id : null,
    availabilityZone: zone,
    privateIp: null,
    version: '0.1.0',
    uptime: 60,
    at: NOW - ageMs,
    backends: { redis: { status: redis, stage: redis === 'pass' ? 'request' : 'connect', durationMs: 3 }, s3: { status: 'pass', stage: 'request', durationMs: 20 } }
  }
}

function view (self: Heartbeat, others: Heartbeat[]) {
  return fleetView({ self, snapshot: { stores: ['redis'], at: NOW, heartbeats: others, problems: [] }, intervalMs: INTERVAL_MS, now: NOW })
}

test('a backend that fails on every instance is failing everywhere, not in a zone', () => {
  const { verdict } = view(instance('i-1', 'a', 'fail'), [instance('i-2', 'b', 'fail'), instance('i-3', 'b', 'fail')])
  assert.deepEqual(verdict.failingEverywhere, ['redis'])
  assert.deepEqual(verdict.failingInZones, [])
  assert.match(verdict.summary[0], /^redis fails on all 3 reporting instances/)
})

test('a zone where it fails on every instance is named; a lone instance failing in a working zone is named apart', () => {
  const { verdict, zones } = view(instance('i-1', 'a', 'pass'), [
    instance('i-2', 'a', 'fail'), instance('i-3', 'b', 'fail'), instance('i-4', 'b', 'fail'), instance('i-5', 'c', 'pass')
  ])
  assert.deepEqual(verdict.failingEverywhere, [])
  assert.deepEqual(verdict.failingInZones, [{ backend: 'redis', zones: ['b'] }])
  assert.deepEqual(verdict.failingOnInstances, [{ backend: 'redis', instances: ['i-2'] }])
  assert.deepEqual(zones.map(zone => [zone.zone, zone.instances.map(one => one.id)]), [['a', ['i-1', 'i-2']], ['b', ['i-3', 'i-4']], ['c', ['i-5']]])
})

test('an instance silent for two intervals stopped reporting and no longer counts; after three it is gone', () => {
  const { verdict, zones } = view(instance('i-1', 'a', 'pass'), [instance('i-2', 'b', 'fail', 2500), instance('i-3', 'b', 'pass', 3500)])
  assert.deepEqual(verdict.stoppedReporting.map(one => one.id), ['i-2'])
  assert.deepEqual(verdict.failingInZones, [])
  assert.deepEqual(zones.flatMap(zone => zone.instances.map(one => one.id)), ['i-1', 'i-2'])
  assert.match(verdict.summary.join('\n'), /i-2 stopped reporting 3 s ago/)
})

test('this instance is shown as it is now, and instances off EC2 come last', () => {
  const stale = instance('host:8080', null, 'fail', 500)
  const { zones, verdict } = view(instance('host:8080', null, 'pass'), [stale, instance('i-2', 'a', 'pass')])
  assert.deepEqual(zones.map(zone => zone.zone), ['a', null])
  assert.equal(zones[1].instances[0].backends.redis.status, 'pass')
  assert.deepEqual(verdict.summary, ['every backend works on all 2 instances'])
})

test('before any check has finished the verdict says so, not that every backend works', () => {
  const { verdict } = view({ ...instance('host:8080', null, 'pass'), backends: {} }, [])
  assert.deepEqual(verdict.summary, ['no check has finished yet on any reporting instance'])
})
