import { execFileSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { findConfigFile, loadConfig, type LoadOptions } from '../lib/config.ts'
import { isPacked } from '../lib/program.ts'
import { backends } from '../plugins/backends.ts'

const SERVICE = 'suaicloudapp'
const UNIT_FILE = `/etc/systemd/system/${SERVICE}.service`

// One step of an install or uninstall: what it is as a shell line (the dry run prints these, so
// its output is a script that does the same), and doing it.
interface Step { shell: string, perform: () => void }

export function installService (options: LoadOptions, { user, dryRun }: { user?: string, dryRun: boolean }): number {
  // systemd's rule for user names; anything else could also break the unit file's syntax.
  if (user !== undefined && !/^[a-z_][a-z0-9_-]*\$?$/i.test(user)) return fail(`--user ${JSON.stringify(user)} is not a valid user name`)
  const found = findConfigFile(options)
  if ('problem' in found) return fail(found.problem)
  const { file } = found
  const unit = renderUnit({ command: [...programCommand(), 'serve', '--config', file], workingDirectory: dirname(file), user })
  const steps: Step[] = [
    { shell: `cat > ${UNIT_FILE} <<'EOF'\n${unit}EOF`, perform: () => writeFileSync(UNIT_FILE, unit, { mode: 0o644 }) },
    systemctl('daemon-reload'),
    systemctl('enable', SERVICE),
    // restart, not enable --now: a second install (a new binary, another --user) must replace
    // the process already running, and start does nothing to a running service.
    systemctl('restart', SERVICE)
  ]
  // A broken config still gets a service: serve answers /health with 503 and the problems.
  // Loaded from the service's working directory, where its log file will be.
  const loaded = loadConfig({ ...options, path: file, cwd: dirname(file) }, backends)
  if (!loaded.ok) process.stderr.write(`suaicloudapp: warning: ${file} has problems; the service answers /health with 503 until they are fixed (see suaicloudapp validate)\n`)
  if (dryRun) return printSteps('install', steps)

  const refused = cannotManage('install') ?? (user !== undefined && !userExists(user) ? `user ${user} does not exist on this machine; create it or leave out --user` : undefined)
  if (refused) return fail(refused)
  const failed = perform(steps)
  if (failed !== undefined) return failed
  process.stdout.write(`${SERVICE} is installed and running${user ? ` as ${user}` : ''}; status: systemctl status ${SERVICE}, logs: journalctl -u ${SERVICE} and ${loaded.logFile}\n`)
  return 0
}

export function uninstallService ({ dryRun }: { dryRun: boolean }): number {
  const steps: Step[] = [
    systemctl('disable', '--now', SERVICE),
    { shell: `rm -f ${UNIT_FILE}`, perform: () => rmSync(UNIT_FILE, { force: true }) },
    systemctl('daemon-reload')
  ]
  if (dryRun) return printSteps('uninstall', steps)

  const refused = cannotManage('uninstall')
  if (refused) return fail(refused)
  if (!existsSync(UNIT_FILE)) {
    process.stdout.write(`${SERVICE} is not installed (no ${UNIT_FILE}); nothing to do\n`)
    return 0
  }
  const failed = perform(steps)
  if (failed !== undefined) return failed
  process.stdout.write(`${SERVICE} is stopped and uninstalled\n`)
  return 0
}

// systemd.service(5), systemd.unit(5). network-online.target needs Wants= as well as After= to
// be waited for. Restart=on-failure with RestartSec=5 stays under the default start limit (5
// starts in 10 s), so a transient failure (a port still in use) is retried, not given up on.
function renderUnit ({ command, workingDirectory, user }: { command: string[], workingDirectory: string, user?: string }): string {
  return [
    `# Written by "${SERVICE} service install"; run it again to update, "${SERVICE} service uninstall" to remove.`,
    '[Unit]',
    'Description=suaicloudapp: proves RDS MySQL, ElastiCache Redis, S3 and DynamoDB are reachable',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    `ExecStart=${command.map(execArgument).join(' ')}`,
    `WorkingDirectory=${workingDirectory.replaceAll('%', '%%')}`,
    ...(user ? [`User=${user}`] : []),
    'Restart=on-failure',
    'RestartSec=5',
    'StandardOutput=journal',
    'StandardError=journal',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    ''
  ].join('\n')
}

// This program as a command line: the executable itself, or, from the sources, Node with the
// flags it was started with (the TypeScript loader) and the script.
function programCommand (): string[] {
  return isPacked() ? [process.execPath] : [process.execPath, ...process.execArgv, resolve(process.argv[1])]
}

// systemd.service(5) "Command lines": whitespace separates words unless quoted, % starts a
// specifier and $ a variable, so both are doubled.
function execArgument (word: string): string {
  const escaped = word.replaceAll('%', '%%').replaceAll('$', '$$$$')
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replace(/["\\]/g, '\\$&')}"` : escaped
}

function systemctl (...args: string[]): Step {
  return { shell: `systemctl ${args.join(' ')}`, perform: () => execFileSync('systemctl', args, { stdio: 'inherit' }) }
}

function printSteps (command: string, steps: Step[]): 0 {
  process.stdout.write(`# ${SERVICE} service ${command} --dry-run: nothing was changed; these are the steps, as a shell script.\n${steps.map(step => step.shell + '\n').join('')}`)
  return 0
}

// The exit code of the first step that failed, or undefined when all succeeded.
function perform (steps: Step[]): number | undefined {
  for (const step of steps) {
    try {
      step.perform()
    } catch (err) {
      const { status, code, message } = err as { status?: number | null, code?: string, message: string }
      return fail(`${step.shell.split('\n')[0]} failed: ${typeof status === 'number' ? `exit code ${status}` : code ?? message}`)
    }
  }
  return undefined
}

function cannotManage (command: string): string | undefined {
  if (process.getuid?.() !== 0) return `service ${command} must run as root; run it with sudo`
  // sd_booted(3): this folder exists exactly when systemd is the running init.
  if (!existsSync('/run/systemd/system')) return `systemd is not running on this machine (/run/systemd/system is missing); run ${SERVICE} another way, e.g. nohup ./${SERVICE} &`
  return undefined
}

function userExists (user: string): boolean {
  try {
    execFileSync('id', ['-u', user], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function fail (message: string): 1 {
  process.stderr.write(`suaicloudapp: ${message}\n`)
  return 1
}
