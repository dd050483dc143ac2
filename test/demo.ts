import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { stringify } from 'smol-toml'
import { cleanEnv, makeTempDir, program } from './helper.ts'
import { freePort, LOOPBACK, MARIADB_ACCOUNT, S3RVER_ACCOUNT, startDynamo, startMariadb, startRedisCluster, startS3 } from './harness/index.ts'
import { removeTempDir } from './harness/process.ts'

// `npm run demo`: every check green on a laptop, in one command. The servers the tests use —
// MariaDB, a 3-node Redis Cluster (as ElastiCache's configuration endpoint), an S3 and a
// DynamoDB server — start on free loopback ports, the app serves against them, and Ctrl-C (or
// the app exiting) stops everything it started. Nothing here listens beyond loopback or touches
// the servers already running on this machine's default ports.

const BUCKET = 'suaicloudbucket'
const TABLE = 'suaicloudtable'

// 8080 as in the seed when it is free here, else any free port.
function appPort (): Promise<number> {
  return new Promise(resolve => {
    const probe = createServer().once('error', () => resolve(freePort()))
    probe.listen(8080, LOOPBACK, () => probe.close(() => resolve(8080)))
  })
}

// The ports first, so the app starts (it connects lazily) while the servers still do.
const [port, dir, databasePort, redisPort, s3Port, dynamoPort] = await Promise.all([appPort(), makeTempDir('demo'), freePort(), freePort(), freePort(), freePort()])
const config = join(dir, 'config.toml')
await writeFile(config, stringify({
  server: { host: LOOPBACK, port, drain_ms: 0 },
  aws: { region: S3RVER_ACCOUNT.region },
  s3: { bucket: BUCKET, endpoint: `http://${LOOPBACK}:${s3Port}` },
  database: { host: LOOPBACK, port: databasePort, user: MARIADB_ACCOUNT.user, password: MARIADB_ACCOUNT.password, dbname: MARIADB_ACCOUNT.database },
  redis: { host: LOOPBACK, port: redisPort },
  dynamodb: { table: TABLE, partition_key: 'id', endpoint: `http://${LOOPBACK}:${dynamoPort}` },
  log: { file: join(dir, 'output.log') },
  demo: { enabled: true }
}))

process.stdout.write('starting MariaDB, a Redis Cluster, S3 (s3rver) and DynamoDB (dynalite) on loopback…\n')
const servers = [startMariadb({ port: databasePort }), startRedisCluster({ port: redisPort }), startS3({ port: s3Port }), startDynamo({ port: dynamoPort })] as const
const starting = Promise.allSettled(servers)
let stopping: Promise<void> | undefined
// Stops whatever did start, once.
const stopStack = () => {
  stopping ??= starting
    .then(results => Promise.all(results.map(result => result.status === 'fulfilled' ? result.value.stop() : undefined)))
    .then(() => removeTempDir(dir))
  return stopping
}

const url = `http://${LOOPBACK}:${port}`
const [command, ...args] = program()
const app = spawn(command, [...args, '--config', config], {
  cwd: dir,
  // The S3 and DynamoDB servers take s3rver's fixed keys; no metadata service is asked.
  env: cleanEnv({ AWS_ACCESS_KEY_ID: S3RVER_ACCOUNT.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_ACCOUNT.secretAccessKey }),
  stdio: ['ignore', 'inherit', 'inherit']
})
app.once('exit', code => {
  if (code !== 0) process.stderr.write(`the app exited with code ${code}; stopping the servers\n`)
  stopStack().then(() => process.exit(code ?? 0), () => process.exit(1))
})
// Ctrl-C reaches the app too (same process group); it exits at once (drain_ms = 0), and its exit
// stops the stack. A signal sent to this process alone is passed on.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => { if (app.exitCode === null) app.kill(signal) })
}

const results = await starting
const failed = results.find(result => result.status === 'rejected')
if (failed) {
  process.stderr.write(`a server of the demo did not start: ${(failed.reason as Error).message}\n`)
  app.kill('SIGTERM')
} else {
  const [database, redis, s3, dynamo] = await Promise.all(servers)
  await s3.createBucket(BUCKET, { suaicloudapp: 'the executable goes here', 'config.toml': '[server]\n' })
  await dynamo.createTable(TABLE, { hash: ['id', 'S'] })
  while (app.exitCode === null && !await fetch(`${url}/health`).then(res => res.ok, () => false)) await sleep(100)
  if (app.exitCode === null) {
    process.stdout.write(`
dashboard  ${url}/    (every card turns OK within a few seconds)
config     ${config}

Now break something, and watch the card and its hint:
  stop the database        kill ${database.pid}
  stop a Redis node        redis-cli -p ${redis.nodes[1].port} shutdown nosave
  fail this instance       curl -X POST ${url}/demo/health/fail    (/health answers 503, as before a replacement)
  burn the CPU for 60 s    curl -X POST '${url}/demo/cpu?seconds=60'
Ctrl-C stops the app and every server the demo started.
`)
  }
}
