import type { LoadOptions } from '../lib/config.ts'
import { serve } from '../server.ts'

// The default command, and the one the seed's user data runs: listens until SIGTERM or SIGINT.
export async function runServer (options: LoadOptions): Promise<undefined> {
  const served = await serve(options)
  const { log } = served.fastify
  // A backend that vanishes must cost one failed check, never the process.
  process.on('unhandledRejection', reason => log.error({ err: reason }, 'unhandled rejection (kept running)'))
  process.on('uncaughtException', err => log.error({ err }, 'uncaught exception (kept running)'))
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'shutting down')
      served.close().then(() => process.exit(0), () => process.exit(1))
    })
  }
  return undefined
}
