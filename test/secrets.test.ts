import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { InjectOptions } from 'fastify'
import { buildApp, cleanEnv, configToml, eventually, freePort, readLog, runCli, startCli, workDir } from './helper.ts'
import {
  LOOPBACK, closedPort, startDynamo, startMariadb, startRedis, startS3,
  type DynamoHandle, type MariadbHandle, type PortHandle, type RedisHandle, type S3Handle
} from './harness/index.ts'

// Known secret values in config.toml and in the environment, through every endpoint, every
// backend outcome and every command: none may reach a response, a header, output.log, /logs,
// /metrics, stdout or stderr. The SDK reads the AWS keys from this process's environment; the
// instance metadata service is never asked.
process.env.AWS_EC2_METADATA_DISABLED = 'true'

const secrets = {
  // Quotes and a backslash, which JSON escapes: found only if the scrubber knows every form.
  databaseFile: 'Secret-Db-File-"q"\\9f8e7d',
  databaseEnv: 'Secret-Db-Env-6c5b4a',
  redisFile: 'Secret-Redis-File-3e2d1c',
  redisEnv: 'Secret-Redis-Env-0b9a8f',
  adminToken: 'Secret-Admin-Token-7e6d5c4b',
  awsSecretKey: 'Secret-Aws-Key-2a1b0c',
  awsSessionToken: 'Secret-Aws-Session-5f4e3d'
}
// Every stretch of a secret that JSON (once or twice over), a URL or a log line leaves as it is.
const fragments = Object.entries(secrets).map(([name, value]) => [name, value.match(/[\w-]{6,}/g) ?? [value]] as const)

const awsEnv = (accessKeyId: string) => ({ AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secrets.awsSecretKey, AWS_SESSION_TOKEN: secrets.awsSessionToken })
// The overrides win over the file, whose values stay secrets all the same.
const passwordEnv = { SUAI_DATABASE_PASSWORD: secrets.databaseEnv, SUAI_REDIS_PASSWORD: secrets.redisEnv }

let db: MariadbHandle
let redis: RedisHandle
let otherRedis: RedisHandle
let s3: S3Handle
let dynamo: DynamoHandle
let closed: PortHandle

before(async () => {
  [db, redis, otherRedis, s3, dynamo, closed] = await Promise.all([
    startMariadb(), startRedis({ password: secrets.redisEnv }), startRedis({ password: 'a-password-the-app-never-has' }),
    startS3(), startDynamo(), closedPort()
  ])
  // A user whose password is the override's, so the passing run sends a known secret.
  await db.rootQuery(`CREATE USER 'keeper'@'${LOOPBACK}' IDENTIFIED BY ?`, [secrets.databaseEnv])
  await db.rootQuery(`GRANT ALL ON ${db.database}.* TO 'keeper'@'${LOOPBACK}'`)
  // s3rver knows one key id and, for SigV4, checks no signature: its key id with a known
  // secret passes, any other key id is rejected.
  await s3.createBucket('deployed', { suaicloudapp: 'binary', 'config.toml': '[server]\n' })
  await dynamo.createTable('seed', { hash: ['id', 'S'] })
})

after(async () => {
  await Promise.all([db, redis, otherRedis, s3, dynamo, closed].map(server => server?.stop()))
})

type Backend = 'database' | 'redis' | 's3' | 'dynamodb'
interface Targets { databasePort: number, databaseUser: string, redisPort: number, s3: string, dynamodb: string, table: string }

// The operator's keys (admin token, trace logging so that every error object is written out)
// and four backends with the file's passwords.
function toml (port: number, { databasePort, databaseUser, redisPort, s3, dynamodb, table }: Targets): string {
  return configToml({
    server: { host: LOOPBACK, port, admin_token: secrets.adminToken },
    checks: { timeout_ms: 1000, cache_ms: 0 },
    log: { level: 'trace' },
    aws: { region: 'us-east-1' },
    database: { host: LOOPBACK, port: databasePort, user: databaseUser, password: secrets.databaseFile, dbname: db.database },
    redis: { host: LOOPBACK, port: redisPort, password: secrets.redisFile },
    s3: { bucket: 'deployed', endpoint: s3 },
    dynamodb: { table, partition_key: 'id', endpoint: dynamodb }
  })
}

interface Mode {
  name: string
  config: (port: number) => string
  env: () => NodeJS.ProcessEnv
  // What the token holder sees on /database, /redis, /s3 and /dynamodb: proof that the run is
  // the one its name says, with the details shown.
  expect?: Record<Backend, RegExp>
  commands: string[][]
  // Also run `serve` and talk to it over HTTP.
  serve?: boolean
}

// A backend run ends with both renderings of the same checks.
const checks = [['check'], ['check', '--json']]
const rejected: Omit<Mode, 'name' | 'env'> = {
  commands: checks,
  config: port => toml(port, { databasePort: db.port, databaseUser: db.user, redisPort: otherRedis.port, s3: s3.endpoint, dynamodb: dynamo.endpoint, table: 'absent' }),
  expect: { database: /^FAIL \(auth\): .*Access denied/, redis: /^FAIL \(auth\)/, s3: /^FAIL \(credentials\)/, dynamodb: /^FAIL \(not_found\)/ }
}
function pastedAsUser (name: string, secret: string, env: NodeJS.ProcessEnv): Mode {
  return {
    name,
    config: port => toml(port, { databasePort: db.port, databaseUser: secret, redisPort: otherRedis.port, s3: s3.endpoint, dynamodb: dynamo.endpoint, table: 'seed' }),
    env: () => ({ ...env, ...awsEnv(s3.accessKeyId) }),
    commands: checks,
    expect: { database: /^FAIL \(auth\): .*Access denied for user '\[redacted\]'/, redis: /^FAIL \(auth\)/, s3: /^OK$/, dynamodb: /^OK$/ }
  }
}

// A config that fails to load, with the secrets in it. `check` would print what validate does.
const broken = (body: string, env: NodeJS.ProcessEnv = passwordEnv): Pick<Mode, 'config' | 'env' | 'commands'> => ({
  config: port => `[server]\nhost = '${LOOPBACK}'\nport = ${port}\nadmin_token = '${secrets.adminToken}'\n${body}`,
  env: () => ({ ...env, ...awsEnv('AKIASUAITEST') }),
  commands: [['validate'], ['service', 'install', '--dry-run']]
})

const modes: Mode[] = [
  {
    name: 'every backend passes',
    config: port => toml(port, { databasePort: db.port, databaseUser: 'keeper', redisPort: redis.port, s3: s3.endpoint, dynamodb: dynamo.endpoint, table: 'seed' }),
    env: () => ({ ...passwordEnv, ...awsEnv(s3.accessKeyId) }),
    expect: { database: /^OK$/, redis: /^OK$/, s3: /^OK$/, dynamodb: /^OK$/ },
    commands: [...checks, ['validate'], ['--help'], ['--version'], ['service', 'install', '--dry-run']],
    serve: true
  },
  { name: 'wrong passwords and keys, from the environment', ...rejected, env: () => ({ ...passwordEnv, ...awsEnv('AKIASUAITEST') }) },
  { name: 'wrong passwords, from the file', ...rejected, env: () => awsEnv('AKIASUAITEST') },
  // MySQL quotes the user it refused: here only the scrubber stands between the secret and the text.
  pastedAsUser('the password pasted where the user belongs too', secrets.databaseEnv, passwordEnv),
  // The scrubber runs on the serialized log line, where JSON has escaped the quotes and the backslash.
  pastedAsUser('the same with quotes and a backslash in it', secrets.databaseFile, {}),
  {
    name: 'every backend refuses the connection',
    config: port => toml(port, { databasePort: closed.port, databaseUser: 'keeper', redisPort: closed.port, s3: `http://${LOOPBACK}:${closed.port}`, dynamodb: `http://${LOOPBACK}:${closed.port}`, table: 'seed' }),
    env: () => ({ ...passwordEnv, ...awsEnv('AKIASUAITEST') }),
    commands: checks,
    expect: { database: /^FAIL \(connect\)/, redis: /^FAIL \(connect\)/, s3: /^FAIL \(connect\)/, dynamodb: /^FAIL \(connect\)/ }
  },
  {
    name: 'a broken config: a wrong type beside the secrets',
    ...broken(`[database]\nhost = 'h'\nport = 'x'\nuser = 'u'\npassword = '${secrets.databaseFile}'\ndbname = 'd'\n[redis]\nhost = 'h'\npassword = '${secrets.redisFile}'\n`)
  },
  {
    name: 'a broken config: [[database]] holding the password',
    // Without the database override, which would replace the array with a table of its own.
    ...broken(`[[database]]\nhost = 'h'\nuser = 'u'\npassword = '${secrets.databaseFile}'\ndbname = 'd'\n[redis]\nhost = 'h'\npassword = '${secrets.redisFile}'\n`, { SUAI_REDIS_PASSWORD: secrets.redisEnv }),
    serve: true
  },
  {
    name: 'a broken config: a syntax error on an inline table holding the password',
    ...broken(`database = { host = 'h', user = 'u', password = '${secrets.databaseFile}', dbname = 'd', port = 33 06 }\n`)
  }
]

// Every endpoint, each in both formats where it has two, plus a 404, a 405 and a 400.
const requests: InjectOptions[] = [
  '/', '/health', '/health?format=json', '/instance',
  ...(['database', 'redis', 's3', 'dynamodb'] as const).flatMap(name => [`/${name}`, `/${name}?format=json`]),
  '/checks', '/ready', '/logs', '/logs?format=json', '/metrics', '/fleet', '/no-such-page', '/logs?lines=0'
].map(url => ({ url }))
requests.push({ method: 'DELETE', url: '/health' })
const bearer = { authorization: `Bearer ${secrets.adminToken}` }

test('no secret reaches a response, a header, output.log, /logs, /metrics or the command line', async t => {
  for (const mode of modes) {
    await t.test(mode.name, async t => {
      const env = mode.env()
      const port = await freePort()
      const config = mode.config(port)
      // Read from the start: the command lines run beside the requests.
      const cwd = await workDir(config)
      const ran = Promise.all(mode.commands.map(async args => ({ args, result: await runCli(args, { cwd, env: cleanEnv(env) }) })))

      // The SDK in this process takes its keys from here, as on an instance.
      for (const key of Object.keys(awsEnv(''))) {
        const saved = process.env[key]
        process.env[key] = env[key]
        t.after(() => { if (saved === undefined) delete process.env[key]; else process.env[key] = saved })
      }

      const seen: Array<[where: string, text: string]> = []
      const { fastify, logFile } = await buildApp(t, config, env)
      for (const headers of [bearer, {}]) {
        for (const request of requests) {
          const res = await fastify.inject({ ...request, headers })
          const where = `${request.method ?? 'GET'} ${request.url}${headers === bearer ? ' with the token' : ''}`
          seen.push([where, `${res.statusCode}\n${JSON.stringify(res.headers)}\n${res.body}`])
        }
      }
      if (mode.expect) {
        for (const [name, expected] of Object.entries(mode.expect)) {
          assert.match((await fastify.inject({ url: `/${name}`, headers: bearer })).body, expected, `${mode.name}: /${name}`)
        }
      }
      // /logs and /metrics last, so that they hold everything above.
      await fastify.inject('/log-sentinel')
      await eventually(async () => (await readLog(logFile)).includes('/log-sentinel'))
      for (const url of ['/logs?lines=10000', '/logs?lines=10000&format=json', '/metrics']) {
        seen.push([`final ${url}`, (await fastify.inject({ url, headers: bearer })).body])
      }
      seen.push(['output.log', await readLog(logFile)])

      if (mode.serve) {
        const served = await workDir(config)
        const server = await startCli(t, [], { cwd: served, env: cleanEnv(env) })
        for (const path of ['/health', '/checks', '/database']) seen.push([`serve ${path}`, await (await fetch(server.url + path, { headers: bearer })).text()])
        await server.stop()
        seen.push(['serve stdout and stderr', server.output()], ['serve output.log', await readLog(join(served, 'output.log'))])
      }
      for (const { args, result } of await ran) {
        seen.push([`${args.join(' ')} stdout`, result.stdout], [`${args.join(' ')} stderr`, result.stderr])
      }

      const leaks = seen.flatMap(([where, text]) => fragments
        .filter(([, parts]) => parts.some(part => text.includes(part)))
        .map(([name]) => `${name} in ${where}`))
      assert.deepEqual(leaks, [])
    })
  }
})
