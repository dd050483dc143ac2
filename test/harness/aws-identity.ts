import { randomBytes } from 'node:crypto'

// Who the fixture's AWS answers are about: an instance role's session in one account, as EC2
// names it (the session name is the instance id).
export const ACCOUNT_ID = '123456789012'
export const ROLE_NAME = 'suai-InstanceRole'
export const PRINCIPAL_ARN = `arn:aws:sts::${ACCOUNT_ID}:assumed-role/${ROLE_NAME}/i-0fixture1234567890`

// The policy types AWS names in an AccessDenied message.
export type PolicyKind = 'identity' | 'resource' | 'vpc-endpoint' | 'scp' | 'boundary' | 'session'

// How each policy type is spelt: "with an explicit deny in <a type>" or
// "because no <type> allows the <action> action".
// https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
// (awsdocs/iam-user-guide doc_source/troubleshoot_access-denied.md)
const policyNames: Record<PolicyKind, [article: string, name: string]> = {
  identity: ['an', 'identity-based policy'],
  resource: ['a', 'resource-based policy'],
  'vpc-endpoint': ['a', 'VPC endpoint policy'],
  scp: ['a', 'service control policy'],
  boundary: ['a', 'permissions boundary'],
  session: ['a', 'session policy']
}

export interface Denial {
  kind: PolicyKind
  explicit: boolean
}

// "User: <principal> is not authorized to perform: <action> on resource: <resource> <context>".
// S3 quotes the resource ARN, DynamoDB does not (recorded S3 XML: "... s3:ListBucket on resource:
// \"arn:aws:s3:::bucket-bronze-lauraxiz\" because no identity-based policy allows the s3:ListBucket
// action"; DynamoDB: "... dynamodb:PutItem on resource: arn:aws:dynamodb:ap-northeast-1:…:table/todolist").
// An SCP always reads as an explicit deny, even when it only lacks an Allow (same IAM page).
export function deniedMessage (action: string, resource: string, { kind, explicit }: Denial): string {
  const [article, name] = policyNames[kind]
  const context = explicit || kind === 'scp'
    ? `with an explicit deny in ${article} ${name}`
    : `because no ${name} allows the ${action} action`
  return `User: ${PRINCIPAL_ARN} is not authorized to perform: ${action} on resource: ${resource} ${context}`
}

// Request ids shaped as AWS's. S3: x-amz-request-id is 16 upper-case letters and digits and
// x-amz-id-2 76 characters of base64 (a recorded 301: "x-amz-request-id: VXEGYW7W3YEEX22Z",
// "x-amz-id-2: 9WMUoRYw…kBXxtw==", in databend's docs). DynamoDB: x-amzn-RequestId is 52
// upper-case letters and digits (dynalite's rand52CharId).
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
export const s3RequestId = () => Array.from(randomBytes(16), byte => ALPHANUMERIC[byte % ALPHANUMERIC.length]).join('')
export const s3HostId = () => randomBytes(55).toString('base64')
export const dynamoRequestId = () => randomBytes(39).toString('base64').toUpperCase().replace(/[+/=]/g, '0')
