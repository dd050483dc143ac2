import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cleanEnv, makeTempDir, program } from './helper.ts'

// Faults a closed port cannot show: packets dropped on the floor (a security group that says
// nothing) and a DNS server that never answers. Both are made inside a network and mount
// namespace of this test's own, so nothing outside it is touched: iptables DROP rules on
// loopback, and a resolv.conf naming a loopback resolver whose port is dropped too.

const TIMEOUT_MS = 1000

function missing (): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for a network namespace and iptables'
  for (const tool of ['unshare', 'iptables', 'ip']) {
    try { execFileSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`], { stdio: 'ignore' }) } catch { return `needs ${tool} (Debian: apt-get install iptables iproute2 util-linux)` }
  }
  try { execFileSync('unshare', ['-n', '-m', 'true'], { stdio: 'ignore' }) } catch { return 'this machine does not allow new network namespaces' }
  return undefined
}

test('dropped packets and a silent DNS server are answered within timeout_ms, by every check', { skip: missing() }, async () => {
  const dir = await makeTempDir('netns')
  const [db, redis, s3, dynamo] = [41001, 41002, 41003, 41004]
  await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:5 attempts:2\n')
  await writeFile(join(dir, 'config.toml'), `[checks]
timeout_ms = ${TIMEOUT_MS}
[aws]
region = 'us-east-1'
[database]
host = '127.0.0.1'
port = ${db}
user = 'u'
password = 'p'
dbname = 'd'
[redis]
host = 'redis.cache.example.internal'
port = ${redis}
[s3]
bucket = 'b'
endpoint = 'http://127.0.0.1:${s3}'
[dynamodb]
table = 't'
partition_key = 'id'
endpoint = 'http://dynamodb.example.internal:${dynamo}'
`)
  const script = [
    'set -e',
    'ip link set lo up',
    `iptables -A INPUT -p tcp -m multiport --dports ${db},${redis},${s3},${dynamo} -j DROP`,
    'iptables -A INPUT -p udp --dport 53 -j DROP',
    'iptables -A INPUT -p tcp --dport 53 -j DROP',
    `mount --bind ${join(dir, 'resolv.conf')} /etc/resolv.conf`,
    'exec "$@"'
  ].join('; ')
  const started = performance.now()
  const { code, stdout, stderr } = await new Promise<{ code: number | null, stdout: string, stderr: string }>((resolve, reject) => {
    const child = spawn('unshare', ['-n', '-m', 'bash', '-c', script, 'netns', ...program(), 'check', '--json'], {
      cwd: dir,
      env: cleanEnv({ AWS_ACCESS_KEY_ID: 'AKIALOCAL', AWS_SECRET_ACCESS_KEY: 'local-secret' }),
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    let err = ''
    child.stdout.on('data', chunk => { out += chunk })
    child.stderr.on('data', chunk => { err += chunk })
    child.on('error', reject)
    child.on('close', code => resolve({ code, stdout: out, stderr: err }))
  })
  const elapsed = performance.now() - started

  assert.equal(code, 1, stderr)
  const results = JSON.parse(stdout) as Array<{ backend: string, status: string, stage: string, message: string, durationMs: number }>
  assert.deepEqual(results.map(result => result.backend), ['database', 'redis', 's3', 'dynamodb'])
  for (const result of results) {
    assert.equal(result.status, 'fail', JSON.stringify(result))
    assert.ok(result.durationMs <= TIMEOUT_MS + 500, `${result.backend} took ${result.durationMs} ms`)
  }
  assert.equal(results[0].stage, 'connect', 'a dropped SYN is a connect timeout: the security group hint')
  // The whole command, start-up included, is not held up by the DNS lookups it gave up on.
  assert.ok(elapsed < TIMEOUT_MS + 4000, `check exited after ${Math.round(elapsed)} ms`)
})
