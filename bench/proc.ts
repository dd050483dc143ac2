import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

// What a process holds, read from /proc: its open file descriptors, and its established TCP
// connections to a port.

export const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length

const ESTABLISHED = '01'

export function connectionsTo (pid: number, port: number): number {
  // The process's sockets, by inode; an fd closed meanwhile is simply not counted.
  const inodes = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (socket) inodes.add(socket[1])
    } catch {}
  }
  let count = 0
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    // Each row: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
    for (const row of readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const fields = row.trim().split(/\s+/)
      if (fields[3] === ESTABLISHED && parseInt(fields[2].split(':')[1], 16) === port && inodes.has(fields[9])) count++
    }
  }
  return count
}
