import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { LOOPBACK } from './harness/index.ts'

// An IMDSv2 of the test's own on loopback, as EC2 answers: a token only by PUT with a TTL
// header, every GET refused (401) without that token. Tests point the app at it with
// AWS_EC2_METADATA_SERVICE_ENDPOINT in the environment they give it (imdsEnv); nothing here ever reaches 169.254.169.254.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html

export const identity = {
  instanceId: 'i-0fixture1234567890',
  availabilityZone: 'eu-central-1b',
  instanceType: 't3.micro',
  privateIp: '10.0.1.23',
  amiId: 'ami-0fixture12345678',
  region: 'eu-central-1'
}

// Where the instance sits: its primary interface (by its MAC) in a subnet of a VPC, with one
// security group of its own. Ids shaped as EC2 gives them (a prefix and 17 hex digits).
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html
export const network = {
  mac: '0e:1f:5a:3c:9b:21',
  vpcId: 'vpc-0a1b2c3d4e5f60001',
  subnetId: 'subnet-0a1b2c3d4e5f60011',
  subnetCidr: '10.0.1.0/24',
  securityGroupIds: ['sg-0a1b2c3d4e5f60021'],
  // Launched without a public IPv4 address (public-ipv4 is then 404), as in a private subnet.
  publicIp: null as string | null
}

// How the instance is configured (ModifyInstanceMetadataOptions), and so how its IMDS fails.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-options.html
export interface ImdsOptions {
  // HttpEndpoint=disabled: every request is refused with 403 ("The request is not allowed or the
  // IMDS is turned off": the HTTP error codes of instancedata-data-retrieval.html, and
  // aws-sdk-ruby's EC2Metadata::RequestForbiddenError).
  disabled?: boolean
  // HttpTokens=optional also answers a GET without a token (IMDSv1); required (this fixture's
  // default, as before these options) refuses it with 401.
  httpTokens?: 'optional' | 'required'
  // HttpPutResponseHopLimit=1 seen from a container: the token PUT arrives, but its answer is
  // dropped on the extra hop, so the client sees no answer at all. GETs are not limited.
  // https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html
  tokenUnanswered?: boolean
  // The instance profile's role; without one, iam/security-credentials/ is 404.
  role?: string
  // Another instance than `identity`: tests of a fleet give each app its own.
  instance?: Partial<typeof identity>
  // Another place in the VPC than `network` (another VPC, another group).
  network?: Partial<typeof network>
}

// The role's credentials as IMDS serves them at iam/security-credentials/<role>:
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html
export const roleCredentials = {
  AccessKeyId: 'ASIAIMDSFIXTURE00001',
  SecretAccessKey: 'imds-fixture-secret',
  Token: 'imds-fixture-session-token'
}

export interface ImdsFixture {
  endpoint: string
  token: string
  requests: Array<{ method?: string, url?: string, headers: IncomingHttpHeaders }>
  stop: () => Promise<void>
}

export async function startImds ({ disabled = false, httpTokens = 'required', tokenUnanswered = false, role, instance: own = {}, network: ownNetwork = {} }: ImdsOptions = {}): Promise<ImdsFixture> {
  const instance = { ...identity, ...own }
  const place = { ...network, ...ownNetwork }
  const nic = `/latest/meta-data/network/interfaces/macs/${place.mac}`
  const token = `fixture-token-${process.pid}`
  const documents: Record<string, string> = {
    '/latest/meta-data/instance-id': instance.instanceId,
    '/latest/meta-data/placement/availability-zone': instance.availabilityZone,
    '/latest/meta-data/instance-type': instance.instanceType,
    '/latest/meta-data/local-ipv4': instance.privateIp,
    '/latest/meta-data/ami-id': instance.amiId,
    '/latest/meta-data/mac': place.mac,
    [`${nic}/vpc-id`]: place.vpcId,
    [`${nic}/subnet-id`]: place.subnetId,
    [`${nic}/subnet-ipv4-cidr-block`]: place.subnetCidr,
    // One id a line, no newline after the last (as EC2 lists every multi-valued category).
    [`${nic}/security-group-ids`]: place.securityGroupIds.join('\n'),
    ...(place.publicIp ? { '/latest/meta-data/public-ipv4': place.publicIp } : {}),
    '/latest/dynamic/instance-identity/document': JSON.stringify({
      accountId: '123456789012',
      architecture: 'x86_64',
      availabilityZone: instance.availabilityZone,
      imageId: instance.amiId,
      instanceId: instance.instanceId,
      instanceType: instance.instanceType,
      privateIp: instance.privateIp,
      region: instance.region,
      version: '2017-09-30'
    }, null, 2)
  }
  if (role) {
    const now = Date.now()
    documents['/latest/meta-data/iam/security-credentials/'] = role
    documents[`/latest/meta-data/iam/security-credentials/${role}`] = JSON.stringify({
      Code: 'Success',
      LastUpdated: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      Type: 'AWS-HMAC',
      ...roleCredentials,
      Expiration: new Date(now + 6 * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
    }, null, 2)
  }
  const requests: ImdsFixture['requests'] = []
  const server = createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers })
    if (disabled) return res.writeHead(403).end()
    if (req.url === '/latest/api/token') {
      if (req.method !== 'PUT') return res.writeHead(405).end()
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return res.writeHead(400).end()
      // The answer is lost on the way back: the connection stays open, silent, until the client gives up.
      if (tokenUnanswered) return
      return res.writeHead(200, { 'content-type': 'text/plain' }).end(token)
    }
    const tokenless = req.headers['x-aws-ec2-metadata-token'] === undefined && httpTokens === 'optional'
    if (!tokenless && req.headers['x-aws-ec2-metadata-token'] !== token) return res.writeHead(401).end()
    const body = documents[req.url ?? '']
    if (req.method !== 'GET' || body === undefined) return res.writeHead(404).end()
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body)
  })
  server.listen(0, LOOPBACK)
  await once(server, 'listening')
  return {
    endpoint: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`,
    token,
    requests,
    stop: async () => {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

// The environment that points the app under test at `endpoint`.
export function imdsEnv (endpoint: string): NodeJS.ProcessEnv {
  return { AWS_EC2_METADATA_DISABLED: 'false', AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint }
}
