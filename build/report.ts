import { statSync } from 'node:fs'
import { relative } from 'node:path'
import { compareVersions, readElfNeeds, type Abi, type ElfNeeds } from './elf.ts'

// The oldest system each executable must start on: Amazon Linux 2, the seed's AMI. Its glibc is
// 2.26 (https://docs.aws.amazon.com/linux/al2023/ug/compare-with-al2.html) and its C++ runtime
// is GCC 7's libstdc++ 6.0.24: GLIBCXX_3.4.24, CXXABI_1.3.11
// (https://gcc.gnu.org/onlinedocs/libstdc++/manual/abi.html).
const AMAZON_LINUX_2: Record<Abi, string> = { GLIBC: '2.26', GLIBCXX: '3.4.24', CXXABI: '1.3.11' }
// The loader path every glibc distribution of that architecture has.
const INTERPRETERS: Record<ElfNeeds['machine'], string> = {
  'x86-64': '/lib64/ld-linux-x86-64.so.2',
  aarch64: '/lib/ld-linux-aarch64.so.1'
}

// Why an executable would not start on Amazon Linux 2, one line each; empty when it would.
export function amazonLinux2Problems (needs: ElfNeeds): string[] {
  const problems = Object.entries(needs.versions)
    .filter(([abi, version]) => compareVersions(version, AMAZON_LINUX_2[abi as Abi]) > 0)
    .map(([abi, version]) => `needs ${abi}_${version}; Amazon Linux 2 has ${abi}_${AMAZON_LINUX_2[abi as Abi]}`)
  if (needs.interpreter && needs.interpreter !== INTERPRETERS[needs.machine]) {
    problems.push(`asks for the loader ${needs.interpreter}; ${needs.machine} glibc systems have ${INTERPRETERS[needs.machine]}`)
  }
  return problems
}

// The build report: what was built and what it needs of the machine. Throws, failing the build,
// when the file would not start on Amazon Linux 2.
export function report (file: string, runtime: string): void {
  const needs = readElfNeeds(file)
  const problems = amazonLinux2Problems(needs)
  const abis = Object.entries(needs.versions).map(([abi, version]) => `${abi}_${version}`).join(', ')
  console.log([
    `built     ${relative(process.cwd(), file) || file} (${(statSync(file).size / 1024 / 1024).toFixed(1)} MB, ${needs.machine})`,
    `runtime   ${runtime}`,
    `needs     ${needs.interpreter ? `${abis || 'no versioned symbols'} (loader ${needs.interpreter})` : 'nothing: static'}`,
    `AL2       ${problems.length ? 'NO' : 'yes'} (Amazon Linux 2 has glibc ${AMAZON_LINUX_2.GLIBC}; 2023 and newer have more)`
  ].join('\n'))
  if (problems.length) throw new Error(`${file} would not start on Amazon Linux 2:\n  ${problems.join('\n  ')}`)
}
