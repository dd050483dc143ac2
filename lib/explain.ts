import type { BackendDeps } from './backend.ts'
import type { Explainer, Stage } from './check.ts'
import { createDescriber, DESCRIBE_STATEMENT, DescribeDenied, type Describer } from './describe.ts'
import type { InstanceNetwork } from './imds.ts'
import type { Lookup } from './lookup.ts'
import {
  databaseTarget, evaluate, findReplicationGroup, findServerlessCache, replicationGroupTarget, serverlessCacheTarget, type Target
} from './pinpoint.ts'

// What a failed database or cache check asks the environment before it answers: where this
// instance sits in its VPC (the instance metadata service, no permission needed), then what
// guards the target (read-only Describe* calls), and lib/pinpoint.ts's verdict on the two.

// The most pinpointing adds to a check's answer, on top of [checks] timeout_ms.
export const PINPOINT_BUDGET_MS = 3000

export interface PinpointTarget {
  backend: 'database' | 'redis'
  host: string
  port: number
  tls?: boolean
  // The stages whose failure the network's configuration may explain: no connection at all, or
  // (for a cache that speaks TLS only) a connection that never answers.
  stages: Stage[]
}

export function pinpointer (deps: BackendDeps, target: PinpointTarget): Explainer & { close: () => Promise<void> } {
  let describer: Describer | undefined
  return {
    budgetMs: PINPOINT_BUDGET_MS,
    async explain (result, signal) {
      if (!target.stages.includes(result.stage)) return undefined
      const { network, note, disabled } = await deps.imds.network()
      if (disabled) return undefined
      if (!network) return { details: { instance: note } }
      describer ??= createDescriber(deps)
      try {
        const found = await describe(describer, target, network, deps.lookup, signal)
        if (!found) {
          const what = target.backend === 'database' ? 'RDS instance or Aurora cluster' : 'ElastiCache replication group or serverless cache'
          return { details: { instance: network, pinpoint: `no ${what} this role can see has the endpoint ${target.host}: is [${target.backend}] host copied from this account and region?` } }
        }
        // Past the connect stage the TCP connection was made: only the settings can be wrong.
        const verdict = evaluate({ ...found, backend: target.backend, port: target.port, tls: target.tls, instance: network, connected: result.stage !== 'connect' })
        const hint = verdict.blocked ? `${verdict.finding}: ${verdict.fix}` : `${result.hint ?? result.message} (pinpoint: ${verdict.finding})`
        return { hint, details: { instance: network, pinpoint: { target: found.target, ...verdict } } }
      } catch (err) {
        if (!(err instanceof DescribeDenied)) return { details: { instance: network, pinpoint: `the Describe* calls failed: ${(err as Error).message}` } }
        return {
          hint: `${result.hint ?? result.message}. To have suaicloudapp name the exact rule to change, allow its read-only calls (${err.action} was denied): add to the instance role the statement ${JSON.stringify(DESCRIBE_STATEMENT)} (IAM → Roles → the instance's role → Add permissions → Create inline policy → JSON)`,
          details: { instance: network, pinpoint: { denied: err.action, message: err.message } }
        }
      }
    },
    close: async () => { await describer?.close() }
  }
}

// The target behind the host and what guards it, or undefined when no resource has that endpoint.
async function describe (describer: Describer, { backend, host }: PinpointTarget, network: InstanceNetwork, lookup: Lookup, signal: AbortSignal) {
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
