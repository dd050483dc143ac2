import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { createConnection } from 'mariadb'
import { createClient, createCluster } from 'redis'
import {
  LOOPBACK,
  closedPort,
  startDynamo,
  startMariadb,
  startRedis,
  startRedisCluster,
  startS3,
  startSilentServer
} from './harness/index.ts'

function isAlive (pid: number | undefined): boolean {
  assert.ok(pid, 'server process has a pid')
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw err
  }
}

/** 'open' when something accepts on the port, else the connect error code. */
function probe (port: number): Promise<string> {
  return new Promise(resolve => {
    const socket = connect({ host: LOOPBACK, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve('open')
    })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
  })
}

// Start times show up in the spec reporter, so a slow machine is easy to spot
async function timed<T> (t: TestContext, what: string, start: () => Promise<T>): Promise<T> {
  const begin = performance.now()
  const result = await start()
  t.diagnostic(`${what} took ${Math.round(performance.now() - begin)} ms`)
  return result
}

test('mariadb: user suai runs SELECT 1 over TCP, survives kill9 and restart', async t => {
  const db = await timed(t, 'startMariadb', startMariadb)
  t.after(() => db.stop())

  async function selectOne (): Promise<unknown> {
    const conn = await createConnection({ host: db.host, port: db.port, user: db.user, password: db.password, database: db.database })
    try {
      return (await conn.query('SELECT 1 AS one'))[0].one
    } finally {
      await conn.end()
    }
  }

  assert.equal(await selectOne(), 1)
  const [status] = await db.rootQuery("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
  assert.equal(status.Variable_name, 'Threads_connected')

  const firstPid = db.pid
  await db.kill9()
  assert.equal(isAlive(firstPid), false)
  assert.equal(await probe(db.port), 'ECONNREFUSED')
  await timed(t, 'mariadb restart after kill9', () => db.restart())
  assert.notEqual(db.pid, firstPid)
  assert.equal(await selectOne(), 1)

  const pid = db.pid
  await db.stop()
  assert.equal(isAlive(pid), false)
})

test('redis with password: SET/GET, survives kill9 and restart', async t => {
  const password = 'redis-test-secret-1'
  const redis = await timed(t, 'startRedis', () => startRedis({ password }))
  t.after(() => redis.stop())

  async function roundTrip (value: string): Promise<string | null> {
    const client = createClient({ socket: { host: redis.host, port: redis.port, reconnectStrategy: false }, password })
    await client.connect()
    try {
      await client.set('harness-key', value)
      return await client.get('harness-key')
    } finally {
      client.destroy()
    }
  }

  assert.equal(await roundTrip('one'), 'one')
  const firstPid = redis.pid
  await redis.kill9()
  assert.equal(isAlive(firstPid), false)
  await timed(t, 'redis restart after kill9', () => redis.restart())
  assert.equal(await roundTrip('two'), 'two')

  const pid = redis.pid
  await redis.stop()
  assert.equal(isAlive(pid), false)
})

test('redis cluster: keys in different slots land on different masters', async t => {
  const cluster = await timed(t, 'startRedisCluster', startRedisCluster)
  t.after(() => cluster.stop())
  assert.equal(cluster.nodes.length, 3)

  const client = createCluster({ rootNodes: [{ socket: { host: cluster.host, port: cluster.port } }] })
  await client.connect()
  t.after(() => client.destroy())
  // Slots 3300, 7365 and 15495: one in each third that redis-cli --cluster create hands out
  const keys = ['b', 'c', 'a']
  for (const key of keys) await client.set(key, `value-${key}`)
  for (const key of keys) assert.equal(await client.get(key), `value-${key}`)

  for (const node of cluster.nodes) {
    const direct = createClient({ socket: { host: node.host, port: node.port, reconnectStrategy: false } })
    await direct.connect()
    assert.equal(await direct.dbSize(), 1, `node ${node.port} holds exactly one of the keys`)
    direct.destroy()
  }

  client.destroy()
  const pids = cluster.nodes.map(node => node.pid)
  await cluster.stop()
  for (const pid of pids) assert.equal(isAlive(pid), false)
})

test('s3rver: HeadBucket on a created bucket', async t => {
  const s3 = await timed(t, 'startS3', startS3)
  t.after(() => s3.stop())
  await s3.createBucket('suai-harness-bucket', { 'hello.txt': 'hello' })

  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true
  })
  t.after(() => client.destroy())
  const head = await client.send(new HeadBucketCommand({ Bucket: 'suai-harness-bucket' }))
  assert.equal(head.$metadata.httpStatusCode, 200)

  await s3.stop()
  assert.equal(await probe(Number(new URL(s3.endpoint).port)), 'ECONNREFUSED')
})

test('dynalite: DescribeTable on a created table', async t => {
  const dynamo = await timed(t, 'startDynamo', startDynamo)
  t.after(() => dynamo.stop())
  await timed(t, 'createTable', () => dynamo.createTable('suai-harness', { hash: ['pk', 'S'], range: ['sk', 'N'] }))

  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: dynamo.region,
    credentials: { accessKeyId: dynamo.accessKeyId, secretAccessKey: dynamo.secretAccessKey }
  })
  t.after(() => client.destroy())
  const { Table } = await client.send(new DescribeTableCommand({ TableName: 'suai-harness' }))
  assert.equal(Table?.TableStatus, 'ACTIVE')
  assert.deepEqual(Table?.KeySchema, [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }])

  await dynamo.stop()
  assert.equal(await probe(Number(new URL(dynamo.endpoint).port)), 'ECONNREFUSED')
})

test('silent server accepts and never writes; closed port refuses', async t => {
  const silent = await startSilentServer()
  t.after(() => silent.stop())
  const socket = connect({ host: silent.host, port: silent.port })
  t.after(() => socket.destroy())
  await once(socket, 'connect')
  const first = await Promise.race([once(socket, 'data').then(() => 'data'), sleep(200, 'nothing')])
  assert.equal(first, 'nothing')
  await silent.stop()
  assert.equal(await probe(silent.port), 'ECONNREFUSED')

  const closed = await closedPort()
  t.after(() => closed.stop())
  assert.equal(await probe(closed.port), 'ECONNREFUSED')
})
