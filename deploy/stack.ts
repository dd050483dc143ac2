import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import {
  App, Aws, BootstraplessSynthesizer, CfnCondition, CfnOutput, type CfnOutputProps, CfnParameter, Duration, Fn,
  RemovalPolicy, SecretValue, Stack, Validations
} from 'aws-cdk-lib'
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling'
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb'
import * as ec2 from 'aws-cdk-lib/aws-ec2'
import * as elasticache from 'aws-cdk-lib/aws-elasticache'
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as rds from 'aws-cdk-lib/aws-rds'
import * as s3 from 'aws-cdk-lib/aws-s3'
import type { Construct } from 'constructs'
import { appPort, autoScalingGroupOutput, loadBalancerUrlOutput, stackName, type ConfigOutput } from './contract.ts'

export const userDataFile = fileURLToPath(new URL('user-data.sh', import.meta.url))

const bucketLine = /^((?:export |readonly |declare )?BUCKET=).*$/gm

// deploy/user-data.sh with its BUCKET line pointed at this stack's bucket. The text goes into
// the template inline (a file asset would need `cdk bootstrap`'s asset bucket).
export function userDataScript (file: string, bucketName: string): string {
  if (!existsSync(file)) {
    throw new Error(`${file} does not exist: the launch template's user data is that script, so write it first`)
  }
  const text = readFileSync(file, 'utf8')
  const lines = text.match(bucketLine) ?? []
  if (lines.length !== 1) {
    throw new Error(`${file} must set the bucket on exactly one line starting with BUCKET= (found ${lines.length}), so that the stack can put its bucket's name there`)
  }
  return text.replace(bucketLine, (_line, start: string) => `${start}'${bucketName}'`)
}

// The whole course environment in one template that deploys with plain `aws cloudformation
// deploy`: no assets, no Lambda-backed custom resources, no bootstrap, no context lookups.
export class SuaiCloudAppStack extends Stack {
  constructor (scope: Construct, id: string) {
    super(scope, id, {
      stackName,
      description: 'suaicloudapp course environment: VPC, private S3 bucket, RDS MySQL, ElastiCache Redis (cluster mode), DynamoDB, launch template, Auto Scaling group and load balancer',
      synthesizer: new BootstraplessSynthesizer()
    })

    const dbPassword = new CfnParameter(this, 'DbPassword', {
      type: 'String',
      noEcho: true,
      minLength: 8,
      maxLength: 41,
      // RDS for MySQL: printable ASCII except / " @ and space
      allowedPattern: '[!#-.0-?A-~]*',
      constraintDescription: '8 to 41 printable ASCII characters, none of / " @ or space',
      description: 'RDS master password; put the same one into config.toml (deploy/write-config.ts reads it from SUAI_DATABASE_PASSWORD)'
    })
    const dbUser = new CfnParameter(this, 'DbUser', {
      type: 'String',
      default: 'admin',
      allowedPattern: '[a-zA-Z][a-zA-Z0-9_]{0,15}',
      constraintDescription: 'a letter, then up to 15 letters, digits or _',
      description: 'RDS master username ([database] user)'
    })
    const dbName = new CfnParameter(this, 'DbName', {
      type: 'String',
      default: 'suai',
      allowedPattern: '[a-zA-Z][a-zA-Z0-9_]{0,63}',
      constraintDescription: 'a letter, then up to 63 letters, digits or _',
      description: 'initial database ([database] dbname)'
    })
    const tableName = new CfnParameter(this, 'TableName', {
      type: 'String',
      default: 'suaicloudtable',
      allowedPattern: '[a-zA-Z0-9_.-]{3,255}',
      constraintDescription: '3 to 255 letters, digits, _ . or -',
      description: 'DynamoDB table name ([dynamodb] table)'
    })
    const partitionKey = new CfnParameter(this, 'PartitionKey', {
      type: 'String',
      default: 'id',
      minLength: 1,
      maxLength: 255,
      description: 'the table\'s partition key, of type String ([dynamodb] partition_key)'
    })
    const instanceType = new CfnParameter(this, 'InstanceType', {
      type: 'String',
      default: 't3.micro',
      description: 'EC2 instance type, x86-64 (the executable and the AMI are); the older free tier covers t2.micro, or t3.micro where there is no t2'
    })
    const instanceProfileName = new CfnParameter(this, 'InstanceProfileName', {
      type: 'String',
      default: '',
      description: 'an existing instance profile for the instances (e.g. LabInstanceProfile where the account forbids creating IAM roles); empty: the stack creates a least-privilege role and profile'
    })

    const createRole = new CfnCondition(this, 'CreateInstanceRole', {
      expression: Fn.conditionEquals(instanceProfileName.valueAsString, '')
    })

    // No NAT gateway: the instances talk only to RDS and Redis (in the VPC) and to S3 and
    // DynamoDB, which gateway endpoints reach for free; the AWS CLI finds the region in IMDS.
    const privateSubnets = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }
    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.0.0.0/16'),
      maxAzs: 2,
      natGateways: 0,
      // true would add a Lambda-backed custom resource; the default group is used by nothing here
      restrictDefaultSecurityGroup: false,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }
      ],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [privateSubnets] },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets: [privateSubnets] }
      }
    })

    // Without autoDeleteObjects, which would add a Lambda and its code asset: destroy.sh empties
    // the bucket before deleting the stack.
    const bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.DESTROY
    })

    const table = new dynamodb.Table(this, 'Table', {
      tableName: tableName.valueAsString,
      partitionKey: { name: partitionKey.valueAsString, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      removalPolicy: RemovalPolicy.DESTROY
    })

    const appSg = new ec2.SecurityGroup(this, 'AppSecurityGroup', {
      vpc,
      description: `suaicloudapp instances: ${appPort} from the load balancer only`
    })
    const dbSg = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc,
      description: 'RDS MySQL: 3306 from the instances only',
      allowAllOutbound: false
    })
    const redisSg = new ec2.SecurityGroup(this, 'RedisSecurityGroup', {
      vpc,
      description: 'ElastiCache Redis: 6379 from the instances only',
      allowAllOutbound: false
    })
    dbSg.addIngressRule(appSg, ec2.Port.tcp(3306), 'MySQL from the instances')
    redisSg.addIngressRule(appSg, ec2.Port.tcp(6379), 'Redis from the instances')

    // The seed's database: free-tier class, 20 GB, no encryption, no backups, inside the VPC only.
    // MySQL 8.4 because 8.0 left standard support in July 2026 and would cost Extended Support.
    const db = new rds.DatabaseInstance(this, 'Database', {
      engine: rds.DatabaseInstanceEngine.mysql({ version: rds.MysqlEngineVersion.of('8.4', '8.4') }),
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T3, ec2.InstanceSize.MICRO),
      vpc,
      vpcSubnets: privateSubnets,
      securityGroups: [dbSg],
      port: 3306,
      credentials: rds.Credentials.fromPassword(dbUser.valueAsString, SecretValue.cfnParameter(dbPassword)),
      databaseName: dbName.valueAsString,
      allocatedStorage: 20,
      storageType: rds.StorageType.GP2,
      storageEncrypted: false,
      backupRetention: Duration.days(0),
      deleteAutomatedBackups: true,
      multiAz: false,
      publiclyAccessible: false,
      deletionProtection: false,
      removalPolicy: RemovalPolicy.DESTROY
    })
    const dbFindings = Validations.of(db)
    dbFindings.acknowledge({ id: 'CloudFormation-Validate::E9006', reason: 'a major version: RDS takes its default minor, so the template does not go stale as minors retire' })
    dbFindings.acknowledge({ id: 'CloudFormation-Validate::W1011', reason: 'a NoEcho parameter: the same password goes into config.toml, and a parameter needs no other service' })
    dbFindings.acknowledge({ id: 'CloudFormation-Validate::W9008', reason: 'the seed asks for no encryption' })

    // Cluster mode enabled, as the app's [redis] host expects a configuration endpoint; one shard
    // without replicas is the one node the free tier covers. The subnet group spans every AZ.
    const redisSubnets = new elasticache.CfnSubnetGroup(this, 'RedisSubnetGroup', {
      description: 'suaicloudapp Redis: the private subnets of every AZ',
      subnetIds: vpc.selectSubnets(privateSubnets).subnetIds
    })
    const redis = new elasticache.CfnReplicationGroup(this, 'Redis', {
      replicationGroupDescription: 'suaicloudapp Redis, cluster mode enabled',
      engine: 'redis',
      engineVersion: '7.1',
      cacheNodeType: 'cache.t3.micro',
      cacheParameterGroupName: 'default.redis7.cluster.on',
      numNodeGroups: 1,
      replicasPerNodeGroup: 0,
      automaticFailoverEnabled: true,
      multiAzEnabled: false,
      port: 6379,
      cacheSubnetGroupName: redisSubnets.ref,
      securityGroupIds: [redisSg.securityGroupId],
      transitEncryptionEnabled: false,
      atRestEncryptionEnabled: false
    })

    // Least privilege, exactly what the user data and the app's checks call (and the read-only
    // calls that pinpoint a failed connection); created only when
    // no existing instance profile is given.
    const role = new iam.CfnRole(this, 'InstanceRole', {
      assumeRolePolicyDocument: new iam.PolicyDocument({
        statements: [new iam.PolicyStatement({
          actions: ['sts:AssumeRole'],
          principals: [new iam.ServicePrincipal('ec2.amazonaws.com')]
        })]
      }),
      policies: [{
        policyName: 'suaicloudapp',
        policyDocument: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({ sid: 'ListBucket', actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
            new iam.PolicyStatement({ sid: 'ReadObjects', actions: ['s3:GetObject'], resources: [bucket.arnForObjects('*')] }),
            // Read-only, for the audit (suaicloudapp audit, GET /audit): is the bucket private,
            // which target groups hold this instance and how healthy, the load balancer's
            // security groups, where the Auto Scaling group runs (with pinpoint's Describe*
            // below, which also tell whether the cache's subnets route to an internet gateway).
            // Describe* take no resource-level ARN.
            new iam.PolicyStatement({ sid: 'AuditBucket', actions: ['s3:GetBucketPublicAccessBlock', 's3:GetBucketPolicyStatus'], resources: [bucket.bucketArn] }),
            new iam.PolicyStatement({
              sid: 'AuditDescribe',
              actions: [
                'elasticloadbalancing:DescribeTargetGroups', 'elasticloadbalancing:DescribeTargetHealth', 'elasticloadbalancing:DescribeLoadBalancers',
                'autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeAutoScalingGroups'
              ],
              resources: ['*']
            }),
            new iam.PolicyStatement({
              sid: 'UseTable',
              actions: ['dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
              resources: [table.tableArn]
            }),
            // Read-only, for pinpointing why a check cannot reach its database, cache, S3 or
            // DynamoDB (the app's lib/describe.ts); these Describe* actions take no
            // resource-level ARN.
            new iam.PolicyStatement({
              sid: 'Pinpoint',
              actions: [
                'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeNetworkAcls', 'ec2:DescribeRouteTables', 'ec2:DescribeVpcEndpoints',
                'rds:DescribeDBInstances', 'rds:DescribeDBClusters',
                'elasticache:DescribeReplicationGroups', 'elasticache:DescribeCacheClusters', 'elasticache:DescribeCacheSubnetGroups', 'elasticache:DescribeServerlessCaches'
              ],
              resources: ['*']
            })
          ]
        })
      }]
    })
    role.cfnOptions.condition = createRole
    const profile = new iam.CfnInstanceProfile(this, 'InstanceProfile', { roles: [role.ref] })
    profile.cfnOptions.condition = createRole

    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      instanceType: new ec2.InstanceType(instanceType.valueAsString),
      securityGroup: appSg,
      userData: ec2.UserData.custom(userDataScript(userDataFile, bucket.bucketName)),
      requireImdsv2: true
    })
    const cfnLaunchTemplate = launchTemplate.node.defaultChild as ec2.CfnLaunchTemplate
    cfnLaunchTemplate.addPropertyOverride('LaunchTemplateData.IamInstanceProfile', {
      Name: Fn.conditionIf(createRole.logicalId, profile.ref, instanceProfileName.valueAsString)
    })

    const asg = new autoscaling.AutoScalingGroup(this, 'AutoScalingGroup', {
      vpc,
      vpcSubnets: privateSubnets,
      launchTemplate,
      minCapacity: 2,
      desiredCapacity: 2,
      maxCapacity: 4,
      // Long enough for boot, the sync and the first start; after it the ELB check decides.
      healthChecks: autoscaling.HealthChecks.withAdditionalChecks({
        additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB],
        gracePeriod: Duration.seconds(180)
      })
    })
    Validations.of(asg).acknowledge({
      id: 'Construct-Annotations::@aws-cdk/aws-autoscaling:desiredCapacitySet',
      reason: 'no scaling policy: an update that puts the group back to 2 is what a course environment wants'
    })

    const alb = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC }
    })
    const targetGroup = new elbv2.ApplicationTargetGroup(this, 'TargetGroup', {
      vpc,
      port: appPort,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.INSTANCE,
      targets: [asg],
      // /health depends on no backend, so a shared RDS or Redis outage does not cycle every instance
      healthCheck: {
        path: '/health',
        port: String(appPort),
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3
      },
      // The app drains for 5 s on SIGTERM; the default 300 s would slow every scale-in
      deregistrationDelay: Duration.seconds(30)
    })
    alb.addListener('Http', { port: 80, open: true, defaultTargetGroups: [targetGroup] })

    const outputs: Record<ConfigOutput | typeof loadBalancerUrlOutput | typeof autoScalingGroupOutput, CfnOutputProps> = {
      AwsRegion: { value: Aws.REGION, description: '[aws] region' },
      S3Bucket: { value: bucket.bucketName, description: '[s3] bucket: upload suaicloudapp and config.toml here' },
      DatabaseHost: { value: db.dbInstanceEndpointAddress, description: '[database] host' },
      DatabasePort: { value: db.dbInstanceEndpointPort, description: '[database] port' },
      DatabaseUser: { value: dbUser.valueAsString, description: '[database] user (the password is the DbPassword parameter)' },
      DatabaseName: { value: dbName.valueAsString, description: '[database] dbname' },
      RedisHost: { value: redis.attrConfigurationEndPointAddress, description: '[redis] host: the configuration endpoint' },
      RedisPort: { value: redis.attrConfigurationEndPointPort, description: '[redis] port' },
      DynamoDbTable: { value: table.tableName, description: '[dynamodb] table' },
      DynamoDbPartitionKey: { value: partitionKey.valueAsString, description: '[dynamodb] partition_key' },
      [loadBalancerUrlOutput]: {
        value: `http://${alb.loadBalancerDnsName}`,
        description: 'the app through the load balancer: /health, /database, /redis, /s3, /dynamodb'
      },
      [autoScalingGroupOutput]: {
        value: asg.autoScalingGroupName,
        description: 'start an instance refresh here after uploading a new executable or config.toml'
      }
    }
    // eslint-disable-next-line no-new -- a construct adds itself to its scope
    for (const [id, output] of Object.entries(outputs)) new CfnOutput(this, id, output)
  }
}

// No version reporting and no path metadata: the committed template must be exactly what a
// fresh synth gives, on any machine, and say nothing about the machine that made it. The
// CloudFormation validation that runs at synth is made strict, so a finding fails it offline
// instead of failing a deploy later.
export function buildApp (outdir?: string): { app: App, stack: SuaiCloudAppStack } {
  const app = new App({
    outdir,
    analyticsReporting: false,
    context: {
      'aws:cdk:enable-path-metadata': false,
      '@aws-cdk/core:validateAgainstDefaultRules': true
    }
  })
  const stack = new SuaiCloudAppStack(app, 'SuaiCloudApp')
  return { app, stack }
}
