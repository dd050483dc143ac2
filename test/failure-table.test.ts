import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { readFile, writeFile } from 'node:fs/promises'
import { buildApp, cleanEnv, configToml, makeTempDir, program, root } from './helper.ts'
import type { BuildOptions } from '../server.ts'
import { createLookup } from '../lib/lookup.ts'
import { ROLE_NAME, dynamoScenarios, s3Scenarios, startAws, startFailingDns, startMysql8, type AwsFixture, type DnsFailure, type Mysql8Options } from './harness/index.ts'
import { startRespServer } from './harness/resp.ts'
import { netnsMissing, runInNetns } from './harness/netns.ts'
import { imdsEnv, startImds, type ImdsOptions } from './imds-fixture.ts'

// README's table of failures, run: each row names a fixture scenario, which the app's real
// check meets; the stage must be the row's, and the hint must say what the row says to change.
// Every scenario of the AWS fixture must have its row, so the table cannot leave one out.

process.env.AWS_EC2_METADATA_DISABLED = 'true'
process.env.AWS_CONFIG_FILE = '/nonexistent/suai-failure-table-config'
process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/suai-failure-table-credentials'

const TIMEOUT_MS = 1000
const PASSWORD = 'suai-password'
const keys = { AWS_ACCESS_KEY_ID: 'AKIAFAILURETABLE0001', AWS_SECRET_ACCESS_KEY: 'failure-table-secret' }

interface Row { scenario: string, stage: string, hint: string }

async function readmeRows (): Promise<Row[]> {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const section = readme.split('### Failures and their hints')[1]?.split('\n#')[0] ?? ''
  return section.split('\n').filter(line => /^\| `[\w-]+:[\w-]+`/.test(line)).map(line => {
    const [scenario, , stage, hint] = line.split(' | ').map(cell => cell.replace(/^\| |\s*\|$/g, '').trim())
    return { scenario: scenario.replaceAll('`', ''), stage: stage.replaceAll('`', ''), hint }
  })
}

let aws: AwsFixture
before(async () => {
  aws = await startAws({ region: 'eu-central-1' })
  aws.putBucket('get-object-denied', { 'config.toml': '[server]\n' })
  aws.putBucket('kms-decrypt-denied', { 'config.toml': '[server]\n' })
  aws.putBucket('deployed', { 'config.toml': '[server]\n' })
})
after(async () => { await aws?.stop() })

const mysqlRefusals: Record<string, Mysql8Options> = {
  'wrong-password': { accounts: { suai: { password: 'another', cached: true } } },
  'unknown-database': { databases: ['other'] },
  'too-many-connections': { refuse: 'too-many-connections' },
  'host-blocked': { refuse: 'host-blocked' },
  'secure-transport-required': { requireSecureTransport: true },
  'account-locked': { accounts: { suai: { password: PASSWORD, cached: true, locked: true } } },
  'password-expired': { accounts: { suai: { password: PASSWORD, cached: true, passwordExpired: true } } }
}

const imdsFailures: Record<string, ImdsOptions> = {
  'token-unanswered': { role: ROLE_NAME, tokenUnanswered: true },
  disabled: { role: ROLE_NAME, disabled: true },
  'no-role': {}
}

async function inject (t: TestContext, backend: string, section: Record<string, unknown>, env: NodeJS.ProcessEnv, options: BuildOptions = {}) {
  const { fastify } = await buildApp(t, configToml({ checks: { timeout_ms: TIMEOUT_MS, cache_ms: 0 }, aws: { region: aws.region }, [backend]: section }), env, options)
  const started = performance.now()
  const res = await fastify.inject(`/${backend}?format=json`)
  assert.ok(performance.now() - started < TIMEOUT_MS + 500)
  return res.json() as { status: string, stage: string, hint?: string, message: string }
}

// AWS's own API endpoints (no [section] endpoint), by backend.
const apiSections: Record<string, Record<string, unknown>> = {
  s3: { bucket: 'suai-lab-bucket' },
  dynamodb: { table: 'suai-lab', partition_key: 'id' }
}

// The executable's `check` for one backend at AWS's API endpoint, in a network namespace whose
// /etc/hosts sends the API's names to loopback, where port 443 drops every packet: a private
// subnet without a route to the API.
async function checkWithoutRoute (backend: string) {
  const dir = await makeTempDir('no-route')
  const region = aws.region
  await writeFile(join(dir, 'hosts'), `127.0.0.1 localhost\n127.0.0.1 s3.${region}.amazonaws.com suai-lab-bucket.s3.${region}.amazonaws.com dynamodb.${region}.amazonaws.com\n`)
  await writeFile(join(dir, 'config.toml'), configToml({ checks: { timeout_ms: TIMEOUT_MS }, aws: { region }, [backend]: apiSections[backend] }))
  const { stdout, stderr } = await runInNetns([...program(), 'check', '--json'], {
    drop: ['-p tcp --dport 443 -j DROP'],
    mounts: { '/etc/hosts': join(dir, 'hosts') },
    cwd: dir,
    env: cleanEnv(keys)
  })
  assert.ok(!`${stdout}${stderr}`.includes(keys.AWS_SECRET_ACCESS_KEY))
  const result = (JSON.parse(stdout) as Array<{ backend: string, status: string, stage: string, hint?: string, message: string, durationMs: number }>).find(each => each.backend === backend)
  assert.ok(result && result.durationMs <= TIMEOUT_MS + 500, JSON.stringify(result))
  return result
}

// What the check says in a scenario "<kind>:<name>".
async function run (t: TestContext, scenario: string) {
  const [kind, name] = scenario.split(':')
  if (kind === 's3') return inject(t, 's3', { bucket: name, endpoint: aws.endpoint }, keys)
  if (kind === 'dynamodb') return inject(t, 'dynamodb', { table: name, partition_key: 'id', endpoint: aws.endpoint }, keys)
  if (kind === 'route') return checkWithoutRoute(name)
  if (kind === 's3-dns' || kind === 'dynamodb-dns') {
    const dns = await startFailingDns(name as DnsFailure)
    t.after(() => dns.stop())
    const backend = kind.replace('-dns', '')
    return inject(t, backend, apiSections[backend], keys, { lookup: createLookup([dns.server]) })
  }
  if (kind === 'redis') {
    // redis-5-wrong-token: ElastiCache Redis OSS 5 with an AUTH token, given another one.
    const redis = await startRespServer('redis-5.0.14', { password: 'the-auth-token-0001' })
    t.after(() => redis.stop())
    return inject(t, 'redis', { host: redis.host, port: redis.port, password: 'another-token-00002' }, {})
  }
  if (kind === 'mysql') {
    const db = await startMysql8({ accounts: { suai: { password: PASSWORD } }, ...mysqlRefusals[name] })
    t.after(() => db.stop())
    return inject(t, 'database', { host: db.host, port: db.port, user: 'suai', password: PASSWORD, dbname: 'suai', tls: 'off' }, {})
  }
  if (kind === 'dns') {
    const dns = await startFailingDns(name as DnsFailure)
    t.after(() => dns.stop())
    return inject(t, 'database', { host: 'db.example.invalid', port: 3306, user: 'suai', dbname: 'suai' }, {}, { lookup: createLookup([dns.server]) })
  }
  if (kind === 'imds') {
    const imds = await startImds(imdsFailures[name])
    t.after(() => imds.stop())
    // The SDK's credential chain reads the process's environment, as on an instance.
    const saved = { ...process.env }
    Object.assign(process.env, imdsEnv(imds.endpoint))
    t.after(() => { process.env = saved })
    return inject(t, 's3', { bucket: 'deployed', endpoint: aws.endpoint }, imdsEnv(imds.endpoint))
  }
  throw new Error(`unknown scenario ${scenario}`)
}

test('README\'s failure table names every scenario of the AWS fixture', async () => {
  const named = new Set((await readmeRows()).map(row => row.scenario))
  const missing = [...Object.keys(s3Scenarios).map(name => `s3:${name}`), ...Object.keys(dynamoScenarios).map(name => `dynamodb:${name}`)].filter(scenario => !named.has(scenario))
  assert.deepEqual(missing, [])
})

test('every row of README\'s failure table is what the check says', async t => {
  const rows = await readmeRows()
  assert.ok(rows.length > 40, `${rows.length} rows`)
  for (const row of rows) {
    const skip = row.scenario.startsWith('route:') ? netnsMissing() : undefined
    await t.test(row.scenario, { skip }, async t => {
      const result = await run(t, row.scenario)
      const expected = row.stage === 'warn' ? ['warn', 'request'] : ['fail', row.stage]
      assert.deepEqual([result.status, result.stage], expected, JSON.stringify(result))
      // A warning's whole advice is its message.
      const said = result.status === 'warn' ? result.message : result.hint ?? ''
      assert.ok(said.includes(row.hint), `the hint "${said}" does not say "${row.hint}"`)
    })
  }
})
