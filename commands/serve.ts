import type { LoadOptions } from '../lib/config.ts'
import { serve } from '../server.ts'

// After drain_ms, in-flight requests get this long to finish before the process leaves anyway.
const CLOSE_DEADLINE_MS = 10_000

// The default command, and the one the seed's user data runs: listens until SIGTERM or SIGINT,
// then drains (see server.ts). A second signal leaves at once.
export async function runServer (options: LoadOptions): Promise<undefined> {
  const served = await serve(options)
  const { log } = served.fastify
  // A backend that vanishes must cost one failed check, never the process.
  process.on('unhandledRejection', reason => log.error({ err: reason }, 'unhandled rejection (kept running)'))
  process.on('uncaughtException', err => log.error({ err }, 'uncaught exception (kept running)'))
  let stopping = false
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1)
      stopping = true
      log.info({ signal }, 'shutting down')
      if (process.stderr.isTTY) process.stderr.write(`suaicloudapp: stopping after ${served.listen.drain_ms} ms of draining (press Ctrl-C again to leave at once)\n`)
      setTimeout(() => process.exit(1), served.listen.drain_ms + CLOSE_DEADLINE_MS).unref()
      served.shutdown().then(() => process.exit(0), () => process.exit(1))
    })
  }
  return undefined
}
