import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, cleanEnv, configToml, eventually, freePort, startCli, workDir } from './helper.ts'
import type { BuildOptions } from '../server.ts'
import { createLookup } from '../lib/lookup.ts'
import {
  closedPort, startFailingDns, startNxdomainDns, startDynamo, startMariadb, startRedis, startRedisCluster, startS3, startSilentServer,
  type DynamoHandle, type MariadbHandle, type PortHandle, type RedisClusterHandle, type RedisHandle, type S3Handle
} from './harness/index.ts'

// Every check against real servers on loopback. The app is given its environment (the AWS
// keys s3rver knows); the instance metadata service is never asked.
process.env.AWS_EC2_METADATA_DISABLED = 'true'

const TIMEOUT_MS = 1000
let db: MariadbHandle
let redis: RedisHandle
let securedRedis: RedisHandle
let cluster: RedisClusterHandle
let s3: S3Handle
let dynamo: DynamoHandle
let silent: PortHandle
let closed: PortHandle

before(async () => {
  [db, redis, securedRedis, cluster, s3, dynamo, silent, closed] = await Promise.all([
    startMariadb(), startRedis(), startRedis({ password: 'redis-Secret-token' }), startRedisCluster(),
    startS3(), startDynamo(), startSilentServer(), closedPort()
  ])
  await s3.createBucket('deployed', { suaicloudapp: 'binary', 'config.toml': '[server]\n' })
  await s3.createBucket('empty')
  await dynamo.createTable('seed', { hash: ['id', 'S'] })
  await dynamo.createTable('sorted', { hash: ['id', 'S'], range: ['at', 'N'] })
  await dynamo.createTable('numeric', { hash: ['id', 'N'] })
})

after(async () => {
  await Promise.all([db, redis, securedRedis, cluster, s3, dynamo, silent, closed].map(server => server?.stop()))
})

interface Sections {
  database?: Partial<{ host: string, port: number, user: string, password: string, dbname: string }>
  redis?: Partial<{ host: string, port: number, password: string }>
  s3?: { bucket: string, endpoint?: string }
  dynamodb?: { table: string, partition_key: string, endpoint?: string }
}

function toml (sections: Sections): string {
  return configToml({ checks: { timeout_ms: TIMEOUT_MS, cache_ms: 0 }, aws: { region: 'us-east-1' }, ...sections })
}

const env = (): NodeJS.ProcessEnv => ({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_EC2_METADATA_DISABLED: 'true' })
const databaseSection = () => ({ host: db.host, port: db.port, user: db.user, password: db.password, dbname: db.database })
const s3Section = (bucket: string) => ({ bucket, endpoint: s3.endpoint })
const dynamoSection = (table: string, key = 'id') => ({ table, partition_key: key, endpoint: dynamo.endpoint })

async function get (t: TestContext, sections: Sections, path: string, options: BuildOptions = {}, environment = env()) {
  const { fastify } = await buildApp(t, toml(sections), environment, options)
  const started = performance.now()
  const res = await fastify.inject(path)
  return { res, ms: performance.now() - started, fastify }
}

async function assertFails (t: TestContext, sections: Sections, path: string, stage: string, message: RegExp, hint: RegExp, options: BuildOptions = {}, environment = env()) {
  const { res } = await get(t, sections, path, options, environment)
  assert.equal(res.statusCode, 503, res.body)
  const [first, second] = res.body.split('\n')
  assert.equal(first.startsWith(`FAIL (${stage}): `), true, res.body)
  assert.match(first, message)
  assert.match(second, /^hint: /)
  assert.match(second, hint)
  return res.body
}

test('every backend passes: the body is exactly OK', async t => {
  const { fastify } = await buildApp(t, toml({
    database: databaseSection(),
    redis: { host: redis.host, port: redis.port },
    s3: s3Section('deployed'),
    dynamodb: dynamoSection('seed')
  }), env())
  for (const path of ['/database', '/redis', '/s3', '/dynamodb']) {
    const res = await fastify.inject(path)
    assert.equal(res.statusCode, 200, `${path}: ${res.body}`)
    assert.equal(res.body, 'OK', path)
  }
})

test('?format=json returns the result with its details', async t => {
  const { res } = await get(t, { database: databaseSection() }, '/database?format=json')
  const result = res.json()
  assert.equal(result.status, 'pass')
  assert.match(result.details.version, /MariaDB/)
  assert.equal(result.details.database, db.database)
  assert.equal(typeof result.durationMs, 'number')
})

test('a backend without its section answers 503 naming the section and keys', async t => {
  const { res } = await get(t, {}, '/database')
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /^FAIL \(config\): \[database\] is not configured\nhint: add a \[database\] section with host, port, user, password, dbname/)
})

test('database: a wrong password fails at auth and the password is never shown', async t => {
  const body = await assertFails(t, { database: { ...databaseSection(), password: 'wrong-Password-9' } }, '/database', 'auth', /Access denied for user 'suai'/, /\[database\] user and password/)
  assert.ok(!body.includes('wrong-Password-9'))
})

test('database: an unknown database fails at database', async t => {
  await assertFails(t, { database: { ...databaseSection(), dbname: 'nope' } }, '/database', 'database', /nope/, /CREATE DATABASE nope/)
})

test('database: tls = "required" against a server without TLS fails at tls', async t => {
  const { fastify } = await buildApp(t, toml({ database: databaseSection() }).replace('dbname = ', 'tls = "required"\ndbname = '), env())
  const res = await fastify.inject('/database')
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /^FAIL \(tls\): .*ssl not enabled in the server\nhint: the server does not offer TLS: set \[database\] tls = "off"/)
})

test('database: a refused port fails at connect', async t => {
  await assertFails(t, { database: { ...databaseSection(), port: closed.port } }, '/database', 'connect', /refused.*ECONNREFUSED/, /nothing listens/)
})

test('database: a host that does not resolve fails at dns (asked of a loopback DNS server, never the real one)', async t => {
  const dns = await startNxdomainDns()
  t.after(() => dns.stop())
  await assertFails(t, { database: { ...databaseSection(), host: 'db.does-not-exist.example' } }, '/database', 'dns', /does not resolve/, /copy the endpoint again/, { lookup: createLookup([dns.server]) })
  assert.ok(dns.asked.includes('db.does-not-exist.example'))
})

for (const failure of ['servfail', 'silent'] as const) {
  test(`database and redis: a resolver that ${failure === 'silent' ? 'never answers' : 'answers SERVFAIL'} fails at dns with the VPC's DNS settings, not "copy the endpoint", within timeout_ms`, async t => {
    const dns = await startFailingDns(failure)
    t.after(() => dns.stop())
    for (const section of ['database', 'redis'] as const) {
      const host = `${section}.example.invalid`
      const sections = section === 'database' ? { database: { ...databaseSection(), host } } : { redis: { host, port: redis.port } }
      const { res, ms } = await get(t, sections, `/${section}`, { lookup: createLookup([dns.server]) })
      assert.equal(res.statusCode, 503)
      assert.match(res.body, new RegExp(`^FAIL \\(dns\\): .*\\nhint: the DNS resolver did not answer for ${section}\\.example\\.invalid, so the name itself may be right: check that the VPC has DNS resolution enabled .*/etc/resolv\\.conf`), res.body)
      assert.doesNotMatch(res.body, /copy the endpoint/)
      assert.ok(ms < TIMEOUT_MS + 500, `${section} answered in ${Math.round(ms)} ms`)
      assert.ok(dns.asked.includes(host))
    }
  })
}

test('database and redis: a server that accepts and never answers is bounded by timeout_ms', async t => {
  for (const section of ['database', 'redis'] as const) {
    const sections = section === 'database' ? { database: { ...databaseSection(), port: silent.port } } : { redis: { host: silent.host, port: silent.port } }
    const { res, ms } = await get(t, sections, `/${section}`)
    assert.equal(res.statusCode, 503, res.body)
    assert.match(res.body, /within 1000 ms/)
    assert.ok(ms < TIMEOUT_MS + 500, `${section} answered in ${Math.round(ms)} ms`)
  }
})

test('redis: a Redis Cluster is detected and checked through the cluster client', async t => {
  const { res } = await get(t, { redis: { host: cluster.host, port: cluster.port } }, '/redis?format=json')
  const result = res.json()
  assert.equal(result.status, 'pass', res.body)
  assert.equal(result.details.mode, 'cluster')
  assert.equal(result.details.cluster_state, 'ok')
  assert.equal(result.details.masters, 3)
})

test('redis: a standalone server is checked as standalone', async t => {
  const { res } = await get(t, { redis: { host: redis.host, port: redis.port } }, '/redis?format=json')
  assert.equal(res.json().details.mode, 'standalone')
})

test('redis: a read-only replica passes with a warning', async t => {
  const replica = await startRedis({ replicaOf: redis })
  t.after(() => replica.stop())
  const { res } = await get(t, { redis: { host: replica.host, port: replica.port } }, '/redis')
  assert.equal(res.statusCode, 200)
  assert.match(res.body, /^OK\nwarning: 127\.0\.0\.1 is a read-only replica: reads work, writes are refused/)
})

test('redis: a cluster that answers but has lost a master fails at cluster', async t => {
  const broken = await startRedisCluster()
  t.after(() => broken.stop())
  process.kill(broken.nodes[2].pid!, 'SIGKILL')
  // The survivors mark the cluster failed after the node timeout (2 s in the harness).
  const { fastify } = await buildApp(t, toml({ redis: { host: broken.host, port: broken.port } }), env())
  const res = await eventually(async () => {
    const res = await fastify.inject('/redis')
    return /^FAIL \(cluster\): the cluster answers but its state is fail/.test(res.body) && res
  }, { timeoutMs: 10_000, intervalMs: 250 })
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /hint: the cluster is not serving all hash slots/)
})

test('redis: a missing or wrong password fails at auth', async t => {
  await assertFails(t, { redis: { host: securedRedis.host, port: securedRedis.port } }, '/redis', 'auth', /NOAUTH/, /\[redis\] password/)
  const body = await assertFails(t, { redis: { host: securedRedis.host, port: securedRedis.port, password: 'not-the-Token' } }, '/redis', 'auth', /WRONGPASS|invalid/, /\[redis\] password/)
  assert.ok(!body.includes('not-the-Token'))
  const { res } = await get(t, { redis: { host: securedRedis.host, port: securedRedis.port, password: 'redis-Secret-token' } }, '/redis')
  assert.equal(res.body, 'OK')
})

test('redis: killed, then restarted: fails, then passes again without restarting the app', async t => {
  const own = await startRedis()
  t.after(() => own.stop())
  const { fastify } = await buildApp(t, toml({ redis: { host: own.host, port: own.port } }), env())
  assert.equal((await fastify.inject('/redis')).body, 'OK')
  await own.kill9()
  const down = await fastify.inject('/redis')
  assert.equal(down.statusCode, 503)
  assert.match(down.body, /^FAIL \(connect\)/)
  await own.restart()
  assert.equal((await fastify.inject('/redis')).body, 'OK')
})

test('database: killed, then restarted: fails, then passes again without restarting the app', async t => {
  const { fastify } = await buildApp(t, toml({ database: databaseSection() }), env())
  assert.equal((await fastify.inject('/database')).body, 'OK')
  await db.kill9()
  const down = await fastify.inject('/database')
  assert.equal(down.statusCode, 503)
  await db.restart()
  assert.equal((await fastify.inject('/database')).body, 'OK')
})

test('s3: a bucket without the app and config passes with a warning', async t => {
  const { res } = await get(t, { s3: s3Section('empty') }, '/s3')
  assert.equal(res.statusCode, 200)
  assert.match(res.body, /^OK\nwarning: the bucket has no suaicloudapp or config\.toml at its root/)
})

test('s3: a missing bucket fails at not_found', async t => {
  await assertFails(t, { s3: s3Section('no-such-bucket') }, '/s3', 'not_found', /does not exist/, /no bucket named 'no-such-bucket'/)
})

test('s3: keys the server does not know fail at credentials', async t => {
  const unknownKeys = { ...env(), AWS_ACCESS_KEY_ID: 'AKIAUNKNOWNKEY', AWS_SECRET_ACCESS_KEY: 'not-the-Right-secret' }
  const body = await assertFails(t, { s3: s3Section('deployed') }, '/s3', 'credentials', /rejected the credentials of environment keys/, /override the instance role: unset them/, {}, unknownKeys)
  assert.ok(!body.includes('not-the-Right-secret'))
})

test('s3 and dynamodb: a local endpoint where nothing listens fails at connect, naming the endpoint', async t => {
  const endpoint = `http://127.0.0.1:${closed.port}`
  await assertFails(t, { s3: { bucket: 'deployed', endpoint } }, '/s3', 'connect', /refused/, new RegExp(`nothing listens at ${endpoint}: check \\[s3\\] endpoint`))
  await assertFails(t, { dynamodb: { table: 'seed', partition_key: 'id', endpoint } }, '/dynamodb', 'connect', /refused/, /check \[dynamodb\] endpoint/)
})

test('dynamodb: a missing table fails at not_found', async t => {
  await assertFails(t, { dynamodb: dynamoSection('absent') }, '/dynamodb', 'not_found', /does not exist/, /no table 'absent' in us-east-1/)
})

test('dynamodb: a table with a sort key fails at schema', async t => {
  await assertFails(t, { dynamodb: dynamoSection('sorted') }, '/dynamodb', 'schema', /sort key 'at'/, /partition key 'id' of type String/)
})

test('dynamodb: a numeric partition key fails at schema', async t => {
  await assertFails(t, { dynamodb: dynamoSection('numeric') }, '/dynamodb', 'schema', /is of type N \(Number\); it must be S/, /recreate the table/)
})

test('dynamodb: a partition key name that differs from the config fails at schema', async t => {
  await assertFails(t, { dynamodb: dynamoSection('seed', 'pk') }, '/dynamodb', 'schema', /partition key is 'id', config\.toml says 'pk'/, /partition_key/)
})

test('s3 and dynamodb with no credentials at all fail at credentials (the served app, no metadata service)', async t => {
  const port = await freePort()
  const cwd = await workDir(`[server]\nhost = '127.0.0.1'\nport = ${port}\n` + toml({ s3: s3Section('deployed'), dynamodb: dynamoSection('seed') }))
  const app = await startCli(t, [], { cwd, env: cleanEnv({ AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent' }) })
  for (const path of ['/s3', '/dynamodb']) {
    const res = await fetch(app.url + path)
    assert.equal(res.status, 503)
    assert.match(await res.text(), /^FAIL \(credentials\): no AWS credentials[^\n]*\nhint: .*attach an IAM instance profile/)
  }
})
