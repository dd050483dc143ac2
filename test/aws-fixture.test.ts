import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { DeleteItemCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb'
import { GetBucketPolicyStatusCommand, GetObjectCommand, GetPublicAccessBlockCommand, HeadBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { OTHER_REGION, PRINCIPAL_ARN, dynamoScenarios, s3Scenarios, startAws, type AwsFixture, type DynamoScenario, type S3Scenario } from './harness/index.ts'

// Every scenario of the AWS fixture read back through the real SDK clients the app uses: what
// they parse out of the fixture's answers is what they would parse out of AWS's.

process.env.AWS_EC2_METADATA_DISABLED = 'true'

const REGION = 'eu-central-1'
const credentials = { accessKeyId: 'AKIAFIXTURE000000001', secretAccessKey: 'fixture-secret', sessionToken: 'fixture-session-token' }

let aws: AwsFixture
let s3: S3Client
let dynamo: DynamoDBClient

before(async () => {
  aws = await startAws({ region: REGION })
  s3 = new S3Client({ endpoint: aws.endpoint, region: REGION, forcePathStyle: true, credentials, maxAttempts: 1 })
  dynamo = new DynamoDBClient({ endpoint: aws.endpoint, region: REGION, credentials, maxAttempts: 1 })
})

after(async () => {
  s3?.destroy()
  dynamo?.destroy()
  await aws?.stop()
})

// What the SDK made of an error answer: its name, status, message and the fields it copied over.
interface Parsed {
  name: string
  message: string
  $metadata: { httpStatusCode?: number, requestId?: string, extendedRequestId?: string }
  $response?: { headers: Record<string, string> }
  [field: string]: unknown
}

async function failure (send: Promise<unknown>): Promise<Parsed> {
  const err = await send.then(() => assert.fail('expected an error'), (err: unknown) => err)
  return err as Parsed
}

// SigV4 with the test secret: a string to sign the fixture quotes back is the one the SDK signed
// if it signs to the SDK's signature. https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
function signatureOf (stringToSign: string): string {
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest()
  const [date, region, service] = stringToSign.split('\n')[2].split('/')
  const signingKey = [date, region, service, 'aws4_request'].reduce<string | Buffer>(hmac, `AWS4${credentials.secretAccessKey}`)
  return createHmac('sha256', signingKey).update(stringToSign).digest('hex')
}

const principal = PRINCIPAL_ARN
const listBucket = (bucket: string, context: string) => `User: ${principal} is not authorized to perform: s3:ListBucket on resource: "arn:aws:s3:::${bucket}" ${context}`

interface S3Expectation {
  name: string
  status: number
  message: string | RegExp
  fields?: Record<string, unknown>
  bucketRegion?: string
  get?: boolean
}

const s3Expected: Record<S3Scenario, S3Expectation> = {
  'denied-identity-policy': { name: 'AccessDenied', status: 403, message: listBucket('denied-identity-policy', 'because no identity-based policy allows the s3:ListBucket action') },
  'denied-identity-policy-explicit': { name: 'AccessDenied', status: 403, message: listBucket('denied-identity-policy-explicit', 'with an explicit deny in an identity-based policy') },
  'denied-bucket-policy': { name: 'AccessDenied', status: 403, message: listBucket('denied-bucket-policy', 'with an explicit deny in a resource-based policy') },
  'denied-vpc-endpoint-policy': { name: 'AccessDenied', status: 403, message: listBucket('denied-vpc-endpoint-policy', 'with an explicit deny in a VPC endpoint policy') },
  'denied-scp': { name: 'AccessDenied', status: 403, message: listBucket('denied-scp', 'with an explicit deny in a service control policy') },
  'denied-permissions-boundary': { name: 'AccessDenied', status: 403, message: listBucket('denied-permissions-boundary', 'because no permissions boundary allows the s3:ListBucket action') },
  'denied-session-policy': { name: 'AccessDenied', status: 403, message: listBucket('denied-session-policy', 'because no session policy allows the s3:ListBucket action') },
  'denied-bare': { name: 'AccessDenied', status: 403, message: 'Access Denied' },
  'get-object-denied': {
    get: true,
    name: 'AccessDenied',
    status: 403,
    message: `User: ${principal} is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::get-object-denied/config.toml" because no identity-based policy allows the s3:GetObject action`
  },
  'kms-decrypt-denied': {
    get: true,
    name: 'AccessDenied',
    status: 403,
    message: `User: ${principal} is not authorized to perform: kms:Decrypt on the resource associated with this ciphertext because no identity-based policy allows the kms:Decrypt action`
  },
  'invalid-access-key-id': {
    name: 'InvalidAccessKeyId',
    status: 403,
    message: 'The AWS Access Key Id you provided does not exist in our records.',
    fields: { AWSAccessKeyId: credentials.accessKeyId }
  },
  'signature-does-not-match': {
    name: 'SignatureDoesNotMatch',
    status: 403,
    message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    fields: {
      AWSAccessKeyId: credentials.accessKeyId,
      SignatureProvided: /^[0-9a-f]{64}$/,
      StringToSign: /^AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n\d{8}\/eu-central-1\/s3\/aws4_request\n[0-9a-f]{64}$/,
      StringToSignBytes: /^41 57 53 34 2d( [0-9a-f]{2})+$/,
      CanonicalRequest: /^GET\n\/signature-does-not-match\/\nlist-type=2\n/,
      CanonicalRequestBytes: /^47 45 54 0a( [0-9a-f]{2})+$/
    }
  },
  'expired-token': { name: 'ExpiredToken', status: 400, message: 'The provided token has expired.', fields: { 'Token-0': credentials.sessionToken } },
  'request-time-too-skewed': {
    name: 'RequestTimeTooSkewed',
    status: 403,
    message: 'The difference between the request time and the current time is too large.',
    fields: { RequestTime: /^\d{8}T\d{6}Z$/, ServerTime: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, MaxAllowedSkewMilliseconds: '900000' }
  },
  'permanent-redirect': {
    name: 'PermanentRedirect',
    status: 301,
    message: 'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
    fields: { Endpoint: `s3.${OTHER_REGION}.amazonaws.com`, Bucket: 'permanent-redirect' },
    bucketRegion: OTHER_REGION
  },
  'authorization-header-malformed': {
    name: 'AuthorizationHeaderMalformed',
    status: 400,
    message: `The authorization header is malformed; the region '${REGION}' is wrong; expecting '${OTHER_REGION}'`,
    fields: { Region: OTHER_REGION },
    bucketRegion: OTHER_REGION
  },
  'slow-down': { name: 'SlowDown', status: 503, message: 'Please reduce your request rate.' },
  'internal-error': { name: 'InternalError', status: 500, message: 'We encountered an internal error. Please try again.' }
}

test('every S3 scenario has its expectation here', () => {
  assert.deepEqual(Object.keys(s3Expected).sort(), Object.keys(s3Scenarios).sort())
})

function assertFields (err: Parsed, fields: Record<string, unknown>) {
  for (const [field, want] of Object.entries(fields)) {
    if (want instanceof RegExp) assert.match(String(err[field]), want, field)
    else assert.equal(err[field], want, field)
  }
}

for (const [bucket, want] of Object.entries(s3Expected)) {
  test(`S3 ${bucket}: ${want.name} ${want.status}, as the SDK parses it`, async () => {
    const err = await failure(want.get
      ? s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'config.toml', Range: 'bytes=0-0' }))
      : s3.send(new ListObjectsV2Command({ Bucket: bucket })))
    assert.equal(err.name, want.name)
    assert.equal(err.$metadata.httpStatusCode, want.status)
    if (want.message instanceof RegExp) assert.match(err.message, want.message)
    else assert.equal(err.message, want.message)
    assert.match(err.$metadata.requestId ?? '', /^[0-9A-Z]{16}$/)
    assert.match(err.$metadata.extendedRequestId ?? '', /^[A-Za-z0-9+/]{74}==$/)
    assert.equal(err.RequestId, err.$metadata.requestId, 'the body names the request id of the header')
    assertFields(err, want.fields ?? {})
    assert.equal(err.$response?.headers['x-amz-bucket-region'], want.bucketRegion)
    assert.equal(err.$response?.headers['content-type'], 'application/xml')
  })
}

test('S3 SignatureDoesNotMatch: the string to sign is the one the SDK signed', async () => {
  const err = await failure(s3.send(new ListObjectsV2Command({ Bucket: 'signature-does-not-match', Prefix: 'a b/', MaxKeys: 5 })))
  assert.equal(signatureOf(String(err.StringToSign)), err.SignatureProvided)
  assert.equal(Buffer.from(String(err.CanonicalRequestBytes).split(' ').map(hex => parseInt(hex, 16))).toString(), err.CanonicalRequest)
})

test('S3 GetPublicAccessBlock and GetBucketPolicyStatus: a new bucket\'s defaults, a public one, and the 404s of a missing block or policy', async () => {
  aws.putBucket('private-by-default')
  const block = await s3.send(new GetPublicAccessBlockCommand({ Bucket: 'private-by-default' }))
  assert.deepEqual(block.PublicAccessBlockConfiguration, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true })
  const noPolicy = await failure(s3.send(new GetBucketPolicyStatusCommand({ Bucket: 'private-by-default' })))
  assert.equal(noPolicy.name, 'NoSuchBucketPolicy')
  assert.equal(noPolicy.$metadata.httpStatusCode, 404)
  assert.equal(noPolicy.message, 'The bucket policy does not exist')
  assert.equal(noPolicy.BucketName, 'private-by-default')

  const noBlock = await failure(s3.send(new GetPublicAccessBlockCommand({ Bucket: 'public-bucket' })))
  assert.equal(noBlock.name, 'NoSuchPublicAccessBlockConfiguration')
  assert.equal(noBlock.$metadata.httpStatusCode, 404)
  assert.equal(noBlock.message, 'The public access block configuration was not found')
  assert.equal(noBlock.BucketName, 'public-bucket')
  const status = await s3.send(new GetBucketPolicyStatusCommand({ Bucket: 'public-bucket' }))
  assert.equal(status.PolicyStatus?.IsPublic, true)

  const partly = await s3.send(new GetPublicAccessBlockCommand({ Bucket: 'partly-blocked-bucket' }))
  assert.deepEqual(partly.PublicAccessBlockConfiguration, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: false, RestrictPublicBuckets: false })
  assert.equal((await s3.send(new GetBucketPolicyStatusCommand({ Bucket: 'partly-blocked-bucket' }))).PolicyStatus?.IsPublic, false)

  const blockDenied = await failure(s3.send(new GetPublicAccessBlockCommand({ Bucket: 'bucket-settings-denied' })))
  assert.equal(blockDenied.name, 'AccessDenied')
  assert.equal(blockDenied.$metadata.httpStatusCode, 403)
  assert.equal(blockDenied.message, `User: ${principal} is not authorized to perform: s3:GetBucketPublicAccessBlock on resource: "arn:aws:s3:::bucket-settings-denied" because no identity-based policy allows the s3:GetBucketPublicAccessBlock action`)
  const statusDenied = await failure(s3.send(new GetBucketPolicyStatusCommand({ Bucket: 'bucket-settings-denied' })))
  assert.match(statusDenied.message, /s3:GetBucketPolicyStatus on resource: "arn:aws:s3:::bucket-settings-denied"/)
  // The same role may still list that bucket.
  assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: 'bucket-settings-denied' }))).KeyCount, 0)
})

test('S3 NoSuchBucket: any bucket that is neither a scenario nor created', async () => {
  const err = await failure(s3.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket-anywhere' })))
  assert.equal(err.name, 'NoSuchBucket')
  assert.equal(err.$metadata.httpStatusCode, 404)
  assert.equal(err.message, 'The specified bucket does not exist')
  assert.equal(err.BucketName, 'no-such-bucket-anywhere')
})

test('S3 ListObjectsV2 lists the keys a test put, names the bucket region, pages with a token', async () => {
  aws.putBucket('listed', { 'config.toml': '[server]\n', suaicloudapp: 'binary', 'seed/a b.txt': 'x' })
  const all = await s3.send(new ListObjectsV2Command({ Bucket: 'listed' }))
  assert.equal(all.$metadata.httpStatusCode, 200)
  assert.deepEqual(all.Contents?.map(object => [object.Key, object.Size, object.StorageClass]), [
    ['config.toml', 9, 'STANDARD'], ['seed/a b.txt', 1, 'STANDARD'], ['suaicloudapp', 6, 'STANDARD']
  ])
  assert.equal(all.KeyCount, 3)
  assert.equal(all.IsTruncated, false)
  // The SDK's model has no field for it (localstack patches one in: aws/spec-patches.json), so raw:
  const raw = await fetch(`${aws.endpoint}/listed?list-type=2`)
  assert.equal(raw.headers.get('x-amz-bucket-region'), REGION)
  assert.equal(raw.headers.get('content-type'), 'application/xml')

  const first = await s3.send(new ListObjectsV2Command({ Bucket: 'listed', MaxKeys: 2 }))
  assert.equal(first.IsTruncated, true)
  const rest = await s3.send(new ListObjectsV2Command({ Bucket: 'listed', MaxKeys: 2, ContinuationToken: first.NextContinuationToken }))
  assert.deepEqual(rest.Contents?.map(object => object.Key), ['suaicloudapp'])

  const prefixed = await s3.send(new ListObjectsV2Command({ Bucket: 'listed', Prefix: 'seed/' }))
  assert.deepEqual(prefixed.Contents?.map(object => object.Key), ['seed/a b.txt'])
})

test('S3 HeadBucket: the region in a header, and errors without a body as S3 sends them', async () => {
  aws.putBucket('headed')
  const head = await s3.send(new HeadBucketCommand({ Bucket: 'headed' }))
  assert.equal(head.BucketRegion, REGION)
  const moved = await failure(s3.send(new HeadBucketCommand({ Bucket: 'permanent-redirect' })))
  assert.equal(moved.$metadata.httpStatusCode, 301)
  assert.equal(moved.$response?.headers['x-amz-bucket-region'], OTHER_REGION)
  const denied = await failure(s3.send(new HeadBucketCommand({ Bucket: 'denied-bucket-policy' })))
  assert.equal(denied.$metadata.httpStatusCode, 403)
  // No body to name it: the SDK's REST-XML parser names a 404 NotFound and anything else Unknown.
  assert.equal(denied.name, 'Unknown')
  const missing = await failure(s3.send(new HeadBucketCommand({ Bucket: 'no-such-bucket-anywhere' })))
  assert.equal(missing.name, 'NotFound')
})

test('S3 GetObject of one byte: 206 with Content-Range; the lister-only buckets still list', async () => {
  aws.putBucket('readable', { 'config.toml': '[server]\nport = 8080\n' })
  const one = await s3.send(new GetObjectCommand({ Bucket: 'readable', Key: 'config.toml', Range: 'bytes=0-0' }))
  assert.equal(one.$metadata.httpStatusCode, 206)
  assert.equal(one.ContentRange, 'bytes 0-0/21')
  assert.equal(one.ContentLength, 1)
  assert.equal(one.ServerSideEncryption, 'AES256')
  assert.equal(await one.Body?.transformToString(), '[')

  const whole = await s3.send(new GetObjectCommand({ Bucket: 'readable', Key: 'config.toml' }))
  assert.equal(whole.$metadata.httpStatusCode, 200)
  assert.equal(await whole.Body?.transformToString(), '[server]\nport = 8080\n')

  const missing = await failure(s3.send(new GetObjectCommand({ Bucket: 'readable', Key: 'nope', Range: 'bytes=0-0' })))
  assert.equal(missing.name, 'NoSuchKey')
  assert.equal(missing.$metadata.httpStatusCode, 404)

  aws.putBucket('kms-decrypt-denied', { 'config.toml': 'x' })
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'kms-decrypt-denied' }))
  assert.deepEqual(listed.Contents?.map(object => object.Key), ['config.toml'])
})

const tableArn = (table: string) => `arn:aws:dynamodb:${REGION}:123456789012:table/${table}`
const deniedDynamo = (table: string, context: string) =>
  `User: ${principal} is not authorized to perform: dynamodb:DescribeTable on resource: ${tableArn(table)} ${context}`

const dynamoExpected: Record<DynamoScenario, { name: string, status: number, message: string | RegExp }> = {
  'denied-identity-policy': { name: 'AccessDeniedException', status: 400, message: deniedDynamo('denied-identity-policy', 'because no identity-based policy allows the dynamodb:DescribeTable action') },
  'denied-resource-policy': { name: 'AccessDeniedException', status: 400, message: deniedDynamo('denied-resource-policy', 'with an explicit deny in a resource-based policy') },
  'denied-scp': { name: 'AccessDeniedException', status: 400, message: deniedDynamo('denied-scp', 'with an explicit deny in a service control policy') },
  'denied-permissions-boundary': { name: 'AccessDeniedException', status: 400, message: deniedDynamo('denied-permissions-boundary', 'because no permissions boundary allows the dynamodb:DescribeTable action') },
  'unrecognized-client': { name: 'UnrecognizedClientException', status: 400, message: 'The security token included in the request is invalid.' },
  'invalid-signature': {
    name: 'InvalidSignatureException',
    status: 400,
    message: new RegExp('^The request signature we calculated does not match the signature you provided\\. Check your AWS Secret Access Key and signing method\\. ' +
      'Consult the service documentation for details\\.\\n\\nThe Canonical String for this request should have been\\n\'POST\\n/\\n\\n[^]+\'\\n\\n' +
      'The String-to-Sign should have been\\n\'AWS4-HMAC-SHA256\\n\\d{8}T\\d{6}Z\\n\\d{8}/eu-central-1/dynamodb/aws4_request\\n[0-9a-f]{64}\'\\n$')
  },
  'signature-expired': { name: 'InvalidSignatureException', status: 400, message: /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/ },
  'expired-token': { name: 'ExpiredTokenException', status: 400, message: 'The security token included in the request is expired' },
  throttling: { name: 'ThrottlingException', status: 400, message: 'Rate of requests exceeds the allowed throughput.' },
  'provisioned-throughput-exceeded': {
    name: 'ProvisionedThroughputExceededException',
    status: 400,
    message: 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API'
  },
  'internal-server-error': { name: 'InternalServerError', status: 500, message: 'Internal server error' }
}

test('every DynamoDB scenario has its expectation here', () => {
  assert.deepEqual(Object.keys(dynamoExpected).sort(), Object.keys(dynamoScenarios).sort())
})

for (const [table, want] of Object.entries(dynamoExpected)) {
  test(`DynamoDB ${table}: ${want.name} ${want.status}, as the SDK parses it`, async () => {
    const err = await failure(dynamo.send(new DescribeTableCommand({ TableName: table })))
    assert.equal(err.name, want.name)
    assert.equal(err.$metadata.httpStatusCode, want.status)
    if (want.message instanceof RegExp) assert.match(err.message, want.message)
    else assert.equal(err.message, want.message)
    assert.match(err.$metadata.requestId ?? '', /^[A-Z0-9]{52}$/)
    assert.equal(err.$response?.headers['content-type'], 'application/x-amz-json-1.0')
    assert.match(err.$response?.headers['x-amz-crc32'] ?? '', /^\d+$/)
  })
}

test('DynamoDB AccessDeniedException spells its message "Message", the others "message"; x-amz-crc32 is the body\'s', async () => {
  const raw = async (table: string) => {
    const res = await fetch(aws.endpoint, {
      method: 'POST',
      headers: { 'x-amz-target': 'DynamoDB_20120810.DescribeTable', 'content-type': 'application/x-amz-json-1.0' },
      body: JSON.stringify({ TableName: table })
    })
    const text = await res.text()
    assert.equal(res.headers.get('x-amz-crc32'), String(crc32(text)))
    return { status: res.status, body: JSON.parse(text) as Record<string, string> }
  }
  const denied = await raw('denied-scp')
  assert.equal(denied.status, 400)
  assert.deepEqual(Object.keys(denied.body), ['__type', 'Message'])
  assert.equal(denied.body.__type, 'com.amazon.coral.service#AccessDeniedException')
  const missing = await raw('no-such-table')
  assert.deepEqual(missing.body, { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message: 'Requested resource not found: Table: no-such-table not found' })
})

test('DynamoDB InvalidSignatureException: the String-to-Sign is the one the SDK signed', async () => {
  let authorization = ''
  // After signing (the finalize step), before the request goes out.
  dynamo.middlewareStack.add(next => async args => {
    authorization = String((args.request as { headers: Record<string, string> }).headers.authorization)
    return next(args)
  }, { step: 'deserialize', name: 'captureAuthorization' })
  const err = await failure(dynamo.send(new DescribeTableCommand({ TableName: 'invalid-signature' })))
  dynamo.middlewareStack.remove('captureAuthorization')
  const stringToSign = /The String-to-Sign should have been\n'([^']+)'/.exec(err.message)?.[1] ?? ''
  assert.equal(signatureOf(stringToSign), /Signature=([0-9a-f]+)/.exec(authorization)?.[1])
})

test('DynamoDB ResourceNotFoundException for a table nobody created', async () => {
  const err = await failure(dynamo.send(new DescribeTableCommand({ TableName: 'no-such-table' })))
  assert.equal(err.name, 'ResourceNotFoundException')
  assert.equal(err.$metadata.httpStatusCode, 400)
  assert.equal(err.message, 'Requested resource not found: Table: no-such-table not found')
  const item = await failure(dynamo.send(new GetItemCommand({ TableName: 'no-such-table', Key: { id: { S: 'x' } } })))
  assert.equal(item.message, 'Requested resource not found')
})

test('DynamoDB DescribeTable, PutItem, GetItem and DeleteItem on a table a test created', async () => {
  aws.putTable('seed', { hash: ['id', 'S'], range: ['at', 'N'] })
  const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: 'seed' }))
  assert.equal(Table?.TableStatus, 'ACTIVE')
  assert.deepEqual(Table?.KeySchema, [{ AttributeName: 'id', KeyType: 'HASH' }, { AttributeName: 'at', KeyType: 'RANGE' }])
  assert.deepEqual(Table?.AttributeDefinitions, [{ AttributeName: 'id', AttributeType: 'S' }, { AttributeName: 'at', AttributeType: 'N' }])
  assert.equal(Table?.TableArn, tableArn('seed'))
  assert.ok(Table?.CreationDateTime instanceof Date)

  const key = { id: { S: 'probe' }, at: { N: '1' } }
  await dynamo.send(new PutItemCommand({ TableName: 'seed', Item: { ...key, note: { S: 'hello' } } }))
  const got = await dynamo.send(new GetItemCommand({ TableName: 'seed', Key: key }))
  assert.deepEqual(got.Item, { ...key, note: { S: 'hello' } })
  await dynamo.send(new DeleteItemCommand({ TableName: 'seed', Key: key }))
  assert.equal((await dynamo.send(new GetItemCommand({ TableName: 'seed', Key: key }))).Item, undefined)
})
