import { test } from 'node:test'
import assert from 'node:assert/strict'
import { REQUEST_LINE } from '../lib/log-destination.ts'
import { droppedRequestLines } from '../lib/logger.ts'
import { LINES_PER_MINUTE } from '../plugins/request-log.ts'
import { buildApp, minimalConfig, readLog } from './helper.ts'

const entries = (text: string) => text.split('\n').filter(Boolean).map(line => JSON.parse(line))

test('successful requests past the budget are summarised; errors, admin endpoints and state changes are lines; /health is not logged', async t => {
  const { fastify, logFile, close } = await buildApp(t, `${minimalConfig}[demo]\nenabled = true\n`)
  const extra = 40
  for (let i = 0; i < LINES_PER_MINUTE + extra; i++) assert.equal((await fastify.inject('/checks')).statusCode, 200)
  for (let i = 0; i < 5; i++) await fastify.inject('/logs?lines=1')
  for (let i = 0; i < 3; i++) await fastify.inject('/no-such-page')
  for (let i = 0; i < 2; i++) await fastify.inject({ method: 'POST', url: '/demo/health/recover' })
  for (let i = 0; i < 10; i++) await fastify.inject('/health')
  // Closing writes the summary of the minute so far.
  await close()

  const lines = entries(await readLog(logFile))
  const requests = (url: string) => lines.filter(entry => entry.msg === REQUEST_LINE && entry.url === url)
  assert.equal(requests('/checks').length, LINES_PER_MINUTE)
  assert.equal(requests('/logs?lines=1').length, 5)
  assert.equal(requests('/no-such-page').length, 3)
  assert.equal(requests('/demo/health/recover').length, 2)
  assert.equal(requests('/health').length, 0)

  const summaries = lines.filter(entry => entry.requests !== undefined)
  assert.deepEqual(summaries.map(entry => entry.route), ['GET /checks'])
  const [summary] = summaries
  assert.equal(summary.requests, LINES_PER_MINUTE + extra)
  assert.equal(summary.lines, LINES_PER_MINUTE)
  assert.deepEqual(summary.statusCodes, { 200: LINES_PER_MINUTE + extra })
  assert.equal(typeof summary.avgMs, 'number')
  assert.equal(typeof summary.maxMs, 'number')
  assert.match(summary.msg, new RegExp(`^GET /checks: ${LINES_PER_MINUTE + extra} requests in the last minute`))
})

test('/metrics counts the request lines dropped when output.log falls behind', async t => {
  const { fastify } = await buildApp(t, minimalConfig)
  // A synchronous burst larger than the backlog bound: the file cannot take it all.
  const filler = 'z'.repeat(500)
  for (let i = 0; i < 5000; i++) fastify.log.info({ i, filler }, REQUEST_LINE)
  const dropped = droppedRequestLines(fastify.log)
  assert.ok(dropped > 0)
  const metrics = (await fastify.inject('/metrics')).body
  assert.match(metrics, new RegExp(`^suaicloudapp_log_request_lines_dropped_total ${dropped}$`, 'm'))
})
