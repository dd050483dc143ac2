import type { Static, TObject } from '@sinclair/typebox'
import type { CheckLog, CheckResult } from './check.ts'
import type { Hints } from './hints.ts'
import type { Imds } from './imds.ts'
import type { Lookup } from './lookup.ts'

// The contract of a backend: everything particular to one lives in its own file in plugins/,
// as one BackendDefinition; plugins/backends.ts lists them once.

export interface Backend {
  check: () => Promise<CheckResult>
  close: () => Promise<void>
  // Offered by a backend every instance shares (Redis, the DynamoDB table): plugins/fleet.ts
  // publishes heartbeats through it, over the backend's own connection.
  records?: SharedRecords
}

// Small records, one per writer, that every instance can read, each expiring ttlMs after its
// last write. `publish` writes this writer's record and answers every live one (its own too), so
// a heartbeat costs one exchange; `read` only reads. Both throw when the store cannot be
// reached; `signal` aborts them.
export interface SharedRecords {
  publish: (id: string, record: string, ttlMs: number, signal: AbortSignal) => Promise<string[]>
  read: (signal: AbortSignal) => Promise<string[]>
}

// What a backend is given besides its config section: the engine's settings, and the outside
// world (environment, instance metadata, DNS), so tests hand in their own.
export interface BackendDeps {
  log: CheckLog
  timeoutMs: number
  cacheMs: number
  scrub: (text: string) => string
  // [aws] region, when config.toml sets one.
  awsRegion?: string
  env: NodeJS.ProcessEnv
  imds: Imds
  lookup: Lookup
}

export interface BackendDefinition<Name extends string = string, Section extends TObject = TObject> {
  // The config section, the URL path (/name) and the label on /metrics.
  name: Name
  // For the dashboard's card: a title and what it is.
  title: string
  kind: string
  // How /checks types it (draft-inadarei-api-health-check componentType).
  componentType: 'datastore' | 'component'
  // The schema of its config section; the config's schema is assembled from these.
  section: Section
  // Its own hints, which win over the general ones of lib/hints.ts.
  hints: Hints
  // Builds the backend from its validated section. Never connects: the first check does.
  create (section: Static<Section>, deps: BackendDeps): Backend
}

// Only for inference: the name stays a literal type, the section's type follows its schema.
export function defineBackend<const Name extends string, Section extends TObject> (definition: BackendDefinition<Name, Section>): BackendDefinition<Name, Section> {
  return definition
}

export type BackendList = readonly BackendDefinition[]

// The config's backend sections, typed from a list of backends: each one optional.
export type BackendSections<List extends BackendList> = {
  [Definition in List[number] as Definition['name']]?: Static<Definition['section']>
}
