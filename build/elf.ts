import { readFileSync } from 'node:fs'

// What the dynamic loader of the machine that runs an executable must provide, read from the
// ELF itself (program headers and .gnu.version_r), so the build needs no binutils.
// Format: https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/symversion.html

export interface ElfNeeds {
  machine: 'x86-64' | 'aarch64'
  // The program interpreter (dynamic loader); undefined for a static executable.
  interpreter?: string
  // The highest version needed of each versioned library ABI, e.g. { GLIBC: '2.17' }.
  versions: Partial<Record<Abi, string>>
}

export type Abi = 'GLIBC' | 'GLIBCXX' | 'CXXABI'

const PT_INTERP = 3
const SHT_GNU_VERNEED = 0x6ffffffe
const MACHINES: Record<number, ElfNeeds['machine']> = { 0x3e: 'x86-64', 0xb7: 'aarch64' }

export function compareVersions (a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

function cString (buf: Buffer, offset: number): string {
  return buf.toString('latin1', offset, buf.indexOf(0, offset))
}

export function readElfNeeds (file: string): ElfNeeds {
  const elf = readFileSync(file)
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) {
    throw new Error(`${file} is not a 64-bit little-endian ELF`)
  }
  const machine = MACHINES[elf.readUInt16LE(0x12)]
  if (!machine) throw new Error(`${file} is for ELF machine ${elf.readUInt16LE(0x12)}, neither x86-64 nor aarch64`)
  const phoff = Number(elf.readBigUInt64LE(0x20))
  const shoff = Number(elf.readBigUInt64LE(0x28))
  const phentsize = elf.readUInt16LE(0x36)
  const phnum = elf.readUInt16LE(0x38)
  const shentsize = elf.readUInt16LE(0x3a)
  const shnum = elf.readUInt16LE(0x3c)

  let interpreter: string | undefined
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize
    if (elf.readUInt32LE(ph) === PT_INTERP) interpreter = cString(elf, Number(elf.readBigUInt64LE(ph + 8)))
  }

  const versions: ElfNeeds['versions'] = {}
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * shentsize
    if (elf.readUInt32LE(sh + 4) !== SHT_GNU_VERNEED) continue
    const strtab = Number(elf.readBigUInt64LE(shoff + elf.readUInt32LE(sh + 40) * shentsize + 24))
    let need = Number(elf.readBigUInt64LE(sh + 24))
    for (;;) {
      let aux = need + elf.readUInt32LE(need + 8)
      for (let n = elf.readUInt16LE(need + 2); n > 0; n--) {
        const match = /^(GLIBC|GLIBCXX|CXXABI)_(\d+(?:\.\d+)+)$/.exec(cString(elf, strtab + elf.readUInt32LE(aux + 8)))
        if (match) {
          const [, abi, version] = match as unknown as [string, Abi, string]
          const known = versions[abi]
          if (known === undefined || compareVersions(version, known) > 0) versions[abi] = version
        }
        aux += elf.readUInt32LE(aux + 12)
      }
      const next = elf.readUInt32LE(need + 12)
      if (next === 0) break
      need += next
    }
  }
  if (interpreter && versions.GLIBC === undefined) throw new Error(`${file} is dynamically linked but needs no GLIBC_ version: not a glibc executable?`)
  return { machine, interpreter, versions }
}
