import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import type { AuditReport, AuditRow } from '../lib/audit.ts'
import type { DescribeAction } from '../lib/describe.ts'
import { probeRow } from '../lib/audit.ts'
import { DESCRIBE_ACTIONS } from '../lib/describe.ts'
import { AUDIT_ACTIONS } from '../plugins/audit.ts'
import { buildApp, cleanEnv, configToml, root, runCli, workDir } from './helper.ts'
import { LOOPBACK, startAws, type AwsFixture } from './harness/index.ts'
import type { FixtureTargetGroup } from './harness/aws-elb.ts'
import { endpoints, ids, lab as courseLab, type Lab as DescribedLab } from './harness/aws-lab.ts'
import { identity, imdsEnv, startImds, type ImdsFixture } from './imds-fixture.ts'

// The audit end to end: the app's real SDK clients read S3, DynamoDB, ELBv2 and Auto Scaling
// from the loopback fixture (test/harness/aws.ts), this instance from the IMDS fixture, and
// every scenario shows the row, the evidence and the fix a student needs.

const REGION = 'eu-central-1'
const PORT = 8080
const keys = { AWS_ACCESS_KEY_ID: 'AKIAFIXTURE000000001', AWS_SECRET_ACCESS_KEY: 'fixture-secret' }
const TG_ARN = `arn:aws:elasticloadbalancing:${REGION}:123456789012:targetgroup/suai-targets/73e2d6bc24d8a067`
const LB_ARN = `arn:aws:elasticloadbalancing:${REGION}:123456789012:loadbalancer/app/suai-alb/50dc6c495c0c9188`
const LB_GROUP = 'sg-0a1b2c3d4e5f60091'

let aws: AwsFixture
let imds: ImdsFixture

before(async () => {
  ;[aws, imds] = await Promise.all([startAws({ region: REGION }), startImds({})])
  aws.putBucket('suai-bucket', { 'config.toml': '[server]\n' })
  aws.putTable('suai-table', { hash: ['id', 'S'] })
  aws.putTable('sorted-table', { hash: ['id', 'S'], range: ['at', 'N'] })
})

after(async () => { await Promise.all([aws, imds].map(server => server?.stop())) })

// A target group as the course builds it, checking /health on the traffic port, with this
// instance registered on 8080 in the given state.
function targetGroup (name: string, health: FixtureTargetGroup['targets'][number]['TargetHealth'], group: Partial<FixtureTargetGroup> = {}): FixtureTargetGroup {
  return {
    TargetGroupArn: TG_ARN.replace('suai-targets', name),
    TargetGroupName: name,
    Protocol: 'HTTP',
    Port: PORT,
    VpcId: 'vpc-0fixture',
    HealthCheckProtocol: 'HTTP',
    HealthCheckPort: 'traffic-port',
    HealthCheckEnabled: true,
    HealthCheckPath: '/health',
    Matcher: { HttpCode: '200' },
    LoadBalancerArns: [LB_ARN],
    TargetType: 'instance',
    targets: [
      { Target: { Id: identity.instanceId, Port: PORT }, HealthCheckPort: String(PORT), TargetHealth: health },
      { Target: { Id: 'i-0another0000000001', Port: PORT }, HealthCheckPort: String(PORT), TargetHealth: { State: 'healthy' } }
    ],
    ...group
  }
}

interface Lab {
  bucket?: string
  table?: string
  targetGroups?: FixtureTargetGroup[]
  zones?: string[]
  denied?: string[]
  token?: string
  // What EC2, RDS and ElastiCache describe (test/harness/aws-lab.ts); with it config.toml gets
  // [database] and [redis] sections naming its database and cache.
  described?: DescribedLab
  describeDenied?: DescribeAction
}

// A fixture of the test's own for ELBv2 and Auto Scaling (their world is per server), the shared
// one for S3 and DynamoDB, whose scenarios are by name.
async function auditApp (t: TestContext, { bucket = 'suai-bucket', table = 'suai-table', targetGroups = [targetGroup('suai-targets', { State: 'healthy' })], zones = ['eu-central-1a', 'eu-central-1b'], denied = [], token, described, describeDenied }: Lab = {}) {
  const own = await startAws({ region: REGION })
  t.after(() => own.stop())
  if (described) own.putLab(described, describeDenied)
  // The load balancer in the instance's and the first data subnet (10.0.1.0/24, 10.0.2.0/24).
  own.loadBalancing.loadBalancers.push({
    LoadBalancerArn: LB_ARN,
    LoadBalancerName: 'suai-alb',
    VpcId: ids.vpc,
    SecurityGroups: [LB_GROUP],
    AvailabilityZones: [{ ZoneName: 'eu-central-1b', SubnetId: ids.instanceSubnet }, { ZoneName: 'eu-central-1a', SubnetId: ids.dataSubnetA }]
  })
  own.loadBalancing.targetGroups.push(...targetGroups)
  own.loadBalancing.autoScalingGroups.push({
    AutoScalingGroupName: 'suai-asg',
    AvailabilityZones: zones,
    TargetGroupARNs: targetGroups.map(group => group.TargetGroupArn ?? ''),
    Instances: [{ InstanceId: identity.instanceId, AvailabilityZone: identity.availabilityZone }, { InstanceId: 'i-0another0000000001', AvailabilityZone: zones[0] }]
  })
  for (const action of denied) own.loadBalancing.denied.add(action)
  const toml = configToml({
    server: { host: LOOPBACK, port: PORT, ...(token ? { admin_token: token } : {}) },
    aws: { region: REGION },
    s3: { bucket, endpoint: aws.endpoint },
    dynamodb: { table, partition_key: 'id', endpoint: aws.endpoint },
    ...(described ? { database: { host: endpoints.database, user: 'admin', dbname: 'suai' }, redis: { host: endpoints.redis } } : {})
  })
  // Every AWS API the audit reads, at this test's own fixture: never AWS, never a DNS lookup.
  const env = {
    ...keys,
    ...imdsEnv(imds.endpoint),
    ...Object.fromEntries(['ELASTIC_LOAD_BALANCING_V2', 'AUTO_SCALING', 'EC2', 'RDS', 'ELASTICACHE'].map(service => [`AWS_ENDPOINT_URL_${service}`, own.endpoint]))
  }
  return { ...(await buildApp(t, toml, env)), own, env, toml }
}

const row = (report: AuditReport, id: string): AuditRow => {
  const found = report.rows.find(candidate => candidate.id === id)
  assert.ok(found, `no row ${id} in ${JSON.stringify(report.rows.map(r => r.id))}`)
  return found
}

test('a course environment built as instructed: every row passes, with its evidence', async t => {
  const { fastify } = await auditApp(t)
  const report = await fastify.audit.run({ serving: false })
  assert.deepEqual(report.rows.map(r => [r.id, r.status]), [
    ['bucket-private', 'pass'], ['dynamodb-key', 'pass'], ['target-group', 'pass'], ['target-health', 'pass'], ['app-port', 'unknown'], ['auto-scaling', 'pass'], ['health-probes', 'unknown']
  ])
  // No EC2 in this fixture's lab: the instance's groups cannot be described.
  assert.match(row(report, 'app-port').evidence, /^ec2:DescribeSecurityGroups failed: InvalidGroup\.NotFound/)
  assert.equal(row(report, 'bucket-private').evidence, 'suai-bucket: all four public access block settings on; its policy is not public')
  assert.equal(row(report, 'dynamodb-key').evidence, 'suai-table\'s key schema: id (HASH)')
  assert.equal(row(report, 'target-group').evidence, `suai-targets: health check HTTP /health on port traffic-port (${PORT}), matcher 200; ${identity.instanceId} registered on port ${PORT}`)
  assert.equal(row(report, 'target-health').evidence, `${identity.instanceId} on port ${PORT} in suai-targets: healthy`)
  assert.match(row(report, 'auto-scaling').evidence, /is in suai-asg, whose instances run in eu-central-1a, eu-central-1b/)
  assert.ok(report.durationMs <= report.budgetMs)
})

test('a public bucket fails, naming the policy; a bucket without a block or with two settings off fails too', async t => {
  const reports = await Promise.all(['public-bucket', 'no-public-access-block', 'partly-blocked-bucket'].map(async bucket =>
    row(await (await auditApp(t, { bucket })).fastify.audit.run({ serving: false }), 'bucket-private')))
  assert.deepEqual(reports.map(r => r.status), ['fail', 'fail', 'fail'])
  assert.equal(reports[0].evidence, 'the bucket policy of public-bucket makes it public (GetBucketPolicyStatus: IsPublic true)')
  assert.match(reports[0].fix ?? '', /remove the statements that allow Principal "\*" from the bucket policy \(S3 → Buckets → public-bucket → Permissions → Bucket policy\)/)
  assert.equal(reports[1].evidence, 'no-public-access-block has no public access block (NoSuchPublicAccessBlockConfiguration): a policy or an ACL may make it public')
  assert.equal(reports[2].evidence, 'partly-blocked-bucket\'s public access block has BlockPublicPolicy, RestrictPublicBuckets off')
  assert.match(reports[2].fix ?? '', /turn on Block all public access/)
})

test('a table with a sort key fails by the dynamodb check\'s own rule', async t => {
  const { fastify } = await auditApp(t, { table: 'sorted-table' })
  const table = row(await fastify.audit.run({ serving: false }), 'dynamodb-key')
  assert.equal(table.status, 'fail')
  assert.equal(table.evidence, 'sorted-table\'s key schema: id (HASH), at (RANGE): the table has a sort key \'at\'; the seed\'s table has a partition key only')
})

test('missing permissions: each row says unknown and names the exact action to allow', async t => {
  const { fastify } = await auditApp(t, {
    bucket: 'bucket-settings-denied',
    table: 'denied-identity-policy',
    denied: ['elasticloadbalancing:DescribeTargetHealth', 'autoscaling:DescribeAutoScalingInstances']
  })
  const report = await fastify.audit.run({ serving: false })
  assert.deepEqual(report.rows.filter(r => r.status === 'unknown' && r.allow).map(r => [r.id, r.allow]), [
    ['bucket-private', 's3:GetBucketPublicAccessBlock'],
    ['dynamodb-key', 'dynamodb:DescribeTable'],
    ['target-group', 'elasticloadbalancing:DescribeTargetHealth'],
    ['target-health', 'elasticloadbalancing:DescribeTargetHealth'],
    ['app-port', 'elasticloadbalancing:DescribeTargetHealth'],
    ['auto-scaling', 'autoscaling:DescribeAutoScalingInstances']
  ])
  assert.equal(row(report, 'bucket-private').fix, 'allow s3:GetBucketPublicAccessBlock on arn:aws:s3:::bucket-settings-denied in the instance role\'s policy (IAM → Roles → the instance\'s role → Add permissions); the audit only reads')
  assert.equal(report.status, 'unknown')

  const { fastify: noGroups } = await auditApp(t, { denied: ['elasticloadbalancing:DescribeTargetGroups', 'autoscaling:DescribeAutoScalingGroups'] })
  const second = await noGroups.audit.run({ serving: false })
  assert.equal(row(second, 'target-group').allow, 'elasticloadbalancing:DescribeTargetGroups')
  assert.equal(row(second, 'auto-scaling').allow, 'autoscaling:DescribeAutoScalingGroups')
})

test('a target group checking / on port 80: the fix says path /health, port 8080', async t => {
  const { fastify } = await auditApp(t, {
    targetGroups: [targetGroup('suai-targets', { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch', Description: 'Health checks failed with these codes: [404]' }, { HealthCheckPath: '/', HealthCheckPort: '80' })]
  })
  const report = await fastify.audit.run({ serving: false })
  const group = row(report, 'target-group')
  assert.equal(group.status, 'fail')
  assert.equal(group.evidence, `suai-targets: health check HTTP / on port 80, matcher 200; ${identity.instanceId} registered on port ${PORT}`)
  assert.equal(group.fix, 'EC2 → Target groups → suai-targets → Health checks → Edit: set the health check port to 8080 (or "traffic port" once the targets are on 8080); set the health check path to /health (it asks /)')
  const health = row(report, 'target-health')
  assert.equal(health.status, 'fail')
  assert.equal(health.evidence, `${identity.instanceId} on port ${PORT} in suai-targets: unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [404])`)
  assert.equal(health.fix, 'the health check asks /; set its path to /health (EC2 → Target groups → suai-targets → Health checks → Edit)')
})

test('a target group on port 80 with success codes 301: register on 8080, expect 200', async t => {
  const { fastify } = await auditApp(t, {
    targetGroups: [{ ...targetGroup('web', { State: 'unhealthy', Reason: 'Target.Timeout', Description: 'Request timed out' }, { Port: 80, Matcher: { HttpCode: '301' } }), targets: [{ Target: { Id: identity.instanceId, Port: 80 }, HealthCheckPort: '80', TargetHealth: { State: 'unhealthy', Reason: 'Target.Timeout', Description: 'Request timed out' } }] }]
  })
  const group = row(await fastify.audit.run({ serving: false }), 'target-group')
  assert.equal(group.fix, 'EC2 → Target groups → web → Health checks → Edit: register the instances on port 8080 (the target group\'s port, or the Auto Scaling group\'s attachment), not 80; set the health check port to 8080 (or "traffic port" once the targets are on 8080); set the success codes to 200 (they are 301)')
})

// Each reason code AWS gives (API_TargetHealth.html), with the description it sends, and the
// status and the start of the fix the row must show.
const reasons: Array<[state: string, reason: string, description: string, status: AuditRow['status'], fix: RegExp]> = [
  ['unhealthy', 'Target.Timeout', 'Request timed out', 'fail', /^the probes get no answer: add an inbound rule to .* for TCP 8080 from the load balancer's security group/],
  ['unhealthy', 'Target.ResponseCodeMismatch', 'Health checks failed with these codes: [503]', 'fail', /^GET \/health answers 503 only when config\.toml is invalid/],
  ['unhealthy', 'Target.FailedHealthChecks', 'Health checks failed', 'fail', /^the load balancer could not connect, or the answer was malformed: check that suaicloudapp runs .* listens on port 8080/],
  ['unused', 'Target.NotInUse', 'Target group is not configured to receive traffic from the load balancer', 'warn', /^the target group is not used by a listener of the load balancer, or this instance's Availability Zone is not enabled/],
  ['unused', 'Target.InvalidState', 'Target is in the stopped state', 'warn', /^the instance is stopped or not running/],
  ['unused', 'Target.IpUnusable', 'The target IP address is reserved for use by a load balancer', 'warn', /^the target's IP address is in use by a load balancer/],
  ['unavailable', 'Target.HealthCheckDisabled', 'Health checks are disabled', 'unknown', /^turn the health checks on/],
  ['draining', 'Target.DeregistrationInProgress', 'Target deregistration is in progress', 'warn', /^the target is being deregistered/],
  ['initial', 'Elb.RegistrationInProgress', 'Target registration is in progress', 'warn', /^wait: the load balancer is still sending its first health checks/],
  ['initial', 'Elb.InitialHealthChecking', 'Initial health checks in progress', 'warn', /^wait: the load balancer is still sending its first health checks/],
  ['unhealthy', 'Elb.InternalError', 'Health checks failed due to an internal error', 'fail', /^AWS's load balancer failed internally/]
]

for (const [state, reason, description, status, fix] of reasons) {
  test(`target health ${state} ${reason}: ${status}, with the fix`, async t => {
    const { fastify } = await auditApp(t, { targetGroups: [targetGroup('suai-targets', { State: state, Reason: reason, Description: description })] })
    const health = row(await fastify.audit.run({ serving: false }), 'target-health')
    assert.equal(health.status, status)
    assert.equal(health.evidence, `${identity.instanceId} on port ${PORT} in suai-targets: ${state} (${reason}: ${description})`)
    assert.match(health.fix ?? '', fix)
  })
}

test('an instance in no target group and no Auto Scaling group: both warn with the way to attach it', async t => {
  const { fastify, own } = await auditApp(t, { targetGroups: [{ ...targetGroup('other', { State: 'healthy' }), targets: [] }] })
  own.loadBalancing.autoScalingGroups.length = 0
  const report = await fastify.audit.run({ serving: false })
  assert.equal(row(report, 'target-group').status, 'warn')
  assert.equal(row(report, 'target-group').evidence, `${identity.instanceId} is registered in no target group`)
  assert.equal(row(report, 'auto-scaling').evidence, `${identity.instanceId} is in no Auto Scaling group`)
  assert.equal(row(report, 'target-health').status, 'warn')
  assert.equal(row(report, 'target-health').evidence, `${identity.instanceId} is registered in no target group: no load balancer checks it or sends it requests`)
})

function get (port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: LOOPBACK, port, path, headers }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject).end()
  })
}

test('GET /audit: the admin\'s, served from a cache; the load balancer\'s real probes are the passive evidence', async t => {
  const { fastify } = await auditApp(t, { token: 'audit-admin-token' })
  await fastify.listen({ host: LOOPBACK, port: 0 })
  const port = (fastify.server.address() as { port: number }).port
  // Probes as an ALB sends them: GET /health with its user agent, over real connections.
  for (let i = 0; i < 3; i++) assert.equal((await get(port, '/health', { 'user-agent': 'ELB-HealthChecker/2.0' })).status, 200)

  assert.equal((await get(port, '/audit')).status, 401)
  const first = await get(port, '/audit', { authorization: 'Bearer audit-admin-token' })
  assert.equal(first.status, 200)
  const report = JSON.parse(first.body) as AuditReport
  const probes = row(report, 'health-probes')
  assert.equal(probes.status, 'pass')
  assert.match(probes.evidence, /^last GET \/health \d+ s ago, from 127\.0\.0\.1 \(3×, \d+ s ago, ELB-HealthChecker\/2\.0\)$/)

  // A minute's cache: the second answer is the same report.
  const second = JSON.parse((await get(port, '/audit', { authorization: 'Bearer audit-admin-token' })).body) as AuditReport
  assert.equal(second.time, report.time)
})

test('GET /audit answers 503 when a row fails', async t => {
  const { fastify, own } = await auditApp(t, { bucket: 'public-bucket' })
  own.loadBalancing.denied.add('elasticloadbalancing:DescribeTargetGroups')
  const answer = await fastify.inject('/audit')
  assert.equal(answer.statusCode, 503)
  assert.equal((answer.json() as AuditReport).status, 'fail')
})

test('the probe row: silence after a minute warns; a server just started waits; the one-shot command cannot hear', () => {
  const now = 1_000_000
  const heard = { address: '10.0.0.7', userAgent: 'ELB-HealthChecker/2.0', count: 12, last: now - 95_000 }
  const silent = probeRow({ serving: true, now, uptimeSeconds: 600, probes: [heard] })
  assert.equal(silent.status, 'warn')
  assert.equal(silent.evidence, 'no GET /health for 95 s; earlier from 10.0.0.7 (12×, 95 s ago, ELB-HealthChecker/2.0)')
  assert.match(silent.fix ?? '', /security group must admit the load balancer's security group on \[server\] port/)
  assert.equal(probeRow({ serving: true, now, uptimeSeconds: 600, probes: [] }).evidence, 'no GET /health in the 600 s since the server started')
  assert.equal(probeRow({ serving: true, now, uptimeSeconds: 20, probes: [] }).status, 'unknown')
  assert.equal(probeRow({ serving: false, now, uptimeSeconds: 600, probes: [heard] }).status, 'unknown')
})

test('suaicloudapp audit: exit 1 and the table when a row fails, --json the report, 2 on a bad config', async t => {
  const { toml, env } = await auditApp(t, { bucket: 'public-bucket' })
  const cwd = await workDir(toml)
  const table = await runCli(['audit'], { cwd, env: cleanEnv(env) })
  assert.equal(table.code, 1, table.stderr)
  assert.match(table.stdout, /^STATUS {3}INSTRUCTION\nfail {5}the bucket public-bucket is private\n {9}found: the bucket policy of public-bucket makes it public/)
  assert.match(table.stdout, /: 4 pass, 1 fail, 2 unknown\n$/)

  const json = await runCli(['audit', '--json'], { cwd, env: cleanEnv(env) })
  assert.equal(json.code, 1)
  assert.equal((JSON.parse(json.stdout) as AuditReport).rows[0].status, 'fail')

  const passing = await runCli(['audit', '--json'], { cwd: await workDir(toml.replace('public-bucket', 'suai-bucket')), env: cleanEnv(env) })
  assert.equal(passing.code, 0, passing.stderr)

  const bad = await runCli(['audit'], { cwd: await workDir('[server]\nport = "x"\n'), env: cleanEnv(env) })
  assert.equal(bad.code, 2)
})

test('the course\'s network as instructed: the database and the cache private, the app port open to the load balancer', async t => {
  const { fastify } = await auditApp(t, { described: courseLab() })
  const report = await fastify.audit.run({ serving: false })
  assert.deepEqual(report.rows.filter(r => ['database-private', 'cache-subnets', 'cache-open', 'app-port'].includes(r.id)).map(r => [r.id, r.status]), [
    ['database-private', 'pass'], ['cache-subnets', 'pass'], ['cache-open', 'pass'], ['app-port', 'pass']
  ])
  assert.equal(row(report, 'database-private').evidence, `database-1: not publicly accessible; ${ids.dbGroup} open no port 3306 to the world`)
  assert.equal(row(report, 'cache-subnets').evidence, `replication group r1 is in ${ids.dataSubnetA} (eu-central-1a), ${ids.dataSubnetB} (eu-central-1b); no subnet routes to an internet gateway`)
  assert.equal(row(report, 'cache-subnets').instruction, 'the Redis cache is in private subnets of every Availability Zone the instances use (eu-central-1a, eu-central-1b, from the Auto Scaling group suai-asg)')
  assert.equal(row(report, 'app-port').evidence, `${ids.appGroup} (this instance) admits TCP 8080 from 10.0.1.0/24, 10.0.2.0/24 (load balancer suai-alb)`)
})

test('a public RDS instance open to the world on 3306 fails, naming the flag and the rule', async t => {
  const described = courseLab()
  described.dbInstances[0].PubliclyAccessible = true
  described.securityGroups.find(g => g.GroupId === ids.dbGroup)?.IpPermissions?.push({ IpProtocol: 'tcp', FromPort: 3306, ToPort: 3306, IpRanges: [], Ipv6Ranges: [{ CidrIpv6: '::/0' }] })
  const { fastify } = await auditApp(t, { described })
  const database = row(await fastify.audit.run({ serving: false }), 'database-private')
  assert.equal(database.status, 'fail')
  assert.equal(database.evidence, `database-1 is publicly accessible; ${ids.dbGroup} admits TCP 3306 from anywhere (0.0.0.0/0 or ::/0) (security groups ${ids.dbGroup})`)
  assert.match(database.fix ?? '', /^RDS → Databases → database-1 → Modify → Connectivity → Additional configuration → Not publicly accessible; EC2 → Security groups → sg-/)
})

test('a cache subnet group missing an AZ, and a cache in a public subnet, fail with the subnet and the route', async t => {
  const missing = courseLab()
  missing.cacheSubnetGroups[0].Subnets = [{ SubnetIdentifier: ids.dataSubnetA }]
  const exposed = courseLab()
  exposed.routeTables[1].Associations?.push({ SubnetId: ids.dataSubnetB, Main: false })
  exposed.securityGroups.find(g => g.GroupId === ids.cacheGroup)?.IpPermissions?.push({ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] })
  const [a, b] = await Promise.all([missing, exposed].map(async described => (await auditApp(t, { described })).fastify.audit.run({ serving: false })))
  const gap = row(a, 'cache-subnets')
  assert.equal(gap.status, 'fail')
  assert.equal(gap.evidence, `replication group r1 is in ${ids.dataSubnetA} (eu-central-1a); no subnet routes to an internet gateway; none in eu-central-1b`)
  assert.equal(gap.fix, 'add a private subnet of eu-central-1b to the cache\'s subnet group (ElastiCache → Subnet groups → Edit), and a replica there')
  const pub = row(b, 'cache-subnets')
  assert.equal(pub.status, 'fail')
  assert.equal(pub.evidence, `replication group r1 is in ${ids.dataSubnetA} (eu-central-1a), ${ids.dataSubnetB} (eu-central-1b); ${ids.dataSubnetB} routes to ${ids.internetGateway} (${ids.publicRouteTable})`)
  assert.match(pub.fix ?? '', new RegExp(`^use private subnets only: .* replace ${ids.dataSubnetB} with subnets whose route table has no route to an internet gateway`))
  assert.equal(row(b, 'cache-open').status, 'fail')
  assert.equal(row(b, 'cache-open').evidence, `${ids.cacheGroup} (on replication group r1) admits TCP 6379 from anywhere`)
})

test('an instance security group without the app port fails, and says the health checks will time out', async t => {
  const described = courseLab()
  const app = described.securityGroups.find(g => g.GroupId === ids.appGroup)
  if (app) app.IpPermissions = [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }]
  const { fastify } = await auditApp(t, { described, targetGroups: [targetGroup('suai-targets', { State: 'unhealthy', Reason: 'Target.Timeout', Description: 'Request timed out' })] })
  const report = await fastify.audit.run({ serving: false })
  const port = row(report, 'app-port')
  assert.equal(port.status, 'fail')
  assert.equal(port.evidence, `${ids.appGroup} (this instance) has no inbound rule for TCP 8080 from ${LB_GROUP} (load balancer suai-alb) or from its subnets 10.0.1.0/24, 10.0.2.0/24`)
  assert.equal(port.fix, `EC2 → Security groups → ${ids.appGroup} → Edit inbound rules → Add rule: Custom TCP, port 8080, source ${LB_GROUP}: without it the health checks time out (Target.Timeout) and the Auto Scaling group replaces the instances`)
  assert.match(row(report, 'target-health').fix ?? '', new RegExp(`^the probes get no answer: add an inbound rule to ${ids.appGroup} for TCP 8080`))
})

test('without the RDS or ElastiCache permissions the network rows say unknown with the action', async t => {
  const [rds, cache] = await Promise.all([
    auditApp(t, { described: courseLab(), describeDenied: 'rds:DescribeDBInstances' }),
    auditApp(t, { described: courseLab(), describeDenied: 'elasticache:DescribeReplicationGroups' })
  ].map(async app => (await app).fastify.audit.run({ serving: false })))
  assert.equal(row(rds, 'database-private').status, 'unknown')
  assert.equal(row(rds, 'database-private').allow, 'rds:DescribeDBInstances')
  assert.equal(row(rds, 'cache-subnets').status, 'pass')
  assert.deepEqual(cache.rows.filter(r => r.id.startsWith('cache-')).map(r => [r.id, r.status, r.allow]), [
    ['cache-subnets', 'unknown', 'elasticache:DescribeReplicationGroups'], ['cache-open', 'unknown', 'elasticache:DescribeReplicationGroups']
  ])
})

test('the CloudFormation template\'s role and the README\'s statements allow every call the audit makes', async () => {
  const template = JSON.parse(await readFile(join(root, 'deploy/suaicloudapp.template.json'), 'utf8'))
  const role = Object.values(template.Resources as Record<string, { Type: string, Properties: any }>).find(r => r.Type === 'AWS::IAM::Role')
  const granted = role?.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement).flatMap((s: any) => [s.Action].flat())
  for (const action of [...AUDIT_ACTIONS, ...DESCRIBE_ACTIONS]) assert.ok(granted.includes(action), `the template's role allows ${action}`)
  // For a role made by hand: the audit's own statement, and pinpoint's (checked in pinpoint.test.ts).
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const handMade = readme.split('**Permissions.**')[1]?.split('```')[1] ?? ''
  for (const action of AUDIT_ACTIONS.filter(a => a !== 'dynamodb:DescribeTable')) assert.ok(handMade.includes(`"${action}"`), `README's statement names ${action}`)
})

test('off EC2 the network rows say unknown, with why there is no network to describe', async t => {
  const { fastify } = await buildApp(t, configToml({ aws: { region: REGION }, database: { host: endpoints.database, user: 'admin', dbname: 'suai' }, redis: { host: endpoints.redis } }))
  const report = await fastify.audit.run({ serving: false })
  for (const id of ['database-private', 'cache-subnets', 'cache-open']) {
    assert.deepEqual([row(report, id).status, row(report, id).evidence], ['unknown', 'not on EC2 (metadata disabled): the audit describes the environment of the instance it runs on'], id)
  }
})
