import { constants, createHash, generateKeyPair, privateDecrypt, randomBytes, type KeyObject } from 'node:crypto'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls'
import { PacketChannel, PayloadReader, lengthEncoded } from './mysql8-wire.ts'
import { LOOPBACK } from './ports.ts'
import type { TlsFiles } from './tls.ts'

// A loopback stand-in for MySQL 8.4 (RDS for MySQL 8.4), as far as the database check reaches: the
// handshake, caching_sha2_password's fast and full authentication, the connect-time errors, and
// the one query the check sends. Debian ships MariaDB only, which speaks neither this plugin's
// exchange nor these errors. Formats:
// - handshake and response: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
// - authentication: https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
// - errors: https://dev.mysql.com/doc/mysql-errors/8.4/en/server-error-reference.html
// - results: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response_text_resultset.html

export const MYSQL_VERSION = '8.4.3'

export interface MysqlAccount {
  password: string
  // Already in the server's cache of successful logins, so the first connection takes fast auth.
  cached?: boolean
  // ALTER USER … ACCOUNT LOCK
  locked?: boolean
  // ALTER USER … PASSWORD EXPIRE
  passwordExpired?: boolean
}

export interface Mysql8Options {
  accounts?: Record<string, MysqlAccount>
  databases?: string[]
  // Offered through CLIENT_SSL when given.
  tls?: TlsFiles
  // require_secure_transport=ON, RDS for MySQL 8.4's default.
  requireSecureTransport?: boolean
  // Sent to every connection in place of the handshake.
  refuse?: 'too-many-connections' | 'host-blocked'
}

// How each login authenticated, in order: what a test asserts the exchange was.
export type AuthPath = 'fast' | 'full-rsa' | 'full-tls' | 'empty-password'

export interface Mysql8Handle {
  host: string
  port: number
  authPaths: Array<{ user: string, path: AuthPath }>
  stop: () => Promise<void>
}

// Capability flags, include/mysql_com.h: https://dev.mysql.com/doc/dev/mysql-server/latest/group__group__cs__capabilities__flags.html
const CLIENT = {
  COMPRESS: 0x20,
  CONNECT_WITH_DB: 0x8,
  SSL: 0x800,
  SECURE_CONNECTION: 0x8000,
  PLUGIN_AUTH: 0x80000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
  CAN_HANDLE_EXPIRED_PASSWORDS: 0x400000,
  DEPRECATE_EOF: 0x1000000,
  OPTIONAL_RESULTSET_METADATA: 0x2000000,
  ZSTD_COMPRESSION: 0x4000000,
  QUERY_ATTRIBUTES: 0x8000000
}
// MySQL 8.4 advertises 0xDFFFFFFF (every flag but bit 29), CLIENT_SSL only with TLS configured.
// Compression is left out: this stand-in does not speak it.
const SERVER_CAPABILITIES = (0xDFFFFFFF & ~(CLIENT.SSL | CLIENT.COMPRESS | CLIENT.ZSTD_COMPRESSION)) >>> 0
const UTF8MB4_0900_AI_CI = 255
const SERVER_STATUS_AUTOCOMMIT = 0x0002
const PLUGIN = 'caching_sha2_password'

// The server's errors at connect time: code, SQLSTATE and English message, from the 8.4 error reference.
const errors = {
  accessDenied: (user: string, host: string, usingPassword: boolean) =>
    [1045, '28000', `Access denied for user '${user}'@'${host}' (using password: ${usingPassword ? 'YES' : 'NO'})`] as const,
  unknownDatabase: (database: string) => [1049, '42000', `Unknown database '${database}'`] as const,
  tooManyConnections: () => [1040, '08004', 'Too many connections'] as const,
  hostBlocked: (host: string) => [1129, 'HY000', `Host '${host}' is blocked because of many connection errors; unblock with 'mysqladmin flush-hosts'`] as const,
  secureTransportRequired: () => [3159, 'HY000', 'Connections using insecure transport are prohibited while --require_secure_transport=ON.'] as const,
  accountLocked: (user: string, host: string) => [3118, 'HY000', `Access denied for user '${user}'@'${host}'. Account is locked.`] as const,
  // Login refused to a client that cannot handle an expired password (disconnect_on_expired_password=ON):
  // https://dev.mysql.com/doc/refman/8.4/en/expired-password-handling.html
  passwordExpiredLogin: () => [1862, 'HY000', 'Your password has expired. To log in you must change it using a client that supports expired passwords.'] as const,
  // Any statement but SET and ALTER USER in the sandbox such a login gets otherwise (same page).
  passwordExpired: () => [1820, 'HY000', 'You must reset your password using ALTER USER statement before executing this statement.'] as const,
  // What MySQL says of a statement it does not support; here, anything the check does not send.
  notSupported: () => [1235, '42000', 'This version of MySQL doesn\'t yet support \'statements other than SET and SELECT VERSION(), DATABASE() in this stand-in\''] as const,
  unknownCommand: () => [1047, '08S01', 'Unknown command'] as const
}
type ServerError = readonly [code: number, sqlState: string, message: string]

// ERR_Packet: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_err_packet.html
// Before the handshake the client's capabilities are unknown, so MySQL leaves out the
// "#<SQLSTATE>" that CLIENT_PROTOCOL_41 adds (net_send_error with no client capabilities).
function errorPacket ([code, sqlState, message]: ServerError, withSqlState = true): Buffer {
  const head = Buffer.from([0xFF, code & 0xFF, code >> 8])
  return Buffer.concat([head, Buffer.from(withSqlState ? `#${sqlState}${message}` : message)])
}

const uint16 = (value: number) => Buffer.from([value & 0xFF, value >> 8])
const uint32 = (value: number) => { const bytes = Buffer.alloc(4); bytes.writeUInt32LE(value >>> 0); return bytes }

// OK_Packet (0x00) and, with CLIENT_DEPRECATE_EOF, the OK that ends a result set (0xFE):
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_ok_packet.html
const okPacket = (header = 0x00) => Buffer.concat([Buffer.from([header]), lengthEncoded(0), lengthEncoded(0), uint16(SERVER_STATUS_AUTOCOMMIT), uint16(0)])
const eofPacket = () => Buffer.concat([Buffer.from([0xFE]), uint16(0), uint16(SERVER_STATUS_AUTOCOMMIT)])

// The 20-byte nonce: random 7-bit bytes, never NUL or '$' (generate_user_salt in mysys).
function scrambleBytes (): Buffer {
  return Buffer.from(randomBytes(20).map(byte => {
    const seven = byte & 0x7F
    return seven === 0 || seven === 0x24 ? seven + 1 : seven
  }))
}

const sha256 = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest()
const xor = (data: Buffer, key: Buffer) => Buffer.from(data.map((byte, i) => byte ^ key[i % key.length]))

// Fast authentication: the client sent XOR(SHA256(password), SHA256(SHA256(SHA256(password)), nonce));
// the server, holding SHA256(SHA256(password)) in its cache, recovers SHA256(password) and hashes it.
function scrambleMatches (response: Buffer, nonce: Buffer, password: string): boolean {
  const stage2 = sha256(sha256(Buffer.from(password)))
  return response.length === 32 && sha256(xor(response, sha256(stage2, nonce))).equals(stage2)
}

// Protocol::HandshakeV10
function handshake (threadId: number, nonce: Buffer, capabilities: number): Buffer {
  return Buffer.concat([
    Buffer.from([10]), Buffer.from(`${MYSQL_VERSION}\0`), uint32(threadId), nonce.subarray(0, 8), Buffer.from([0]),
    uint16(capabilities & 0xFFFF), Buffer.from([UTF8MB4_0900_AI_CI]), uint16(SERVER_STATUS_AUTOCOMMIT), uint16(capabilities >>> 16),
    Buffer.from([nonce.length + 1]), Buffer.alloc(10), nonce.subarray(8), Buffer.from([0]), Buffer.from(`${PLUGIN}\0`)
  ])
}

// Protocol::HandshakeResponse41
function parseResponse (payload: Buffer) {
  const reader = new PayloadReader(payload)
  const capabilities = reader.int(4)
  reader.skip(4 + 1 + 23)
  const user = reader.nulTerminated()
  const authResponse = capabilities & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA
    ? reader.bytes(reader.lengthEncodedInt())
    : capabilities & CLIENT.SECURE_CONNECTION ? reader.bytes(reader.int(1)) : Buffer.from(reader.nulTerminated())
  const database = capabilities & CLIENT.CONNECT_WITH_DB && reader.remaining > 0 ? reader.nulTerminated() : ''
  const plugin = capabilities & CLIENT.PLUGIN_AUTH && reader.remaining > 0 ? reader.nulTerminated() : ''
  return { capabilities, user, authResponse, database, plugin }
}

// Protocol::ColumnDefinition41 for a VAR_STRING column of the utf8mb4 result.
function columnDefinition (name: string, maxBytes: number, notNull: boolean): Buffer {
  return Buffer.concat([
    lengthEncoded('def'), lengthEncoded(''), lengthEncoded(''), lengthEncoded(''), lengthEncoded(name), lengthEncoded(''),
    Buffer.from([0x0C]), uint16(UTF8MB4_0900_AI_CI), uint32(maxBytes), Buffer.from([0xFD]), uint16(notNull ? 1 : 0), Buffer.from([0x1F]), uint16(0)
  ])
}

const VERSION_QUERY = /^\s*SELECT\s+VERSION\(\)(?:\s+AS\s+`?(\w+)`?)?\s*,\s*DATABASE\(\)(?:\s+AS\s+`?(\w+)`?)?\s*;?\s*$/i

export async function startMysql8 ({
  accounts = { suai: { password: 'suai-password' } },
  databases = ['suai'],
  tls,
  requireSecureTransport = false,
  refuse
}: Mysql8Options = {}): Promise<Mysql8Handle> {
  const secureContext: SecureContext | undefined = tls &&
    createSecureContext({ cert: await readFile(tls.certFile), key: await readFile(tls.keyFile) })
  // The key pair caching_sha2_password hands out for full authentication without TLS.
  const { publicKey, privateKey } = await new Promise<{ publicKey: KeyObject, privateKey: KeyObject }>((resolve, reject) =>
    generateKeyPair('rsa', { modulusLength: 2048 }, (err, publicKey, privateKey) => err ? reject(err) : resolve({ publicKey, privateKey })))
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' })
  const capabilities = secureContext ? (SERVER_CAPABILITIES | CLIENT.SSL) >>> 0 : SERVER_CAPABILITIES
  const cache = new Set(Object.entries(accounts).filter(([, account]) => account.cached).map(([user]) => user))
  const authPaths: Mysql8Handle['authPaths'] = []
  const sockets = new Set<Socket>()
  let threadId = 0

  async function serve (socket: Socket) {
    const host = socket.remoteAddress ?? LOOPBACK
    let channel = new PacketChannel(socket)
    const close = (error?: ServerError) => {
      if (error) channel.write(errorPacket(error))
      channel.stream.end()
    }
    // Checked before the handshake, so the ERR packet carries no SQLSTATE.
    if (refuse) {
      channel.write(errorPacket(refuse === 'too-many-connections' ? errors.tooManyConnections() : errors.hostBlocked(host), false))
      return close()
    }
    const nonce = scrambleBytes()
    channel.write(handshake(++threadId, nonce, capabilities))
    let payload = await channel.read()
    // Protocol::SSLRequest: the first 32 bytes of a handshake response, then TLS on the same socket.
    let secure = false
    if (payload && payload.length === 32 && payload.readUInt32LE(0) & CLIENT.SSL && secureContext) {
      channel = channel.upgrade(carrier => {
        const tlsSocket = new TLSSocket(carrier, { isServer: true, secureContext })
        tlsSocket.on('error', () => {})
        return tlsSocket
      })
      secure = true
      payload = await channel.read()
    }
    if (!payload) return
    const response = parseResponse(payload)
    let authResponse = response.authResponse
    // An AuthSwitchRequest to this account's plugin when the client started with another one.
    if (response.plugin !== PLUGIN) {
      channel.write(Buffer.concat([Buffer.from([0xFE]), Buffer.from(`${PLUGIN}\0`), nonce, Buffer.from([0])]))
      const switched = await channel.read()
      if (!switched) return
      authResponse = switched
    }
    const { user } = response
    const account = accounts[user]
    if (!account) return close(errors.accessDenied(user, host, authResponse.length > 0))

    if (authResponse.length === 0 || (authResponse.length === 1 && authResponse[0] === 0)) {
      if (account.password !== '') return close(errors.accessDenied(user, host, false))
      authPaths.push({ user, path: 'empty-password' })
    } else if (cache.has(user) && scrambleMatches(authResponse, nonce, account.password)) {
      // fast_auth_success, then the OK below
      channel.write(Buffer.from([0x01, 0x03]))
      authPaths.push({ user, path: 'fast' })
    } else {
      // perform_full_authentication: the password itself, in clear over TLS, else RSA-encrypted
      channel.write(Buffer.from([0x01, 0x04]))
      let answer = await channel.read()
      if (!answer) return
      let path: AuthPath = 'full-tls'
      if (!secure) {
        // Request_public_key (0x02), then the key as AuthMoreData, then RSA-OAEP(password\0 XOR nonce).
        if (answer.length !== 1 || answer[0] !== 0x02) return close(errors.accessDenied(user, host, true))
        channel.write(Buffer.concat([Buffer.from([0x01]), Buffer.from(publicKeyPem)]))
        const encrypted = await channel.read()
        if (!encrypted) return
        try {
          answer = xor(privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING }, encrypted), nonce)
        } catch {
          return close(errors.accessDenied(user, host, true))
        }
        path = 'full-rsa'
      }
      const password = answer.subarray(0, answer[answer.length - 1] === 0 ? -1 : undefined).toString()
      if (password !== account.password) return close(errors.accessDenied(user, host, true))
      cache.add(user)
      authPaths.push({ user, path })
    }

    // Refusals that need a verified password, so that they tell nothing to a guesser. Their order
    // among themselves is this stand-in's choice: a real account rarely has two at once.
    if (account.locked) return close(errors.accountLocked(user, host))
    if (requireSecureTransport && !secure) return close(errors.secureTransportRequired())
    const sandboxed = account.passwordExpired === true
    if (sandboxed && !(response.capabilities & CLIENT.CAN_HANDLE_EXPIRED_PASSWORDS)) return close(errors.passwordExpiredLogin())
    let database = response.database
    if (database && !databases.includes(database)) return close(errors.unknownDatabase(database))
    channel.write(okPacket())

    for (;;) {
      const command = await channel.read()
      // COM_QUIT, or the client gone
      if (!command || command[0] === 0x01) return close()
      if (command[0] === 0x0E) channel.write(okPacket()) // COM_PING
      else if (command[0] === 0x02) { // COM_INIT_DB
        const wanted = command.subarray(1).toString()
        if (databases.includes(wanted)) {
          database = wanted
          channel.write(okPacket())
        } else channel.write(errorPacket(errors.unknownDatabase(wanted)))
      } else if (command[0] === 0x03) answerQuery(channel, queryText(command, response.capabilities), response.capabilities, sandboxed, database)
      else channel.write(errorPacket(errors.unknownCommand()))
    }
  }

  const server = createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    serve(socket).catch(() => socket.destroy())
  })
  server.listen(0, LOOPBACK)
  await once(server, 'listening')
  return {
    host: LOOPBACK,
    port: (server.address() as AddressInfo).port,
    authPaths,
    async stop () {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

// COM_QUERY's text; with CLIENT_QUERY_ATTRIBUTES it is preceded by the attribute counts
// (this stand-in takes no attributes).
function queryText (command: Buffer, capabilities: number): string {
  const reader = new PayloadReader(command)
  reader.skip(1)
  if (capabilities & CLIENT.QUERY_ATTRIBUTES) {
    reader.lengthEncodedInt()
    reader.lengthEncodedInt()
  }
  return reader.rest().toString()
}

function answerQuery (channel: PacketChannel, sql: string, capabilities: number, sandboxed: boolean, database: string) {
  const isSet = /^\s*SET\s/i.test(sql)
  if (sandboxed && !isSet) return channel.write(errorPacket(errors.passwordExpired()))
  if (isSet) return channel.write(okPacket())
  const versionQuery = VERSION_QUERY.exec(sql)
  if (!versionQuery) return channel.write(errorPacket(errors.notSupported()))
  // Protocol::Text Resultset: the column count (and, if asked for, metadata_follows=1), the
  // column definitions, an EOF unless CLIENT_DEPRECATE_EOF, the rows, then EOF or its OK form.
  const deprecateEof = (capabilities & CLIENT.DEPRECATE_EOF) !== 0
  const metadataFollows = capabilities & CLIENT.OPTIONAL_RESULTSET_METADATA ? Buffer.from([1]) : Buffer.alloc(0)
  channel.write(Buffer.concat([lengthEncoded(2), metadataFollows]))
  channel.write(columnDefinition(versionQuery[1] ?? 'VERSION()', 96, true))
  channel.write(columnDefinition(versionQuery[2] ?? 'DATABASE()', 256, false))
  if (!deprecateEof) channel.write(eofPacket())
  channel.write(Buffer.concat([lengthEncoded(MYSQL_VERSION), lengthEncoded(database || null)]))
  channel.write(deprecateEof ? okPacket(0xFE) : eofPacket())
}
