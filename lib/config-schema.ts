import { Type, type Static } from '@sinclair/typebox'

// The one schema of config.toml: the seed's sections and keys, plus the few
// operator keys later issues added. The TypeScript type is derived from it.

const NonEmpty = (description: string) => Type.String({ minLength: 1, description })
// DNS names stop at 253 characters (RFC 1035); a longer host resolves nowhere.
const Host = (description: string) => Type.String({ minLength: 1, maxLength: 253, description })
// A plain JSON Schema enum, so a wrong value gets one error listing the choices.
function StringEnum<const T extends string> (values: readonly T[], options: { default?: NoInfer<T>, description: string }) {
  return Type.Unsafe<T>({ type: 'string', enum: values, ...options })
}
const Port = (fallback?: number) => Type.Integer({ minimum: 1, maximum: 65535, ...(fallback ? { default: fallback } : {}), description: 'TCP port, 1-65535' })

export const ServerSection = Type.Object({
  host: Type.String({ minLength: 1, maxLength: 253, default: '0.0.0.0', description: 'address to listen on; 0.0.0.0 accepts requests from anywhere' }),
  port: Port(8080),
  admin_token: Type.Optional(Type.String({ minLength: 16, description: 'at least 16 characters (e.g. openssl rand -hex 16); when set, /logs, /metrics and failure details need Authorization: Bearer <token>' })),
  drain_ms: Type.Integer({ minimum: 0, maximum: 120000, default: 5000, description: 'on SIGTERM, how long /health answers 503 before the listener closes, 0-120000 ms, so the load balancer stops sending first' })
}, { default: {} })

export const AwsSection = Type.Object({
  region: NonEmpty('AWS region, e.g. eu-central-1')
})

// For a local S3- or DynamoDB-compatible server (npm run demo uses one); AWS needs none.
const Endpoint = Type.Optional(Type.String({ pattern: '^https?://', description: 'an http:// or https:// URL of an S3- or DynamoDB-compatible server' }))

export const S3Section = Type.Object({
  bucket: NonEmpty('name of the S3 bucket'),
  endpoint: Endpoint
})

export const DatabaseSection = Type.Object({
  host: Host('MySQL/RDS endpoint'),
  port: Port(3306),
  user: NonEmpty('database user'),
  password: Type.String({ default: '', description: 'database password' }),
  dbname: NonEmpty('database name'),
  tls: StringEnum(['auto', 'required', 'off'], { default: 'auto', description: 'auto: TLS with the RDS CA bundle for *.rds.amazonaws.com hosts, plain otherwise' })
})

export const RedisSection = Type.Object({
  host: Host('Redis host or ElastiCache configuration endpoint'),
  port: Port(6379),
  tls: Type.Boolean({ default: false, description: 'true when the cluster has in-transit encryption' }),
  username: Type.Optional(NonEmpty('ACL user name (ElastiCache RBAC)')),
  password: Type.Optional(NonEmpty('AUTH token or ACL password'))
})

export const DynamodbSection = Type.Object({
  table: NonEmpty('DynamoDB table name'),
  partition_key: NonEmpty('name of the table\'s string partition key'),
  endpoint: Endpoint
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

export const ConfigSchema = Type.Object({
  server: ServerSection,
  log: LogSection,
  checks: ChecksSection,
  aws: Type.Optional(AwsSection),
  s3: Type.Optional(S3Section),
  database: Type.Optional(DatabaseSection),
  redis: Type.Optional(RedisSection),
  dynamodb: Type.Optional(DynamodbSection),
  demo: DemoSection
})

export type Config = Static<typeof ConfigSchema>
export type LogConfig = Static<typeof LogSection>

// Keys whose values never reach a log line, a response or an error text.
export const secretKeys = ['database.password', 'redis.password', 'server.admin_token']
