import { accessSync, constants, existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'

// The Debian packages the suites need, and what npm test does when some are missing.

export interface Need { package: string, why: string, files: string[] }

export const needs: Need[] = [
  { package: 'mariadb-server', why: 'the MySQL server the database checks talk to', files: ['mariadbd', 'mariadb-install-db'] },
  { package: 'redis-server', why: 'Redis and the Redis Cluster', files: ['redis-server', 'redis-cli'] },
  { package: 'openssl', why: 'certificates for the TLS tests', files: ['openssl'] },
  { package: 'chromium', why: 'the dashboard test', files: ['/usr/bin/chromium'] },
  { package: 'iptables', why: 'dropped packets in the network fault tests', files: ['iptables'] },
  { package: 'iproute2', why: 'network namespaces for the fault tests', files: ['ip'] },
  { package: 'curl', why: 'the README\'s common mistakes, run as a student runs them', files: ['curl'] },
  { package: 'haproxy', why: 'a load balancer in front of three executables', files: ['haproxy'] },
  { package: 'qemu-user-static', why: 'running the arm64 executable', files: ['/usr/bin/qemu-aarch64-static'] },
  { package: 'libc6-arm64-cross', why: 'the aarch64 glibc the arm64 executable loads', files: ['/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1'] }
]

// Debian keeps daemons in /usr/sbin, which is not on a normal user's PATH.
const searchPath = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin']

export function present (file: string): boolean {
  if (file.startsWith('/')) return existsSync(file)
  return searchPath.some(dir => {
    try {
      accessSync(join(dir, file), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

export type Plan =
  | { action: 'none' }
  // Run these commands, each an argv.
  | { action: 'install', announce: string, commands: string[][] }
  | { action: 'stop', message: string }

// `elevate` is how this process may run apt-get: [] as root, ['sudo'] with a working sudo,
// undefined when it cannot (or this is no Debian).
export function plan (missing: Need[], elevate: string[] | undefined, isRoot: boolean): Plan {
  if (missing.length === 0) return { action: 'none' }
  const names = missing.map(need => need.package)
  const install = ['apt-get', 'install', '-y', '--no-install-recommends', ...names]
  if (!elevate) {
    return {
      action: 'stop',
      message: `npm test needs Debian packages that are not installed:\n${missing.map(need => `  ${need.package}: ${need.why}\n`).join('')}` +
        `Install them, then run npm test again:\n  ${isRoot ? '' : 'sudo '}${install.join(' ')}\n`
    }
  }
  const env = [...elevate, 'env', 'DEBIAN_FRONTEND=noninteractive']
  return {
    action: 'install',
    announce: `npm test: installing ${names.join(', ')} with apt-get (${missing.map(need => need.why).join('; ')})\n`,
    commands: [[...env, 'apt-get', 'update', '-q'], [...env, ...install]]
  }
}
