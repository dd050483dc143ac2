import { Type, type Static } from '@sinclair/typebox'
import { clientOptions, lazyClient, send, type AwsError } from '../lib/aws.ts'
import { defineBackend, type BackendDeps } from '../lib/backend.ts'
import { CheckFailure, defineCheck } from '../lib/check.ts'
import { awsApiHints, type Hints } from '../lib/hints.ts'
import { Endpoint, NonEmpty } from '../lib/schema.ts'

export const S3Section = Type.Object({
  bucket: NonEmpty('name of the S3 bucket'),
  endpoint: Endpoint
})

const hints: Hints = {
  ...awsApiHints,
  connect_timeout: c => c.endpoint ? `no answer from ${c.endpoint}: check [s3] endpoint` : 'no route to the S3 API: a private subnet needs an S3 gateway endpoint or a NAT gateway in its route table',
  permission: c => `the instance role may not do this: allow s3:ListBucket on arn:aws:s3:::${c.bucket} and s3:GetObject on arn:aws:s3:::${c.bucket}/* in the role's policy`,
  not_found: c => `there is no bucket named '${c.bucket}': check [s3] bucket (names are global and exact)`
}

// The files the seed's user data syncs from the bucket onto every instance.
const deployedFiles = ['suaicloudapp', 'config.toml']

// The private bucket: reachable with the instance role, and holding what the instances boot from.
function createS3 (section: Static<typeof S3Section>, deps: BackendDeps) {
  const bucket = section.bucket
  const aws = lazyClient(async () => {
    const sdk = await import('@aws-sdk/client-s3')
    // A custom endpoint is a local server, which serves buckets by path, not by host name.
    return { sdk, client: new sdk.S3Client({ ...clientOptions(section.endpoint, deps), forcePathStyle: Boolean(section.endpoint) }) }
  })

  const check = defineCheck({
    ...deps,
    backend: 's3',
    section,
    hints,
    classify
  }, async ctx => {
    const { sdk, client: s3 } = await aws.ready(ctx)
    // Listings rather than HeadBucket: a HEAD error has no body, so a bad key and a missing
    // permission both arrive as a bare 403. One listing per file, by prefix: the bucket may
    // hold thousands of other objects.
    const found = await Promise.all(deployedFiles.map(async key => {
      const listing = await send(ctx, 's3:ListBucket', options => s3.send(new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }), options))
      return listing.Contents?.[0]?.Key === key
    }))
    const missing = deployedFiles.filter((_, i) => !found[i])
    ctx.detail('deployedFiles', Object.fromEntries(deployedFiles.map((key, i) => [key, found[i]])))
    if (missing.length > 0) {
      ctx.warn(`the bucket has no ${missing.join(' or ')} at its root: the launch template's user data syncs s3://${bucket}/ onto each instance, so upload them there`)
    }
  })

  return { check, close: aws.close }
}

function classify (err: unknown): CheckFailure | undefined {
  const e = err as AwsError
  const status = e.$metadata?.httpStatusCode
  if (status === 404 || e.name === 'NotFound' || e.name === 'NoSuchBucket') {
    return new CheckFailure('not_found', 'the bucket does not exist', 'not_found')
  }
  if (status === 301 || e.name === 'PermanentRedirect') {
    const region = e.$response?.headers?.['x-amz-bucket-region']
    return new CheckFailure('region', `the bucket lives in another region${region ? ` (${region})` : ''}`, 'region', { region })
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
