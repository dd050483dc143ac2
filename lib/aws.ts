import type { BackendDeps } from './backend.ts'
import { CheckFailure, type CheckContext } from './check.ts'

// What the S3 and DynamoDB checks share: client options that bound every request, and the
// reading of the SDK's errors. Credentials come from the environment the app was given, else
// from the SDK's default chain: on EC2 that is the instance profile, fetched from the instance
// metadata service.

export function clientOptions (endpoint: string | undefined, deps: BackendDeps) {
  const { awsRegion, env, timeoutMs, lookup } = deps
  return {
    // [aws] region, else AWS_REGION, else the region of this EC2 instance.
    region: awsRegion ?? env.AWS_REGION ?? instanceRegion(deps),
    ...credentialsFrom(env),
    // A local S3- or DynamoDB-compatible server; AWS_ENDPOINT_URL_S3 / _DYNAMODB work too.
    ...(endpoint ? { endpoint } : {}),
    // The SDK has no timeout of its own and retries three times by default; a check has one budget.
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: timeoutMs,
      requestTimeout: timeoutMs,
      throwOnRequestTimeout: true,
      // Host names resolved off the thread pool: see lib/lookup.ts.
      httpAgent: { lookup },
      httpsAgent: { lookup }
    }
  }
}

// The region from the instance identity document, said once in the log. Without one it throws
// the SDK's own "Region is missing", which classifyAws turns into the [aws] region hint.
function instanceRegion ({ imds, log }: BackendDeps) {
  let told = false
  return async () => {
    const { instance } = await imds.lookup()
    if (!instance?.region) throw new Error('Region is missing')
    if (!told) log.info({ region: instance.region, instanceId: instance.instanceId }, 'no [aws] region in config.toml: using this instance\'s region from its identity document')
    told = true
    return instance.region
  }
}

// Keys in the environment the app was given; without them, the SDK's default chain (on EC2:
// the instance profile).
function credentialsFrom (env: NodeJS.ProcessEnv) {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env
  return accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, sessionToken } } : {}
}

export interface AwsError {
  name?: string
  message?: string
  Code?: string
  $metadata?: { httpStatusCode?: number }
  $response?: { headers?: Record<string, string> }
}

// Errors that mean the same thing for every AWS service. `action` names the IAM action the
// request needed, for the permission hint.
export function classifyAws (err: unknown, action: string): CheckFailure | undefined {
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
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredToken', 'ExpiredTokenException', 'InvalidClientTokenId'].includes(name)) {
    return new CheckFailure('credentials', `AWS rejected the credentials (${name})`, 'credentials')
  }
  if (name === 'AccessDenied' || name === 'AccessDeniedException' || name === 'Forbidden' || status === 403) {
    return new CheckFailure('permission', `access denied to ${action} (${name || status})`, 'permission', { action })
  }
  if (name === 'TimeoutError' || name === 'RequestTimeout') {
    return new CheckFailure('request', `the AWS API did not answer within the timeout (${name})`, 'connect_timeout')
  }
  return undefined
}

interface SdkClient {
  config: { region: () => Promise<string> }
  destroy: () => void
}

// An SDK client made on the first check, so start-up never loads the SDK. `ready` also records
// the region the client resolved (config, environment or instance) in the check's details,
// where the hints find it too.
export function lazyClient<Sdk, Client extends SdkClient> (make: () => Promise<{ sdk: Sdk, client: Client }>) {
  let made: Promise<{ sdk: Sdk, client: Client }> | undefined
  return {
    async ready (ctx: CheckContext) {
      made ??= make()
      const ready = await made
      try {
        ctx.detail('region', await ready.client.config.region())
      } catch (err) {
        throw classifyAws(err, 'region') ?? err
      }
      ctx.stage('request')
      return ready
    },
    // The client for work beside the checks (the fleet's heartbeats), made on first use too.
    client: () => (made ??= make()),
    async close () {
      (await made?.catch(() => undefined))?.client.destroy()
    }
  }
}

// Runs one SDK call with the check's abort signal and the IAM action it needs named on failure.
export async function send<T> (ctx: CheckContext, action: string, call: (options: { abortSignal: AbortSignal }) => Promise<T>): Promise<T> {
  try {
    return await call({ abortSignal: ctx.signal })
  } catch (err) {
    throw classifyAws(err, action) ?? err
  }
}
