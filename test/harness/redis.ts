import { join } from 'node:path'
import { LOOPBACK, freePort } from './ports.ts'
import { ServerProcess, findExecutable, makeTempDir, removeTempDir, runTool, waitUntil } from './process.ts'
import type { TlsFiles } from './tls.ts'

export interface RedisHandle {
  host: string
  port: number
  /** pid of the current redis-server (changes on restart) */
  readonly pid: number | undefined
  kill9: () => Promise<void>
  /** Starts redis-server again on the same port (stopping it first if it runs); data is not kept. */
  restart: () => Promise<void>
  stop: () => Promise<void>
}

export interface RedisNode {
  host: string
  port: number
  readonly pid: number | undefined
}

export interface RedisClusterHandle {
  host: string
  /** port of the first node */
  port: number
  nodes: RedisNode[]
  stop: () => Promise<void>
}

const START_TIMEOUT_MS = 10_000

interface CliAuth { password?: string, tls?: TlsFiles }

/** One redis-cli command against a node; the password goes through the environment, not argv. */
function redisCli (port: number, args: string[], { password, tls, timeoutMs = 5000 }: CliAuth & { timeoutMs?: number } = {}): Promise<string> {
  const env = password === undefined ? {} : { REDISCLI_AUTH: password }
  const secure = tls ? ['--tls', '--cacert', tls.caFile] : []
  return runTool(findExecutable('redis-cli'), ['-h', LOOPBACK, '-p', String(port), ...secure, ...args], { timeoutMs, env })
}

function newRedisServer (dir: string, port: number, extraArgs: string[]): ServerProcess {
  return new ServerProcess({
    name: `redis-server :${port}`,
    command: findExecutable('redis-server'),
    // No persistence at all: tests want a blank server, and no dump on shutdown
    args: ['--port', String(port), '--bind', LOOPBACK, '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
    logFile: join(dir, `redis-${port}.log`)
  })
}

async function launch (server: ServerProcess, port: number, auth: CliAuth = {}): Promise<void> {
  server.spawn()
  await waitUntil(`redis-server on ${LOOPBACK}:${port}`, async () => {
    // redis-cli exits 0 on error replies too (LOADING, NOAUTH), so look at the reply itself
    const reply = (await redisCli(port, ['PING'], auth)).trim()
    if (reply !== 'PONG') throw new Error(reply)
  }, { timeoutMs: START_TIMEOUT_MS, proc: server })
}

// `replicaOf`: a read-only replica of that server, as an ElastiCache replica node is.
// `tls`: TLS only on `port`, as ElastiCache with in-transit encryption (the later --port 0 wins).
export async function startRedis ({ password, port: wanted, replicaOf, tls }: { password?: string, port?: number, replicaOf?: { host: string, port: number }, tls?: TlsFiles } = {}): Promise<RedisHandle> {
  const dir = await makeTempDir('redis')
  const port = wanted ?? await freePort()
  const server = newRedisServer(dir, port, [
    ...(password === undefined ? [] : ['--requirepass', password]),
    ...(replicaOf ? ['--replicaof', replicaOf.host, String(replicaOf.port)] : []),
    ...(tls
      ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'no']
      : [])
  ])
  try {
    await launch(server, port, { password, tls })
  } catch (err) {
    await server.stop(0)
    await removeTempDir(dir)
    throw err
  }
  return {
    host: LOOPBACK,
    port,
    get pid () { return server.pid },
    kill9: () => server.stop(0),
    async restart () {
      await server.stop()
      await launch(server, port, { password, tls })
    },
    async stop () {
      await server.stop(0)
      await removeTempDir(dir)
    }
  }
}

/** Three masters, no replicas, all 16384 slots assigned and cluster_state:ok on every node. `port`: the first node's. */
export async function startRedisCluster ({ port: first }: { port?: number } = {}): Promise<RedisClusterHandle> {
  const dir = await makeTempDir('redis-cluster')
  const servers: ServerProcess[] = []
  const ports: number[] = []
  try {
    for (let i = 0; i < 3; i++) {
      const port = i === 0 && first ? first : await freePort()
      // The bus port defaults to port + 10000, which nobody checked is free
      const busPort = await freePort()
      ports.push(port)
      servers.push(newRedisServer(dir, port, [
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--cluster-port', String(busPort),
        // Gossip runs at a fraction of this timeout; the 15 s default makes joining take 1 to 5 s
        '--cluster-node-timeout', '2000'
      ]))
    }
    await Promise.all(servers.map((server, i) => launch(server, ports[i])))
    // It polls once a second until all nodes agree, so give it several rounds
    await redisCli(ports[0], ['--cluster', 'create', ...ports.map(port => `${LOOPBACK}:${port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeoutMs: 30_000 })
    await Promise.all(servers.map((server, i) => waitUntil(`redis cluster node ${LOOPBACK}:${ports[i]}`, async () => {
      const info = await redisCli(ports[i], ['CLUSTER', 'INFO'])
      if (!info.includes('cluster_state:ok')) throw new Error(info.split('\n')[0].trim())
    }, { timeoutMs: START_TIMEOUT_MS, proc: server })))
  } catch (err) {
    await Promise.all(servers.map(server => server.stop(0)))
    await removeTempDir(dir)
    throw err
  }
  return {
    host: LOOPBACK,
    port: ports[0],
    nodes: servers.map((server, i) => ({ host: LOOPBACK, port: ports[i], get pid () { return server.pid } })),
    async stop () {
      await Promise.all(servers.map(server => server.stop(0)))
      await removeTempDir(dir)
    }
  }
}
