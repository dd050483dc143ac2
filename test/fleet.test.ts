import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import { createClient } from 'redis'
import { buildApp, configToml, eventually, readLog } from './helper.ts'
import { createImds } from '../lib/imds.ts'
import { dynamodbRecords } from '../lib/records-dynamodb.ts'
import { identity, imdsEnv, startImds } from './imds-fixture.ts'
import type { FleetView } from '../lib/fleet-view.ts'
import {
  LOOPBACK, closedPort, startDynamo, startRedis, startRedisCluster,
  type DynamoHandle, type PortHandle, type RedisClusterHandle
} from './harness/index.ts'

// Several app instances in this process, each with its own identity from its own metadata-service
// fixture, each listening on loopback (only a listening server joins the fleet), sharing the
// harness's Redis Cluster or dynalite as EC2 instances share ElastiCache and the table.
process.env.AWS_EC2_METADATA_DISABLED = 'true'

const INTERVAL_MS = 300
const WAIT = { timeoutMs: 20_000, intervalMs: 50 }
let cluster: RedisClusterHandle
let dynamo: DynamoHandle
let closed: PortHandle

before(async () => {
  [cluster, dynamo, closed] = await Promise.all([startRedisCluster(), startDynamo(), closedPort()])
  await dynamo.createTable('seed', { hash: ['partition_key', 'S'] })
})

after(async () => {
  await Promise.all([cluster, dynamo, closed].map(server => server?.stop()))
})

interface InstanceOptions {
  id: string
  zone: string
  redis?: { host: string, port: number }
  dynamodb?: boolean
  token?: string
}

async function startInstance (t: TestContext, { id, zone, redis, dynamodb, token }: InstanceOptions) {
  const imds = await startImds({ instance: { instanceId: id, availabilityZone: zone } })
  t.after(() => imds.stop())
  const toml = configToml({
    server: { host: LOOPBACK, port: 8080, admin_token: token },
    checks: { timeout_ms: 1000, cache_ms: 0 },
    aws: { region: 'us-east-1' },
    fleet: { interval_ms: INTERVAL_MS },
    redis: redis && { host: redis.host, port: redis.port },
    dynamodb: dynamodb ? { table: 'seed', partition_key: 'partition_key', endpoint: dynamo.endpoint } : undefined
  })
  const env = { AWS_ACCESS_KEY_ID: dynamo.accessKeyId, AWS_SECRET_ACCESS_KEY: dynamo.secretAccessKey, ...imdsEnv(imds.endpoint) }
  // A metadata client as the app makes one, with time to spare on two busy cores: an identity
  // lost to a slow fixture would publish under the host name instead.
  const built = await buildApp(t, toml, env, { imds: createImds({ env, requestTimeoutMs: 5000, lookupTimeoutMs: 10_000 }) })
  // Port 0: the kernel's choice; the fleet needs a listener, not a known port.
  await built.fastify.listen({ host: LOOPBACK, port: 0 })
  let stopped = false
  const fleet = async (): Promise<FleetView> => (await built.fastify.inject({ url: '/fleet', headers: token ? { authorization: `Bearer ${token}` } : {} })).json()
  return {
    id,
    fastify: built.fastify,
    logFile: built.logFile,
    fleet,
    // The first view that satisfies `wanted`; on timeout, the error shows the last one seen.
    async until (wanted: (view: FleetView) => boolean): Promise<FleetView> {
      let last: FleetView | undefined
      try {
        return await eventually(async () => { last = await fleet(); return wanted(last) && last }, WAIT)
      } catch (err) {
        throw new Error(`${(err as Error).message}; the last /fleet of ${id}: ${JSON.stringify(last)}`)
      }
    },
    stop: async () => { if (!stopped) { stopped = true; await built.close() } }
  }
}

const pick = (object: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.map(key => [key, object[key]]))
const ids = (view: FleetView) => view.zones.flatMap(zone => zone.instances.map(instance => instance.id)).sort()

test('three instances sharing a Redis Cluster each see all three, grouped by AZ, their keys on one shard; a stopped one leaves', async t => {
  const members = await Promise.all([
    startInstance(t, { id: 'i-0cluster000000001', zone: 'eu-central-1a', redis: cluster }),
    startInstance(t, { id: 'i-0cluster000000002', zone: 'eu-central-1b', redis: cluster }),
    startInstance(t, { id: 'i-0cluster000000003', zone: 'eu-central-1b', redis: cluster })
  ])
  t.after(() => Promise.all(members.map(member => member.stop())))
  const all = members.map(member => member.id)
  for (const member of members) {
    const view = await member.until(view => all.every(id => ids(view).includes(id)))
    assert.deepEqual(view.source.stores, ['redis'])
    assert.equal(view.self, member.id)
    const zones = Object.fromEntries(view.zones.map(({ zone, instances }) => [zone, instances.map(instance => instance.id).filter(id => all.includes(id))]))
    assert.deepEqual(zones['eu-central-1a'], [all[0]])
    assert.deepEqual(zones['eu-central-1b'], [all[1], all[2]])
    const reported = view.zones.flatMap(zone => zone.instances).find(instance => instance.id === all[1])!
    assert.equal(reported.backends.redis.status, 'pass')
    assert.equal(reported.privateIp, identity.privateIp)
    // Status, stage and duration only: a message or hint could carry a host or a secret.
    assert.deepEqual(Object.keys(reported.backends.redis).sort(), ['durationMs', 'stage', 'status'])
    assert.deepEqual(view.verdict.failingEverywhere, [])
  }

  // The hash tag keeps every fleet key on the shard that owns its slot.
  const holders: string[][] = []
  for (const node of cluster.nodes) {
    const client = createClient({ socket: { host: node.host, port: node.port } })
    await client.connect()
    const keys = await client.keys('{suaicloudapp:fleet}*')
    client.destroy()
    if (keys.length > 0) holders.push(keys)
  }
  assert.equal(holders.length, 1)
  assert.ok(all.every(id => holders[0].includes(`{suaicloudapp:fleet}:${id}`)), holders[0].join(' '))

  await members[2].stop()
  for (const member of members.slice(0, 2)) {
    await member.until(view => !ids(view).includes(all[2]))
  }
})

test('an instance whose Redis drops it still appears, through DynamoDB, and the verdict names its AZ', async t => {
  const members = await Promise.all([
    startInstance(t, { id: 'i-0mixed00000000001', zone: 'eu-west-1a', redis: cluster, dynamodb: true }),
    startInstance(t, { id: 'i-0mixed00000000002', zone: 'eu-west-1b', redis: cluster, dynamodb: true }),
    startInstance(t, { id: 'i-0mixed00000000003', zone: 'eu-west-1c', redis: { host: LOOPBACK, port: closed.port }, dynamodb: true })
  ])
  t.after(() => Promise.all(members.map(member => member.stop())))
  const all = members.map(member => member.id)
  const failingInZones = [{ backend: 'redis', zones: ['eu-west-1c'] }]
  for (const member of members) {
    const stores = member.id === all[2] ? ['dynamodb'] : ['redis', 'dynamodb']
    // The view this setup settles in. Each AZ holds one instance, so on two busy cores one check
    // or store call over its 1 s timeout reads for a moment as another AZ failing (or a store
    // missing); such a view is waited past, not taken for the verdict.
    const view = await member.until(view => all.every(id => ids(view).includes(id)) &&
      isDeepStrictEqual(view.verdict.failingInZones, failingInZones) && view.verdict.failingEverywhere.length === 0 &&
      isDeepStrictEqual(view.source.stores, stores))
    assert.match(view.verdict.summary.join('\n'), /redis fails only in eu-west-1c/)
    if (member.id === all[2]) assert.match(view.source.problems.join(), /redis: its check fails \(connect\)/)
  }
  // No request ran a check: the heartbeat's thread did, and its news reached this server's
  // output.log and its results this server's /metrics.
  const failed = await eventually(async () => (await readLog(members[2].logFile)).split('\n').find(line => line.includes('"redis check failed"')))
  assert.deepEqual(pick(JSON.parse(failed), ['backend', 'level', 'stage']), { backend: 'redis', level: 40, stage: 'connect' })
  const metrics = (await members[2].fastify.inject('/metrics')).body
  assert.match(metrics, /^suaicloudapp_check_up\{backend="redis"\} 0$/m)
  assert.match(metrics, /^suaicloudapp_check_up\{backend="dynamodb"\} 1$/m)
})

test('a Redis killed and restarted under heartbeats: no crash, this instance alone meanwhile, then the fleet again, keys bounded', async t => {
  const redis = await startRedis()
  t.after(() => redis.stop())
  const members = await Promise.all([
    startInstance(t, { id: 'i-0restart000000001', zone: 'eu-north-1a', redis }),
    startInstance(t, { id: 'i-0restart000000002', zone: 'eu-north-1b', redis })
  ])
  t.after(() => Promise.all(members.map(member => member.stop())))
  const both = async () => {
    for (const member of members) await member.until(view => ids(view).length === 2)
  }
  const fleetKeys = async () => {
    const client = createClient({ socket: { host: redis.host, port: redis.port } })
    await client.connect()
    try { return await client.keys('{suaicloudapp:fleet}*') } finally { client.destroy() }
  }
  await both()

  await redis.kill9()
  const alone = await members[0].until(view => view.source.stores.length === 0)
  assert.deepEqual(ids(alone), [members[0].id])
  assert.match(alone.source.note ?? '', /^this instance only: redis: its check fails/)
  assert.equal((await members[0].fastify.inject('/health')).body, 'healthy')

  await redis.restart()
  await both()
  // Several rounds of heartbeats later, still one key per instance and the index.
  for (let round = 0; round < 10; round++) {
    assert.ok((await fleetKeys()).length <= 3)
    await new Promise(resolve => setTimeout(resolve, INTERVAL_MS / 2))
  }
})

test('/fleet needs the admin token when one is set; alone, this instance says why', async t => {
  const member = await startInstance(t, { id: 'i-0alone00000000001', zone: 'eu-south-1a', token: 'fleet-admin-token-0123' })
  t.after(() => member.stop())
  assert.equal((await member.fastify.inject('/fleet')).statusCode, 401)
  const view = await member.fleet()
  assert.deepEqual(ids(view), ['i-0alone00000000001'])
  assert.deepEqual(view.source.stores, [])
  await member.until(view => /neither \[redis\] nor \[dynamodb\] is configured/.test(view.source.note ?? ''))
})

test('DynamoDB: writers racing on the one fleet item never erase each other', async () => {
  const sdk = await import('@aws-sdk/client-dynamodb')
  const client = new sdk.DynamoDBClient({ endpoint: dynamo.endpoint, region: dynamo.region, credentials: { accessKeyId: dynamo.accessKeyId, secretAccessKey: dynamo.secretAccessKey } })
  await dynamo.createTable('race', { hash: ['pk', 'S'] })
  const records = dynamodbRecords(async () => ({ sdk, client }), 'race', 'pk')
  const writers = ['w1', 'w2', 'w3', 'w4']
  for (let round = 0; round < 5; round++) {
    const outcomes = await Promise.allSettled(writers.map(writer => records.publish(writer, `${writer}:${round}`, 60_000, AbortSignal.timeout(5000))))
    const stored = await records.read(AbortSignal.timeout(5000))
    // A writer that lost three times in a row says so (the heartbeat tries again next interval);
    // one that succeeded is in the item, with this round's record.
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'rejected') assert.equal((outcome.reason as Error).name, 'ConditionalCheckFailedException')
      else assert.ok(stored.includes(`${writers[i]}:${round}`), `${writers[i]} lost in round ${round}: ${stored.join(' ')}`)
    }
  }
  client.destroy()
})
