import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../lib/config.ts'
import { backends } from '../plugins/backends.ts'
import { root } from './helper.ts'
import { startDynamo, startMariadb, startRedis, startS3 } from './harness/index.ts'

// `npm run stack`: the servers the tests use, on the ports config.local.toml names, so every
// endpoint can be tried on a laptop. Runs until Ctrl-C.
const file = join(root, 'config.local.toml')
const loaded = loadConfig({ path: file, cwd: root, env: {}, programDir: root }, backends)
if (!loaded.ok) throw new Error(loaded.problems.map(problem => problem.message).join('\n'))
const { database, redis, s3, dynamodb } = loaded.config
const portOf = (endpoint = '') => Number(new URL(endpoint).port)

const [db, cache, bucketServer, tableServer] = await Promise.all([
  startMariadb({ port: database!.port }),
  startRedis({ port: redis!.port }),
  startS3({ port: portOf(s3!.endpoint) }),
  startDynamo({ port: portOf(dynamodb!.endpoint) })
])
await bucketServer.createBucket(s3!.bucket, {
  suaicloudapp: 'the executable goes here',
  'config.toml': readFileSync(join(root, 'config.toml'), 'utf8')
})
await tableServer.createTable(dynamodb!.table, { hash: [dynamodb!.partition_key, 'S'] })

process.stdout.write(`local stack up (Ctrl-C stops it):
  MariaDB   ${db.host}:${db.port}  user ${db.user}, database ${db.database}
  Redis     ${cache.host}:${cache.port}
  S3        ${bucketServer.endpoint}  bucket ${s3!.bucket}
  DynamoDB  ${tableServer.endpoint}  table ${dynamodb!.table}
In another terminal:
  AWS_ACCESS_KEY_ID=${bucketServer.accessKeyId} AWS_SECRET_ACCESS_KEY=${bucketServer.secretAccessKey} AWS_EC2_METADATA_DISABLED=true npm start -- --config config.local.toml
  curl localhost:${loaded.config.server.port}/database
`)
const stop = async () => {
  await Promise.all([db, cache, bucketServer, tableServer].map(server => server.stop()))
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
// Keeps the process alive: the in-process S3 and DynamoDB servers are unref'd by the harness.
setInterval(() => {}, 1 << 30)
