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
  role: '/latest/meta-data/iam/security-credentials/'
}

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

  return {
    async lookup (): Promise<InstanceLookup> {
      // As the SDK reads it: any value but "false" disables the service.
      const disabled = env.AWS_EC2_METADATA_DISABLED
      if (disabled && disabled.toLowerCase() !== 'false') return { instance: null, note: 'not on EC2 (metadata disabled)' }
      const endpoint = (env.AWS_EC2_METADATA_SERVICE_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '')
      let entry = cache.get(endpoint)
      if (!entry) cache.set(endpoint, entry = { until: 0 })
      if (!entry.answer) return refresh(endpoint, entry)
      if (Date.now() > entry.until) refresh(endpoint, entry)
      return entry.answer
    }
  }
}

export type Imds = ReturnType<typeof createImds>

async function fetchIdentity (endpoint: string, requestTimeoutMs: number, lookupTimeoutMs: number): Promise<InstanceLookup> {
  const whole = AbortSignal.timeout(lookupTimeoutMs)
  const call = (method: 'PUT' | 'GET', path: string, headers: Record<string, string>) =>
    send(`${endpoint}${path}`, method, headers, AbortSignal.any([whole, AbortSignal.timeout(requestTimeoutMs)]))
  try {
    const token = await call('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': TOKEN_TTL_SECONDS })
    const get = (path: string) => call('GET', path, { 'x-aws-ec2-metadata-token': token })
    // Only the instance id is required; a field the service cannot give stays null.
    const optional = (path: string) => get(path).catch(() => null)
    const [instanceId, availabilityZone, instanceType, privateIp, amiId, document, role] = await Promise.all([
      get(paths.instanceId), optional(paths.availabilityZone), optional(paths.instanceType),
      optional(paths.privateIp), optional(paths.amiId), optional(paths.document), optional(paths.role)
    ])
    return {
      instance: { instanceId, availabilityZone, instanceType, privateIp, amiId, region: regionOf(document) },
      note: `EC2 instance metadata from ${endpoint}`,
      ...(role ? { role: role.split('\n')[0] } : {})
    }
  } catch (err) {
    return { instance: null, note: `not on EC2 (no answer from the instance metadata service at ${endpoint}: ${(err as Error).message})` }
  }
}

function regionOf (document: string | null): string | null {
  try {
    const region: unknown = document && JSON.parse(document).region
    return typeof region === 'string' && region ? region : null
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
