import type { IncomingMessage, ServerResponse } from 'node:http'
import { crc32 } from 'node:zlib'
import { ACCOUNT_ID, deniedMessage, dynamoRequestId, type Denial } from './aws-identity.ts'
import { signedParts } from './aws-sigv4.ts'

// DynamoDB as its JSON 1.0 endpoint answers it: POST /, the operation in x-amz-target, JSON in
// and out, x-amzn-RequestId and x-amz-crc32 (the CRC32 of the body) on every answer.
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.LowLevelAPI.html
// Errors are {"__type": "<namespace>#<Name>", "message": …} with HTTP 400, or 500 for the
// server's own failures: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html

// DynamoDB's own errors live in its namespace (Programming.Errors.html's example response); the
// errors of the service framework in front of it (authentication, authorisation, throttling) in
// Coral's, as recorded in dynalite's index.js comments and in client tests: "com.amazon.coral.service#
// UnrecognizedClientException", "com.amazon.coral.availability#ThrottlingException".
const DYNAMODB = 'com.amazonaws.dynamodb.v20120810#'
const CORAL = 'com.amazon.coral.service#'

export interface DynamoRequest {
  operation: string
  table: string
  // The region the fixture answers for, as in the table's ARN.
  region: string
  // The x-amz-date the request was signed with, e.g. 20260101T120000Z.
  amzDate: string
  // What DynamoDB quotes back when the signature does not match.
  canonicalRequest: string
  stringToSign: string
}

interface DynamoFailure {
  status?: number
  type: string
  message: (req: DynamoRequest) => string
  // AccessDeniedException alone spells it "Message" (dynalite's test helper assertAccessDenied;
  // recorded: {"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: …"}).
  messageKey?: 'Message'
}

const denied = (denial: Denial): DynamoFailure => ({
  type: `${CORAL}AccessDeniedException`,
  message: req => deniedMessage(`dynamodb:${req.operation}`, `arn:aws:dynamodb:${req.region}:${ACCOUNT_ID}:table/${req.table}`, denial),
  messageKey: 'Message'
})

// SigV4's date format, as DynamoDB prints it in "Signature expired".
const amzDate = (date: Date) => date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')

// By table name. Messages from AWS's docs or recorded responses:
export const dynamoScenarios = {
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
  'denied-identity-policy': denied({ kind: 'identity', explicit: false }),
  'denied-resource-policy': denied({ kind: 'resource', explicit: true }),
  'denied-scp': denied({ kind: 'scp', explicit: true }),
  'denied-permissions-boundary': denied({ kind: 'boundary', explicit: false }),
  // dynalite index.js, recorded: an unknown access key id, or a bad session token.
  'unrecognized-client': { type: `${CORAL}UnrecognizedClientException`, message: () => 'The security token included in the request is invalid.' },
  // dynalite index.js, recorded: the wrong secret, with the canonical string and the string to
  // sign DynamoDB computed.
  'invalid-signature': {
    type: `${CORAL}InvalidSignatureException`,
    message: req => 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.' +
      `\n\nThe Canonical String for this request should have been\n'${req.canonicalRequest}'\n\nThe String-to-Sign should have been\n'${req.stringToSign}'\n`
  },
  // dynalite index.js, recorded: "Signature expired: 20130301T000000Z is now earlier than
  // 20130609T094515Z (20130609T100015Z - 15 min.)". Here the server's clock is 20 minutes ahead.
  'signature-expired': {
    type: `${CORAL}InvalidSignatureException`,
    message: req => {
      const server = new Date(Date.parse(req.amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z')) + 20 * 60_000)
      return `Signature expired: ${req.amzDate} is now earlier than ${amzDate(new Date(server.getTime() - 15 * 60_000))} (${amzDate(server)} - 15 min.)`
    }
  },
  // Recorded (aws-dotnet client's comment in Amazon.DynamoDb DynamoDbException.cs).
  'expired-token': { type: `${CORAL}ExpiredTokenException`, message: () => 'The security token included in the request is expired' },
  // Programming.Errors.html: ThrottlingException, "Rate of requests exceeds the allowed throughput."
  throttling: { type: 'com.amazon.coral.availability#ThrottlingException', message: () => 'Rate of requests exceeds the allowed throughput.' },
  // Recorded (same DynamoDbException.cs comment).
  'provisioned-throughput-exceeded': {
    type: `${DYNAMODB}ProvisionedThroughputExceededException`,
    message: () => 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API'
  },
  // Programming.Errors.html: HTTP 500, InternalServerError, "Internal server error".
  'internal-server-error': { status: 500, type: `${DYNAMODB}InternalServerError`, message: () => 'Internal server error' }
} satisfies Record<string, DynamoFailure>

export type DynamoScenario = keyof typeof dynamoScenarios

export type AttributeType = 'S' | 'N' | 'B'
export interface KeySchema {
  hash: [name: string, type: AttributeType]
  range?: [name: string, type: AttributeType]
}

type Item = Record<string, Record<string, unknown>>

export interface DynamoTable {
  schema: KeySchema
  created: Date
  items: Map<string, Item>
}

export type DynamoTables = Map<string, DynamoTable>

export function answerDynamo (req: IncomingMessage, res: ServerResponse, body: string, region: string, tables: DynamoTables): void {
  const send = (status: number, payload: unknown) => {
    const bytes = Buffer.from(JSON.stringify(payload))
    // x-amz-crc32: the CRC32 of the body, which SDKs may check against what they read.
    res.writeHead(status, {
      'x-amzn-requestid': dynamoRequestId(),
      'x-amz-crc32': String(crc32(bytes)),
      'content-type': 'application/x-amz-json-1.0',
      'content-length': bytes.length
    })
    res.end(bytes)
  }
  const target = String(req.headers['x-amz-target'] ?? '')
  const operation = target.startsWith('DynamoDB_20120810.') ? target.slice('DynamoDB_20120810.'.length) : ''
  let input: { TableName?: string, Key?: Item, Item?: Item }
  try {
    input = JSON.parse(body || '{}')
  } catch {
    // dynalite index.js: a body that is not JSON.
    return send(400, { __type: `${CORAL}SerializationException` })
  }
  const request: DynamoRequest = {
    operation,
    table: input.TableName ?? '',
    region,
    amzDate: String(req.headers['x-amz-date'] ?? ''),
    ...signedParts(req, new URL(req.url ?? '/', 'http://fixture'), body)
  }
  const failure: DynamoFailure | undefined = (dynamoScenarios as Record<string, DynamoFailure>)[request.table]
  if (failure) return send(failure.status ?? 400, { __type: failure.type, [failure.messageKey ?? 'message']: failure.message(request) })

  const table = tables.get(request.table)
  if (!table) {
    // Programming.Errors.html names the table for DescribeTable; item operations say no more
    // (localstack test_dynamodb.snapshot.json, dynalite db/index.js).
    const message = operation === 'DescribeTable' ? `Requested resource not found: Table: ${request.table} not found` : 'Requested resource not found'
    return send(400, { __type: `${DYNAMODB}ResourceNotFoundException`, message })
  }
  const keyNames = keyAttributes(table.schema).map(([name]) => name)
  const keyOf = (item: Item = {}) => JSON.stringify(keyNames.map(name => item[name]))
  switch (operation) {
    case 'DescribeTable': return send(200, { Table: describe(request.table, table, region) })
    case 'PutItem':
      table.items.set(keyOf(input.Item), input.Item ?? {})
      return send(200, {})
    case 'GetItem': {
      const item = table.items.get(keyOf(input.Key))
      return send(200, item ? { Item: item } : {})
    }
    case 'DeleteItem':
      table.items.delete(keyOf(input.Key))
      return send(200, {})
    // dynalite index.js: an operation the service does not know.
    default: return send(400, { __type: `${CORAL}UnknownOperationException` })
  }
}

const keyAttributes = ({ hash, range }: KeySchema) => range ? [hash, range] : [hash]

// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html, for an
// on-demand table as the console creates it.
function describe (name: string, table: DynamoTable, region: string) {
  const attributes = keyAttributes(table.schema)
  const created = table.created.getTime() / 1000
  return {
    AttributeDefinitions: attributes.map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
    TableName: name,
    KeySchema: attributes.map(([AttributeName], i) => ({ AttributeName, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
    TableStatus: 'ACTIVE',
    CreationDateTime: created,
    ProvisionedThroughput: { NumberOfDecreasesToday: 0, ReadCapacityUnits: 0, WriteCapacityUnits: 0 },
    TableSizeBytes: 0,
    ItemCount: 0,
    TableArn: `arn:aws:dynamodb:${region}:${ACCOUNT_ID}:table/${name}`,
    TableId: '5b8a1d3e-0f9c-4e2a-8c1d-3f6b2a9e7c40',
    BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST', LastUpdateToPayPerRequestDateTime: created },
    DeletionProtectionEnabled: false
  }
}
