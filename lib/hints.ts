// What to change, said to the person who built the environment. The general hints live here;
// each backend's file holds its own, which win over these.

export type HintKey =
  | 'dns' | 'dns_unanswered' | 'connect_refused' | 'connect_timeout' | 'connect_reset' | 'request_timeout' | 'tls'
  | 'auth' | 'database' | 'tls_required' | 'tls_expected' | 'cluster'
  | 'credentials' | 'credentials_rejected' | 'clock' | 'permission' | 'not_found' | 'region' | 'schema'
  | 'too_many_connections' | 'host_blocked' | 'account_locked' | 'password_expired'

// The backend's name, its config section, what the check observed (the region it resolved) and
// what the failure adds (the denied action).
export interface HintContext {
  backend: string
  // A local S3- or DynamoDB-compatible server instead of AWS.
  endpoint?: string
  host?: string
  port?: number
  region?: string
  action?: string
  [key: string]: unknown
}

export type Hint = (c: HintContext) => string
export type Hints = Partial<Record<HintKey, Hint>>

const general: Hints = {
  dns: c => `${c.host} does not exist in DNS: copy the endpoint again from the AWS console into [${c.backend}] host (a typo, or a DB or cluster that was deleted or renamed, has no name)`,
  dns_unanswered: c => `the DNS resolver did not answer for ${c.host}, so the name itself may be right: check that the VPC has DNS resolution enabled (VPC → Your VPCs → Edit VPC settings) and that /etc/resolv.conf names a resolver this instance reaches (in a VPC, the Amazon-provided one: 169.254.169.253)`,
  connect_refused: c => `nothing listens on ${c.host}:${c.port}: check [${c.backend}] port and that the service is running`,
  connect_reset: c => `${c.host}:${c.port} closed the connection: check that it is the right kind of server on that port and whether it expects TLS`,
  request_timeout: c => `${c.host ?? c.backend} accepted the connection but did not answer in time: it may be overloaded, or be a different service on that port`,
  tls: c => `the TLS handshake with ${c.host ?? c.backend} failed: check the tls setting in [${c.backend}]`,
  region: c => c.region
    ? `set [aws] region = '${c.region}' in config.toml: that is where the ${c.backend === 's3' ? 'bucket' : 'table'} lives`
    : 'set [aws] region in config.toml (e.g. eu-central-1) to the region of your resources'
}

export function hint (key: HintKey, context: HintContext, own: Hints = {}): string | undefined {
  return (own[key] ?? general[key])?.(context)
}
