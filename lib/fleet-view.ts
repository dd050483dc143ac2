import type { Stage, Status } from './check.ts'

// The fleet as a student needs it first: which backends fail on every instance (a setting they
// all share: an endpoint, a password, the table, the role), which fail only in some availability
// zones (one AZ's subnet, route table or security group), and which instances stopped reporting.
// Pure: it reads heartbeats, never a store.

// What one instance publishes. Never a check's message or hint: they can hold a host or a secret.
export interface Heartbeat {
  // The EC2 instance id, or host name:port off EC2.
  id: string
  instanceId: string | null
  availabilityZone: string | null
  privateIp: string | null
  version: string
  // Seconds since this instance started, at `at`.
  uptime: number
  // When it was published (ms since the epoch, the writer's clock).
  at: number
  backends: Record<string, { status: Status, stage: Stage, durationMs: number }>
}

export interface Snapshot {
  // The backends the heartbeats were read from, the one published to first; none when no store worked.
  stores: string[]
  at: number
  heartbeats: Heartbeat[]
  // Why a store was not used.
  problems: string[]
}

export interface ViewOptions {
  self: Heartbeat
  snapshot: Snapshot
  intervalMs: number
  now: number
}

export function fleetView ({ self, snapshot, intervalMs, now }: ViewOptions) {
  const seen = new Map(snapshot.heartbeats.filter(heartbeat => now - heartbeat.at <= 3 * intervalMs).map(heartbeat => [heartbeat.id, heartbeat]))
  // This instance as it is now, not as it was at its last heartbeat.
  seen.set(self.id, self)
  const instances = [...seen.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map(heartbeat => ({ ...heartbeat, ageMs: now - heartbeat.at, self: heartbeat.id === self.id || undefined }))
  // Two intervals without a heartbeat: it missed one, with a margin for a slow check.
  const late = instances.filter(instance => instance.ageMs > 2 * intervalMs)
  const reporting = instances.filter(instance => !late.includes(instance))

  const zoneNames = [...new Set(instances.map(instance => instance.availabilityZone))].sort(byZone)
  const zones = zoneNames.map(zone => ({ zone, instances: instances.filter(instance => instance.availabilityZone === zone) }))

  const failingEverywhere: string[] = []
  const failingInZones: Array<{ backend: string, zones: Array<string | null> }> = []
  const failingOnInstances: Array<{ backend: string, instances: string[] }> = []
  const backendNames = [...new Set(reporting.flatMap(instance => Object.keys(instance.backends)))].sort()
  for (const backend of backendNames) {
    const reporters = reporting.filter(instance => instance.backends[backend])
    const fails = (instance: Heartbeat) => instance.backends[backend]?.status === 'fail'
    const failing = reporters.filter(fails)
    if (failing.length === 0) continue
    if (failing.length === reporters.length) { failingEverywhere.push(backend); continue }
    // A zone where it fails on every instance that checks it: that zone's network.
    const zonesDown = zoneNames.filter(zone => reporters.some(instance => instance.availabilityZone === zone) &&
      reporters.filter(instance => instance.availabilityZone === zone).every(fails))
    if (zonesDown.length > 0) failingInZones.push({ backend, zones: zonesDown })
    const alone = failing.filter(instance => !zonesDown.includes(instance.availabilityZone)).map(instance => instance.id)
    if (alone.length > 0) failingOnInstances.push({ backend, instances: alone })
  }
  const stoppedReporting = late.map(({ id, availabilityZone, at, ageMs }) => ({ id, availabilityZone, lastSeen: new Date(at).toISOString(), ageMs }))

  return {
    source: {
      stores: snapshot.stores,
      at: new Date(snapshot.at).toISOString(),
      problems: snapshot.problems,
      ...(snapshot.stores.length === 0 ? { note: `this instance only: ${snapshot.problems.join('; ')}` } : {})
    },
    self: self.id,
    intervalMs,
    verdict: {
      summary: backendNames.length === 0
        ? ['no check has finished yet on any reporting instance']
        : summary(reporting.length, failingEverywhere, failingInZones, failingOnInstances, stoppedReporting),
      failingEverywhere,
      failingInZones,
      failingOnInstances,
      stoppedReporting
    },
    zones
  }
}

export type FleetView = ReturnType<typeof fleetView>

function summary (
  count: number,
  everywhere: string[],
  inZones: Array<{ backend: string, zones: Array<string | null> }>,
  onInstances: Array<{ backend: string, instances: string[] }>,
  stopped: Array<{ id: string, ageMs: number }>
): string[] {
  const lines = [
    ...everywhere.map(backend => `${backend} fails on ${count === 1 ? 'the only reporting instance' : `all ${count} reporting instances`}: look at what they share (its endpoint, credentials, permissions), not at one AZ`),
    ...inZones.map(({ backend, zones }) => `${backend} fails only in ${zones.map(zoneName).join(', ')}: look at that AZ's subnet, route table and security groups (is ${backend} reachable from every AZ's private subnet?)`),
    ...onInstances.map(({ backend, instances }) => `${backend} fails only on ${instances.join(', ')}, not on the others of its AZ: look at that instance (its config.toml, its security group)`),
    ...stopped.map(({ id, ageMs }) => `${id} stopped reporting ${Math.round(ageMs / 1000)} s ago`)
  ]
  return lines.length > 0 ? lines : [`every backend works on ${count === 1 ? 'the only instance' : `all ${count} instances`}`]
}

function zoneName (zone: string | null): string {
  return zone ?? 'instances outside EC2'
}

// Zones in order, instances without one last.
function byZone (a: string | null, b: string | null): number {
  return a === b ? 0 : a === null ? 1 : b === null ? -1 : a.localeCompare(b)
}
