import { Type, type Static } from '@sinclair/typebox'
import { clientOptions, lazyClient } from '../lib/aws.ts'
import { awsApiHints, deniedHint, type AwsError } from '../lib/aws-errors.ts'
import { defineBackend, type BackendDeps } from '../lib/backend.ts'
import { CheckFailure, defineCheck } from '../lib/check.ts'
import { pinpointer } from '../lib/explain.ts'
import type { Hints } from '../lib/hints.ts'
import { Endpoint, NonEmpty } from '../lib/schema.ts'

export const S3Section = Type.Object({
  bucket: NonEmpty('name of the S3 bucket'),
  endpoint: Endpoint
})

const hints: Hints = {
  ...awsApiHints,
  connect_timeout: c => c.endpoint ? `no answer from ${c.endpoint}: check [s3] endpoint` : `no route to the S3 API: this subnet's route table (VPC → Route tables) needs a route to a NAT gateway, or to a gateway endpoint for S3 of this region (com.amazonaws.${c.region}.s3) (an endpoint of another region does not serve this one), and the security group must allow outbound TCP 443`,
  permission: c => deniedHint(c, { resourcePolicy: `the bucket policy of ${c.bucket} (S3 → Buckets → ${c.bucket} → Permissions → Bucket policy)`, thing: 'bucket' }),
  not_found: c => `there is no bucket named '${c.bucket}': check [s3] bucket (names are global and exact)`
}

// The files the seed's user data syncs from the bucket onto every instance.
const deployedFiles = ['suaicloudapp', 'config.toml']

// The private bucket: reachable with the instance role, and holding what the instances boot from.
function createS3 (section: Static<typeof S3Section>, deps: BackendDeps) {
  const bucket = section.bucket
  const aws = lazyClient(deps, async () => {
    const sdk = await import('@aws-sdk/client-s3')
    // A custom endpoint is a local server, which serves buckets by path, not by host name.
    return { sdk, client: new sdk.S3Client({ ...clientOptions('S3', deps, section.endpoint), forcePathStyle: Boolean(section.endpoint) }) }
  })

  // A failure to reach AWS's API is explained from this VPC's routes, endpoints and rules; a
  // custom endpoint is a server of the student's own.
  const pinpoint = section.endpoint
    ? undefined
    : pinpointer(deps, {
      backend: 's3',
      requests: () => [{ action: 's3:ListBucket', resource: `arn:aws:s3:::${bucket}` }, ...deployedFiles.map(key => ({ action: 's3:GetObject', resource: `arn:aws:s3:::${bucket}/${key}` }))]
    })
  const check = defineCheck({
    ...deps,
    backend: 's3',
    section,
    hints,
    classify,
    explainer: pinpoint
  }, async ctx => {
    const { sdk, client: s3 } = await aws.ready(ctx)
    // Listings rather than HeadBucket: a HEAD error has no body, so a bad key and a missing
    // permission both arrive as a bare 403. One listing per file, by prefix: the bucket may
    // hold thousands of other objects.
    const found = await Promise.all(deployedFiles.map(async key => {
      const listing = await aws.send(ctx, 's3:ListBucket', options => s3.send(new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }), options))
      return listing.Contents?.[0]?.Key === key
    }))
    const missing = deployedFiles.filter((_, i) => !found[i])
    ctx.detail('deployedFiles', Object.fromEntries(deployedFiles.map((key, i) => [key, found[i]])))
    if (missing.length > 0) {
      ctx.warn(`the bucket has no ${missing.join(' or ')} at its root: the launch template's user data syncs s3://${bucket}/ onto each instance, so upload them there`)
    }
    // Listing is not reading: \`aws s3 sync\` in the user data also needs s3:GetObject, and
    // kms:Decrypt when the objects are encrypted with a KMS key. One byte proves both.
    const readable = deployedFiles.filter((_, i) => found[i]).at(-1)
    if (readable) {
      const object = await aws.send(ctx, 's3:GetObject', options => s3.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: readable, Range: 'bytes=0-0' }), options))
      await object.Body?.transformToByteArray()
      ctx.detail('read', readable)
    }
  })

  return { check, close: async () => { await Promise.all([aws.close(), pinpoint?.close()]) } }
}

function classify (err: unknown): CheckFailure | undefined {
  const e = err as AwsError
  const status = e.$metadata?.httpStatusCode
  if (status === 404 || e.name === 'NotFound' || e.name === 'NoSuchBucket') {
    return new CheckFailure('not_found', 'the bucket does not exist', 'not_found')
  }
  // PermanentRedirect (301) names the bucket's region in x-amz-bucket-region; a request signed for
  // the wrong region is AuthorizationHeaderMalformed (400) with the right one in <Region>.
  // https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
  if (status === 301 || e.name === 'PermanentRedirect' || e.name === 'AuthorizationHeaderMalformed') {
    const region = e.Region ?? e.$response?.headers?.['x-amz-bucket-region']
    return new CheckFailure('region', `the bucket lives in another region${region ? ` (${region})` : ''} (${e.name ?? status})`, 'region', { region })
  }
  return undefined
}

export default defineBackend({
  name: 's3',
  title: 'S3',
  kind: 'bucket',
  componentType: 'component',
  section: S3Section,
  hints,
  create: createS3
})
