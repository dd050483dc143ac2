import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'

export const LOOPBACK = '127.0.0.1'

// Never hand out the same port twice in one process, so servers started
// back to back (e.g. the cluster's six ports) cannot collide with each other.
const handedOut = new Set<number>()

function ephemeralPort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort (): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await ephemeralPort()
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no unused free port on ${LOOPBACK} after 20 tries`)
}
