import { resolve } from 'node:path'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import app from './app.ts'
import { loadConfig, type LoadOptions } from './lib/config.ts'
import { createLogger } from './lib/logger.ts'
import { versionLine } from './lib/version.ts'

export interface Served {
  fastify: FastifyInstance
  url: string
  close: () => Promise<void>
}

// Loads the config, opens output.log and listens. A broken config does not stop the server:
// it still listens and /health answers 503 with the problems, so an operator behind a load
// balancer sees why instead of a silent port.
export async function serve (options: LoadOptions): Promise<Served> {
  const loaded = loadConfig(options)
  const { log, server: listen } = loaded.ok ? loaded.config : loaded.fallback
  const logFile = resolve(options.cwd, log.file)
  const { logger, close: closeLog } = createLogger(logFile, log, loaded.secrets)

  if (!loaded.ok) {
    for (const problem of loaded.problems) logger.error({ file: loaded.file }, problem.message)
    process.stderr.write(`suaicloudapp: the config has problems; serving /health as 503 until they are fixed:\n${loaded.problems.map(problem => `  ${problem.message}\n`).join('')}`)
  }

  const fastify = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // app.ts writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Longer than the ALB's 60 s idle timeout, so the load balancer, not us, closes idle
    // connections (otherwise it sees resets as 502s).
    // https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout
    keepAliveTimeout: 65_000,
    requestTimeout: 30_000
  })
  await fastify.register(app, { loaded, logFile })

  try {
    await fastify.listen({ host: listen.host, port: listen.port })
  } catch (err) {
    await closeLog()
    throw new StartError(listenProblem(err as NodeJS.ErrnoException, listen))
  }
  const url = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`
  logger.info({ config: loaded.file, log: logFile, url }, `${versionLine} listening`)
  if (!process.stdout.isTTY) process.stdout.write(`${versionLine} listening on ${url} (config: ${loaded.file ?? 'none'}, log: ${logFile})\n`)

  return {
    fastify,
    url,
    close: async () => {
      await fastify.close()
      await closeLog()
    }
  }
}

// A failure to start that the CLI prints as one line, without a stack.
export class StartError extends Error {}

function listenProblem (err: NodeJS.ErrnoException, { host, port }: { host: string, port: number }): string {
  switch (err.code) {
    case 'EADDRINUSE': return `port ${port} on ${host} is already in use (another suaicloudapp?); stop it or change [server] port`
    case 'EACCES': return `no permission to listen on port ${port}; use a port above 1023 or run as root`
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND': return `cannot listen on ${host}: this machine has no such address; use [server] host = "0.0.0.0"`
    default: return `cannot listen on ${host}:${port}: ${err.message}`
  }
}
