import { readFileSync, statSync } from 'node:fs'
import { relative } from 'node:path'

const PT_INTERP = 3
const SHT_GNU_VERNEED = 0x6ffffffe
const AMAZON_LINUX = [{ name: 'Amazon Linux 2', glibc: '2.26' }, { name: 'Amazon Linux 2023', glibc: '2.34' }]

function compareVersions (a: string, b: string): number {
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

// The highest GLIBC_x.y among the ELF's version needs (.gnu.version_r) is the
// oldest glibc the loader accepts; undefined means a static binary. Read here
// rather than with readelf/objdump so the build needs no binutils.
export function minimumGlibc (file: string): string | undefined {
  const elf = readFileSync(file)
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) {
    throw new Error(`${file} is not a 64-bit little-endian ELF`)
  }
  const phoff = Number(elf.readBigUInt64LE(0x20))
  const shoff = Number(elf.readBigUInt64LE(0x28))
  const phentsize = elf.readUInt16LE(0x36)
  const phnum = elf.readUInt16LE(0x38)
  const shentsize = elf.readUInt16LE(0x3a)
  const shnum = elf.readUInt16LE(0x3c)

  let interpreted = false
  for (let i = 0; i < phnum; i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === PT_INTERP) interpreted = true
  }
  if (!interpreted) return undefined

  let highest: string | undefined
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * shentsize
    if (elf.readUInt32LE(sh + 4) !== SHT_GNU_VERNEED) continue
    const strtab = Number(elf.readBigUInt64LE(shoff + elf.readUInt32LE(sh + 40) * shentsize + 24))
    let need = Number(elf.readBigUInt64LE(sh + 24))
    for (;;) {
      let aux = need + elf.readUInt32LE(need + 8)
      for (let n = elf.readUInt16LE(need + 2); n > 0; n--) {
        const match = /^GLIBC_(\d+(?:\.\d+)+)$/.exec(cString(elf, strtab + elf.readUInt32LE(aux + 8)))
        if (match?.[1] && (highest === undefined || compareVersions(match[1], highest) > 0)) highest = match[1]
        aux += elf.readUInt32LE(aux + 12)
      }
      const next = elf.readUInt32LE(need + 12)
      if (next === 0) break
      need += next
    }
  }
  if (highest === undefined) throw new Error(`${file} is dynamically linked but needs no GLIBC_ version: not a glibc binary?`)
  return highest
}

export function report (file: string, runtime: string, started: number): void {
  const glibc = minimumGlibc(file)
  const runsOn = AMAZON_LINUX.map(({ name, glibc: has }) =>
    `${name} (glibc ${has}): ${glibc === undefined || compareVersions(glibc, has) <= 0 ? 'yes' : 'NO'}`)
  console.log([
    `built     ${relative(process.cwd(), file) || file}`,
    `size      ${(statSync(file).size / 1024 / 1024).toFixed(1)} MB`,
    `runtime   ${runtime}`,
    `glibc     ${glibc === undefined ? 'static (no glibc needed)' : `>= ${glibc}`}`,
    ...runsOn.map(line => `runs on   ${line}`),
    `took      ${((Date.now() - started) / 1000).toFixed(1)} s`
  ].join('\n'))
}
