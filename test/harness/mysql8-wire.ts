import { Duplex } from 'node:stream'

// The framing of MySQL's client/server protocol: each packet is a 3-byte little-endian length,
// a 1-byte sequence id, then the payload; the sequence restarts at 0 with every command.
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html

export class PacketChannel {
  private buffered = Buffer.alloc(0)
  private waiting: Array<(payload: Buffer | null) => void> = []
  private ended = false
  // The sequence id of the next packet this side writes.
  private sequence = 0

  constructor (readonly stream: Duplex) {
    stream.on('data', this.onData)
    stream.on('close', this.onEnd)
    stream.on('error', this.onEnd)
  }

  private readonly onData = (chunk: Buffer) => {
    this.buffered = Buffer.concat([this.buffered, chunk])
    this.deliver()
  }

  private readonly onEnd = () => {
    this.ended = true
    this.deliver()
  }

  private deliver () {
    while (this.waiting.length > 0) {
      if (this.buffered.length >= 4) {
        const length = this.buffered.readUIntLE(0, 3)
        if (this.buffered.length >= 4 + length) {
          this.sequence = this.buffered[3] + 1
          const payload = this.buffered.subarray(4, 4 + length)
          this.buffered = this.buffered.subarray(4 + length)
          ;(this.waiting.shift() as (payload: Buffer) => void)(payload)
          continue
        }
      }
      if (!this.ended) return
      ;(this.waiting.shift() as (payload: null) => void)(null)
    }
  }

  /** The next packet's payload, or null once the peer has gone. */
  read (): Promise<Buffer | null> {
    return new Promise(resolve => {
      this.waiting.push(resolve)
      this.deliver()
    })
  }

  write (payload: Buffer) {
    const header = Buffer.alloc(4)
    header.writeUIntLE(payload.length, 0, 3)
    header[3] = this.sequence++ & 0xFF
    this.stream.write(Buffer.concat([header, payload]))
  }

  /**
   * Carries on the same packet sequence over a stream layered on this one (TLS). The layer reads
   * through a carrier that first replays what this channel had read ahead (a client may send its
   * TLS ClientHello right behind the SSLRequest), then whatever the socket receives.
   */
  upgrade (layer: (carrier: Duplex) => Duplex): PacketChannel {
    const raw = this.stream
    raw.off('data', this.onData)
    raw.off('close', this.onEnd)
    raw.off('error', this.onEnd)
    const carrier = new Duplex({
      read () {},
      write (chunk, _encoding, done) { raw.write(chunk, done) },
      final (done) { raw.end(done) }
    })
    if (this.buffered.length > 0) carrier.push(this.buffered)
    raw.on('data', chunk => carrier.push(chunk))
    raw.on('end', () => carrier.push(null))
    raw.on('close', () => carrier.destroy())
    const next = new PacketChannel(layer(carrier))
    next.sequence = this.sequence
    return next
  }
}

// Protocol::LengthEncodedInteger and LengthEncodedString, as far as this server needs them.
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_dt_integers.html
export function lengthEncoded (value: number | Buffer | string | null): Buffer {
  if (value === null) return Buffer.from([0xFB])
  if (typeof value !== 'number') {
    const bytes = Buffer.from(value)
    return Buffer.concat([lengthEncoded(bytes.length), bytes])
  }
  if (value < 0xFB) return Buffer.from([value])
  if (value < 0x10000) return Buffer.from([0xFC, value & 0xFF, value >> 8])
  const int = Buffer.alloc(4)
  int.writeUIntLE(value, 1, 3)
  int[0] = 0xFD
  return int
}

/** Reads a payload front to back. */
export class PayloadReader {
  private offset = 0
  constructor (private readonly payload: Buffer) {}

  get remaining () { return this.payload.length - this.offset }

  int (bytes: number): number {
    const value = this.payload.readUIntLE(this.offset, bytes)
    this.offset += bytes
    return value
  }

  skip (bytes: number) { this.offset += bytes }

  lengthEncodedInt (): number {
    const first = this.int(1)
    if (first < 0xFB) return first
    if (first === 0xFC) return this.int(2)
    if (first === 0xFD) return this.int(3)
    return Number(this.payload.readBigUInt64LE((this.offset += 8) - 8))
  }

  bytes (count: number): Buffer {
    const value = this.payload.subarray(this.offset, this.offset + count)
    this.offset += count
    return value
  }

  nulTerminated (): string {
    const end = this.payload.indexOf(0, this.offset)
    const stop = end === -1 ? this.payload.length : end
    const value = this.payload.toString('utf8', this.offset, stop)
    this.offset = stop + 1
    return value
  }

  rest (): Buffer { return this.bytes(this.remaining) }
}
