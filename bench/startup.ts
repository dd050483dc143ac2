import { statSync } from 'node:fs'
import { interleave, median } from './measure.ts'
import { mb, ms, times, type Section } from './report.ts'
import { baseline, executable, node, start, suaicloudapp, type Command } from './servers.ts'

// What the one executable costs against a bare Fastify server run by the same Node 24 binary:
// size, exec until the first 200 from /health, and the resident set at that moment.
const RUNS = 9

export async function startup (): Promise<Section> {
  const subjects: Array<{ name: string, command: Command, runs: Array<{ ms: number, rssBytes: number }> }> = [
    { name: 'suaicloudapp', command: suaicloudapp(), runs: [] },
    { name: 'bare Fastify', command: baseline('fastify'), runs: [] }
  ]
  await interleave(RUNS, subjects, async subject => {
    const server = await start(subject.command)
    subject.runs.push({ ms: server.startMs, rssBytes: server.rssBytes })
    await server.stop()
  })
  const [app, bare] = subjects.map(({ name, runs }) => ({
    name,
    startupMs: median(runs.map(run => run.ms)),
    rssBytes: median(runs.map(run => run.rssBytes)),
    runs
  }))
  const sizes = { executable: statSync(executable).size, node: statSync(node).size }
  return {
    rows: [
      { figure: 'size on disk (vs the node binary)', ours: mb(sizes.executable), baseline: mb(sizes.node), ratio: times(sizes.executable, sizes.node), target: '' },
      { figure: `exec → first /health 200, median of ${RUNS} (vs bare Fastify)`, ours: ms(app.startupMs), baseline: ms(bare.startupMs), ratio: times(app.startupMs, bare.startupMs), target: '' },
      { figure: 'RSS at that moment (vs bare Fastify)', ours: mb(app.rssBytes), baseline: mb(bare.rssBytes), ratio: times(app.rssBytes, bare.rssBytes), target: '' }
    ],
    data: { runs: RUNS, sizes, subjects: [app, bare] }
  }
}
