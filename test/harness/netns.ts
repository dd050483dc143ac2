import { execFileSync } from 'node:child_process'
import { runToEnd, type Finished } from './process.ts'

// A network and mount namespace of a test's own: only a loopback interface, iptables rules and
// bind-mounted /etc files that touch nothing outside it. There packets can be dropped on the
// floor (a security group or a route table that says nothing) and the system resolver is one the
// test chose, so nothing a test does there can reach the machine's real network or resolver.

// Why namespaces cannot be made here, or undefined when they can.
export function netnsMissing (): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for a network namespace and iptables'
  for (const tool of ['unshare', 'iptables', 'ip']) {
    try { execFileSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`], { stdio: 'ignore' }) } catch { return `needs ${tool} (Debian: apt-get install iptables iproute2 util-linux)` }
  }
  try { execFileSync('unshare', ['-n', '-m', 'true'], { stdio: 'ignore' }) } catch { return 'this machine does not allow new network namespaces' }
  return undefined
}

export interface NetnsOptions {
  // iptables rules for the INPUT chain of the namespace's loopback, e.g. '-p tcp --dport 443 -j DROP'.
  drop?: string[]
  // Files bind-mounted over their /etc namesakes: { '/etc/resolv.conf': '/tmp/x/resolv.conf' }.
  mounts?: Record<string, string>
  cwd: string
  env: NodeJS.ProcessEnv
}

// Runs argv inside a new namespace with the loopback up, the rules and the mounts in place.
export function runInNetns (argv: string[], { drop = [], mounts = {}, cwd, env }: NetnsOptions): Promise<Finished> {
  const script = [
    'set -e',
    'ip link set lo up',
    ...drop.map(rule => `iptables -A INPUT ${rule}`),
    ...Object.entries(mounts).map(([target, source]) => `mount --bind '${source}' '${target}'`),
    'exec "$@"'
  ].join('; ')
  return runToEnd('unshare', ['-n', '-m', 'bash', '-c', script, 'netns', ...argv], { cwd, env })
}
