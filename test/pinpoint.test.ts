import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { DESCRIBE_ACTIONS, DESCRIBE_STATEMENT } from '../lib/describe.ts'
import { PINPOINT_BUDGET_MS } from '../lib/explain.ts'
import { createLookup } from '../lib/lookup.ts'
import { buildApp, cleanEnv, root, runCli, workDir } from './helper.ts'
import { closedPort, startAws, startDns, startSilentServer, type AwsFixture, type DnsHandle, type PortHandle } from './harness/index.ts'
import { lab, labEndpoints, labIds } from './harness/aws-lab.ts'
import { identity, imdsEnv, startImds } from './imds-fixture.ts'

// Pinpointing a failed database check end to end: the app on the metadata fixture (this
// instance's network), the EC2 / RDS / ElastiCache fixture (the lab's configuration, read
// through the real SDK clients), a loopback DNS that gives the RDS endpoint a closed loopback
// port, and the answer on /database. Each scenario is a lab with ids of its own (a tag).

let closed: PortHandle
let silent: PortHandle
let aws: AwsFixture
let dns: DnsHandle
const tags = { missingRule: 'c1', denied: 'c2', open: 'c3', tls: 'c4', noPublicIp: 'c5', endpointPolicy: 'c6', noRoute: 'c7', endpointsDenied: 'c8' }

before(async () => {
  [closed, silent, aws, dns] = await Promise.all([
    closedPort(), startSilentServer(), startAws(),
    startDns({ names: Object.fromEntries(Object.values(tags).flatMap(tag => [[labEndpoints(tag).database, '127.0.0.1'], [labEndpoints(tag).redis, '127.0.0.1']])) })
  ])
  for (const [scenario, tag] of Object.entries(tags)) {
    const env = lab(tag)
    // The RDS instance listens on the port the test's closed port stands for.
    env.dbInstances[0].Endpoint!.Port = closed.port
    if (scenario === 'missingRule') env.securityGroups.find(g => g.GroupId === labIds(tag).dbGroup)!.IpPermissions = []
    if (scenario === 'open') env.securityGroups.find(g => g.GroupId === labIds(tag).dbGroup)!.IpPermissions = [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '10.0.0.0/16' }] }]
    // The cache on a port that takes connections and says nothing, as one that speaks TLS only
    // does to a plain client.
    env.replicationGroups[0].TransitEncryptionEnabled = scenario === 'tls'
    env.replicationGroups[0].NodeGroups![0].PrimaryEndpoint!.Port = silent.port
    const ids = labIds(tag)
    const instanceTable = env.routeTables.find(table => table.RouteTableId === ids.publicRouteTable)!
    // The instance's subnet keeps its route to the internet gateway, without the gateway endpoints.
    if (scenario === 'noPublicIp') {
      instanceTable.Routes = instanceTable.Routes!.filter(route => !route.DestinationPrefixListId)
      for (const endpoint of env.vpcEndpoints) endpoint.RouteTableIds = [ids.mainRouteTable]
    }
    // A private subnet with no way out: no internet gateway, no endpoint.
    if (scenario === 'noRoute') {
      instanceTable.Routes = instanceTable.Routes!.filter(route => route.GatewayId === 'local')
      env.vpcEndpoints = []
    }
    // The course's buckets only: a student's policy that forgot the bucket the app uses.
    if (scenario === 'endpointPolicy') {
      env.vpcEndpoints[0].PolicyDocument = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'CourseBucketsOnly', Effect: 'Deny', Principal: '*', Action: 's3:*', NotResource: ['arn:aws:s3:::course-*', 'arn:aws:s3:::course-*/*'] }, { Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }] })
    }
    const denied = ({ denied: 'ec2:DescribeSecurityGroups', endpointsDenied: 'ec2:DescribeVpcEndpoints' } as const)[scenario as string]
    aws.putLab(env, denied)
  }
})

after(async () => {
  await Promise.all([closed, silent, aws, dns].map(server => server?.stop()))
})

const databaseToml = (host: string) => `[checks]
timeout_ms = 2000
cache_ms = 0
[database]
host = '${host}'
port = ${closed.port}
user = 'app'
password = 'secret'
dbname = 'app'
tls = 'off'
`

// The app as it runs on an instance of the lab tagged `tag`, asked /database.
async function onInstance (t: Parameters<typeof buildApp>[0], host: string, tag: string) {
  const { fastify } = await buildApp(t, databaseToml(host), await instanceEnv(t, tag), { lookup: createLookup([dns.server]) })
  const json = (await fastify.inject('/database?format=json')).json()
  const text = (await fastify.inject('/database')).body
  return { json, text }
}

// The environment of an instance of the lab tagged `tag`: its own metadata service, AWS's APIs
// (S3's and DynamoDB's too, unless the test points them elsewhere).
async function instanceEnv (t: Parameters<typeof buildApp>[0], tag: string): Promise<NodeJS.ProcessEnv> {
  const ids = labIds(tag)
  const own = await startImds({ network: { vpcId: ids.vpc, subnetId: ids.instanceSubnet, securityGroupIds: [ids.appGroup] } })
  t.after(() => own.stop())
  return {
    ...imdsEnv(own.endpoint),
    AWS_ACCESS_KEY_ID: 'AKIAFIXTURE000000001',
    AWS_SECRET_ACCESS_KEY: 'fixture-secret',
    AWS_ENDPOINT_URL_EC2: aws.endpoint,
    AWS_ENDPOINT_URL_RDS: aws.endpoint,
    AWS_ENDPOINT_URL_ELASTICACHE: aws.endpoint,
    AWS_ENDPOINT_URL_S3: aws.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: aws.endpoint
  }
}

// The app on an instance of the lab tagged `tag` with [s3] or [dynamodb] and no endpoint of its
// own: it reaches the API where AWS_ENDPOINT_URL_<SERVICE> says, as the SDK does.
async function serviceCheck (t: Parameters<typeof buildApp>[0], service: 's3' | 'dynamodb', tag: string, { bucket = 'suai-bucket', api = aws.endpoint, ec2 = aws.endpoint } = {}) {
  const section = service === 's3' ? `[s3]\nbucket = '${bucket}'\n` : '[dynamodb]\ntable = \'suai-table\'\npartition_key = \'id\'\n'
  const env = { ...await instanceEnv(t, tag), [`AWS_ENDPOINT_URL_${service.toUpperCase()}`]: api, AWS_ENDPOINT_URL_EC2: ec2 }
  const { fastify } = await buildApp(t, `[checks]\ntimeout_ms = 2000\ncache_ms = 0\n[aws]\nregion = 'eu-central-1'\n${section}`, env, { lookup: createLookup([dns.server]) })
  return (await fastify.inject(`/${service}?format=json`)).json()
}

test('the database\'s security group has no inbound rule: /database names it, this instance\'s group and the console path', async t => {
  const ids = labIds(tags.missingRule)
  const { json, text } = await onInstance(t, labEndpoints(tags.missingRule).database, tags.missingRule)
  assert.equal(json.stage, 'connect')
  const rule = `${ids.dbGroup} (on database-1-c1) has no inbound rule for TCP ${closed.port} from ${ids.appGroup} (this instance) or from ${identity.privateIp}`
  assert.equal(json.hint, `${rule}: add one: EC2 → Security groups → ${ids.dbGroup} → Edit inbound rules → Add rule: Custom TCP, port ${closed.port}, source ${ids.appGroup}`)
  assert.match(text, new RegExp(`^FAIL \\(connect\\): .*\\nhint: ${rule.replace(/[()]/g, '\\$&')}`))
  assert.equal(json.details.pinpoint.blocked, true)
  assert.deepEqual(json.details.pinpoint.target.securityGroupIds, [ids.dbGroup])
  assert.equal(json.details.instance.subnetId, ids.instanceSubnet)
})

test('a denied Describe*: the symptom\'s hint stays, with the read-only statement to allow', async t => {
  const { json } = await onInstance(t, labEndpoints(tags.denied).database, tags.denied)
  assert.equal(json.stage, 'connect')
  assert.ok(json.hint.startsWith(`nothing listens on ${labEndpoints(tags.denied).database}:${closed.port}`), json.hint)
  assert.ok(json.hint.includes(`ec2:DescribeSecurityGroups was denied): add to the instance role the statement ${JSON.stringify(DESCRIBE_STATEMENT)}`), json.hint)
  assert.deepEqual(json.details.pinpoint.denied, 'ec2:DescribeSecurityGroups')
})

test('nothing in the configuration blocks: the symptom\'s hint, and pinpoint says the path is open', async t => {
  const { json } = await onInstance(t, labEndpoints(tags.open).database, tags.open)
  assert.match(json.hint, /^nothing listens on .*\(pinpoint: nothing in the security groups, network ACLs or VPC of RDS instance database-1-c3 blocks TCP \d+ from this instance/)
  assert.equal(json.details.pinpoint.blocked, false)
})

test('a host no RDS instance has: the details say so, the hint is the symptom\'s', async t => {
  const { json } = await onInstance(t, '127.0.0.1', tags.open)
  assert.equal(json.details.pinpoint, 'no RDS instance or Aurora cluster this role can see has the endpoint 127.0.0.1: is [database] host copied from this account and region?')
  assert.match(json.hint, /^nothing listens on 127\.0\.0\.1:\d+/)
  assert.equal(json.details.instance.instanceId, identity.instanceId)
})

test('a cache with in-transit encryption that never answers a plain client: /redis says set tls = true', async t => {
  const toml = `[checks]\ntimeout_ms = 1000\ncache_ms = 0\n[redis]\nhost = '${labEndpoints(tags.tls).redis}'\nport = ${silent.port}\n`
  const { fastify } = await buildApp(t, toml, await instanceEnv(t, tags.tls), { lookup: createLookup([dns.server]) })
  const json = (await fastify.inject('/redis?format=json')).json()
  assert.equal(json.stage, 'request')
  assert.equal(json.hint, 'replication group r1-c4 has in-transit encryption: it speaks TLS only: set [redis] tls = true in config.toml')
})

test('S3 unreachable from a subnet whose only way out is the internet gateway, from an instance without a public address: /s3 says so and how to fix it', async t => {
  const ids = labIds(tags.noPublicIp)
  const json = await serviceCheck(t, 's3', tags.noPublicIp, { api: `http://127.0.0.1:${closed.port}` })
  assert.equal(json.stage, 'connect')
  assert.equal(json.hint, `${ids.publicRouteTable} sends S3's traffic to the internet gateway ${ids.internetGateway}, but this instance (${identity.instanceId}) has no public IPv4 address, so that gateway does not carry it: ` +
    `associate the S3 gateway endpoint ${ids.s3Endpoint} with ${ids.publicRouteTable}: VPC → Endpoints → ${ids.s3Endpoint} → Actions → Manage route tables → tick ${ids.publicRouteTable}; or give the instances public addresses (the launch template → Network settings → Auto-assign public IP: Enable)`)
  assert.equal(json.details.pinpoint.blocked, true)
  assert.equal(json.details.instance.publicIp, null)
})

test('DynamoDB from a private subnet with no way out: /dynamodb names the route table and the gateway endpoint to add', async t => {
  const ids = labIds(tags.noRoute)
  const json = await serviceCheck(t, 'dynamodb', tags.noRoute, { api: `http://127.0.0.1:${closed.port}` })
  assert.equal(json.stage, 'connect')
  assert.equal(json.hint, `the route table ${ids.publicRouteTable} of ${ids.instanceSubnet} has no route to DynamoDB in eu-central-1: no gateway endpoint, NAT gateway or internet gateway: ` +
    `add a DynamoDB gateway endpoint to ${ids.publicRouteTable} (free, and the traffic stays in AWS): VPC → Endpoints → Create endpoint → AWS services → com.amazonaws.eu-central-1.dynamodb, type Gateway → VPC ${ids.vpc} → route table ${ids.publicRouteTable}`)
})

test('S3 denied by the VPC endpoint\'s policy (AWS\'s AccessDenied names the policy type): /s3 names the endpoint and the statement', async t => {
  const ids = labIds(tags.endpointPolicy)
  // The fixture's bucket that answers as an explicit deny in a VPC endpoint policy.
  const json = await serviceCheck(t, 's3', tags.endpointPolicy, { bucket: 'denied-vpc-endpoint-policy' })
  assert.equal(json.stage, 'permission')
  assert.equal(json.hint, `CourseBucketsOnly of the policy of ${ids.s3Endpoint} (the S3 gateway endpoint on ${ids.publicRouteTable}) denies s3:ListBucket on arn:aws:s3:::denied-vpc-endpoint-policy: remove that statement or narrow it: VPC → Endpoints → ${ids.s3Endpoint} → Policy → Edit policy`)
})

test('S3 and DynamoDB pass: nothing is described', async t => {
  aws.putBucket('suai-bucket', { suaicloudapp: 'x', 'config.toml': 'y' })
  const json = await serviceCheck(t, 's3', tags.open)
  assert.equal(json.status, 'pass')
  assert.equal(json.details.pinpoint, undefined)
})

test('a denied DescribeVpcEndpoints for S3: the symptom\'s hint stays, with the read-only statement to allow', async t => {
  const json = await serviceCheck(t, 's3', tags.endpointsDenied, { api: `http://127.0.0.1:${closed.port}` })
  assert.equal(json.stage, 'connect')
  assert.ok(json.hint.includes(`ec2:DescribeVpcEndpoints was denied): add to the instance role the statement ${JSON.stringify(DESCRIBE_STATEMENT)}`), json.hint)
  assert.equal(json.details.pinpoint.denied, 'ec2:DescribeVpcEndpoints')
})

test(`an EC2 API that never answers: pinpointing gives up after [checks] timeout_ms, within its budget (${PINPOINT_BUDGET_MS} ms); the symptom's hint stays`, async t => {
  const json = await serviceCheck(t, 'dynamodb', tags.noRoute, { api: `http://127.0.0.1:${closed.port}`, ec2: `http://${silent.host}:${silent.port}` })
  assert.equal(json.stage, 'connect')
  assert.equal(json.details.pinpoint, 'the Describe* calls got no answer within 2000 ms')
  assert.equal(json.hint, 'the connection to the DynamoDB API was refused, which AWS\'s endpoints never do: a firewall on this instance rejects it (iptables, firewalld), or AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL in the app\'s environment points elsewhere')
})

test('check (the executable when SUAI_TEST_BIN names it) loads the SDK clients and asks AWS on a failed connection', async t => {
  const cwd = await workDir(databaseToml('127.0.0.1') + '[aws]\nregion = \'eu-central-1\'\n[s3]\nbucket = \'suai-bucket\'\n')
  const env = { ...await instanceEnv(t, tags.noPublicIp), AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${closed.port}` }
  const { code, stdout } = await runCli(['check', '--json'], { cwd, env: cleanEnv(env) })
  assert.equal(code, 1, stdout)
  const [database, , s3] = JSON.parse(stdout)
  assert.equal(database.details.pinpoint, 'no RDS instance or Aurora cluster this role can see has the endpoint 127.0.0.1: is [database] host copied from this account and region?')
  assert.equal(s3.stage, 'connect', JSON.stringify(s3.details))
  assert.match(s3.hint, new RegExp(`^${labIds(tags.noPublicIp).publicRouteTable} sends S3's traffic to the internet gateway`), JSON.stringify(s3.details))
})

test('not on EC2 (metadata disabled): the failure is answered as before, with nothing added', async t => {
  const { fastify } = await buildApp(t, databaseToml('127.0.0.1'))
  const result = (await fastify.inject('/database?format=json')).json()
  assert.equal(result.stage, 'connect')
  assert.equal(result.details.instance, undefined)
  assert.equal(result.details.pinpoint, undefined)
})

test('the CloudFormation template\'s role allows exactly the calls pinpointing makes', async () => {
  const template = JSON.parse(await readFile(join(root, 'deploy/suaicloudapp.template.json'), 'utf8'))
  const role = Object.values(template.Resources as Record<string, { Type: string, Properties: any }>).find(r => r.Type === 'AWS::IAM::Role')
  const statement = role?.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement).find((s: any) => s.Sid === 'Pinpoint')
  assert.deepEqual([statement.Action].flat().sort(), [...DESCRIBE_ACTIONS].sort())
  assert.equal(statement.Resource, DESCRIBE_STATEMENT.Resource)
})

test('README\'s statement for hand-made roles is the one the hint gives', async () => {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const section = readme.split('### Pinpoint: which rule to change')[1]?.split('\n### ')[0] ?? ''
  const statement = JSON.parse(/```json\n([^`]+)```/.exec(section)?.[1] ?? 'null')
  assert.deepEqual({ ...statement, Sid: undefined }, { ...DESCRIBE_STATEMENT, Sid: undefined })
})
