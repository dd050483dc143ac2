import { after, before, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { buildApp, root } from './helper.ts'
import { launchChromium } from './harness/chromium.ts'
import { closedPort, startDynamo, startRedis, startS3, type DynamoHandle, type PortHandle, type RedisHandle, type S3Handle } from './harness/index.ts'
import { identity, imdsEnv, startImds, type ImdsFixture } from './imds-fixture.ts'

// The dashboard as a student sees it: the app with real backends on loopback, the page in
// Debian's Chromium, every card read back from the rendered page.

// Only a test that points it at the fixture (imdsEnv) lets the app ask a metadata service.
process.env.AWS_EC2_METADATA_DISABLED = 'true'

const screenshot = join(root, 'test', 'artifacts', 'dashboard.png')
// Text a backend sends back must stay text on the page.
const MARKUP = '<img src=x onerror="document.title=1">'

let imds: ImdsFixture
let redis: RedisHandle
let closed: PortHandle
let s3: S3Handle
let dynamo: DynamoHandle
let browser: BrowserContext

before(async () => {
  // The browser first: when it cannot start, no server is left running for after() to miss.
  browser = await launchChromium()
  ;[imds, redis, closed, s3, dynamo] = await Promise.all([startImds(), startRedis(), closedPort(), startS3(), startDynamo()])
  await s3.createBucket('empty')
})

after(async () => {
  await browser?.close()
  await Promise.all([imds, redis, closed, s3, dynamo].map(server => server?.stop()))
})

// A tab that collects script errors, Content-Security-Policy violations and every URL it
// asks for, to prove it asks nothing but the app under test.
async function open (t: TestContext, url: string): Promise<{ page: Page, errors: string[], requested: string[] }> {
  const page = await browser.newPage()
  t.after(() => page.close())
  const errors: string[] = []
  const requested: string[] = []
  page.on('request', request => { requested.push(request.url()) })
  // /checks answers 503 while a check fails, which Chromium reports too; that one is expected.
  page.on('console', message => { if (message.type() === 'error' && !/status of 503/.test(message.text())) errors.push(message.text()) })
  page.on('pageerror', err => { errors.push(err.message) })
  await page.goto(url)
  return { page, errors, requested }
}

const database = () => `[database]
host = '${closed.host}'
port = ${closed.port}
user = 'suai'
password = 'secret-Password-1'
dbname = 'seed'
`

test('GET / shows every backend, the instance and the demo switches, and keeps a history', async t => {
  // The page shows the identity of the fixture's instance; the AWS checks take its region.
  const env = { ...imdsEnv(imds.endpoint), AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }
  const { fastify } = await buildApp(t, `[checks]
timeout_ms = 3000
${database()}[redis]
host = '${redis.host}'
port = ${redis.port}
[s3]
bucket = 'empty'
endpoint = '${s3.endpoint}'
[dynamodb]
table = '${MARKUP}'
partition_key = 'id'
endpoint = '${dynamo.endpoint}'
[demo]
enabled = true
`, env)
  const url = await fastify.listen({ host: '127.0.0.1', port: 0 })

  const res = await fastify.inject('/')
  assert.match(res.headers['content-type'] as string, /^text\/html/)
  assert.match(res.headers['content-security-policy'] as string, /default-src 'none'.*script-src 'sha256-/)

  const { page, errors, requested } = await open(t, url)
  const card = (name: string) => page.locator(`#${name}`)
  const pill = (name: string) => card(name).locator('.pill')
  await pill('redis').filter({ hasText: 'pass' }).waitFor({ timeout: 5000 })

  assert.equal(await card('redis').locator('.message').textContent(), 'OK')
  assert.match(await card('redis').locator('.latency').textContent() ?? '', /^\d+ ms$/)

  assert.equal(await pill('database').textContent(), 'fail')
  assert.match(await card('database').locator('.message').textContent() ?? '', /^FAIL \(connect\): .*refused/)
  assert.equal(await card('database').locator('.hint').textContent(), `hint: nothing listens on ${closed.host}:${closed.port}: check [database] port and that the service is running`)

  assert.equal(await pill('s3').textContent(), 'warn')
  assert.match(await card('s3').locator('.message').textContent() ?? '', /no suaicloudapp or config\.toml/)
  assert.match(await card('s3').locator('.details').textContent() ?? '', new RegExp(`region: ${identity.region}`))

  assert.equal(await pill('dynamodb').textContent(), 'fail')
  assert.ok((await card('dynamodb').textContent())?.includes(MARKUP), 'the table name is shown as text')
  assert.equal(await page.locator('img').count(), 0, 'and never becomes an element')

  assert.equal(await page.locator('#instanceId').textContent(), identity.instanceId)
  assert.equal(await page.locator('#availabilityZone').textContent(), identity.availabilityZone)
  assert.equal(await page.locator('#privateIp').textContent(), identity.privateIp)
  assert.equal(await page.locator('#demo-health').textContent(), 'normal')
  assert.equal(await page.locator('#demo-cpu').textContent(), 'idle')
  assert.equal(await page.locator('#overall').textContent(), 'overall: fail')

  // The next refresh adds a mark per card and shows the switch just thrown.
  await fastify.inject({ method: 'POST', url: '/demo/health/fail' })
  await card('redis').locator('.history span:nth-child(2)').waitFor({ timeout: 8000 })
  assert.deepEqual(await card('database').locator('.history span').evaluateAll(marks => marks.map(mark => (mark as unknown as { dataset: { status: string } }).dataset.status)), ['fail', 'fail'])
  await page.locator('#demo-health', { hasText: 'failing on purpose' }).waitFor({ timeout: 1000 })

  await mkdir(join(root, 'test', 'artifacts'), { recursive: true })
  await page.screenshot({ path: screenshot, fullPage: true })

  assert.equal(await page.title(), 'suaicloudapp')
  assert.deepEqual(errors, [], 'no script error and no Content-Security-Policy violation')
  assert.deepEqual(requested.filter(request => !request.startsWith(url)), [], 'the page asked nothing but this server')
})

test('with [server] admin_token the page shows only pass or fail, and all of it with #token=', async t => {
  const token = 'dashboard-Admin-token-1'
  const { fastify } = await buildApp(t, `[server]\nadmin_token = '${token}'\n${database()}`)
  const url = await fastify.listen({ host: '127.0.0.1', port: 0 })

  const anonymous = await open(t, url)
  const message = anonymous.page.locator('#database .message')
  await message.filter({ hasText: 'FAIL' }).waitFor({ timeout: 5000 })
  assert.equal(await message.textContent(), 'FAIL')
  assert.match(await anonymous.page.locator('#database .hint').textContent() ?? '', /need the admin token: open this page as \/#token=/)

  const admin = await open(t, `${url}/#token=${token}`)
  await admin.page.locator('#database .message', { hasText: 'FAIL (connect)' }).waitFor({ timeout: 5000 })
  assert.match(await admin.page.locator('#database .hint').textContent() ?? '', /^hint: nothing listens on/)
  assert.deepEqual([...anonymous.errors, ...admin.errors], [])
  assert.ok([...anonymous.requested, ...admin.requested].every(request => request.startsWith(url)))
})
