import { decide, type PolicyRequest } from './endpoint-policy.ts'
import type { InstanceNetwork } from './imds.ts'
import {
  aclBlock, aclVerdict, allows, contains, EPHEMERAL, listed, toRange,
  type NetworkAcl, type Range, type Route, type RouteTable, type SecurityGroup, type Verdict, type VpcEndpoint
} from './pinpoint.ts'

// Pinpoint for S3 and DynamoDB: why this instance cannot reach the service's regional API, as
// a pure function over what the Describe* calls answered. The API lives outside the VPC: the
// route table of this instance's subnet must send it to a gateway endpoint of the service (and
// that endpoint's policy allow the request), to a NAT gateway, or to an internet gateway (which
// carries only an instance's traffic that has a public address); then this instance's security
// groups and its subnet's network ACL must let HTTPS out and the answers back in.
// https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html
// https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html

export interface ServicePathInput {
  service: 's3' | 'dynamodb'
  region: string
  // The API's port (443) and the address its name resolved to, when known.
  port: number
  targetIp?: string
  instance: InstanceNetwork
  routeTables: RouteTable[]
  vpcEndpoints: VpcEndpoint[]
  securityGroups: SecurityGroup[]
  networkAcls: NetworkAcl[]
  // What the check asks of the service, matched against a gateway endpoint's policy.
  requests: PolicyRequest[]
  // The ARNs the instance's role goes by, for the policy's Principal (empty when unknown).
  principals: string[]
}

export interface ServicePathVerdict extends Verdict {
  // Which way the route table sends the traffic: "gateway endpoint vpce-…", "NAT gateway nat-…".
  via?: string
}

const TITLES = { s3: 'S3', dynamodb: 'DynamoDB' }
const EVERYWHERE: Range = [0, 2 ** 32 - 1]

export function evaluateServicePath (input: ServicePathInput): ServicePathVerdict {
  const { service, region, instance, port } = input
  const title = TITLES[service]
  const serviceName = `com.amazonaws.${region}.${service}`
  const table = routeTableOf(input.routeTables, instance.subnetId)
  if (!table?.RouteTableId) return { blocked: false, finding: `no route table of ${instance.vpcId} was found for ${instance.subnetId}, so the path to ${title} was not evaluated` }
  const rtb = table.RouteTableId
  const endpoints = input.vpcEndpoints.filter(e => e.ServiceName === serviceName && e.VpcId === instance.vpcId)
  const gateways = endpoints.filter(e => e.VpcEndpointType?.toLowerCase() === 'gateway')
  const gateway = gateways.find(e => (e.RouteTableIds ?? []).includes(rtb))
  const createGateway = gateways[0]
    ? `associate the ${title} gateway endpoint ${gateways[0].VpcEndpointId} with ${rtb}: VPC → Endpoints → ${gateways[0].VpcEndpointId} → Actions → Manage route tables → tick ${rtb}`
    : `add ${service === 's3' ? 'an' : 'a'} ${title} gateway endpoint to ${rtb} (free, and the traffic stays in AWS): VPC → Endpoints → Create endpoint → AWS services → ${serviceName}, type Gateway → VPC ${instance.vpcId} → route table ${rtb}`

  // An interface endpoint with private DNS takes the API's name into the VPC; its own security
  // groups then decide, which this evaluation does not read.
  const privateInterface = !gateway && endpoints.find(e => e.VpcEndpointType?.toLowerCase() === 'interface' && e.PrivateDnsEnabled)
  if (privateInterface) {
    return { blocked: false, via: `interface endpoint ${privateInterface.VpcEndpointId}`, finding: `${title} is reached through the interface endpoint ${privateInterface.VpcEndpointId} (private DNS); its security groups must admit TCP ${port} from ${listed(instance.securityGroupIds)} (VPC → Endpoints → ${privateInterface.VpcEndpointId} → Security groups)` }
  }

  const exact = input.targetIp ? toRange(`${input.targetIp}/32`) : undefined
  let via: string
  let prefixList: string | undefined
  if (gateway) {
    const state = (gateway.State ?? 'available').toLowerCase()
    if (state !== 'available') return { blocked: true, finding: `the ${title} gateway endpoint ${gateway.VpcEndpointId} on ${rtb} is ${state}`, fix: `wait until it is available, or create it again (VPC → Endpoints → ${gateway.VpcEndpointId})` }
    via = `gateway endpoint ${gateway.VpcEndpointId}`
    prefixList = (table.Routes ?? []).find(route => route.GatewayId === gateway.VpcEndpointId)?.DestinationPrefixListId
  } else {
    const route = mostSpecific(table.Routes ?? [], exact)
    const destination = route?.DestinationCidrBlock
    const target = route && (route.NatGatewayId ?? route.GatewayId ?? route.TransitGatewayId ?? route.VpcPeeringConnectionId ?? route.NetworkInterfaceId ?? route.InstanceId)
    if (!route || !target) {
      return { blocked: true, finding: `the route table ${rtb} of ${instance.subnetId} has no route to ${title} in ${region}: no gateway endpoint, NAT gateway or internet gateway`, fix: createGateway }
    }
    if (route.State === 'blackhole') {
      return { blocked: true, finding: `the route ${destination} in ${rtb} points to ${target}, which no longer exists (blackhole)`, fix: `${createGateway}; or point the route at a NAT gateway that exists (VPC → Route tables → ${rtb} → Edit routes)` }
    }
    if (target === 'local') {
      return { blocked: false, via: 'this VPC', finding: `${title}'s address ${input.targetIp} is inside this VPC (the local route of ${rtb}), so its route table does not decide` }
    }
    if (target.startsWith('igw-') && !instance.publicIp) {
      return {
        blocked: true,
        finding: `${rtb} sends ${title}'s traffic to the internet gateway ${target}, but this instance (${instance.instanceId}) has no public IPv4 address, so that gateway does not carry it`,
        fix: `${createGateway}; or give the instances public addresses (the launch template → Network settings → Auto-assign public IP: Enable)`
      }
    }
    via = target.startsWith('nat-') ? `NAT gateway ${target}` : target.startsWith('igw-') ? `internet gateway ${target}` : target
  }

  const range = exact ?? EVERYWHERE
  const where = input.targetIp ?? `${title}'s addresses`
  const groups = instance.securityGroupIds.map(id => input.securityGroups.find(g => g.GroupId === id) ?? { GroupId: id })
  if (!groups.some(g => allows(g.IpPermissionsEgress, port, [], range, prefixList ? [prefixList] : []))) {
    const destination = prefixList ?? '0.0.0.0/0'
    return {
      blocked: true,
      via,
      finding: `${listed(instance.securityGroupIds)} (this instance) ${instance.securityGroupIds.length > 1 ? 'have' : 'has'} no outbound rule for TCP ${port} to ${prefixList ? `${prefixList} (${title}'s prefix list)` : where}`,
      fix: `add one: EC2 → Security groups → ${instance.securityGroupIds[0]} → Edit outbound rules → Add rule: ${port === 443 ? 'HTTPS' : `Custom TCP, port ${port}`}, destination ${destination}`
    }
  }
  const out = aclVerdict(input.networkAcls, instance.subnetId, true, range, port, port)
  if (out) return { ...aclBlock(out, 'outbound', `TCP ${port} to ${where}`, 'destination', '0.0.0.0/0', `${port}`), via }
  const back = aclVerdict(input.networkAcls, instance.subnetId, false, range, EPHEMERAL.from, EPHEMERAL.to)
  if (back) return { ...aclBlock(back, 'inbound', `the answers (TCP ${EPHEMERAL.from}-${EPHEMERAL.to}) from ${where}`, 'source', '0.0.0.0/0', '1024-65535'), via }

  if (gateway) {
    for (const request of input.requests) {
      const { allowed, deniedBy } = decide(gateway.PolicyDocument, request, input.principals)
      if (allowed) continue
      const edit = `VPC → Endpoints → ${gateway.VpcEndpointId} → Policy → Edit policy`
      return deniedBy
        ? { blocked: true, via, finding: `${deniedBy} of the policy of ${gateway.VpcEndpointId} (the ${title} gateway endpoint on ${rtb}) denies ${request.action} on ${request.resource}`, fix: `remove that statement or narrow it: ${edit}` }
        : { blocked: true, via, finding: `the policy of ${gateway.VpcEndpointId} (the ${title} gateway endpoint on ${rtb}) allows no ${request.action} on ${request.resource}`, fix: `allow ${input.requests.map(r => `${r.action} on ${r.resource}`).join(', ')} there, or choose Full access: ${edit}` }
    }
  }

  const after = via.startsWith('NAT') ? ' (the NAT gateway\'s own subnet must route 0.0.0.0/0 to an internet gateway)' : ''
  return {
    blocked: false,
    via,
    finding: `nothing in ${rtb}, the security groups (${listed(instance.securityGroupIds)}) or the network ACL of ${instance.subnetId} blocks TCP ${port} to ${title} through the ${via}${after}${gateway ? ', and its policy allows what the check asks' : ''}`
  }
}

// A subnet uses the route table associated with it, else the VPC's main one.
function routeTableOf (tables: RouteTable[], subnetId: string): RouteTable | undefined {
  return tables.find(t => (t.Associations ?? []).some(a => a.SubnetId === subnetId)) ??
    tables.find(t => (t.Associations ?? []).some(a => a.Main))
}

// The route a packet to `address` takes: the longest prefix that holds it; without the
// address, the default route.
function mostSpecific (routes: Route[], address: Range | undefined): Route | undefined {
  const holding = routes.flatMap(route => {
    const range = toRange(route.DestinationCidrBlock)
    if (!range) return []
    return (address ? contains(range, address) : route.DestinationCidrBlock === '0.0.0.0/0') ? [{ route, size: range[1] - range[0] }] : []
  })
  return holding.sort((a, b) => a.size - b.size)[0]?.route
}
