import { allows, toRange, type IpPermission, type Range, type RouteTable, type SecurityGroup, type Subnet } from './pinpoint.ts'

// The audit: the course's own instructions held against what AWS says about the environment.
// Pure: it turns read-only facts (what a Describe/Get call answered, or that it was denied)
// into one row per instruction, each with the evidence and the change to make. The calls are
// made by lib/audit-facts.ts; nothing here reaches the network, so every verdict is tested
// without AWS.

export type AuditStatus = 'pass' | 'warn' | 'fail' | 'unknown'

export interface AuditRow {
  // A stable key for the dashboard and the tests.
  id: string
  instruction: string
  status: AuditStatus
  // What was found: resource ids, the rule or setting read.
  evidence: string
  // The change to make; absent when the row passes.
  fix?: string
  // For a row that is unknown because AWS refused a call: the exact IAM action to allow.
  allow?: string
}

export interface AuditReport {
  status: AuditStatus
  time: string
  durationMs: number
  budgetMs: number
  rows: AuditRow[]
}

// What one read-only call gave: its answer, a refusal naming the IAM action it needs, or
// another failure (no answer in time, a service error) said in words.
export type Fact<T> = { value: T } | { denied: string } | { error: string }

// A denied call or a failed one makes a row unknown: the audit cannot tell, and says why.
function unknownFrom (id: string, instruction: string, fact: { denied: string } | { error: string }, resource = '*'): AuditRow {
  if ('denied' in fact) {
    return {
      id,
      instruction,
      status: 'unknown',
      evidence: `AWS refused ${fact.denied}: the instance role may not read this`,
      fix: `allow ${fact.denied} on ${resource} in the instance role's policy (IAM → Roles → the instance's role → Add permissions); the audit only reads`,
      allow: fact.denied
    }
  }
  return { id, instruction, status: 'unknown', evidence: fact.error }
}

// The worst status decides: fail, then warn, then unknown (an audit that could not read
// everything has not passed).
export function overallStatus (rows: AuditRow[]): AuditStatus {
  for (const status of ['fail', 'warn', 'unknown'] as const) if (rows.some(row => row.status === status)) return status
  return 'pass'
}

// --- The bucket: private ---

// S3 GetPublicAccessBlock (null: NoSuchPublicAccessBlockConfiguration, none set on the bucket).
export interface PublicAccessBlock {
  BlockPublicAcls?: boolean
  IgnorePublicAcls?: boolean
  BlockPublicPolicy?: boolean
  RestrictPublicBuckets?: boolean
}

const BLOCK_SETTINGS = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const

// `policyPublic`: GetBucketPolicyStatus's IsPublic, false when the bucket has no policy
// (NoSuchBucketPolicy). https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
export function bucketPrivateRow (bucket: string, block: Fact<PublicAccessBlock | null>, policyPublic: Fact<boolean>): AuditRow {
  const id = 'bucket-private'
  const instruction = `the bucket ${bucket} is private`
  const resource = `arn:aws:s3:::${bucket}`
  const console = `S3 → Buckets → ${bucket} → Permissions`
  if ('value' in policyPublic && policyPublic.value) {
    return {
      id,
      instruction,
      status: 'fail',
      evidence: `the bucket policy of ${bucket} makes it public (GetBucketPolicyStatus: IsPublic true)`,
      fix: `remove the statements that allow Principal "*" from the bucket policy (${console} → Bucket policy), then turn on Block public access (all four settings)`
    }
  }
  if (!('value' in block)) return unknownFrom(id, instruction, block, resource)
  const off = block.value === null ? [...BLOCK_SETTINGS] : BLOCK_SETTINGS.filter(setting => block.value?.[setting] !== true)
  if (off.length > 0) {
    return {
      id,
      instruction,
      status: 'fail',
      evidence: block.value === null
        ? `${bucket} has no public access block (NoSuchPublicAccessBlockConfiguration): a policy or an ACL may make it public`
        : `${bucket}'s public access block has ${off.join(', ')} off`,
      fix: `turn on Block all public access (${console} → Block public access (bucket settings) → Edit)`
    }
  }
  if (!('value' in policyPublic)) return unknownFrom(id, instruction, policyPublic, resource)
  return { id, instruction, status: 'pass', evidence: `${bucket}: all four public access block settings on; its policy is not public` }
}

// --- The table: a string partition key only ---

// `problem`: what the dynamodb check's own rule (plugins/dynamodb.ts keySchemaProblem) says of
// the table's key schema, undefined when it holds.
export function tableKeyRow (table: string, partitionKey: string, schema: Fact<{ keys: string[], problem?: string }>): AuditRow {
  const id = 'dynamodb-key'
  const instruction = `the table ${table} has a String partition key '${partitionKey}' and no sort key`
  if (!('value' in schema)) return unknownFrom(id, instruction, schema, `arn:aws:dynamodb:<region>:<account>:table/${table}`)
  const evidence = `${table}'s key schema: ${schema.value.keys.join(', ') || 'none'}`
  if (!schema.value.problem) return { id, instruction, status: 'pass', evidence }
  return {
    id,
    instruction,
    status: 'fail',
    evidence: `${evidence}: ${schema.value.problem}`,
    fix: `recreate the table with only a partition key '${partitionKey}' of type String, or set [dynamodb] partition_key to the table's key`
  }
}

// --- The load balancer ---

// ELBv2 DescribeTargetGroups: TargetGroups[] (the SDK's shape).
export interface TargetGroup {
  TargetGroupArn?: string
  TargetGroupName?: string
  Protocol?: string
  Port?: number
  VpcId?: string
  TargetType?: string
  HealthCheckProtocol?: string
  HealthCheckPort?: string
  HealthCheckPath?: string
  HealthCheckEnabled?: boolean
  Matcher?: { HttpCode?: string }
  LoadBalancerArns?: string[]
}

// ELBv2 DescribeTargetHealth: TargetHealthDescriptions[].
export interface TargetHealthDescription {
  Target?: { Id?: string, Port?: number, AvailabilityZone?: string }
  HealthCheckPort?: string
  TargetHealth?: { State?: string, Reason?: string, Description?: string }
}

// A target group this instance is registered in, with its own registration(s) there.
export interface Registration {
  group: TargetGroup
  targets: TargetHealthDescription[]
}

export interface LoadBalancerFacts {
  // This instance, from the metadata service; null off EC2.
  instanceId: string | null
  // [server] port: what the app listens on.
  port: number
  // The instance's security groups (IMDS), for the fix of a timeout.
  securityGroupIds: string[]
  registrations: Fact<Registration[]>
}

const groupName = (group: TargetGroup) => group.TargetGroupName ?? group.TargetGroupArn ?? 'a target group'

// Whether an ELBv2 matcher ("200", "200,202", "200-299") admits 200, which /health answers.
export function matcherAdmits (matcher: string | undefined, code: number): boolean {
  return (matcher ?? '200').split(',').some(part => {
    const [low, high = low] = part.trim().split('-').map(Number)
    return code >= low && code <= high
  })
}

// The health check of each target group this instance is in: /health, on [server] port, over
// HTTP, expecting 200. A port of "traffic-port" is the port the instance is registered on.
export function targetGroupRows (facts: LoadBalancerFacts): AuditRow[] {
  const instruction = `the load balancer's health check asks GET /health on port ${facts.port}`
  if (!facts.instanceId) return [{ id: 'target-group', instruction, status: 'unknown', evidence: 'not on EC2 (no instance id from the metadata service): no target group to look for' }]
  if (!('value' in facts.registrations)) return [unknownFrom('target-group', instruction, facts.registrations)]
  if (facts.registrations.value.length === 0) {
    return [{
      id: 'target-group',
      instruction,
      status: 'warn',
      evidence: `${facts.instanceId} is registered in no target group`,
      fix: 'attach the Auto Scaling group to the load balancer\'s target group (EC2 → Auto Scaling groups → the group → Details → Load balancing → Edit), or register this instance in it'
    }]
  }
  return facts.registrations.value.map(({ group, targets }) => {
    const name = groupName(group)
    const registeredPort = targets[0]?.Target?.Port ?? group.Port
    const checkPort = group.HealthCheckPort === 'traffic-port' || !group.HealthCheckPort ? registeredPort : Number(group.HealthCheckPort)
    const path = group.HealthCheckPath ?? '/'
    const protocol = group.HealthCheckProtocol ?? 'HTTP'
    const matcher = group.Matcher?.HttpCode ?? '200'
    const evidence = `${name}: health check ${protocol} ${path} on port ${group.HealthCheckPort ?? 'traffic-port'}${group.HealthCheckPort === 'traffic-port' ? ` (${registeredPort})` : ''}, matcher ${matcher}; ${facts.instanceId} registered on port ${registeredPort}`
    const changes: string[] = []
    if (registeredPort !== facts.port) changes.push(`register the instances on port ${facts.port} (the target group's port, or the Auto Scaling group's attachment), not ${registeredPort}`)
    if (checkPort !== facts.port) changes.push(`set the health check port to ${facts.port} (or "traffic port" once the targets are on ${facts.port})`)
    if (path.split('?')[0] !== '/health') changes.push(`set the health check path to /health (it asks ${path})`)
    if (!matcherAdmits(matcher, 200)) changes.push(`set the success codes to 200 (they are ${matcher})`)
    if (protocol !== 'HTTP') changes.push(`set the health check protocol to HTTP (it is ${protocol}; suaicloudapp serves plain HTTP)`)
    if (group.HealthCheckEnabled === false) changes.push('turn the health checks on')
    const status: AuditStatus = changes.length === 0 ? 'pass' : 'fail'
    return {
      id: 'target-group',
      instruction,
      status,
      evidence,
      ...(changes.length > 0 ? { fix: `EC2 → Target groups → ${name} → Health checks → Edit: ${changes.join('; ')}` } : {})
    }
  })
}

// AWS's reason codes, turned into what to change.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html#target-health-reason-codes
function reasonFix (reason: string | undefined, group: TargetGroup, facts: LoadBalancerFacts, port: number | undefined): string {
  const groups = facts.securityGroupIds.length > 0 ? facts.securityGroupIds.join(', ') : 'this instance\'s security group'
  const path = group.HealthCheckPath ?? '/'
  switch (reason) {
    case 'Target.Timeout':
      return `the probes get no answer: add an inbound rule to ${groups} for TCP ${port ?? facts.port} from the load balancer's security group (EC2 → Security groups → ${facts.securityGroupIds[0] ?? 'the instance\'s group'} → Edit inbound rules), and check that suaicloudapp runs and listens on ${facts.port}`
    case 'Target.ResponseCodeMismatch':
      return path.split('?')[0] === '/health'
        ? 'GET /health answers 503 only when config.toml is invalid, the server is shutting down or the lab switch failed it: run suaicloudapp validate, and see GET /logs'
        : `the health check asks ${path}; set its path to /health (EC2 → Target groups → ${groupName(group)} → Health checks → Edit)`
    case 'Target.FailedHealthChecks':
      return `the load balancer could not connect, or the answer was malformed: check that suaicloudapp runs (systemctl status suaicloudapp) and listens on port ${port ?? facts.port}, the port the health check uses`
    case 'Target.NotInUse':
      return `the target group is not used by a listener of the load balancer, or this instance's Availability Zone is not enabled for the load balancer: add a listener that forwards to ${groupName(group)}, and enable this AZ's subnet on the load balancer (EC2 → Load balancers → Network mapping → Edit subnets)`
    case 'Target.InvalidState':
      return 'the instance is stopped or not running: start it, or let the Auto Scaling group replace it'
    case 'Target.IpUnusable':
      return 'the target\'s IP address is in use by a load balancer: register another target'
    case 'Target.HealthCheckDisabled':
      return `turn the health checks on (EC2 → Target groups → ${groupName(group)} → Health checks → Edit)`
    case 'Target.DeregistrationInProgress':
      return 'the target is being deregistered (the instance is being replaced or scaled in): nothing to change unless that is a surprise'
    case 'Target.NotRegistered':
      return `register this instance in ${groupName(group)}`
    case 'Elb.RegistrationInProgress':
    case 'Elb.InitialHealthChecking':
      return 'wait: the load balancer is still sending its first health checks (HealthyThresholdCount × HealthCheckIntervalSeconds)'
    case 'Elb.InternalError':
      return 'AWS\'s load balancer failed internally: wait and look again'
    default:
      return 'see the target group\'s Targets tab for the reason'
  }
}

// This instance's health in each target group it is in, as the load balancer sees it.
export function targetHealthRows (facts: LoadBalancerFacts): AuditRow[] {
  const instruction = 'the load balancer finds this instance healthy'
  if (!facts.instanceId) return [{ id: 'target-health', instruction, status: 'unknown', evidence: 'not on EC2 (no instance id from the metadata service)' }]
  if (!('value' in facts.registrations)) return [unknownFrom('target-health', instruction, facts.registrations)]
  if (facts.registrations.value.length === 0) {
    return [{ id: 'target-health', instruction, status: 'warn', evidence: `${facts.instanceId} is registered in no target group: no load balancer checks it or sends it requests`, fix: 'see the target group row' }]
  }
  return facts.registrations.value.flatMap(({ group, targets }) => targets.map((target): AuditRow => {
    const { State: state = 'unknown', Reason: reason, Description: description } = target.TargetHealth ?? {}
    const port = target.Target?.Port
    const evidence = `${facts.instanceId} on port ${port ?? '?'} in ${groupName(group)}: ${state}${reason ? ` (${reason}${description ? `: ${description}` : ''})` : ''}`
    if (state === 'healthy') return { id: 'target-health', instruction, status: 'pass', evidence }
    const status: AuditStatus = state === 'unhealthy' ? 'fail' : state === 'unavailable' ? 'unknown' : 'warn'
    return { id: 'target-health', instruction, status, evidence, fix: reasonFix(reason, group, facts, port) }
  }))
}

// --- The Auto Scaling group ---

// From Auto Scaling's DescribeAutoScalingInstances (this instance's group) and
// DescribeAutoScalingGroups (where its instances run); null when the instance is in no group.
export interface AutoScalingFacts {
  instanceId: string | null
  group: Fact<{ name: string, availabilityZones: string[], instanceZones: string[], targetGroupArns: string[] } | null>
}

// The Availability Zones the course's instances run in: those of the group's instances, else
// the group's own. The cache's subnets must cover them.
export function autoScalingZones (facts: AutoScalingFacts): string[] | undefined {
  if (!('value' in facts.group) || !facts.group.value) return undefined
  const { instanceZones, availabilityZones } = facts.group.value
  return [...new Set(instanceZones.length > 0 ? instanceZones : availabilityZones)].sort()
}

export function autoScalingRow (facts: AutoScalingFacts): AuditRow {
  const id = 'auto-scaling'
  const instruction = 'the instances run in an Auto Scaling group over at least two Availability Zones'
  if (!facts.instanceId) return { id, instruction, status: 'unknown', evidence: 'not on EC2 (no instance id from the metadata service)' }
  if (!('value' in facts.group)) return unknownFrom(id, instruction, facts.group)
  const group = facts.group.value
  if (!group) {
    return {
      id,
      instruction,
      status: 'warn',
      evidence: `${facts.instanceId} is in no Auto Scaling group`,
      fix: 'launch the instances from the launch template through an Auto Scaling group (EC2 → Auto Scaling groups → Create), with a subnet in each of two Availability Zones'
    }
  }
  const zones = autoScalingZones(facts) ?? []
  const evidence = `${facts.instanceId} is in ${group.name}, whose instances run in ${zones.join(', ') || 'no zone'} (group zones ${group.availabilityZones.join(', ')}; target groups ${group.targetGroupArns.length})`
  if (group.availabilityZones.length < 2) {
    return { id, instruction, status: 'warn', evidence, fix: `add a subnet of a second Availability Zone to ${group.name} (EC2 → Auto Scaling groups → ${group.name} → Details → Network → Edit)` }
  }
  return { id, instruction, status: 'pass', evidence }
}

// --- Passive evidence: the load balancer's probes, heard by this server ---

export interface ProbeRecord {
  address: string
  userAgent: string
  count: number
  // Date.now() of the last one.
  last: number
}

export interface ProbeFacts {
  // False for the one-shot command: only the running server hears probes.
  serving: boolean
  now: number
  // Seconds this server has been up.
  uptimeSeconds: number
  probes: ProbeRecord[]
}

// A load balancer probes each target every 5 to 300 seconds (30 by default); a minute of
// silence means none reaches this instance.
export const PROBE_SILENCE_MS = 60_000

export function probeRow ({ serving, now, uptimeSeconds, probes }: ProbeFacts): AuditRow {
  const id = 'health-probes'
  const instruction = 'the load balancer\'s health checks reach this instance (GET /health heard)'
  if (!serving) return { id, instruction, status: 'unknown', evidence: 'only the running server hears the probes: ask its GET /audit (or the dashboard)' }
  const latest = probes.reduce<ProbeRecord | undefined>((last, probe) => !last || probe.last > last.last ? probe : last, undefined)
  const from = [...probes].sort((a, b) => b.last - a.last).slice(0, 5)
    .map(probe => `${probe.address} (${probe.count}×, ${Math.round((now - probe.last) / 1000)} s ago${probe.userAgent ? `, ${probe.userAgent}` : ''})`).join(', ')
  if (latest && now - latest.last <= PROBE_SILENCE_MS) {
    return { id, instruction, status: 'pass', evidence: `last GET /health ${Math.round((now - latest.last) / 1000)} s ago, from ${from}` }
  }
  if (uptimeSeconds * 1000 < PROBE_SILENCE_MS && !latest) {
    return { id, instruction, status: 'unknown', evidence: `no GET /health yet in the ${uptimeSeconds} s since the server started; look again after a minute` }
  }
  return {
    id,
    instruction,
    status: 'warn',
    evidence: latest
      ? `no GET /health for ${Math.round((now - latest.last) / 1000)} s; earlier from ${from}`
      : `no GET /health in the ${uptimeSeconds} s since the server started`,
    fix: 'behind a load balancer, its probes do not reach this instance: the instance\'s security group must admit the load balancer\'s security group on [server] port, and the target group must check /health on that port; without a load balancer this row says nothing'
  }
}

// --- The network: the database, the cache and this instance's port (over describe outputs) ---

// Open to the world: a rule that admits TCP `port` from 0.0.0.0/0 or ::/0.
const WORLD: Range = [0, 2 ** 32 - 1]
export function openToWorld (rules: IpPermission[] | undefined, port: number): boolean {
  const v6AsV4 = (rules ?? []).filter(rule => (rule.Ipv6Ranges ?? []).some(range => range.CidrIpv6 === '::/0'))
    .map(rule => ({ ...rule, IpRanges: [{ CidrIp: '0.0.0.0/0' }], UserIdGroupPairs: [] }))
  return allows(rules, port, [], WORLD) || allows(v6AsV4, port, [], WORLD)
}

// The groups among `ids` that admit `port` from the world, with the CIDR that does.
function worldOpen (groups: SecurityGroup[], ids: string[], port: number): string[] {
  return groups.filter(group => ids.includes(group.GroupId ?? '') && openToWorld(group.IpPermissions, port)).map(group => group.GroupId ?? '?')
}

export interface DatabaseFacts {
  host: string
  port: number
  // The RDS instance whose endpoint is [database] host (or the writer of the Aurora cluster);
  // null when no instance or cluster has it.
  database: Fact<{ id: string, publiclyAccessible: boolean, port: number, securityGroupIds: string[] } | null>
  securityGroups: Fact<SecurityGroup[]>
}

export function databasePrivateRow (facts: DatabaseFacts): AuditRow {
  const id = 'database-private'
  const instruction = 'the database is reachable only inside the VPC: not publicly accessible, its security groups open to no 0.0.0.0/0 or ::/0'
  if (!('value' in facts.database)) return unknownFrom(id, instruction, facts.database)
  const db = facts.database.value
  if (!db) return { id, instruction, status: 'unknown', evidence: `no RDS instance or Aurora cluster of this account and region has the endpoint ${facts.host}` }
  const port = db.port || facts.port
  const problems: string[] = []
  const fixes: string[] = []
  if (db.publiclyAccessible) {
    problems.push(`${db.id} is publicly accessible`)
    fixes.push(`RDS → Databases → ${db.id} → Modify → Connectivity → Additional configuration → Not publicly accessible`)
  }
  if (!('value' in facts.securityGroups)) {
    if (problems.length === 0) return unknownFrom(id, instruction, facts.securityGroups)
  } else {
    const open = worldOpen(facts.securityGroups.value, db.securityGroupIds, port)
    if (open.length > 0) {
      problems.push(`${open.join(', ')} admit${open.length === 1 ? 's' : ''} TCP ${port} from anywhere (0.0.0.0/0 or ::/0)`)
      fixes.push(`EC2 → Security groups → ${open[0]} → Edit inbound rules: delete the rule with source 0.0.0.0/0 (or ::/0) on ${port}, keep the one from the instances' security group`)
    }
  }
  const groups = db.securityGroupIds.join(', ') || 'none'
  if (problems.length === 0) return { id, instruction, status: 'pass', evidence: `${db.id}: not publicly accessible; ${groups} open no port ${port} to the world` }
  return { id, instruction, status: 'fail', evidence: `${problems.join('; ')} (security groups ${groups})`, fix: fixes.join('; ') }
}

export interface CacheFacts {
  host: string
  // The replication group or serverless cache whose endpoint is [redis] host.
  cache: Fact<{ kind: string, id: string, vpcId?: string, subnetIds: string[], securityGroupIds: string[], port?: number } | null>
  subnets: Fact<Subnet[]>
  routeTables: Fact<RouteTable[]>
  securityGroups: Fact<SecurityGroup[]>
  // Where the instances run: the Auto Scaling group's zones, else this instance's.
  zones: string[]
  zonesFrom: string
}

// The route table a subnet uses: its own association, else the VPC's main table.
// https://docs.aws.amazon.com/vpc/latest/userguide/RouteTables.html#subnet-route-tables
export function routeTableOf (subnetId: string, tables: RouteTable[]): RouteTable | undefined {
  return tables.find(table => (table.Associations ?? []).some(a => a.SubnetId === subnetId)) ??
    tables.find(table => (table.Associations ?? []).some(a => a.Main))
}

const internetGateway = (table: RouteTable | undefined) => (table?.Routes ?? []).find(route => route.GatewayId?.startsWith('igw-'))

export function cacheRows (facts: CacheFacts): AuditRow[] {
  const subnetsId = 'cache-subnets'
  const subnetsInstruction = `the Redis cache is in private subnets of every Availability Zone the instances use (${facts.zones.join(', ') || 'unknown'}, from ${facts.zonesFrom})`
  const openId = 'cache-open'
  const openInstruction = 'the Redis cache\'s security groups are open to no 0.0.0.0/0 or ::/0'
  if (!('value' in facts.cache)) return [unknownFrom(subnetsId, subnetsInstruction, facts.cache), unknownFrom(openId, openInstruction, facts.cache)]
  const cache = facts.cache.value
  if (!cache) {
    const evidence = `no ElastiCache replication group or serverless cache of this account and region has the endpoint ${facts.host}`
    return [{ id: subnetsId, instruction: subnetsInstruction, status: 'unknown', evidence }, { id: openId, instruction: openInstruction, status: 'unknown', evidence }]
  }
  const name = `${cache.kind} ${cache.id}`
  const rows: AuditRow[] = []

  if (!('value' in facts.subnets)) rows.push(unknownFrom(subnetsId, subnetsInstruction, facts.subnets))
  else if (!('value' in facts.routeTables)) rows.push(unknownFrom(subnetsId, subnetsInstruction, facts.routeTables))
  else {
    const subnets = facts.subnets.value.filter(subnet => cache.subnetIds.includes(subnet.SubnetId ?? ''))
    const tables = facts.routeTables.value
    const publicOnes = subnets.map(subnet => ({ subnet, table: routeTableOf(subnet.SubnetId ?? '', tables) }))
      .filter(({ table }) => internetGateway(table))
    const covered = new Set(subnets.map(subnet => subnet.AvailabilityZone))
    const missing = facts.zones.filter(zone => !covered.has(zone))
    const evidence = `${name} is in ${subnets.map(subnet => `${subnet.SubnetId} (${subnet.AvailabilityZone})`).join(', ') || 'no subnet described'}` +
      (publicOnes.length > 0 ? `; ${publicOnes.map(({ subnet, table }) => `${subnet.SubnetId} routes to ${internetGateway(table)?.GatewayId} (${table?.RouteTableId})`).join(', ')}` : '; no subnet routes to an internet gateway') +
      (missing.length > 0 ? `; none in ${missing.join(', ')}` : '')
    const fixes: string[] = []
    if (publicOnes.length > 0) fixes.push(`use private subnets only: ElastiCache → Subnet groups → the cache's group → Edit: replace ${publicOnes.map(({ subnet }) => subnet.SubnetId).join(', ')} with subnets whose route table has no route to an internet gateway`)
    if (missing.length > 0) fixes.push(`add a private subnet of ${missing.join(' and ')} to the cache's subnet group (ElastiCache → Subnet groups → Edit), and a replica there`)
    rows.push(fixes.length === 0
      ? { id: subnetsId, instruction: subnetsInstruction, status: 'pass', evidence }
      : { id: subnetsId, instruction: subnetsInstruction, status: 'fail', evidence, fix: fixes.join('; ') })
  }

  if (!('value' in facts.securityGroups)) rows.push(unknownFrom(openId, openInstruction, facts.securityGroups))
  else {
    const port = cache.port ?? 6379
    const open = worldOpen(facts.securityGroups.value, cache.securityGroupIds, port)
    rows.push(open.length === 0
      ? { id: openId, instruction: openInstruction, status: 'pass', evidence: `${name}: ${cache.securityGroupIds.join(', ') || 'no group'} open no port ${port} to the world` }
      : {
          id: openId,
          instruction: openInstruction,
          status: 'fail',
          evidence: `${open.join(', ')} (on ${name}) admit${open.length === 1 ? 's' : ''} TCP ${port} from anywhere`,
          fix: `EC2 → Security groups → ${open[0]} → Edit inbound rules: replace the source 0.0.0.0/0 (or ::/0) with the instances' security group`
        })
  }
  return rows
}

export interface AppPortFacts {
  port: number
  // This instance's security groups (IMDS); null off EC2.
  instanceGroupIds: string[] | null
  // The load balancer in front of the target groups this instance is in: its security groups
  // and its subnets' CIDRs; null when the instance is in no target group.
  balancer: Fact<{ name: string, securityGroupIds: string[], subnetCidrs: string[] } | null>
  securityGroups: Fact<SecurityGroup[]>
}

export function appPortRow (facts: AppPortFacts): AuditRow {
  const id = 'app-port'
  const instruction = `this instance's security groups admit TCP ${facts.port} ([server] port) from the load balancer`
  if (!facts.instanceGroupIds) return { id, instruction, status: 'unknown', evidence: 'not on EC2 (no security groups from the metadata service)' }
  if (!('value' in facts.balancer)) return unknownFrom(id, instruction, facts.balancer)
  const balancer = facts.balancer.value
  if (!balancer) return { id, instruction, status: 'unknown', evidence: 'this instance is in no target group: no load balancer to admit' }
  const described = facts.securityGroups
  if (!('value' in described)) return unknownFrom(id, instruction, described)
  const own = facts.instanceGroupIds.map(groupId => described.value.find(group => group.GroupId === groupId) ?? { GroupId: groupId })
  // From the balancer's groups (rules by source group only), or from CIDRs that cover each of
  // its subnets (rules by CIDR only).
  const bySource = balancer.securityGroupIds.length > 0 &&
    own.some(group => allows((group.IpPermissions ?? []).map(rule => ({ ...rule, IpRanges: [] })), facts.port, balancer.securityGroupIds, WORLD))
  const byCidr = balancer.subnetCidrs.length > 0 && balancer.subnetCidrs.every(cidr => {
    const range = toRange(cidr)
    return range !== undefined && own.some(group => allows((group.IpPermissions ?? []).map(rule => ({ ...rule, UserIdGroupPairs: [] })), facts.port, [], range))
  })
  const groups = facts.instanceGroupIds.join(', ')
  const lbGroups = balancer.securityGroupIds.join(', ') || 'none'
  if (bySource || byCidr) {
    return { id, instruction, status: 'pass', evidence: `${groups} (this instance) admit${facts.instanceGroupIds.length === 1 ? 's' : ''} TCP ${facts.port} from ${bySource ? lbGroups : balancer.subnetCidrs.join(', ')} (load balancer ${balancer.name})` }
  }
  return {
    id,
    instruction,
    status: 'fail',
    evidence: `${groups} (this instance) ${facts.instanceGroupIds.length === 1 ? 'has' : 'have'} no inbound rule for TCP ${facts.port} from ${lbGroups} (load balancer ${balancer.name}) or from its subnets ${balancer.subnetCidrs.join(', ') || '(unknown)'}`,
    fix: `EC2 → Security groups → ${facts.instanceGroupIds[0]} → Edit inbound rules → Add rule: Custom TCP, port ${facts.port}, source ${balancer.securityGroupIds[0] ?? 'the load balancer\'s security group'}: without it the health checks time out (Target.Timeout) and the Auto Scaling group replaces the instances`
  }
}
