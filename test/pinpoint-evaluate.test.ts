import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  databaseTarget, evaluate, findReplicationGroup, findServerlessCache, replicationGroupTarget, serverlessCacheTarget,
  type PinpointInput, type Target
} from '../lib/pinpoint.ts'
import { endpoints, ids, instanceNetwork as instance, lab, openAcl, type Lab } from './harness/aws-lab.ts'

// The evaluation alone, over describe outputs in the SDK's shapes (test/harness/aws-lab.ts): each
// scenario changes one piece of a healthy environment and must be named, with its fix.

function group (env: Lab, id: string) {
  const found = env.securityGroups.find(g => g.GroupId === id)
  assert.ok(found, id)
  return found
}

function database (env: Lab, extra: Partial<PinpointInput> = {}) {
  const target = databaseTarget(endpoints.database, env.dbInstances, env.dbClusters)
  assert.ok(target)
  return evaluate({ backend: 'database', port: 3306, instance, target, securityGroups: env.securityGroups, subnets: env.subnets, networkAcls: env.networkAcls, ...extra })
}

function redis (env: Lab, tls: boolean, target?: Target) {
  const replicationGroup = findReplicationGroup(endpoints.redis, env.replicationGroups)
  assert.ok(replicationGroup)
  const member = env.cacheClusters.find(c => c.CacheClusterId === replicationGroup.MemberClusters?.[0])
  const subnetGroup = env.cacheSubnetGroups.find(g => g.CacheSubnetGroupName === member?.CacheSubnetGroupName)
  const found = target ?? replicationGroupTarget(replicationGroup, member, subnetGroup)
  return evaluate({ backend: 'redis', port: 6379, tls, instance, target: found, securityGroups: env.securityGroups, subnets: env.subnets, networkAcls: env.networkAcls })
}

test('the healthy environment: nothing blocks, and the answer says to look elsewhere', () => {
  const verdict = database(lab())
  assert.equal(verdict.blocked, false)
  assert.match(verdict.finding, /^nothing in the security groups, network ACLs or VPC of RDS instance database-1 blocks TCP 3306 from this instance \(10\.0\.1\.23, sg-0a1b2c3d4e5f60021\); the problem is elsewhere/)
  assert.equal(redis(lab(), false).blocked, false)
})

test('the database\'s security group has no inbound rule: names both groups, the address and the console path', () => {
  const env = lab()
  group(env, ids.dbGroup).IpPermissions = []
  assert.deepEqual(database(env), {
    blocked: true,
    finding: 'sg-0a1b2c3d4e5f60031 (on database-1) has no inbound rule for TCP 3306 from sg-0a1b2c3d4e5f60021 (this instance) or from 10.0.1.23',
    fix: 'add one: EC2 → Security groups → sg-0a1b2c3d4e5f60031 → Edit inbound rules → Add rule: MySQL/Aurora, source sg-0a1b2c3d4e5f60021'
  })
})

test('inbound rules that do not match: a CIDR that misses this address, another group, another port', () => {
  const cases = [
    { IpProtocol: 'tcp', FromPort: 3306, ToPort: 3306, IpRanges: [{ CidrIp: '10.0.2.0/24' }] },
    { IpProtocol: 'tcp', FromPort: 3306, ToPort: 3306, UserIdGroupPairs: [{ GroupId: 'sg-0ffffffffffff0099' }] },
    { IpProtocol: 'tcp', FromPort: 3307, ToPort: 3307, UserIdGroupPairs: [{ GroupId: ids.appGroup }] },
    { IpProtocol: 'udp', FromPort: 3306, ToPort: 3306, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }
  ]
  for (const rule of cases) {
    const env = lab()
    group(env, ids.dbGroup).IpPermissions = [rule]
    const verdict = database(env)
    assert.equal(verdict.blocked, true, JSON.stringify(rule))
    assert.match(verdict.finding, /^sg-0a1b2c3d4e5f60031 \(on database-1\) has no inbound rule for TCP 3306/)
  }
})

test('inbound rules that match: the VPC\'s CIDR, this address alone, a port range, all traffic', () => {
  const cases = [
    { IpProtocol: 'tcp', FromPort: 3306, ToPort: 3306, IpRanges: [{ CidrIp: '10.0.0.0/16' }] },
    { IpProtocol: '6', FromPort: 3306, ToPort: 3306, IpRanges: [{ CidrIp: '10.0.1.23/32' }] },
    { IpProtocol: 'tcp', FromPort: 3000, ToPort: 4000, UserIdGroupPairs: [{ GroupId: ids.appGroup }] },
    { IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: ids.appGroup }] }
  ]
  for (const rule of cases) {
    const env = lab()
    group(env, ids.dbGroup).IpPermissions = [rule]
    assert.equal(database(env).blocked, false, JSON.stringify(rule))
  }
})

test('this instance\'s security group lets nothing out', () => {
  const env = lab()
  group(env, ids.appGroup).IpPermissionsEgress = [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }]
  assert.deepEqual(database(env), {
    blocked: true,
    finding: 'sg-0a1b2c3d4e5f60021 (this instance) has no outbound rule for TCP 3306 to sg-0a1b2c3d4e5f60031 (RDS instance database-1) or to 10.0.2.0/24',
    fix: 'add one: EC2 → Security groups → sg-0a1b2c3d4e5f60021 → Edit outbound rules → Add rule: Custom TCP, port 3306, destination sg-0a1b2c3d4e5f60031'
  })
})

test('the database in another VPC', () => {
  const env = lab()
  env.dbInstances[0].DBSubnetGroup!.VpcId = ids.otherVpc
  assert.deepEqual(database(env), {
    blocked: true,
    finding: `RDS instance database-1 is in ${ids.otherVpc}, this instance (${instance.instanceId}) in ${ids.vpc}`,
    fix: `run the instances in ${ids.otherVpc} (the launch template's or Auto Scaling group's subnets), or recreate database-1 with a subnet group in ${ids.vpc}`
  })
})

test('a stopped database, and one still being created', () => {
  const env = lab()
  env.dbInstances[0].DBInstanceStatus = 'stopped'
  assert.deepEqual(database(env), {
    blocked: true,
    finding: 'RDS instance database-1 is stopped',
    fix: 'start it: RDS → Databases → database-1 → Actions → Start (a stopped DB starts again by itself after 7 days)'
  })
  env.dbInstances[0].DBInstanceStatus = 'creating'
  assert.match(database(env).fix ?? '', /^wait until its status is available \(RDS → Databases → database-1/)
})

test('[database] port differs from the port the database listens on', () => {
  const verdict = database(lab(), { port: 3307 })
  assert.deepEqual(verdict, { blocked: true, finding: 'RDS instance database-1 listens on port 3306, [database] port is 3307', fix: 'set [database] port = 3306 in config.toml' })
})

test('network ACL: no rule lets the answers out of the database\'s subnets on the ephemeral ports', () => {
  const env = lab()
  const dataAcl = openAcl(ids.dataAcl, [ids.dataSubnetA, ids.dataSubnetB])
  // Outbound only to the well-known ports: the answers to 32768-60999 meet the "*" rule.
  dataAcl.Entries = dataAcl.Entries!.map(e => e.Egress && e.RuleNumber === 100 ? { ...e, Protocol: '6', PortRange: { From: 0, To: 1023 } } : e)
  env.networkAcls = [openAcl(ids.defaultAcl, [ids.instanceSubnet]), dataAcl]
  assert.deepEqual(database(env), {
    blocked: true,
    finding: `network ACL ${ids.dataAcl} (of ${ids.dataSubnetA}): no rule allows outbound the answers (TCP 32768-60999) to 10.0.1.23 (port 32768)`,
    fix: `VPC → Network ACLs → ${ids.dataAcl} → Edit outbound rules → add an allow rule: Custom TCP, ports 1024-65535, destination 10.0.1.0/24`
  })
})

test('network ACL: an explicit deny of part of the ephemeral range is found, with its rule number', () => {
  const env = lab()
  const ownAcl = openAcl(ids.defaultAcl, [ids.instanceSubnet])
  ownAcl.Entries!.push({ RuleNumber: 50, Protocol: '6', RuleAction: 'deny', Egress: false, CidrBlock: '10.0.0.0/16', PortRange: { From: 50000, To: 50010 } })
  env.networkAcls = [ownAcl, openAcl(ids.dataAcl, [ids.dataSubnetA, ids.dataSubnetB])]
  assert.deepEqual(database(env), {
    blocked: true,
    finding: `network ACL ${ids.defaultAcl} (of ${ids.instanceSubnet}): rule 50 denies inbound the answers (TCP 32768-60999) from 10.0.2.0/24 (port 50000)`,
    fix: `VPC → Network ACLs → ${ids.defaultAcl} → Edit inbound rules → add an allow rule numbered below 50: Custom TCP, ports 1024-65535, source 10.0.2.0/24`
  })
})

test('network ACL: a deny of the database port into its subnet', () => {
  const env = lab()
  const dataAcl = openAcl(ids.dataAcl, [ids.dataSubnetA, ids.dataSubnetB])
  dataAcl.Entries!.push({ RuleNumber: 90, Protocol: '6', RuleAction: 'deny', Egress: false, CidrBlock: '10.0.1.0/24', PortRange: { From: 3306, To: 3306 } })
  env.networkAcls = [openAcl(ids.defaultAcl, [ids.instanceSubnet]), dataAcl]
  const verdict = database(env)
  assert.equal(verdict.finding, `network ACL ${ids.dataAcl} (of ${ids.dataSubnetA}): rule 90 denies inbound TCP 3306 from 10.0.1.23 (port 3306)`)
  assert.equal(verdict.fix, `VPC → Network ACLs → ${ids.dataAcl} → Edit inbound rules → add an allow rule numbered below 90: Custom TCP, port 3306, source 10.0.1.0/24`)
})

test('the resolved address places the database in one subnet: another subnet\'s ACL does not matter', () => {
  const env = lab()
  const denyAll = openAcl(ids.dataAcl, [ids.dataSubnetB])
  denyAll.Entries = denyAll.Entries!.filter(e => e.RuleNumber === 32767)
  env.networkAcls = [openAcl(ids.defaultAcl, [ids.instanceSubnet, ids.dataSubnetA]), denyAll]
  assert.equal(database(env, { targetIp: '10.0.2.57' }).blocked, false)
  assert.match(database(env, { targetIp: '10.0.3.57' }).finding, new RegExp(`^network ACL ${ids.dataAcl} \\(of ${ids.dataSubnetB}\\): no rule allows inbound TCP 3306`))
})

test('in the same subnet no network ACL is crossed', () => {
  const env = lab()
  env.networkAcls = [{ ...openAcl(ids.defaultAcl, [ids.instanceSubnet]), Entries: [] }]
  env.dbInstances[0].DBSubnetGroup!.Subnets = [{ SubnetIdentifier: ids.instanceSubnet }]
  assert.equal(database(env).blocked, false)
})

test('an Aurora cluster by its endpoint, described through its writer', () => {
  const env = lab()
  const target = databaseTarget(endpoints.aurora, env.dbInstances, env.dbClusters)
  assert.deepEqual(target, { kind: 'Aurora cluster', id: 'aurora-1', status: 'available', vpcId: ids.vpc, subnetIds: [ids.dataSubnetA, ids.dataSubnetB], securityGroupIds: [ids.dbGroup], port: 3306 })
  env.dbClusters[0].Status = 'stopped'
  assert.equal(databaseTarget(endpoints.aurora.toUpperCase(), env.dbInstances, env.dbClusters)?.status, 'stopped')
  assert.equal(databaseTarget('db.example.com', env.dbInstances, env.dbClusters), undefined)
})

test('a replication group with in-transit encryption and [redis] tls = false: set tls = true; and the reverse', () => {
  const env = lab()
  assert.equal(redis(env, true).fix, 'set [redis] tls = false in config.toml')
  env.replicationGroups[0].TransitEncryptionEnabled = true
  assert.deepEqual(redis(env, false), { blocked: true, finding: 'replication group r1 has in-transit encryption: it speaks TLS only', fix: 'set [redis] tls = true in config.toml' })
  assert.equal(redis(env, true).blocked, false)
  env.replicationGroups[0].TransitEncryptionMode = 'preferred'
  assert.equal(redis(env, false).blocked, false, 'preferred mode accepts both')
})

test('a connection that was made: the rules are not in question, only the settings', () => {
  const env = lab()
  group(env, ids.cacheGroup).IpPermissions = []
  env.replicationGroups[0].TransitEncryptionEnabled = true
  const replicationGroup = env.replicationGroups[0]
  const target = replicationGroupTarget(replicationGroup, env.cacheClusters[0], env.cacheSubnetGroups[0])
  const input = { backend: 'redis', port: 6379, instance, target, securityGroups: env.securityGroups, subnets: env.subnets, networkAcls: env.networkAcls, connected: true }
  assert.equal(evaluate({ ...input, tls: false }).fix, 'set [redis] tls = true in config.toml')
  assert.deepEqual(evaluate({ ...input, tls: true }), { blocked: false, finding: 'the connection to replication group r1 was made, and its settings match config.toml: the problem is the server itself' })
})

test('the cache\'s security group admits another port', () => {
  const env = lab()
  group(env, ids.cacheGroup).IpPermissions = [{ IpProtocol: 'tcp', FromPort: 3306, ToPort: 3306, UserIdGroupPairs: [{ GroupId: ids.appGroup }] }]
  assert.equal(redis(env, false).fix, `add one: EC2 → Security groups → ${ids.cacheGroup} → Edit inbound rules → Add rule: Custom TCP, port 6379, source ${ids.appGroup}`)
})

test('a serverless cache always speaks TLS, and is found by its reader endpoint too', () => {
  const env = lab()
  const cache = findServerlessCache(endpoints.serverless.replace('-x4yqbv', '-ro-x4yqbv'), env.serverlessCaches)
  assert.ok(cache)
  const target = serverlessCacheTarget(cache, env.subnets)
  assert.equal(target.vpcId, ids.vpc)
  assert.equal(redis(env, false, target).finding, 'serverless cache s1 has in-transit encryption: it speaks TLS only')
})
