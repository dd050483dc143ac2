import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { stringify } from 'smol-toml'
import { setTimeout as sleep } from 'node:timers/promises'
import { cleanEnv, makeTempDir, program } from './helper.ts'
import { freePort, LOOPBACK, startDynamo, startMariadb, startRedisCluster, startS3 } from './harness/index.ts'
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

process.stdout.write('starting MariaDB, a Redis Cluster, S3 (s3rver) and DynamoDB (dynalite) on loopback…\n')
const [db, redis, s3, dynamo, port, dir] = await Promise.all([startMariadb(), startRedisCluster(), startS3(), startDynamo(), appPort(), makeTempDir('demo')])
let stopping: Promise<void> | undefined
const stopStack = () => {
  stopping ??= Promise.all([db, redis, s3, dynamo].map(server => server.stop())).then(() => removeTempDir(dir))
  return stopping
}

await s3.createBucket(BUCKET, { suaicloudapp: 'the executable goes here', 'config.toml': '[server]\n' })
await dynamo.createTable(TABLE, { hash: ['id', 'S'] })
const config = join(dir, 'config.toml')
await writeFile(config, stringify({
  server: { host: LOOPBACK, port, drain_ms: 0 },
  aws: { region: s3.region },
  s3: { bucket: BUCKET, endpoint: s3.endpoint },
  database: { host: db.host, port: db.port, user: db.user, password: db.password, dbname: db.database },
  redis: { host: redis.host, port: redis.port },
  dynamodb: { table: TABLE, partition_key: 'id', endpoint: dynamo.endpoint },
  log: { file: join(dir, 'output.log') },
  demo: { enabled: true }
}))

const url = `http://${LOOPBACK}:${port}`
const [command, ...args] = program()
const app = spawn(command, [...args, '--config', config], {
  cwd: dir,
  // The S3 and DynamoDB servers take s3rver's fixed keys; no metadata service is asked.
  env: cleanEnv({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }),
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

while (app.exitCode === null && !await fetch(`${url}/health`).then(res => res.ok, () => false)) await sleep(100)
if (app.exitCode === null) {
  process.stdout.write(`
dashboard  ${url}/    (every card turns OK within a few seconds)
config     ${config}

Now break something, and watch the card and its hint:
  stop the database        kill ${db.pid}
  stop a Redis node        redis-cli -p ${redis.nodes[1].port} shutdown nosave
  fail this instance       curl -X POST ${url}/demo/health/fail    (/health answers 503, as before a replacement)
  burn the CPU for 60 s    curl -X POST '${url}/demo/cpu?seconds=60'
Ctrl-C stops the app and every server the demo started.
`)
}
