import { parseArgs } from 'node:util'
import { loadConfig, programDir, type LoadOptions } from './lib/config.ts'
import { serve, StartError } from './server.ts'
import { versionLine } from './lib/version.ts'

const usage = `Usage: suaicloudapp [command] [--config PATH]

Commands:
  serve        start the web server (the default)
  validate     check the config and print every problem; exit 0 when valid, 2 when not

Options:
  --config PATH  the config file (default: $SUAI_CONFIG, else ./config.toml,
                 else config.toml next to the executable)
  -h, --help     show this help
  -v, --version  print the version

Every config key can be overridden by an environment variable SUAI_<SECTION>_<KEY>,
e.g. SUAI_DATABASE_PASSWORD or SUAI_SERVER_PORT.
`

const BACKENDS = ['database', 'redis', 's3', 'dynamodb'] as const

async function main (argv: string[]): Promise<number | undefined> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' }
      }
    })
  } catch (err) {
    process.stderr.write(`suaicloudapp: ${(err as Error).message.split(/\. |\n/)[0]}\n\n${usage}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) { process.stdout.write(usage); return 0 }
  if (values.version) { process.stdout.write(versionLine + '\n'); return 0 }

  const [command = 'serve', ...extra] = positionals
  if (extra.length > 0 || !['serve', 'validate'].includes(command)) {
    process.stderr.write(`suaicloudapp: unknown command or argument: ${[command, ...extra].join(' ')}\n\n${usage}`)
    return 2
  }
  const options: LoadOptions = { path: values.config, cwd: process.cwd(), env: process.env, programDir: programDir() }
  return command === 'validate' ? validate(options) : runServer(options)
}

function validate (options: LoadOptions): number {
  const loaded = loadConfig(options)
  if (!loaded.ok) {
    for (const problem of loaded.problems) {
      process.stderr.write(`${problem.message}\n${problem.excerpt ? problem.excerpt + '\n' : ''}`)
    }
    process.stderr.write(`${loaded.problems.length} problem${loaded.problems.length === 1 ? '' : 's'} in the config\n`)
    return 2
  }
  const configured = BACKENDS.filter(name => loaded.config[name])
  const missing = BACKENDS.filter(name => !loaded.config[name])
  process.stdout.write(`${loaded.file}: valid\nchecks configured: ${configured.join(', ') || 'none'}${missing.length ? `; not configured: ${missing.join(', ')}` : ''}\n`)
  return 0
}

async function runServer (options: LoadOptions): Promise<undefined> {
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

main(process.argv.slice(2)).then(code => {
  if (code !== undefined) process.exitCode = code
}, err => {
  process.stderr.write(`suaicloudapp: ${err instanceof StartError ? err.message : (err as Error).stack}\n`)
  process.exitCode = 1
})
