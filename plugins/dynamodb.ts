import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { TableDescription } from '@aws-sdk/client-dynamodb'
import { Type, type Static } from '@sinclair/typebox'
import { clientOptions, lazyClient } from '../lib/aws.ts'
import { awsApiHints, deniedHint, type AwsError } from '../lib/aws-errors.ts'
import { defineBackend, type BackendDeps } from '../lib/backend.ts'
import { CheckFailure, defineCheck } from '../lib/check.ts'
import { pinpointer } from '../lib/explain.ts'
import type { Hints } from '../lib/hints.ts'
import { dynamodbRecords } from '../lib/records-dynamodb.ts'
import { Endpoint, NonEmpty } from '../lib/schema.ts'

export const DynamodbSection = Type.Object({
  table: NonEmpty('DynamoDB table name'),
  partition_key: NonEmpty('name of the table\'s string partition key'),
  endpoint: Endpoint
})

const hints: Hints = {
  ...awsApiHints,
  connect_timeout: c => c.endpoint ? `no answer from ${c.endpoint}: check [dynamodb] endpoint` : `no route to the DynamoDB API: this subnet's route table (VPC → Route tables) needs a route to a NAT gateway, or to a gateway endpoint for DynamoDB of this region (com.amazonaws.${c.region}.dynamodb) (an endpoint of another region does not serve this one), and the security group must allow outbound TCP 443`,
  permission: c => deniedHint({ ...c, resource: c.resource ?? `arn:aws:dynamodb:${c.region}:<account>:table/${c.table}` }, { resourcePolicy: `the resource-based policy of table ${c.table} (DynamoDB → Tables → ${c.table} → Permissions)`, thing: 'table' }),
  not_found: c => `there is no table '${c.table}' in ${c.region}: check [dynamodb] table and [aws] region (tables are per region)`,
  schema: c => `the seed needs a table whose primary key is only a partition key '${c.partition_key}' of type String: recreate the table that way, or set [dynamodb] partition_key to the table's key`
}

// The table: described (never listed: ListTables needs a wider permission), its key schema
// held to the seed's (one String partition key, no sort key), then a probe item written,
// read and deleted.
function createDynamodb (section: Static<typeof DynamodbSection>, deps: BackendDeps) {
  const { table, partition_key: partitionKey } = section
  // Its own per process and per app: two on one host (the service and a `check`) must not
  // delete each other's probe between its write and its read.
  const probeId = `suaicloudapp-probe-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`
  const aws = lazyClient(deps, async () => {
    const sdk = await import('@aws-sdk/client-dynamodb')
    return { sdk, client: new sdk.DynamoDBClient(clientOptions('DYNAMODB', deps, section.endpoint)) }
  })

  // A failure to reach AWS's API is explained from this VPC's routes, endpoints and rules; a
  // custom endpoint is a server of the student's own.
  const pinpoint = section.endpoint
    ? undefined
    : pinpointer(deps, {
      backend: 'dynamodb',
      requests: (region, account) => ['DescribeTable', 'PutItem', 'GetItem', 'DeleteItem'].map(action => ({ action: `dynamodb:${action}`, resource: `arn:aws:dynamodb:${region}:${account}:table/${table}` }))
    })
  const check = defineCheck({
    ...deps,
    backend: 'dynamodb',
    section,
    hints,
    classify,
    explainer: pinpoint
  }, async ctx => {
    const { sdk, client: dynamo } = await aws.ready(ctx)
    const { Table: description } = await aws.send(ctx, 'dynamodb:DescribeTable', options =>
      dynamo.send(new sdk.DescribeTableCommand({ TableName: table }), options))
    ctx.detail('status', description?.TableStatus)
    ctx.detail('keySchema', description?.KeySchema?.map(key => `${key.AttributeName} (${key.KeyType})`))

    ctx.stage('schema')
    const problem = keySchemaProblem(description, partitionKey)
    if (problem) throw new CheckFailure('schema', problem, 'schema')
    if (description?.TableStatus !== 'ACTIVE') ctx.warn(`the table is ${description?.TableStatus}, not ACTIVE yet`)

    ctx.stage('request')
    const Key = { [partitionKey]: { S: probeId } }
    await aws.send(ctx, 'dynamodb:PutItem', options =>
      dynamo.send(new sdk.PutItemCommand({ TableName: table, Item: { ...Key, checkedAt: { N: String(Date.now()) } } }), options))
    const { Item } = await aws.send(ctx, 'dynamodb:GetItem', options =>
      dynamo.send(new sdk.GetItemCommand({ TableName: table, Key, ConsistentRead: true }), options))
    if (!Item) throw new CheckFailure('request', `wrote the probe item ${probeId} but could not read it back`)
    await aws.send(ctx, 'dynamodb:DeleteItem', options => dynamo.send(new sdk.DeleteItemCommand({ TableName: table, Key }), options))
  })

  return { check, close: async () => { await Promise.all([aws.close(), pinpoint?.close()]) }, records: dynamodbRecords(aws.client, table, partitionKey) }
}

// The seed's rule for the table, also held by the audit: one String partition key named
// [dynamodb] partition_key, no sort key. Undefined when the table keeps it.
export function keySchemaProblem (description: TableDescription | undefined, partitionKey: string): string | undefined {
  const keys = description?.KeySchema ?? []
  const hash = keys.find(key => key.KeyType === 'HASH')
  const range = keys.find(key => key.KeyType === 'RANGE')
  const hashType = description?.AttributeDefinitions?.find(attribute => attribute.AttributeName === hash?.AttributeName)?.AttributeType
  if (range) return `the table has a sort key '${range.AttributeName}'; the seed's table has a partition key only`
  if (hash?.AttributeName !== partitionKey) return `the table's partition key is '${hash?.AttributeName}', config.toml says '${partitionKey}'`
  if (hashType !== 'S') return `the partition key '${partitionKey}' is of type ${hashType} (${({ N: 'Number', B: 'Binary' } as Record<string, string>)[hashType ?? ''] ?? 'unknown'}); it must be S (String)`
  return undefined
}

function classify (err: unknown): CheckFailure | undefined {
  const e = err as AwsError
  if (e.name === 'ResourceNotFoundException') return new CheckFailure('not_found', 'the table does not exist in this region', 'not_found')
  return undefined
}

export default defineBackend({
  name: 'dynamodb',
  title: 'DynamoDB',
  kind: 'table',
  componentType: 'datastore',
  section: DynamodbSection,
  hints,
  create: createDynamodb
})
