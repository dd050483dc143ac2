// What to change, said to the person who built the environment. One table for every backend;
// a hint under a backend's name wins over the general one.

export type HintKey =
  | 'dns' | 'connect_refused' | 'connect_timeout' | 'connect_reset' | 'request_timeout' | 'tls'
  | 'auth' | 'database' | 'tls_required' | 'tls_expected' | 'cluster' | 'readonly'
  | 'credentials' | 'permission' | 'not_found' | 'region' | 'missing_files' | 'schema'

export interface HintContext {
  backend: string
  // A local S3- or DynamoDB-compatible server instead of AWS.
  endpoint?: string
  host?: string
  port?: number
  user?: string
  dbname?: string
  bucket?: string
  table?: string
  partition_key?: string
  region?: string
  action?: string
}

type Hint = (c: HintContext) => string

const general: Partial<Record<HintKey, Hint>> = {
  dns: c => `${c.host} does not resolve from this instance: copy the endpoint again from the AWS console into [${c.backend}] host, and make sure the VPC has DNS resolution and DNS hostnames enabled`,
  connect_refused: c => `nothing listens on ${c.host}:${c.port}: check [${c.backend}] port and that the service is running`,
  connect_reset: c => `${c.host}:${c.port} closed the connection: check that it is the right kind of server on that port and whether it expects TLS`,
  request_timeout: c => `${c.host ?? c.backend} accepted the connection but did not answer in time: it may be overloaded, or be a different service on that port`,
  tls: c => `the TLS handshake with ${c.host ?? c.backend} failed: check the tls setting in [${c.backend}]`,
  credentials: () => 'no AWS credentials were found: attach an IAM instance profile (role) to this instance (EC2 → Actions → Security → Modify IAM role); on a laptop set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
  region: c => c.region
    ? `set [aws] region = '${c.region}' in config.toml: that is where the ${c.backend === 's3' ? 'bucket' : 'table'} lives`
    : 'set [aws] region in config.toml (e.g. eu-central-1) to the region of your resources'
}

// S3 and DynamoDB are reached at AWS's API endpoints, or at [section] endpoint when one is set.
const awsApi: Partial<Record<HintKey, Hint>> = {
  dns: c => c.endpoint
    ? `the host of ${c.endpoint} does not resolve: check [${c.backend}] endpoint, or remove it to use AWS`
    : 'this instance cannot resolve the AWS API\'s host name: check that the VPC has DNS resolution enabled',
  connect_refused: c => `nothing listens at ${c.endpoint ?? 'the AWS API endpoint'}: check [${c.backend}] endpoint, or remove it to use AWS`,
  connect_reset: c => `${c.endpoint ?? 'the AWS API endpoint'} closed the connection: check [${c.backend}] endpoint (http:// or https://)`,
  request_timeout: c => `${c.endpoint ?? 'the AWS API'} did not answer in time`
}

const byBackend: Record<string, Partial<Record<HintKey, Hint>>> = {
  database: {
    connect_timeout: c => `no route to ${c.host}:${c.port}: the RDS security group must allow inbound TCP ${c.port} from this instance's security group, and the DB must be in this instance's VPC (Publicly accessible = No is fine inside the VPC)`,
    auth: c => `MySQL rejected user '${c.user}': check [database] user and password (on RDS, the master username and password you set when creating the DB)`,
    database: c => `database '${c.dbname}' does not exist or '${c.user}' may not use it: create it (CREATE DATABASE ${c.dbname}) or set [database] dbname to the "Initial database name" you gave RDS`,
    tls_required: () => 'the server does not offer TLS: set [database] tls = "off", or enable TLS on the server',
    tls: () => 'the TLS handshake failed: for RDS keep [database] tls = "auto" (it trusts the RDS CA bundle); for a server with its own certificate set tls = "off", or trust its CA by starting suaicloudapp with NODE_EXTRA_CA_CERTS=/path/to/ca.pem'
  },
  redis: {
    connect_timeout: c => `no route to ${c.host}:${c.port}: the ElastiCache security group must allow inbound TCP ${c.port} from this instance's security group, and the cluster's subnet group must be in this instance's VPC`,
    request_timeout: c => `${c.host}:${c.port} accepted the connection but never answered: if the cluster has in-transit encryption, set [redis] tls = true`,
    connect_reset: c => `${c.host}:${c.port} closed the connection: if the cluster has in-transit encryption, set [redis] tls = true`,
    auth: () => 'Redis rejected the login: set [redis] password (the AUTH token) and, with RBAC, [redis] username',
    tls: c => `the TLS handshake with ${c.host} failed: ElastiCache's certificate is trusted as is; a server with its own certificate needs its CA trusted (start suaicloudapp with NODE_EXTRA_CA_CERTS=/path/to/ca.pem)`,
    tls_expected: () => 'the server does not speak TLS on that port: set [redis] tls = false',
    cluster: () => 'the cluster is not serving all hash slots: wait for it to finish creating or failing over (ElastiCache console → Events), then retry',
    readonly: c => `${c.host} is a read-only replica: use the primary or the configuration endpoint`
  },
  s3: {
    ...awsApi,
    connect_timeout: c => c.endpoint ? `no answer from ${c.endpoint}: check [s3] endpoint` : 'no route to the S3 API: a private subnet needs an S3 gateway endpoint or a NAT gateway in its route table',
    permission: c => `the instance role may not do this: allow s3:ListBucket on arn:aws:s3:::${c.bucket} and s3:GetObject on arn:aws:s3:::${c.bucket}/* in the role's policy`,
    not_found: c => `there is no bucket named '${c.bucket}': check [s3] bucket (names are global and exact)`,
    missing_files: c => `the launch template's user data syncs s3://${c.bucket}/ onto each instance: upload suaicloudapp and config.toml to the bucket's root`
  },
  dynamodb: {
    ...awsApi,
    connect_timeout: c => c.endpoint ? `no answer from ${c.endpoint}: check [dynamodb] endpoint` : 'no route to the DynamoDB API: a private subnet needs a DynamoDB gateway endpoint or a NAT gateway in its route table',
    permission: c => `the instance role may not do this: allow ${c.action ?? 'dynamodb:DescribeTable, GetItem, PutItem, DeleteItem'} on arn:aws:dynamodb:${c.region}:<account>:table/${c.table}`,
    not_found: c => `there is no table '${c.table}' in ${c.region}: check [dynamodb] table and [aws] region (tables are per region)`,
    schema: c => `the seed needs a table whose primary key is only a partition key '${c.partition_key}' of type String: recreate the table that way, or set [dynamodb] partition_key to the table's key`
  }
}

export function hint (key: HintKey, context: HintContext): string | undefined {
  return (byBackend[context.backend]?.[key] ?? general[key])?.(context)
}
