import fp from 'fastify-plugin'
import type { LoadedConfig } from '../lib/config.ts'
import { createScrubber } from '../lib/secrets.ts'

// The config is loaded before Fastify starts (the server needs host, port and log file);
// this plugin only hands the result to the rest of the app.
function runtimeConfig (loaded: LoadedConfig) {
  return {
    // The config.toml in use, when one was found.
    file: loaded.file,
    // Every section that validated; an app section with problems at its readable keys and
    // defaults, a backend section with problems left out.
    values: loaded.config,
    server: loaded.config.server,
    problems: loaded.problems,
    // Absolute path of output.log.
    logFile: loaded.logFile,
    // Removes configured secrets from any text about to leave the process.
    scrub: createScrubber(loaded.secrets),
    // For the fleet heartbeat's thread, which scrubs what it sends with the same.
    secrets: loaded.secrets
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    config: ReturnType<typeof runtimeConfig>
  }
}

export interface ConfigPluginOptions {
  loaded: LoadedConfig
}

export default fp<ConfigPluginOptions>(async function config (fastify, { loaded }) {
  fastify.decorate('config', runtimeConfig(loaded))
}, { name: 'config' })
