import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { LOOPBACK } from './ports.ts'

export interface DnsHandle {
  // host:port, for dns.setServers()
  server: string
  // Names asked for, in order.
  asked: string[]
  stop: () => Promise<void>
}

// How the server fails every question: the name does not exist (NXDOMAIN), the server failed
// (SERVFAIL: a resolver that cannot reach its upstream), or no answer at all (a resolver out of reach).
export type DnsFailure = 'nxdomain' | 'servfail' | 'silent'
const RCODES = { nxdomain: 3, servfail: 2 }

// A DNS server on loopback that answers NXDOMAIN to every question, so a "does not resolve"
// test never asks the machine's real resolver.
export function startNxdomainDns (): Promise<DnsHandle> {
  return startFailingDns('nxdomain')
}

export async function startFailingDns (failure: DnsFailure): Promise<DnsHandle> {
  const socket = createSocket('udp4')
  const asked: string[] = []
  socket.on('message', (query, peer) => {
    if (query.length < 12) return
    asked.push(questionName(query))
    if (failure === 'silent') return
    const reply = Buffer.from(query)
    // QR=1, opcode from the query, RD copied, RA=1, the RCODE; no answers.
    reply[2] = 0x80 | (query[2] & 0x79)
    reply[3] = 0x80 | RCODES[failure]
    reply.writeUInt16BE(0, 6)
    reply.writeUInt16BE(0, 8)
    reply.writeUInt16BE(0, 10)
    socket.send(reply.subarray(0, 12 + questionLength(query)), peer.port, peer.address)
  })
  socket.bind(0, LOOPBACK)
  await once(socket, 'listening')
  return {
    server: `${LOOPBACK}:${(socket.address() as AddressInfo).port}`,
    asked,
    stop: () => new Promise(resolve => socket.close(() => resolve()))
  }
}

function questionLength (query: Buffer): number {
  let offset = 12
  while (offset < query.length && query[offset] !== 0) offset += query[offset] + 1
  return offset + 1 + 4 - 12
}

function questionName (query: Buffer): string {
  const labels: string[] = []
  for (let offset = 12; offset < query.length && query[offset] !== 0; offset += query[offset] + 1) {
    labels.push(query.subarray(offset + 1, offset + 1 + query[offset]).toString('ascii'))
  }
  return labels.join('.')
}

// A DNS server on loopback that answers A queries for these names (an RDS endpoint standing for a
// server on loopback), no address of another type, and NXDOMAIN for any other name.
// https://www.rfc-editor.org/rfc/rfc1035#section-4.1
export async function startDns (addresses: Record<string, string>): Promise<DnsHandle> {
  const socket = createSocket('udp4')
  const asked: string[] = []
  socket.on('message', (query, peer) => {
    if (query.length < 12) return
    const name = questionName(query)
    asked.push(name)
    const question = questionLength(query)
    const type = query.readUInt16BE(12 + question - 4)
    const address = addresses[name.toLowerCase()]
    const header = Buffer.from(query.subarray(0, 12 + question))
    header[2] = 0x80 | (query[2] & 0x79)
    header[3] = 0x80 | (address === undefined ? 3 : 0)
    header.writeUInt16BE(address !== undefined && type === 1 ? 1 : 0, 6)
    header.writeUInt16BE(0, 8)
    header.writeUInt16BE(0, 10)
    // The answer: a pointer to the question's name, type A, class IN, TTL 5, four bytes.
    const answer = address !== undefined && type === 1
      ? Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, ...address.split('.').map(Number)])
      : Buffer.alloc(0)
    socket.send(Buffer.concat([header, answer]), peer.port, peer.address)
  })
  socket.bind(0, LOOPBACK)
  await once(socket, 'listening')
  return {
    server: `${LOOPBACK}:${(socket.address() as AddressInfo).port}`,
    asked,
    stop: () => new Promise(resolve => socket.close(() => resolve()))
  }
}
