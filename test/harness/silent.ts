import { createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { once } from 'node:events'
import { LOOPBACK, freePort } from './ports.ts'

export interface PortHandle {
  host: string
  port: number
  stop: () => Promise<void>
}

/** Accepts TCP connections and never sends a byte, so clients hang until their own timeout fires. */
export async function startSilentServer (): Promise<PortHandle> {
  const sockets = new Set<Socket>()
  const server = createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    // A client giving up may reset the connection; that is expected here
    socket.on('error', () => {})
  })
  server.listen(0, LOOPBACK)
  await once(server, 'listening')
  return {
    host: LOOPBACK,
    port: (server.address() as AddressInfo).port,
    async stop () {
      for (const socket of sockets) socket.destroy()
      // Resolves with an error on a second call, which is fine: it is stopped either way
      await new Promise(resolve => server.close(resolve))
    }
  }
}

/** A port nothing listens on, so connecting is refused at once. */
export async function closedPort (): Promise<PortHandle> {
  return {
    host: LOOPBACK,
    port: await freePort(),
    // Nothing to release: freePort never hands this port out again in this process
    stop: async () => {}
  }
}
