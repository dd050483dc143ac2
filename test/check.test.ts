import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CheckFailure, defineCheck, type CheckBody, type CheckOptions } from '../lib/check.ts'

// The engine alone: no HTTP, no backend, no server; bodies that stand for what a client does.

function options (overrides: Partial<CheckOptions> = {}): CheckOptions {
  const quiet = () => {}
  return {
    backend: 'fake',
    section: { host: 'fake.example', port: 1 },
    log: { debug: quiet, info: quiet, warn: quiet },
    timeoutMs: 1000,
    cacheMs: 0,
    scrub: text => text,
    ...overrides
  }
}

const pause = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

test('a body that never answers is cut at the timeout, with the stage it had reached', async () => {
  let signal: AbortSignal | undefined
  const check = defineCheck(options({ timeoutMs: 100 }), ctx => {
    signal = ctx.signal
    ctx.stage('auth')
    return new Promise(() => {})
  })
  const started = performance.now()
  const result = await check()
  const ms = performance.now() - started
  assert.equal(result.status, 'fail')
  assert.equal(result.stage, 'auth')
  assert.equal(result.message, 'no answer from fake fake.example:1 within 100 ms (during auth)')
  assert.ok(ms >= 95 && ms < 400, `answered in ${Math.round(ms)} ms`)
  assert.equal(signal?.aborted, true, 'the body was told to give up')
})

test('concurrent callers share one run', async () => {
  let runs = 0
  const check = defineCheck(options(), async () => { runs++; await pause(20) })
  const results = await Promise.all(Array.from({ length: 50 }, () => check()))
  assert.equal(runs, 1)
  assert.ok(results.every(result => result === results[0] && result.status === 'pass'))
})

test('a finished result is reused for cacheMs, then the body runs again', async () => {
  let runs = 0
  const body: CheckBody = async () => { runs++ }
  const cached = defineCheck(options({ cacheMs: 60_000 }), body)
  const first = await cached()
  assert.equal(await cached(), first)
  assert.equal(runs, 1)

  const uncached = defineCheck(options({ cacheMs: 0 }), body)
  await uncached()
  await uncached()
  assert.equal(runs, 3)
})

test('a stale kept connection is reset and retried once, never twice', async () => {
  const stale = Object.assign(new Error('connection closed'), { code: 'STALE' })
  let resets = 0
  const staleOptions = options({ isStale: err => (err as { code?: string }).code === 'STALE', reset: () => { resets++ } })

  let attempts = 0
  const recovers = defineCheck(staleOptions, async () => { if (attempts++ === 0) throw stale })
  const passed = await recovers()
  assert.equal(passed.status, 'pass')
  assert.equal(attempts, 2)
  assert.equal(resets, 1)

  attempts = 0
  const staysBroken = defineCheck(staleOptions, async () => { attempts++; throw stale })
  const failed = await staysBroken()
  assert.equal(failed.status, 'fail')
  assert.equal(attempts, 2, 'one retry only')
})

test('errors become results: a known failure keeps its stage and hint, a socket code is read along the cause chain', async () => {
  const known = defineCheck(options({ hints: { auth: c => `check the password of ${c.host}` } }), async () => {
    throw new CheckFailure('auth', 'rejected', 'auth')
  })
  const auth = await known()
  assert.deepEqual([auth.status, auth.stage, auth.message, auth.hint], ['fail', 'auth', 'rejected', 'check the password of fake.example'])

  const wrapped = defineCheck(options(), async () => {
    throw new Error('driver failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) })
  })
  const refused = await wrapped()
  assert.equal(refused.stage, 'connect')
  assert.match(refused.message, /refused.*ECONNREFUSED/)
  assert.match(refused.hint ?? '', /nothing listens on fake\.example:1/)
})

test('warnings pass with the warnings as the message; secrets are scrubbed from what leaves', async () => {
  const check = defineCheck(options({ scrub: text => text.replaceAll('hunter2', '[redacted]') }), async ctx => {
    ctx.detail('version', '1.0')
    ctx.warn('password hunter2 is weak')
  })
  const result = await check()
  assert.equal(result.status, 'warn')
  assert.equal(result.message, 'password [redacted] is weak')
  assert.deepEqual(result.details, { version: '1.0' })
})

test('an explainer is asked after a failure only, its hint replaces the symptom\'s, and its answer is cached with the result', async () => {
  let asked = 0
  const explainer = {
    budgetMs: 1000,
    explain: async (result: { stage: string }) => { asked++; return { details: { seen: result.stage }, hint: 'add the rule (secret)' } }
  }
  let fails = true
  const check = defineCheck(options({ explainer, cacheMs: 60_000, scrub: text => text.replace('secret', '***') }), async () => {
    if (fails) throw new CheckFailure('connect', 'refused', 'connect_refused')
  })
  const failed = await check()
  assert.equal(failed.hint, 'add the rule (***)')
  assert.deepEqual(failed.details, { seen: 'connect' })
  assert.equal(await check(), failed, 'served from the cache')
  assert.equal(asked, 1)

  fails = false
  const passes = defineCheck(options({ explainer }), async () => {})
  assert.equal((await passes()).status, 'pass')
  assert.equal(asked, 1, 'a passing check asks nothing')
})

test('an explainer that outlives its budget is cut off and aborted; the symptom\'s hint stays', async () => {
  let aborted = false
  const explainer = {
    budgetMs: 50,
    explain: (_result: unknown, signal: AbortSignal) => new Promise<undefined>(resolve => signal.addEventListener('abort', () => { aborted = true; resolve(undefined) }))
  }
  const check = defineCheck(options({ explainer }), async () => { throw new CheckFailure('connect', 'refused', 'connect_refused') })
  const result = await check()
  assert.match(result.hint ?? '', /^nothing listens on fake\.example:1/)
  assert.equal(result.details.pinpoint, 'no answer within its budget of 50 ms')
  assert.ok(aborted)
})
