import { Type, type Static, type TObject } from '@sinclair/typebox'
import type { BackendList, BackendSections } from './backend.ts'
import { NonEmpty, StringEnum } from './schema.ts'

// The schema of config.toml: the sections of the app itself, written here, and one section per
// backend, taken from the list of backends. The TypeScript type is derived from it.

export const ServerSection = Type.Object({
  host: Type.String({ minLength: 1, maxLength: 253, default: '0.0.0.0', description: 'address to listen on; 0.0.0.0 accepts requests from anywhere' }),
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 8080, description: 'TCP port, 1-65535' }),
  admin_token: Type.Optional(Type.String({ minLength: 16, writeOnly: true, description: 'at least 16 characters (e.g. openssl rand -hex 16); when set, /logs, /metrics and failure details need Authorization: Bearer <token>' })),
  drain_ms: Type.Integer({ minimum: 0, maximum: 120000, default: 5000, description: 'on SIGTERM, how long /health answers 503 before the listener closes, 0-120000 ms, so the load balancer stops sending first' })
}, { default: {} })

export const AwsSection = Type.Object({
  region: NonEmpty('AWS region, e.g. eu-central-1')
})

export const ChecksSection = Type.Object({
  timeout_ms: Type.Integer({ minimum: 100, maximum: 60000, default: 3000, description: 'how long one check may take, 100-60000 ms; keep it under the load balancer\'s health-check timeout' }),
  cache_ms: Type.Integer({ minimum: 0, maximum: 60000, default: 1000, description: 'how long a check result is reused, 0-60000 ms, so a probe flood does not become a query flood' })
}, { default: {} })

export const LogSection = Type.Object({
  file: Type.String({ minLength: 1, default: 'output.log', description: 'log file, relative to the working directory' }),
  level: StringEnum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], { default: 'info', description: 'minimum level written to the log' }),
  max_size_mb: Type.Integer({ minimum: 1, maximum: 1024, default: 10, description: 'rotate the log file at this size, 1-1024' }),
  files: Type.Integer({ minimum: 1, maximum: 100, default: 3, description: 'rotated files to keep, 1-100' })
}, { default: {} })

// Switches for course labs that break this instance on purpose; off unless asked for.
export const DemoSection = Type.Object({
  enabled: Type.Boolean({ default: false, description: 'true adds POST /demo/health/fail, /demo/health/recover and /demo/cpu for labs (failover, scale-out)' })
}, { default: {} })

// Each instance publishes a heartbeat through [redis] (else the [dynamodb] table), so any one of
// them can show the whole fleet on GET /fleet.
export const FleetSection = Type.Object({
  enabled: Type.Boolean({ default: true, description: 'false stops the heartbeat: GET /fleet then shows this instance only' }),
  interval_ms: Type.Integer({ minimum: 100, maximum: 300000, default: 5000, description: 'how often this instance runs its checks and publishes its heartbeat, 100-300000 ms; an instance silent for 3 intervals leaves the fleet' })
}, { default: {} })

export const AppSections = Type.Object({
  server: ServerSection,
  log: LogSection,
  checks: ChecksSection,
  aws: Type.Optional(AwsSection),
  demo: DemoSection,
  fleet: FleetSection
})

export type AppConfig = Static<typeof AppSections>
export type Config<List extends BackendList = BackendList> = AppConfig & BackendSections<List>
export type LogConfig = Static<typeof LogSection>

// Every section's schema by name, the app's first, then one per backend.
export function sectionSchemas (backends: BackendList): Record<string, TObject> {
  return {
    ...AppSections.properties as unknown as Record<string, TObject>,
    ...Object.fromEntries(backends.map(backend => [backend.name, backend.section]))
  }
}

// Keys whose values never reach a log line, a response or an error text: those a section's
// schema marks writeOnly (JSON Schema's word for a value given but never shown).
export function secretKeys (sections: Record<string, TObject>): string[] {
  return Object.entries(sections).flatMap(([section, schema]) => Object.entries(schema.properties)
    .filter(([, key]) => (key as { writeOnly?: boolean }).writeOnly)
    .map(([key]) => `${section}.${key}`))
}
