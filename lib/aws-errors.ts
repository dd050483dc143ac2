import { CheckFailure, CheckWarning } from './check.ts'
import type { HintContext, Hints } from './hints.ts'

// What S3's and DynamoDB's errors share, read as a student on a real account meets them: who
// was denied what by which policy, credentials AWS rejected (not missing) and where they came
// from, a wrong clock, throttling and AWS's own failures.

export interface AwsError {
  name?: string
  message?: string
  // S3 copies its error's elements onto the exception: <Region> of AuthorizationHeaderMalformed.
  Region?: string
  $metadata?: { httpStatusCode?: number }
  $response?: { headers?: Record<string, string> }
}

// The policy types an AccessDenied message names, as AWS spells them: "with an explicit deny in
// a <type>" or "because no <type> allows the <action> action".
// https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html#access-denied-message-examples
const POLICY_KINDS = {
  'identity-based policy': 'identity',
  'resource-based policy': 'resource',
  'VPC endpoint policy': 'vpc-endpoint',
  'service control policy': 'scp',
  'permissions boundary': 'boundary',
  'session policy': 'session'
} as const

export type PolicyKind = typeof POLICY_KINDS[keyof typeof POLICY_KINDS]

// "an identity-based policy", for messages.
const POLICY_NAMES: Record<PolicyKind, string> = Object.fromEntries(Object.entries(POLICY_KINDS).map(([name, kind]) => [kind, `${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${name}`])) as Record<PolicyKind, string>

export interface Denial {
  // The principal's ARN, and its role when it is an assumed role (an instance profile's session).
  principal?: string
  role?: string
  action?: string
  resource?: string
  policy?: PolicyKind
  explicit?: boolean
  // S3's "Access Denied" with nothing else: what a request gets from outside the bucket's
  // account or organisation (same S3 page).
  bare: boolean
}

// "User: <arn> is not authorized to perform: <action> on resource: <arn> <why>"; S3 quotes the
// resource, DynamoDB does not, and a KMS denial names "the resource associated with this
// ciphertext". The why may be followed by ": <the policy's ARN>" (SCPs name theirs).
const DENIAL = /^User: (\S+) is not authorized to perform: (\S+) on (?:resource: "?([^"\s]+)"?|(the resource associated with this ciphertext))(?: (?:because no (.+?) allows the \S+ action|with an explicit deny in an? (.+?)))?(?::\s.*)?\.?$/

export function parseDenial (message: string): Denial {
  const match = DENIAL.exec(message.trim())
  if (!match) return { bare: /^Access Denied\.?$/i.test(message.trim()) }
  const [, principal, action, resource, ciphertext, implicitIn, explicitIn] = match
  const policyName = (implicitIn ?? explicitIn) as keyof typeof POLICY_KINDS | undefined
  return {
    principal,
    // arn:aws:sts::<account>:assumed-role/<role>/<session>
    role: /:assumed-role\/([^/]+)\//.exec(principal)?.[1],
    action,
    resource: resource ?? ciphertext,
    policy: policyName ? POLICY_KINDS[policyName] : undefined,
    explicit: explicitIn !== undefined,
    bare: false
  }
}

// Where the SDK took the credentials from, said so a student knows what to change.
export type CredentialSource = 'environment' | 'profile' | 'instance'

// Keys the app was given in its environment are passed to the client as they are; otherwise the
// SDK's default chain marks what it used ($source, set by the env and ini providers); what it
// does not mark is the container or instance role.
export function credentialSource (env: NodeJS.ProcessEnv, credentials: object): CredentialSource {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) return 'environment'
  const features = Object.keys((credentials as { $source?: object }).$source ?? {})
  if (features.includes('CREDENTIALS_ENV_VARS')) return 'environment'
  if (features.some(feature => feature.startsWith('CREDENTIALS_PROFILE'))) return 'profile'
  return 'instance'
}

// Who the checks act as, in words: "instance role suai-InstanceRole", "profile 'lab'".
export interface Acting { source: CredentialSource, as: string }

export function describeSource (source: CredentialSource, env: NodeJS.ProcessEnv, role?: string): string {
  if (source === 'environment') return 'environment keys (AWS_ACCESS_KEY_ID)'
  if (source === 'profile') return `profile '${env.AWS_PROFILE ?? 'default'}'`
  return role ? `instance role ${role}` : 'the instance role'
}

// Names of the errors, by what they mean. Credentials rejected: S3's ErrorResponses.html and
// DynamoDB's CommonErrors (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html).
const REJECTED = ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'UnrecognizedClientException', 'InvalidClientTokenId', 'InvalidToken', 'ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired']
// "the instance's clock": S3 answers RequestTimeTooSkewed beyond 15 minutes; DynamoDB answers
// InvalidSignatureException "Signature expired: <request time> is now earlier than …" (dynalite's
// recorded message), or "Signature not yet current" for a clock ahead.
const SKEWED = /^(Signature expired|Signature not yet current)/
// Not the environment's fault: throttling (S3 SlowDown 503, DynamoDB's 400s) and AWS's own 5xx.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
const TRANSIENT = ['SlowDown', 'ThrottlingException', 'ProvisionedThroughputExceededException', 'InternalError', 'InternalServerError', 'ServiceUnavailable']

// `action`: the IAM action the request needed, when the message does not name it.
// `acting`: where the credentials came from, for the rejected-credentials hint.
export function classifyAws (err: unknown, action: string, acting: Acting): CheckFailure | undefined {
  const e = err as AwsError
  const name = e.name ?? ''
  const message = String(e.message ?? err)
  const status = e.$metadata?.httpStatusCode
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new CheckFailure('credentials', 'no AWS credentials: no instance profile, environment keys or profile were found', 'credentials')
  }
  if (/Region is missing/i.test(message)) {
    return new CheckFailure('config', 'no AWS region is configured', 'region', { region: undefined })
  }
  if (name === 'RequestTimeTooSkewed' || (name === 'InvalidSignatureException' && SKEWED.test(message))) {
    return new CheckFailure('clock', `AWS refused the request because this machine's clock is off by more than 15 minutes (${name})`, 'clock')
  }
  // Never AWS's message here: a DynamoDB signature mismatch quotes the signed headers, session token included.
  if (REJECTED.includes(name) || name === 'InvalidSignatureException') {
    return new CheckFailure('credentials', `AWS rejected the credentials of ${acting.as} (${name})`, 'credentials_rejected', { source: acting.source, actingAs: acting.as, code: name })
  }
  if (TRANSIENT.includes(name) || (status !== undefined && status >= 500)) {
    return new CheckWarning('request', `AWS answered ${name || status}: it is throttling or failing for now, which says nothing about your environment; the next check will tell`)
  }
  if (name === 'AccessDenied' || name === 'AccessDeniedException' || name === 'Forbidden' || status === 403) {
    const denial = parseDenial(message)
    const denied = denial.action ?? action
    const by = denial.policy ? ` by ${denial.explicit ? 'an explicit deny in ' : 'no allow in '}${POLICY_NAMES[denial.policy]}` : ''
    return new CheckFailure('permission', `access denied to ${denied}${denial.role ? ` for role ${denial.role}` : ''}${by} (${name || status})`, 'permission', { ...denial, action: denied })
  }
  if (name === 'TimeoutError' || name === 'RequestTimeout') {
    return new CheckFailure('request', `the AWS API did not answer within the timeout (${name})`, 'connect_timeout')
  }
  return undefined
}

// The hint for a denial: the policy AWS named is the one to change. `resourcePolicy` says where
// the backend's own resource-based policy lives; `thing` is what its section names (bucket, table).
export function deniedHint (c: HintContext, { resourcePolicy, thing }: { resourcePolicy: string, thing: string }): string {
  const role = c.role ? `the role ${c.role}` : 'the instance role'
  const console = c.role ? `IAM → Roles → ${c.role} → Permissions` : 'IAM → Roles → the instance\'s role → Permissions'
  const what = `${c.action} on ${c.resource ?? 'the resource'}`
  if (String(c.action).startsWith('kms:')) {
    return `the objects are encrypted with a KMS key ${role} may not use: allow ${c.action} on that key in ${role}'s policy (${console}) and in the key's policy (KMS → Customer managed keys), or store the objects with SSE-S3`
  }
  switch (c.policy as PolicyKind | undefined) {
    case 'resource': return `${resourcePolicy} denies ${what}: change its Deny statement there; ${role}'s own policy is not what blocks it`
    case 'vpc-endpoint': return `the policy of the VPC endpoint this subnet uses (VPC → Endpoints → its Policy tab) denies ${what}: allow it there; ${role}'s own policy is not what blocks it`
    case 'scp': return `a service control policy of your AWS Organization denies ${what}: no policy in this account can override it; ask the organization's administrator (on a course account, your instructor), or use what the SCP allows (its region, its services)`
    case 'boundary': return `${role} has a permissions boundary that does not allow ${c.action}: add it to the boundary policy, or remove the boundary (${console} → Permissions boundary)`
    case 'session': return `the session policy the credentials were issued with does not allow ${c.action}: get a session without that policy, or one that allows it`
    case 'identity': return c.explicit
      ? `a policy attached to ${role} explicitly denies ${what}: remove that Deny statement (${console}); an Allow cannot outweigh it`
      : `allow ${what} in a policy attached to ${role} (${console})`
  }
  if (c.bare) return `AWS said only "Access Denied", as it does when the ${thing} belongs to another account: check that [${c.backend}] ${thing} names your own ${thing}, spelt exactly; if it does, ${resourcePolicy} or a VPC endpoint policy denies ${c.action}`
  return `allow ${what} in a policy attached to ${role} (${console}), and check that ${resourcePolicy} does not deny it`
}

const credentialFixes: Record<CredentialSource, string> = {
  environment: 'keys in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) override the instance role: unset them where the app is started (its systemd unit, your shell) to use the role, or replace them with current keys (lab keys expire with the session)',
  profile: 'the profile\'s keys in ~/.aws/credentials are wrong or expired: update them (aws configure), or remove AWS_PROFILE and the file to use the instance role',
  instance: 'the instance role\'s temporary credentials were refused: if the role was just changed wait a minute and check again; otherwise check the instance\'s clock (chronyc tracking)'
}

// The hints every AWS backend shares; each backend spreads them into its own. S3 and DynamoDB
// are reached at AWS's API endpoints, or at [section] endpoint when one is set.
export const awsApiHints: Hints = {
  // The name does not exist (NXDOMAIN): AWS's API names exist in every region, so the region is
  // what is wrong. A resolver that did not answer is dns_unanswered.
  dns: c => c.endpoint
    ? `the host of ${c.endpoint} does not resolve: check [${c.backend}] endpoint, or remove it to use AWS`
    : `AWS has no ${c.backend === 's3' ? 'S3' : 'DynamoDB'} API for a region '${c.region}': copy the region code again into [aws] region (e.g. eu-central-1, as the console shows it beside the region's name)`,
  dns_unanswered: c => `the DNS resolver did not answer for ${c.endpoint ?? 'the AWS API\'s host name'}: check that the VPC has DNS resolution enabled (VPC → Your VPCs → Edit VPC settings) and that /etc/resolv.conf names a resolver this instance reaches`,
  // AWS's own API endpoints never refuse a connection: without [section] endpoint, the refusal
  // comes from this machine or from where the environment points the SDK.
  connect_refused: c => c.endpoint
    ? `nothing listens at ${c.endpoint}: check [${c.backend}] endpoint, or remove it to use AWS`
    : `the connection to the ${c.backend === 's3' ? 'S3' : 'DynamoDB'} API was refused, which AWS's endpoints never do: a firewall on this instance rejects it (iptables, firewalld), or AWS_ENDPOINT_URL_${c.backend.toUpperCase()} / AWS_ENDPOINT_URL in the app's environment points elsewhere`,
  connect_reset: c => `${c.endpoint ?? 'the AWS API endpoint'} closed the connection: check [${c.backend}] endpoint (http:// or https://)`,
  request_timeout: c => `${c.endpoint ?? 'the AWS API'} did not answer in time`,
  // Missing: `metadata` is what the metadata service answered the app, when it gave no identity
  // (lib/imds.ts). https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-v2-how-it-works.html
  credentials: c => /PUT \/latest\/api\/token got no answer/.test(String(c.metadata))
    ? 'the instance metadata service never answered the token request (PUT /latest/api/token), as when the app runs in a container and the instance\'s HttpPutResponseHopLimit is 1: set it to 2 (EC2 → Instances → Actions → Instance settings → Modify instance metadata options; or aws ec2 modify-instance-metadata-options --http-put-response-hop-limit 2)'
    : /answered 403/.test(String(c.metadata))
      ? 'the instance metadata service is turned off on this instance, so the SDK cannot get the instance role\'s credentials: turn it on (EC2 → Instances → Actions → Instance settings → Modify instance metadata options → Instance metadata service: Enable)'
      : 'no AWS credentials were found: attach an IAM instance profile (role) to this instance (EC2 → Actions → Security → Modify IAM role); on a laptop set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
  credentials_rejected: c => `AWS does not accept the credentials of ${c.actingAs} (${c.code}): ${credentialFixes[c.source as CredentialSource]}`,
  clock: () => 'set the clock right: on Amazon Linux chronyd syncs it with the Amazon Time Sync Service (sudo systemctl enable --now chronyd; chronyc tracking shows the offset); in a container or VM, the host\'s clock'
}
