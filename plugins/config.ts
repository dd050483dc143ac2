import fp from 'fastify-plugin'
import type { Config, ConfigProblem, LoadedConfig } from '../lib/config.ts'
import { createScrubber } from '../lib/secrets.ts'

export interface RuntimeConfig {
  // The config.toml in use, when one was found.
  file?: string
  // The validated config; undefined when it has problems.
  values?: Config
  // [server], from the config or, when it is broken, what could be read of it.
  server: Config['server']
  problems: ConfigProblem[]
  // Absolute path of output.log.
  logFile: string
  // Removes configured secrets from any text about to leave the process.
  scrub: (text: string) => string
}

declare module 'fastify' {
  interface FastifyInstance {
    config: RuntimeConfig
  }
}

export interface ConfigPluginOptions {
  loaded: LoadedConfig
  logFile: string
}

// The config is loaded before Fastify starts (the server needs host, port and log file);
// this plugin only hands the result to the rest of the app.
export default fp<ConfigPluginOptions>(async function config (fastify, { loaded, logFile }) {
  fastify.decorate('config', {
    file: loaded.file,
    values: loaded.ok ? loaded.config : undefined,
    server: loaded.ok ? loaded.config.server : loaded.fallback.server,
    problems: loaded.ok ? [] : loaded.problems,
    logFile,
    scrub: createScrubber(loaded.secrets)
  })
}, { name: 'config' })
