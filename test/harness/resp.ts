import { createServer, type AddressInfo, type Socket } from 'node:net'
import { once } from 'node:events'
import { LOOPBACK } from './ports.ts'

// A loopback RESP2 server answering as one of two servers that cannot be installed here:
// Redis 5.0.14 (ElastiCache still offers Redis OSS 5; it has no HELLO) and Valkey 8.0.1
// (ElastiCache's default engine; Debian bookworm ships no valkey-server). Only the commands the
// redis check and the fleet send are known; every other one gets the server's own
// "unknown command" error. Texts taken from the servers' sources:
//   Redis 5.0.14  src/server.c processCommand ("unknown command `%s`, with args beginning with: %s",
//                 each argument as "`%.*s`, "), authCommand ("invalid password", "Client sent AUTH,
//                 but no password is set"), shared.noautherr; src/networking.c clientCommand
//                 ("Unknown subcommand or wrong number of arguments for '%s'. Try CLIENT HELP").
//   Valkey 8.0.1  src/server.c genValkeyInfoString: INFO's Server section starts with the Redis
//                 compatibility version (REDIS_VERSION "7.2.4"), then server_name "valkey" and
//                 valkey_version (src/version.h).

export type RespServerKind = 'redis-5.0.14' | 'valkey-8.0.1'

export interface RespHandle {
  host: string
  port: number
  // Every command received, as its words (AUTH's password replaced by "***").
  commands: string[][]
  stop: () => Promise<void>
}

// INFO's Server section, as each server prints it (values of this fixture's process).
function serverSection (kind: RespServerKind, port: number): string {
  const common = [
    'os:Linux 6.1.0-28-amd64 x86_64',
    'arch_bits:64'
  ]
  if (kind === 'redis-5.0.14') {
    return ['# Server', 'redis_version:5.0.14', 'redis_git_sha1:00000000', 'redis_git_dirty:0', 'redis_build_id:6f6f1d7e4f2fb3e7',
      'redis_mode:standalone', ...common, 'multiplexing_api:epoll', 'atomicvar_api:atomic-builtin', 'gcc_version:12.2.0',
      `process_id:${process.pid}`, 'run_id:3c6f0f0e5d1a4b1f9d7f5e0e2b8a6c4d1e3f5a7b', `tcp_port:${port}`, 'uptime_in_seconds:1',
      'uptime_in_days:0', 'hz:10', 'configured_hz:10', 'lru_clock:1234567', 'executable:/usr/bin/redis-server', 'config_file:'].join('\r\n')
  }
  return ['# Server', 'redis_version:7.2.4', 'server_name:valkey', 'valkey_version:8.0.1', 'redis_git_sha1:00000000', 'redis_git_dirty:0',
    'redis_build_id:8b4e2f0c1a9d3e57', 'server_mode:standalone', ...common, 'monotonic_clock:POSIX clock_gettime',
    'multiplexing_api:epoll', 'gcc_version:12.2.0', `process_id:${process.pid}`, 'process_supervised:no',
    'run_id:5b1d0c3e7f9a2b4d6e8f0a1c3e5b7d9f1a2c4e6b', `tcp_port:${port}`, `server_time_usec:${Date.now() * 1000}`,
    'uptime_in_seconds:1', 'uptime_in_days:0', 'hz:10', 'configured_hz:10', 'lru_clock:1234567',
    'executable:/usr/bin/valkey-server', 'config_file:', 'io_threads_active:0', 'availability_zone:'].join('\r\n')
}

function info (kind: RespServerKind, port: number): string {
  return [serverSection(kind, port), '', '# Replication', 'role:master', 'connected_slaves:0', '', '# Cluster', 'cluster_enabled:0', ''].join('\r\n')
}

const KNOWN = new Set(['AUTH', 'PING', 'INFO', 'CLIENT', 'SET', 'GET', 'DEL'])

const simple = (text: string) => `+${text}\r\n`
const error = (text: string) => `-${text}\r\n`
const bulk = (text: string | undefined) => text === undefined ? '$-1\r\n' : `$${Buffer.byteLength(text)}\r\n${text}\r\n`
const integer = (n: number) => `:${n}\r\n`

function unknownCommand (kind: RespServerKind, words: string[]): string {
  let args = ''
  for (const word of words.slice(1)) {
    if (args.length >= 128) break
    args += kind === 'redis-5.0.14' ? `\`${word.slice(0, 128 - args.length)}\`, ` : `'${word.slice(0, 128 - args.length)}' `
  }
  return kind === 'redis-5.0.14'
    ? error(`ERR unknown command \`${words[0]}\`, with args beginning with: ${args}`)
    : error(`ERR unknown command '${words[0]}', with args beginning with: ${args}`)
}

// Reads RESP arrays of bulk strings (what every client sends) from a buffer; undefined until whole.
function parseCommand (buffer: Buffer): { words: string[], rest: Buffer } | undefined {
  let offset = 0
  const line = () => {
    const end = buffer.indexOf('\r\n', offset)
    if (end < 0) return undefined
    const text = buffer.subarray(offset, end).toString()
    offset = end + 2
    return text
  }
  const header = line()
  if (header === undefined) return undefined
  if (!header.startsWith('*')) return { words: header.trim().split(/\s+/), rest: buffer.subarray(offset) }
  const words: string[] = []
  for (let i = 0; i < Number(header.slice(1)); i++) {
    const size = line()
    if (size === undefined) return undefined
    const length = Number(size.slice(1))
    if (buffer.length < offset + length + 2) return undefined
    words.push(buffer.subarray(offset, offset + length).toString())
    offset += length + 2
  }
  return { words, rest: buffer.subarray(offset) }
}

export async function startRespServer (kind: RespServerKind, { password }: { password?: string } = {}): Promise<RespHandle> {
  const commands: string[][] = []
  const keys = new Map<string, string>()
  const sockets = new Set<Socket>()
  let port = 0

  function answer (words: string[], session: { authenticated: boolean }): string {
    const name = words[0].toUpperCase()
    // Both servers look the command up before they ask for authentication.
    if (!KNOWN.has(name)) return unknownCommand(kind, words)
    if (name === 'AUTH') {
      // Redis 5 knows AUTH <password> only; Valkey also AUTH <username> <password>.
      const given = words.length === 2 ? words[1] : kind === 'valkey-8.0.1' && words.length === 3 ? words[2] : undefined
      if (given === undefined) return error('ERR wrong number of arguments for \'auth\' command')
      if (password === undefined) {
        return error(kind === 'redis-5.0.14'
          ? 'ERR Client sent AUTH, but no password is set'
          : 'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?')
      }
      if (given !== password) return error(kind === 'redis-5.0.14' ? 'ERR invalid password' : 'WRONGPASS invalid username-password pair or user is disabled.')
      session.authenticated = true
      return simple('OK')
    }
    if (!session.authenticated) return error('NOAUTH Authentication required.')
    switch (name) {
      case 'PING': return simple('PONG')
      case 'INFO': return bulk(info(kind, port))
      case 'CLIENT':
        if (kind === 'valkey-8.0.1') return words[1]?.toUpperCase() === 'SETINFO' ? simple('OK') : error(`ERR unknown subcommand '${words[1]}'. Try CLIENT HELP.`)
        return error(`ERR Unknown subcommand or wrong number of arguments for '${words[1]}'. Try CLIENT HELP`)
      case 'SET': keys.set(words[1], words[2]); return simple('OK')
      case 'GET': return bulk(keys.get(words[1]))
      default: // DEL
        return integer(words.slice(1).filter(key => keys.delete(key)).length)
    }
  }

  const server = createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    const session = { authenticated: password === undefined }
    let pending: Buffer = Buffer.alloc(0)
    socket.on('data', chunk => {
      pending = Buffer.concat([pending, chunk])
      for (let parsed = parseCommand(pending); parsed; parsed = parseCommand(pending)) {
        pending = parsed.rest
        if (parsed.words.length === 0) continue
        commands.push(parsed.words[0].toUpperCase() === 'AUTH' ? [parsed.words[0], ...parsed.words.slice(1).map(() => '***')] : parsed.words)
        socket.write(answer(parsed.words, session))
      }
    })
  })
  server.listen(0, LOOPBACK)
  await once(server, 'listening')
  port = (server.address() as AddressInfo).port
  return {
    host: LOOPBACK,
    port,
    commands,
    async stop () {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}
