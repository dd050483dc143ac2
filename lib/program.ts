import { dirname, resolve } from 'node:path'

export function programDir (): string {
  // In a packed executable argv[1] is not a script; the executable's own folder is the place.
  return isPacked() ? dirname(process.execPath) : dirname(resolve(process.argv[1] ?? '.'))
}

// True inside the built executable. Bun's single-file executable runs its entry script from the
// file system embedded in the binary, so argv[1] is /$bunfs/root/…, never a file on disk:
// https://bun.com/docs/bundler/executables
export function isPacked (): boolean {
  return process.argv[1]?.startsWith('/$bunfs/') ?? false
}
