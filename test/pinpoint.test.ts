import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp } from './helper.ts'
import { closedPort, type PortHandle } from './harness/index.ts'
import { identity, imdsEnv, network, startImds, type ImdsFixture } from './imds-fixture.ts'

// Pinpointing a failed database or cache check: what the instance knows of its own network,
// read from the metadata service when the check fails to connect.

let imds: ImdsFixture
let closed: PortHandle

before(async () => {
  [imds, closed] = await Promise.all([startImds(), closedPort()])
})

after(async () => {
  await Promise.all([imds, closed].map(server => server?.stop()))
})

const databaseToml = (port: number) => `[checks]
timeout_ms = 2000
cache_ms = 0
[database]
host = '127.0.0.1'
port = ${port}
user = 'app'
password = 'secret'
dbname = 'app'
tls = 'off'
`

test('a database that refuses the connection: the details show where this instance sits', async t => {
  const { fastify } = await buildApp(t, databaseToml(closed.port), imdsEnv(imds.endpoint))
  const result = (await fastify.inject('/database?format=json')).json()
  assert.equal(result.status, 'fail')
  assert.equal(result.stage, 'connect')
  assert.deepEqual(result.details.instance, {
    instanceId: identity.instanceId,
    availabilityZone: identity.availabilityZone,
    privateIp: identity.privateIp,
    ...network
  })
})

test('not on EC2 (metadata disabled): the failure is answered as before, with nothing added', async t => {
  const { fastify } = await buildApp(t, databaseToml(closed.port))
  const result = (await fastify.inject('/database?format=json')).json()
  assert.equal(result.stage, 'connect')
  assert.equal(result.details.instance, undefined)
  assert.match(result.hint, /^nothing listens on 127\.0\.0\.1:\d+/)
})
