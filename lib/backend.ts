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
