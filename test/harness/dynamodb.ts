import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { ScalarAttributeType } from '@aws-sdk/client-dynamodb'
import dynalite from 'dynalite'
import { LOOPBACK } from './ports.ts'
import { waitUntil } from './process.ts'

export type KeyAttribute = [name: string, type: ScalarAttributeType]

export interface DynamoHandle {
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  region: string
  /** Creates an on-demand table and resolves once it is ACTIVE. */
  createTable: (name: string, keySchema: { hash: KeyAttribute, range?: KeyAttribute }) => Promise<void>
  stop: () => Promise<void>
}

// dynalite checks that requests are signed, not which key signed them
const ACCESS_KEY_ID = 'suai-local'
const SECRET_ACCESS_KEY = 'suai-local-secret'
const REGION = 'us-east-1'

/** In-memory dynalite in this process, on a port the kernel picks at bind time, so there is no race for it. */
export async function startDynamo ({ port = 0 }: { port?: number } = {}): Promise<DynamoHandle> {
  // No artificial CREATING/DELETING delays: tables are usable at once
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  server.listen(port, LOOPBACK)
  await once(server, 'listening')
  const endpoint = `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`
  const client = new DynamoDBClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY }
  })
  let stopping: Promise<void> | undefined
  return {
    endpoint,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    region: REGION,
    async createTable (name, { hash, range }) {
      const keys = range === undefined ? [hash] : [hash, range]
      await client.send(new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: keys.map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
        KeySchema: keys.map(([AttributeName], i) => ({ AttributeName, KeyType: i === 0 ? 'HASH' : 'RANGE' }))
      }))
      // The SDK waiter polls every 20 s at first; this polls every 25 ms
      await waitUntil(`dynalite table ${name}`, async () => {
        const { Table } = await client.send(new DescribeTableCommand({ TableName: name }))
        if (Table?.TableStatus !== 'ACTIVE') throw new Error(`status ${Table?.TableStatus}`)
      }, { timeoutMs: 5000 })
    },
    // Remembered, so a second stop() (e.g. from an after hook) waits for the first instead of failing
    stop: () => (stopping ??= (async () => {
      client.destroy()
      // close() alone waits for clients' keep-alive sockets to time out
      server.closeAllConnections()
      await new Promise<void>((resolve, reject) => server.close(err => err === undefined || err === null ? resolve() : reject(err)))
    })())
  }
}
