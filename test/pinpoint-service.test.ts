import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decide } from '../lib/endpoint-policy.ts'
import { evaluateServicePath, type ServicePathInput } from '../lib/pinpoint-service.ts'
import { ACCOUNT_ID, ROLE_NAME } from './harness/aws-identity.ts'
import { ids, instanceNetwork, lab, openAcl, prefixLists, type Lab } from './harness/aws-lab.ts'

// The way to S3 and DynamoDB alone, over describe outputs in the SDK's shapes: the healthy lab
// (test/harness/aws-lab.ts: both gateway endpoints on the instance subnet's route table) with one
// piece changed per scenario, which must be named with its fix.

const bucket = 'suai-bucket'
const s3Requests = [
  { action: 's3:ListBucket', resource: `arn:aws:s3:::${bucket}` },
  { action: 's3:GetObject', resource: `arn:aws:s3:::${bucket}/suaicloudapp` }
]
const principals = [`arn:aws:iam::${ACCOUNT_ID}:role/${ROLE_NAME}`, `arn:aws:iam::${ACCOUNT_ID}:root`, ACCOUNT_ID]

function s3 (env: Lab, extra: Partial<ServicePathInput> = {}) {
  return evaluateServicePath({
    service: 's3',
    region: 'eu-central-1',
    port: 443,
    targetIp: '52.219.170.42',
    instance: instanceNetwork,
    routeTables: env.routeTables,
    vpcEndpoints: env.vpcEndpoints,
    securityGroups: env.securityGroups,
    networkAcls: env.networkAcls,
    requests: s3Requests,
    principals,
    ...extra
  })
}

const publicTable = (env: Lab) => env.routeTables.find(t => t.RouteTableId === ids.publicRouteTable)!
const endpoint = (env: Lab, service: 's3' | 'dynamodb') => env.vpcEndpoints.find(e => e.ServiceName?.endsWith(`.${service}`))!
// The instance subnet's table without the gateway endpoints (and, optionally, with other routes).
function withoutEndpoints (env: Lab, routes = publicTable(env).Routes!.filter(r => !r.DestinationPrefixListId)) {
  publicTable(env).Routes = routes
  for (const e of env.vpcEndpoints) e.RouteTableIds = e.RouteTableIds!.filter(id => id !== ids.publicRouteTable)
  return env
}
const local = { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' }

test('the healthy lab: through the S3 gateway endpoint, its policy allowing what the check asks', () => {
  const verdict = s3(lab())
  assert.equal(verdict.blocked, false)
  assert.equal(verdict.via, `gateway endpoint ${ids.s3Endpoint}`)
  assert.match(verdict.finding, new RegExp(`^nothing in ${ids.publicRouteTable}, the security groups \\(${ids.appGroup}\\) or the network ACL of ${ids.instanceSubnet} blocks TCP 443 to S3 through the gateway endpoint ${ids.s3Endpoint}, and its policy allows`))
})

test('a private subnet with no way out: no route to S3, and the fix adds the gateway endpoint to that table', () => {
  const env = lab()
  env.vpcEndpoints = []
  publicTable(env).Routes = [local]
  assert.deepEqual(s3(env), {
    blocked: true,
    finding: `the route table ${ids.publicRouteTable} of ${ids.instanceSubnet} has no route to S3 in eu-central-1: no gateway endpoint, NAT gateway or internet gateway`,
    fix: `add an S3 gateway endpoint to ${ids.publicRouteTable} (free, and the traffic stays in AWS): VPC → Endpoints → Create endpoint → AWS services → com.amazonaws.eu-central-1.s3, type Gateway → VPC ${ids.vpc} → route table ${ids.publicRouteTable}`
  })
})

test('a gateway endpoint that exists but not on this subnet\'s table: associate it', () => {
  const env = withoutEndpoints(lab(), [local])
  const verdict = s3(env)
  assert.equal(verdict.blocked, true)
  assert.equal(verdict.fix, `associate the S3 gateway endpoint ${ids.s3Endpoint} with ${ids.publicRouteTable}: VPC → Endpoints → ${ids.s3Endpoint} → Actions → Manage route tables → tick ${ids.publicRouteTable}`)
})

test('a subnet without an explicit table uses the VPC\'s main one', () => {
  const env = lab()
  publicTable(env).Associations = []
  const main = env.routeTables.find(t => t.RouteTableId === ids.mainRouteTable)!
  main.Routes = [local]
  endpoint(env, 's3').RouteTableIds = [ids.publicRouteTable]
  assert.match(s3(env).finding, new RegExp(`^the route table ${ids.mainRouteTable} of ${ids.instanceSubnet} has no route to S3`))
})

test('a route to the internet gateway, but the instance has no public IPv4 address', () => {
  const env = withoutEndpoints(lab())
  assert.deepEqual(s3(env), {
    blocked: true,
    finding: `${ids.publicRouteTable} sends S3's traffic to the internet gateway ${ids.internetGateway}, but this instance (${instanceNetwork.instanceId}) has no public IPv4 address, so that gateway does not carry it`,
    fix: `associate the S3 gateway endpoint ${ids.s3Endpoint} with ${ids.publicRouteTable}: VPC → Endpoints → ${ids.s3Endpoint} → Actions → Manage route tables → tick ${ids.publicRouteTable}; or give the instances public addresses (the launch template → Network settings → Auto-assign public IP: Enable)`
  })
  // With a public address the same route is a way out.
  const open = s3(env, { instance: { ...instanceNetwork, publicIp: '3.121.5.17' } })
  assert.equal(open.blocked, false)
  assert.equal(open.via, `internet gateway ${ids.internetGateway}`)
})

test('a NAT gateway: open, with a word on its own subnet; one deleted since (blackhole): named', () => {
  const nat = { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: ids.natGateway, State: 'active' }
  const open = s3(withoutEndpoints(lab(), [local, nat]))
  assert.equal(open.blocked, false)
  assert.equal(open.via, `NAT gateway ${ids.natGateway}`)
  assert.match(open.finding, /the NAT gateway's own subnet must route 0\.0\.0\.0\/0 to an internet gateway/)
  const gone = s3(withoutEndpoints(lab(), [local, { ...nat, State: 'blackhole' }]))
  assert.equal(gone.blocked, true)
  assert.equal(gone.finding, `the route 0.0.0.0/0 in ${ids.publicRouteTable} points to ${ids.natGateway}, which no longer exists (blackhole)`)
})

test('the most specific route decides: a /8 to a NAT gateway beats the default route to the internet gateway', () => {
  const env = withoutEndpoints(lab(), [local, { DestinationCidrBlock: '0.0.0.0/0', GatewayId: ids.internetGateway, State: 'active' }, { DestinationCidrBlock: '52.0.0.0/8', NatGatewayId: ids.natGateway, State: 'active' }])
  assert.equal(s3(env).via, `NAT gateway ${ids.natGateway}`)
  // Without the API's address only the default route can be judged.
  assert.equal(s3(env, { targetIp: undefined }).blocked, true)
})

test('this instance\'s security group lets HTTPS out only into the VPC: the fix names the endpoint\'s prefix list', () => {
  const env = lab()
  env.securityGroups.find(g => g.GroupId === ids.appGroup)!.IpPermissionsEgress = [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/16' }] }]
  assert.deepEqual(s3(env), {
    blocked: true,
    via: `gateway endpoint ${ids.s3Endpoint}`,
    finding: `${ids.appGroup} (this instance) has no outbound rule for TCP 443 to ${prefixLists.s3} (S3's prefix list)`,
    fix: `add one: EC2 → Security groups → ${ids.appGroup} → Edit outbound rules → Add rule: HTTPS, destination ${prefixLists.s3}`
  })
  // A rule to the prefix list is enough.
  env.securityGroups.find(g => g.GroupId === ids.appGroup)!.IpPermissionsEgress = [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, PrefixListIds: [{ PrefixListId: prefixLists.s3 }] }]
  assert.equal(s3(env).blocked, false)
})

test('the subnet\'s network ACL: HTTPS out denied by a rule, or the answers not let back in', () => {
  const env = lab()
  const acl = openAcl(ids.defaultAcl, [ids.instanceSubnet])
  acl.Entries!.unshift({ RuleNumber: 90, Protocol: '6', RuleAction: 'deny', Egress: true, CidrBlock: '0.0.0.0/0', PortRange: { From: 443, To: 443 } })
  env.networkAcls = [acl]
  assert.deepEqual(s3(env), {
    blocked: true,
    via: `gateway endpoint ${ids.s3Endpoint}`,
    finding: `network ACL ${ids.defaultAcl} (of ${ids.instanceSubnet}): rule 90 denies outbound TCP 443 to 52.219.170.42 (port 443)`,
    fix: `VPC → Network ACLs → ${ids.defaultAcl} → Edit outbound rules → add an allow rule numbered below 90: Custom TCP, port 443, destination 0.0.0.0/0`
  })
  const inbound = openAcl(ids.defaultAcl, [ids.instanceSubnet])
  inbound.Entries = inbound.Entries!.map(e => e.Egress || e.RuleNumber !== 100 ? e : { ...e, Protocol: '6', PortRange: { From: 443, To: 443 } })
  env.networkAcls = [inbound]
  assert.match(s3(env).finding, new RegExp(`^network ACL ${ids.defaultAcl} \\(of ${ids.instanceSubnet}\\): no rule allows inbound the answers \\(TCP 32768-60999\\) from 52\\.219\\.170\\.42`))
})

test('the endpoint\'s policy: an explicit Deny names its Sid; a policy for another bucket allows nothing the check asks', () => {
  const env = lab()
  endpoint(env, 's3').PolicyDocument = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*' },
      { Sid: 'NoListing', Effect: 'Deny', Principal: '*', Action: 's3:List*', Resource: `arn:aws:s3:::${bucket}` }
    ]
  })
  assert.deepEqual(s3(env), {
    blocked: true,
    via: `gateway endpoint ${ids.s3Endpoint}`,
    finding: `NoListing of the policy of ${ids.s3Endpoint} (the S3 gateway endpoint on ${ids.publicRouteTable}) denies s3:ListBucket on arn:aws:s3:::${bucket}`,
    fix: `remove that statement or narrow it: VPC → Endpoints → ${ids.s3Endpoint} → Policy → Edit policy`
  })
  endpoint(env, 's3').PolicyDocument = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::other-bucket', 'arn:aws:s3:::other-bucket/*'] }] })
  const verdict = s3(env)
  assert.equal(verdict.finding, `the policy of ${ids.s3Endpoint} (the S3 gateway endpoint on ${ids.publicRouteTable}) allows no s3:ListBucket on arn:aws:s3:::${bucket}`)
  assert.equal(verdict.fix, `allow s3:ListBucket on arn:aws:s3:::${bucket}, s3:GetObject on arn:aws:s3:::${bucket}/suaicloudapp there, or choose Full access: VPC → Endpoints → ${ids.s3Endpoint} → Policy → Edit policy`)
})

test('an endpoint that is not available yet; an interface endpoint with private DNS is named, not judged', () => {
  const env = lab()
  endpoint(env, 's3').State = 'pending'
  assert.equal(s3(env).finding, `the S3 gateway endpoint ${ids.s3Endpoint} on ${ids.publicRouteTable} is pending`)
  const viaInterface = withoutEndpoints(lab(), [local])
  viaInterface.vpcEndpoints.push({ VpcEndpointId: 'vpce-0interface0000001', VpcEndpointType: 'Interface', VpcId: ids.vpc, ServiceName: 'com.amazonaws.eu-central-1.s3', State: 'available', PrivateDnsEnabled: true })
  const verdict = s3(viaInterface)
  assert.equal(verdict.blocked, false)
  assert.match(verdict.finding, /^S3 is reached through the interface endpoint vpce-0interface0000001 \(private DNS\); its security groups must admit TCP 443/)
})

test('DynamoDB: its own endpoint and service name, never S3\'s', () => {
  const env = lab()
  env.vpcEndpoints = env.vpcEndpoints.filter(e => e.VpcEndpointId === ids.s3Endpoint)
  publicTable(env).Routes = [local, ...publicTable(env).Routes!.filter(r => r.GatewayId === ids.s3Endpoint)]
  const table = `arn:aws:dynamodb:eu-central-1:${ACCOUNT_ID}:table/suai-table`
  const verdict = s3(env, { service: 'dynamodb', requests: [{ action: 'dynamodb:GetItem', resource: table }] })
  assert.match(verdict.finding, /has no route to DynamoDB in eu-central-1/)
  assert.match(verdict.fix!, /com\.amazonaws\.eu-central-1\.dynamodb, type Gateway/)
})

test('endpoint policies as IAM reads them: principals, NotAction, wildcards, conditions', () => {
  const request = { action: 's3:GetObject', resource: `arn:aws:s3:::${bucket}/suaicloudapp` }
  const policy = (...Statement: object[]) => JSON.stringify({ Statement })
  // Allowed to this role by its ARN; to another role, not.
  assert.equal(decide(policy({ Effect: 'Allow', Principal: { AWS: principals[0] }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }), request, principals).allowed, true)
  assert.equal(decide(policy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT_ID}:role/other` }, Action: 's3:GetObject', Resource: '*' }), request, principals).allowed, false)
  // The account id stands for every principal of the account.
  assert.equal(decide(policy({ Effect: 'Allow', Principal: { AWS: [ACCOUNT_ID] }, Action: 's3:Get*', Resource: '*' }), request, principals).allowed, true)
  // Deny everything but listing: GetObject is denied, by the statement's place.
  assert.deepEqual(decide(policy({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }, { Effect: 'Deny', Principal: '*', NotAction: 's3:List*', Resource: '*' }), request, principals), { allowed: false, deniedBy: 'statement 2' })
  // Actions ignore case; resources do not.
  assert.equal(decide(policy({ Effect: 'Allow', Principal: '*', Action: 'S3:getobject', Resource: `arn:aws:s3:::${bucket}/suaicloud?pp` }), request, principals).allowed, true)
  assert.equal(decide(policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket.toUpperCase()}/*` }), request, principals).allowed, false)
  // A Deny with a condition cannot be judged here: it denies nothing; an Allow with one allows.
  assert.equal(decide(policy({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }, { Effect: 'Deny', Principal: '*', Action: '*', Resource: '*', Condition: { StringNotEquals: { 'aws:PrincipalAccount': ACCOUNT_ID } } }), request, principals).allowed, true)
  // No policy text, or text that is not a policy: nothing to hold against the request.
  assert.equal(decide(undefined, request, principals).allowed, true)
  assert.equal(decide('not json', request, principals).allowed, true)
})
