import type { InstanceNetwork } from '../../lib/imds.ts'
import type { CacheCluster, CacheSubnetGroup, DBCluster, DBInstance, NetworkAcl, ReplicationGroup, RouteTable, SecurityGroup, ServerlessCache, Subnet, VpcEndpoint } from '../../lib/pinpoint.ts'
import { identity, network } from '../imds-fixture.ts'
import { ACCOUNT_ID } from './aws-identity.ts'

// The course's environment as EC2, RDS and ElastiCache describe it, in the SDK's shapes: one
// VPC, the instance's subnet and two private ones for the database and the cache, a security
// group each, the VPC's default network ACL, a MySQL instance and a Redis replication group.
// Healthy as it stands: tests change one piece (a rule gone, a DB stopped) to make a scenario,
// and the loopback fixture (aws-describe.ts) serves it as AWS's XML. A tag (a few hex digits)
// gives a scenario ids and endpoints of its own, so scenarios share one fixture in parallel.

const baseIds = {
  vpc: network.vpcId,
  otherVpc: 'vpc-0f9e8d7c6b5a40002',
  instanceSubnet: network.subnetId,
  dataSubnetA: 'subnet-0a1b2c3d4e5f60012',
  dataSubnetB: 'subnet-0a1b2c3d4e5f60013',
  appGroup: network.securityGroupIds[0],
  dbGroup: 'sg-0a1b2c3d4e5f60031',
  cacheGroup: 'sg-0a1b2c3d4e5f60041',
  defaultAcl: 'acl-0a1b2c3d4e5f60051',
  mainRouteTable: 'rtb-0a1b2c3d4e5f60061',
  publicRouteTable: 'rtb-0a1b2c3d4e5f60062',
  internetGateway: 'igw-0a1b2c3d4e5f60071',
  dataAcl: 'acl-0a1b2c3d4e5f60052',
  s3Endpoint: 'vpce-0a1b2c3d4e5f60081',
  dynamodbEndpoint: 'vpce-0a1b2c3d4e5f60082',
  natGateway: 'nat-0a1b2c3d4e5f60091'
}

// The AWS-managed prefix lists of S3's and DynamoDB's addresses in the region, which a gateway
// endpoint's route has for destination (ids in EC2's pl- format).
export const prefixLists = { s3: 'pl-6ea54007', dynamodb: 'pl-66a5400f' }

// A gateway endpoint's policy as the console creates it ("Full access").
// https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html
export const FULL_ACCESS = JSON.stringify({ Version: '2008-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }] })

export function labIds (tag = '') {
  // The tag goes before the last two digits, which tell the pieces apart; the length stays.
  return Object.fromEntries(Object.entries(baseIds).map(([key, id]) => [key, tag ? id.slice(0, -(tag.length + 2)) + tag + id.slice(-2) : id])) as typeof baseIds
}

// The names students copy into config.toml; with a tag, the DB and the caches are named after it.
export function labEndpoints (tag = '') {
  const suffix = tag ? `-${tag}` : ''
  return {
    database: `database-1${suffix}.c9akciq32lmn.eu-central-1.rds.amazonaws.com`,
    aurora: `aurora-1${suffix}.cluster-c9akciq32lmn.eu-central-1.rds.amazonaws.com`,
    redis: `r1${suffix}.x4yqbv.ng.0001.euc1.cache.amazonaws.com`,
    serverless: `s1${suffix}-x4yqbv.serverless.euc1.cache.amazonaws.com`
  }
}

export const ids = labIds()
export const endpoints = labEndpoints()

// The instance as the metadata fixture describes it (lib/imds.ts network()).
export const instanceNetwork: InstanceNetwork = {
  instanceId: identity.instanceId,
  availabilityZone: identity.availabilityZone,
  privateIp: identity.privateIp,
  ...network,
  accountId: ACCOUNT_ID
}

export interface Lab {
  securityGroups: SecurityGroup[]
  subnets: Subnet[]
  networkAcls: NetworkAcl[]
  routeTables: RouteTable[]
  vpcEndpoints: VpcEndpoint[]
  dbInstances: DBInstance[]
  dbClusters: DBCluster[]
  replicationGroups: ReplicationGroup[]
  cacheClusters: CacheCluster[]
  cacheSubnetGroups: CacheSubnetGroup[]
  serverlessCaches: ServerlessCache[]
}

const everything = { IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }

// A network ACL as the VPC creates it: everything allowed both ways (rule 100), then the "*" rule
// 32767 that denies what no rule allowed.
// https://docs.aws.amazon.com/vpc/latest/userguide/default-network-acl.html
export function openAcl (aclId: string, subnetIds: string[], vpcId = baseIds.vpc): NetworkAcl {
  return {
    NetworkAclId: aclId,
    VpcId: vpcId,
    Associations: subnetIds.map(SubnetId => ({ SubnetId })),
    Entries: [true, false].flatMap(Egress => [
      { RuleNumber: 100, Protocol: '-1', RuleAction: 'allow', Egress, CidrBlock: '0.0.0.0/0' },
      { RuleNumber: 32767, Protocol: '-1', RuleAction: 'deny', Egress, CidrBlock: '0.0.0.0/0' }
    ])
  }
}

export function lab (tag = ''): Lab {
  const ids = labIds(tag)
  const endpoints = labEndpoints(tag)
  const suffix = tag ? `-${tag}` : ''
  const fromApp = (port: number) => ({ IpProtocol: 'tcp', FromPort: port, ToPort: port, UserIdGroupPairs: [{ GroupId: ids.appGroup }] })
  const local = { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' }
  const endpointRoutes = (['s3', 'dynamodb'] as const).map(service => ({ DestinationPrefixListId: prefixLists[service], GatewayId: ids[`${service}Endpoint`], State: 'active' }))
  const subnetGroup = (name: string) => ({ DBSubnetGroupName: name, VpcId: ids.vpc, Subnets: [ids.dataSubnetA, ids.dataSubnetB].map(SubnetIdentifier => ({ SubnetIdentifier })) })
  return {
    securityGroups: [
      { GroupId: ids.appGroup, GroupName: 'suai-app', VpcId: ids.vpc, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, IpRanges: [{ CidrIp: '10.0.0.0/16' }] }], IpPermissionsEgress: [everything] },
      { GroupId: ids.dbGroup, GroupName: 'suai-db', VpcId: ids.vpc, IpPermissions: [fromApp(3306)], IpPermissionsEgress: [everything] },
      { GroupId: ids.cacheGroup, GroupName: 'suai-cache', VpcId: ids.vpc, IpPermissions: [fromApp(6379)], IpPermissionsEgress: [everything] }
    ],
    subnets: [
      { SubnetId: ids.instanceSubnet, VpcId: ids.vpc, CidrBlock: network.subnetCidr, AvailabilityZone: identity.availabilityZone },
      { SubnetId: ids.dataSubnetA, VpcId: ids.vpc, CidrBlock: '10.0.2.0/24', AvailabilityZone: 'eu-central-1a' },
      { SubnetId: ids.dataSubnetB, VpcId: ids.vpc, CidrBlock: '10.0.3.0/24', AvailabilityZone: 'eu-central-1b' }
    ],
    networkAcls: [openAcl(ids.defaultAcl, [ids.instanceSubnet, ids.dataSubnetA, ids.dataSubnetB], ids.vpc)],
    // The VPC's main table (the data subnets, associated with no other, are private: no route
    // out but the gateway endpoints') and the instance subnet's own, with the internet gateway.
    // The S3 and DynamoDB gateway endpoints are on both, so the instance (which has no public
    // address) reaches them.
    routeTables: [
      { RouteTableId: ids.mainRouteTable, VpcId: ids.vpc, Associations: [{ Main: true }], Routes: [local, ...endpointRoutes] },
      {
        RouteTableId: ids.publicRouteTable,
        VpcId: ids.vpc,
        Associations: [{ SubnetId: ids.instanceSubnet, Main: false }],
        Routes: [local, { DestinationCidrBlock: '0.0.0.0/0', GatewayId: ids.internetGateway, State: 'active' }, ...endpointRoutes]
      }
    ],
    vpcEndpoints: (['s3', 'dynamodb'] as const).map(service => ({
      VpcEndpointId: ids[`${service}Endpoint`],
      VpcEndpointType: 'Gateway',
      VpcId: ids.vpc,
      ServiceName: `com.amazonaws.eu-central-1.${service}`,
      State: 'available',
      PolicyDocument: FULL_ACCESS,
      RouteTableIds: [ids.mainRouteTable, ids.publicRouteTable],
      PrivateDnsEnabled: false
    })),
    dbInstances: [
      {
        DBInstanceIdentifier: `database-1${suffix}`,
        DBInstanceStatus: 'available',
        Endpoint: { Address: endpoints.database, Port: 3306 },
        DBSubnetGroup: subnetGroup(`suai-db${suffix}`),
        VpcSecurityGroups: [{ VpcSecurityGroupId: ids.dbGroup }],
        PubliclyAccessible: false
      },
      {
        DBInstanceIdentifier: `aurora-1${suffix}-instance-1`,
        DBInstanceStatus: 'available',
        Endpoint: { Address: `aurora-1${suffix}-instance-1.c9akciq32lmn.eu-central-1.rds.amazonaws.com`, Port: 3306 },
        DBSubnetGroup: subnetGroup(`suai-db${suffix}`),
        VpcSecurityGroups: [{ VpcSecurityGroupId: ids.dbGroup }],
        PubliclyAccessible: false,
        DBClusterIdentifier: `aurora-1${suffix}`
      }
    ],
    dbClusters: [{
      DBClusterIdentifier: `aurora-1${suffix}`,
      Status: 'available',
      Endpoint: endpoints.aurora,
      ReaderEndpoint: endpoints.aurora.replace('.cluster-', '.cluster-ro-'),
      Port: 3306,
      DBClusterMembers: [{ DBInstanceIdentifier: `aurora-1${suffix}-instance-1`, IsClusterWriter: true }]
    }],
    replicationGroups: [{
      ReplicationGroupId: `r1${suffix}`,
      Status: 'available',
      NodeGroups: [{
        PrimaryEndpoint: { Address: endpoints.redis, Port: 6379 },
        ReaderEndpoint: { Address: endpoints.redis.replace('.ng.', '-ro.'), Port: 6379 },
        NodeGroupMembers: [{ ReadEndpoint: { Address: `r1${suffix}-001.x4yqbv.0001.euc1.cache.amazonaws.com`, Port: 6379 } }]
      }],
      MemberClusters: [`r1${suffix}-001`, `r1${suffix}-002`],
      TransitEncryptionEnabled: false,
      AuthTokenEnabled: false,
      ClusterEnabled: false
    }],
    cacheClusters: [`r1${suffix}-001`, `r1${suffix}-002`].map(CacheClusterId => ({ CacheClusterId, CacheSubnetGroupName: `suai-cache${suffix}`, SecurityGroups: [{ SecurityGroupId: ids.cacheGroup }] })),
    cacheSubnetGroups: [{ CacheSubnetGroupName: `suai-cache${suffix}`, VpcId: ids.vpc, Subnets: [ids.dataSubnetA, ids.dataSubnetB].map(SubnetIdentifier => ({ SubnetIdentifier })) }],
    serverlessCaches: [{
      ServerlessCacheName: `s1${suffix}`,
      Status: 'available',
      Endpoint: { Address: endpoints.serverless, Port: 6379 },
      ReaderEndpoint: { Address: endpoints.serverless.replace('-x4yqbv', '-ro-x4yqbv'), Port: 6380 },
      SecurityGroupIds: [ids.cacheGroup],
      SubnetIds: [ids.dataSubnetA, ids.dataSubnetB]
    }]
  }
}
