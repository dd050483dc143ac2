import type { SharedRecords } from './backend.ts'
import type { CheckResult } from './check.ts'
import type { Heartbeat, Snapshot } from './fleet-view.ts'
import type { InstanceLookup } from './imds.ts'
import { version } from './version.ts'

// One heartbeat of the fleet (plugins/fleet.ts runs them in a thread of their own): run this
// instance's checks, publish who it is and how each backend answered through the first shared
// store whose check passes ([redis], else the [dynamodb] table), and read every other instance's
// heartbeat from every store that works.

// Who this instance is, as the fleet names it.
export type Identity = Pick<Heartbeat, 'id' | 'instanceId' | 'availabilityZone' | 'privateIp'>

// Off EC2 there is no instance id: `localId` (host name and port) tells two local instances apart.
export function identityOf ({ instance }: InstanceLookup, localId: string): Identity {
  return {
    id: instance?.instanceId ?? localId,
    instanceId: instance?.instanceId ?? null,
    availabilityZone: instance?.availabilityZone ?? null,
    privateIp: instance?.privateIp ?? null
  }
}

// This instance now, from the checks' latest results: never their messages or hints, which can
// hold a host name or a secret.
export function heartbeatOf (identity: Identity, results: CheckResult[]): Heartbeat {
  return {
    ...identity,
    version,
    uptime: Math.round(process.uptime()),
    at: Date.now(),
    backends: Object.fromEntries(results.map(({ backend, status, stage, durationMs }) => [backend, { status, stage, durationMs }]))
  }
}

// A configured backend as a heartbeat uses it: its check, and its records when every instance
// shares it.
export interface Beating {
  name: string
  check: () => Promise<CheckResult>
  records?: SharedRecords
}

export interface BeatOptions {
  backends: Beating[]
  identity: Identity
  intervalMs: number
  timeoutMs: number
  scrub: (text: string) => string
  // Aborts the store calls in flight, so a shutdown never waits for their timeout.
  closing: AbortSignal
}

// Every store call is bounded by timeoutMs; a store that fails is a problem of the snapshot,
// never an error of the heartbeat.
export async function beat ({ backends, identity, intervalMs, timeoutMs, scrub, closing }: BeatOptions): Promise<{ snapshot: Snapshot, results: CheckResult[] }> {
  const results = await Promise.all(backends.map(backend => backend.check()))
  const self = heartbeatOf(identity, results)
  const record = JSON.stringify(self)
  const seen = new Map<string, Heartbeat>()
  const stores: string[] = []
  const problems: string[] = []
  for (const [i, { name, records }] of backends.entries()) {
    if (!records || closing.aborted) continue
    if (results[i].status === 'fail') { problems.push(`${name}: its check fails (${results[i].stage})`); continue }
    const publish = () => bounded(signal => records.publish(self.id, record, 3 * intervalMs, signal), timeoutMs, closing)
    try {
      // The first store that works gets the heartbeat. A later one gets it too only when it
      // holds instances the first does not have: they cannot reach the first, so they must see
      // us here.
      let found = (stores.length === 0 ? await publish() : await bounded(signal => records.read(signal), timeoutMs, closing)).flatMap(parse)
      if (stores.length > 0 && found.some(heartbeat => !seen.has(heartbeat.id))) found = (await publish()).flatMap(parse)
      for (const heartbeat of found) {
        if ((seen.get(heartbeat.id)?.at ?? -Infinity) < heartbeat.at) seen.set(heartbeat.id, heartbeat)
      }
      stores.push(name)
    } catch (err) {
      problems.push(`${name}: ${scrub(String((err as Error)?.message ?? err))}`)
    }
  }
  return { snapshot: { stores, at: Date.now(), heartbeats: [...seen.values()], problems }, results }
}

// Bounded by its own timeout and by the close, whatever the store's client does with the signal.
function bounded<T> (work: (signal: AbortSignal) => Promise<T>, timeoutMs: number, closing: AbortSignal): Promise<T> {
  const signal = AbortSignal.any([closing, AbortSignal.timeout(timeoutMs)])
  const aborted = new Promise<never>((_resolve, reject) => {
    const stop = () => reject(closing.aborted ? closing.reason : new Error(`no answer within ${timeoutMs} ms`))
    if (signal.aborted) stop()
    signal.addEventListener('abort', stop, { once: true })
  })
  const working = work(signal)
  // Its late failure is no longer anyone's news.
  working.catch(() => {})
  return Promise.race([working, aborted])
}

// A record another instance wrote: kept only when it has the fields the view reads.
function parse (record: string): Heartbeat[] {
  try {
    const heartbeat = JSON.parse(record) as Heartbeat
    return typeof heartbeat.id === 'string' && typeof heartbeat.at === 'number' && typeof heartbeat.backends === 'object' ? [heartbeat] : []
  } catch {
    return []
  }
}
