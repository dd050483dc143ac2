import type { InstanceNetwork } from './imds.ts'

// Pinpoint: why this instance cannot reach its database or cache, reasoned from the
// environment's own configuration the way VPC Reachability Analyzer does, as a pure function
// over what the Describe* calls answered (lib/describe.ts makes them). The resources keep the
// shapes and field names the AWS SDK returns, so a describe output is passed as it is.
// https://docs.aws.amazon.com/vpc/latest/reachability/what-is-reachability-analyzer.html

// EC2 DescribeSecurityGroups: SecurityGroups[]
export interface IpPermission {
  IpProtocol?: string
  FromPort?: number
  ToPort?: number
  IpRanges?: Array<{ CidrIp?: string }>
  Ipv6Ranges?: Array<{ CidrIpv6?: string }>
  UserIdGroupPairs?: Array<{ GroupId?: string }>
  // A managed prefix list: a gateway endpoint's (S3's, DynamoDB's addresses in this region).
  PrefixListIds?: Array<{ PrefixListId?: string }>
}
export interface SecurityGroup {
  GroupId?: string
  GroupName?: string
  VpcId?: string
  IpPermissions?: IpPermission[]
  IpPermissionsEgress?: IpPermission[]
}

// EC2 DescribeSubnets: Subnets[]
export interface Subnet {
  SubnetId?: string
  VpcId?: string
  CidrBlock?: string
  AvailabilityZone?: string
}

// EC2 DescribeRouteTables: RouteTables[]. A gateway endpoint's route has a prefix list for
// destination and the endpoint (vpce-) for GatewayId; State is active or blackhole (its target
// is gone). Read by the S3 and DynamoDB pinpointing, and by the audit (is a subnet public?).
export interface Route {
  DestinationCidrBlock?: string
  DestinationIpv6CidrBlock?: string
  DestinationPrefixListId?: string
  GatewayId?: string
  NatGatewayId?: string
  InstanceId?: string
  NetworkInterfaceId?: string
  TransitGatewayId?: string
  VpcPeeringConnectionId?: string
  State?: string
}
export interface RouteTable {
  RouteTableId?: string
  VpcId?: string
  Associations?: Array<{ SubnetId?: string, Main?: boolean }>
  Routes?: Route[]
}

// EC2 DescribeVpcEndpoints: VpcEndpoints[]. PolicyDocument is the policy's JSON as text.
export interface VpcEndpoint {
  VpcEndpointId?: string
  VpcEndpointType?: string
  VpcId?: string
  ServiceName?: string
  State?: string
  PolicyDocument?: string
  RouteTableIds?: string[]
  PrivateDnsEnabled?: boolean
}

// EC2 DescribeNetworkAcls: NetworkAcls[]
export interface NetworkAclEntry {
  RuleNumber?: number
  Protocol?: string
  RuleAction?: string
  Egress?: boolean
  CidrBlock?: string
  PortRange?: { From?: number, To?: number }
}
export interface NetworkAcl {
  NetworkAclId?: string
  VpcId?: string
  Associations?: Array<{ SubnetId?: string }>
  Entries?: NetworkAclEntry[]
}

// RDS DescribeDBInstances: DBInstances[]
export interface DBInstance {
  DBInstanceIdentifier?: string
  DBInstanceStatus?: string
  Endpoint?: { Address?: string, Port?: number }
  DBSubnetGroup?: { DBSubnetGroupName?: string, VpcId?: string, Subnets?: Array<{ SubnetIdentifier?: string }> }
  VpcSecurityGroups?: Array<{ VpcSecurityGroupId?: string }>
  PubliclyAccessible?: boolean
  DBClusterIdentifier?: string
}
// RDS DescribeDBClusters: DBClusters[]
export interface DBCluster {
  DBClusterIdentifier?: string
  Status?: string
  Endpoint?: string
  ReaderEndpoint?: string
  Port?: number
  DBClusterMembers?: Array<{ DBInstanceIdentifier?: string, IsClusterWriter?: boolean }>
}

// ElastiCache DescribeReplicationGroups: ReplicationGroups[]
export interface ReplicationGroup {
  ReplicationGroupId?: string
  Status?: string
  ConfigurationEndpoint?: { Address?: string, Port?: number }
  NodeGroups?: Array<{
    PrimaryEndpoint?: { Address?: string, Port?: number }
    ReaderEndpoint?: { Address?: string, Port?: number }
    NodeGroupMembers?: Array<{ ReadEndpoint?: { Address?: string, Port?: number } }>
  }>
  MemberClusters?: string[]
  TransitEncryptionEnabled?: boolean
  TransitEncryptionMode?: string
  AuthTokenEnabled?: boolean
  ClusterEnabled?: boolean
}
// ElastiCache DescribeCacheClusters: CacheClusters[] (a replication group's member)
export interface CacheCluster {
  CacheClusterId?: string
  CacheSubnetGroupName?: string
  SecurityGroups?: Array<{ SecurityGroupId?: string }>
}
// ElastiCache DescribeCacheSubnetGroups: CacheSubnetGroups[]
export interface CacheSubnetGroup {
  CacheSubnetGroupName?: string
  VpcId?: string
  Subnets?: Array<{ SubnetIdentifier?: string }>
}
// ElastiCache DescribeServerlessCaches: ServerlessCaches[]
export interface ServerlessCache {
  ServerlessCacheName?: string
  Status?: string
  Endpoint?: { Address?: string, Port?: number }
  ReaderEndpoint?: { Address?: string, Port?: number }
  SecurityGroupIds?: string[]
  SubnetIds?: string[]
}

// The database or cache behind the configured host, whatever kind it is.
export interface Target {
  // "RDS instance database-1", "replication group r1": how messages name it.
  kind: 'RDS instance' | 'Aurora cluster' | 'replication group' | 'serverless cache'
  id: string
  status: string
  // Known from the subnet group; a serverless cache's comes from its subnets.
  vpcId?: string
  subnetIds: string[]
  securityGroupIds: string[]
  port?: number
  // ElastiCache only: whether the server speaks TLS only.
  tlsRequired?: boolean
}

const same = (a?: string, b?: string) => a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase()

// The RDS instance, or the Aurora cluster (described through one of its instances, which carries
// the subnet group), whose endpoint is `host`.
export function databaseTarget (host: string, instances: DBInstance[], clusters: DBCluster[]): Target | undefined {
  const instance = instances.find(db => same(db.Endpoint?.Address, host))
  if (instance) return rdsTarget('RDS instance', instance.DBInstanceIdentifier, instance.DBInstanceStatus, instance)
  const cluster = clusters.find(c => same(c.Endpoint, host) || same(c.ReaderEndpoint, host))
  if (!cluster) return undefined
  const member = instances.find(db => db.DBClusterIdentifier === cluster.DBClusterIdentifier)
  return { ...rdsTarget('Aurora cluster', cluster.DBClusterIdentifier, cluster.Status, member ?? {}), port: cluster.Port }
}

function rdsTarget (kind: Target['kind'], id: string | undefined, status: string | undefined, db: DBInstance): Target {
  return {
    kind,
    id: id ?? '?',
    status: status ?? 'unknown',
    vpcId: db.DBSubnetGroup?.VpcId,
    subnetIds: (db.DBSubnetGroup?.Subnets ?? []).flatMap(s => s.SubnetIdentifier ?? []),
    securityGroupIds: (db.VpcSecurityGroups ?? []).flatMap(g => g.VpcSecurityGroupId ?? []),
    port: db.Endpoint?.Port
  }
}

// The replication group any of whose endpoints is `host`.
export function findReplicationGroup (host: string, groups: ReplicationGroup[]): ReplicationGroup | undefined {
  return groups.find(group => same(group.ConfigurationEndpoint?.Address, host) || (group.NodeGroups ?? []).some(node =>
    same(node.PrimaryEndpoint?.Address, host) || same(node.ReaderEndpoint?.Address, host) ||
    (node.NodeGroupMembers ?? []).some(member => same(member.ReadEndpoint?.Address, host))))
}

// A replication group, with one member cluster (its security groups and subnet group) and that
// subnet group (its VPC and subnets).
export function replicationGroupTarget (group: ReplicationGroup, member?: CacheCluster, subnetGroup?: CacheSubnetGroup): Target {
  const endpoint = group.ConfigurationEndpoint ?? group.NodeGroups?.[0]?.PrimaryEndpoint
  return {
    kind: 'replication group',
    id: group.ReplicationGroupId ?? '?',
    status: group.Status ?? 'unknown',
    vpcId: subnetGroup?.VpcId,
    subnetIds: (subnetGroup?.Subnets ?? []).flatMap(s => s.SubnetIdentifier ?? []),
    securityGroupIds: (member?.SecurityGroups ?? []).flatMap(g => g.SecurityGroupId ?? []),
    port: endpoint?.Port,
    // TransitEncryptionMode "preferred" (during a migration) accepts both.
    tlsRequired: group.TransitEncryptionEnabled === true && group.TransitEncryptionMode !== 'preferred'
  }
}

export function findServerlessCache (host: string, caches: ServerlessCache[]): ServerlessCache | undefined {
  return caches.find(cache => same(cache.Endpoint?.Address, host) || same(cache.ReaderEndpoint?.Address, host))
}

// A serverless cache always requires TLS; its VPC is that of its subnets.
// https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/in-transit-encryption.html
export function serverlessCacheTarget (cache: ServerlessCache, subnets: Subnet[]): Target {
  const subnetIds = cache.SubnetIds ?? []
  return {
    kind: 'serverless cache',
    id: cache.ServerlessCacheName ?? '?',
    status: (cache.Status ?? 'unknown').toLowerCase(),
    vpcId: subnets.find(s => subnetIds.includes(s.SubnetId ?? ''))?.VpcId,
    subnetIds,
    securityGroupIds: cache.SecurityGroupIds ?? [],
    port: cache.Endpoint?.Port,
    tlsRequired: true
  }
}

export interface PinpointInput {
  // The config section's name and its port and tls settings, as config.toml has them.
  backend: string
  port: number
  tls?: boolean
  // The address the host resolved to, when known: it places the target in one of its subnets.
  targetIp?: string
  // The TCP connection was made (the check failed later): the path is open, only settings remain.
  connected?: boolean
  instance: InstanceNetwork
  target: Target
  securityGroups: SecurityGroup[]
  subnets: Subnet[]
  networkAcls: NetworkAcl[]
}

export interface Verdict {
  // False when nothing in the configuration blocks the connection.
  blocked: boolean
  // What blocks, naming the resources; or what was found open.
  finding: string
  // The change that fixes it, with where in the console.
  fix?: string
}

// The states in which the target serves connections; any other (stopped, creating, rebooting…)
// is the answer itself. RDS: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html
// ElastiCache: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.Stopping.html (status values of DescribeReplicationGroups)
const SERVING = new Set(['available', 'backing-up', 'modifying', 'maintenance', 'upgrading', 'configuring-enhanced-monitoring', 'configuring-log-exports', 'storage-optimization', 'snapshotting'])

// Linux's default ip_local_port_range: the ports this instance connects from, which the answers
// come back to. A network ACL must let them through both ways, being stateless.
// https://docs.aws.amazon.com/vpc/latest/userguide/nacl-ephemeral-ports.html
export const EPHEMERAL = { from: 32768, to: 60999 }

// The first thing on the path from this instance to the target that blocks TCP on the target's
// port, in the order a packet meets them, or that nothing does.
export function evaluate (input: PinpointInput): Verdict {
  const { backend, instance, target, securityGroups, subnets } = input
  const name = `${target.kind} ${target.id}`
  const port = target.port ?? input.port

  if (input.connected) return tlsVerdict(input, name) ?? { blocked: false, finding: `the connection to ${name} was made, and its settings match config.toml: the problem is the server itself` }
  if (!SERVING.has(target.status)) return { blocked: true, finding: `${name} is ${target.status}`, fix: stateFix(target) }
  if (target.port !== undefined && target.port !== input.port) {
    return { blocked: true, finding: `${name} listens on port ${target.port}, [${backend}] port is ${input.port}`, fix: `set [${backend}] port = ${target.port} in config.toml` }
  }
  if (target.vpcId && target.vpcId !== instance.vpcId) {
    return {
      blocked: true,
      finding: `${name} is in ${target.vpcId}, this instance (${instance.instanceId}) in ${instance.vpcId}`,
      fix: `run the instances in ${target.vpcId} (the launch template's or Auto Scaling group's subnets), or recreate ${target.id} with a subnet group in ${instance.vpcId}`
    }
  }

  const instanceRange = toRange(`${instance.privateIp}/32`)
  const ownSubnet = subnets.find(s => s.SubnetId === instance.subnetId)
  const instanceSubnetRange = instance.subnetCidr ?? ownSubnet?.CidrBlock ?? `${instance.privateIp}/32`
  const targetPlaces = placesOf(input)
  if (!instanceRange || targetPlaces.length === 0) {
    return { blocked: false, finding: `the subnets of ${name} (${target.subnetIds.join(', ') || 'none listed'}) could not be described, so the path was not evaluated` }
  }

  const groups = (ids: string[]) => ids.map(id => securityGroups.find(g => g.GroupId === id) ?? { GroupId: id })
  const ownGroups = groups(instance.securityGroupIds)
  const targetGroups = groups(target.securityGroupIds)
  const tcp = `TCP ${port}`

  for (const place of targetPlaces) {
    const where = place.cidr
    // 1. This instance's security groups, outbound.
    if (!ownGroups.some(g => allows(g.IpPermissionsEgress, port, target.securityGroupIds, place.range))) {
      const first = instance.securityGroupIds[0]
      return {
        blocked: true,
        finding: `${listed(instance.securityGroupIds)} (this instance) ${instance.securityGroupIds.length > 1 ? 'have' : 'has'} no outbound rule for ${tcp} to ${listed(target.securityGroupIds)} (${name}) or to ${where}`,
        fix: `add one: EC2 → Security groups → ${first} → Edit outbound rules → Add rule: Custom TCP, port ${port}, destination ${target.securityGroupIds[0] ?? where}`
      }
    }
    // 2-3. The network ACLs on the way there, when the path leaves a subnet.
    const crosses = place.subnetId !== instance.subnetId
    if (crosses) {
      const out = aclVerdict(input.networkAcls, instance.subnetId, true, place.range, port, port)
      if (out) return aclBlock(out, 'outbound', `${tcp} to ${where}`, 'destination', where, `${port}`)
      const into = aclVerdict(input.networkAcls, place.subnetId, false, instanceRange, port, port)
      if (into) return aclBlock(into, 'inbound', `${tcp} from ${instance.privateIp}`, 'source', instanceSubnetRange, `${port}`)
    }
    // 4. The target's security groups, inbound.
    if (!targetGroups.some(g => allows(g.IpPermissions, port, instance.securityGroupIds, instanceRange))) {
      const first = target.securityGroupIds[0]
      if (!first) return { blocked: true, finding: `${name} has no security group`, fix: `attach one that admits ${tcp} from ${instance.securityGroupIds[0]}` }
      return {
        blocked: true,
        finding: `${listed(target.securityGroupIds)} (on ${target.id}) ${target.securityGroupIds.length > 1 ? 'have' : 'has'} no inbound rule for ${tcp} from ${listed(instance.securityGroupIds)} (this instance) or from ${instance.privateIp}`,
        fix: `add one: EC2 → Security groups → ${first} → Edit inbound rules → Add rule: ${port === 3306 ? 'MySQL/Aurora' : `Custom TCP, port ${port}`}, source ${instance.securityGroupIds[0] ?? instanceSubnetRange}`
      }
    }
    // 5-6. The answers, back through both network ACLs to this instance's ephemeral port.
    if (crosses) {
      const back = aclVerdict(input.networkAcls, place.subnetId, true, instanceRange, EPHEMERAL.from, EPHEMERAL.to)
      if (back) return aclBlock(back, 'outbound', `the answers (TCP ${EPHEMERAL.from}-${EPHEMERAL.to}) to ${instance.privateIp}`, 'destination', instanceSubnetRange, '1024-65535')
      const home = aclVerdict(input.networkAcls, instance.subnetId, false, place.range, EPHEMERAL.from, EPHEMERAL.to)
      if (home) return aclBlock(home, 'inbound', `the answers (TCP ${EPHEMERAL.from}-${EPHEMERAL.to}) from ${where}`, 'source', where, '1024-65535')
    }
  }

  return tlsVerdict(input, name) ?? {
    blocked: false,
    finding: `nothing in the security groups, network ACLs or VPC of ${name} blocks TCP ${port} from this instance (${instance.privateIp}, ${listed(instance.securityGroupIds)}); the problem is elsewhere: the server itself, DNS, or a route`
  }
}

function tlsVerdict ({ target, tls, backend }: PinpointInput, name: string): Verdict | undefined {
  if (target.tlsRequired === undefined || tls === undefined || target.tlsRequired === tls) return undefined
  return target.tlsRequired
    ? { blocked: true, finding: `${name} has in-transit encryption: it speaks TLS only`, fix: `set [${backend}] tls = true in config.toml` }
    : { blocked: true, finding: `${name} has no in-transit encryption: it does not speak TLS`, fix: `set [${backend}] tls = false in config.toml` }
}

function stateFix (target: Target): string {
  if (target.kind === 'RDS instance' && target.status === 'stopped') return `start it: RDS → Databases → ${target.id} → Actions → Start (a stopped DB starts again by itself after 7 days)`
  if (target.kind === 'Aurora cluster' && target.status === 'stopped') return `start it: RDS → Databases → ${target.id} → Actions → Start`
  return `wait until its status is available (${target.kind.startsWith('RDS') || target.kind.startsWith('Aurora') ? 'RDS → Databases' : 'ElastiCache → Redis OSS caches'} → ${target.id}; Events tells why)`
}

// Where the target is: the subnet that holds targetIp, else each of its subnets as a whole.
function placesOf ({ target, subnets, targetIp }: PinpointInput): Array<{ subnetId: string, cidr: string, range: Range }> {
  const own = subnets.filter(s => target.subnetIds.includes(s.SubnetId ?? '') && toRange(s.CidrBlock))
  const exact = targetIp ? toRange(`${targetIp}/32`) : undefined
  const holding = exact && own.find(s => contains(toRange(s.CidrBlock)!, exact))
  if (exact && holding) return [{ subnetId: holding.SubnetId!, cidr: targetIp!, range: exact }]
  return own.map(s => ({ subnetId: s.SubnetId!, cidr: s.CidrBlock!, range: toRange(s.CidrBlock)! }))
}

// A security group admits what any one of its rules admits: TCP on `port`, from (or to) one of
// `groups`, one of `prefixLists`, or a CIDR that contains `range`.
export function allows (rules: IpPermission[] | undefined, port: number, groups: string[], range: Range, prefixLists: string[] = []): boolean {
  return (rules ?? []).some(rule => {
    const anyProtocol = rule.IpProtocol === '-1'
    if (!anyProtocol && rule.IpProtocol !== 'tcp' && rule.IpProtocol !== '6') return false
    if (!anyProtocol && !((rule.FromPort ?? 0) <= port && port <= (rule.ToPort ?? 65535))) return false
    return (rule.UserIdGroupPairs ?? []).some(pair => groups.includes(pair.GroupId ?? '')) ||
      (rule.PrefixListIds ?? []).some(list => prefixLists.includes(list.PrefixListId ?? '')) ||
      (rule.IpRanges ?? []).some(r => { const cidr = toRange(r.CidrIp); return cidr !== undefined && contains(cidr, range) })
  })
}

export interface AclDenial {
  acl: string
  subnetId: string
  // The rule that denies, or undefined when no rule matches (the final * rule).
  rule?: number
  port: number
}

// A network ACL's rules in order of number; the first that matches decides. Between from and to
// the outcome changes only at a rule's port bounds, so those ports are the ones to try. A rule
// matches an address range when its CIDR holds all of it (with the target's address resolved,
// the range is that one address).
// https://docs.aws.amazon.com/vpc/latest/userguide/nacl-rules.html
export function aclVerdict (acls: NetworkAcl[], subnetId: string, egress: boolean, range: Range, from: number, to: number): AclDenial | undefined {
  const acl = acls.find(a => (a.Associations ?? []).some(assoc => assoc.SubnetId === subnetId))
  if (!acl) return undefined
  const entries = (acl.Entries ?? []).filter(e => e.Egress === egress).sort((a, b) => (a.RuleNumber ?? 0) - (b.RuleNumber ?? 0))
  const bounds = entries.flatMap(e => e.PortRange ? [e.PortRange.From ?? 0, (e.PortRange.From ?? 0) - 1, e.PortRange.To ?? 65535, (e.PortRange.To ?? 65535) + 1] : [])
  const ports = [...new Set([from, to, ...bounds])].filter(p => p >= from && p <= to).sort((a, b) => a - b)
  for (const port of ports) {
    const rule = entries.find(e => {
      const cidr = toRange(e.CidrBlock)
      if (!cidr || !contains(cidr, range)) return false
      if (e.Protocol === '-1') return true
      return e.Protocol === '6' && (e.PortRange?.From ?? 0) <= port && port <= (e.PortRange?.To ?? 65535)
    })
    if (rule?.RuleAction !== 'allow') {
      // Rule 32767 is the ACL's own "*": no rule of the student's matched.
      const number = rule?.RuleNumber === 32767 ? undefined : rule?.RuleNumber
      return { acl: acl.NetworkAclId ?? '?', subnetId, rule: number, port }
    }
  }
  return undefined
}

export function aclBlock (denial: AclDenial, direction: 'inbound' | 'outbound', what: string, side: 'source' | 'destination', cidr: string, ports: string): Verdict {
  const by = denial.rule === undefined ? 'no rule allows' : `rule ${denial.rule} denies`
  const where = denial.rule === undefined ? '' : ` numbered below ${denial.rule}`
  return {
    blocked: true,
    finding: `network ACL ${denial.acl} (of ${denial.subnetId}): ${by} ${direction} ${what} (port ${denial.port})`,
    fix: `VPC → Network ACLs → ${denial.acl} → Edit ${direction} rules → add an allow rule${where}: Custom TCP, ${ports.includes('-') ? 'ports' : 'port'} ${ports}, ${side} ${cidr}`
  }
}

// IPv4 only: this instance's address and the rules that match it are IPv4.
export type Range = [start: number, end: number]

export function toRange (cidr: string | undefined): Range | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr ?? '')
  if (!match) return undefined
  const [a, b, c, d, bits] = match.slice(1).map(Number)
  if ([a, b, c, d].some(octet => octet > 255) || bits > 32) return undefined
  const address = ((a << 24) >>> 0) + (b << 16) + (c << 8) + d
  const size = 2 ** (32 - bits)
  const start = Math.floor(address / size) * size
  return [start, start + size - 1]
}

export const contains = (outer: Range, inner: Range) => outer[0] <= inner[0] && inner[1] <= outer[1]

export const listed = (ids: string[]) => ids.join(', ') || 'none'
