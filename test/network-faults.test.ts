import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cleanEnv, makeTempDir, program } from './helper.ts'
import { netnsMissing, runInNetns } from './harness/netns.ts'

// Faults a closed port cannot show: packets dropped on the floor (a security group that says
// nothing) and a DNS server that never answers. Both are made inside a network and mount
// namespace of this test's own, so nothing outside it is touched: iptables DROP rules on
// loopback, and a resolv.conf naming a loopback resolver whose port is dropped too.

const TIMEOUT_MS = 1000

test('dropped packets and a silent DNS server are answered within timeout_ms, by every check', { skip: netnsMissing() }, async () => {
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
  const started = performance.now()
  const { code, stdout, stderr } = await runInNetns([...program(), 'check', '--json'], {
    drop: [`-p tcp -m multiport --dports ${db},${redis},${s3},${dynamo} -j DROP`, '-p udp --dport 53 -j DROP', '-p tcp --dport 53 -j DROP'],
    mounts: { '/etc/resolv.conf': join(dir, 'resolv.conf') },
    cwd: dir,
    env: cleanEnv({ AWS_ACCESS_KEY_ID: 'AKIALOCAL', AWS_SECRET_ACCESS_KEY: 'local-secret' })
  })
  const elapsed = performance.now() - started

  assert.equal(code, 1, stderr)
  const results = JSON.parse(stdout) as Array<{ backend: string, status: string, stage: string, message: string, durationMs: number }>
  assert.deepEqual(results.map(result => result.backend), ['database', 'redis', 's3', 'dynamodb'])
  for (const result of results) {
    assert.equal(result.status, 'fail', JSON.stringify(result))
    assert.ok(result.durationMs <= TIMEOUT_MS + 500, `${result.backend} took ${result.durationMs} ms`)
  }
  // A dropped SYN is a connect timeout (the security group, the route table); a resolver that
  // never answers is stage dns, for the API endpoints too.
  assert.deepEqual(results.map(result => result.stage), ['connect', 'dns', 'connect', 'dns'], JSON.stringify(results))
  // The whole command, start-up included, is not held up by the DNS lookups it gave up on.
  assert.ok(elapsed < TIMEOUT_MS + 4000, `check exited after ${Math.round(elapsed)} ms`)
})
