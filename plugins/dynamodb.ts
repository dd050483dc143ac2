import { hostname } from 'node:os'
import { backendPlugin, CheckFailure, defineCheck, type BackendDeps } from '../lib/check.ts'
import { clientOptions, lazyClient, send, type AwsError } from '../lib/aws.ts'
import type { Config } from '../lib/config.ts'

// The table: described (never listed: ListTables needs a wider permission), its key schema
// held to the seed's (one String partition key, no sort key), then a probe item written,
// read and deleted.
export function createDynamodb (config: Config, deps: BackendDeps) {
  const section = config.dynamodb
  if (!section) return undefined
  const { table, partition_key: partitionKey } = section
  const probeId = `suaicloudapp-probe-${hostname()}`
  const aws = lazyClient(async () => {
    const sdk = await import('@aws-sdk/client-dynamodb')
    return { sdk, client: new sdk.DynamoDBClient(clientOptions(config, section.endpoint, deps)) }
  })

  const check = defineCheck({
    ...deps,
    backend: 'dynamodb',
    section,
    classify,
    reset: () => {}
  }, async ctx => {
    const { sdk, client: dynamo } = await aws.ready(ctx)
    const { Table: description } = await send(ctx, 'dynamodb:DescribeTable', options =>
      dynamo.send(new sdk.DescribeTableCommand({ TableName: table }), options))
    ctx.detail('status', description?.TableStatus)
    ctx.detail('keySchema', description?.KeySchema?.map(key => `${key.AttributeName} (${key.KeyType})`))

    ctx.stage('schema')
    const keys = description?.KeySchema ?? []
    const hash = keys.find(key => key.KeyType === 'HASH')
    const range = keys.find(key => key.KeyType === 'RANGE')
    const hashType = description?.AttributeDefinitions?.find(attribute => attribute.AttributeName === hash?.AttributeName)?.AttributeType
    if (range) throw new CheckFailure('schema', `the table has a sort key '${range.AttributeName}'; the seed's table has a partition key only`, 'schema')
    if (hash?.AttributeName !== partitionKey) throw new CheckFailure('schema', `the table's partition key is '${hash?.AttributeName}', config.toml says '${partitionKey}'`, 'schema')
    if (hashType !== 'S') throw new CheckFailure('schema', `the partition key '${partitionKey}' is of type ${hashType} (${({ N: 'Number', B: 'Binary' } as Record<string, string>)[hashType ?? ''] ?? 'unknown'}); it must be S (String)`, 'schema')
    if (description?.TableStatus !== 'ACTIVE') ctx.warn(`the table is ${description?.TableStatus}, not ACTIVE yet`)

    ctx.stage('request')
    const Key = { [partitionKey]: { S: probeId } }
    await send(ctx, 'dynamodb:PutItem', options =>
      dynamo.send(new sdk.PutItemCommand({ TableName: table, Item: { ...Key, checkedAt: { N: String(Date.now()) } } }), options))
    const { Item } = await send(ctx, 'dynamodb:GetItem', options =>
      dynamo.send(new sdk.GetItemCommand({ TableName: table, Key, ConsistentRead: true }), options))
    if (!Item) throw new CheckFailure('request', `wrote the probe item ${probeId} but could not read it back`)
    await send(ctx, 'dynamodb:DeleteItem', options => dynamo.send(new sdk.DeleteItemCommand({ TableName: table, Key }), options))
  })

  return { check, close: aws.close }
}

function classify (err: unknown): CheckFailure | undefined {
  const e = err as AwsError
  if (e.name === 'ResourceNotFoundException') return new CheckFailure('not_found', 'the table does not exist in this region', 'not_found')
  return undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    dynamodb: NonNullable<ReturnType<typeof createDynamodb>>
  }
}

export default backendPlugin('dynamodb', createDynamodb)
