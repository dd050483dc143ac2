import { spawn } from 'node:child_process'

// A command run on a pseudo-terminal, as a person at a shell runs it: util-linux's `script`
// gives it a terminal for stdin, stdout and stderr, and what is typed goes through the
// terminal's line discipline (so "\x03" is Ctrl-C: SIGINT to the foreground job).
export interface Terminal {
  // Everything the screen showed so far, escape sequences included.
  screen: () => string
  type: (keys: string) => void
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<void>
  exited: Promise<number | null>
}

const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`

export function runInTerminal (argv: string[], { cwd, env }: { cwd: string, env: NodeJS.ProcessEnv }): Terminal {
  // -e: script exits with the command's code; /dev/null: keep no typescript file.
  const child = spawn('script', ['-q', '-e', '-c', argv.map(quote).join(' '), '/dev/null'], { cwd, env, stdio: ['pipe', 'pipe', 'inherit'] })
  let screen = ''
  const listeners = new Set<() => void>()
  child.stdout.on('data', chunk => {
    screen += chunk
    for (const listener of listeners) listener()
  })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  return {
    screen: () => screen,
    type: keys => { child.stdin.write(keys) },
    waitFor: (pattern, timeoutMs = 15_000) => new Promise((resolve, reject) => {
      const check = () => {
        if (!pattern.test(screen)) return
        listeners.delete(check)
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        listeners.delete(check)
        reject(new Error(`${pattern} not on the screen within ${timeoutMs} ms:\n${screen}`))
      }, timeoutMs)
      listeners.add(check)
      check()
    }),
    exited
  }
}
