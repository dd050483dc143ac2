import { hint as hintFor, type HintContext, type HintKey, type Hints } from './hints.ts'

// The check engine: the timeout, single flight and cache, the stage reached, one retry on a
// kept connection that went stale, and turning any exception into a result. It knows no
// backend and no HTTP. A check never throws and never hangs.

export type Status = 'pass' | 'warn' | 'fail'
export type Stage =
  | 'config' | 'credentials' | 'dns' | 'connect' | 'tls' | 'auth' | 'database'
  | 'cluster' | 'permission' | 'not_found' | 'region' | 'schema' | 'request' | 'clock'

export interface CheckResult {
  backend: string
  status: Status
  // The stage that failed, or the last one reached.
  stage: Stage
  message: string
  hint?: string
  warnings: string[]
  durationMs: number
  details: Record<string, unknown>
}

// A failure the check understood: thrown by a backend with its stage, the hint to give, and
// what the hint needs beyond the config section (the denied action, the bucket's region).
export class CheckFailure extends Error {
  constructor (readonly stage: Stage, message: string, readonly hintKey?: HintKey, readonly hintContext: Partial<HintContext> = {}) {
    super(message)
  }
}

// What stopped a check without showing the environment broken (a service throttling, or failing
// for a moment): the result is a warning.
export class CheckWarning extends CheckFailure {}

export interface CheckContext {
  // Aborted when the check runs out of time; pass it to clients that take one.
  signal: AbortSignal
  // Announces what the check is doing now, so a timeout or a bare error can say where.
  stage: (stage: Stage) => void
  warn: (message: string) => void
  detail: (key: string, value: unknown) => void
}

// The part of a pino logger a check writes to.
export interface CheckLog {
  debug: (facts: object, message: string) => void
  info: (facts: object, message: string) => void
  warn: (facts: object, message: string) => void
}

export interface CheckOptions {
  backend: string
  // The config section, for messages and hints.
  section: { host?: string, port?: number, endpoint?: string, [key: string]: unknown }
  // The backend's own hints; they win over the general ones.
  hints?: Hints
  log: CheckLog
  timeoutMs: number
  // A finished result is served again for this long.
  cacheMs: number
  scrub: (text: string) => string
  // Turns a backend's own error into a CheckFailure; undefined when it does not know it.
  classify?: (err: unknown, stage: Stage) => CheckFailure | undefined
  // Called after a failure or a timeout so the next check starts from a fresh connection.
  // Synchronous on purpose: it must not wait on the very connection that hung.
  reset?: () => void
  // True for an error of a kept connection that the backend dropped since the last check (it
  // restarted, or failed over): the check then runs once more on a fresh connection.
  isStale?: (err: unknown) => boolean
  // Reads the environment when a check fails, within a budget of its own on top of timeoutMs.
  explainer?: Explainer
}

export type CheckBody = (ctx: CheckContext) => Promise<void>

// What the environment says about a failure (lib/pinpoint.ts reads it): details to add and, when
// it names the cause, the hint that replaces the symptom's.
export interface Explanation {
  details: Record<string, unknown>
  hint?: string
}

// Asked after a failed run, before its result is cached; `signal` aborts after budgetMs.
export interface Explainer {
  budgetMs: number
  explain: (result: CheckResult, signal: AbortSignal) => Promise<Explanation | undefined>
}

// A check function that runs `body` bounded by the timeout. Concurrent callers share the run in
// flight, and a finished result is reused for cacheMs, so a probe flood never becomes a query
// flood on the backend.
export function defineCheck (options: CheckOptions, body: CheckBody): () => Promise<CheckResult> {
  let inFlight: Promise<CheckResult> | undefined
  let last: { result: CheckResult, at: number } | undefined
  return () => {
    if (last && performance.now() - last.at < options.cacheMs) return Promise.resolve(last.result)
    inFlight ??= runBounded(options, body).then(result => explained(options, result)).then(result => {
      logOutcome(options, result, last?.result.status)
      last = { result, at: performance.now() }
      return result
    }).finally(() => { inFlight = undefined })
    return inFlight
  }
}

// The result with what the explainer found, or as it was when the explainer has nothing to say,
// fails, or runs out of its budget (said in the details: pinpoint).
async function explained ({ explainer, scrub, log }: CheckOptions, result: CheckResult): Promise<CheckResult> {
  if (!explainer || result.status !== 'fail') return result
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const outOfTime = new Promise<'timeout'>(resolve => { timer = setTimeout(() => resolve('timeout'), explainer.budgetMs) })
  try {
    const found = await Promise.race([explainer.explain(result, controller.signal), outOfTime])
    if (found === 'timeout') {
      controller.abort()
      return { ...result, details: { ...result.details, pinpoint: `no answer within its budget of ${explainer.budgetMs} ms` } }
    }
    if (!found) return result
    return { ...result, hint: found.hint === undefined ? result.hint : scrub(found.hint), details: { ...result.details, ...found.details } }
  } catch (err) {
    log.debug({ err }, 'explaining the failure failed')
    return result
  } finally {
    clearTimeout(timer)
  }
}

// A change of status is news worth output.log; the same status again, checked every second by a
// dashboard or a monitor, is not.
function logOutcome ({ backend, log }: CheckOptions, result: CheckResult, previous: Status | undefined) {
  const facts = { status: result.status, stage: result.stage, durationMs: result.durationMs, reason: result.status === 'pass' ? undefined : result.message }
  const text = `${backend} check ${result.status === 'pass' ? 'passed' : result.status === 'warn' ? 'passed with warnings' : 'failed'}`
  if (result.status === previous) log.debug(facts, text)
  else if (result.status === 'fail') log.warn(facts, text)
  else log.info(facts, text)
}

async function runBounded (options: CheckOptions, body: CheckBody): Promise<CheckResult> {
  const { backend, section, hints, timeoutMs, log, scrub, classify, reset = () => {}, isStale } = options
  const started = performance.now()
  const controller = new AbortController()
  const warnings: string[] = []
  const details: Record<string, unknown> = {}
  let stage: Stage = 'connect'
  const ctx: CheckContext = {
    signal: controller.signal,
    stage: next => { stage = next },
    warn: message => { warnings.push(message) },
    detail: (key, value) => { details[key] = value }
  }

  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>(resolve => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  let failure: CheckFailure | undefined
  try {
    const attempt = async () => {
      try {
        await body(ctx)
      } catch (err) {
        // After a timeout the reset that follows breaks the connection too: that is no reason
        // to start again on a check that has already returned.
        if (!isStale?.(err) || controller.signal.aborted) throw err
        log.debug({ err }, 'kept connection was dropped; retrying on a fresh one')
        reset()
        ctx.stage('connect')
        await body(ctx)
      }
      return 'done' as const
    }
    const outcome = await Promise.race([attempt(), timedOut])
    if (outcome === 'timeout') {
      controller.abort()
      failure = timeoutFailure(backend, stage, timeoutMs, section)
    }
  } catch (err) {
    failure = err instanceof CheckFailure ? err : classify?.(err, stage) ?? networkFailure(err) ?? unknownFailure(err, stage)
    if (!(err instanceof CheckFailure)) log.debug({ err, stage }, 'check error')
  } finally {
    clearTimeout(timer)
  }
  const durationMs = Math.round(performance.now() - started)
  if (failure instanceof CheckWarning) {
    reset()
    warnings.push(failure.message)
    return { backend, status: 'warn', stage: failure.stage, message: scrub(warnings.join('; ')), warnings: warnings.map(scrub), durationMs, details }
  }
  if (failure) {
    // A connection that failed or hung is not to be trusted with the next check.
    reset()
    // What the check observed (the region it resolved, say) refines the hint.
    const hint = failure.hintKey && hintFor(failure.hintKey, { ...section, ...details, backend, ...failure.hintContext }, hints)
    return { backend, status: 'fail', stage: failure.stage, message: scrub(failure.message), hint: hint && scrub(hint), warnings, durationMs, details }
  }
  const status: Status = warnings.length > 0 ? 'warn' : 'pass'
  const message = status === 'pass' ? 'OK' : warnings.join('; ')
  return { backend, status, stage, message: scrub(message), warnings: warnings.map(scrub), durationMs, details }
}

function timeoutFailure (backend: string, stage: Stage, timeoutMs: number, section: CheckOptions['section']): CheckFailure {
  const target = section.host ? ` ${section.host}:${section.port}` : section.endpoint ? ` at ${section.endpoint}` : ''
  // A TLS handshake nobody answers is a server that does not speak TLS: it waits for a plain command.
  const key: HintKey = ({ dns: 'dns_unanswered', connect: 'connect_timeout', tls: 'tls_expected', credentials: 'credentials' } as const)[stage as string] ?? 'request_timeout'
  return new CheckFailure(stage, `no answer from ${backend}${target} within ${timeoutMs} ms (during ${stage})`, key)
}

const CONNECT_CODES: Record<string, { stage: Stage, what: string, hintKey: HintKey }> = {
  ENOTFOUND: { stage: 'dns', what: 'the host name does not resolve', hintKey: 'dns' },
  // A resolver that did not answer, or failed (SERVFAIL): says nothing about the name itself.
  EAI_AGAIN: { stage: 'dns', what: 'the DNS resolver did not answer', hintKey: 'dns_unanswered' },
  ECONNREFUSED: { stage: 'connect', what: 'the connection was refused: nothing listens on that port', hintKey: 'connect_refused' },
  ETIMEDOUT: { stage: 'connect', what: 'the connection timed out', hintKey: 'connect_timeout' },
  EHOSTUNREACH: { stage: 'connect', what: 'the host is unreachable', hintKey: 'connect_timeout' },
  ENETUNREACH: { stage: 'connect', what: 'the network is unreachable', hintKey: 'connect_timeout' },
  ECONNRESET: { stage: 'connect', what: 'the connection was reset by the other side', hintKey: 'connect_reset' },
  EPIPE: { stage: 'connect', what: 'the connection was closed by the other side', hintKey: 'connect_reset' }
}

// Certificate errors in words of our own: the runtime's TLS library words them its own way
// (OpenSSL says "self-signed", BoringSSL "self signed"), but the codes are Node's on both.
const CERTIFICATE_CODES: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: 'the server\'s certificate chain ends in a self-signed certificate this machine does not trust',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server\'s certificate is a self-signed certificate this machine does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server\'s certificate was issued by a CA this machine does not trust',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the server\'s certificate was issued by a CA this machine does not trust',
  CERT_HAS_EXPIRED: 'the server\'s certificate has expired',
  CERT_NOT_YET_VALID: 'the server\'s certificate is not valid yet: is this machine\'s clock right?',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server\'s certificate is for another host name'
}

// The error codes every client surfaces the same way, looked up along the `cause` chain
// because libraries wrap the socket's error in their own.
export function networkFailure (err: unknown): CheckFailure | undefined {
  for (let e = err as { code?: unknown, cause?: unknown, message?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : undefined
    if (code && CONNECT_CODES[code]) {
      const known = CONNECT_CODES[code]
      return new CheckFailure(known.stage, `${known.what} (${code})`, known.hintKey)
    }
    if (code && CERTIFICATE_CODES[code]) return new CheckFailure('tls', `TLS failed: ${CERTIFICATE_CODES[code]} (${code})`, 'tls')
    if ((code && /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO_)/.test(code)) || /ssl|tls|certificate/i.test(String(e.message))) {
      return new CheckFailure('tls', `TLS failed: ${String(e.message)}`, 'tls')
    }
  }
  return undefined
}

function unknownFailure (err: unknown, stage: Stage): CheckFailure {
  const message = err instanceof Error ? err.message : String(err)
  return new CheckFailure(stage, message.split('\n')[0] || 'unknown error')
}
