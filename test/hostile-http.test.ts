import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import type { InjectOptions } from 'fastify'
import { buildApp, freePort, startCli, workDir } from './helper.ts'
import { closedPort, type PortHandle } from './harness/index.ts'

// Requests a scanner, a fuzzer or a confused script sends. Every answer is the endpoint's
// normal one or a 4xx that says what was wrong: never a 5xx, a stack trace, a file's content,
// or a dead process.
process.env.AWS_EC2_METADATA_DISABLED = 'true'

let closed: PortHandle
before(async () => { closed = await closedPort() })

// Stands for the config file's content, which no answer may contain.
const MARKER = '# config-file-marker-5e1d'

// Every backend configured against a port nothing listens on: the checks fail at once, so the
// check endpoints answer their normal 503. The demo switches are on, to be probed too.
const config = () => `${MARKER}\n[server]\nhost = '127.0.0.1'\n[checks]\ncache_ms = 60000\n[aws]\nregion = 'us-east-1'\n` +
  `[database]\nhost = '127.0.0.1'\nport = ${closed.port}\nuser = 'u'\ndbname = 'd'\n` +
  `[redis]\nhost = '127.0.0.1'\nport = ${closed.port}\n` +
  `[s3]\nbucket = 'b'\nendpoint = 'http://127.0.0.1:${closed.port}'\n` +
  `[dynamodb]\ntable = 't'\npartition_key = 'id'\nendpoint = 'http://127.0.0.1:${closed.port}'\n` +
  '[demo]\nenabled = true\n'

// Every endpoint, the status it answers in this setup, and whether it takes ?format.
const reads = [
  { path: '/', status: 200 },
  { path: '/dashboard.css', status: 200 },
  { path: '/dashboard.js', status: 200 },
  { path: '/health', status: 200, format: true },
  { path: '/instance', status: 200 },
  { path: '/logs', status: 200, format: true },
  { path: '/database', status: 503, format: true },
  { path: '/redis', status: 503, format: true },
  { path: '/s3', status: 503, format: true },
  { path: '/dynamodb', status: 503, format: true },
  { path: '/checks', status: 503 },
  { path: '/ready', status: 503 },
  { path: '/metrics', status: 200 },
  { path: '/demo', status: 200 },
  { path: '/fleet', status: 200 },
  { path: '/audit', status: 200 }
]
// The demo switches that change state; only their wrong methods are sent.
const writes = [
  { path: '/demo/health/fail', allow: ['POST'] },
  { path: '/demo/health/recover', allow: ['POST'] },
  { path: '/demo/cpu', allow: ['POST', 'DELETE'] }
]
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE'] as const

type App = Awaited<ReturnType<typeof buildApp>>

// Sends one request and holds its answer to what every answer must be.
async function send (app: App, request: InjectOptions | string, status: number, message?: RegExp) {
  const res = await app.fastify.inject(request)
  const label = (typeof request === 'string' ? `GET ${request}` : `${request.method ?? 'GET'} ${String(request.url)}`).slice(0, 120)
  assert.equal(res.statusCode, status, `${label}: ${res.body.slice(0, 300)}`)
  assert.doesNotMatch(res.body, /\n\s+at /, `${label}: no stack trace`)
  assert.ok(!res.body.includes('root:x:0:0') && !res.body.includes(MARKER), `${label}: no file's content`)
  if (message) assert.match(res.json().message, message, label)
  return res
}

test('the endpoints probed here are the ones the app lists', async t => {
  const app = await buildApp(t, config())
  const { message } = (await send(app, '/no-such-endpoint', 404)).json()
  const listed = message.replace(/^.*endpoints: /, '').split(', ').map((entry: string) => entry.split(' ')[1])
  assert.deepEqual(new Set(listed), new Set([...reads, ...writes].map(endpoint => endpoint.path)))
})

test('bad query parameters are 400s that name the parameter', async t => {
  const app = await buildApp(t, config())
  const cases: Array<[url: string, message: RegExp]> = [
    ...['-1', '0', '10001', '1e99', '1.5', 'NaN', '', 'ten', '%E2%91%A0', '%D9%A1', '%zz', '9'.repeat(300)]
      .map(value => [`/logs?lines=${value}`, /query parameter lines/] as [string, RegExp]),
    ['/logs?lines=1&lines=2', /query parameter lines/],
    // 400 digits are Infinity to Number(), as 1e309 is.
    ...['Infinity', '-Infinity', '1e309', '9'.repeat(400)].map(value => [`/logs?lines=${value}`, /query parameter lines/] as [string, RegExp]),
    ...['', 'WARN', 'loud', '%00', 'warn%00'].map(value => [`/logs?level=${value}`, /query parameter level must be one of trace, debug, info, warn, error, fatal/] as [string, RegExp]),
    ['/logs?level=warn&level=error', /query parameter level/],
    ...['', 'xml', 'JSON', '%F0%9F%92%A9'].map(value => [`/logs?format=${value}`, /query parameter format must be one of text, json/] as [string, RegExp]),
    ['/logs?format=json&format=text', /query parameter format/],
    // The README: "bad query parameters 400 naming the parameter and the allowed values".
    ...reads.filter(endpoint => endpoint.format && endpoint.path !== '/logs').map(endpoint => [`${endpoint.path}?format=xml`, /query parameter format must be one of/] as [string, RegExp])
  ]
  for (const [url, message] of cases) {
    await t.test(url.slice(0, 80), async () => { await send(app, url, 400, message) })
  }
})

test('query parameters an endpoint does not take are ignored', async t => {
  const app = await buildApp(t, config())
  for (const { path, status, format } of reads) {
    const junk = `?x=${'a'.repeat(5000)}&lines[]=1&__proto__[admin]=1&constructor[prototype][x]=1&${'k=v&'.repeat(1000)}`
    await send(app, `${path}${junk}`, status)
    if (!format) await send(app, `${path}?format=xml`, status)
  }
})

test('the demo switch refuses bad seconds with a 400', async t => {
  const app = await buildApp(t, config())
  // Infinity and 1e309 are numbers to Ajv, which then skips minimum and maximum.
  const values = ['0', '-1', '601', '1e99', '1.5', 'abc', '', '1&seconds=2', 'Infinity', '1e309', '-Infinity']
  for (const value of values) {
    await t.test(value, async () => {
      try {
        await send(app, { method: 'POST', url: `/demo/cpu?seconds=${value}` }, 400, /query parameter seconds/)
      } finally {
        await app.fastify.inject({ method: 'DELETE', url: '/demo/cpu' })
      }
    })
  }
})

test('unsupported methods are 405 with Allow', async t => {
  const app = await buildApp(t, config())
  const endpoints = [...reads.map(({ path }) => ({ path, allow: ['GET'] })), ...writes]
  for (const { path, allow } of endpoints) {
    for (const method of METHODS.filter(method => !allow.includes(method))) {
      const res = await send(app, { method, url: path }, 405, new RegExp(`^${method} is not allowed on ${path}; use ${allow.join(' or ')}$`))
      assert.equal(res.headers.allow, [...allow, 'HEAD'].join(', '), `${method} ${path}`)
    }
  }
})

test('path traversal and malformed paths reach no file and no handler by accident', async t => {
  const app = await buildApp(t, config())
  const cases: Array<[url: string, status: number]> = [
    ['/logs/../../etc/passwd', 404],
    ['/%2e%2e/%2e%2e/etc/passwd', 404],
    ['/logs/%2e%2e/%2e%2e/etc/passwd', 404],
    ['/%252e%252e/%252e%252e/etc/passwd', 404],
    ['/..%2f..%2fetc%2fpasswd', 404],
    ['/logs%2f..%2f..%2fetc%2fpasswd', 404],
    ['/logs/..%5c..%5cetc%5cpasswd', 404],
    ['//etc/passwd', 404],
    ['/config.toml', 404],
    ['/output.log', 404],
    ['/logs/output.log', 404],
    ['/.env', 404],
    ['/logs?file=/etc/passwd', 200],
    ['/%zz', 400],
    ['/%', 400],
    ['/%E2%82', 400],
    ['/health%00', 404],
    ['/health%00.json', 404],
    ['/health/', 404],
    ['/HEALTH', 404],
    ['/health;jsessionid=1', 404],
    ['/%F0%9F%92%A9', 404],
    [`/${'a'.repeat(100 * 1024)}`, 404],
    [`/logs/${'../'.repeat(5000)}etc/passwd`, 404]
  ]
  for (const [url, status] of cases) {
    await t.test(url.slice(0, 80), async () => { await send(app, url, status) })
  }
})

test('hostile headers and bodies', async t => {
  const app = await buildApp(t, config())
  const guarded = await buildApp(t, "[server]\nadmin_token = 'hostile-token-0123456789'\n")
  const big = 'a'.repeat(100 * 1024)
  const json = { 'content-type': 'application/json' }
  const cases: Array<[name: string, app: App, request: InjectOptions, status: number]> = [
    ['100 KB header', app, { url: '/health', headers: { 'x-big': big } }, 200],
    ['100 KB Accept', app, { url: '/database', headers: { accept: big } }, 503],
    ['junk Accept', app, { url: '/health', headers: { accept: 'application/json;q=nope, */*;;;' } }, 200],
    ['body on GET', app, { url: '/health', headers: json, payload: '{"a":1}' }, 200],
    ['malformed JSON body on GET', app, { url: '/logs', headers: json, payload: '{bad json' }, 200],
    ['2 MB body on GET', app, { url: '/checks', headers: json, payload: big.repeat(20) }, 503],
    ['malformed JSON body on a switch', app, { method: 'POST', url: '/demo/health/recover', headers: json, payload: '{bad json' }, 400],
    ['XML body on a switch', app, { method: 'POST', url: '/demo/health/recover', headers: { 'content-type': 'application/xml' }, payload: '<a/>' }, 415],
    ['2 MB body on a switch', app, { method: 'POST', url: '/demo/health/recover', headers: json, payload: JSON.stringify({ a: big.repeat(20) }) }, 413],
    ['content-type with no type', app, { method: 'POST', url: '/demo/health/recover', headers: { 'content-type': ';;' }, payload: 'x' }, 415],
    ...['Bearer', 'Bearer ', `Bearer ${big}`, 'Basic aG9zdGlsZTp0b2tlbg==', 'bearer hostile-token-0123456789', 'Bearer hostile-token-012345678', 'Bearer  \t ']
      .map(authorization => [`Authorization: ${authorization.slice(0, 40)}`, guarded, { url: '/logs', headers: { authorization } }, 401] as [string, App, InjectOptions, number]),
    ['the token itself', guarded, { url: '/logs?lines=1', headers: { authorization: 'Bearer hostile-token-0123456789' } }, 200]
  ]
  for (const [name, target, request, status] of cases) {
    await t.test(name, async () => { await send(target, request, status) })
  }
})

// Over a real socket, against the real command line: what inject cannot send (an oversized
// header, a malformed request line) and proof that the process survives it all.
test('raw requests over a socket: 4xx from the HTTP parser, and the server lives on', async t => {
  const port = await freePort()
  const server = await startCli(t, [], { cwd: await workDir(`[server]\nhost = '127.0.0.1'\nport = ${port}\n`) })
  const request = (head: string, body = '') => Buffer.from(`${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n${body}`)
  const big = 'a'.repeat(100 * 1024)
  const cases: Array<[name: string, bytes: Buffer, status: number]> = [
    ['100 KB header', request(`GET /health HTTP/1.1\r\nX-Big: ${big}`), 431],
    ['100 KB path', request(`GET /${big} HTTP/1.1`), 431],
    ['3000 headers', Buffer.from(`GET /health HTTP/1.1\r\n${Array.from({ length: 3000 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`), 431],
    ['space in the path', request('GET /he llo HTTP/1.1'), 400],
    ['control characters in the path', request('GET /\x01\x7f HTTP/1.1'), 400],
    ['raw UTF-8 in the path', Buffer.concat([Buffer.from('GET /'), Buffer.from('h\u00e9alth', 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]), 400],
    ['path without a slash', request('GET health HTTP/1.1'), 400],
    ['lower-case method', request('get /health HTTP/1.1'), 400],
    ['unknown method', request('FROB /health HTTP/1.1'), 400],
    ['HTTP/9.9', request('GET /health HTTP/9.9'), 400],
    ['no Host header', Buffer.from('GET /health HTTP/1.1\r\nConnection: close\r\n\r\n'), 400],
    ['space in a header name', request('GET /health HTTP/1.1\r\nBad Header: y'), 400],
    ['NUL in a header value', request('GET /health HTTP/1.1\r\nX-A: a\x00b'), 400],
    ['bare LF line ends', Buffer.from('GET /health HTTP/1.1\nHost: x\nConnection: close\n\n'), 400],
    ['two Content-Lengths', request('GET /health HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2', 'ab'), 400],
    ['Content-Length with Transfer-Encoding', request('POST /demo/cpu HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked', '0\r\n\r\n'), 400],
    ['traversal in the raw path', request('GET /logs/../../etc/passwd HTTP/1.1'), 404],
    ['encoded traversal in the raw path', request('GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1'), 404],
    ['malformed percent-encoding', request('GET /%zz HTTP/1.1'), 400],
    ['absolute-form target', request('GET http://elsewhere.invalid/health HTTP/1.1'), 200],
    ['HTTP/1.0 without Host', Buffer.from('GET /health HTTP/1.0\r\n\r\n'), 200],
    ['binary noise', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131) % 256)), 400],
    ['a TLS ClientHello', Buffer.from('16030100a5010000a10303', 'hex'), 400]
  ]
  for (const [name, bytes, status] of cases) {
    await t.test(name, async () => {
      const answer = await exchange(port, bytes)
      assert.match(answer, /^HTTP\/1\.1 \d{3} /, JSON.stringify(answer.slice(0, 200)))
      assert.equal(Number(answer.slice(9, 12)), status, answer.slice(0, 300))
      assert.doesNotMatch(answer, /\n\s+at |root:x:0:0/)
    })
  }
  const res = await fetch(`${server.url}/health`)
  assert.equal(await res.text(), 'healthy')
  assert.equal(server.child.exitCode, null, 'still running')
  assert.equal(await server.stop(), 0, 'exits 0 on SIGTERM')
})

// Writes the bytes and reads until the server closes the connection.
function exchange (port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no close within 5 s; got ${JSON.stringify(answer.slice(0, 200))}`)) }, 5000)
    socket.setEncoding('latin1')
    socket.on('data', chunk => { answer += chunk })
    // The server may reset after answering a request it refuses to read to the end.
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(timer); resolve(answer) })
    socket.write(bytes)
  })
}
