import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { DescribeAction } from '../../lib/describe.ts'
import { answerDescribe, describeService, type DescribeWorld } from './aws-describe.ts'
import { answerDynamo, type DynamoTables, type KeySchema } from './aws-dynamodb.ts'
import { answerLoadBalancer, loadBalancerService, type LoadBalancerWorld } from './aws-elb.ts'
import type { Lab } from './aws-lab.ts'
import { answerS3, s3Object, type S3Buckets } from './aws-s3.ts'
import { LOOPBACK } from './ports.ts'

// One loopback HTTP server that answers as S3 (path-style REST) and DynamoDB (JSON 1.0) do, and
// as EC2, RDS and ElastiCache's Query APIs (by the signing scope's service: aws-describe.ts), so
// that the checks meet AWS's real failures without an AWS account. A request with x-amz-target
// is DynamoDB's, any other S3's. The bucket or table name picks the scenario (see s3Scenarios
// and dynamoScenarios), so tests share one server and run in parallel; other names are
// buckets and tables the test created, or do not exist.

export interface AwsFixture {
  endpoint: string
  region: string
  /** A healthy bucket holding these objects (also the objects of a get-object-denied bucket). */
  putBucket: (name: string, objects?: Record<string, string | Buffer>) => void
  /** A healthy on-demand table with this key schema. */
  putTable: (name: string, schema: KeySchema) => void
  /** What ELBv2 and Auto Scaling describe (target groups, their targets' health, groups), and the actions they refuse. */
  loadBalancing: LoadBalancerWorld
  /** An environment EC2, RDS and ElastiCache describe; `deny` refuses that EC2 call for its groups, subnets and VPC, or that RDS / ElastiCache call. */
  putLab: (lab: Lab, deny?: DescribeAction) => void
  stop: () => Promise<void>
}

export async function startAws ({ region = 'eu-central-1' }: { region?: string } = {}): Promise<AwsFixture> {
  const buckets: S3Buckets = new Map()
  const tables: DynamoTables = new Map()
  const loadBalancing: LoadBalancerWorld = { loadBalancers: [], targetGroups: [], autoScalingGroups: [], denied: new Set() }
  const world: DescribeWorld = { labs: [], denied: new Map() }
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', chunk => { body += chunk })
    req.on('end', () => {
      const balancing = loadBalancerService(req)
      const service = describeService(req)
      if (balancing) answerLoadBalancer(res, body, balancing, loadBalancing)
      else if (service) answerDescribe(res, body, service, world)
      else if (req.headers['x-amz-target']) answerDynamo(req, res, body, region, tables)
      else answerS3(req, res, region, buckets)
    })
  })
  server.listen(0, LOOPBACK)
  await once(server, 'listening')
  return {
    endpoint: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`,
    region,
    loadBalancing,
    putBucket (name, objects = {}) {
      buckets.set(name, new Map(Object.entries(objects).map(([key, body]) => [key, s3Object(body)])))
    },
    putTable (name, schema) {
      tables.set(name, { schema, created: new Date(), items: new Map() })
    },
    putLab (lab, deny) {
      world.labs.push(lab)
      if (!deny) return
      if (deny.startsWith('ec2:')) for (const id of [...lab.securityGroups.map(g => g.GroupId), ...lab.subnets.flatMap(s => [s.SubnetId, s.VpcId])]) world.denied.set(id ?? '', deny)
      else world.denied.set(deny, deny)
    },
    async stop () {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    }
  }
}
