import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { PRINCIPAL_ARN, deniedMessage, s3HostId, s3RequestId, type Denial } from './aws-identity.ts'
import { signedParts } from './aws-sigv4.ts'

// S3 as a path-style REST endpoint answers it: ListObjectsV2, GetObject (whole or a byte range),
// HeadBucket, and the audit's GetPublicAccessBlock and GetBucketPolicyStatus (a bucket's settings
// as `s3BucketSettings` names them); for the buckets named in `s3Scenarios`, the error S3 sends
// in that case.
// Error shape, status and headers: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html

export type S3Operation = 'ListObjectsV2' | 'GetObject' | 'HeadBucket' | 'GetPublicAccessBlock' | 'GetBucketPolicyStatus'

export interface S3Request {
  operation: S3Operation
  bucket: string
  key: string
  // The IAM action S3 authorises the operation as, and the resource it names in a denial.
  action: string
  resource: string
  // From the SigV4 Authorization header and the signed headers.
  accessKeyId: string
  signingRegion: string
  signature: string
  // What S3 reports when the signature does not match.
  canonicalRequest: string
  stringToSign: string
  amzDate: string
  securityToken: string
  query: URLSearchParams
}

interface S3Failure {
  status: number
  code: string
  message: (req: S3Request) => string
  // Elements S3 adds between <Message> and <RequestId>, in its order.
  fields?: (req: S3Request) => Record<string, string>
  headers?: Record<string, string>
  // The operations that fail; the others answer as for a healthy bucket. All when absent.
  only?: S3Operation[]
}

// The region a redirected bucket lives in: never the fixture's own.
export const OTHER_REGION = 'eu-west-1'

const denied = (denial: Denial, only?: S3Operation[]): S3Failure => ({
  status: 403,
  code: 'AccessDenied',
  message: req => deniedMessage(req.action, `"${req.resource}"`, denial),
  only
})

// By bucket name. Messages and extra elements, each from a recorded response or AWS's docs:
export const s3Scenarios = {
  // The enhanced AccessDenied messages S3 sends for a same-account request, naming the policy type:
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html#access-denied-message-examples
  'denied-identity-policy': denied({ kind: 'identity', explicit: false }),
  'denied-identity-policy-explicit': denied({ kind: 'identity', explicit: true }),
  'denied-bucket-policy': denied({ kind: 'resource', explicit: true }),
  'denied-vpc-endpoint-policy': denied({ kind: 'vpc-endpoint', explicit: true }),
  'denied-scp': denied({ kind: 'scp', explicit: true }),
  'denied-permissions-boundary': denied({ kind: 'boundary', explicit: false }),
  'denied-session-policy': denied({ kind: 'session', explicit: false }),
  // What a request from outside the bucket's account or organisation gets (same page), and moto's
  // S3AccessDeniedError (moto/s3/exceptions.py).
  'denied-bare': { status: 403, code: 'AccessDenied', message: () => 'Access Denied' },
  // The role can list but not read: ListObjectsV2 answers, GetObject is denied.
  'get-object-denied': denied({ kind: 'identity', explicit: false }, ['GetObject']),
  // An SSE-KMS object whose key the role may not use: S3 answers AccessDenied naming kms:Decrypt
  // (recorded in aws-cdk's aws-s3-deployment README: "An error occurred (AccessDenied) when calling
  // the GetObject operation: User: *** is not authorized to perform: kms:Decrypt on the resource
  // associated with this ciphertext because no identity-based policy allows the kms:Decrypt action").
  'kms-decrypt-denied': {
    status: 403,
    code: 'AccessDenied',
    message: () => `User: ${PRINCIPAL_ARN} is not authorized to perform: kms:Decrypt on the resource associated with this ciphertext because no identity-based policy allows the kms:Decrypt action`,
    only: ['GetObject']
  },
  // moto/s3/exceptions.py S3InvalidAccessKeyIdError; S3 echoes the key id it did not find.
  'invalid-access-key-id': {
    status: 403,
    code: 'InvalidAccessKeyId',
    message: () => 'The AWS Access Key Id you provided does not exist in our records.',
    fields: req => ({ AWSAccessKeyId: req.accessKeyId })
  },
  // localstack tests/aws/services/s3/test_s3.snapshot.json (TestS3PresignedUrl), recorded on AWS:
  // the key id, the string to sign and canonical request S3 computed, each also as bytes in hex.
  'signature-does-not-match': {
    status: 403,
    code: 'SignatureDoesNotMatch',
    message: () => 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    fields: req => ({
      AWSAccessKeyId: req.accessKeyId,
      StringToSign: req.stringToSign,
      SignatureProvided: req.signature,
      StringToSignBytes: hexBytes(req.stringToSign),
      CanonicalRequest: req.canonicalRequest,
      CanonicalRequestBytes: hexBytes(req.canonicalRequest)
    })
  },
  // ErrorResponses.html: ExpiredToken, 400, "The provided token has expired."; S3 echoes the token
  // (recorded in awslabs/mountpoint-s3, s3_crt_client.rs parse_400_expired_token: "<Token-0>…</Token-0>").
  'expired-token': {
    status: 400,
    code: 'ExpiredToken',
    message: () => 'The provided token has expired.',
    fields: req => ({ 'Token-0': req.securityToken })
  },
  // Recorded bodies (boto's S3ResponseError, gist ryanmr/57ab14bd…; pastebin 8HJpUdsv): the request's
  // own time, the server's, and the allowed skew of 15 minutes.
  'request-time-too-skewed': {
    status: 403,
    code: 'RequestTimeTooSkewed',
    message: () => 'The difference between the request time and the current time is too large.',
    fields: req => ({ RequestTime: req.amzDate, ServerTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), MaxAllowedSkewMilliseconds: '900000' })
  },
  // ErrorResponses.html: PermanentRedirect, 301, with the endpoint to use; the bucket's region in
  // x-amz-bucket-region. Recorded path-style answer (a ListObjectsV2 sent to s3-eu-central-1 for a
  // us-east-1 bucket): "<Endpoint>s3.amazonaws.com</Endpoint><Bucket>aaa</Bucket>", so the
  // endpoint names no bucket; the regional host name for eu-west-1 follows S3's endpoint scheme.
  // Recorded headers (databend's docs): x-amz-bucket-region, content-type application/xml.
  'permanent-redirect': {
    status: 301,
    code: 'PermanentRedirect',
    message: () => 'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
    fields: req => ({ Endpoint: `s3.${OTHER_REGION}.amazonaws.com`, Bucket: req.bucket }),
    headers: { 'x-amz-bucket-region': OTHER_REGION }
  },
  // localstack test_s3.snapshot.json (TestS3::test_create_bucket_aws_global), recorded on AWS.
  // x-amz-bucket-region as on the 301: the JS SDK's region-redirect middleware reads it from 400
  // answers (a HeadBucket's has no body), so S3 sends it there too.
  'authorization-header-malformed': {
    status: 400,
    code: 'AuthorizationHeaderMalformed',
    message: req => `The authorization header is malformed; the region '${req.signingRegion}' is wrong; expecting '${OTHER_REGION}'`,
    fields: () => ({ Region: OTHER_REGION }),
    headers: { 'x-amz-bucket-region': OTHER_REGION }
  },
  // ErrorResponses.html: SlowDown 503 and InternalError 500, with these messages.
  'slow-down': { status: 503, code: 'SlowDown', message: () => 'Please reduce your request rate.' },
  'internal-error': { status: 500, code: 'InternalError', message: () => 'We encountered an internal error. Please try again.' }
} satisfies Record<string, S3Failure>

export type S3Scenario = keyof typeof s3Scenarios

// A bucket's public access block (null: none set) and whether its policy is public (null: no
// policy). Every other bucket has what S3 gives a new bucket since April 2023: all four block
// settings on and no policy.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/create-bucket-overview.html
export interface S3BucketSettings {
  publicAccessBlock: Record<'BlockPublicAcls' | 'IgnorePublicAcls' | 'BlockPublicPolicy' | 'RestrictPublicBuckets', boolean> | null
  policyPublic: boolean | null
  // The role may use the bucket but not read these settings: both calls answer AccessDenied.
  settingsDenied?: boolean
}

const ALL_BLOCKED = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true }

// By bucket name, as the scenarios; these buckets exist and hold what putBucket gave them.
export const s3BucketSettings = {
  // Block public access turned off and a policy granting Principal "*" s3:GetObject.
  'public-bucket': { publicAccessBlock: null, policyPublic: true },
  // The block removed (DeletePublicAccessBlock), no policy: private today, one policy from public.
  'no-public-access-block': { publicAccessBlock: null, policyPublic: null },
  // Two of the four settings turned off in the console.
  'partly-blocked-bucket': { publicAccessBlock: { ...ALL_BLOCKED, BlockPublicPolicy: false, RestrictPublicBuckets: false }, policyPublic: false },
  'bucket-settings-denied': { publicAccessBlock: ALL_BLOCKED, policyPublic: null, settingsDenied: true }
} satisfies Record<string, S3BucketSettings>

const DEFAULT_SETTINGS: S3BucketSettings = { publicAccessBlock: ALL_BLOCKED, policyPublic: null }

export interface S3Object {
  body: Buffer
  lastModified: Date
  etag: string
}

export type S3Buckets = Map<string, Map<string, S3Object>>

export function s3Object (body: string | Buffer): S3Object {
  const bytes = Buffer.from(body)
  return { body: bytes, lastModified: new Date(Math.floor(Date.now() / 1000) * 1000), etag: `"${createHash('md5').update(bytes).digest('hex')}"` }
}

// Text content escapes &, < and > only: S3's messages carry their quotes as they are ("on
// resource: \"arn:aws:s3:::…\"" in the recorded AccessDenied), while an ETag in a listing is
// written &quot;…&quot; (API_ListObjectsV2.html's example).
const xmlEscape = (text: string) => text.replace(/[<>&]/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] as string)
const elements = (fields: Record<string, string>) => Object.entries(fields).map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`).join('')
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

export function answerS3 (req: IncomingMessage, res: ServerResponse, region: string, buckets: S3Buckets): void {
  const requestId = s3RequestId()
  const hostId = s3HostId()
  res.setHeader('x-amz-request-id', requestId)
  res.setHeader('x-amz-id-2', hostId)
  res.setHeader('server', 'AmazonS3')
  const send = (status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/xml', ...headers })
    // A HEAD answer carries the status and headers only, errors included.
    res.end(req.method === 'HEAD' ? undefined : body)
  }
  const fail = (status: number, code: string, message: string, fields: Record<string, string> = {}, headers?: Record<string, string>) =>
    send(status, `${XML_DECLARATION}<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${elements(fields)}<RequestId>${requestId}</RequestId><HostId>${hostId}</HostId></Error>`, headers)

  const request = parse(req)
  if (!request) return fail(501, 'NotImplemented', 'This fixture answers ListObjectsV2, GetObject, HeadBucket, GetPublicAccessBlock and GetBucketPolicyStatus only.')
  const failure: S3Failure | undefined = (s3Scenarios as Record<string, S3Failure>)[request.bucket]
  if (failure && (!failure.only || failure.only.includes(request.operation))) {
    return fail(failure.status, failure.code, failure.message(request), failure.fields?.(request), failure.headers)
  }
  const settings: S3BucketSettings | undefined = (s3BucketSettings as Record<string, S3BucketSettings>)[request.bucket]
  const objects = buckets.get(request.bucket) ?? (failure || settings ? new Map() : undefined)
  // moto/s3/exceptions.py MissingBucket: 404 with the bucket's name.
  if (!objects) return fail(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: request.bucket })

  if (request.operation === 'HeadBucket') return send(200, '', { 'x-amz-bucket-region': region })
  const { publicAccessBlock, policyPublic, settingsDenied } = settings ?? DEFAULT_SETTINGS
  if (settingsDenied && (request.operation === 'GetPublicAccessBlock' || request.operation === 'GetBucketPolicyStatus')) {
    return fail(403, 'AccessDenied', deniedMessage(request.action, `"${request.resource}"`, { kind: 'identity', explicit: false }))
  }
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetPublicAccessBlock.html (response
  // syntax); without one, 404 NoSuchPublicAccessBlockConfiguration with the bucket's name
  // (moto/s3/exceptions.py NoSuchPublicAccessBlockConfiguration).
  if (request.operation === 'GetPublicAccessBlock') {
    if (!publicAccessBlock) return fail(404, 'NoSuchPublicAccessBlockConfiguration', 'The public access block configuration was not found', { BucketName: request.bucket })
    const flags = Object.entries(publicAccessBlock).map(([name, on]) => `<${name}>${on}</${name}>`).join('')
    return send(200, `${XML_DECLARATION}<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${flags}</PublicAccessBlockConfiguration>`)
  }
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketPolicyStatus.html; a bucket
  // without a policy answers 404 NoSuchBucketPolicy, "The bucket policy does not exist", with
  // its name (localstack's recorded GetBucketPolicy; moto/s3/exceptions.py MissingBucketPolicy).
  if (request.operation === 'GetBucketPolicyStatus') {
    if (policyPublic === null) return fail(404, 'NoSuchBucketPolicy', 'The bucket policy does not exist', { BucketName: request.bucket })
    return send(200, `${XML_DECLARATION}<PolicyStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsPublic>${policyPublic}</IsPublic></PolicyStatus>`)
  }
  if (request.operation === 'ListObjectsV2') return send(200, listing(request.bucket, objects, request.query), { 'x-amz-bucket-region': region })

  const object = objects.get(request.key)
  // ErrorResponses.html: NoSuchKey, 404, "The specified key does not exist.", with the key.
  if (!object) return fail(404, 'NoSuchKey', 'The specified key does not exist.', { Key: request.key })
  // S3 encrypts every new object with SSE-S3 since January 2023 and says so on every read:
  // https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-encryption-faq.html
  const headers = {
    'content-type': 'binary/octet-stream',
    'last-modified': object.lastModified.toUTCString(),
    etag: object.etag,
    'accept-ranges': 'bytes',
    'x-amz-server-side-encryption': 'AES256'
  }
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '')
  if (!range) {
    res.writeHead(200, { ...headers, 'content-length': object.body.length })
    res.end(object.body)
    return
  }
  const size = object.body.length
  const first = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]))
  const last = range[1] && range[2] ? Math.min(Number(range[2]), size - 1) : size - 1
  // moto/s3/exceptions.py InvalidRange: 416, with the range asked for and the object's size.
  if (first >= size) return fail(416, 'InvalidRange', 'The requested range is not satisfiable', { RangeRequested: req.headers.range ?? '', ActualObjectSize: String(size) })
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html: 206 with Content-Range.
  res.writeHead(206, { ...headers, 'content-range': `bytes ${first}-${last}/${size}`, 'content-length': last - first + 1 })
  res.end(object.body.subarray(first, last + 1))
}

function parse (req: IncomingMessage): S3Request | undefined {
  const url = new URL(req.url ?? '/', 'http://fixture')
  const [, bucket = '', ...rest] = url.pathname.split('/')
  const key = decodeURIComponent(rest.join('/'))
  let operation: S3Operation | undefined
  if (req.method === 'GET' && bucket && key) operation = 'GetObject'
  else if (req.method === 'GET' && bucket && url.searchParams.get('list-type') === '2') operation = 'ListObjectsV2'
  else if (req.method === 'GET' && bucket && url.searchParams.has('publicAccessBlock')) operation = 'GetPublicAccessBlock'
  else if (req.method === 'GET' && bucket && url.searchParams.has('policyStatus')) operation = 'GetBucketPolicyStatus'
  else if (req.method === 'HEAD' && bucket && !key) operation = 'HeadBucket'
  if (!operation) return undefined
  // "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-central-1/s3/aws4_request, SignedHeaders=…, Signature=…"
  const authorization = req.headers.authorization ?? ''
  const [accessKeyId = '', , signingRegion = ''] = /Credential=([^,]+)/.exec(authorization)?.[1].split('/') ?? []
  const { canonicalRequest, stringToSign } = signedParts(req, url, '')
  return {
    operation,
    bucket,
    key,
    action: S3_ACTIONS[operation],
    resource: `arn:aws:s3:::${bucket}${operation === 'GetObject' ? `/${key}` : ''}`,
    accessKeyId,
    signingRegion,
    signature: /Signature=([0-9a-f]+)/.exec(authorization)?.[1] ?? '',
    canonicalRequest,
    stringToSign,
    amzDate: String(req.headers['x-amz-date'] ?? ''),
    securityToken: String(req.headers['x-amz-security-token'] ?? ''),
    query: url.searchParams
  }
}

// The IAM action S3 authorises each operation as.
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
const S3_ACTIONS: Record<S3Operation, string> = {
  GetObject: 's3:GetObject',
  ListObjectsV2: 's3:ListBucket',
  HeadBucket: 's3:ListBucket',
  GetPublicAccessBlock: 's3:GetBucketPublicAccessBlock',
  GetBucketPolicyStatus: 's3:GetBucketPolicyStatus'
}

// "41 57 53 34 …": how S3 spells out the bytes it signed.
const hexBytes = (text: string) => Array.from(Buffer.from(text), byte => byte.toString(16).padStart(2, '0')).join(' ')

// https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html (response syntax).
// encoding-type=url is not served: the keys come back as they are.
function listing (bucket: string, objects: Map<string, S3Object>, query: URLSearchParams): string {
  const prefix = query.get('prefix') ?? ''
  const maxKeys = Number(query.get('max-keys') ?? 1000)
  // The continuation token is opaque to clients; here it is the last key shown, in base64.
  const after = Buffer.from(query.get('continuation-token') ?? '', 'base64').toString()
  const keys = [...objects.keys()].filter(key => key.startsWith(prefix) && key > after).sort()
  const shown = keys.slice(0, maxKeys)
  const truncated = shown.length < keys.length
  const contents = shown.map(key => {
    const object = objects.get(key) as S3Object
    const etag = object.etag.replaceAll('"', '&quot;')
    return `<Contents>${elements({ Key: key, LastModified: object.lastModified.toISOString() })}<ETag>${etag}</ETag>${elements({ Size: String(object.body.length), StorageClass: 'STANDARD' })}</Contents>`
  }).join('')
  return `${XML_DECLARATION}<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${elements({ Name: bucket, Prefix: prefix, KeyCount: String(shown.length), MaxKeys: String(maxKeys) })}` +
    `<IsTruncated>${truncated}</IsTruncated>` +
    `${truncated ? elements({ NextContinuationToken: Buffer.from(shown[shown.length - 1]).toString('base64') }) : ''}${contents}</ListBucketResult>`
}
