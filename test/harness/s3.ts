import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import S3rver from 's3rver'
import { LOOPBACK } from './ports.ts'
import { makeTempDir, removeTempDir } from './process.ts'

export interface S3Handle {
  endpoint: string
  accessKeyId: string
  secretAccessKey: string
  region: string
  /** Creates a bucket and puts each key with its string body into it. */
  createBucket: (name: string, objects?: Record<string, string>) => Promise<void>
  stop: () => Promise<void>
}

// s3rver's built-in credentials (it rejects other keys and bad signatures), known before it starts.
export const S3RVER_ACCOUNT = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1' }
const { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY, region: REGION } = S3RVER_ACCOUNT

/** s3rver in this process, on a port the kernel picks at bind time, so there is no race for it. */
export async function startS3 ({ port: wanted = 0 }: { port?: number } = {}): Promise<S3Handle> {
  const dir = await makeTempDir('s3')
  const server = new S3rver({ address: LOOPBACK, port: wanted, silent: true, directory: dir })
  let port: number
  try {
    port = (await server.run()).port
  } catch (err) {
    await removeTempDir(dir)
    throw err
  }
  const endpoint = `http://${LOOPBACK}:${port}`
  const client = new S3Client({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
    forcePathStyle: true
  })
  let stopping: Promise<void> | undefined
  return {
    endpoint,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    region: REGION,
    async createBucket (name, objects = {}) {
      await client.send(new CreateBucketCommand({ Bucket: name }))
      for (const [key, body] of Object.entries(objects)) {
        await client.send(new PutObjectCommand({ Bucket: name, Key: key, Body: body }))
      }
    },
    // Remembered, so a second stop() (e.g. from an after hook) waits for the first instead of failing
    stop: () => (stopping ??= (async () => {
      client.destroy()
      // close() alone waits for clients' keep-alive sockets to time out
      server.httpServer.closeAllConnections()
      await server.close()
      await removeTempDir(dir)
    })())
  }
}
