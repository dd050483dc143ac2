import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp, cleanEnv, configToml, makeTempDir, root } from './helper.ts'
import { createLookup } from '../lib/lookup.ts'
import { startAws, startDns, startFailingDns, startMysql8, startRedis } from './harness/index.ts'
import { startRespServer } from './harness/resp.ts'
import { netnsMissing, runInNetns } from './harness/netns.ts'

// Every host name a check looks up goes through lib/lookup.ts, never past it to the system
// resolver (getaddrinfo): a client library that resolves on its own (node-redis does, over RESP3,
// for its maintenance notifications) would ask a resolver the app was not given, wait on the
// thread pool, and on an instance reach the VPC's resolver for names it cannot know.
// Proven in a network namespace of its own: there the system resolver (/etc/resolv.conf) is a
// loopback DNS server that records every question; the checks are given another, the only one
// that knows the names. This file runs itself inside the namespace.

const INSIDE = process.env.LOOKUP_TEST_INSIDE_NETNS === '1'
const TIMEOUT_MS = 2000

if (!INSIDE) {
  test('every check resolves host names only through its lookup (run inside a network namespace)', { skip: netnsMissing() }, async () => {
    const dir = await makeTempDir('lookup-only')
    await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n')
    const env = cleanEnv({ LOOKUP_TEST_INSIDE_NETNS: '1' })
    // A test run of its own, not a child of this one's runner.
    delete env.NODE_TEST_CONTEXT
    const { code, stdout, stderr } = await runInNetns(
      [process.execPath, '--import', 'tsx', '--test', '--test-reporter=tap', fileURLToPath(import.meta.url)],
      { mounts: { '/etc/resolv.conf': join(dir, 'resolv.conf') }, cwd: root, env })
    assert.equal(code, 0, stdout + stderr)
    assert.match(stdout, /^# pass [1-9]/m, stdout)
    assert.match(stdout, /^# fail 0$/m, stdout)
  })
} else {
  test('database, redis (Redis 7 and Valkey 8), S3 and DynamoDB pass by names only the given DNS server knows; the system resolver is never asked', async t => {
    // The system resolver, as /etc/resolv.conf names it in this namespace.
    const system = await startFailingDns('nxdomain', { port: 53 })
    const names = { 'db.lab.internal': '127.0.0.1', 'redis.lab.internal': '127.0.0.1', 'valkey.lab.internal': '127.0.0.1', 'aws.lab.internal': '127.0.0.1' }
    const given = await startDns({ names })
    const [db, redis, valkey, aws] = await Promise.all([
      startMysql8({ accounts: { suai: { password: 'pw' } } }), startRedis(), startRespServer('valkey-8.0.1'), startAws({ region: 'eu-central-1' })
    ])
    t.after(() => Promise.all([system, given, db, redis, valkey, aws].map(server => server.stop())))
    aws.putBucket('deployed', { suaicloudapp: 'ELF', 'config.toml': '[server]\n' })
    aws.putTable('seed', { hash: ['id', 'S'] })
    const endpoint = aws.endpoint.replace('127.0.0.1', 'aws.lab.internal')
    const sections = {
      database: { host: 'db.lab.internal', port: db.port, user: 'suai', password: 'pw', dbname: 'suai', tls: 'off' },
      redis: { host: 'redis.lab.internal', port: redis.port },
      s3: { bucket: 'deployed', endpoint },
      dynamodb: { table: 'seed', partition_key: 'id', endpoint }
    }
    const env = { AWS_ACCESS_KEY_ID: 'AKIALOOKUPTEST000001', AWS_SECRET_ACCESS_KEY: 'lookup-test-secret', AWS_EC2_METADATA_DISABLED: 'true' }
    const build = (extra: Record<string, unknown>) => buildApp(t, configToml({ checks: { timeout_ms: TIMEOUT_MS, cache_ms: 0 }, aws: { region: aws.region }, ...sections, ...extra }), env, { lookup: createLookup([given.server]) })

    const { fastify } = await build({})
    for (const backend of Object.keys(sections)) {
      const res = await fastify.inject(`/${backend}?format=json`)
      assert.equal(res.json().status, 'pass', res.body)
    }
    const valkeyApp = await build({ redis: { host: 'valkey.lab.internal', port: valkey.port } })
    const res = await valkeyApp.fastify.inject('/redis?format=json')
    assert.deepEqual([res.json().status, res.json().details.engine], ['pass', 'valkey'], res.body)

    assert.deepEqual(system.asked, [], 'the system resolver was asked')
    for (const name of Object.keys(names)) assert.ok(given.asked.includes(name), `${name} was never looked up through the given DNS server`)
  })
}
