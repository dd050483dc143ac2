import { Type, type Static } from '@sinclair/typebox'

// The one schema of config.toml: the seed's sections and keys, plus the few
// operator keys later issues added. The TypeScript type is derived from it.

const NonEmpty = (description: string) => Type.String({ minLength: 1, description })
// A plain JSON Schema enum, so a wrong value gets one error listing the choices.
function StringEnum<const T extends string> (values: readonly T[], options: { default?: NoInfer<T>, description: string }) {
  return Type.Unsafe<T>({ type: 'string', enum: values, ...options })
}
const Port = (fallback?: number) => Type.Integer({ minimum: 1, maximum: 65535, ...(fallback ? { default: fallback } : {}), description: 'TCP port, 1-65535' })

export const ServerSection = Type.Object({
  host: Type.String({ minLength: 1, default: '0.0.0.0', description: 'address to listen on; 0.0.0.0 accepts requests from anywhere' }),
  port: Port(8080)
}, { default: {} })

export const AwsSection = Type.Object({
  region: NonEmpty('AWS region, e.g. eu-central-1')
})

export const S3Section = Type.Object({
  bucket: NonEmpty('name of the S3 bucket')
})

export const DatabaseSection = Type.Object({
  host: NonEmpty('MySQL/RDS endpoint'),
  port: Port(3306),
  user: NonEmpty('database user'),
  password: Type.String({ default: '', description: 'database password' }),
  dbname: NonEmpty('database name')
})

export const RedisSection = Type.Object({
  host: NonEmpty('Redis host or ElastiCache configuration endpoint'),
  port: Port(6379)
})

export const DynamodbSection = Type.Object({
  table: NonEmpty('DynamoDB table name'),
  partition_key: NonEmpty('name of the table\'s string partition key')
})

export const LogSection = Type.Object({
  file: Type.String({ minLength: 1, default: 'output.log', description: 'log file, relative to the working directory' }),
  level: StringEnum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], { default: 'info', description: 'minimum level written to the log' }),
  max_size_mb: Type.Integer({ minimum: 1, maximum: 1024, default: 10, description: 'rotate the log file at this size, 1-1024' }),
  files: Type.Integer({ minimum: 1, maximum: 100, default: 3, description: 'rotated files to keep, 1-100' })
}, { default: {} })

export const ConfigSchema = Type.Object({
  server: ServerSection,
  log: LogSection,
  aws: Type.Optional(AwsSection),
  s3: Type.Optional(S3Section),
  database: Type.Optional(DatabaseSection),
  redis: Type.Optional(RedisSection),
  dynamodb: Type.Optional(DynamodbSection)
})

export type Config = Static<typeof ConfigSchema>
export type LogConfig = Static<typeof LogSection>

// Keys whose values never reach a log line, a response or an error text.
export const secretKeys = ['database.password']
