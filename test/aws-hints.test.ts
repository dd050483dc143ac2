import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp, configToml } from './helper.ts'
import { OTHER_REGION, ROLE_NAME, startAws, type AwsFixture, type DynamoScenario, type S3Scenario } from './harness/index.ts'
import { imdsEnv, roleCredentials, startImds } from './imds-fixture.ts'

// The S3 and DynamoDB checks against the AWS fixture, which answers as AWS does: every failure a
// student meets on a real account gets its stage, and a hint that names the thing to change.

process.env.AWS_EC2_METADATA_DISABLED = 'true'
process.env.AWS_CONFIG_FILE = '/nonexistent/suai-aws-hints-config'
process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/suai-aws-hints-credentials'

const TIMEOUT_MS = 1000
const keys = { AWS_ACCESS_KEY_ID: 'AKIAHINTSTEST0000001', AWS_SECRET_ACCESS_KEY: 'Secret-Hints-Key-8d7c6b', AWS_SESSION_TOKEN: 'Secret-Hints-Session-5a4b3c' }

let aws: AwsFixture

before(async () => {
  aws = await startAws({ region: 'eu-central-1' })
  aws.putBucket('deployed', { suaicloudapp: 'binary', 'config.toml': '[server]\n' })
  aws.putBucket('get-object-denied', { suaicloudapp: 'binary', 'config.toml': '[server]\n' })
  aws.putBucket('kms-decrypt-denied', { 'config.toml': '[server]\n' })
  aws.putTable('seed', { hash: ['id', 'S'] })
})

after(async () => { await aws?.stop() })

interface Result { status: string, stage: string, message: string, hint?: string, details: Record<string, unknown> }

async function check (t: TestContext, backend: 's3' | 'dynamodb', name: string, env: NodeJS.ProcessEnv = keys): Promise<Result> {
  const section = backend === 's3' ? { bucket: name, endpoint: aws.endpoint } : { table: name, partition_key: 'id', endpoint: aws.endpoint }
  const { fastify } = await buildApp(t, configToml({ checks: { timeout_ms: TIMEOUT_MS, cache_ms: 0 }, aws: { region: aws.region }, [backend]: section }), env)
  const started = performance.now()
  const res = await fastify.inject(`/${backend}?format=json`)
  const ms = performance.now() - started
  assert.ok(ms < TIMEOUT_MS + 500, `answered in ${Math.round(ms)} ms`)
  for (const secret of [keys.AWS_SECRET_ACCESS_KEY, keys.AWS_SESSION_TOKEN, roleCredentials.SecretAccessKey, roleCredentials.Token]) {
    assert.ok(!res.body.includes(secret), `a secret in ${res.body}`)
  }
  return res.json()
}

function assertFailure (result: Result, stage: string, message: RegExp, hint: RegExp) {
  assert.equal(result.status, 'fail', JSON.stringify(result))
  assert.equal(result.stage, stage, JSON.stringify(result))
  assert.match(result.message, message)
  assert.match(result.hint ?? '', hint)
}

// The role's own policy is not to be touched when another policy denied.
const editsRole = /in a policy attached to|remove that Deny statement/

const denials: Array<[S3Scenario, RegExp, RegExp, boolean]> = [
  ['denied-identity-policy', /access denied to s3:ListBucket for role suai-InstanceRole by no allow in an identity-based policy/,
    /^allow s3:ListBucket on arn:aws:s3:::denied-identity-policy in a policy attached to the role suai-InstanceRole \(IAM → Roles → suai-InstanceRole → Permissions\)$/, true],
  ['denied-identity-policy-explicit', /by an explicit deny in an identity-based policy/,
    /a policy attached to the role suai-InstanceRole explicitly denies s3:ListBucket on arn:aws:s3:::denied-identity-policy-explicit: remove that Deny statement/, true],
  ['denied-bucket-policy', /by an explicit deny in a resource-based policy/,
    /^the bucket policy of denied-bucket-policy \(S3 → Buckets → denied-bucket-policy → Permissions → Bucket policy\) denies s3:ListBucket .*: change its Deny statement there; the role suai-InstanceRole's own policy is not what blocks it$/, false],
  ['denied-vpc-endpoint-policy', /by an explicit deny in a VPC endpoint policy/, /^the policy of the VPC endpoint this subnet uses \(VPC → Endpoints → its Policy tab\) denies s3:ListBucket/, false],
  ['denied-scp', /by an explicit deny in a service control policy/, /^a service control policy of your AWS Organization denies s3:ListBucket .*no policy in this account can override it/, false],
  ['denied-permissions-boundary', /by no allow in a permissions boundary/, /^the role suai-InstanceRole has a permissions boundary that does not allow s3:ListBucket: add it to the boundary policy/, false],
  ['denied-session-policy', /by no allow in a session policy/, /^the session policy the credentials were issued with does not allow s3:ListBucket/, false],
  ['denied-bare', /^access denied to s3:ListBucket \(AccessDenied\)$/, /^AWS said only "Access Denied", as it does when the bucket belongs to another account: check that \[s3\] bucket names your own bucket, spelt exactly/, false]
]

for (const [bucket, message, hint, roleToEdit] of denials) {
  test(`s3 ${bucket}: permission, naming the policy that denied`, async t => {
    const result = await check(t, 's3', bucket)
    assertFailure(result, 'permission', message, hint)
    if (!roleToEdit) assert.doesNotMatch(result.hint ?? '', editsRole)
    if (bucket !== 'denied-bare') assert.equal(result.details.principal, `arn:aws:sts::123456789012:assumed-role/${ROLE_NAME}/i-0fixture1234567890`)
  })
}

const dynamoDenials: Array<[DynamoScenario, RegExp, boolean]> = [
  ['denied-identity-policy', /^allow dynamodb:DescribeTable on arn:aws:dynamodb:eu-central-1:123456789012:table\/denied-identity-policy in a policy attached to the role suai-InstanceRole/, true],
  ['denied-resource-policy', /^the resource-based policy of table denied-resource-policy \(DynamoDB → Tables → denied-resource-policy → Permissions\) denies dynamodb:DescribeTable/, false],
  ['denied-scp', /^a service control policy of your AWS Organization denies dynamodb:DescribeTable/, false],
  ['denied-permissions-boundary', /^the role suai-InstanceRole has a permissions boundary that does not allow dynamodb:DescribeTable/, false]
]

for (const [table, hint, roleToEdit] of dynamoDenials) {
  test(`dynamodb ${table}: permission, naming the policy that denied`, async t => {
    const result = await check(t, 'dynamodb', table)
    assertFailure(result, 'permission', /access denied to dynamodb:DescribeTable for role suai-InstanceRole/, hint)
    if (!roleToEdit) assert.doesNotMatch(result.hint ?? '', editsRole)
  })
}

test('s3: a role that may list but not read fails naming s3:GetObject on the object the user data needs', async t => {
  assertFailure(await check(t, 's3', 'get-object-denied'), 'permission', /access denied to s3:GetObject for role suai-InstanceRole/,
    /^allow s3:GetObject on arn:aws:s3:::get-object-denied\/config\.toml in a policy attached to the role suai-InstanceRole/)
})

test('s3: objects under a KMS key the role may not use fail naming kms:Decrypt', async t => {
  assertFailure(await check(t, 's3', 'kms-decrypt-denied'), 'permission', /access denied to kms:Decrypt for role suai-InstanceRole/,
    /^the objects are encrypted with a KMS key the role suai-InstanceRole may not use: allow kms:Decrypt on that key .* and in the key's policy/)
})

test('s3: a healthy bucket passes after reading one byte of config.toml, and says whose credentials it used', async t => {
  const result = await check(t, 's3', 'deployed')
  assert.equal(result.status, 'pass', JSON.stringify(result))
  assert.equal(result.details.read, 'config.toml')
  assert.equal(result.details.credentials, 'environment keys (AWS_ACCESS_KEY_ID)')
})

const rejected: Array<['s3' | 'dynamodb', string, string]> = [
  ['s3', 'invalid-access-key-id', 'InvalidAccessKeyId'],
  ['s3', 'signature-does-not-match', 'SignatureDoesNotMatch'],
  ['s3', 'expired-token', 'ExpiredToken'],
  ['dynamodb', 'unrecognized-client', 'UnrecognizedClientException'],
  ['dynamodb', 'invalid-signature', 'InvalidSignatureException'],
  ['dynamodb', 'expired-token', 'ExpiredTokenException']
]

for (const [backend, name, code] of rejected) {
  test(`${backend} ${name}: credentials rejected, not missing, naming their source`, async t => {
    assertFailure(await check(t, backend, name), 'credentials', new RegExp(`^AWS rejected the credentials of environment keys \\(AWS_ACCESS_KEY_ID\\) \\(${code}\\)$`),
      /keys in the environment \(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN\) override the instance role: unset them/)
  })
}

for (const [backend, name, code] of [['s3', 'request-time-too-skewed', 'RequestTimeTooSkewed'], ['dynamodb', 'signature-expired', 'InvalidSignatureException']] as const) {
  test(`${backend} ${name}: the clock, not the credentials`, async t => {
    assertFailure(await check(t, backend, name), 'clock', new RegExp(`clock is off by more than 15 minutes \\(${code}\\)`), /chronyd/)
  })
}

for (const bucket of ['permanent-redirect', 'authorization-header-malformed']) {
  test(`s3 ${bucket}: region, naming the bucket's`, async t => {
    assertFailure(await check(t, 's3', bucket), 'region', new RegExp(`another region \\(${OTHER_REGION}\\)`), new RegExp(`^set \\[aws\\] region = '${OTHER_REGION}' in config\\.toml`))
  })
}

for (const [backend, name] of [['s3', 'slow-down'], ['s3', 'internal-error'], ['dynamodb', 'throttling'], ['dynamodb', 'provisioned-throughput-exceeded'], ['dynamodb', 'internal-server-error']] as const) {
  test(`${backend} ${name}: a warning, the environment is not broken`, async t => {
    const result = await check(t, backend, name)
    assert.equal(result.status, 'warn', JSON.stringify(result))
    assert.match(result.message, /throttling or failing for now, which says nothing about your environment/)
  })
}

test('on an instance: the checks act as the instance role the metadata service names, and a rejected role credential is not told to unset keys', async t => {
  const env = await onInstance(t, { role: ROLE_NAME })
  const passed = await check(t, 'dynamodb', 'seed', env)
  assert.deepEqual([passed.status, passed.details.credentials], ['pass', `instance role ${ROLE_NAME}`], JSON.stringify(passed))
  const denied = await check(t, 's3', 'denied-identity-policy', env)
  assert.equal(denied.details.credentials, `instance role ${ROLE_NAME}`)
  const result = await check(t, 'dynamodb', 'unrecognized-client', env)
  assertFailure(result, 'credentials', new RegExp(`^AWS rejected the credentials of instance role ${ROLE_NAME} \\(UnrecognizedClientException\\)$`), /the instance role's temporary credentials were refused/)
  assert.equal(result.details.credentials, `instance role ${ROLE_NAME}`)
})

// The SDK's credential chain reads the process's environment, as on an instance; the app's own
// metadata lookup the environment it was given.
async function onInstance (t: TestContext, options: Parameters<typeof startImds>[0]) {
  const imds = await startImds(options)
  t.after(() => imds.stop())
  const saved = { ...process.env }
  Object.assign(process.env, imdsEnv(imds.endpoint))
  t.after(() => { process.env = saved })
  return imdsEnv(imds.endpoint)
}

test('in a container with hop limit 1 (the token PUT never answered): the hop-limit hint, within timeout_ms', async t => {
  const env = await onInstance(t, { role: ROLE_NAME, tokenUnanswered: true })
  const result = await check(t, 's3', 'deployed', env)
  assertFailure(result, 'credentials', /./, /never answered the token request .*HttpPutResponseHopLimit is 1: set it to 2/)
  assert.match(String(result.details.metadata), /PUT \/latest\/api\/token got no answer in time/)
})

test('metadata turned off on the instance: says so, not "attach an instance profile"', async t => {
  const env = await onInstance(t, { role: ROLE_NAME, disabled: true })
  assertFailure(await check(t, 'dynamodb', 'seed', env), 'credentials', /no AWS credentials/, /the instance metadata service is turned off on this instance/)
})

test('an instance without a role: attach an instance profile', async t => {
  const env = await onInstance(t, {})
  assertFailure(await check(t, 's3', 'deployed', env), 'credentials', /no AWS credentials/, /attach an IAM instance profile/)
})
