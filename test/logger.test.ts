import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { REQUEST_LINE } from '../lib/log-destination.ts'
import { createLogger, droppedRequestLines } from '../lib/logger.ts'
import { buildApp, eventually, makeTempDir, readLog } from './helper.ts'

test('the log file rotates at max_size_mb and keeps only `files` old files', async () => {
  const dir = await makeTempDir('rotate')
  const file = join(dir, 'output.log')
  const { logger, close } = createLogger(file, { file, level: 'info', max_size_mb: 1, files: 2 }, [])
  const filler = 'x'.repeat(1000)
  for (let i = 0; i < 4500; i++) logger.info({ i, filler }, 'filling the log')
  await close()
  const names = (await readdir(dir)).sort()
  assert.deepEqual(names, ['output.log', 'output.log.1', 'output.log.2'])
  for (const name of names) {
    assert.ok((await stat(join(dir, name))).size <= 1024 * 1024 + 2048, `${name} is bounded`)
  }
})

const MB = 1024 * 1024
const entries = (text: string) => text.split('\n').filter(Boolean).map(line => JSON.parse(line))

test('below the backlog bound no line is lost across rotations, and the rotated files hold them in order', async () => {
  const dir = await makeTempDir('rotate-all')
  const file = join(dir, 'output.log')
  // The whole run fits under the bound: every line must reach a file, in order.
  const { logger, close } = createLogger(file, { file, level: 'info', max_size_mb: 1, files: 3 }, [], 8 * MB)
  const filler = 'y'.repeat(1000)
  const count = 3200
  for (let i = 0; i < count; i++) logger.info({ i, filler }, REQUEST_LINE)
  await close()
  assert.equal(droppedRequestLines(logger), 0)
  const names = ['output.log.3', 'output.log.2', 'output.log.1', 'output.log']
  assert.deepEqual((await readdir(dir)).sort(), [...names].sort())
  const written: number[] = []
  for (const name of names) {
    assert.ok((await stat(join(dir, name))).size <= MB + 2048, `${name} is bounded`)
    written.push(...entries(await readFile(join(dir, name), 'utf8')).map(entry => entry.i))
  }
  assert.deepEqual(written, Array.from({ length: count }, (_, i) => i))
})

test('past the backlog bound request lines are dropped and reported; other lines never are', async () => {
  const dir = await makeTempDir('bounded')
  const file = join(dir, 'output.log')
  const { logger, close } = createLogger(file, { file, level: 'info', max_size_mb: 10, files: 1 }, [], 64 * 1024)
  // One synchronous burst: nothing reaches the disk before it ends, so the backlog only grows.
  const requests = 5000
  for (let i = 0; i < requests; i++) {
    logger.info({ i, url: '/database' }, REQUEST_LINE)
    if (i % 100 === 0) {
      logger.warn({ i }, 'a warning')
      logger.error({ i }, 'an error')
      logger.info({ i }, 'check news')
    }
  }
  const dropped = droppedRequestLines(logger)
  await close()
  const lines = entries(await readFile(file, 'utf8'))
  const byMsg = (msg: string) => lines.filter(entry => entry.msg === msg)
  assert.ok(dropped > 0 && dropped < requests, `dropped ${dropped} of ${requests}`)
  assert.equal(byMsg(REQUEST_LINE).length + dropped, requests)
  for (const msg of ['a warning', 'an error', 'check news']) assert.equal(byMsg(msg).length, requests / 100, msg)
  const report = lines.filter(entry => entry.level === 40 && entry.dropped !== undefined)
  assert.equal(report.length, 1)
  assert.equal(report[0].dropped, dropped)
  assert.match(report[0].msg, new RegExp(`^dropped ${dropped} request lines in the last minute`))
})

test('configured secrets never reach output.log or /logs, whatever shape they are logged in', async t => {
  const secrets = ['db-Secret-in-file', 'env-Secret-db', 'AKIAsecretAccessKey1']
  const toml = `[server]\nport = 8080\n[database]\nhost = 'h'\nuser = 'u'\ndbname = 'd'\npassword = '${secrets[0]}'\n`
  const { fastify, logFile } = await buildApp(t, toml, { SUAI_DATABASE_PASSWORD: secrets[1], AWS_SECRET_ACCESS_KEY: secrets[2] })
  const password = fastify.config.values?.database?.password
  assert.equal(password, secrets[1], 'the environment wins over the file')
  fastify.log.info({ database: fastify.config.values?.database }, 'config section logged whole')
  fastify.log.error(new Error(`connect failed for password ${password} and key ${secrets[2]}`))
  fastify.log.warn(`message quoting ${password} and the overridden ${secrets[0]}`)
  fastify.log.info({ headers: { authorization: 'Bearer tok' } }, 'headers')
  await eventually(async () => (await readLog(logFile)).includes('"headers"'))
  const bodies = [
    await readLog(logFile),
    (await fastify.inject('/logs')).body,
    (await fastify.inject('/logs?format=json')).body
  ]
  for (const body of bodies) {
    for (const secret of [...secrets, 'Bearer tok']) assert.ok(!body.includes(secret), `leaked ${secret}`)
    assert.match(body, /\[redacted\]/)
  }
})
