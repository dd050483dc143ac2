import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildServer } from '../server.ts'
import { buildApp, eventually, minimalConfig, readLog, workDir } from './helper.ts'

test('GET /health answers healthy as plain text', async t => {
  const { fastify } = await buildApp(t, minimalConfig)
  const res = await fastify.inject('/health')
  assert.equal(res.statusCode, 200)
  assert.equal(res.body, 'healthy')
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
})

test('GET /health as health+json, by Accept header or ?format=json', async t => {
  const { fastify } = await buildApp(t, minimalConfig)
  for (const res of [
    await fastify.inject({ url: '/health', headers: { accept: 'application/health+json' } }),
    await fastify.inject('/health?format=json')
  ]) {
    assert.equal(res.statusCode, 200)
    assert.match(res.headers['content-type'] as string, /^application\/health\+json/)
    const body = res.json()
    assert.equal(body.status, 'pass')
    assert.equal(body.version, '0.1.0')
    assert.equal(typeof body.uptime, 'number')
  }
})

test('a broken config makes /health 503 with the problems, and they reach output.log', async t => {
  const { fastify, logFile } = await buildApp(t, "[server]\nport = 8080\n[database]\nhots = 'x'\n")
  const res = await fastify.inject('/health')
  assert.equal(res.statusCode, 503)
  assert.match(res.body, /^unhealthy: the config is invalid\n/)
  assert.match(res.body, /unknown key database\.hots — did you mean host\?/)
  const json = (await fastify.inject('/health?format=json')).json()
  assert.equal(json.status, 'fail')
  assert.ok(json.notes.some((note: string) => note.includes('database.hots')))
  await eventually(async () => (await readLog(logFile)).includes('unknown key database.hots'))
})

test('probes to /health do not write request lines; other requests do', async t => {
  const { fastify, logFile } = await buildApp(t, minimalConfig)
  for (let i = 0; i < 5; i++) await fastify.inject('/health')
  await fastify.inject('/logs?lines=1')
  const log = await eventually(async () => {
    const text = await readLog(logFile)
    return text.includes('"url":"/logs?lines=1"') && text
  })
  assert.ok(!log.includes('"url":"/health"'))
})

test('GET /logs returns the last lines human-readable, oldest first', async t => {
  const { fastify, logFile } = await buildApp(t, minimalConfig)
  for (let i = 0; i < 5; i++) fastify.log.info({ n: i }, `entry ${i}`)
  fastify.log.error('something broke')
  await eventually(async () => (await readLog(logFile)).includes('something broke'))
  const res = await fastify.inject('/logs?lines=3')
  assert.equal(res.statusCode, 200)
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  const lines = res.body.trimEnd().split('\n')
  assert.equal(lines.length, 3)
  assert.match(lines[0], /INFO: entry 3/)
  assert.match(lines[2], /ERROR: something broke/)
  assert.ok(!res.body.includes('\u001b['))
})

test('GET /logs filters by level and returns raw NDJSON on request', async t => {
  const { fastify, logFile } = await buildApp(t, minimalConfig)
  fastify.log.warn('a warning')
  fastify.log.info('an info')
  await eventually(async () => (await readLog(logFile)).includes('an info'))
  const res = await fastify.inject('/logs?level=warn&format=json')
  assert.match(res.body, /a warning/)
  assert.equal(res.headers['content-type'], 'application/x-ndjson; charset=utf-8')
  const entries = res.body.trimEnd().split('\n').map(line => JSON.parse(line))
  assert.ok(entries.every(entry => entry.level >= 40))
})

test('bad /logs parameters are 400s that name the parameter and the allowed values', async t => {
  const { fastify } = await buildApp(t, minimalConfig)
  const cases: Array<[string, RegExp]> = [
    ['/logs?lines=0', /^query parameter lines must be a whole number from 1 to 10000$/],
    ['/logs?lines=10001', /^query parameter lines must be a whole number from 1 to 10000$/],
    ['/logs?lines=1e99', /^query parameter lines must be a whole number from 1 to 10000$/],
    ['/logs?lines=abc', /^query parameter lines must be a whole number from 1 to 10000$/],
    ['/logs?lines=Infinity', /^query parameter lines must be a whole number from 1 to 10000$/],
    ['/logs?level=loud', /query parameter level must be one of trace, debug, info, warn, error, fatal/],
    ['/logs?format=xml', /query parameter format must be one of text, json/]
  ]
  for (const [url, message] of cases) {
    const res = await fastify.inject(url)
    assert.equal(res.statusCode, 400, url)
    assert.match(res.json().message, message, url)
  }
})

test('unknown paths list the endpoints; a wrong method is 405 with Allow', async t => {
  const { fastify } = await buildApp(t, minimalConfig)
  const missing = await fastify.inject('/nope')
  assert.equal(missing.statusCode, 404)
  assert.match(missing.json().message, /no endpoint GET \/nope; endpoints: .*GET \/health.*GET \/logs/)
  const wrong = await fastify.inject({ method: 'DELETE', url: '/health' })
  assert.equal(wrong.statusCode, 405)
  assert.match(wrong.headers.allow as string, /GET/)
})

test('a 5xx never carries the cause to the caller', async t => {
  const cwd = await workDir(minimalConfig)
  const { fastify, close } = await buildServer({ cwd, env: {}, programDir: cwd })
  t.after(close)
  const logFile = fastify.config.logFile
  fastify.get('/boom', async () => { throw new Error('internal detail 42') })
  const res = await fastify.inject('/boom')
  assert.equal(res.statusCode, 500)
  assert.ok(!res.body.includes('internal detail 42'))
  assert.ok(!res.body.includes('at '), 'no stack')
  await eventually(async () => (await readLog(logFile)).includes('internal detail 42'))
})

test('/metrics counts every probe of /health, though probes write no log line', async t => {
  const { fastify } = await buildApp(t, minimalConfig)
  for (let i = 0; i < 3; i++) await fastify.inject('/health')
  await fastify.inject('/health?format=xml')
  const metrics = (await fastify.inject('/metrics')).body
  assert.match(metrics, /^http_requests_total\{method="GET",route="\/health",status_code="200"\} 3$/m)
  assert.match(metrics, /^http_requests_total\{method="GET",route="\/health",status_code="400"\} 1$/m)
  assert.match(metrics, /^http_request_duration_seconds_count\{route="\/health"\} 4$/m)
})
