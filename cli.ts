import { parseArgs } from 'node:util'
import { likelyMeant } from './lib/config-problems.ts'
import { audit } from './commands/audit.ts'
import { check } from './commands/check.ts'
import { runServer } from './commands/serve.ts'
import { installService, uninstallService } from './commands/service.ts'
import { validate } from './commands/validate.ts'
import type { LoadOptions } from './lib/config.ts'
import { programDir } from './lib/program.ts'
import { StartError } from './server.ts'
import { versionLine } from './lib/version.ts'

const usage = `Usage: suaicloudapp [command] [options] [--config PATH]

Commands:
  serve            start the web server (the default)
  help             show this help
  validate         check the config and print every problem; exit 0 when valid, 2 when not
  check [--json]   run every configured backend check once and print the results (as JSON
                   with --json); a backend without its config section is listed as skip;
                   exit 0 when none fails, 1 when one does, 2 when the config is invalid
  audit [--json]   hold the AWS environment against the course's instructions with read-only
                   calls (bucket private, table key, load balancer health check and target
                   health): one row each, pass, warn, fail or unknown (a permission to add),
                   with the evidence and the fix; exit codes as for check
  service install [--user U] [--dry-run]
                   as root, install and start the systemd service suaicloudapp, which runs
                   serve with this config in the config's folder (as user U, who must be able
                   to write output.log there); --dry-run prints the unit and the steps instead
  service uninstall [--dry-run]
                   as root, stop and remove that service

Options:
  --config PATH  the config file (default: $SUAI_CONFIG, else ./config.toml,
                 else config.toml next to the executable)
  -h, --help     show this help
  -v, --version  print the version

Every config key can be overridden by an environment variable SUAI_<SECTION>_<KEY>,
e.g. SUAI_DATABASE_PASSWORD or SUAI_SERVER_PORT.
`

// The options that belong to one command; --config, --help and --version go with any.
const commandOptions = {
  json: { type: 'boolean' },
  user: { type: 'string' },
  'dry-run': { type: 'boolean' }
} as const
type Flag = keyof typeof commandOptions
type Values = { json?: boolean, user?: string, 'dry-run'?: boolean }

interface Command {
  flags: Flag[]
  // An exit code, or undefined for a server that keeps running.
  run: (values: Values, options: LoadOptions) => number | undefined | Promise<number | undefined>
}

const commands: Record<string, Command> = {
  serve: { flags: [], run: (_values, options) => runServer(options) },
  help: { flags: [], run: () => { process.stdout.write(usage); return 0 } },
  validate: { flags: [], run: (_values, options) => validate(options) },
  check: { flags: ['json'], run: (values, options) => check(options, { json: values.json ?? false }) },
  audit: { flags: ['json'], run: (values, options) => audit(options, { json: values.json ?? false }) },
  'service install': { flags: ['user', 'dry-run'], run: (values, options) => installService(options, { user: values.user, dryRun: values['dry-run'] ?? false }) },
  'service uninstall': { flags: ['dry-run'], run: values => uninstallService({ dryRun: values['dry-run'] ?? false }) }
}

async function main (argv: string[]): Promise<number | undefined> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        ...commandOptions
      }
    })
  } catch (err) {
    return usageError((err as Error).message.split(/\. |\n/)[0])
  }
  const { values, positionals } = parsed
  if (values.help) { process.stdout.write(usage); return 0 }
  if (values.version) { process.stdout.write(versionLine + '\n'); return 0 }

  const name = positionals.join(' ') || 'serve'
  if (!Object.hasOwn(commands, name)) {
    const closest = closestCommand(name)
    return usageError(`unknown command ${JSON.stringify(name)}${closest ? ` — did you mean ${closest}?` : ''}`)
  }
  const command = commands[name]
  const misplaced = (Object.keys(commandOptions) as Flag[]).find(flag => values[flag] !== undefined && !command.flags.includes(flag))
  if (misplaced) return usageError(`--${misplaced} is not an option of ${name}`)
  return command.run(values, { path: values.config, cwd: process.cwd(), env: process.env, programDir: programDir() })
}

// One line and where to look, not the whole usage: the mistake stays on screen.
function usageError (message: string): 2 {
  process.stderr.write(`suaicloudapp: ${message}\nRun suaicloudapp --help for the commands and options.\n`)
  return 2
}

function closestCommand (typed: string): string | undefined {
  const completions = Object.keys(commands).filter(name => name.startsWith(`${typed} `))
  if (completions.length > 0) return completions.join(' or ')
  return likelyMeant(typed, Object.keys(commands))
}

main(process.argv.slice(2)).then(code => {
  // A command that is done leaves now, not when some request it gave up on finally ends.
  if (code !== undefined) process.exit(code)
}, err => {
  process.stderr.write(`suaicloudapp: ${err instanceof StartError ? err.message : `unexpected error: ${(err as Error).message}`}\n`)
  process.exit(1)
})
