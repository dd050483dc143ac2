import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { DBCluster, DBInstance, IpPermission, NetworkAcl, RouteTable, SecurityGroup, Subnet, VpcEndpoint } from '../../lib/pinpoint.ts'
import type { DescribeAction } from '../../lib/describe.ts'
import { ACCOUNT_ID, PRINCIPAL_ARN } from './aws-identity.ts'
import type { Lab } from './aws-lab.ts'

// EC2, RDS and ElastiCache's Query APIs as AWS answers them, for the Describe* calls pinpointing
// makes: a form-encoded POST with Action and Version, answered in XML. EC2's own dialect (ec2
// query) has lowerCamel names, lists of <item>, a <requestId> in the body and errors in
// <Response><Errors>; RDS and ElastiCache (awsQuery) wrap the result in <ActionResult> with
// <ResponseMetadata><RequestId>, lists in their member names, errors in <ErrorResponse> with a
// Type. Shapes from moto's serializers (moto/core/serialize.py: EC2Serializer, QuerySerializer,
// getmoto/moto@0af643a5) and the member names of the SDK's own service models; what the fixture
// serves is a list of labs (test/harness/aws-lab.ts), each with ids of its own.

export interface DescribeWorld {
  labs: Lab[]
  // Calls refused for a lab's resources: keyed by a security group or subnet id the call names.
  denied: Map<string, DescribeAction>
}

const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/'
const RDS_NAMESPACE = 'http://rds.amazonaws.com/doc/2014-10-31/'
const ELASTICACHE_NAMESPACE = 'http://elasticache.amazonaws.com/doc/2015-02-02/'

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

// <name>value</name>, nothing for undefined; an array becomes one <member> per value.
function el (name: string, value: unknown, member = 'item'): string {
  if (value === undefined || value === null) return ''
  if (Array.isArray(value)) return `<${name}>${value.map(v => el(member, v)).join('')}</${name}>`
  if (typeof value === 'object') return `<${name}>${Object.entries(value).map(([k, v]) => el(k, v)).join('')}</${name}>`
  return `<${name}>${escape(String(value))}</${name}>`
}

// The signing scope's service: credential=<key>/<date>/<region>/<service>/aws4_request.
export function describeService (req: IncomingMessage): 'ec2' | 'rds' | 'elasticache' | undefined {
  const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1]
  return service === 'ec2' || service === 'rds' || service === 'elasticache' ? service : undefined
}

export function answerDescribe (res: ServerResponse, body: string, service: 'ec2' | 'rds' | 'elasticache', world: DescribeWorld) {
  const params = new URLSearchParams(body)
  const action = params.get('Action') ?? ''
  const requestId = randomUUID()
  const all = <K extends keyof Lab>(key: K): Lab[K] => world.labs.flatMap(lab => lab[key] as unknown[]) as Lab[K]
  const listed = (prefix: string) => [...params].filter(([name]) => new RegExp(`^${prefix}\\.\\d+$`).test(name)).map(([, value]) => value)

  if (service === 'ec2') {
    const named = [...listed('GroupId'), ...listed('SubnetId'), ...listed('Filter\\.1\\.Value')]
    const refused = named.map(id => world.denied.get(id)).find(denied => denied === `ec2:${action}`)
    if (refused) return ec2Error(res, requestId, 'UnauthorizedOperation', `You are not authorized to perform this operation. User: ${PRINCIPAL_ARN} is not authorized to perform: ${refused} because no identity-based policy allows the ${refused} action`, 403)
    const ok = (inner: string) => ec2Result(res, action, requestId, inner)
    switch (action) {
      case 'DescribeSecurityGroups': {
        const wanted = listed('GroupId')
        const missing = wanted.find(id => !all('securityGroups').some(g => g.GroupId === id))
        if (missing) return ec2Error(res, requestId, 'InvalidGroup.NotFound', `The security group '${missing}' does not exist`, 400)
        return ok(el('securityGroupInfo', all('securityGroups').filter(g => wanted.length === 0 || wanted.includes(g.GroupId ?? '')).map(ec2Group)))
      }
      case 'DescribeSubnets': {
        const wanted = listed('SubnetId')
        const missing = wanted.find(id => !all('subnets').some(s => s.SubnetId === id))
        if (missing) return ec2Error(res, requestId, 'InvalidSubnetID.NotFound', `The subnet ID '${missing}' does not exist`, 400)
        return ok(el('subnetSet', all('subnets').filter(s => wanted.length === 0 || wanted.includes(s.SubnetId ?? '')).map(ec2Subnet)))
      }
      case 'DescribeNetworkAcls': {
        // Only the filter pinpointing uses: association.subnet-id.
        const subnets = params.get('Filter.1.Name') === 'association.subnet-id' ? listed('Filter\\.1\\.Value') : []
        const acls = all('networkAcls').filter(acl => subnets.length === 0 || (acl.Associations ?? []).some(a => subnets.includes(a.SubnetId ?? '')))
        return ok(el('networkAclSet', acls.map(ec2Acl)))
      }
      case 'DescribeRouteTables': {
        // Only the filter the app uses: vpc-id. Shape: API_DescribeRouteTables.html's sample
        // response (routeTableSet, associationSet, routeSet).
        const vpc = params.get('Filter.1.Name') === 'vpc-id' ? params.get('Filter.1.Value.1') : null
        return ok(el('routeTableSet', all('routeTables').filter(table => !vpc || table.VpcId === vpc).map(ec2RouteTable)))
      }
      case 'DescribeVpcEndpoints': {
        // Only the filter the app uses: vpc-id. Shape: API_DescribeVpcEndpoints.html (vpcEndpointSet
        // of VpcEndpoint, whose lists are routeTableIdSet, subnetIdSet, groupSet… of <item>), the
        // policy's JSON as the text of policyDocument.
        const vpc = params.get('Filter.1.Name') === 'vpc-id' ? params.get('Filter.1.Value.1') : null
        return ok(el('vpcEndpointSet', all('vpcEndpoints').filter(endpoint => !vpc || endpoint.VpcId === vpc).map(ec2VpcEndpoint)))
      }
    }
    return ec2Error(res, requestId, 'InvalidAction', `The action ${action} is not valid for this web service.`, 400)
  }

  const namespace = service === 'rds' ? RDS_NAMESPACE : ELASTICACHE_NAMESPACE
  const ok = (inner: string) => queryResult(res, action, namespace, requestId, inner)
  const refused = world.denied.get(`${service}:${action}`)
  if (refused) {
    return queryError(res, namespace, requestId, 'AccessDenied', `User: ${PRINCIPAL_ARN} is not authorized to perform: ${refused} on resource: arn:aws:${service}:eu-central-1:${ACCOUNT_ID}:${service === 'rds' ? 'db' : 'replicationgroup'}:* because no identity-based policy allows the ${refused} action`, 403)
  }
  switch (`${service}:${action}`) {
    case 'rds:DescribeDBInstances':
      return ok(`<DBInstances>${all('dbInstances').map(rdsInstance).join('')}</DBInstances>`)
    case 'rds:DescribeDBClusters':
      return ok(`<DBClusters>${all('dbClusters').map(rdsCluster).join('')}</DBClusters>`)
    case 'elasticache:DescribeReplicationGroups':
      return ok(`<ReplicationGroups>${all('replicationGroups').map(cacheGroup).join('')}</ReplicationGroups>`)
    case 'elasticache:DescribeCacheClusters': {
      const id = params.get('CacheClusterId')
      const clusters = all('cacheClusters').filter(c => !id || c.CacheClusterId === id)
      if (id && clusters.length === 0) return queryError(res, namespace, requestId, 'CacheClusterNotFound', `CacheCluster not found: ${id}`, 404)
      return ok(`<CacheClusters>${clusters.map(c => `<CacheCluster>${el('CacheClusterId', c.CacheClusterId)}${el('CacheClusterStatus', 'available')}${el('CacheSubnetGroupName', c.CacheSubnetGroupName)}${el('SecurityGroups', (c.SecurityGroups ?? []).map(g => ({ ...g, Status: 'active' })), 'member')}</CacheCluster>`).join('')}</CacheClusters>`)
    }
    case 'elasticache:DescribeCacheSubnetGroups': {
      const name = params.get('CacheSubnetGroupName')
      const groups = all('cacheSubnetGroups').filter(g => !name || g.CacheSubnetGroupName === name)
      if (name && groups.length === 0) return queryError(res, namespace, requestId, 'CacheSubnetGroupNotFoundFault', `Cache subnet group ${name} not found.`, 400)
      return ok(`<CacheSubnetGroups>${groups.map(g => `<CacheSubnetGroup>${el('CacheSubnetGroupName', g.CacheSubnetGroupName)}${el('VpcId', g.VpcId)}${el('Subnets', g.Subnets, 'Subnet')}</CacheSubnetGroup>`).join('')}</CacheSubnetGroups>`)
    }
    case 'elasticache:DescribeServerlessCaches':
      return ok(`<ServerlessCaches>${all('serverlessCaches').map(c => `<member>${el('ServerlessCacheName', c.ServerlessCacheName)}${el('Status', c.Status)}${el('Endpoint', c.Endpoint)}${el('ReaderEndpoint', c.ReaderEndpoint)}${el('SecurityGroupIds', c.SecurityGroupIds, 'SecurityGroupId')}${el('SubnetIds', c.SubnetIds, 'SubnetId')}</member>`).join('')}</ServerlessCaches>`)
  }
  return queryError(res, namespace, requestId, 'InvalidAction', `Could not find operation ${action} for version ${params.get('Version')}`, 400)
}

// Members with lists inside: each list in the member name the service model gives it.
function rdsInstance (db: DBInstance): string {
  const group = db.DBSubnetGroup
  const subnetGroup = group && `<DBSubnetGroup>${el('DBSubnetGroupName', group.DBSubnetGroupName)}${el('VpcId', group.VpcId)}${el('SubnetGroupStatus', 'Complete')}${el('Subnets', (group.Subnets ?? []).map(s => ({ ...s, SubnetStatus: 'Active' })), 'Subnet')}</DBSubnetGroup>`
  return `<DBInstance>${el('DBInstanceIdentifier', db.DBInstanceIdentifier)}${el('DBInstanceClass', 'db.t4g.micro')}${el('Engine', 'mysql')}${el('DBInstanceStatus', db.DBInstanceStatus)}${el('Endpoint', db.Endpoint)}` +
    `${subnetGroup ?? ''}${el('VpcSecurityGroups', (db.VpcSecurityGroups ?? []).map(g => ({ ...g, Status: 'active' })), 'VpcSecurityGroupMembership')}${el('PubliclyAccessible', db.PubliclyAccessible)}${el('DBClusterIdentifier', db.DBClusterIdentifier)}</DBInstance>`
}

function rdsCluster ({ DBClusterMembers, ...rest }: DBCluster): string {
  return `<DBCluster>${Object.entries(rest).map(([k, v]) => el(k, v)).join('')}${el('DBClusterMembers', DBClusterMembers, 'DBClusterMember')}</DBCluster>`
}

function cacheGroup (group: Lab['replicationGroups'][number]): string {
  const { NodeGroups, MemberClusters, ...rest } = group
  const nodeGroups = (NodeGroups ?? []).map(node => `<NodeGroup>${el('NodeGroupId', '0001')}${el('Status', 'available')}${el('PrimaryEndpoint', node.PrimaryEndpoint)}${el('ReaderEndpoint', node.ReaderEndpoint)}${el('NodeGroupMembers', node.NodeGroupMembers, 'NodeGroupMember')}</NodeGroup>`).join('')
  return `<ReplicationGroup>${Object.entries(rest).map(([k, v]) => el(k, v)).join('')}<NodeGroups>${nodeGroups}</NodeGroups>${el('MemberClusters', MemberClusters, 'ClusterId')}</ReplicationGroup>`
}

const ec2Permission = (p: IpPermission) => ({
  ipProtocol: p.IpProtocol,
  fromPort: p.FromPort,
  toPort: p.ToPort,
  groups: (p.UserIdGroupPairs ?? []).map(pair => ({ userId: ACCOUNT_ID, groupId: pair.GroupId })),
  ipRanges: (p.IpRanges ?? []).map(range => ({ cidrIp: range.CidrIp })),
  ipv6Ranges: (p.Ipv6Ranges ?? []).map(range => ({ cidrIpv6: range.CidrIpv6 })),
  prefixListIds: (p.PrefixListIds ?? []).map(list => ({ prefixListId: list.PrefixListId }))
})

const ec2Group = (g: SecurityGroup) => ({
  ownerId: ACCOUNT_ID,
  groupId: g.GroupId,
  groupName: g.GroupName,
  groupDescription: `${g.GroupName} security group`,
  vpcId: g.VpcId,
  ipPermissions: (g.IpPermissions ?? []).map(ec2Permission),
  ipPermissionsEgress: (g.IpPermissionsEgress ?? []).map(ec2Permission)
})

const ec2Subnet = (s: Subnet) => ({
  subnetId: s.SubnetId,
  subnetArn: `arn:aws:ec2:eu-central-1:${ACCOUNT_ID}:subnet/${s.SubnetId}`,
  state: 'available',
  vpcId: s.VpcId,
  cidrBlock: s.CidrBlock,
  availableIpAddressCount: 251,
  availabilityZone: s.AvailabilityZone,
  defaultForAz: false,
  mapPublicIpOnLaunch: false,
  ownerId: ACCOUNT_ID
})

const ec2Acl = (acl: NetworkAcl) => ({
  networkAclId: acl.NetworkAclId,
  vpcId: acl.VpcId,
  default: true,
  entrySet: (acl.Entries ?? []).map(e => ({
    ruleNumber: e.RuleNumber,
    protocol: e.Protocol,
    ruleAction: e.RuleAction,
    egress: e.Egress,
    cidrBlock: e.CidrBlock,
    portRange: e.PortRange && { from: e.PortRange.From, to: e.PortRange.To }
  })),
  associationSet: (acl.Associations ?? []).map((a, i) => ({ networkAclAssociationId: `aclassoc-${(acl.NetworkAclId ?? '').slice(4, 16)}${String(i).padStart(5, '0')}`, networkAclId: acl.NetworkAclId, subnetId: a.SubnetId })),
  tagSet: [],
  ownerId: ACCOUNT_ID
})

const ec2RouteTable = (table: RouteTable) => ({
  routeTableId: table.RouteTableId,
  vpcId: table.VpcId,
  ownerId: ACCOUNT_ID,
  routeSet: (table.Routes ?? []).map(route => ({
    destinationCidrBlock: route.DestinationCidrBlock,
    destinationPrefixListId: route.DestinationPrefixListId,
    gatewayId: route.GatewayId,
    natGatewayId: route.NatGatewayId,
    state: route.State ?? 'active',
    origin: route.GatewayId === 'local' ? 'CreateRouteTable' : 'CreateRoute'
  })),
  associationSet: (table.Associations ?? []).map((a, i) => ({
    routeTableAssociationId: `rtbassoc-${(table.RouteTableId ?? '').slice(4, 16)}${String(i).padStart(5, '0')}`,
    routeTableId: table.RouteTableId,
    subnetId: a.SubnetId,
    main: a.Main ?? false,
    associationState: { state: 'associated' }
  })),
  tagSet: [],
  propagatingVgwSet: []
})

const ec2VpcEndpoint = (endpoint: VpcEndpoint) => ({
  vpcEndpointId: endpoint.VpcEndpointId,
  vpcEndpointType: endpoint.VpcEndpointType,
  vpcId: endpoint.VpcId,
  serviceName: endpoint.ServiceName,
  state: endpoint.State,
  policyDocument: endpoint.PolicyDocument,
  routeTableIdSet: endpoint.RouteTableIds ?? [],
  subnetIdSet: [],
  groupSet: [],
  ipAddressType: 'ipv4',
  privateDnsEnabled: endpoint.PrivateDnsEnabled ?? false,
  requesterManaged: false,
  networkInterfaceIdSet: [],
  dnsEntrySet: [],
  creationTimestamp: '2026-11-30T09:12:41.000Z',
  tagSet: [],
  ownerId: ACCOUNT_ID
})

// EC2: an XML declaration, the namespace on the response, requestId first.
function ec2Result (res: ServerResponse, action: string, requestId: string, inner: string) {
  send(res, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NAMESPACE}"><requestId>${requestId}</requestId>${inner}</${action}Response>`, { server: 'AmazonEC2' })
}

function ec2Error (res: ServerResponse, requestId: string, code: string, message: string, status: number) {
  send(res, status, `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${escape(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`, { server: 'AmazonEC2' })
}

export function queryResult (res: ServerResponse, action: string, namespace: string, requestId: string, inner: string) {
  send(res, 200, `<${action}Response xmlns="${namespace}"><${action}Result>${inner}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`, { 'x-amzn-requestid': requestId })
}

export function queryError (res: ServerResponse, namespace: string, requestId: string, code: string, message: string, status: number) {
  send(res, status, `<ErrorResponse xmlns="${namespace}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`, { 'x-amzn-requestid': requestId })
}

function send (res: ServerResponse, status: number, body: string, headers: Record<string, string>) {
  res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'content-length': Buffer.byteLength(body), date: new Date().toUTCString(), ...headers }).end(body)
}
