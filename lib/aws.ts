import { AsyncLocalStorage } from 'node:async_hooks'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { classifyAws, credentialSource, describeSource, type Acting } from './aws-errors.ts'
import type { BackendDeps } from './backend.ts'
import { CheckFailure, type CheckContext } from './check.ts'
import { staged, type Lookup } from './lookup.ts'

// What the S3 and DynamoDB checks share: client options that bound every request, and the
// reading of the SDK's errors. Credentials come from the environment the app was given, else
// from the SDK's default chain: on EC2 that is the instance profile, fetched from the instance
// metadata service.

// `service`: the SDK's name for it in AWS_ENDPOINT_URL_<SERVICE> (S3, DYNAMODB, EC2…). `endpoint`:
// a local S3- or DynamoDB-compatible server ([s3] endpoint), which wins over the environment.
export function clientOptions (service: string, deps: BackendDeps, endpoint = endpointFor(service, deps.env)) {
  const { awsRegion, env, timeoutMs, lookup } = deps
  return {
    // [aws] region, else AWS_REGION, else the region of this EC2 instance.
    region: awsRegion ?? env.AWS_REGION ?? instanceRegion(deps),
    ...credentialsFrom(env),
    ...(endpoint ? { endpoint } : {}),
    // The SDK has no timeout of its own and retries three times by default; a check has one budget.
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: timeoutMs,
      requestTimeout: timeoutMs,
      throwOnRequestTimeout: true,
      // Host names resolved off the thread pool (see lib/lookup.ts), and the check told how far
      // each new connection got. The SDK's own agents keep connections alive, 50 at most: so do these.
      httpAgent: staging(new HttpAgent({ keepAlive: true, maxSockets: 50, lookup }), lookup),
      httpsAgent: staging(new HttpsAgent({ keepAlive: true, maxSockets: 50, lookup }), lookup)
    }
  }
}

// AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, as the SDK reads them, but from the
// environment the app was given (tests give their own).
// https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
export function endpointFor (service: string, env: NodeJS.ProcessEnv): string | undefined {
  return env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined
}

// The check whose request is running, for the connections that request opens.
const checkOfRequest = new AsyncLocalStorage<CheckContext>()

// A new connection tells the check that opened it where it is: looking the host up (stage dns),
// connecting (connect), the TLS handshake (tls), then the request. A private subnet without a
// route to the API drops the packets without a word: the check then ends in stage connect with
// the route-table hint, not as a request AWS never answered. A kept-alive connection is already
// past all that; the fleet's heartbeats run outside any check.
function staging<Agent extends HttpAgent> (agent: Agent, lookup: Lookup): Agent {
  const open = agent.createConnection.bind(agent)
  agent.createConnection = (options, callback) => {
    const ctx = checkOfRequest.getStore()
    if (!ctx) return open(options, callback)
    // An IP address is never looked up: the connect starts at once.
    ctx.stage('connect')
    const socket = open({ ...options, lookup: staged(lookup, ctx.stage) }, callback)
    const secure = agent instanceof HttpsAgent
    socket?.once('connect', () => ctx.stage(secure ? 'tls' : 'request'))
    if (secure) socket?.once('secureConnect', () => ctx.stage('request'))
    return socket
  }
  return agent
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

interface SdkClient {
  config: {
    region: () => Promise<string>
    credentials: () => Promise<object>
  }
  destroy: () => void
}

// An SDK client made on the first check, so start-up never loads the SDK. `ready` resolves the
// region (config, environment or instance) and the credentials before the first request, and
// records both in the check's details, where the hints find them too: a student sees whose
// credentials the checks act with, and a missing region or credentials is told apart from a
// request AWS refused. `send` runs one SDK call with the check's abort signal and names the IAM
// action it needs when it fails.
export function lazyClient<Sdk, Client extends SdkClient> (deps: BackendDeps, make: () => Promise<{ sdk: Sdk, client: Client }>) {
  let made: Promise<{ sdk: Sdk, client: Client }> | undefined
  let acting: Acting = { source: 'instance', as: describeSource('instance', deps.env) }
  return {
    async ready (ctx: CheckContext) {
      made ??= make()
      const ready = await made
      try {
        ctx.detail('region', await ready.client.config.region())
      } catch (err) {
        throw classifyAws(err, 'region', acting) ?? err
      }
      ctx.stage('credentials')
      // Without keys in the environment the role's credentials come from the metadata service;
      // what it answered the app's own lookup says why they did not (a token PUT lost on a
      // container's extra hop, the service turned off). Asked alongside, so that a check that
      // runs out of time while the SDK waits still knows.
      // It also names the instance profile's role, for the details.
      let resolving = true
      const metadataLookup = credentialSource(deps.env, {}) === 'instance' ? deps.imds.lookup() : undefined
      const metadata = metadataLookup?.then(({ instance, note }) => { if (resolving && !instance) ctx.detail('metadata', note) })
      try {
        const source = credentialSource(deps.env, await ready.client.config.credentials())
        const role = source === 'instance' ? (await metadataLookup)?.role : undefined
        acting = { source, as: describeSource(source, deps.env, role) }
        ctx.detail('credentials', acting.as)
      } catch (err) {
        await metadata
        throw classifyAws(err, 'credentials', acting) ?? new CheckFailure('credentials', 'no AWS credentials: the SDK found none it could use', 'credentials')
      } finally {
        resolving = false
      }
      ctx.stage('request')
      return ready
    },
    // The client for work beside the checks (the fleet's heartbeats), made on first use too.
    client: () => (made ??= make()),
    async send<T> (ctx: CheckContext, action: string, call: (options: { abortSignal: AbortSignal }) => Promise<T>): Promise<T> {
      try {
        return await checkOfRequest.run(ctx, () => call({ abortSignal: ctx.signal }))
      } catch (err) {
        const failure = classifyAws(err, action, acting)
        // The principal of a denial names the role: who the checks act as, for the details too.
        const { principal, role } = failure?.hintContext ?? {}
        if (typeof principal === 'string') ctx.detail('principal', principal)
        if (typeof role === 'string' && acting.source === 'instance') ctx.detail('credentials', describeSource('instance', deps.env, role))
        throw failure ?? err
      }
    },
    async close () {
      (await made?.catch(() => undefined))?.client.destroy()
    }
  }
}
