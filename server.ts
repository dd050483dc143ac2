import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import app from './app.ts'
import type { BackendList } from './lib/backend.ts'
import { loadConfig, type Config, type LoadedConfig, type LoadOptions } from './lib/config.ts'
import { createImds } from './lib/imds.ts'
import { createLogger } from './lib/logger.ts'
import { createLookup } from './lib/lookup.ts'
import { versionLine } from './lib/version.ts'
import { backends as allBackends } from './plugins/backends.ts'
import type { Environment } from './plugins/environment.ts'

export interface Built {
  fastify: FastifyInstance
  loaded: LoadedConfig
  listen: Config['server']
  // Closes the app, its clients and the log file.
  close: () => Promise<void>
  // The graceful way out: /health and /ready turn 503 at once, the listener stays open for
  // [server] drain_ms so the load balancer sees the instance go unhealthy and stops sending,
  // then in-flight requests finish and everything closes.
  shutdown: () => Promise<void>
}

export interface BuildOptions extends Partial<Omit<Environment, 'env'>> {
  // The backends to check; the list of plugins/backends.ts unless a test brings its own.
  backends?: BackendList
  // False for a one-shot command: no log file, no log.
  log?: boolean
}

// The configured app with its logger, not yet listening (tests inject into it). The one way
// the app is assembled, for serve and for check.
export async function buildServer (options: LoadOptions, { backends = allBackends, log: logging = true, imds, lookup }: BuildOptions = {}): Promise<Built> {
  const loaded = loadConfig(options, backends)
  const { log, server: listen } = loaded.config
  const { logger, close: closeLog } = logging
    ? createLogger(loaded.logFile, log, loaded.secrets)
    : { logger: undefined, close: async () => {} }

  if (logger) {
    for (const problem of loaded.problems) logger.error({ file: loaded.file }, problem.message)
    for (const warning of loaded.warnings) logger.warn(warning)
  }

  const fastify = Fastify({
    ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
    // app.ts writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Longer than the ALB's 60 s idle timeout, so the load balancer, not us, closes idle
    // connections (otherwise it sees resets as 502s).
    // https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout
    keepAliveTimeout: 65_000,
    requestTimeout: 30_000
  })
  // fp: the app's decorators and handlers belong to the root instance the server owns.
  const environment = { env: options.env, imds: imds ?? createImds({ env: options.env }), lookup: lookup ?? createLookup() }
  await fastify.register(fp(app), { loaded, backends, environment })
  const close = async () => {
    await fastify.close()
    await closeLog()
  }
  return {
    fastify,
    loaded,
    listen,
    close,
    shutdown: async () => {
      fastify.draining = true
      // Every answer from now on closes its connection, so no keep-alive connection is left to
      // be cut when the listener closes. (On the raw server: it costs nothing until now.)
      fastify.server.prependListener('request', (_request, response) => { response.setHeader('connection', 'close') })
      fastify.log.info({ drainMs: listen.drain_ms }, 'draining: /health answers 503 until the listener closes')
      await new Promise(resolve => setTimeout(resolve, listen.drain_ms))
      await close()
    }
  }
}

// Builds the app and listens. A broken config does not stop the server: it still listens and
// /health answers 503 with the problems, so an operator behind a load balancer sees why
// instead of a silent port.
export async function serve (options: LoadOptions): Promise<Built & { url: string }> {
  const built = await buildServer(options)
  const { fastify, loaded, listen } = built
  for (const warning of loaded.warnings) process.stderr.write(`suaicloudapp: warning: ${warning}\n`)
  if (!loaded.ok) {
    process.stderr.write(`suaicloudapp: the config has problems; serving /health as 503 until they are fixed:\n${loaded.problems.map(problem => `  ${problem.message}\n`).join('')}`)
  }
  try {
    await fastify.listen({ host: listen.host, port: listen.port })
  } catch (err) {
    await built.close()
    throw new StartError(listenProblem(err as NodeJS.ErrnoException, listen))
  }
  const url = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`
  fastify.log.info({ config: loaded.file, log: fastify.config.logFile, url }, `${versionLine} listening`)
  if (!process.stdout.isTTY) process.stdout.write(`${versionLine} listening on ${url} (config: ${loaded.file ?? 'none'}, log: ${fastify.config.logFile})\n`)
  return { ...built, url }
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
