import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { clientOptions } from '../lib/aws.ts'
import {
  appPortRow, autoScalingRow, autoScalingZones, bucketPrivateRow, cacheRows, databasePrivateRow, overallStatus, probeRow, tableKeyRow, targetGroupRows, targetHealthRows,
  type AuditReport, type AuditRow, type AutoScalingFacts, type Fact, type PublicAccessBlock, type Registration
} from '../lib/audit.ts'
import { createDescriber, DescribeDenied } from '../lib/describe.ts'
import type { NetworkLookup } from '../lib/imds.ts'
import { databaseTarget, findReplicationGroup, findServerlessCache, replicationGroupTarget, serverlessCacheTarget, type SecurityGroup, type Subnet } from '../lib/pinpoint.ts'
import { backendDeps } from './backends.ts'
import type { Static } from '@sinclair/typebox'
import { keySchemaProblem, type DynamodbSection } from './dynamodb.ts'
import type { DatabaseSection } from './database.ts'
import type { RedisSection } from './redis.ts'
import type { S3Section } from './s3.ts'

declare module 'fastify' {
  interface FastifyInstance {
    audit: ReturnType<typeof createAudit>
  }
}

// The whole audit answers within this budget: every read-only call is aborted when it runs
// out, and what it would have told becomes an unknown row.
export const AUDIT_BUDGET_MS = 10_000
// The dashboard and GET /audit are served a report at most this old: AWS is asked at most once
// a minute, however many browsers are open.
export const AUDIT_CACHE_MS = 60_000
// A course account holds a handful of target groups; the audit reads the health of this many.
const MAX_TARGET_GROUPS = 20

// The read-only actions the audit uses, for the README and the CloudFormation template's role.
export const AUDIT_ACTIONS = [
  's3:GetBucketPublicAccessBlock', 's3:GetBucketPolicyStatus',
  'dynamodb:DescribeTable',
  'elasticloadbalancing:DescribeTargetGroups', 'elasticloadbalancing:DescribeTargetHealth',
  'elasticloadbalancing:DescribeLoadBalancers',
  'autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeAutoScalingGroups'
  // and pinpoint's Describe* (lib/describe.ts DESCRIBE_ACTIONS), which the audit reuses.
] as const

// AWS's answers to a call the principal may not make: S3 and DynamoDB say AccessDenied(Exception),
// ELBv2 and Auto Scaling AccessDenied, EC2 UnauthorizedOperation.
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation'])

function createAudit (fastify: FastifyInstance) {
  const { values, scrub } = fastify.config
  // The sections of config.toml the audit reads (the registry's list types them loosely).
  const s3Section = values.s3 as Static<typeof S3Section> | undefined
  const dynamodbSection = values.dynamodb as Static<typeof DynamodbSection> | undefined
  const databaseSection = values.database as Static<typeof DatabaseSection> | undefined
  const redisSection = values.redis as Static<typeof RedisSection> | undefined
  const { imds } = fastify.environment
  const deps = backendDeps(fastify, fastify.log.child({ audit: true }))

  // The SDK clients, loaded on the first audit: a server nobody audits never loads them.
  let clients: ReturnType<typeof makeClients> | undefined
  function makeClients () {
    return Promise.all([
      import('@aws-sdk/client-s3'), import('@aws-sdk/client-dynamodb'),
      import('@aws-sdk/client-elastic-load-balancing-v2'), import('@aws-sdk/client-auto-scaling')
    ]).then(([s3, dynamodb, elb, autoscaling]) => ({
      s3: { sdk: s3, client: new s3.S3Client({ ...clientOptions('S3', deps, s3Section?.endpoint), forcePathStyle: Boolean(s3Section?.endpoint) }) },
      dynamodb: { sdk: dynamodb, client: new dynamodb.DynamoDBClient(clientOptions('DYNAMODB', deps, dynamodbSection?.endpoint)) },
      elb: { sdk: elb, client: new elb.ElasticLoadBalancingV2Client(clientOptions('ELASTIC_LOAD_BALANCING_V2', deps)) },
      autoscaling: { sdk: autoscaling, client: new autoscaling.AutoScalingClient(clientOptions('AUTO_SCALING', deps)) }
    }))
  }

  // EC2, RDS and ElastiCache: pinpoint's read-only calls (lib/describe.ts).
  const describer = createDescriber(deps)

  // One read-only call: its answer, or the action AWS refused, or what went wrong in words.
  async function read<T> (action: string, signal: AbortSignal, call: () => Promise<T>): Promise<Fact<T>> {
    try {
      return { value: await call() }
    } catch (err) {
      if (err instanceof DescribeDenied) return { denied: err.action }
      const { name, message, $metadata } = err as { name?: string, message?: string, $metadata?: { httpStatusCode?: number } }
      if ((name && DENIED.has(name)) || $metadata?.httpStatusCode === 403) return { denied: action }
      if (signal.aborted) return { error: `${action} got no answer within the audit's budget of ${AUDIT_BUDGET_MS / 1000} s` }
      return { error: scrub(`${action} failed: ${name ?? 'Error'}: ${message ?? String(err)}`) }
    }
  }

  async function bucketRows (signal: AbortSignal): Promise<AuditRow[]> {
    const bucket = s3Section?.bucket
    if (!bucket) return []
    const { s3: { sdk, client } } = await (clients ??= makeClients())
    const [block, policyPublic] = await Promise.all([
      read('s3:GetBucketPublicAccessBlock', signal, () => client.send(new sdk.GetPublicAccessBlockCommand({ Bucket: bucket }), { abortSignal: signal })
        .then(answer => answer.PublicAccessBlockConfiguration as PublicAccessBlock, err => {
          if ((err as Error).name === 'NoSuchPublicAccessBlockConfiguration') return null
          throw err
        })),
      // A bucket without a policy is not public by its policy.
      read('s3:GetBucketPolicyStatus', signal, () => client.send(new sdk.GetBucketPolicyStatusCommand({ Bucket: bucket }), { abortSignal: signal })
        .then(answer => answer.PolicyStatus?.IsPublic === true, err => {
          if ((err as Error).name === 'NoSuchBucketPolicy') return false
          throw err
        }))
    ])
    return [bucketPrivateRow(bucket, block, policyPublic)]
  }

  async function tableRows (signal: AbortSignal): Promise<AuditRow[]> {
    const section = dynamodbSection
    if (!section) return []
    const { dynamodb: { sdk, client } } = await (clients ??= makeClients())
    const schema = await read('dynamodb:DescribeTable', signal, async () => {
      const { Table: table } = await client.send(new sdk.DescribeTableCommand({ TableName: section.table }), { abortSignal: signal })
      return { keys: (table?.KeySchema ?? []).map(key => `${key.AttributeName} (${key.KeyType})`), problem: keySchemaProblem(table, section.partition_key) }
    })
    return [tableKeyRow(section.table, section.partition_key, schema)]
  }

  // The target groups this instance is registered in (by instance id, or by private IP for a
  // group of target type ip), each with this instance's health there.
  async function loadBalancerFacts (signal: AbortSignal, place: Promise<NetworkLookup>) {
    const [{ instance }, { network }] = await Promise.all([imds.lookup(), place])
    const port = values.server.port
    let registrations: Fact<Registration[]> = { value: [] }
    if (instance) {
      const { elb: { sdk, client } } = await (clients ??= makeClients())
      const groups = await read('elasticloadbalancing:DescribeTargetGroups', signal, async () =>
        (await client.send(new sdk.DescribeTargetGroupsCommand({}), { abortSignal: signal })).TargetGroups ?? [])
      if (!('value' in groups)) {
        registrations = groups
      } else {
        const healths = await Promise.all(groups.value.slice(0, MAX_TARGET_GROUPS).map(group =>
          read('elasticloadbalancing:DescribeTargetHealth', signal, async () =>
            (await client.send(new sdk.DescribeTargetHealthCommand({ TargetGroupArn: group.TargetGroupArn }), { abortSignal: signal })).TargetHealthDescriptions ?? [])))
        const refused = healths.find(health => !('value' in health))
        registrations = refused && !('value' in refused)
          ? refused
          : {
              value: groups.value.slice(0, MAX_TARGET_GROUPS).map((group, i) => {
                const self = group.TargetType === 'ip' ? instance.privateIp : instance.instanceId
                const health = healths[i]
                return { group, targets: 'value' in health ? health.value.filter(target => target.Target?.Id === self) : [] }
              }).filter(registration => registration.targets.length > 0)
            }
      }
    }
    return { instanceId: instance?.instanceId ?? null, port, securityGroupIds: network?.securityGroupIds ?? [], instanceGroupIds: network?.securityGroupIds ?? null, registrations }
  }

  // The load balancer in front of this instance's target groups, and whether this instance's
  // security groups admit it on [server] port.
  async function appPort (signal: AbortSignal, facts: Awaited<ReturnType<typeof loadBalancerFacts>>): Promise<AuditRow> {
    const { port, instanceGroupIds, registrations } = facts
    if (!instanceGroupIds || !('value' in registrations)) return appPortRow({ port, instanceGroupIds, balancer: 'value' in registrations ? { value: null } : registrations, securityGroups: { value: [] } })
    const arns = [...new Set(registrations.value.flatMap(({ group }) => group.LoadBalancerArns ?? []))]
    if (arns.length === 0) return appPortRow({ port, instanceGroupIds, balancer: { value: null }, securityGroups: { value: [] } })
    const { elb: { sdk, client } } = await (clients ??= makeClients())
    const balancer = await read('elasticloadbalancing:DescribeLoadBalancers', signal, async () => {
      const found = (await client.send(new sdk.DescribeLoadBalancersCommand({ LoadBalancerArns: arns }), { abortSignal: signal })).LoadBalancers?.[0]
      const subnetIds = (found?.AvailabilityZones ?? []).flatMap(zone => zone.SubnetId ?? [])
      const subnets: Subnet[] = subnetIds.length > 0 ? await describer.subnets(subnetIds, signal).catch(() => []) : []
      return found ? { name: found.LoadBalancerName ?? '?', securityGroupIds: found.SecurityGroups ?? [], subnetCidrs: subnets.flatMap(subnet => subnet.CidrBlock ?? []) } : null
    })
    const securityGroups = await read('ec2:DescribeSecurityGroups', signal, () => describer.securityGroups(instanceGroupIds, signal))
    return appPortRow({ port, instanceGroupIds, balancer, securityGroups })
  }

  // The network rows describe this instance's environment: off EC2 (or with the metadata service
  // silent) there is none to describe, and the row says why.
  const notOnEc2 = (id: string, instruction: string, note: string): AuditRow => ({ id, instruction, status: 'unknown', evidence: `${note}: the audit describes the environment of the instance it runs on` })

  async function databaseRows (signal: AbortSignal, place: Promise<NetworkLookup>): Promise<AuditRow[]> {
    const section = databaseSection
    if (!section) return []
    const { network, note } = await place
    if (!network) return [notOnEc2('database-private', 'the database is reachable only inside the VPC', note)]
    const database = await read('rds:DescribeDBInstances', signal, async () => {
      const [instances, clusters] = await Promise.all([describer.dbInstances(signal), describer.dbClusters(signal)])
      const target = databaseTarget(section.host, instances, clusters)
      if (!target) return null
      // An Aurora cluster is as public as its instances.
      const members = instances.filter(db => db.DBInstanceIdentifier === target.id || db.DBClusterIdentifier === target.id)
      return { id: target.id, publiclyAccessible: members.some(db => db.PubliclyAccessible === true), port: target.port ?? section.port, securityGroupIds: target.securityGroupIds }
    })
    const groupIds = 'value' in database ? database.value?.securityGroupIds ?? [] : []
    const securityGroups: Fact<SecurityGroup[]> = groupIds.length > 0 ? await read('ec2:DescribeSecurityGroups', signal, () => describer.securityGroups(groupIds, signal)) : { value: [] }
    return [databasePrivateRow({ host: section.host, port: section.port, database, securityGroups })]
  }

  async function redisRows (signal: AbortSignal, place: Promise<NetworkLookup>, zones: string[], zonesFrom: string): Promise<AuditRow[]> {
    const section = redisSection
    if (!section) return []
    const { network, note } = await place
    if (!network) return [notOnEc2('cache-subnets', 'the Redis cache is in private subnets of every Availability Zone the instances use', note), notOnEc2('cache-open', 'the Redis cache\'s security groups are open to no 0.0.0.0/0 or ::/0', note)]
    const cache = await read('elasticache:DescribeReplicationGroups', signal, async () => {
      const group = findReplicationGroup(section.host, await describer.replicationGroups(signal))
      if (group) {
        const member = group.MemberClusters?.[0] ? await describer.cacheCluster(group.MemberClusters[0], signal) : undefined
        const subnetGroup = member?.CacheSubnetGroupName ? await describer.cacheSubnetGroup(member.CacheSubnetGroupName, signal) : undefined
        return replicationGroupTarget(group, member, subnetGroup)
      }
      const serverless = findServerlessCache(section.host, await describer.serverlessCaches(signal))
      if (!serverless) return null
      const subnets = await describer.subnets(serverless.SubnetIds ?? [], signal)
      return serverlessCacheTarget(serverless, subnets)
    })
    const target = 'value' in cache ? cache.value : null
    const none = { value: [] }
    const [subnets, securityGroups] = target
      ? await Promise.all([
        read('ec2:DescribeSubnets', signal, () => describer.subnets(target.subnetIds, signal)),
        read('ec2:DescribeSecurityGroups', signal, () => target.securityGroupIds.length > 0 ? describer.securityGroups(target.securityGroupIds, signal) : Promise.resolve([]))
      ])
      : [none, none]
    const vpcId = target?.vpcId ?? ('value' in subnets ? subnets.value[0]?.VpcId : undefined)
    const routeTables = target && vpcId ? await read('ec2:DescribeRouteTables', signal, () => describer.routeTables(vpcId, signal)) : none
    return cacheRows({ host: section.host, cache, subnets, routeTables, securityGroups, zones, zonesFrom })
  }

  // This instance's Auto Scaling group and the zones its instances run in.
  async function autoScalingFacts (signal: AbortSignal): Promise<AutoScalingFacts> {
    const { instance } = await imds.lookup()
    if (!instance) return { instanceId: null, group: { value: null } }
    const { autoscaling: { sdk, client } } = await (clients ??= makeClients())
    const membership = await read('autoscaling:DescribeAutoScalingInstances', signal, async () =>
      (await client.send(new sdk.DescribeAutoScalingInstancesCommand({ InstanceIds: [instance.instanceId] }), { abortSignal: signal })).AutoScalingInstances?.[0]?.AutoScalingGroupName)
    if (!('value' in membership)) return { instanceId: instance.instanceId, group: membership }
    const name = membership.value
    if (!name) return { instanceId: instance.instanceId, group: { value: null } }
    const group = await read('autoscaling:DescribeAutoScalingGroups', signal, async () => {
      const found = (await client.send(new sdk.DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }), { abortSignal: signal })).AutoScalingGroups?.[0]
      return {
        name,
        availabilityZones: found?.AvailabilityZones ?? [],
        instanceZones: (found?.Instances ?? []).map(member => member.AvailabilityZone ?? '').filter(Boolean),
        targetGroupArns: found?.TargetGroupARNs ?? []
      }
    })
    return { instanceId: instance.instanceId, group }
  }

  async function run ({ serving }: { serving: boolean }): Promise<AuditReport> {
    // The SDK clients first: loading them blocks the event loop, and must not eat the metadata
    // service's or a call's timeout (on a slow instance, the rows would read "not on EC2").
    await (clients ??= makeClients())
    const started = Date.now()
    const signal = AbortSignal.timeout(AUDIT_BUDGET_MS)
    // Where this instance sits, asked once for every row that needs it.
    const place = imds.network()
    const balancing = loadBalancerFacts(signal, place)
    const scaling = autoScalingFacts(signal)
    // The zones the cache must cover: the Auto Scaling group's, else this instance's.
    const zones = scaling.then(async facts => {
      const fromGroup = autoScalingZones(facts)
      if (fromGroup) return { zones: fromGroup, from: `the Auto Scaling group ${'value' in facts.group ? facts.group.value?.name : ''}` }
      const { instance } = await imds.lookup()
      return { zones: instance?.availabilityZone ? [instance.availabilityZone] : [], from: 'this instance' }
    })
    const groups = await Promise.all([
      bucketRows(signal), tableRows(signal), databaseRows(signal, place),
      zones.then(({ zones, from }) => redisRows(signal, place, zones, from)),
      balancing.then(facts => [...targetGroupRows(facts), ...targetHealthRows(facts)]),
      balancing.then(async facts => [await appPort(signal, facts)]),
      scaling.then(facts => [autoScalingRow(facts)])
    ])
    const rows = [
      ...groups.flat(),
      probeRow({ serving, now: Date.now(), uptimeSeconds: Math.round(process.uptime()), probes: fastify.probes.list() })
    ]
    return { status: overallStatus(rows), time: new Date(started).toISOString(), durationMs: Date.now() - started, budgetMs: AUDIT_BUDGET_MS, rows }
  }

  // One audit at a time, and a report younger than AUDIT_CACHE_MS served again.
  let latest: { report: AuditReport, at: number } | undefined
  let pending: Promise<AuditReport> | undefined
  return {
    run,
    cached (): Promise<AuditReport> {
      if (latest && Date.now() - latest.at < AUDIT_CACHE_MS) return Promise.resolve(latest.report)
      pending ??= run({ serving: true }).then(report => {
        latest = { report, at: Date.now() }
        return report
      }).finally(() => { pending = undefined })
      return pending
    },
    async close () {
      const made = await clients?.catch(() => undefined)
      for (const { client } of made ? Object.values(made) : []) client.destroy()
      await describer.close()
    }
  }
}

// The audit: read-only calls against the course's instructions, on demand (GET /audit, the
// dashboard, suaicloudapp audit), never on /health and never inside a check.
export default fp(async function audit (fastify) {
  const audit = createAudit(fastify)
  fastify.decorate('audit', audit)
  fastify.addHook('onClose', async () => { await audit.close() })
}, { name: 'audit', dependencies: ['config', 'environment', 'probes'] })
