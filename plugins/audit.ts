import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { clientOptions } from '../lib/aws.ts'
import {
  autoScalingRow, bucketPrivateRow, overallStatus, probeRow, tableKeyRow, targetGroupRows, targetHealthRows,
  type AuditReport, type AuditRow, type AutoScalingFacts, type Fact, type PublicAccessBlock, type Registration
} from '../lib/audit.ts'
import type { BackendDeps } from '../lib/backend.ts'
import type { Static } from '@sinclair/typebox'
import { keySchemaProblem, type DynamodbSection } from './dynamodb.ts'
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
  'autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeAutoScalingGroups'
] as const

// AWS's answers to a call the principal may not make: S3 and DynamoDB say AccessDenied(Exception),
// ELBv2 and Auto Scaling AccessDenied, EC2 UnauthorizedOperation.
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation'])

function createAudit (fastify: FastifyInstance) {
  const { values, scrub } = fastify.config
  // The sections of config.toml the audit reads (the registry's list types them loosely).
  const s3Section = values.s3 as Static<typeof S3Section> | undefined
  const dynamodbSection = values.dynamodb as Static<typeof DynamodbSection> | undefined
  const { env, imds, lookup } = fastify.environment
  const deps: BackendDeps = {
    log: fastify.log.child({ audit: true }),
    timeoutMs: values.checks.timeout_ms,
    cacheMs: values.checks.cache_ms,
    scrub,
    awsRegion: values.aws?.region,
    env,
    imds,
    lookup
  }
  // AWS_ENDPOINT_URL_<SERVICE> (or AWS_ENDPOINT_URL) points a client elsewhere, as for the SDK.
  // https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
  const endpointFor = (service: string) => env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined

  // The SDK clients, loaded on the first audit: a server nobody audits never loads them.
  let clients: ReturnType<typeof makeClients> | undefined
  function makeClients () {
    return Promise.all([
      import('@aws-sdk/client-s3'), import('@aws-sdk/client-dynamodb'),
      import('@aws-sdk/client-elastic-load-balancing-v2'), import('@aws-sdk/client-auto-scaling')
    ]).then(([s3, dynamodb, elb, autoscaling]) => ({
      s3: { sdk: s3, client: new s3.S3Client({ ...clientOptions(s3Section?.endpoint, deps), forcePathStyle: Boolean(s3Section?.endpoint) }) },
      dynamodb: { sdk: dynamodb, client: new dynamodb.DynamoDBClient(clientOptions(dynamodbSection?.endpoint, deps)) },
      elb: { sdk: elb, client: new elb.ElasticLoadBalancingV2Client(clientOptions(endpointFor('ELASTIC_LOAD_BALANCING_V2'), deps)) },
      autoscaling: { sdk: autoscaling, client: new autoscaling.AutoScalingClient(clientOptions(endpointFor('AUTO_SCALING'), deps)) }
    }))
  }

  // One read-only call: its answer, or the action AWS refused, or what went wrong in words.
  async function read<T> (action: string, signal: AbortSignal, call: () => Promise<T>): Promise<Fact<T>> {
    try {
      return { value: await call() }
    } catch (err) {
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
  async function loadBalancerRows (signal: AbortSignal): Promise<AuditRow[]> {
    const { instance } = await imds.lookup()
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
    const facts = { instanceId: instance?.instanceId ?? null, port, securityGroupIds: [], registrations }
    return [...targetGroupRows(facts), ...targetHealthRows(facts)]
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
    const started = Date.now()
    const signal = AbortSignal.timeout(AUDIT_BUDGET_MS)
    const groups = await Promise.all([
      bucketRows(signal), tableRows(signal), loadBalancerRows(signal),
      autoScalingFacts(signal).then(facts => [autoScalingRow(facts)])
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
