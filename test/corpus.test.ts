import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { loadConfig, type LoadedConfig } from '../lib/config.ts'
import { backends } from '../plugins/backends.ts'
import { makeTempDir, runCli } from './helper.ts'

// Malformed and hostile config.toml files, each loaded in-process and a representative subset
// through `validate --config FILE` as a user runs it: a clear message naming the file and the
// line or key, exit 0 or 2, never a stack trace or a crash. Generated here rather than kept on
// disk: several are megabytes, and binary ones would not survive an editor.
process.env.AWS_EC2_METADATA_DISABLED = 'true'

const MB = 1024 * 1024
const database = "[database]\nhost = 'h'\nuser = 'u'\ndbname = 'd'\n"
// Tests run as root here, and root reads a chmod 000 file; anyone else is refused.
const asRoot = process.getuid?.() === 0

interface Case {
  name: string
  content?: string | Buffer
  // Puts something other than a regular file with `content` at the path.
  make?: (file: string) => Promise<unknown>
  // The file is acceptable as it is (the server port it sets, when it sets one).
  valid?: boolean
  port?: number
  // What the problems must say beyond the file's path: the line, the key, the reason.
  message?: RegExp
  // Run through the command line too.
  cli?: boolean
  // The load must not take longer than this.
  withinMs?: number
  // Known defects, reported and awaiting a fix: of the case itself, of its printed
  // problems containing raw control characters, of their size.
}

const cases: Case[] = [
  // TOML syntax errors name the file, line and column.
  { name: 'unterminated string', content: "[server]\nhost = '127.0.0.1\n", message: /:2:18: TOML syntax error: the string is not closed: add the closing ' at the end of the line/, cli: true },
  { name: 'section header without ]', content: '[server\nport = 8080\n', message: /:1:8: TOML syntax error: the section header has no closing \]/ },
  { name: 'no = after the key', content: "[server]\nhost '0.0.0.0'\n", message: /:2:5: TOML syntax error: no = between the key and its value/ },
  { name: 'yes for a boolean', content: '[demo]\nenabled = yes\n', message: /:2:11: TOML syntax error: TOML's booleans are true and false: write enabled = true/ },
  { name: 'value without a key', content: '[server]\n= 8080\n', message: /:2:1: TOML syntax error/ },
  { name: 'two keys on one line', content: "[server]\nport = 8080 host = 'x'\n", message: /:2:\d+: TOML syntax error: one key = value per line/ },
  { name: 'unquoted string', content: '[server]\nhost = localhost\n', message: /:2:8: TOML syntax error: the value is not quoted: put it in quotes, host = 'localhost'/ },
  { name: 'unquoted RDS endpoint', content: "[database]\nhost = database-1.abc.eu-central-1.rds.amazonaws.com\nuser = 'u'\ndbname = 'd'\n", message: /:2:8: TOML syntax error: the value is not quoted: put it in quotes, host = 'database-1\.abc\.eu-central-1\.rds\.amazonaws\.com'/, cli: true },
  { name: 'unquoted password', content: '[database]\npassword = hunter2secret\n', message: /:2:12: TOML syntax error: the value is not quoted: put it in quotes, password = '…'/ },
  { name: 'region under [s3]', content: "[s3]\nbucket = 'b'\nregion = 'eu-central-1'\n", message: /:3: unknown key s3\.region: region belongs under \[aws\]; move it there/ },
  { name: 'unknown escape sequence', content: '[server]\nhost = "a\\qb"\n', message: /:2:\d+: TOML syntax error: unrecognised escape sequence/ },
  { name: 'integer beyond 64 bits', content: '[server]\nport = 99999999999999999999999\n', message: /:2:\d+: TOML syntax error/ },
  { name: 'homoglyph in a section name', content: '[s\u0435rver]\nport = 8080\n', message: /:1:\d+: TOML syntax error: illegal character in key/ },
  { name: 'lone CR line ends', content: '[server]\rport = 8080\r', message: /:1:\d+: TOML syntax error/ },

  // A wrong type names the key, its line and what it expects.
  { name: 'port as a string', content: "[server]\nport = '8080'\n", message: /:2: server\.port must be a whole number: TCP port, 1-65535 \(got "8080"\)/, cli: true },
  { name: 'port as a float', content: database.replace("'u'\n", "'u'\nport = 3306.5\n"), message: /:4: database\.port must be a whole number: .*\(got 3306\.5\)/ },
  { name: 'port as a boolean', content: "[redis]\nhost = 'h'\nport = true\n", message: /:3: redis\.port must be a whole number: .*\(got true\)/ },
  { name: 'port as an array', content: '[server]\nport = [8080]\n', message: /:2: server\.port must be a whole number: .*\(got \[8080\]\)/ },
  { name: 'port as inf', content: '[server]\nport = inf\n', message: /:2: server\.port must be a whole number: .*\(got inf\)/ },
  { name: 'host as a number', content: '[server]\nhost = 127\n', message: /:2: server\.host must be a string/ },
  { name: 'database tls as a boolean', content: database + 'tls = true\n', message: /:5: database\.tls must be one of auto, required, off/ },
  { name: 'redis tls as a string', content: "[redis]\nhost = 'h'\ntls = 'yes'\n", message: /:3: redis\.tls must be a boolean/ },
  { name: 'demo enabled as a string', content: "[demo]\nenabled = 'yes'\n", message: /:2: demo\.enabled must be a boolean/ },
  { name: 'endpoint that is not an http URL', content: "[s3]\nbucket = 'b'\nendpoint = 'ftp://x'\n", message: /:3: s3\.endpoint must match pattern/ },
  { name: 'empty table name', content: "[dynamodb]\ntable = ''\npartition_key = 'id'\n", message: /:2: dynamodb\.table must not be empty/ },
  { name: 'unknown log level', content: "[log]\nlevel = 'verbose'\n", message: /:2: log\.level must be one of trace, debug, info, warn, error, fatal \(got "verbose"\)/ },
  { name: 'region as a number', content: '[aws]\nregion = 1\n', message: /:2: aws\.region must be a string/ },
  { name: 'password as a number', content: database + 'password = 12345678\n', message: /:5: database\.password must be a string: database password$/m },
  { name: 'a date where a string belongs', content: '[database]\nhost = 1979-05-27T07:32:00Z\nuser = \'u\'\ndbname = \'d\'\n', message: /:2: database\.host must be a string: .*date/ },
  { name: 'a time where a number belongs', content: '[checks]\ntimeout_ms = 07:32:00\n', message: /:2: checks\.timeout_ms must be a whole number/ },

  // Out of range names the range.
  { name: 'port 0', content: '[server]\nport = 0\n', message: /:2: server\.port is out of range: TCP port, 1-65535 \(got 0\)/, cli: true },
  { name: 'port 65536', content: database.replace("'h'\n", "'h'\nport = 65536\n"), message: /:3: database\.port is out of range: TCP port, 1-65535 \(got 65536\)/ },
  { name: 'port -1', content: "[redis]\nhost = 'h'\nport = -1\n", message: /:3: redis\.port is out of range: TCP port, 1-65535 \(got -1\)/ },
  { name: 'timeout_ms below 100', content: '[checks]\ntimeout_ms = 99\n', message: /:2: checks\.timeout_ms is out of range: .*100-60000 ms/ },
  { name: 'timeout_ms above 60000', content: '[checks]\ntimeout_ms = 60001\n', message: /:2: checks\.timeout_ms is out of range: .*\(got 60001\)/ },
  { name: 'negative cache_ms', content: '[checks]\ncache_ms = -1\n', message: /:2: checks\.cache_ms is out of range/ },
  { name: 'max_size_mb 0', content: '[log]\nmax_size_mb = 0\n', message: /:2: log\.max_size_mb is out of range: .*1-1024/ },
  { name: 'max_size_mb above 1024', content: '[log]\nmax_size_mb = 1025\n', message: /:2: log\.max_size_mb is out of range/ },
  { name: 'zero rotated log files', content: '[log]\nfiles = 0\n', message: /:2: log\.files is out of range: .*1-100/ },
  { name: 'drain_ms above 120000', content: '[server]\ndrain_ms = 120001\n', message: /:2: server\.drain_ms is out of range/ },
  { name: 'admin_token too short', content: "[server]\nadmin_token = 'short-token'\n", message: /:2: server\.admin_token is too short: at least 16 characters/, cli: true },

  // Misspelt keys and sections get the closest known name.
  { name: 'misspelt key', content: "[database]\nhots = 'h'\nhost = 'h'\nuser = 'u'\ndbname = 'd'\n", message: /:2: unknown key database\.hots — did you mean host\?/, cli: true },
  { name: 'misspelt section', content: "[databse]\nhost = 'h'\n", message: /:1: unknown section \[databse\] — did you mean database\?/ },
  { name: 'key outside any section', content: 'port = 8080\n', message: /:1: .*\bport\b/ },
  { name: 'unknown subtable', content: '[server.tls]\nenabled = true\n', message: /unknown key server\.tls/ },
  { name: 'quoted key holding an escape sequence', content: '[server]\n"\\u001b[31mport" = 1\n', message: /unknown key server\./ },

  // Structure: what TOML allows is accepted, what the schema cannot take is named.
  { name: 'empty file', content: '', valid: true },
  { name: 'only whitespace and comments', content: '  \n\t\n# nothing here\n', valid: true },
  { name: 'UTF-8 BOM', content: Buffer.from('\uFEFF[server]\nport = 8081\n'), valid: true, port: 8081, cli: true },
  { name: 'CRLF line ends', content: "[server]\r\nhost = '127.0.0.1'\r\nport = 8082\r\n", valid: true, port: 8082 },
  { name: 'whitespace inside a header', content: '[ server ]\nport = 8083\n', valid: true, port: 8083 },
  { name: 'hexadecimal port with underscores', content: '[server]\nport = 0x1F_94\n', valid: true, port: 8084 },
  { name: 'inline tables', content: "server = { host = '127.0.0.1', port = 8085 }\n", valid: true, port: 8085 },
  { name: 'duplicate key', content: '[server]\nport = 8080\nport = 8081\n', message: /:3:\d+: TOML syntax error: trying to redefine/ },
  { name: 'duplicate table', content: "[server]\nport = 8080\n[server]\nhost = 'x'\n", message: /:3:\d+: TOML syntax error: trying to redefine/ },
  { name: 'array of tables where a table belongs', content: "[[database]]\nhost = 'h'\n", message: /database must be a table: write it as a \[database\] header/, cli: true },
  { name: 'inline table where a value belongs', content: '[server]\nport = { value = 8080 }\n', message: /:2: server\.port must be a whole number/ },
  { name: 'subtable where a value belongs', content: '[server.port]\nvalue = 8080\n', message: /server\.port must be a whole number/ },
  { name: 'value where a table belongs', content: "database = 'mysql://u:p@h/d'\n", message: /:1: database must be a table/ },
  { name: 'inline table missing keys', content: "database = { host = 'h' }\n", message: /missing key database\.user .*\n.*missing key database\.dbname/ },
  { name: 'NUL byte in a string', content: Buffer.from("[server]\nhost = '127\u00000.0.1'\n"), message: /:2:\d+: TOML syntax error/ },
  { name: 'NUL byte in a key', content: Buffer.from("[server]\nho\u0000st = 'x'\n"), message: /:2:\d+: TOML syntax error/ },
  { name: 'tables nested 2000 deep', content: `[${Array.from({ length: 2000 }, (_, i) => `k${i}`).join('.')}]\n`, message: /unknown section \[k0\]/ },
  { name: 'arrays nested 100000 deep', content: `x = ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, message: /:1:\d+: TOML syntax error: document contains excessively nested structures/ },
  { name: 'inline tables nested 20000 deep', content: `x = ${'{a='.repeat(20_000)}1${'}'.repeat(20_000)}\n`, message: /:1:\d+: TOML syntax error: document contains excessively nested structures/ },

  // Bytes that are not TOML text at all.
  { name: 'invalid UTF-8', content: Buffer.concat([Buffer.from("[server]\nhost = '"), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from("'\n")]), message: /not valid UTF-8/, cli: true },
  { name: 'binary garbage', content: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)), message: /TOML syntax error|not valid UTF-8/, cli: true },

  // Sizes far beyond any real config.
  { name: '1 MB host', content: `[server]\nhost = '${'a'.repeat(MB)}'\n`, message: /:2: server\.host is too long/ },
  { name: '1 MB string where a number belongs', content: `[server]\nport = '${'9'.repeat(MB)}'\n`, message: /:2: server\.port must be a whole number/ },
  { name: '1 MB key', content: `[server]\n${'k'.repeat(MB)} = 1\n`, message: /:2: unknown key server\.k/ },
  { name: '5 MB of comments around a valid config', content: '[server]\nport = 8086\n' + `# ${'c'.repeat(1022)}\n`.repeat(5 * 1024), valid: true, port: 8086, cli: true },
  { name: '5 MB line', content: `[server]\nhost = "${'h'.repeat(5 * MB)}\n`, message: /:2:\d+: TOML syntax error/ },
  { name: '3000 unknown keys', content: '[server]\n' + Array.from({ length: 3000 }, (_, i) => `x${i} = 1\n`).join(''), message: /:3001: unknown key server\.x2999/, withinMs: 250 },

  // Paths that are not a readable regular file.
  { name: 'unreadable file (chmod 000)', make: async file => { await writeFile(file, '[server]\nport = 8087\n'); await chmod(file, 0) }, valid: asRoot, port: 8087, message: /cannot read the config file \(EACCES\)/, cli: true },
  { name: 'a directory', make: file => mkdir(file), message: /cannot read the config file \(EISDIR\)/, cli: true },
  { name: 'a missing file', make: async () => {}, message: /config file not found: \S+ \(from --config\)/, cli: true }
]

let dir: string
const fileOf = (c: Case) => join(dir, `${c.name.replace(/\W+/g, '-')}.toml`)

before(async () => {
  dir = await makeTempDir('corpus')
  await Promise.all(cases.map(c => c.make ? c.make(fileOf(c)) : writeFile(fileOf(c), c.content ?? '')))
})

// Each file is loaded once; the tests below read the same result.
const loads = new Map<Case, { loaded: LoadedConfig, ms: number }>()
function load (c: Case) {
  let result = loads.get(c)
  if (!result) {
    const started = performance.now()
    const loaded = loadConfig({ cwd: dir, path: fileOf(c), env: {}, programDir: dir }, backends)
    loads.set(c, result = { loaded, ms: performance.now() - started })
  }
  return result
}

// What `validate` prints for the problems: each message, then its excerpt.
function printed (loaded: LoadedConfig): string[] {
  return loaded.ok ? [] : loaded.problems.map(problem => problem.message + (problem.excerpt ? `\n${problem.excerpt}` : ''))
}

// C0 controls but tab and line feed, and DEL: a terminal acts on them (ESC starts a command).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/
const noStack = (text: string) => assert.doesNotMatch(text, /\n\s+at /, 'no stack trace')

for (const c of cases) {
  test(`loadConfig: ${c.name}`, () => {
    const { loaded, ms } = load(c)
    if (c.withinMs) assert.ok(ms < c.withinMs, `took ${Math.round(ms)} ms`)
    if (c.valid) {
      assert.ok(loaded.ok, printed(loaded).join('\n'))
      if (c.port) assert.equal(loaded.config.server.port, c.port)
      return
    }
    assert.ok(!loaded.ok, 'expected the config to be rejected')
    for (const problem of loaded.problems) assert.ok(problem.message.includes(fileOf(c)), `names the file: ${problem.message.slice(0, 300)}`)
    assert.match(loaded.problems.map(problem => problem.message).join('\n'), c.message!)
  })
}

test('problems carry no raw control characters from the file', async t => {
  for (const c of cases) {
    await t.test(c.name, () => {
      for (const text of printed(load(c).loaded)) assert.doesNotMatch(text, CONTROL, JSON.stringify(text.slice(0, 200)))
    })
  }
})

test('each problem stays readable: at most 2 KB however big the input', async t => {
  for (const c of cases) {
    await t.test(c.name, () => {
      for (const text of printed(load(c).loaded)) assert.ok(text.length <= 2048, `${text.length} characters: ${text.slice(0, 200)}`)
    })
  }
})

test('validate --config FILE: exit 0 or 2, the same problems on stderr, no stack trace', { concurrency: availableParallelism() }, async t => {
  await Promise.all(cases.filter(c => c.cli).map(c => t.test(c.name, async () => {
    const file = fileOf(c)
    const { code, stdout, stderr } = await runCli(['validate', '--config', file], { cwd: dir })
    assert.ok(code === 0 || code === 2, `exit code ${code} (null: killed by a signal)\n${stderr.slice(0, 2000)}`)
    noStack(stdout + stderr)
    if (c.valid) {
      assert.equal(code, 0, stderr.slice(0, 2000))
      assert.ok(stdout.startsWith(`${file}: valid\n`), stdout)
      return
    }
    assert.equal(code, 2, stdout)
    assert.match(stderr, c.message!)
    const { loaded } = load(c)
    assert.ok(!loaded.ok)
    for (const problem of loaded.problems) assert.ok(stderr.includes(problem.message), `stderr has: ${problem.message.slice(0, 300)}`)
    assert.match(stderr, new RegExp(`\\n${loaded.problems.length} problems? in the config\\n$`))
  })))
})
