import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { LookupAddress, LookupOptions } from 'node:dns'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildApp, cleanEnv, configToml, makeTempDir, program, root, runCli, workDir } from './helper.ts'
import { makeCertificates, startAws, startDynamo, startMysql8, startRedis, type AwsFixture, type DynamoHandle, type RedisHandle } from './harness/index.ts'
import { netnsMissing, runInNetns } from './harness/netns.ts'
import { imdsEnv, startImds, type ImdsFixture } from './imds-fixture.ts'

// README's "Common mistakes", run: every output quoted there is what the current code prints
// for that mistake, made against real servers or AWS-faithful fixtures. What differs between
// this machine and an instance is put back before comparing: the working directory
// (/home/ec2-user in the README) and the ports the fixtures got (3306, 6379 on AWS). Host
// names are the README's own: a lookup of this test's answers them with loopback, and the
// one run in a network namespace has its own /etc/hosts.

process.env.AWS_EC2_METADATA_DISABLED = 'true'
process.env.AWS_CONFIG_FILE = '/nonexistent/suai-common-mistakes-config'
process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/suai-common-mistakes-credentials'

const HOME = '/home/ec2-user'
// The instance's private address, as RDS would name the client in an access-denied error.
const INSTANCE_IP = '10.0.1.23'
const RDS = 'database-1.c9akciq32.eu-central-1.rds.amazonaws.com'
const ELASTICACHE = 'suai-redis.xk2plq.clustercfg.euc1.cache.amazonaws.com'
const keys = { AWS_ACCESS_KEY_ID: 'AKIACOMMONMISTAKES01', AWS_SECRET_ACCESS_KEY: 'common-mistakes-secret' }

// The README's section, as { title → the text of its fenced block } in order.
async function readmeOutputs (): Promise<Array<{ title: string, output: string }>> {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const section = readme.split('\n## Common mistakes\n')[1]?.split('\n## ')[0] ?? ''
  return [...section.matchAll(/^### (.+)\n[\s\S]*?```\n([\s\S]*?)```/gm)].map(([, title, output]) => ({ title, output }))
}

// Answers the README's host names with loopback, and nothing else: no name reaches a resolver.
function readmeLookup (hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
  if (hostname !== RDS && hostname !== ELASTICACHE) {
    const err: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    callback(err, options.all ? [] : '')
  } else if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }])
  else callback(null, '127.0.0.1', 4)
}

let aws: AwsFixture
let dynamo: DynamoHandle
let tlsRedis: RedisHandle
let imds: ImdsFixture
before(async () => {
  const certs = await makeCertificates()
  ;[aws, dynamo, tlsRedis, imds] = await Promise.all([startAws({ region: 'eu-central-1' }), startDynamo(), startRedis({ tls: certs }), startImds({})])
  await dynamo.createTable('suai-table', { hash: ['id', 'S'], range: ['created', 'N'] })
})
after(async () => { await Promise.all([aws, dynamo, tlsRedis, imds].map(server => server?.stop())) })

// What `curl -s <instance>:8080/<backend>` prints, for a config of these sections.
async function curl (t: TestContext, backend: string, sections: Record<string, Record<string, unknown>>, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { fastify } = await buildApp(t, configToml({ checks: { cache_ms: 0 }, aws: { region: 'eu-central-1' }, ...sections }), env, { lookup: readmeLookup })
  return (await fastify.inject(`/${backend}`)).body
}

async function validate (toml: string): Promise<string> {
  const cwd = await workDir(toml)
  const { stdout, stderr } = await runCli(['validate'], { cwd })
  return (stdout + stderr).replaceAll(cwd, HOME)
}

const database = { host: RDS, user: 'admin', password: 'suai-password-1', dbname: 'suai' }

const mistakes: Partial<Record<string, (t: TestContext) => Promise<string>>> = {
  'A value without quotes': () => validate(`[database]\nhost = ${RDS}\nuser = 'admin'\n`),
  'The region under [s3]': () => validate("[s3]\nbucket = 'suai-bucket'\nregion = 'eu-central-1'\n"),
  'The password is wrong': async t => {
    const db = await startMysql8({ accounts: { admin: { password: 'another-password' } }, databases: ['suai'] })
    t.after(() => db.stop())
    return (await curl(t, 'database', { database: { ...database, port: db.port, tls: 'off' } })).replace("'admin'@'127.0.0.1'", `'admin'@'${INSTANCE_IP}'`)
  },
  'The database was never created': async t => {
    const db = await startMysql8({ accounts: { admin: { password: database.password } }, databases: [] })
    t.after(() => db.stop())
    return await curl(t, 'database', { database: { ...database, port: db.port, tls: 'off' } })
  },
  'Encryption in transit is on, tls is off': async t =>
    (await curl(t, 'redis', { redis: { host: ELASTICACHE, port: tlsRedis.port, tls: false } })).replaceAll(`:${tlsRedis.port}`, ':6379'),
  'No IAM role on the instance': t => curl(t, 's3', { s3: { bucket: 'suai-bucket', endpoint: aws.endpoint } }, imdsEnv(imds.endpoint)),
  'A misspelt bucket name': t => curl(t, 's3', { s3: { bucket: 'suai-bukcet', endpoint: aws.endpoint } }, keys),
  'A table with a sort key': t => curl(t, 'dynamodb', { dynamodb: { table: 'suai-table', partition_key: 'id', endpoint: dynamo.endpoint } }, { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' })
}

// Two mistakes made on an instance's own network, in a network and mount namespace of this
// test's own (test/harness/netns.ts): the seed's port 8080, RDS's 3306 dropped
// as a security group drops it, and an /etc/hosts that knows the RDS endpoint. The user data
// already started the app; the student starts it again by hand, then asks for /database.
async function onTheInstance (): Promise<Record<string, string>> {
  const dir = await makeTempDir('mistakes-netns')
  await writeFile(join(dir, 'hosts'), `127.0.0.1 localhost ${RDS}\n`)
  await writeFile(join(dir, 'config.toml'), configToml({ server: { host: '0.0.0.0', port: 8080 }, database }))
  const student = [
    '"$@" >/dev/null 2>&1 & first=$!',
    'for i in $(seq 100); do curl -sf localhost:8080/health >/dev/null && break; sleep 0.1; done',
    'echo "--- again"; "$@" 2>&1',
    'echo "--- database"; curl -s localhost:8080/database',
    'kill $first; wait $first'
  ].join('\n')
  const { stdout } = await runInNetns(['bash', '-c', student, 'student', ...program()], {
    drop: ['-p tcp --dport 3306 -j DROP'],
    mounts: { '/etc/hosts': join(dir, 'hosts') },
    cwd: dir,
    env: cleanEnv()
  })
  const [, again = '', atDatabase = ''] = stdout.split(/^--- \w+\n/m)
  return { 'The app is already running': again.replaceAll(dir, HOME), 'The security group does not admit 3306': atDatabase }
}

let instance: Promise<Record<string, string>> | undefined
const namespaceMissing = netnsMissing()

for (const { title, output } of await readmeOutputs()) {
  const inProcess = mistakes[title]
  test(title, { skip: inProcess ? undefined : namespaceMissing }, async t => {
    const said = inProcess ? await inProcess(t) : (await (instance ??= onTheInstance()))[title]
    assert.ok(said !== undefined, `README's mistake "${title}" has no reproduction in this test`)
    // The block's first line is the command the student typed.
    assert.equal(said, output.replace(/^\$ .*\n/, ''))
  })
}

test('README lists ten mistakes, and this test makes every one of them', async () => {
  const titles = (await readmeOutputs()).map(({ title }) => title)
  assert.equal(titles.length, 10)
  assert.deepEqual([...titles].sort(), [...Object.keys(mistakes), 'The app is already running', 'The security group does not admit 3306'].sort())
})
