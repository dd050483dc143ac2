import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { buildApp, freePort, root, startCli, workDir } from './helper.ts'
import { launchChromium } from './harness/chromium.ts'
import {
  closedPort, startAws, startDynamo, startMariadb, startRedis, startS3, startSilentServer,
  type AwsFixture, type DynamoHandle, type MariadbHandle, type PortHandle, type RedisHandle, type S3Handle
} from './harness/index.ts'
import { identity, imdsEnv, network, startImds, type ImdsFixture } from './imds-fixture.ts'
import { createImds } from '../lib/imds.ts'
import { dashboardFileNames, readDashboardFiles } from '../routes/dashboard-files.ts'

// The dashboard as a student sees it: the app with real backends on loopback, the page in
// Debian's Chromium, every card read back from the rendered page. Each state is asserted from
// the DOM, then photographed into test/artifacts/.

// Only a test that points it at the fixture (imdsEnv) lets the app ask a metadata service.
process.env.AWS_EC2_METADATA_DISABLED = 'true'

const artifacts = join(root, 'test', 'artifacts')
// Text a backend sends back must stay text on the page.
const MARKUP = '<img src=x onerror="document.title=1">'
const TABLE = 'suaicloudtable'

let imds: ImdsFixture
let mariadb: MariadbHandle
let redis: RedisHandle
let closed: PortHandle
let silent: PortHandle
let s3: S3Handle
let dynamo: DynamoHandle
let aws: AwsFixture
let browser: BrowserContext

before(async () => {
  // The browser first: when it cannot start, no server is left running for after() to miss.
  browser = await launchChromium()
  ;[imds, mariadb, redis, closed, silent, s3, dynamo, aws] = await Promise.all([startImds(), startMariadb(), startRedis(), closedPort(), startSilentServer(), startS3(), startDynamo(), startAws()])
  await Promise.all([
    s3.createBucket('empty'),
    s3.createBucket('deployed', { suaicloudapp: 'the executable goes here', 'config.toml': '[server]\n' }),
    dynamo.createTable(TABLE, { hash: ['id', 'S'] })
  ])
  await mkdir(artifacts, { recursive: true })
})

after(async () => {
  await browser?.close()
  await Promise.all([imds, mariadb, redis, closed, silent, s3, dynamo, aws].map(server => server?.stop()))
})

// A tab that collects script errors, Content-Security-Policy violations and every URL it
// asks for, to prove it asks nothing but the app under test.
async function open (t: TestContext, url: string, viewport?: { width: number, height: number }): Promise<{ page: Page, errors: string[], requested: string[] }> {
  const page = await browser.newPage()
  t.after(() => page.close())
  if (viewport) await page.setViewportSize(viewport)
  const errors: string[] = []
  const requested: string[] = []
  page.on('request', request => { requested.push(request.url()) })
  // /checks answers 503 while a check fails, and /fleet 401 without the admin token, which
  // Chromium reports too; those are expected.
  page.on('console', message => { if (message.type() === 'error' && !/status of (503|401)/.test(message.text())) errors.push(message.text()) })
  page.on('pageerror', err => { errors.push(err.message) })
  await page.goto(url)
  return { page, errors, requested }
}

// What every state shares: no script error, no CSP violation, no request beyond the app.
function assertSelfContained ({ errors, requested }: { errors: string[], requested: string[] }, url: string) {
  assert.deepEqual(errors, [], 'no script error and no Content-Security-Policy violation')
  assert.deepEqual(requested.filter(request => !request.startsWith(url)), [], 'the page asked nothing but this server')
}

const card = (page: Page, name: string) => page.locator(`#${name}`)
const pill = (page: Page, name: string) => card(page, name).locator('.pill')
const status = (page: Page, name: string) => card(page, name).getAttribute('data-status')
const photograph = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `dashboard-${name}.png`), fullPage: true })

const sections = {
  database: (port = mariadb.port) => `[database]\nhost = '${mariadb.host}'\nport = ${port}\nuser = '${mariadb.user}'\npassword = '${mariadb.password}'\ndbname = '${mariadb.database}'\n`,
  redis: (port = redis.port) => `[redis]\nhost = '${redis.host}'\nport = ${port}\n`,
  s3: (bucket: string) => `[s3]\nbucket = '${bucket}'\nendpoint = '${s3.endpoint}'\n`,
  dynamodb: (table: string) => `[dynamodb]\ntable = '${table}'\npartition_key = 'id'\nendpoint = '${dynamo.endpoint}'\n`
}
// The tests share one Redis: with the heartbeat on, each page would show the instances of the
// tests before it. Only the fleet's own test (with a Redis of its own) and the one without a
// shared store keep it on.
const NO_FLEET = '[fleet]\nenabled = false\n'
// The page shows the identity of the fixture's instance; the AWS checks take its region. The
// audit the page asks for reads the load balancer and the Auto Scaling group from the AWS
// fixture, never from AWS.
const awsEnv = () => ({
  ...imdsEnv(imds.endpoint),
  AWS_ACCESS_KEY_ID: s3.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  ...Object.fromEntries(['ELASTIC_LOAD_BALANCING_V2', 'AUTO_SCALING', 'EC2', 'RDS', 'ELASTICACHE'].map(service => [`AWS_ENDPOINT_URL_${service}`, aws.endpoint]))
})

test('GET / serves the files of routes/dashboard/ under a Content-Security-Policy that allows only this server', async t => {
  const { fastify } = await buildApp(t, sections.redis())
  const files = readDashboardFiles()
  for (const [url, name, type] of [['/', 'index.html', /^text\/html/], ['/dashboard.css', 'dashboard.css', /^text\/css/], ['/dashboard.js', 'dashboard.js', /^text\/javascript/]] as const) {
    const res = await fastify.inject(url)
    assert.equal(res.statusCode, 200, url)
    assert.match(res.headers['content-type'] as string, type)
    assert.equal(res.body, files[name], url)
    assert.match(res.headers['content-security-policy'] as string, /default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'/)
  }
  assert.deepEqual(dashboardFileNames, ['index.html', 'dashboard.css', 'dashboard.js'])
})

test('all pass: four green cards, the files S3 found, the instance, and the history the server kept', async t => {
  const { fastify } = await buildApp(t, NO_FLEET + '[checks]\ncache_ms = 0\n' + sections.database() + sections.redis() + sections.s3('deployed') + sections.dynamodb(TABLE), awsEnv())
  // Results from before the page opened: it shows them from its first load.
  await fastify.inject('/checks')
  await fastify.inject('/checks')
  const url = await fastify.listen({ host: '127.0.0.1', port: 0 })
  const tab = await open(t, url)
  const { page } = tab
  for (const name of ['database', 'redis', 's3', 'dynamodb']) {
    await pill(page, name).filter({ hasText: 'pass' }).waitFor({ timeout: 15000 })
    assert.equal(await card(page, name).locator('.message').textContent(), 'OK', name)
    assert.match(await card(page, name).locator('.latency').textContent() ?? '', /^\d+ ms$/)
    assert.equal(await card(page, name).locator('.hint').isVisible(), false, 'no empty hint box')
  }
  assert.equal(await page.locator('#overall').textContent(), 'overall: pass')
  // What S3 found at the bucket's root.
  const s3Details = await card(page, 's3').locator('.details').textContent() ?? ''
  assert.match(s3Details, /deployed files/)
  assert.match(s3Details, /✓ suaicloudapp/)
  assert.match(s3Details, /✓ config\.toml/)
  assert.match(s3Details, new RegExp(`region${identity.region}`))

  // The server's history, labelled and readable without hovering: the two checks run before
  // the page opened, and the page's own.
  const history = card(page, 'redis').locator('.history')
  const kept = Number(/^last (\d+) results, oldest first/.exec(await history.locator('h3').textContent() ?? '')?.[1])
  assert.ok(kept >= 3, `${kept} results shown`)
  assert.equal(await history.locator('.marks span').count(), kept)
  const rows = await history.locator('tr').evaluateAll(trs => trs.map(tr => [...tr.children].map(td => td.textContent)))
  assert.equal(rows.length, Math.min(kept, 5))
  for (const [time, result, took] of rows) {
    assert.match(time ?? '', /\d{1,2}:\d{2}:\d{2}/)
    assert.equal(result, 'pass')
    assert.match(took ?? '', /^\d+ ms$/)
  }

  // The header without stray separators; the footer says what each endpoint answers.
  assert.match(await page.locator('#about').textContent() ?? '', /^v\d+\.\d+\.\d+ · up \d+ s$/)
  const footer = await page.locator('footer').textContent() ?? ''
  for (const fact of ['/health: text', '/logs: text', '/ready: text', '/metrics: text', '/checks: JSON', '/instance: JSON']) assert.ok(footer.includes(fact), fact)
  assert.equal(await page.locator('#instanceId').textContent(), identity.instanceId)
  // Where it sits in its VPC, what pinpointing starts from (no token: everyone is admin).
  assert.equal(await page.locator('#subnet').textContent(), `${network.subnetId} (${network.subnetCidr})`)
  assert.equal(await page.locator('#securityGroups').textContent(), network.securityGroupIds.join(', '))
  assert.equal(await page.locator('#publicIp').textContent(), 'none')
  await photograph(page, 'all-pass')
  assertSelfContained(tab, url)
})

test('two failing: each says the stage and the hint, a message stays text, and the history grows', async t => {
  const { fastify } = await buildApp(t, NO_FLEET + '[checks]\ncache_ms = 0\n' + sections.database(closed.port) + sections.redis() + sections.s3('empty') + sections.dynamodb(MARKUP) + '[demo]\nenabled = true\n', awsEnv())
  const url = await fastify.listen({ host: '127.0.0.1', port: 0 })
  const tab = await open(t, url)
  const { page } = tab
  await pill(page, 'database').filter({ hasText: 'fail' }).waitFor({ timeout: 8000 })
  await pill(page, 'dynamodb').filter({ hasText: 'fail' }).waitFor({ timeout: 8000 })
  await pill(page, 's3').filter({ hasText: 'warn' }).waitFor({ timeout: 8000 })
  await pill(page, 'redis').filter({ hasText: 'pass' }).waitFor({ timeout: 8000 })

  assert.match(await card(page, 'database').locator('.message').textContent() ?? '', /^FAIL \(connect\): .*refused/)
  assert.equal(await card(page, 'database').locator('.hint').textContent(), `hint: nothing listens on ${closed.host}:${closed.port}: check [database] port and that the service is running`)
  assert.match(await card(page, 's3').locator('.message').textContent() ?? '', /no suaicloudapp or config\.toml/)
  assert.match(await card(page, 's3').locator('.details').textContent() ?? '', /✗ suaicloudapp \(missing\).*✗ config\.toml \(missing\)/)
  assert.ok((await card(page, 'dynamodb').textContent())?.includes(MARKUP), 'the table name is shown as text')
  assert.equal(await page.locator('img').count(), 0, 'and never becomes an element')
  assert.equal(await page.locator('#overall').textContent(), 'overall: fail')
  assert.equal(await page.locator('#demo-health').textContent(), 'normal')

  // The next refresh adds to the server's history and shows the switch just thrown.
  await fastify.inject({ method: 'POST', url: '/demo/health/fail' })
  await card(page, 'database').locator('.marks span:nth-child(2)').waitFor({ timeout: 8000 })
  assert.deepEqual(await card(page, 'database').locator('.marks span').evaluateAll(marks => marks.map(mark => mark.getAttribute('data-status'))).then(marks => [...new Set(marks)]), ['fail'])
  assert.match(await card(page, 'database').locator('tr td:nth-child(2)').first().textContent() ?? '', /^fail \(connect\)$/)
  await page.locator('#demo-health', { hasText: 'failing on purpose' }).waitFor({ timeout: 6000 })
  await photograph(page, 'two-failing')
  assertSelfContained(tab, url)
})

test('one slow: the other cards answer while its card still says "checking…"', async t => {
  // A long timeout, so the others surely answer while Redis still hangs, even on a busy machine.
  const { fastify } = await buildApp(t, NO_FLEET + '[checks]\ntimeout_ms = 8000\n' + sections.database() + sections.redis(silent.port) + sections.s3('deployed'), awsEnv())
  const url = await fastify.listen({ host: '127.0.0.1', port: 0 })
  const tab = await open(t, url)
  const { page } = tab
  await pill(page, 'database').filter({ hasText: 'pass' }).waitFor({ timeout: 6000 })
  await pill(page, 's3').filter({ hasText: 'pass' }).waitFor({ timeout: 6000 })
  // Mid-load: Redis has not answered (its server accepts and stays silent).
  assert.equal(await status(page, 'redis'), 'checking')
  assert.equal(await pill(page, 'redis').textContent(), 'checking…')
  assert.equal(await page.locator('#overall').textContent(), 'checking…')
  assert.equal(await pill(page, 'dynamodb').textContent(), 'not configured')
  await photograph(page, 'one-slow')

  // Then its timeout turns into a failure that says where it hung.
  await pill(page, 'redis').filter({ hasText: 'fail' }).waitFor({ timeout: 12000 })
  assert.match(await card(page, 'redis').locator('.message').textContent() ?? '', /no answer from redis .* within 8000 ms/)
  assert.equal(await page.locator('#overall').textContent(), 'overall: fail')
  assertSelfContained(tab, url)
})

test('a broken config: the problems on top, the section with them failing at stage config', async t => {
  const { fastify } = await buildApp(t, NO_FLEET + sections.database().replace('port =', 'prot =') + sections.redis())
  const url = await fastify.listen({ host: '127.0.0.1', port: 0 })
  const tab = await open(t, url)
  const { page } = tab
  await pill(page, 'database').filter({ hasText: 'fail' }).waitFor({ timeout: 5000 })
  await pill(page, 'redis').filter({ hasText: 'pass' }).waitFor({ timeout: 5000 })
  assert.match(await page.locator('#problems').textContent() ?? '', /config\.toml has problems.*\n.*prot/)
  assert.ok(await page.locator('#problems').isVisible())
  assert.match(await card(page, 'database').locator('.message').textContent() ?? '', /^FAIL \(config\): \[database\] has a problem in config\.toml/)
  assert.equal(await page.locator('#overall').textContent(), 'config invalid')
  await photograph(page, 'broken-config')
  assertSelfContained(tab, url)
})

test('on a phone (390 px wide) every card fits the width, one under another', async t => {
  const { fastify } = await buildApp(t, NO_FLEET + '[checks]\ncache_ms = 0\n' + sections.database(closed.port) + sections.redis() + sections.s3('deployed') + sections.dynamodb(TABLE), awsEnv())
  const url = await fastify.listen({ host: '127.0.0.1', port: 0 })
  const tab = await open(t, url, { width: 390, height: 844 })
  const { page } = tab
  for (const name of ['database', 'redis', 's3', 'dynamodb']) await pill(page, name).filter({ hasNotText: 'checking' }).waitFor({ timeout: 8000 })
  assert.equal(await page.locator('html').evaluate(html => (html as unknown as { scrollWidth: number }).scrollWidth), 390, 'no sideways scrolling')
  const boxes = await page.locator('.card').evaluateAll(cards => cards.map(card => card.getBoundingClientRect()).map(({ left, right, top }) => ({ left, right, top })))
  assert.equal(boxes.length, 4)
  for (const box of boxes) assert.ok(box.left >= 0 && box.right <= 390, JSON.stringify(box))
  assert.ok(boxes.every((box, i) => i === 0 || box.top > boxes[i - 1].top), 'one column')
  await photograph(page, 'phone')
  assertSelfContained(tab, url)
})

test('with [server] admin_token the page shows only pass or fail, and all of it with #token=', async t => {
  const token = 'dashboard-Admin-token-1'
  const { fastify } = await buildApp(t, `[server]\nadmin_token = '${token}'\n${sections.database(closed.port)}`)
  const url = await fastify.listen({ host: '127.0.0.1', port: 0 })

  const anonymous = await open(t, url)
  const message = anonymous.page.locator('#database .message')
  await message.filter({ hasText: 'FAIL' }).waitFor({ timeout: 5000 })
  assert.equal(await message.textContent(), 'FAIL')
  assert.match(await anonymous.page.locator('#database .hint').textContent() ?? '', /need the admin token: open this page as \/#token=/)

  // The fleet is behind the token too.
  await anonymous.page.locator('#fleet-source', { hasText: 'the fleet needs the admin token' }).waitFor({ timeout: 5000 })
  assert.equal(await anonymous.page.locator('#fleet .zone').count(), 0)

  const admin = await open(t, `${url}/#token=${token}`)
  await admin.page.locator('#database .message', { hasText: 'FAIL (connect)' }).waitFor({ timeout: 5000 })
  assert.match(await admin.page.locator('#database .hint').textContent() ?? '', /^hint: nothing listens on/)
  // No shared store: this instance only, and why.
  await admin.page.locator('#fleet-source', { hasText: 'this instance only' }).waitFor({ timeout: 5000 })
  assert.equal(await admin.page.locator('#fleet-source').textContent(), 'this instance only: neither [redis] nor [dynamodb] is configured')
  assert.equal(await admin.page.locator('#fleet .zone tr').count(), 2, 'a header and this instance')
  assertSelfContained(anonymous, url)
  assertSelfContained(admin, url)
})

test('the program as users run it (the executable when SUAI_TEST_BIN names one) serves the same files, and the page works', async t => {
  const cwd = await workDir(`[server]\nhost = '127.0.0.1'\nport = ${await freePort()}\n` + NO_FLEET + sections.redis())
  const { url } = await startCli(t, ['serve'], { cwd })
  const files = readDashboardFiles()
  for (const [path, name] of [['/', 'index.html'], ['/dashboard.css', 'dashboard.css'], ['/dashboard.js', 'dashboard.js']] as const) {
    assert.equal(await (await fetch(url + path)).text(), files[name], path)
  }
  const tab = await open(t, url)
  await pill(tab.page, 'redis').filter({ hasText: 'pass' }).waitFor({ timeout: 10000 })
  assert.equal(await pill(tab.page, 'database').textContent(), 'not configured')
  assertSelfContained(tab, url)
})

test('the fleet: three instances in two AZs through the shared Redis, grouped by AZ, with the verdict naming the AZ that fails', async t => {
  const shared = await startRedis()
  t.after(() => shared.stop())
  const start = async (instanceId: string, availabilityZone: string, databasePort: number) => {
    const fixture = await startImds({ instance: { instanceId, availabilityZone } })
    t.after(() => fixture.stop())
    const env = imdsEnv(fixture.endpoint)
    const toml = '[checks]\ntimeout_ms = 1000\ncache_ms = 0\n[fleet]\ninterval_ms = 300\n' + sections.database(databasePort) + sections.redis(shared.port)
    // A metadata client with time to spare on two busy cores, as test/fleet.test.ts makes it.
    const { fastify } = await buildApp(t, toml, env, { imds: createImds({ env, requestTimeoutMs: 5000, lookupTimeoutMs: 10_000 }) })
    return fastify.listen({ host: '127.0.0.1', port: 0 })
  }
  // The database is reachable from eu-central-1a and not from eu-central-1b: a subnet or
  // security group of one AZ, the mistake the fleet view is for.
  const [url] = await Promise.all([
    start('i-0aaaaaaaaaaaaaaa1', 'eu-central-1a', mariadb.port),
    start('i-0aaaaaaaaaaaaaaa2', 'eu-central-1a', mariadb.port),
    start('i-0bbbbbbbbbbbbbbb1', 'eu-central-1b', closed.port)
  ])
  const tab = await open(t, url)
  const { page } = tab
  const zones = page.locator('#fleet .zone')
  await page.locator('#fleet-verdict li', { hasText: 'database fails only in eu-central-1b' }).waitFor({ timeout: 15000 })
  await page.locator('#fleet .zone[data-zone="eu-central-1a"] tr').nth(2).waitFor({ timeout: 10000 })
  assert.deepEqual(await zones.locator('h3').allTextContents(), ['eu-central-1a: 2 instances', 'eu-central-1b: 1 instance'])
  assert.match(await page.locator('#fleet-source').textContent() ?? '', /^from the heartbeats in redis, read at /)
  const rows = async (zone: string) => page.locator(`#fleet .zone[data-zone="${zone}"] tr`).evaluateAll(trs => trs.map(tr => [...tr.children].map(cell => cell.textContent)))
  assert.deepEqual(await rows('eu-central-1a'), [
    ['instance', 'database', 'redis'],
    ['i-0aaaaaaaaaaaaaaa1 (this one)', 'pass', 'pass'],
    ['i-0aaaaaaaaaaaaaaa2', 'pass', 'pass']
  ])
  assert.deepEqual(await rows('eu-central-1b'), [
    ['instance', 'database', 'redis'],
    ['i-0bbbbbbbbbbbbbbb1', 'fail (connect)', 'pass']
  ])
  assert.match(await page.locator('#fleet-verdict').textContent() ?? '', /look at that AZ's subnet, route table and security groups/)
  await page.locator('#fleet').scrollIntoViewIfNeeded()
  await photograph(page, 'fleet')
  assertSelfContained(tab, url)
})

test('the audit: a public bucket and a load balancer whose probes time out, each row with its evidence and fix', async t => {
  const targetGroup = `arn:aws:elasticloadbalancing:${aws.region}:123456789012:targetgroup/suai-targets/73e2d6bc24d8a067`
  aws.loadBalancing.targetGroups.push({
    TargetGroupArn: targetGroup,
    TargetGroupName: 'suai-targets',
    Protocol: 'HTTP',
    Port: 8080,
    HealthCheckProtocol: 'HTTP',
    HealthCheckPort: 'traffic-port',
    HealthCheckPath: '/',
    Matcher: { HttpCode: '200' },
    TargetType: 'instance',
    targets: [{ Target: { Id: identity.instanceId, Port: 8080 }, HealthCheckPort: '8080', TargetHealth: { State: 'unhealthy', Reason: 'Target.Timeout', Description: 'Request timed out' } }]
  })
  aws.loadBalancing.autoScalingGroups.push({
    AutoScalingGroupName: 'suai-asg',
    AvailabilityZones: ['eu-central-1a', 'eu-central-1b'],
    TargetGroupARNs: [targetGroup],
    Instances: [{ InstanceId: identity.instanceId, AvailabilityZone: identity.availabilityZone }]
  })
  aws.putTable(TABLE, { hash: ['id', 'S'] })
  const { fastify } = await buildApp(t, `[server]\nport = 8080\n${NO_FLEET}[aws]\nregion = '${aws.region}'\n[s3]\nbucket = 'public-bucket'\nendpoint = '${aws.endpoint}'\n[dynamodb]\ntable = '${TABLE}'\npartition_key = 'id'\nendpoint = '${aws.endpoint}'\n`, awsEnv())
  const url = await fastify.listen({ host: '127.0.0.1', port: 0 })
  const tab = await open(t, url)
  const row = (id: string) => tab.page.locator(`#audit .audit-row[data-id=${id}]`)
  await row('target-health').waitFor({ timeout: 10000 })
  assert.equal(await row('bucket-private').getAttribute('data-status'), 'fail')
  assert.equal(await row('bucket-private').locator('.verdict').textContent(), 'failthe bucket public-bucket is private')
  assert.equal(await row('bucket-private').locator('.evidence').textContent(), 'the bucket policy of public-bucket makes it public (GetBucketPolicyStatus: IsPublic true)')
  assert.equal(await row('dynamodb-key').getAttribute('data-status'), 'pass')
  assert.equal(await row('target-group').getAttribute('data-status'), 'fail')
  assert.match(await row('target-group').locator('.fix').textContent() ?? '', /set the health check path to \/health \(it asks \/\)/)
  assert.equal(await row('target-health').getAttribute('data-status'), 'fail')
  assert.equal(await row('target-health').locator('.evidence').textContent(), `${identity.instanceId} on port 8080 in suai-targets: unhealthy (Target.Timeout: Request timed out)`)
  assert.match(await row('target-health').locator('.fix').textContent() ?? '', /^fix: the probes get no answer: add an inbound rule/)
  assert.equal(await row('auto-scaling').getAttribute('data-status'), 'pass')
  assert.match(await tab.page.locator('#audit-source').textContent() ?? '', /^read at .* in \d+ ms \(budget 10 s\); refreshed every minute$/)
  await photograph(tab.page, 'audit')
  assertSelfContained(tab, url)
})
