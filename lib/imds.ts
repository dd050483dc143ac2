import { request } from 'node:http'

// Which EC2 instance this is, from the instance metadata service (IMDSv2: a token by PUT, then
// GETs that carry it). The dashboard shows it, so that refreshing through a load balancer shows
// which instance answered, and the AWS checks take the region from it when config.toml has none.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html

export interface InstanceIdentity {
  instanceId: string
  availabilityZone: string | null
  instanceType: string | null
  privateIp: string | null
  amiId: string | null
  region: string | null
}

export interface InstanceLookup {
  instance: InstanceIdentity | null
  // Where the answer came from, or why there is none.
  note: string
  // The role of the instance profile, when one is attached: who the AWS checks act as.
  role?: string
}

// Where this instance sits in its VPC, read through its primary network interface (the MAC of
// device 0): what a security group rule or a network ACL is matched against when it connects.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html
export interface InstanceNetwork {
  instanceId: string
  availabilityZone: string | null
  privateIp: string
  mac: string
  vpcId: string
  subnetId: string
  subnetCidr: string | null
  securityGroupIds: string[]
  // None when the instance was launched without one: then a route to an internet gateway does
  // not carry its traffic (the S3 and DynamoDB checks' pinpointing asks).
  publicIp: string | null
  // From the identity document: the account in the ARNs an endpoint policy is matched on.
  accountId: string | null
}

export interface NetworkLookup {
  network: InstanceNetwork | null
  note: string
  // AWS_EC2_METADATA_DISABLED: not on EC2 by choice, nothing to say.
  disabled?: boolean
}

export interface ImdsOptions {
  // Read on every lookup, so AWS_EC2_METADATA_DISABLED and _SERVICE_ENDPOINT work as for the SDK.
  env: NodeJS.ProcessEnv
  requestTimeoutMs?: number
  lookupTimeoutMs?: number
  // How long "not on EC2" stands before it is asked again (in the background).
  retryAfterMs?: number
}

const DEFAULT_ENDPOINT = 'http://169.254.169.254'
const TOKEN_TTL_SECONDS = '21600'
const paths = {
  instanceId: '/latest/meta-data/instance-id',
  availabilityZone: '/latest/meta-data/placement/availability-zone',
  instanceType: '/latest/meta-data/instance-type',
  privateIp: '/latest/meta-data/local-ipv4',
  amiId: '/latest/meta-data/ami-id',
  document: '/latest/dynamic/instance-identity/document',
  // Lists the instance profile's role (404 without one).
  // https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html
  role: '/latest/meta-data/iam/security-credentials/',
  mac: '/latest/meta-data/mac',
  // 404 when the instance has no public IPv4 address.
  publicIp: '/latest/meta-data/public-ipv4'
}
// Under network/interfaces/macs/<mac>/; security-group-ids is one id a line.
const interfacePath = (mac: string, leaf: 'vpc-id' | 'subnet-id' | 'subnet-ipv4-cidr-block' | 'security-group-ids') =>
  `/latest/meta-data/network/interfaces/macs/${mac}/${leaf}`

interface Entry {
  answer?: InstanceLookup
  pending?: Promise<InstanceLookup>
  // Date.now() after which a "not on EC2" is asked again; a found instance never expires.
  until: number
}

// A lookup never throws and is bounded by lookupTimeoutMs. The first one waits for the
// service; later ones answer from the cache at once, and an expired "not on EC2" is refreshed
// behind the caller's back, so a dashboard refresh never waits on an absent service.
export function createImds ({ env, requestTimeoutMs = 300, lookupTimeoutMs = 1000, retryAfterMs = 60_000 }: ImdsOptions) {
  // By endpoint: a changed AWS_EC2_METADATA_SERVICE_ENDPOINT is a different service.
  const cache = new Map<string, Entry>()

  function refresh (endpoint: string, entry: Entry): Promise<InstanceLookup> {
    entry.pending ??= fetchIdentity(endpoint, requestTimeoutMs, lookupTimeoutMs).then(answer => {
      entry.answer = answer
      entry.until = answer.instance ? Infinity : Date.now() + retryAfterMs
      entry.pending = undefined
      return answer
    })
    return entry.pending
  }

  // As the SDK reads it: any value but "false" disables the service.
  const disabled = () => Boolean(env.AWS_EC2_METADATA_DISABLED) && env.AWS_EC2_METADATA_DISABLED?.toLowerCase() !== 'false'
  const endpointOf = () => (env.AWS_EC2_METADATA_SERVICE_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '')

  return {
    // AWS_EC2_METADATA_DISABLED: not on EC2 by choice; nothing is asked.
    disabled,
    async lookup (): Promise<InstanceLookup> {
      if (disabled()) return { instance: null, note: 'not on EC2 (metadata disabled)' }
      const endpoint = endpointOf()
      let entry = cache.get(endpoint)
      if (!entry) cache.set(endpoint, entry = { until: 0 })
      if (!entry.answer) return refresh(endpoint, entry)
      if (Date.now() > entry.until) refresh(endpoint, entry)
      return entry.answer
    },
    // Read afresh on every call, never cached: a security group attached since start-up counts.
    // Only a failed check asks (and caches the answer with its result). Never throws; bounded by
    // lookupTimeoutMs.
    async network (): Promise<NetworkLookup> {
      if (disabled()) return { network: null, note: 'not on EC2 (metadata disabled)', disabled: true }
      const endpoint = endpointOf()
      try {
        const { get, optional } = await session(endpoint, requestTimeoutMs, AbortSignal.timeout(lookupTimeoutMs))
        const [instanceId, availabilityZone, privateIp, mac, publicIp, document] = await Promise.all([
          get(paths.instanceId), optional(paths.availabilityZone), get(paths.privateIp), get(paths.mac), optional(paths.publicIp), optional(paths.document)
        ])
        const [vpcId, subnetId, subnetCidr, groups] = await Promise.all([
          get(interfacePath(mac, 'vpc-id')), get(interfacePath(mac, 'subnet-id')),
          optional(interfacePath(mac, 'subnet-ipv4-cidr-block')), get(interfacePath(mac, 'security-group-ids'))
        ])
        const securityGroupIds = groups.split('\n').map(id => id.trim()).filter(Boolean)
        return {
          network: { instanceId, availabilityZone, privateIp, mac, vpcId, subnetId, subnetCidr, securityGroupIds, publicIp, accountId: documentField(document, 'accountId') },
          note: `EC2 instance metadata from ${endpoint}`
        }
      } catch (err) {
        return { network: null, note: `this instance's network is unknown (the instance metadata service at ${endpoint}: ${(err as Error).message})` }
      }
    }
  }
}

export type Imds = ReturnType<typeof createImds>

// An IMDSv2 session: the token by PUT, then a `get` that carries it, and `optional`, which
// answers null for what the service cannot give (a 404, a timeout). Each request is bounded by
// requestTimeoutMs, all of them together by `whole`.
async function session (endpoint: string, requestTimeoutMs: number, whole: AbortSignal) {
  const call = (method: 'PUT' | 'GET', path: string, headers: Record<string, string>) =>
    send(`${endpoint}${path}`, method, headers, AbortSignal.any([whole, AbortSignal.timeout(requestTimeoutMs)]))
  const token = await call('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': TOKEN_TTL_SECONDS })
  const get = (path: string) => call('GET', path, { 'x-aws-ec2-metadata-token': token })
  return { get, optional: (path: string) => get(path).catch(() => null) }
}

async function fetchIdentity (endpoint: string, requestTimeoutMs: number, lookupTimeoutMs: number): Promise<InstanceLookup> {
  try {
    // Only the instance id is required; a field the service cannot give stays null.
    const { get, optional } = await session(endpoint, requestTimeoutMs, AbortSignal.timeout(lookupTimeoutMs))
    const [instanceId, availabilityZone, instanceType, privateIp, amiId, document, role] = await Promise.all([
      get(paths.instanceId), optional(paths.availabilityZone), optional(paths.instanceType),
      optional(paths.privateIp), optional(paths.amiId), optional(paths.document), optional(paths.role)
    ])
    return {
      instance: { instanceId, availabilityZone, instanceType, privateIp, amiId, region: documentField(document, 'region') },
      note: `EC2 instance metadata from ${endpoint}`,
      ...(role ? { role: role.split('\n')[0] } : {})
    }
  } catch (err) {
    return { instance: null, note: `not on EC2 (no answer from the instance metadata service at ${endpoint}: ${(err as Error).message})` }
  }
}

function documentField (document: string | null, field: 'region' | 'accountId'): string | null {
  try {
    const value: unknown = document && JSON.parse(document)[field]
    return typeof value === 'string' && value ? value : null
  } catch {
    return null
  }
}

function send (url: string, method: string, headers: Record<string, string>, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, signal }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { body += chunk })
      res.on('end', () => {
        if (res.statusCode === 200) resolve(body.trim())
        else reject(new Error(`${method} ${new URL(url).pathname} answered ${res.statusCode}`))
      })
      res.on('error', reject)
    })
    req.on('error', err => reject(signal.aborted ? new Error(`${method} ${new URL(url).pathname} got no answer in time`) : err))
    req.end()
  })
}
