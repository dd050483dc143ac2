import { statSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { interleave, median } from './measure.ts'
import { mb, ms, times, type Section } from './report.ts'
import { baseline, bun, executable, node, start, suaicloudapp, type Command } from './servers.ts'

// What the one executable costs against a bare Fastify server run by the same Bun binary: size,
// exec until the first 200 from /health, and the resident set at that moment. Bare Fastify on
// Node 24 shows what the choice of runtime alone changes. Then the CPU each spends idle, with
// no request at all: what an instance of a burstable type pays in CPU credits for nothing.
const RUNS = 9
const IDLE_SECONDS = 20

export async function startup (): Promise<Section> {
  const subjects: Array<{ name: string, command: Command, runs: Array<{ ms: number, rssBytes: number }> }> = [
    { name: 'suaicloudapp', command: suaicloudapp(), runs: [] },
    { name: 'bare Fastify', command: baseline('fastify'), runs: [] },
    { name: 'bare Fastify on Node 24', command: baseline('fastify', node), runs: [] }
  ]
  await interleave(RUNS, subjects, async subject => {
    const server = await start(subject.command)
    subject.runs.push({ ms: server.startMs, rssBytes: server.rssBytes })
    await server.stop()
  })
  const [app, bare, onNode] = subjects.map(({ name, runs }) => ({
    name,
    startupMs: median(runs.map(run => run.ms)),
    rssBytes: median(runs.map(run => run.rssBytes)),
    runs
  }))
  const idle = await Promise.all(subjects.slice(0, 2).map(({ command }) => idleCpu(command)))
  const sizes = { executable: statSync(executable).size, bun: statSync(bun).size }
  return {
    rows: [
      { figure: 'size on disk (vs the bun binary)', ours: mb(sizes.executable), baseline: mb(sizes.bun), ratio: times(sizes.executable, sizes.bun), target: '' },
      { figure: `exec → first /health 200, median of ${RUNS} (vs bare Fastify)`, ours: ms(app.startupMs), baseline: ms(bare.startupMs), ratio: times(app.startupMs, bare.startupMs), target: '≤ 1.3×', met: app.startupMs <= 1.3 * bare.startupMs },
      { figure: '  vs bare Fastify on Node 24', ours: ms(app.startupMs), baseline: ms(onNode.startupMs), ratio: times(app.startupMs, onNode.startupMs), target: '' },
      { figure: 'RSS at that moment (vs bare Fastify)', ours: mb(app.rssBytes), baseline: mb(bare.rssBytes), ratio: times(app.rssBytes, bare.rssBytes), target: '≤ 1.5×', met: app.rssBytes <= 1.5 * bare.rssBytes },
      { figure: '  vs bare Fastify on Node 24', ours: mb(app.rssBytes), baseline: mb(onNode.rssBytes), ratio: times(app.rssBytes, onNode.rssBytes), target: '' },
      { figure: `CPU while idle, ${IDLE_SECONDS} s without a request (vs bare Fastify)`, ours: `${idle[0].toFixed(1)} ms/s`, baseline: `${idle[1].toFixed(1)} ms/s`, ratio: times(idle[0], idle[1]), target: '' }
    ],
    data: { runs: RUNS, sizes, subjects: [app, bare, onNode], idleCpuMsPerSecond: { app: idle[0], bare: idle[1] } }
  }
}

// Milliseconds of CPU per second a server spends with nothing to do, once start-up's own work
// (compiling, collecting) has settled: measured from its first second, the executable read
// 12 ms/s, against 3–4.5 once 15 s had passed.
async function idleCpu (command: Command): Promise<number> {
  const server = await start(command)
  try {
    await sleep(15_000)
    const before = server.cpuSeconds()
    await sleep(IDLE_SECONDS * 1000)
    return (server.cpuSeconds() - before) * 1000 / IDLE_SECONDS
  } finally {
    await server.stop()
  }
}
