import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig, type LoadedConfig } from '../lib/config.ts'
import { backends } from '../plugins/backends.ts'
import { makeTempDir, workDir } from './helper.ts'

const seed = `[server]
host = '0.0.0.0'
port = 8080
[aws]
region = 'eu-central-1'
[s3]
bucket = 'suaicloudbucket'
[database]
host = 'database-1.example.eu-central-1.rds.amazonaws.com'
port = 3306
user = 'admin'
password = '12345678'
dbname = 'suai'
[redis]
host = 'r1.example.clustercfg.euc1.cache.amazonaws.com'
port = 6379
[dynamodb]
table = 'suaicloudtable'
partition_key = 'id'
`

async function load (toml: string | Buffer, env: NodeJS.ProcessEnv = {}) {
  const cwd = await workDir(toml)
  return { cwd, loaded: loadConfig({ cwd, env, programDir: cwd }, backends) }
}

function messages (loaded: LoadedConfig): string[] {
  assert.equal(loaded.ok, false, 'expected the config to be rejected')
  return loaded.ok ? [] : loaded.problems.map(problem => problem.message)
}

test('the seed example is valid and gets its defaults', async () => {
  const { loaded, cwd } = await load(seed)
  assert.ok(loaded.ok)
  assert.equal(loaded.file, join(cwd, 'config.toml'))
  assert.deepEqual({ ...loaded.config.database }, { host: 'database-1.example.eu-central-1.rds.amazonaws.com', port: 3306, user: 'admin', password: '12345678', dbname: 'suai', tls: 'auto' })
  assert.deepEqual(loaded.config.log, { file: 'output.log', level: 'info', max_size_mb: 10, files: 3 })
  assert.deepEqual(loaded.secrets, ['12345678'])
})

test('an empty file is valid: server defaults, every backend not configured', async () => {
  const { loaded } = await load('')
  assert.ok(loaded.ok)
  assert.deepEqual(loaded.config.server, { host: '0.0.0.0', port: 8080, drain_ms: 5000 })
  assert.equal(loaded.config.database, undefined)
  assert.equal(loaded.config.redis, undefined)
})

test('defaults fill database and redis ports', async () => {
  const { loaded } = await load("[database]\nhost='h'\nuser='u'\ndbname='d'\n[redis]\nhost='r'\n")
  assert.ok(loaded.ok)
  assert.equal(loaded.config.database?.port, 3306)
  assert.equal(loaded.config.redis?.port, 6379)
})

test('lookup order: --config, then SUAI_CONFIG, then ./config.toml, then next to the program', async () => {
  const cwd = await makeTempDir('lookup')
  const programDir = await makeTempDir('program')
  await writeFile(join(programDir, 'config.toml'), '[server]\nport = 1001\n')
  const port = (loaded: LoadedConfig) => loaded.ok ? loaded.config.server.port : undefined
  assert.equal(port(loadConfig({ cwd, env: {}, programDir }, backends)), 1001)

  await writeFile(join(cwd, 'config.toml'), '[server]\nport = 1002\n')
  assert.equal(port(loadConfig({ cwd, env: {}, programDir }, backends)), 1002)

  await mkdir(join(cwd, 'etc'))
  await writeFile(join(cwd, 'etc', 'env.toml'), '[server]\nport = 1003\n')
  assert.equal(port(loadConfig({ cwd, env: { SUAI_CONFIG: 'etc/env.toml' }, programDir }, backends)), 1003)

  await writeFile(join(cwd, 'etc', 'flag.toml'), '[server]\nport = 1004\n')
  assert.equal(port(loadConfig({ cwd, path: 'etc/flag.toml', env: { SUAI_CONFIG: 'etc/env.toml' }, programDir }, backends)), 1004)
})

test('no config anywhere names every place looked and what to do', async () => {
  const cwd = await makeTempDir('none')
  const [message] = messages(loadConfig({ cwd, env: {}, programDir: cwd }, backends))
  assert.match(message, /config file not found: looked for .*config\.toml/)
  assert.match(message, /--config PATH/)
})

test('a missing --config file is an error, not a fallback to ./config.toml', async () => {
  const cwd = await workDir(seed)
  const [message] = messages(loadConfig({ cwd, path: 'other.toml', env: {}, programDir: cwd }, backends))
  assert.match(message, /other\.toml \(from --config\)/)
})

test('a TOML syntax error names the file, line and column', async () => {
  const { loaded, cwd } = await load('[server]\nport = 8080\nhost = 0.0.0.0\n')
  const [message] = messages(loaded)
  assert.ok(message.startsWith(`${join(cwd, 'config.toml')}:3:8:`), message)
  assert.match(message, /TOML syntax error: the value is not quoted: put it in quotes, host = '0\.0\.0\.0'/)
  assert.ok(!loaded.ok && loaded.problems[0].excerpt?.includes('host = 0.0.0.0'))
})

test('a wrong type names the key, the line and what is expected', async () => {
  const { loaded } = await load("[database]\nhost = 'h'\nport = '3306x'\nuser = 'u'\ndbname = 'd'\n")
  const [message] = messages(loaded)
  assert.match(message, /config\.toml:3: database\.port must be a whole number: TCP port, 1-65535 \(got "3306x"\)/)
})

test('a port out of range names the range', async () => {
  const { loaded } = await load('[server]\nport = 70000\n')
  assert.match(messages(loaded)[0], /config\.toml:2: server\.port is out of range: TCP port, 1-65535 \(got 70000\)/)
})

test('an empty string where a name belongs is rejected', async () => {
  const { loaded } = await load("[s3]\nbucket = ''\n")
  assert.match(messages(loaded)[0], /s3\.bucket must not be empty/)
})

test('a misspelt key gets the closest known key', async () => {
  const { loaded } = await load("[database]\nhots = 'h'\nhost = 'h'\nuser = 'u'\ndbname = 'd'\n")
  assert.match(messages(loaded)[0], /config\.toml:2: unknown key database\.hots — did you mean host\?/)
})

test('a misspelt section gets the closest known section', async () => {
  const { loaded } = await load("[dynamodv]\ntable = 't'\n")
  assert.match(messages(loaded)[0], /unknown section \[dynamodv\] — did you mean dynamodb\?/)
})

test('a section missing a key says which key and how to add it', async () => {
  const { loaded } = await load("[dynamodb]\ntable = 't'\n")
  assert.match(messages(loaded)[0], /missing key dynamodb\.partition_key .*add it under \[dynamodb\] or set SUAI_DYNAMODB_PARTITION_KEY/)
})

test('a value where a table belongs is reported', async () => {
  const { loaded } = await load("database = 'mysql://x'\n")
  assert.match(messages(loaded)[0], /database must be a table/)
})

test('every problem is reported at once', async () => {
  const { loaded } = await load("[server]\nport = 0\n[log]\nlevel = 'loud'\n[redis]\nprot = 1\n")
  const all = messages(loaded).join('\n')
  assert.match(all, /unknown key redis\.prot — did you mean port\?/)
  assert.match(all, /server\.port is out of range/)
  assert.match(all, /log\.level must be one of trace, debug, info, warn, error, fatal/)
  assert.match(all, /missing key redis\.host/)
})

test('SUAI_<SECTION>_<KEY> overrides the file, and numbers are read as numbers', async () => {
  const { loaded } = await load(seed, { SUAI_DATABASE_PASSWORD: 'from-env-secret', SUAI_SERVER_PORT: '9090', SUAI_REDIS_HOST: 'other' })
  assert.ok(loaded.ok)
  assert.equal(loaded.config.database?.password, 'from-env-secret')
  assert.equal(loaded.config.server.port, 9090)
  assert.equal(loaded.config.redis?.host, 'other')
  assert.ok(loaded.secrets.includes('from-env-secret'))
})

test('environment variables alone can configure a backend', async () => {
  const { loaded } = await load('', { SUAI_S3_BUCKET: 'b' })
  assert.ok(loaded.ok)
  assert.deepEqual({ ...loaded.config.s3 }, { bucket: 'b' })
})

test('a bad environment value names the variable', async () => {
  const { loaded } = await load(seed, { SUAI_SERVER_PORT: 'eighty' })
  assert.match(messages(loaded)[0], /^SUAI_SERVER_PORT: server\.port must be a whole number/)
})

test('a broken config still yields a readable host and port to serve /health on', async () => {
  const { loaded } = await load("[server]\nhost = '127.0.0.1'\nport = 9191\n[database]\nport = 'x'\n")
  assert.ok(!loaded.ok)
  assert.deepEqual(loaded.config.server, { host: '127.0.0.1', port: 9191, drain_ms: 5000 })
  const { loaded: unreadable } = await load('[server]\nport = 99999\n')
  assert.ok(!unreadable.ok)
  assert.deepEqual(unreadable.config.server, { host: '0.0.0.0', port: 8080, drain_ms: 5000 })
})

test('a UTF-8 BOM and CRLF line ends are accepted', async () => {
  const { loaded } = await load(Buffer.from('\uFEFF[server]\r\nport = 8081\r\n'))
  assert.ok(loaded.ok)
  assert.equal(loaded.config.server.port, 8081)
})

test('binary garbage is a syntax error, not a crash', async () => {
  const { loaded } = await load(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a, 0x5b, 0x00]))
  assert.match(messages(loaded)[0], /TOML syntax error|not valid UTF-8/)
})

test('a secret never appears in a config error, even when it is the wrong value', async () => {
  const wrongType = await load("[database]\nhost = 'h'\nuser = 'u'\ndbname = 'd'\npassword = 87654321\n")
  assert.match(messages(wrongType.loaded)[0], /database\.password must be a string/)
  assert.ok(!JSON.stringify(wrongType.loaded).includes('87654321, ') && !messages(wrongType.loaded).join().includes('87654321'))

  const syntax = await load("[database]\npassword = 'hunter22secret\n")
  assert.ok(!syntax.loaded.ok)
  const text = syntax.loaded.problems.map(problem => `${problem.message}\n${problem.excerpt}`).join('\n')
  assert.ok(!text.includes('hunter22secret'), text)
  assert.match(text, /password = \[redacted\]/)
})

test('boolean keys take true/false from the environment', async () => {
  const { loaded } = await load("[redis]\nhost = 'r'\n", { SUAI_REDIS_TLS: 'TRUE', SUAI_DEMO_ENABLED: 'true' })
  assert.ok(loaded.ok)
  assert.equal(loaded.config.redis?.tls, true)
  assert.equal(loaded.config.demo.enabled, true)
  const { loaded: bad } = await load("[redis]\nhost = 'r'\n", { SUAI_REDIS_TLS: 'yes' })
  assert.match(messages(bad)[0], /^SUAI_REDIS_TLS: redis\.tls must be a boolean/)
})

test('a float where an integer belongs is a type error, though TOML would read 8080.0 as 8080', async () => {
  const { loaded } = await load('[server]\nport = 8080.0\n[checks]\ntimeout_ms = 1e3\n')
  const [port, timeout] = messages(loaded)
  assert.match(port, /config\.toml:2: server\.port must be a whole number: TCP port, 1-65535 \(got 8080\.0, a float; write 8080 without the decimal point\)/)
  assert.match(timeout, /config\.toml:4: checks\.timeout_ms must be a whole number: .*\(got 1000\.0, a float; write 1000 without the decimal point\)/)
  assert.equal(loaded.config.checks.timeout_ms, 3000, 'a broken key falls back to its default')
})

test('keys outside any section and [[array]] tables are named with their line', async () => {
  const { loaded } = await load("port = 8080\n[server]\nhost = 'h'\n[[database]]\nhost = 'x'\n")
  const [outside, array] = messages(loaded)
  assert.match(outside, /config\.toml:1: key port is outside any section; every key belongs under a \[section\] header: move it under \[server\] or \[database\] or \[redis\]/)
  assert.match(array, /config\.toml:4: database must be a table: write it as a \[database\] header followed by key = value lines \(\[\[database\]\] makes an array of tables\) \(got an array\)/)
})

test('a problem names its section, key and line, so the section alone is left out', async () => {
  const { loaded } = await load("[server]\nhots = 'x'\n[database]\nhost = 'h'\nuser = 'u'\ndbname = 'd'\n[redis]\nport = 'x'\n")
  assert.equal(loaded.ok, false)
  assert.deepEqual(loaded.problems.map(({ section, key, line }) => [section, key, line]), [['server', 'hots', 2], ['redis', 'host', 7], ['redis', 'port', 8]])
  assert.equal(loaded.config.database?.host, 'h', 'a valid section is kept')
  assert.equal(loaded.config.redis, undefined, 'a backend section with problems is left out')
})

test('without a config file, a bad environment override is not served on: the defaults stand', async () => {
  const cwd = await makeTempDir('none')
  const loaded = loadConfig({ cwd, env: { SUAI_SERVER_PORT: 'http', SUAI_SERVER_HOST: '127.0.0.1' }, programDir: cwd }, backends)
  assert.equal(loaded.ok, false)
  assert.deepEqual(loaded.config.server, { host: '127.0.0.1', port: 8080, drain_ms: 5000 })
})
