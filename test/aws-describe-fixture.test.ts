import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createDescriber, DescribeDenied } from '../lib/describe.ts'
import { createImds } from '../lib/imds.ts'
import { createLookup } from '../lib/lookup.ts'
import { startAws, type AwsFixture } from './harness/index.ts'
import { lab, labIds, type Lab } from './harness/aws-lab.ts'

// The EC2, RDS and ElastiCache fixture read back through the real SDK clients (lib/describe.ts):
// what it serves must come out of the SDK's own parsers as the lab it was given.

let aws: AwsFixture
const env = lab('b1')

before(async () => {
  aws = await startAws()
  aws.putLab(env)
  aws.putLab(lab('b2'), 'ec2:DescribeSecurityGroups')
})

after(async () => { await aws?.stop() })

function describer () {
  const vars = { AWS_ACCESS_KEY_ID: 'AKIAFIXTURE000000001', AWS_SECRET_ACCESS_KEY: 'fixture-secret', AWS_ENDPOINT_URL_EC2: aws.endpoint, AWS_ENDPOINT_URL_RDS: aws.endpoint, AWS_ENDPOINT_URL_ELASTICACHE: aws.endpoint }
  const quiet = () => {}
  return createDescriber({
    log: { debug: quiet, info: quiet, warn: quiet },
    timeoutMs: 2000,
    cacheMs: 0,
    scrub: text => text,
    awsRegion: aws.region,
    env: vars,
    imds: createImds({ env: { AWS_EC2_METADATA_DISABLED: 'true' } }),
    lookup: createLookup()
  })
}

// The parts of `actual` that `expected` names: the SDK adds fields of its own (OwnerId, empty lists).
function pick (actual: unknown, expected: unknown): unknown {
  if (Array.isArray(expected)) return Array.isArray(actual) ? actual.map((item, i) => pick(item, expected[i] ?? expected[0])) : actual
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object') return actual
    return Object.fromEntries(Object.keys(expected).map(key => [key, pick((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key])]))
  }
  return actual
}

const mine = <T extends { GroupId?: string, SubnetId?: string, NetworkAclId?: string }>(items: T[], key: keyof T, wanted: Lab[keyof Lab]) =>
  items.filter(item => (wanted as Array<Record<string, unknown>>).some(w => w[key as string] === item[key]))

test('EC2: security groups, subnets and network ACLs come back as the SDK shapes they were', async t => {
  const ec2 = describer()
  t.after(() => ec2.close())
  const signal = AbortSignal.timeout(5000)
  const groups = await ec2.securityGroups(env.securityGroups.map(g => g.GroupId!), signal)
  assert.deepEqual(pick(groups, env.securityGroups), env.securityGroups)
  const subnets = await ec2.subnets(env.subnets.map(s => s.SubnetId!), signal)
  assert.deepEqual(pick(subnets, env.subnets), env.subnets)
  const acls = await ec2.networkAcls([labIds('b1').instanceSubnet], signal)
  assert.deepEqual(pick(mine(acls, 'NetworkAclId', env.networkAcls), env.networkAcls), env.networkAcls)
})

test('EC2: route tables (with gateway endpoints\' prefix-list routes) and VPC endpoints (with their policy) come back as they were', async t => {
  const ec2 = describer()
  t.after(() => ec2.close())
  const signal = AbortSignal.timeout(5000)
  const vpc = labIds('b1').vpc
  const tables = await ec2.routeTables(vpc, signal)
  assert.deepEqual(pick(tables, env.routeTables), env.routeTables)
  const endpoints = await ec2.vpcEndpoints(vpc, signal)
  assert.deepEqual(pick(endpoints, env.vpcEndpoints), env.vpcEndpoints)
  assert.deepEqual(JSON.parse(endpoints[0].PolicyDocument!).Statement[0].Action, '*')
  // Another VPC's endpoints are not listed.
  assert.deepEqual(await ec2.vpcEndpoints(labIds('b2').vpc, signal).then(found => found.map(e => e.VpcId)), [labIds('b2').vpc, labIds('b2').vpc])
})

test('RDS and ElastiCache: instances, clusters, replication groups, members, subnet groups, serverless caches', async t => {
  const d = describer()
  t.after(() => d.close())
  const signal = AbortSignal.timeout(5000)
  const instances = (await d.dbInstances(signal)).filter(db => db.DBInstanceIdentifier?.includes('-b1'))
  assert.deepEqual(pick(instances, env.dbInstances), env.dbInstances)
  const clusters = (await d.dbClusters(signal)).filter(c => c.DBClusterIdentifier?.includes('-b1'))
  assert.deepEqual(pick(clusters, env.dbClusters), env.dbClusters)
  const groups = (await d.replicationGroups(signal)).filter(g => g.ReplicationGroupId === 'r1-b1')
  assert.deepEqual(pick(groups, env.replicationGroups), env.replicationGroups)
  assert.deepEqual(pick(await d.cacheCluster('r1-b1-001', signal), env.cacheClusters[0]), env.cacheClusters[0])
  assert.deepEqual(pick(await d.cacheSubnetGroup('suai-cache-b1', signal), env.cacheSubnetGroups[0]), env.cacheSubnetGroups[0])
  const serverless = (await d.serverlessCaches(signal)).filter(c => c.ServerlessCacheName === 's1-b1')
  assert.deepEqual(pick(serverless, env.serverlessCaches), env.serverlessCaches)
})

test('a denied call: EC2\'s UnauthorizedOperation becomes DescribeDenied naming the action', async t => {
  const d = describer()
  t.after(() => d.close())
  await assert.rejects(d.securityGroups([labIds('b2').dbGroup], AbortSignal.timeout(5000)), (err: unknown) => {
    assert.ok(err instanceof DescribeDenied)
    assert.equal(err.action, 'ec2:DescribeSecurityGroups')
    assert.match(err.message, /^You are not authorized to perform this operation\. User: arn:aws:sts::123456789012:assumed-role\/suai-InstanceRole\/i-0fixture1234567890 is not authorized to perform: ec2:DescribeSecurityGroups because no identity-based policy allows/)
    return true
  })
})
