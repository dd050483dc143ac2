import { randomBytes } from 'node:crypto'
import { isIP, connect as netConnect } from 'node:net'
import { hostname } from 'node:os'
import { Type, type Static } from '@sinclair/typebox'
import { defineBackend, type BackendDeps } from '../lib/backend.ts'
import { CheckFailure, defineCheck, type CheckContext, type Stage } from '../lib/check.ts'
import { pinpointer } from '../lib/explain.ts'
import type { Hints } from '../lib/hints.ts'
import { staged } from '../lib/lookup.ts'
import { redisRecords, type RedisClusterClient, type RedisNodeClient } from '../lib/records-redis.ts'
import { Host, NonEmpty, Port } from '../lib/schema.ts'

export const RedisSection = Type.Object({
  host: Host('Redis host or ElastiCache configuration endpoint'),
  port: Port(6379),
  tls: Type.Boolean({ default: false, description: 'true when the cluster has in-transit encryption' }),
  username: Type.Optional(NonEmpty('ACL user name (ElastiCache RBAC)')),
  password: Type.Optional(Type.String({ minLength: 1, writeOnly: true, description: 'AUTH token or ACL password' }))
})

const hints: Hints = {
  connect_timeout: c => `no route to ${c.host}:${c.port}: the ElastiCache security group must allow inbound TCP ${c.port} from this instance's security group, and the cluster's subnet group must be in this instance's VPC`,
  request_timeout: c => `${c.host}:${c.port} accepted the connection but never answered: if the cluster has in-transit encryption, set [redis] tls = true`,
  connect_reset: c => `${c.host}:${c.port} closed the connection: if the cluster has in-transit encryption, set [redis] tls = true`,
  auth: () => 'Redis rejected the login: set [redis] password (the AUTH token) and, with RBAC, [redis] username',
  tls: c => `the TLS handshake with ${c.host} failed: ElastiCache's certificate is trusted as is; a server with its own certificate needs its CA trusted (start suaicloudapp with NODE_EXTRA_CA_CERTS=/path/to/ca.pem)`,
  tls_expected: () => 'the server does not speak TLS on that port: set [redis] tls = false',
  cluster: () => 'the cluster is not serving all hash slots: wait for it to finish creating or failing over (ElastiCache console → Events), then retry'
}

interface Connection {
  // Talks to the configured endpoint itself: INFO and CLUSTER INFO.
  node: RedisNodeClient
  // In cluster mode, the client that routes keys to their shard, connected on first use.
  cluster?: () => Promise<RedisClusterClient>
  // valkey or redis, and its own version
  engine: string
  version: string
}

// ElastiCache gives one host: a plain node, or a cluster-mode configuration endpoint. The
// first check asks the node (INFO cluster) and switches to the cluster client when it must.
function createRedis (section: Static<typeof RedisSection>, deps: BackendDeps) {
  const { log, timeoutMs, lookup } = deps
  // Its own per app too, not only per process: apps that share a process and a cluster must not
  // overwrite each other's probe between its SET and its GET.
  const probeKey = `suaicloudapp:probe:${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
  let connection: Promise<Connection> | undefined
  // Every client made for the current connection, reachable even while it is still connecting.
  let clients: Array<{ destroy: () => void }> = []

  async function connect (ctx: CheckContext): Promise<Connection> {
    // Loaded on the first check, so start-up never pays for it.
    const { createClient, createCluster } = await import('redis')
    // A check that timed out while the module loaded must not open a connection nobody closes.
    ctx.signal.throwIfAborted()
    const socket = {
      host: section.host,
      port: section.port,
      connectTimeout: timeoutMs,
      lookup,
      // No background reconnect loop: a failed check drops the connection and the next one
      // connects afresh, so a Redis that comes back is seen at once and a dead one costs nothing.
      reconnectStrategy: false as const,
      // SNI carries host names only: Node warns on stderr when given an IP address.
      ...(section.tls ? { tls: true as const, servername: isIP(section.host) ? undefined : section.host } : {})
    }
    // RESP2, which every engine ElastiCache offers speaks: node-redis 6 would open with HELLO 3,
    // which Redis before 6 refuses ("unknown command"), and over RESP3 it would look the host
    // up again through the system resolver for its maintenance notifications, past our lookup.
    const options = { username: section.username, password: section.password, disableOfflineQueue: true, RESP: 2 as const, maintNotifications: 'disabled' as const }
    // Without an 'error' listener a socket error after connecting would crash the process.
    const dropOnError = (err: Error) => { log.debug({ err }, 'redis connection error'); reset() }

    ctx.stage('connect')
    // With TLS the client says 'connect' only after the handshake. Our own TCP socket shows the
    // connection succeed first, so a handshake that never ends (a plain Redis waits for a
    // newline that never comes) is not taken for a security group dropping packets.
    // The first node's lookup is a stage of its own (see lib/lookup.ts); a cluster's nodes are
    // looked up later, in stage cluster.
    const first = { ...socket, lookup: staged(lookup, ctx.stage) }
    const tcp = section.tls ? netConnect({ host: section.host, port: section.port, lookup: first.lookup }) : undefined
    tcp?.once('connect', () => ctx.stage('tls'))
    const node = createClient({ socket: tcp ? { ...first, socket: tcp } : first, ...options })
    node.on('error', dropOnError)
    // The socket is open; what follows (HELLO, AUTH) is Redis answering, or not. If the check
    // timed out meanwhile, close it: destroy() during the TCP connect cannot reach the socket.
    node.once('connect', () => ctx.signal.aborted ? node.destroy() : ctx.stage('request'))
    clients.push(node)
    await node.connect()
    ctx.stage('request')
    const info = parseInfo(await node.info())
    // Valkey reports a Redis compatibility version (7.2.4) as redis_version; its own is valkey_version.
    const engine = info.server_name ?? 'redis'
    const version = info[`${engine}_version`] ?? info.redis_version ?? 'unknown'
    if (info.cluster_enabled !== '1') return { node, engine, version }
    // Connected on the first check that finds the cluster healthy: the cluster client cannot
    // connect while a master is gone, and then CLUSTER INFO on the node says it better.
    let cluster: Promise<RedisClusterClient> | undefined
    const connectCluster = () => {
      cluster ??= (async () => {
        const client = createCluster({ rootNodes: [{ socket }], defaults: { socket, ...options }, RESP: options.RESP })
        client.on('error', dropOnError)
        clients.push(client)
        await client.connect()
        return client
      })()
      return cluster
    }
    return { node, engine, version, cluster: connectCluster }
  }

  function reset () {
    connection?.catch(() => {})
    connection = undefined
    const stale = clients
    clients = []
    for (const client of stale) {
      try { client.destroy() } catch { /* already closed */ }
    }
  }

  // A cache that speaks TLS only takes a plain client's connection and then says nothing: a
  // failure at request is worth explaining too.
  const pinpoint = pinpointer(deps, { backend: 'redis', host: section.host, port: section.port, tls: section.tls, stages: ['connect', 'request'] })
  const check = defineCheck({
    ...deps,
    backend: 'redis',
    section,
    hints,
    classify,
    reset,
    explainer: pinpoint,
    isStale: err => /Disconnects client|client is closed|Socket closed unexpectedly|ECONNRESET|EPIPE/i.test(String((err as Error)?.message))
  }, async ctx => {
    connection ??= connect(ctx)
    const { node, engine, version, cluster: connectCluster } = await connection
    ctx.detail('engine', engine)
    ctx.detail('version', version)
    ctx.detail('mode', connectCluster ? 'cluster' : 'standalone')

    let cluster: RedisClusterClient | undefined
    if (connectCluster) {
      ctx.stage('cluster')
      const state = parseInfo(String(await node.sendCommand(['CLUSTER', 'INFO'])))
      ctx.detail('cluster_state', state.cluster_state)
      if (state.cluster_state !== 'ok') {
        throw new CheckFailure('cluster', `the cluster answers but its state is ${state.cluster_state} (${state.cluster_slots_ok ?? '?'} of 16384 slots served)`, 'cluster')
      }
      cluster = await connectCluster()
      ctx.detail('masters', cluster.masters.length)
    }

    ctx.stage('request')
    const client = cluster ?? node
    const value = String(Date.now())
    try {
      // Issued together, node-redis pipelines them: one round trip.
      const [, got] = await Promise.all([
        client.set(probeKey, value, { expiration: { type: 'PX', value: 10_000 } }),
        client.get(probeKey),
        client.del(probeKey)
      ])
      if (got !== value) throw new CheckFailure('request', `wrote ${probeKey} but read back ${JSON.stringify(got)}`)
    } catch (err) {
      if (!String((err as Error).message).startsWith('READONLY')) throw err
      await client.get(probeKey)
      ctx.warn(`${section.host} is a read-only replica: reads work, writes are refused`)
    }
  })

  // The connection the last check opened, for the fleet's heartbeats: none after a failed check.
  async function connected (): Promise<RedisNodeClient | RedisClusterClient> {
    if (!connection) throw new Error('not connected: the last redis check failed or none ran yet')
    const { node, cluster } = await connection
    return cluster ? cluster() : node
  }

  return { check, close: async () => { reset(); await pinpoint.close() }, records: redisRecords(connected) }
}

function parseInfo (text: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1)
  }
  return fields
}

function classify (err: unknown, stage: Stage): CheckFailure | undefined {
  const message = String((err as Error)?.message ?? err)
  // Redis 6 and later, and Valkey; then Redis 5's words for a wrong or needless AUTH token.
  if (/^(WRONGPASS|NOAUTH)|invalid username-password|AUTH.*without any password|^ERR invalid password|no password is set/i.test(message)) {
    return new CheckFailure('auth', message.split('\n')[0], 'auth')
  }
  if (/^CLUSTERDOWN/.test(message)) return new CheckFailure('cluster', message, 'cluster')
  if (/root nodes are unavailable/i.test(message)) {
    return new CheckFailure('cluster', `the cluster client could not reach every master the cluster announces (${message})`, 'cluster')
  }
  if (/wrong version number|packet length too long|EPROTO/i.test(message) && stage === 'tls') {
    return new CheckFailure('tls', `TLS handshake failed: ${message}`, 'tls_expected')
  }
  return undefined
}

export default defineBackend({
  name: 'redis',
  title: 'Redis',
  kind: 'ElastiCache',
  componentType: 'datastore',
  section: RedisSection,
  hints,
  create: createRedis
})
