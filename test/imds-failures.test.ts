import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fromInstanceMetadata } from '@smithy/credential-provider-imds'
import { createImds } from '../lib/imds.ts'
import { identity, imdsEnv, roleCredentials, startImds, type ImdsOptions } from './imds-fixture.ts'

// The instance metadata service's real failure modes, each read through the SDK's own IMDS
// credential provider (what the S3 and DynamoDB clients use on an instance) and through the
// app's lib/imds.ts (the identity and the region).

process.env.AWS_EC2_METADATA_DISABLED = 'true'
// The provider reads ec2_metadata_v1_disabled from the shared config: never this machine's.
process.env.AWS_CONFIG_FILE = '/nonexistent/suai-imds-test-config'
process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/suai-imds-test-credentials'

const ROLE = 'suai-InstanceRole'
const TIMEOUT_MS = 300

async function fixture (t: { after: (fn: () => Promise<void> | void) => void }, options: ImdsOptions) {
  const imds = await startImds(options)
  t.after(() => imds.stop())
  // The SDK's provider reads the endpoint from the process's environment, as on an instance.
  const saved = { ...process.env }
  Object.assign(process.env, imdsEnv(imds.endpoint))
  t.after(() => { process.env = saved })
  const sdkCredentials = () => fromInstanceMetadata({ timeout: TIMEOUT_MS, maxRetries: 0 })()
  const appLookup = () => createImds({ env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint }, requestTimeoutMs: TIMEOUT_MS }).lookup()
  return { imds, sdkCredentials, appLookup }
}

const statusOf = (err: unknown) => (err as { statusCode?: number }).statusCode

test('a role attached: the SDK gets its credentials with an IMDSv2 token', async t => {
  const { imds, sdkCredentials, appLookup } = await fixture(t, { role: ROLE })
  const credentials = await sdkCredentials()
  assert.equal(credentials.accessKeyId, roleCredentials.AccessKeyId)
  assert.equal(credentials.secretAccessKey, roleCredentials.SecretAccessKey)
  assert.equal(credentials.sessionToken, roleCredentials.Token)
  assert.ok(credentials.expiration && credentials.expiration.getTime() > Date.now())
  assert.deepEqual(imds.requests.map(r => [r.method, r.url, r.headers['x-aws-ec2-metadata-token'] === imds.token]), [
    ['PUT', '/latest/api/token', false],
    ['GET', '/latest/meta-data/iam/security-credentials/', true],
    ['GET', `/latest/meta-data/iam/security-credentials/${ROLE}`, true]
  ])
  assert.deepEqual((await appLookup()).instance, identity)
})

test('no role attached: 404 on iam/security-credentials/, while the identity still answers', async t => {
  const { sdkCredentials, appLookup } = await fixture(t, {})
  const err = await sdkCredentials().then(() => assert.fail('expected no credentials'), (err: unknown) => err)
  assert.equal(statusOf(err), 404)
  assert.deepEqual((await appLookup()).instance, identity)
})

test('IMDSv1 refused: a GET without a token is 401', async t => {
  const { imds } = await fixture(t, { role: ROLE })
  const res = await fetch(`${imds.endpoint}/latest/meta-data/iam/security-credentials/`)
  assert.equal(res.status, 401)
})

test('hop limit 1 from a container: the token PUT is never answered, the v1 fallback refused', async t => {
  const { imds, sdkCredentials, appLookup } = await fixture(t, { role: ROLE, tokenUnanswered: true })
  let started = performance.now()
  const err = await sdkCredentials().then(() => assert.fail('expected no credentials'), (err: unknown) => err)
  const sdkMs = performance.now() - started
  // The SDK waited out its timeout on the PUT, fell back to IMDSv1, and was refused.
  assert.equal(statusOf(err), 401)
  assert.ok(sdkMs >= TIMEOUT_MS - 50 && sdkMs < TIMEOUT_MS + 500, `took ${sdkMs} ms`)
  assert.deepEqual(imds.requests.map(r => [r.method, r.url, r.headers['x-aws-ec2-metadata-token']]), [
    ['PUT', '/latest/api/token', undefined],
    ['GET', '/latest/meta-data/iam/security-credentials/', undefined]
  ])

  started = performance.now()
  const { instance, note } = await appLookup()
  assert.equal(instance, null)
  assert.match(note, /PUT \/latest\/api\/token got no answer in time/)
  assert.ok(performance.now() - started < TIMEOUT_MS + 500)
})

test('hop limit 1 with IMDSv1 allowed: the SDK falls back to v1 and gets the role, the app does not', async t => {
  const { sdkCredentials, appLookup } = await fixture(t, { role: ROLE, tokenUnanswered: true, httpTokens: 'optional' })
  assert.equal((await sdkCredentials()).accessKeyId, roleCredentials.AccessKeyId)
  assert.match((await appLookup()).note, /got no answer in time/)
})

test('metadata disabled (HttpEndpoint=disabled): 403 to the PUT and to every GET', async t => {
  const { imds, sdkCredentials, appLookup } = await fixture(t, { disabled: true, role: ROLE })
  const err = await sdkCredentials().then(() => assert.fail('expected no credentials'), (err: unknown) => err)
  assert.equal(statusOf(err), 403)
  assert.deepEqual(imds.requests.map(r => [r.method, r.url]), [
    ['PUT', '/latest/api/token'],
    ['GET', '/latest/meta-data/iam/security-credentials/']
  ])
  const { instance, note } = await appLookup()
  assert.equal(instance, null)
  assert.match(note, /PUT \/latest\/api\/token answered 403/)
})
