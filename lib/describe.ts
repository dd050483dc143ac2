import { clientOptions } from './aws.ts'
import type { BackendDeps } from './backend.ts'
import type {
  CacheCluster, CacheSubnetGroup, DBCluster, DBInstance, NetworkAcl, ReplicationGroup, RouteTable, SecurityGroup, ServerlessCache, Subnet, VpcEndpoint
} from './pinpoint.ts'

// The read-only Describe* calls that tell what guards a database or a cache, or the way to S3
// and DynamoDB: EC2 (security groups, subnets, network ACLs, route tables, VPC endpoints), RDS
// (instances, Aurora clusters) and ElastiCache (replication groups, their member clusters and
// subnet groups, serverless caches). Answers keep the SDK's
// shapes (lib/pinpoint.ts reads them). The SDK clients are loaded and made on the first call,
// so a server whose checks pass never loads them. AWS_ENDPOINT_URL_EC2 / _RDS / _ELASTICACHE
// (or AWS_ENDPOINT_URL) in the app's environment point them elsewhere (lib/aws.ts).

// The IAM actions these calls need. None takes a resource-level ARN: the statement is on "*".
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
export const DESCRIBE_ACTIONS = [
  'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeNetworkAcls', 'ec2:DescribeRouteTables', 'ec2:DescribeVpcEndpoints',
  'rds:DescribeDBInstances', 'rds:DescribeDBClusters',
  'elasticache:DescribeReplicationGroups', 'elasticache:DescribeCacheClusters', 'elasticache:DescribeCacheSubnetGroups', 'elasticache:DescribeServerlessCaches'
] as const

export type DescribeAction = typeof DESCRIBE_ACTIONS[number]

// The policy statement that allows them all, for a hint and for the README.
export const DESCRIBE_STATEMENT = { Effect: 'Allow', Action: [...DESCRIBE_ACTIONS], Resource: '*' }

// A call AWS refused for want of permission: EC2 says UnauthorizedOperation, RDS and
// ElastiCache AccessDenied.
export class DescribeDenied extends Error {
  constructor (readonly action: DescribeAction, message: string) {
    super(message)
  }
}

const DENIED = new Set(['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException'])

export function createDescriber (deps: BackendDeps) {
  let clients: Promise<{ ec2: import('@aws-sdk/client-ec2').EC2Client, rds: import('@aws-sdk/client-rds').RDSClient, elasticache: import('@aws-sdk/client-elasticache').ElastiCacheClient, sdk: typeof import('./describe-sdk.ts') }> | undefined
  const made = () => (clients ??= import('./describe-sdk.ts').then(sdk => ({
    sdk,
    ec2: new sdk.EC2Client(clientOptions('EC2', deps)),
    rds: new sdk.RDSClient(clientOptions('RDS', deps)),
    elasticache: new sdk.ElastiCacheClient(clientOptions('ELASTICACHE', deps))
  })))

  async function call<T> (action: DescribeAction, send: () => Promise<T>): Promise<T> {
    try {
      return await send()
    } catch (err) {
      const { name, message } = err as { name?: string, message?: string }
      if (name && DENIED.has(name)) throw new DescribeDenied(action, message ?? name)
      throw err
    }
  }

  return {
    async securityGroups (GroupIds: string[], abortSignal: AbortSignal): Promise<SecurityGroup[]> {
      const { ec2, sdk } = await made()
      return (await call('ec2:DescribeSecurityGroups', () => ec2.send(new sdk.DescribeSecurityGroupsCommand({ GroupIds }), { abortSignal }))).SecurityGroups ?? []
    },
    async subnets (SubnetIds: string[], abortSignal: AbortSignal): Promise<Subnet[]> {
      const { ec2, sdk } = await made()
      return (await call('ec2:DescribeSubnets', () => ec2.send(new sdk.DescribeSubnetsCommand({ SubnetIds }), { abortSignal }))).Subnets ?? []
    },
    // The ACLs associated with any of these subnets.
    async networkAcls (subnetIds: string[], abortSignal: AbortSignal): Promise<NetworkAcl[]> {
      const { ec2, sdk } = await made()
      const Filters = [{ Name: 'association.subnet-id', Values: subnetIds }]
      return (await call('ec2:DescribeNetworkAcls', () => ec2.send(new sdk.DescribeNetworkAclsCommand({ Filters }), { abortSignal }))).NetworkAcls ?? []
    },
    // Every route table of a VPC: a subnet uses the one associated with it, else the main one.
    async routeTables (vpcId: string, abortSignal: AbortSignal): Promise<RouteTable[]> {
      const { ec2, sdk } = await made()
      const Filters = [{ Name: 'vpc-id', Values: [vpcId] }]
      return (await call('ec2:DescribeRouteTables', () => ec2.send(new sdk.DescribeRouteTablesCommand({ Filters }), { abortSignal }))).RouteTables ?? []
    },
    // Every endpoint of a VPC: gateway endpoints name the route tables that use them.
    async vpcEndpoints (vpcId: string, abortSignal: AbortSignal): Promise<VpcEndpoint[]> {
      const { ec2, sdk } = await made()
      const Filters = [{ Name: 'vpc-id', Values: [vpcId] }]
      return (await call('ec2:DescribeVpcEndpoints', () => ec2.send(new sdk.DescribeVpcEndpointsCommand({ Filters }), { abortSignal }))).VpcEndpoints ?? []
    },
    async dbInstances (abortSignal: AbortSignal): Promise<DBInstance[]> {
      const { rds, sdk } = await made()
      return (await call('rds:DescribeDBInstances', () => rds.send(new sdk.DescribeDBInstancesCommand({}), { abortSignal }))).DBInstances ?? []
    },
    async dbClusters (abortSignal: AbortSignal): Promise<DBCluster[]> {
      const { rds, sdk } = await made()
      return (await call('rds:DescribeDBClusters', () => rds.send(new sdk.DescribeDBClustersCommand({}), { abortSignal }))).DBClusters ?? []
    },
    async replicationGroups (abortSignal: AbortSignal): Promise<ReplicationGroup[]> {
      const { elasticache, sdk } = await made()
      return (await call('elasticache:DescribeReplicationGroups', () => elasticache.send(new sdk.DescribeReplicationGroupsCommand({}), { abortSignal }))).ReplicationGroups ?? []
    },
    async cacheCluster (CacheClusterId: string, abortSignal: AbortSignal): Promise<CacheCluster | undefined> {
      const { elasticache, sdk } = await made()
      return (await call('elasticache:DescribeCacheClusters', () => elasticache.send(new sdk.DescribeCacheClustersCommand({ CacheClusterId }), { abortSignal }))).CacheClusters?.[0]
    },
    async cacheSubnetGroup (CacheSubnetGroupName: string, abortSignal: AbortSignal): Promise<CacheSubnetGroup | undefined> {
      const { elasticache, sdk } = await made()
      return (await call('elasticache:DescribeCacheSubnetGroups', () => elasticache.send(new sdk.DescribeCacheSubnetGroupsCommand({ CacheSubnetGroupName }), { abortSignal }))).CacheSubnetGroups?.[0]
    },
    async serverlessCaches (abortSignal: AbortSignal): Promise<ServerlessCache[]> {
      const { elasticache, sdk } = await made()
      return (await call('elasticache:DescribeServerlessCaches', () => elasticache.send(new sdk.DescribeServerlessCachesCommand({}), { abortSignal }))).ServerlessCaches ?? []
    },
    // The SDK loaded and the clients made, ahead of the calls: loading blocks the event loop.
    async load () { await made() },
    async close () {
      const made = await clients?.catch(() => undefined)
      for (const client of made ? [made.ec2, made.rds, made.elasticache] : []) client.destroy()
    }
  }
}

export type Describer = ReturnType<typeof createDescriber>
