import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Type } from '@sinclair/typebox'
import { checkAll } from '../commands/check.ts'
import { defineBackend } from '../lib/backend.ts'
import { defineCheck } from '../lib/check.ts'
import { NonEmpty } from '../lib/schema.ts'
import { backends } from '../plugins/backends.ts'
import { buildApp, workDir } from './helper.ts'

// A sixth backend, added through the list alone: one definition, no other file touched, and
// it is found on every surface that derives from the list.
const queue = defineBackend({
  name: 'queue',
  title: 'Queue',
  kind: 'SQS stand-in',
  componentType: 'component',
  section: Type.Object({
    url: NonEmpty('the queue URL'),
    depth: Type.Integer({ minimum: 0, default: 10, description: 'how many messages may wait' })
  }),
  hints: { request_timeout: c => `the queue at ${String(c.url)} did not answer` },
  create: (section, deps) => ({
    check: defineCheck({ ...deps, backend: 'queue', section }, async ctx => {
      ctx.stage('request')
      ctx.detail('url', section.url)
    }),
    close: async () => {}
  })
})
const withQueue = { backends: [...backends, queue] }

test('a sixth backend answers on its endpoint, /checks, /ready, /metrics, the dashboard and check', async t => {
  const { fastify } = await buildApp(t, "[queue]\nurl = 'memory://q'\n", {}, withQueue)
  assert.equal((await fastify.inject('/queue')).body, 'OK')
  assert.equal((await fastify.inject('/queue?format=json')).json().details.url, 'memory://q')

  const checks = await fastify.inject('/checks')
  assert.equal(checks.statusCode, 200)
  const [entry] = checks.json().checks['queue:responseTime']
  assert.equal(entry.componentType, 'component')
  assert.equal(entry.status, 'pass')

  assert.equal((await fastify.inject('/ready')).body, 'ready')
  assert.match((await fastify.inject('/metrics')).body, /^suaicloudapp_check_up\{backend="queue"\} 1$/m)
  // The dashboard makes its cards from the list /instance gives.
  assert.deepEqual((await fastify.inject('/instance')).json().backends.at(-1), { name: 'queue', title: 'Queue', kind: 'SQS stand-in', state: 'configured' })

  const cwd = await workDir("[queue]\nurl = 'memory://q'\n")
  const { rows } = await checkAll({ cwd, env: { AWS_EC2_METADATA_DISABLED: 'true' }, programDir: cwd }, withQueue)
  assert.deepEqual(rows.map(row => [row.backend, row.status]), [['database', 'skip'], ['redis', 'skip'], ['s3', 'skip'], ['dynamodb', 'skip'], ['queue', 'pass']])
})

test('a sixth backend takes its section from the config schema: unknown keys, types, the how-to-configure hint', async t => {
  const absent = await buildApp(t, '', {}, withQueue)
  const res = await absent.fastify.inject('/queue')
  assert.equal(res.statusCode, 503)
  assert.equal(res.body, 'FAIL (config): [queue] is not configured\nhint: add a [queue] section with url, depth (url is required) to config.toml (or set SUAI_QUEUE_* variables), then restart\n')

  const broken = await buildApp(t, "[queue]\nulr = 'memory://q'\ndepth = 2.0\n", {}, withQueue)
  const body = (await broken.fastify.inject('/queue')).body
  assert.match(body, /^FAIL \(config\): \[queue\] has 3 problems in config\.toml: /)
  assert.match(body, /config\.toml:2: unknown key queue\.ulr — did you mean url\?/)
  assert.match(body, /config\.toml:3: queue\.depth must be a whole number: how many messages may wait \(got 2\.0, a float/)
  assert.match(body, /missing key queue\.url .*SUAI_QUEUE_URL/)
})
