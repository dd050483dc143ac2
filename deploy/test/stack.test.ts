import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions'
import { appPort, autoScalingGroupOutput, configOutputs, loadBalancerUrlOutput } from '../contract.ts'
import { buildApp, userDataFile, userDataScript } from '../stack.ts'
import { synthTemplate, templateFile, templateText } from '../synth.ts'

// One synth of the stack as shipped (with the real deploy/user-data.sh) for every test below.
const outdir = mkdtempSync(join(tmpdir(), 'suaicloudapp-cdk-'))
after(() => rmSync(outdir, { recursive: true, force: true }))
const { stack } = buildApp(outdir)
const template = Template.fromStack(stack)
const resources = template.toJSON().Resources as Record<string, { Type: string, Properties: any, Condition?: string }>

type Ref = { Ref: string } | { 'Fn::GetAtt': [string, string] }
const ref = (id: string): Ref => ({ Ref: id })
const groupId = (id: string): Ref => ({ 'Fn::GetAtt': [id, 'GroupId'] })
const only = (type: string): [string, { Properties: any, Condition?: string }] => {
  const found = Object.entries(template.findResources(type))
  assert.equal(found.length, 1, `exactly one ${type}`)
  return found[0] as [string, { Properties: any }]
}
const idOf = (type: string, match: (properties: any) => boolean): string => {
  const found = Object.entries(resources).filter(([, r]) => r.Type === type && match(r.Properties ?? {}))
  assert.equal(found.length, 1, `exactly one ${type} that matches`)
  return found[0][0]
}
const subnetIds = (isPublic: boolean): string[] => Object.entries(resources)
  .filter(([, r]) => r.Type === 'AWS::EC2::Subnet' && r.Properties.MapPublicIpOnLaunch === isPublic)
  .map(([id]) => id)
  .sort()
const sortedRefs = (refs: Ref[]): Ref[] => [...refs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))

const [bucketId] = only('AWS::S3::Bucket')
const [tableId] = only('AWS::DynamoDB::Table')
const [albId, alb] = only('AWS::ElasticLoadBalancingV2::LoadBalancer')
const albSg = alb.Properties.SecurityGroups[0]['Fn::GetAtt'][0] as string
const appSg = idOf('AWS::EC2::SecurityGroup', p => p.GroupDescription.startsWith('suaicloudapp instances'))
const dbSg = idOf('AWS::EC2::SecurityGroup', p => p.GroupDescription.startsWith('RDS MySQL'))
const redisSg = idOf('AWS::EC2::SecurityGroup', p => p.GroupDescription.startsWith('ElastiCache Redis'))
const privateSubnets = subnetIds(false).map(ref)
const publicSubnets = subnetIds(true).map(ref)

describe('template', () => {
  test('deploys without bootstrap: no assets, no Lambda, no custom resource, no BootstrapVersion', () => {
    const json = template.toJSON()
    assert.equal(json.Parameters.BootstrapVersion, undefined)
    assert.equal(json.Rules, undefined)
    for (const r of Object.values(resources)) {
      assert.ok(!r.Type.startsWith('Custom::') && r.Type !== 'AWS::CloudFormation::CustomResource', r.Type)
      assert.ok(!r.Type.startsWith('AWS::Lambda::'), r.Type)
    }
    assert.doesNotMatch(JSON.stringify(json), /cdk-hnb659fds|AssetParameters|aws:asset/)
  })

  test('the CloudFormation validation at synth finds nothing unacknowledged', () => {
    Annotations.fromStack(stack).hasNoError('*', Match.anyValue())
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue())
  })

  test('the committed template is a fresh synth (else: npm --prefix deploy run synth)', () => {
    const committed = JSON.parse(readFileSync(templateFile, 'utf8'))
    assert.deepEqual(committed, synthTemplate(), `${templateFile} is stale: run npm --prefix deploy run synth and commit it`)
    assert.equal(readFileSync(templateFile, 'utf8'), templateText(committed))
  })

  test('small enough for `aws cloudformation deploy` without an S3 bucket (51,200 bytes)', () => {
    assert.ok(readFileSync(templateFile).length < 51200)
  })
})

describe('network', () => {
  test('a VPC over two AZs: a public and a private subnet in each, no NAT gateway', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1)
    template.resourceCountIs('AWS::EC2::NatGateway', 0)
    assert.equal(publicSubnets.length, 2)
    assert.equal(privateSubnets.length, 2)
    const azs = (ids: Ref[]) => ids.map(id => JSON.stringify(resources[(id as { Ref: string }).Ref].Properties.AvailabilityZone)).sort()
    for (const ids of [publicSubnets, privateSubnets]) {
      assert.deepEqual(azs(ids), [0, 1].map(i => JSON.stringify({ 'Fn::Select': [i, { 'Fn::GetAZs': '' }] })))
    }
  })

  test('S3 and DynamoDB gateway endpoints on the private route tables', () => {
    const routeTables = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::EC2::SubnetRouteTableAssociation' && privateSubnets.some(s => JSON.stringify(s) === JSON.stringify(r.Properties.SubnetId)))
      .map(([, r]) => r.Properties.RouteTableId)
    for (const service of ['.s3', '.dynamodb']) {
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, service]] },
        RouteTableIds: Match.arrayEquals(sortedRefs(routeTables))
      })
    }
  })

  test('security groups chain: internet → ALB:80 → app:8080 → DB:3306 and Redis:6379', () => {
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 80, ToPort: 80 })]
    })
    const rule = (group: string, from: string, port: number) => template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: groupId(group), SourceSecurityGroupId: groupId(from), IpProtocol: 'tcp', FromPort: port, ToPort: port
    })
    rule(appSg, albSg, appPort)
    rule(dbSg, appSg, 3306)
    rule(redisSg, appSg, 6379)
    // Nothing else reaches the app, the database or Redis.
    const ingress = Object.values(resources).filter(r => r.Type === 'AWS::EC2::SecurityGroupIngress')
    for (const group of [appSg, dbSg, redisSg]) {
      const rules = ingress.filter(r => r.Properties.GroupId['Fn::GetAtt'][0] === group)
      assert.equal(rules.length, 1, `${group} has one ingress rule`)
      assert.equal(resources[group].Properties.SecurityGroupIngress, undefined)
    }
  })

  test('no ingress from anywhere except the load balancer on port 80', () => {
    const everywhere = (rule: any) => rule.CidrIp === '0.0.0.0/0' || rule.CidrIpv6 === '::/0'
    const rules = Object.values(resources).flatMap(r => r.Type === 'AWS::EC2::SecurityGroupIngress'
      ? [r.Properties]
      : r.Type === 'AWS::EC2::SecurityGroup' ? (r.Properties.SecurityGroupIngress ?? []) : [])
    const open = rules.filter(everywhere)
    assert.deepEqual(open.map(rule => [rule.FromPort, rule.ToPort]), [[80, 80]])
    for (const port of [3306, 6379, appPort]) {
      assert.ok(!open.some(rule => rule.IpProtocol === '-1' || (rule.FromPort <= port && port <= rule.ToPort)), `nothing opens ${port} to the internet`)
    }
  })
})

describe('data', () => {
  test('the bucket is private and refuses plain HTTP', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true }
    })
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(bucketId),
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } }
        })])
      }
    })
  })

  test('RDS MySQL: free-tier class, 20 GB, unencrypted, no backups, private, not public', () => {
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'mysql',
      DBInstanceClass: Match.stringLikeRegexp('^db\\.(t3|t4g)\\.micro$'),
      AllocatedStorage: '20',
      StorageEncrypted: false,
      BackupRetentionPeriod: 0,
      MultiAZ: false,
      PubliclyAccessible: false,
      Port: '3306',
      MasterUsername: ref('DbUser'),
      MasterUserPassword: ref('DbPassword'),
      DBName: ref('DbName'),
      VPCSecurityGroups: [groupId(dbSg)]
    })
    template.hasResourceProperties('AWS::RDS::DBSubnetGroup', { SubnetIds: Match.arrayEquals(privateSubnets) })
    assert.equal(template.toJSON().Parameters.DbPassword.NoEcho, true)
  })

  test('ElastiCache Redis with cluster mode enabled, in the private subnets of both AZs', () => {
    const [subnetGroupId] = only('AWS::ElastiCache::SubnetGroup')
    template.hasResourceProperties('AWS::ElastiCache::SubnetGroup', { SubnetIds: Match.arrayEquals(privateSubnets) })
    const [, redis] = only('AWS::ElastiCache::ReplicationGroup')
    const p = redis.Properties
    assert.equal(p.Engine, 'redis')
    assert.match(p.CacheNodeType, /^cache\.(t3|t4g)\.micro$/)
    assert.ok(p.NumNodeGroups >= 1, 'node groups (shards): cluster mode')
    assert.match(p.CacheParameterGroupName, /\.cluster\.on$/)
    assert.equal(p.AutomaticFailoverEnabled, true, 'cluster mode enabled requires automatic failover')
    assert.deepEqual(p.CacheSubnetGroupName, ref(subnetGroupId))
    assert.deepEqual(p.SecurityGroupIds, [groupId(redisSg)])
  })

  test('DynamoDB: one HASH key of type S named by a parameter, no sort key, on demand', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: ref('TableName'),
      KeySchema: [{ AttributeName: ref('PartitionKey'), KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: ref('PartitionKey'), AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST'
    })
  })
})

describe('compute', () => {
  test('IAM: a role only when no instance profile is given, limited to the bucket and the table, read-only Describe* for pinpointing, and the audit\'s read-only calls', () => {
    const [roleId, role] = only('AWS::IAM::Role')
    const [profileId, profile] = only('AWS::IAM::InstanceProfile')
    assert.equal(role.Condition, 'CreateInstanceRole')
    assert.equal(profile.Condition, 'CreateInstanceRole')
    assert.deepEqual(profile.Properties.Roles, [ref(roleId)])
    assert.deepEqual(template.toJSON().Conditions.CreateInstanceRole, { 'Fn::Equals': [ref('InstanceProfileName'), ''] })
    template.resourceCountIs('AWS::IAM::Policy', 0)
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0)
    assert.equal(role.Properties.ManagedPolicyArns, undefined)

    const bucketArn = { 'Fn::GetAtt': [bucketId, 'Arn'] }
    const all = role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement)
    const pinpoint = all.find((s: any) => s.Sid === 'Pinpoint')
    assert.deepEqual([pinpoint.Action].flat().sort(), [
      'ec2:DescribeNetworkAcls', 'ec2:DescribeRouteTables', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcEndpoints',
      'elasticache:DescribeCacheClusters', 'elasticache:DescribeCacheSubnetGroups', 'elasticache:DescribeReplicationGroups', 'elasticache:DescribeServerlessCaches',
      'rds:DescribeDBClusters', 'rds:DescribeDBInstances'
    ])
    // Describe* takes no resource-level ARN: "*" is the only resource they can be granted on.
    assert.equal(pinpoint.Resource, '*')
    assert.ok([pinpoint.Action].flat().every((a: string) => /^(ec2|rds|elasticache):Describe[A-Za-z]+$/.test(a)), 'read-only')
    // The audit's read-only statements: the bucket's settings on the bucket, the load
    // balancer's and the Auto Scaling group's Describe* on "*" (they take no resource ARN).
    const auditBucket = all.find((s: any) => s.Sid === 'AuditBucket')
    assert.deepEqual(auditBucket.Action, ['s3:GetBucketPublicAccessBlock', 's3:GetBucketPolicyStatus'])
    assert.deepEqual(auditBucket.Resource, bucketArn)
    const auditBalancing = all.find((s: any) => s.Sid === 'AuditDescribe')
    assert.deepEqual(auditBalancing.Action, [
      'elasticloadbalancing:DescribeTargetGroups', 'elasticloadbalancing:DescribeTargetHealth', 'elasticloadbalancing:DescribeLoadBalancers',
      'autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeAutoScalingGroups'
    ])
    assert.equal(auditBalancing.Resource, '*')
    assert.ok(auditBalancing.Action.every((a: string) => /^[a-z0-9]+:Describe[A-Za-z]+$/.test(a)), 'read-only')
    const scoped = all.filter((s: any) => ![pinpoint, auditBucket, auditBalancing].includes(s))
    assert.deepEqual(scoped.flatMap((s: any) => [s.Action].flat()).sort(), ['dynamodb:DeleteItem', 'dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:PutItem', 's3:GetObject', 's3:ListBucket'])
    for (const s of scoped) {
      assert.equal(s.Effect, 'Allow')
      assert.ok(!JSON.stringify(s.Action).includes('*'), 'no wildcard action')
      const expected = [s.Action].flat().every((a: string) => a.startsWith('dynamodb:'))
        ? { 'Fn::GetAtt': [tableId, 'Arn'] }
        : s.Action === 's3:ListBucket' ? bucketArn : { 'Fn::Join': ['', [bucketArn, '/*']] }
      assert.deepEqual(s.Resource, expected, `resource of ${JSON.stringify(s.Action)}`)
    }
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        IamInstanceProfile: { Name: { 'Fn::If': ['CreateInstanceRole', ref(profileId), ref('InstanceProfileName')] } }
      })
    })
  })

  test('launch template: Amazon Linux 2023 from SSM, IMDSv2, the app security group', () => {
    const [, lt] = only('AWS::EC2::LaunchTemplate')
    const data = lt.Properties.LaunchTemplateData
    const amiParameter = template.toJSON().Parameters[data.ImageId.Ref]
    assert.equal(amiParameter.Type, 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>')
    assert.match(amiParameter.Default, /^\/aws\/service\/ami-amazon-linux-latest\/al2023-ami-kernel-.*-x86_64$/)
    assert.deepEqual(data.InstanceType, ref('InstanceType'))
    assert.equal(data.MetadataOptions.HttpTokens, 'required')
    assert.deepEqual(data.SecurityGroupIds, [groupId(appSg)])
  })

  test('user data: deploy/user-data.sh inline, its BUCKET line set to the stack\'s bucket', () => {
    const [, lt] = only('AWS::EC2::LaunchTemplate')
    const [separator, parts] = lt.Properties.LaunchTemplateData.UserData['Fn::Base64']['Fn::Join']
    assert.equal(separator, '')
    const marker = '@@BUCKET@@'
    const rendered = parts.map((part: unknown) => typeof part === 'string' ? part : (assert.deepEqual(part, ref(bucketId)), marker)).join('')
    assert.equal(rendered, userDataScript(userDataFile, marker))
    assert.match(rendered, /^(export |readonly |declare )?BUCKET='@@BUCKET@@'$/m)
    assert.ok(rendered.length < 16384, 'user data fits in 16 KB')
  })

  test('Auto Scaling group: 2 to 4 instances in both private subnets, ELB health checks, grace period', () => {
    const [, asg] = only('AWS::AutoScaling::AutoScalingGroup')
    const p = asg.Properties
    assert.deepEqual([p.MinSize, p.DesiredCapacity, p.MaxSize], ['2', '2', '4'])
    assert.equal(p.HealthCheckType, 'ELB')
    assert.ok(p.HealthCheckGracePeriod >= 60)
    assert.deepEqual(sortedRefs(p.VPCZoneIdentifier), privateSubnets)
    assert.deepEqual(p.TargetGroupARNs, [ref(only('AWS::ElasticLoadBalancingV2::TargetGroup')[0])])
  })

  test('load balancer: internet-facing in the public subnets, HTTP 80 to the target group', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing', Type: 'application', Subnets: Match.arrayEquals(publicSubnets)
    })
    const [tgId] = only('AWS::ElasticLoadBalancingV2::TargetGroup')
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      LoadBalancerArn: ref(albId), Port: 80, Protocol: 'HTTP', DefaultActions: [{ Type: 'forward', TargetGroupArn: ref(tgId) }]
    })
  })

  test('target group: the app on 8080, health check GET /health on 8080', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: appPort,
      Protocol: 'HTTP',
      TargetType: 'instance',
      HealthCheckPath: '/health',
      HealthCheckPort: String(appPort),
      Matcher: { HttpCode: '200' }
    })
  })
})

describe('outputs', () => {
  test('every config.toml value, the load balancer URL and the Auto Scaling group', () => {
    const outputs = Object.keys(template.toJSON().Outputs).sort()
    assert.deepEqual(outputs, [...configOutputs.map(o => o.output), loadBalancerUrlOutput, autoScalingGroupOutput].sort())
    template.hasOutput('RedisHost', { Value: { 'Fn::GetAtt': [only('AWS::ElastiCache::ReplicationGroup')[0], 'ConfigurationEndPoint.Address'] } })
    template.hasOutput('AwsRegion', { Value: ref('AWS::Region') })
  })
})

describe('userDataScript', () => {
  const dir = mkdtempSync(join(tmpdir(), 'suaicloudapp-ud-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  let count = 0
  const write = (text: string) => {
    const file = join(dir, `user-data-${++count}.sh`)
    writeFileSync(file, text)
    return file
  }

  test('sets the one BUCKET line and leaves the rest as it is', () => {
    // eslint-disable-next-line no-template-curly-in-string -- shell, not a template
    const file = write('#!/bin/bash\nset -euo pipefail\nexport BUCKET="${BUCKET:-suaicloudbucket}"\necho "$BUCKET"\n')
    assert.equal(userDataScript(file, 'b-1'), '#!/bin/bash\nset -euo pipefail\nexport BUCKET=\'b-1\'\necho "$BUCKET"\n')
  })

  test('a missing script says so and what to do', () => {
    assert.throws(() => userDataScript('/nonexistent/user-data.sh', 'b'), /user-data\.sh does not exist: .*write it first/)
  })

  test('no BUCKET line, or two, is an error', () => {
    assert.throws(() => userDataScript(write('#!/bin/bash\nbucket=x\n'), 'b'), /exactly one line starting with BUCKET= \(found 0\)/)
    assert.throws(() => userDataScript(write('BUCKET=a\nBUCKET=b\n'), 'b'), /\(found 2\)/)
  })
})
