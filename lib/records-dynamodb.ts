import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { SharedRecords } from './backend.ts'

type Sdk = typeof import('@aws-sdk/client-dynamodb')

// Records in the DynamoDB table, all in one item whose partition key is `suaicloudapp#fleet` (no
// seed data starts so): a map of writer → record and expiry. One item, because the seed's table
// has a partition key only, so listing many items would need Scan (a read of the whole table, and
// an action the instance role is not given); one item is read with GetItem and written with a
// conditional PutItem, actions the check already needs. The condition on a version number means
// two writers never erase each other's record: the one that loses reads again.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
export const FLEET_ITEM = 'suaicloudapp#fleet'
// With TTL turned on for this attribute, DynamoDB deletes the item once the whole fleet is gone.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html
export const TTL_ATTRIBUTE = 'expires_at'
const ATTEMPTS = 3

export function dynamodbRecords (connected: () => Promise<{ sdk: Sdk, client: DynamoDBClient }>, table: string, partitionKey: string): SharedRecords {
  const Key = { [partitionKey]: { S: FLEET_ITEM } }
  async function live (signal: AbortSignal) {
    const { sdk, client } = await connected()
    const { Item } = await client.send(new sdk.GetItemCommand({ TableName: table, Key, ConsistentRead: true }), { abortSignal: signal })
    const now = Date.now()
    return { sdk, client, now, version: Item?.version?.N, entries: Object.entries(Item?.records?.M ?? {}).filter(([, entry]) => expiryOf(entry) > now) }
  }

  return {
    async publish (id, record, ttlMs, signal) {
      for (let attempt = 1; ; attempt++) {
        const { sdk, client, now, version, entries } = await live(signal)
        const others = entries.filter(([writer]) => writer !== id)
        const records: Record<string, AttributeValue> = Object.fromEntries(others)
        records[id] = { M: { record: { S: record }, expires: { N: String(now + ttlMs) } } }
        const lastExpiry = Math.max(...Object.values(records).map(expiryOf))
        try {
          await client.send(new sdk.PutItemCommand({
            TableName: table,
            Item: { ...Key, records: { M: records }, version: { N: String(Number(version ?? 0) + 1) }, [TTL_ATTRIBUTE]: { N: String(Math.ceil(lastExpiry / 1000)) } },
            ...(version === undefined
              ? { ConditionExpression: 'attribute_not_exists(#key)', ExpressionAttributeNames: { '#key': partitionKey } }
              : { ConditionExpression: '#version = :version', ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':version': { N: version } } })
          }), { abortSignal: signal })
          return Object.values(records).map(recordOf)
        } catch (err) {
          if ((err as Error).name !== 'ConditionalCheckFailedException' || attempt === ATTEMPTS) throw err
        }
      }
    },
    async read (signal) {
      return (await live(signal)).entries.map(([, entry]) => recordOf(entry))
    }
  }
}

function expiryOf (entry: AttributeValue): number {
  return Number(entry.M?.expires?.N ?? 0)
}

function recordOf (entry: AttributeValue): string {
  return entry.M?.record?.S ?? ''
}
