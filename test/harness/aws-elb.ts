import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TargetGroup, TargetHealthDescription } from '../../lib/audit.ts'
import { queryError, queryResult } from './aws-describe.ts'
import { PRINCIPAL_ARN } from './aws-identity.ts'

// Elastic Load Balancing v2 and Auto Scaling as their Query APIs answer (the awsQuery protocol):
// a form-encoded POST with Action and Version, answered in XML as <ActionResponse> holding
// <ActionResult> and <ResponseMetadata><RequestId>, lists as <member> elements, errors as
// <ErrorResponse><Error><Type><Code><Message></Error><RequestId>. Shapes from the API
// references' sample responses (API_DescribeTargetGroups.html, API_DescribeTargetHealth.html,
// API_DescribeAutoScalingInstances.html, API_DescribeAutoScalingGroups.html) and moto's
// templates (moto/elbv2/responses.py, moto/autoscaling/responses.py).

const NAMESPACES = {
  elasticloadbalancing: 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/',
  autoscaling: 'http://autoscaling.amazonaws.com/doc/2011-01-01/'
}

export type LoadBalancerService = keyof typeof NAMESPACES

// A target group as DescribeTargetGroups describes it, with its targets' health.
export interface FixtureTargetGroup extends TargetGroup {
  targets: TargetHealthDescription[]
}

export interface FixtureAutoScalingGroup {
  AutoScalingGroupName: string
  AvailabilityZones: string[]
  TargetGroupARNs: string[]
  Instances: Array<{ InstanceId: string, AvailabilityZone: string, LifecycleState?: string, HealthStatus?: string }>
}

// A load balancer as DescribeLoadBalancers describes it.
export interface FixtureLoadBalancer {
  LoadBalancerArn: string
  LoadBalancerName: string
  VpcId: string
  SecurityGroups: string[]
  AvailabilityZones: Array<{ ZoneName: string, SubnetId: string }>
}

export interface LoadBalancerWorld {
  loadBalancers: FixtureLoadBalancer[]
  targetGroups: FixtureTargetGroup[]
  autoScalingGroups: FixtureAutoScalingGroup[]
  // IAM actions refused, e.g. 'elasticloadbalancing:DescribeTargetHealth'.
  denied: Set<string>
}

// The signing scope's service: Credential=<key>/<date>/<region>/<service>/aws4_request.
export function loadBalancerService (req: IncomingMessage): LoadBalancerService | undefined {
  const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1]
  return service === 'elasticloadbalancing' || service === 'autoscaling' ? service : undefined
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

// <name>value</name>; an array is one <member> per value at every depth (awsQuery's lists; EC2's
// dialect in aws-describe.ts names them <item>), an object its fields in order.
function el (name: string, value: unknown): string {
  if (value === undefined || value === null) return ''
  if (Array.isArray(value)) return `<${name}>${value.map(item => el('member', item)).join('')}</${name}>`
  if (typeof value === 'object') return `<${name}>${Object.entries(value).map(([key, inner]) => el(key, inner)).join('')}</${name}>`
  return `<${name}>${escape(String(value))}</${name}>`
}

// Name.member.1, Name.member.2, … of a form body.
const members = (params: URLSearchParams, name: string) =>
  [...params].filter(([key]) => new RegExp(`^${name}\\.member\\.\\d+$`).test(key)).map(([, value]) => value)

export function answerLoadBalancer (res: ServerResponse, body: string, service: LoadBalancerService, world: LoadBalancerWorld): void {
  const params = new URLSearchParams(body)
  const action = params.get('Action') ?? ''
  const requestId = randomUUID()
  const namespace = NAMESPACES[service]
  // The envelope RDS and ElastiCache use too (awsQuery).
  const ok = (result: string) => queryResult(res, action, namespace, requestId, result)
  const error = (status: number, code: string, message: string) => queryError(res, namespace, requestId, code, message, status)

  const iamAction = `${service}:${action}`
  // Describe* actions take no resource: the message names none (IAM's troubleshooting page).
  if (world.denied.has(iamAction)) return error(403, 'AccessDenied', `User: ${PRINCIPAL_ARN} is not authorized to perform: ${iamAction} because no identity-based policy allows the ${iamAction} action`)

  switch (action) {
    case 'DescribeTargetGroups': {
      const arns = members(params, 'TargetGroupArns')
      const groups = world.targetGroups.filter(group => arns.length === 0 || arns.includes(group.TargetGroupArn ?? ''))
      return ok(el('TargetGroups', groups.map(({ targets: _targets, ...group }) => group)))
    }
    case 'DescribeLoadBalancers': {
      const arns = members(params, 'LoadBalancerArns')
      return ok(el('LoadBalancers', world.loadBalancers.filter(lb => arns.length === 0 || arns.includes(lb.LoadBalancerArn)).map(lb => ({
        LoadBalancerArn: lb.LoadBalancerArn,
        DNSName: `${lb.LoadBalancerName}-1234567890.eu-central-1.elb.amazonaws.com`,
        CanonicalHostedZoneId: 'Z215JYRZR1TBD5',
        CreatedTime: '2026-11-30T09:00:00.000Z',
        LoadBalancerName: lb.LoadBalancerName,
        Scheme: 'internet-facing',
        VpcId: lb.VpcId,
        State: { Code: 'active' },
        Type: 'application',
        AvailabilityZones: lb.AvailabilityZones,
        SecurityGroups: lb.SecurityGroups,
        IpAddressType: 'ipv4'
      }))))
    }
    case 'DescribeTargetHealth': {
      const arn = params.get('TargetGroupArn') ?? ''
      const group = world.targetGroups.find(candidate => candidate.TargetGroupArn === arn)
      // moto/elbv2/exceptions.py TargetGroupNotFoundError.
      if (!group) return error(400, 'TargetGroupNotFound', 'The specified target group does not exist.')
      return ok(el('TargetHealthDescriptions', group.targets))
    }
    case 'DescribeAutoScalingInstances': {
      const ids = members(params, 'InstanceIds')
      const instances = world.autoScalingGroups.flatMap(group => group.Instances
        .filter(instance => ids.length === 0 || ids.includes(instance.InstanceId))
        .map(instance => ({
          InstanceId: instance.InstanceId,
          InstanceType: 't3.micro',
          AutoScalingGroupName: group.AutoScalingGroupName,
          AvailabilityZone: instance.AvailabilityZone,
          LifecycleState: instance.LifecycleState ?? 'InService',
          HealthStatus: instance.HealthStatus ?? 'HEALTHY',
          ProtectedFromScaleIn: false
        })))
      return ok(el('AutoScalingInstances', instances))
    }
    case 'DescribeAutoScalingGroups': {
      const names = members(params, 'AutoScalingGroupNames')
      const groups = world.autoScalingGroups.filter(group => names.length === 0 || names.includes(group.AutoScalingGroupName)).map(group => ({
        AutoScalingGroupName: group.AutoScalingGroupName,
        MinSize: 1,
        MaxSize: 4,
        DesiredCapacity: group.Instances.length,
        AvailabilityZones: group.AvailabilityZones,
        TargetGroupARNs: group.TargetGroupARNs,
        HealthCheckType: 'ELB',
        HealthCheckGracePeriod: 300,
        Instances: group.Instances.map(instance => ({ LifecycleState: 'InService', HealthStatus: 'Healthy', ProtectedFromScaleIn: false, ...instance })),
        CreatedTime: '2026-11-30T09:00:00.000Z'
      }))
      return ok(el('AutoScalingGroups', groups))
    }
  }
  // The awsQuery error for an action the service does not have.
  return error(400, 'InvalidAction', `Could not find operation ${action} for version ${params.get('Version') ?? ''}`)
}
