import { dirname, resolve } from 'node:path'

export function programDir (): string {
  // In a packed executable argv[1] is not a script; the executable's own folder is the place.
  return isPacked() ? dirname(process.execPath) : dirname(resolve(process.argv[1] ?? '.'))
}

// True inside the built executable (SEA or pkg), false when Node runs the sources.
export function isPacked (): boolean {
  return 'pkg' in process || isSea()
}

function isSea (): boolean {
  try {
    return (process as unknown as { getBuiltinModule?: (name: string) => { isSea?: () => boolean } | undefined })
      .getBuiltinModule?.('node:sea')?.isSea?.() ?? false
  } catch {
    return false
  }
}
