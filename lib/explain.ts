import { endpointFor } from './aws.ts'
import type { BackendDeps } from './backend.ts'
import type { CheckResult, Explainer, Stage } from './check.ts'
import { createDescriber, DESCRIBE_STATEMENT, DescribeDenied, type Describer } from './describe.ts'
import type { PolicyRequest } from './endpoint-policy.ts'
import type { InstanceNetwork } from './imds.ts'
import type { Lookup } from './lookup.ts'
import {
  databaseTarget, evaluate, findReplicationGroup, findServerlessCache, replicationGroupTarget, serverlessCacheTarget, type Target, type Verdict
} from './pinpoint.ts'
import { evaluateServicePath } from './pinpoint-service.ts'

// What a failed check asks the environment before it answers: where this instance sits in its
// VPC (the instance metadata service, no permission needed), then what guards the database or
// cache, or the way to S3 or DynamoDB (read-only Describe* calls), and lib/pinpoint.ts's or
// lib/pinpoint-service.ts's verdict on the two.

// The most pinpointing adds to a check's answer, on top of [checks] timeout_ms.
export const PINPOINT_BUDGET_MS = 3000

// A database or a cache: a host in the VPC, behind security groups.
export interface ConnectionTarget {
  backend: 'database' | 'redis'
  host: string
  port: number
  tls?: boolean
  // The stages whose failure the network's configuration may explain: no connection at all, or
  // (for a cache that speaks TLS only) a connection that never answers.
  stages: Stage[]
}

// S3 or DynamoDB at AWS's regional API: explained when no connection was made, or when AWS said
// a VPC endpoint policy denied the request. `requests`: what the check asks, for that policy.
export interface ServiceTarget {
  backend: 's3' | 'dynamodb'
  requests: (region: string, accountId: string) => PolicyRequest[]
}

export type PinpointTarget = ConnectionTarget | ServiceTarget

const isService = (target: PinpointTarget): target is ServiceTarget => target.backend === 's3' || target.backend === 'dynamodb'

function explains (target: PinpointTarget, result: CheckResult): boolean {
  if (!isService(target)) return target.stages.includes(result.stage)
  return result.stage === 'connect' || (result.stage === 'permission' && result.message.includes('VPC endpoint policy'))
}

export function pinpointer (deps: BackendDeps, target: PinpointTarget): Explainer & { close: () => Promise<void> } {
  let describer: Describer | undefined
  return {
    budgetMs: PINPOINT_BUDGET_MS,
    async explain (result, signal) {
      if (!explains(target, result) || deps.imds.disabled()) return undefined
      // Off EC2 (the identity, cached since the first lookup, says so) the SDK is never loaded.
      const { instance, note, role } = await deps.imds.lookup()
      if (!instance) return { details: { instance: note } }
      describer ??= createDescriber(deps)
      // The SDK before the metadata service's requests: loading it blocks the event loop (for
      // seconds on a small instance, while another check's pinpointing loads it too), which
      // must not eat their timeouts, as in the audit.
      await describer.load()
      const { network, note: unknown } = await deps.imds.network()
      if (!network) return { details: { instance: unknown } }
      try {
        if (isService(target)) return await explainService(deps, describer, target, result, network, role, signal)
        const found = await describe(describer, target, network, deps.lookup, signal)
        if (!found) {
          const what = target.backend === 'database' ? 'RDS instance or Aurora cluster' : 'ElastiCache replication group or serverless cache'
          return { details: { instance: network, pinpoint: `no ${what} this role can see has the endpoint ${target.host}: is [${target.backend}] host copied from this account and region?` } }
        }
        // Past the connect stage the TCP connection was made: only the settings can be wrong.
        const verdict = evaluate({ ...found, backend: target.backend, port: target.port, tls: target.tls, instance: network, connected: result.stage !== 'connect' })
        return answer(result, network, verdict, { target: found.target })
      } catch (err) {
        if (!(err instanceof DescribeDenied)) {
          // Each call is bounded as a check's request is (lib/aws.ts), the whole by the budget.
          const failure = (err as Error).name === 'TimeoutError' ? `got no answer within ${deps.timeoutMs} ms` : `failed: ${(err as Error).message}`
          return { details: { instance: network, pinpoint: `the Describe* calls ${failure}` } }
        }
        return {
          hint: `${result.hint ?? result.message}. To have suaicloudapp name the exact rule to change, allow its read-only calls (${err.action} was denied): add to the instance role the statement ${JSON.stringify(DESCRIBE_STATEMENT)} (IAM → Roles → the instance's role → Add permissions → Create inline policy → JSON)`,
          details: { instance: network, pinpoint: { denied: err.action, message: err.message } }
        }
      }
    },
    close: async () => { await describer?.close() }
  }
}

// A verdict that blocks replaces the symptom's hint; one that does not follows it.
function answer (result: CheckResult, network: InstanceNetwork, verdict: Verdict, found: Record<string, unknown>) {
  const hint = verdict.blocked ? `${verdict.finding}: ${verdict.fix}` : `${result.hint ?? result.message} (pinpoint: ${verdict.finding})`
  return { hint, details: { instance: network, pinpoint: { ...found, ...verdict } } }
}

// The way from this instance to the service's regional API (or to AWS_ENDPOINT_URL_<SERVICE>,
// as the SDK reaches it): this VPC's route tables and endpoints, this instance's security groups
// and its subnet's network ACL.
async function explainService (deps: BackendDeps, describer: Describer, target: ServiceTarget, result: CheckResult, network: InstanceNetwork, role: string | undefined, signal: AbortSignal) {
  const region = typeof result.details.region === 'string' ? result.details.region : undefined
  if (!region) return undefined
  const custom = endpointFor(target.backend.toUpperCase(), deps.env)
  const api = custom ? new URL(custom) : new URL(`https://${target.backend}.${region}.amazonaws.com`)
  const [routeTables, vpcEndpoints, securityGroups, networkAcls, targetIp] = await Promise.all([
    describer.routeTables(network.vpcId, signal),
    describer.vpcEndpoints(network.vpcId, signal),
    describer.securityGroups(network.securityGroupIds, signal),
    describer.networkAcls([network.subnetId], signal),
    addressOf(deps.lookup, api.hostname)
  ])
  const account = network.accountId ?? '*'
  // The role by its ARN and its session's, and its account, as a policy's Principal names them.
  const principals = role && network.accountId
    ? [`arn:aws:iam::${account}:role/${role}`, `arn:aws:sts::${account}:assumed-role/${role}/${network.instanceId}`, `arn:aws:iam::${account}:root`, account]
    : []
  const verdict = evaluateServicePath({
    service: target.backend,
    region,
    port: Number(api.port) || (api.protocol === 'http:' ? 80 : 443),
    targetIp,
    instance: network,
    routeTables,
    vpcEndpoints,
    securityGroups,
    networkAcls,
    requests: target.requests(region, account),
    principals
  })
  return answer(result, network, verdict, {})
}

// The target behind the host and what guards it, or undefined when no resource has that endpoint.
async function describe (describer: Describer, { backend, host }: ConnectionTarget, network: InstanceNetwork, lookup: Lookup, signal: AbortSignal) {
  const [target, targetIp] = await Promise.all([
    backend === 'database' ? databaseOf(describer, host, signal) : cacheOf(describer, host, signal),
    addressOf(lookup, host)
  ])
  if (!target) return undefined
  const subnetIds = [...new Set([network.subnetId, ...target.subnetIds])]
  const [securityGroups, subnets, networkAcls] = await Promise.all([
    describer.securityGroups([...new Set([...network.securityGroupIds, ...target.securityGroupIds])], signal),
    describer.subnets(subnetIds, signal),
    describer.networkAcls(subnetIds, signal)
  ])
  // A serverless cache names no VPC of its own: its subnets tell.
  const placed = target.vpcId ? target : { ...target, vpcId: subnets.find(s => target.subnetIds.includes(s.SubnetId ?? ''))?.VpcId }
  return { target: placed, targetIp, securityGroups, subnets, networkAcls }
}

async function databaseOf (describer: Describer, host: string, signal: AbortSignal): Promise<Target | undefined> {
  const instances = await describer.dbInstances(signal)
  return databaseTarget(host, instances, []) ?? databaseTarget(host, instances, await describer.dbClusters(signal))
}

async function cacheOf (describer: Describer, host: string, signal: AbortSignal): Promise<Target | undefined> {
  const group = findReplicationGroup(host, await describer.replicationGroups(signal))
  if (group) {
    const member = group.MemberClusters?.[0] ? await describer.cacheCluster(group.MemberClusters[0], signal) : undefined
    const subnetGroup = member?.CacheSubnetGroupName ? await describer.cacheSubnetGroup(member.CacheSubnetGroupName, signal) : undefined
    return replicationGroupTarget(group, member, subnetGroup)
  }
  const serverless = findServerlessCache(host, await describer.serverlessCaches(signal))
  return serverless && serverlessCacheTarget(serverless, [])
}

// The address the host resolves to (IPv4), to place the target in one of its subnets; none if
// it does not resolve.
function addressOf (lookup: Lookup, host: string): Promise<string | undefined> {
  return new Promise(resolve => lookup(host, { family: 4 }, (err, address) => resolve(err || typeof address !== 'string' ? undefined : address)))
}
