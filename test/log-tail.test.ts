import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { humanize, tailLog } from '../lib/log-tail.ts'
import { makeTempDir } from './helper.ts'

async function logFile (text: string | Buffer) {
  const file = join(await makeTempDir('tail'), 'output.log')
  await writeFile(file, text)
  return file
}

const entry = (level: number, msg: string) => JSON.stringify({ level, time: '2026-11-24T10:00:00.000Z', msg })

test('returns the last N lines, oldest first', async () => {
  const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`)
  const file = await logFile(lines.join('\n') + '\n')
  assert.deepEqual(await tailLog(file, { lines: 3 }), ['line 47', 'line 48', 'line 49'])
  assert.deepEqual(await tailLog(file, { lines: 100 }), lines)
})

test('a line spanning chunk boundaries comes out whole, multi-byte characters too', async () => {
  const long = 'é'.repeat(300) + ' end'
  const file = await logFile(`first\n${long}\nlast\n`)
  for (const chunkBytes of [1, 2, 7, 64, 333]) {
    assert.deepEqual(await tailLog(file, { lines: 10, chunkBytes }), ['first', long, 'last'], `chunk ${chunkBytes}`)
  }
})

test('a last line still being written (no newline yet) is left out', async () => {
  const file = await logFile('one\ntwo\n{"level":30,"msg":"half')
  assert.deepEqual(await tailLog(file, { lines: 5, chunkBytes: 4 }), ['one', 'two'])
})

test('a minimum level keeps matching entries only, and still returns N of them', async () => {
  const lines = []
  for (let i = 0; i < 30; i++) lines.push(entry(30, `info ${i}`), entry(50, `error ${i}`))
  const file = await logFile(lines.join('\n') + '\n')
  const errors = await tailLog(file, { lines: 4, minLevel: 'error', chunkBytes: 100 })
  assert.deepEqual(errors.map(line => JSON.parse(line).msg), ['error 26', 'error 27', 'error 28', 'error 29'])
  assert.equal((await tailLog(file, { lines: 100, minLevel: 'warn' })).length, 30)
})

test('an empty file gives no lines; a missing file is an error the route reports', async () => {
  assert.deepEqual(await tailLog(await logFile(''), { lines: 10 }), [])
  await assert.rejects(tailLog('/nonexistent/output.log', { lines: 1 }), { code: 'ENOENT' })
})

test('the scan stops after maxScanBytes', async () => {
  const file = await logFile(entry(50, 'old error') + '\n' + (entry(30, 'x'.repeat(100)) + '\n').repeat(100))
  assert.equal((await tailLog(file, { lines: 1, minLevel: 'error', maxScanBytes: 2000 })).length, 0)
  assert.equal((await tailLog(file, { lines: 1, minLevel: 'error' })).length, 1)
})

test('humanize renders time, level and message without colours; other text as it is', () => {
  const text = humanize(JSON.stringify({ level: 40, time: '2026-11-24T10:00:00.000Z', msg: 'slow check', backend: 'redis' }))
  assert.match(text, /^\[2026-11-24 10:00:00\.000\] WARN: slow check/)
  assert.match(text, /"backend":"redis"/)
  assert.ok(!text.includes('\u001b['), 'no ANSI colours')
  assert.equal(humanize('not json'), 'not json')
})
