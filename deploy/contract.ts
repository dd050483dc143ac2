// What the stack and config.toml share: the app's port and, for every config.toml value the
// stack creates, the name of the stack output that carries it. stack.ts must output each one
// (its type says so) and write-config.ts reads them back by these names.

export const stackName = 'suaicloudapp'
export const appPort = 8080

export const configOutputs = [
  { output: 'AwsRegion', section: 'aws', key: 'region', integer: false },
  { output: 'S3Bucket', section: 's3', key: 'bucket', integer: false },
  { output: 'DatabaseHost', section: 'database', key: 'host', integer: false },
  { output: 'DatabasePort', section: 'database', key: 'port', integer: true },
  { output: 'DatabaseUser', section: 'database', key: 'user', integer: false },
  { output: 'DatabaseName', section: 'database', key: 'dbname', integer: false },
  { output: 'RedisHost', section: 'redis', key: 'host', integer: false },
  { output: 'RedisPort', section: 'redis', key: 'port', integer: true },
  { output: 'DynamoDbTable', section: 'dynamodb', key: 'table', integer: false },
  { output: 'DynamoDbPartitionKey', section: 'dynamodb', key: 'partition_key', integer: false }
] as const

export type ConfigOutput = typeof configOutputs[number]['output']

// Outputs that are not config values: where to look, and what write-config.ts refreshes.
export const loadBalancerUrlOutput = 'LoadBalancerUrl' as const
export const autoScalingGroupOutput = 'AutoScalingGroupName' as const

// The RDS master password is a NoEcho parameter, so no output can carry it back: write-config.ts
// takes it from the same variable the app itself reads as an override.
export const passwordVariable = 'SUAI_DATABASE_PASSWORD'
