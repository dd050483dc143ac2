import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createImds } from '../lib/imds.ts'
import { buildApp, eventually, readLog } from './helper.ts'
import { closedPort, startDynamo, startS3, startSilentServer, type DynamoHandle, type PortHandle, type S3Handle } from './harness/index.ts'
import { identity, imdsEnv, network, startImds, type ImdsFixture } from './imds-fixture.ts'

// The instance metadata client against an IMDSv2 fixture on loopback, and what uses it: GET
// /instance and the AWS checks' region. Nothing here may reach 169.254.169.254: every client
// is pointed at the fixture, at a silent port or at a closed one.

// For the AWS SDK in this process; the app under test is given its own environment.
process.env.AWS_EC2_METADATA_DISABLED = 'true'

let fixture: ImdsFixture
let silent: PortHandle
let closed: PortHandle
let s3: S3Handle
let dynamo: DynamoHandle

before(async () => {
  [fixture, silent, closed, s3, dynamo] = await Promise.all([startImds(), startSilentServer(), closedPort(), startS3(), startDynamo()])
  await s3.createBucket('deployed', { suaicloudapp: 'binary', 'config.toml': '[server]\n' })
  await dynamo.createTable('seed', { hash: ['id', 'S'] })
})

after(async () => {
  await Promise.all([fixture, silent, closed, s3, dynamo].map(server => server?.stop()))
})

const at = imdsEnv
// s3rver checks the signature; dynalite takes any key. Neither leaves the SDK asking IMDS.
const keys = () => ({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey })

test('reads the identity with an IMDSv2 token, then answers from the cache', async () => {
  fixture.requests.length = 0
  const imds = createImds({ env: at(fixture.endpoint) })
  const answer = await imds.lookup()
  assert.deepEqual(answer.instance, identity)
  assert.equal(answer.note, `EC2 instance metadata from ${fixture.endpoint}`)

  const [put, ...gets] = fixture.requests
  assert.equal(put.method, 'PUT')
  assert.equal(put.url, '/latest/api/token')
  assert.equal(put.headers['x-aws-ec2-metadata-token-ttl-seconds'], '21600')
  assert.equal(gets.length, 7)
  for (const get of gets) {
    assert.equal(get.method, 'GET')
    assert.equal(get.headers['x-aws-ec2-metadata-token'], fixture.token, get.url)
  }

  assert.deepEqual(await imds.lookup(), answer)
  assert.equal(fixture.requests.length, 8, 'a found instance is never asked again')
})

test('network(): the primary interface by its MAC, read afresh on every call, each GET with the token', async () => {
  fixture.requests.length = 0
  const imds = createImds({ env: at(fixture.endpoint) })
  const answer = await imds.network()
  assert.deepEqual(answer, {
    network: { instanceId: identity.instanceId, availabilityZone: identity.availabilityZone, privateIp: identity.privateIp, ...network, accountId: '123456789012' },
    note: `EC2 instance metadata from ${fixture.endpoint}`
  })
  const urls = fixture.requests.map(r => r.url)
  for (const leaf of ['vpc-id', 'subnet-id', 'subnet-ipv4-cidr-block', 'security-group-ids']) {
    assert.ok(urls.includes(`/latest/meta-data/network/interfaces/macs/${network.mac}/${leaf}`), leaf)
  }
  for (const get of fixture.requests.slice(1)) assert.equal(get.headers['x-aws-ec2-metadata-token'], fixture.token, get.url)
  const asked = fixture.requests.length
  await imds.network()
  assert.equal(fixture.requests.length, 2 * asked, 'asked again: a security group attached meanwhile counts')
})

test('network(): several security groups, one id a line; a public IPv4 address when it has one; disabled or absent says why', async t => {
  const own = await startImds({ network: { securityGroupIds: ['sg-0a1b2c3d4e5f60021', 'sg-0a1b2c3d4e5f60022'], publicIp: '3.121.5.17' } })
  t.after(() => own.stop())
  const { network: found } = await createImds({ env: at(own.endpoint) }).network()
  assert.deepEqual(found?.securityGroupIds, ['sg-0a1b2c3d4e5f60021', 'sg-0a1b2c3d4e5f60022'])
  assert.equal(found?.publicIp, '3.121.5.17')
  assert.deepEqual(await createImds({ env: { AWS_EC2_METADATA_DISABLED: 'true' } }).network(), { network: null, note: 'not on EC2 (metadata disabled)', disabled: true })
  const refused = await createImds({ env: at(`http://${closed.host}:${closed.port}`) }).network()
  assert.equal(refused.network, null)
  assert.match(refused.note, /^this instance's network is unknown \(the instance metadata service at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/)
})

test('AWS_EC2_METADATA_DISABLED=true: not on EC2, and nothing is sent', async () => {
  fixture.requests.length = 0
  const imds = createImds({ env: { ...at(fixture.endpoint), AWS_EC2_METADATA_DISABLED: 'true' } })
  assert.deepEqual(await imds.lookup(), { instance: null, note: 'not on EC2 (metadata disabled)' })
  assert.equal(fixture.requests.length, 0)
})

test('a service that never answers: not on EC2 within the bound, then at once from the cache', async () => {
  const imds = createImds({ env: at(`http://${silent.host}:${silent.port}`), requestTimeoutMs: 300, lookupTimeoutMs: 1000, retryAfterMs: 100 })
  let started = performance.now()
  const first = await imds.lookup()
  const firstMs = performance.now() - started
  assert.equal(first.instance, null)
  assert.match(first.note, /^not on EC2 \(no answer from the instance metadata service at http:\/\/127\.0\.0\.1:\d+: PUT \/latest\/api\/token got no answer in time\)$/)
  assert.ok(firstMs >= 250 && firstMs < 1000, `took ${firstMs} ms`)

  // Past retryAfterMs the stale answer is still served at once while the service is asked again.
  await new Promise(resolve => setTimeout(resolve, 150))
  started = performance.now()
  assert.deepEqual(await imds.lookup(), first)
  assert.ok(performance.now() - started < 50)
})

test('a refused connection is not on EC2 at once, naming the cause', async () => {
  const started = performance.now()
  const { instance, note } = await createImds({ env: at(`http://${closed.host}:${closed.port}`) }).lookup()
  assert.equal(instance, null)
  assert.match(note, /ECONNREFUSED/)
  assert.ok(performance.now() - started < 300)
})

test('GET /instance names the instance that answered', async t => {
  const { fastify } = await buildApp(t, '[server]\nhost = "127.0.0.1"\n', imdsEnv(fixture.endpoint))
  const res = await fastify.inject('/instance')
  assert.equal(res.statusCode, 200)
  const body = res.json()
  assert.deepEqual(body.instance, identity)
  assert.equal(body.note, `EC2 instance metadata from ${fixture.endpoint}`)
  assert.equal(typeof body.version, 'string')
  assert.equal(typeof body.uptime, 'number')
  assert.deepEqual(body.configProblems, [])
  assert.equal(body.demo, null)
  assert.equal(body.network.subnetId, network.subnetId)
})

test('GET /instance: where the instance sits in its VPC only for the admin when a token is set, asked once a minute', async t => {
  const { fastify } = await buildApp(t, '[server]\nhost = "127.0.0.1"\nadmin_token = "a-long-enough-admin-token"\n', imdsEnv(fixture.endpoint))
  const anonymous = (await fastify.inject('/instance')).json()
  assert.equal(anonymous.instance.instanceId, identity.instanceId)
  assert.equal(anonymous.network, null)
  const admin = () => fastify.inject({ url: '/instance', headers: { authorization: 'Bearer a-long-enough-admin-token' } }).then(res => res.json())
  assert.deepEqual((await admin()).network, { instanceId: identity.instanceId, availabilityZone: identity.availabilityZone, privateIp: identity.privateIp, ...network })
  fixture.requests.length = 0
  await admin()
  assert.equal(fixture.requests.length, 0, 'the page polls: the network is not asked again within the minute')
})

// S3 and DynamoDB on their local servers, with no [aws] section.
const awsToml = () => `[checks]
timeout_ms = 2000
cache_ms = 0
[s3]
bucket = 'deployed'
endpoint = '${s3.endpoint}'
[dynamodb]
table = 'seed'
partition_key = 'id'
endpoint = '${dynamo.endpoint}'
`

test('without [aws] region, S3 and DynamoDB take the region of the instance and say so once', async t => {
  const { fastify, logFile } = await buildApp(t, awsToml(), { ...imdsEnv(fixture.endpoint), ...keys() })
  for (let i = 0; i < 2; i++) {
    for (const path of ['/s3', '/dynamodb']) {
      const res = await fastify.inject(path)
      assert.equal(res.body, 'OK', `${path}: ${res.body}`)
    }
  }
  const s3Result = (await fastify.inject('/s3?format=json')).json()
  assert.equal(s3Result.details.region, identity.region)

  const said = await eventually(async () => {
    const lines = (await readLog(logFile)).split('\n').filter(line => line.includes('using this instance\'s region'))
    return lines.length === 2 && lines
  })
  const records = said.map(line => JSON.parse(line))
  assert.deepEqual(records.map(record => record.backend).sort(), ['dynamodb', 's3'])
  for (const record of records) assert.equal(record.region, identity.region)
})

test('no [aws] region, no AWS_REGION and metadata disabled: the AWS checks fail at config, asking nobody', async t => {
  fixture.requests.length = 0
  // Pointed at the fixture but disabled, so that any request at all would be seen.
  const { fastify } = await buildApp(t, awsToml(), { ...imdsEnv(fixture.endpoint), ...keys(), AWS_EC2_METADATA_DISABLED: 'true' })
  for (const path of ['/s3', '/dynamodb']) {
    const res = await fastify.inject(path)
    assert.equal(res.statusCode, 503)
    assert.match(res.body, /^FAIL \(config\): no AWS region is configured\nhint: set \[aws\] region in config\.toml/, path)
  }
  assert.equal(fixture.requests.length, 0, 'neither the app nor the SDK asked the metadata service')
})
