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

export function startFailingDns (failure: DnsFailure, { port = 0 }: { port?: number } = {}): Promise<DnsHandle> {
  return serve(query => failure === 'silent' ? undefined : reply(query, RCODES[failure]), port)
}

// A DNS server on loopback that knows `names` (each with one IPv4 address) and answers NXDOMAIN
// for every other name: a stand-in for the VPC's resolver that only this test's lookups ask.
export function startDns ({ names = {}, port = 0 }: { names?: Record<string, string>, port?: number } = {}): Promise<DnsHandle> {
  const known = new Map(Object.entries(names).map(([name, address]) => [name.toLowerCase(), address]))
  return serve(query => {
    const address = known.get(questionName(query).toLowerCase())
    if (!address) return reply(query, RCODES.nxdomain)
    // The name exists; an AAAA question gets no answer (NODATA), an A question its address.
    const type = query.readUInt16BE(12 + questionLength(query) - 4)
    if (type !== 1) return reply(query, 0)
    const answer = Buffer.alloc(16)
    answer.writeUInt16BE(0xc00c, 0) // the name: a pointer to the question's
    answer.writeUInt16BE(1, 2) // type A
    answer.writeUInt16BE(1, 4) // class IN
    answer.writeUInt32BE(60, 6) // TTL
    answer.writeUInt16BE(4, 10)
    address.split('.').forEach((octet, i) => answer.writeUInt8(Number(octet), 12 + i))
    const head = reply(query, 0)
    head.writeUInt16BE(1, 6)
    return Buffer.concat([head, answer])
  }, port)
}

// The query's header and question, turned into a reply with that RCODE and no records.
function reply (query: Buffer, rcode: number): Buffer {
  const answer = Buffer.from(query.subarray(0, 12 + questionLength(query)))
  // QR=1, opcode from the query, RD copied, RA=1, the RCODE; no answers.
  answer[2] = 0x80 | (query[2] & 0x79)
  answer[3] = 0x80 | rcode
  answer.writeUInt16BE(0, 6)
  answer.writeUInt16BE(0, 8)
  answer.writeUInt16BE(0, 10)
  return answer
}

async function serve (answer: (query: Buffer) => Buffer | undefined, port: number): Promise<DnsHandle> {
  const socket = createSocket('udp4')
  const asked: string[] = []
  socket.on('message', (query, peer) => {
    if (query.length < 12) return
    asked.push(questionName(query))
    const response = answer(query)
    if (response) socket.send(response, peer.port, peer.address)
  })
  socket.bind(port, LOOPBACK)
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
