import { once } from 'node:events'
import { LOOPBACK } from '../test/harness/ports.ts'

// The heap a process retains, measured after a full garbage collection that the bench asks for
// through the process's inspector (started with --inspect on loopback). Without one, heap used
// is sampled at any point of the collector's cycle and moves by tens of MB between samples.

// Node's global WebSocket client, which @types/node 20 does not describe.
interface Socket {
  send: (data: string) => void
  close: () => void
  onmessage: ((event: { data: string }) => void) | null
}
const { WebSocket } = globalThis as unknown as { WebSocket: new (url: string) => Socket & EventTarget }

export async function connectInspector (port: number) {
  const [target] = await (await fetch(`http://${LOOPBACK}:${port}/json/list`)).json() as Array<{ webSocketDebuggerUrl: string }>
  const socket = new WebSocket(target.webSocketDebuggerUrl)
  await once(socket, 'open')
  const pending = new Map<number, (result: unknown) => void>()
  socket.onmessage = event => {
    const { id, result } = JSON.parse(event.data) as { id?: number, result: unknown }
    if (id !== undefined) pending.get(id)?.(result)
    pending.delete(id!)
  }
  let lastId = 0
  const call = (method: string, params: object = {}) => new Promise<unknown>(resolve => {
    pending.set(++lastId, resolve)
    socket.send(JSON.stringify({ id: lastId, method, params }))
  })
  return {
    heapUsedAfterGc: async (): Promise<number> => {
      await call('HeapProfiler.collectGarbage')
      const answer = await call('Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true }) as { result: { value: number } }
      return answer.result.value
    },
    close: () => socket.close()
  }
}
