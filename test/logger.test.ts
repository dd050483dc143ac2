import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '../lib/logger.ts'
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
