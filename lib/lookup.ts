import { Resolver, type LookupAddress, type LookupOptions } from 'node:dns'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'

// A `lookup` for sockets that never touches libuv's thread pool. Node's default lookup is
// getaddrinfo on that pool: it cannot be cancelled, so a DNS server that never answers holds a
// thread for the resolver's whole timeout (10 s and more), stalls the log file behind it, and
// even keeps the process from exiting. This one reads /etc/hosts, then asks DNS through c-ares
// with a bounded timeout, as asynchronous network I/O.

type Callback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

const RESOLVER_TIMEOUT_MS = 2000

// /etc/hosts, read once: it is the machine's, not the app's.
let hosts: Map<string, LookupAddress[]> | undefined

function hostsFile (): Map<string, LookupAddress[]> {
  if (hosts) return hosts
  hosts = new Map()
  let text = ''
  try { text = readFileSync('/etc/hosts', 'utf8') } catch { /* no hosts file: DNS only */ }
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/)
    const family = isIP(address ?? '')
    if (!family) continue
    for (const name of names) hosts.set(name.toLowerCase(), [...(hosts.get(name.toLowerCase()) ?? []), { address, family }])
  }
  return hosts
}

// Both families at once. A name that exists in neither is ENOTFOUND; a DNS server that did not
// answer is EAI_AGAIN, as getaddrinfo says it. (Search domains of resolv.conf are not applied:
// AWS endpoints are full names.)
function resolveBoth (hostname: string, servers: string[] | undefined): Promise<{ addresses: LookupAddress[], code?: string }> {
  const resolver = new Resolver({ timeout: RESOLVER_TIMEOUT_MS, tries: 1 })
  if (servers) resolver.setServers(servers)
  const query = (family: 4 | 6) => new Promise<{ addresses: LookupAddress[], code?: string }>(resolve => {
    const done = (err: NodeJS.ErrnoException | null, addresses: string[]) => resolve(err
      ? { addresses: [], code: err.code }
      : { addresses: addresses.map(address => ({ address, family })) })
    if (family === 4) resolver.resolve4(hostname, done)
    else resolver.resolve6(hostname, done)
  })
  return Promise.all([query(4), query(6)]).then(([v4, v6]) => ({
    addresses: [...v4.addresses, ...v6.addresses],
    code: [v4.code, v6.code].every(code => code === 'ETIMEOUT' || code === 'ECONNREFUSED' || code === 'ESERVFAIL') ? 'EAI_AGAIN' : 'ENOTFOUND'
  }))
}

// `servers`: the DNS servers to ask (host:port); unset, the system's from /etc/resolv.conf.
export function createLookup (servers?: string[]) {
  return function lookup (hostname: string, options: LookupOptions, callback: Callback): void {
    const reply = (addresses: LookupAddress[], code = 'ENOTFOUND') => {
      const wanted = addresses.filter(entry => !options.family || entry.family === options.family)
      if (wanted.length === 0) {
        const err: NodeJS.ErrnoException = new Error(`getaddrinfo ${code} ${hostname}`)
        err.code = code
        callback(err, options.all ? [] : '')
      } else if (options.all) callback(null, wanted)
      else callback(null, wanted[0].address, wanted[0].family)
    }
    const family = isIP(hostname)
    if (family) return reply([{ address: hostname, family }])
    const known = hostsFile().get(hostname.toLowerCase())
    if (known) return reply(known)
    resolveBoth(hostname, servers).then(({ addresses, code }) => reply(addresses, code), () => reply([]))
  }
}

export type Lookup = ReturnType<typeof createLookup>

// The same lookup, telling the check when it starts and ends: a resolver that never answers is
// then reported at stage dns, not as a connection timeout blamed on a security group.
export function staged (lookup: Lookup, stage: (stage: 'dns' | 'connect') => void): Lookup {
  return (hostname, options, callback) => {
    stage('dns')
    lookup(hostname, options, (...answer) => { stage('connect'); callback(...answer) })
  }
}
