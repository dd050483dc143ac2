import { setTimeout as sleep } from 'node:timers/promises'
import { get } from './measure.ts'
import type { Server } from './servers.ts'

// The heap the app retains: SIGUSR2 makes it run a full garbage collection and record the heap
// still in use in /metrics (plugins/metrics.ts). Without the collection, heap used is read at any
// point of the collector's cycle and moves by tens of MB between samples.
const READINGS = /^suaicloudapp_heap_readings_total (\d+)$/m
const HEAP = /^suaicloudapp_heap_used_after_gc_bytes (\d+)$/m
const POLL_MS = 20
const TIMEOUT_MS = 10_000

export async function heapUsedAfterGc ({ pid, url }: Server): Promise<number> {
  const read = async () => {
    const { body } = await get(`${url}/metrics`)
    return { readings: Number(READINGS.exec(body)?.[1]), heap: Number(HEAP.exec(body)?.[1]) }
  }
  const before = (await read()).readings
  if (Number.isNaN(before)) throw new Error(`${url}/metrics has no heap reading: is it the executable?`)
  process.kill(pid, 'SIGUSR2')
  const deadline = performance.now() + TIMEOUT_MS
  while (performance.now() < deadline) {
    const now = await read()
    if (now.readings > before) return now.heap
    await sleep(POLL_MS)
  }
  throw new Error(`no heap reading within ${TIMEOUT_MS} ms of SIGUSR2`)
}
