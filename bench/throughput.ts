import { interleave, load, median } from './measure.ts'
import { ms, type Row, type Section } from './report.ts'
import { baseline, start, suaicloudapp, type Command } from './servers.ts'

// GET /health under load, as load balancers and monitors send it: the executable against bare
// node:http, Express 5 and bare Fastify, all on the Bun binary the executable is made of. Besides requests per
// second, the server's own CPU time per request: the load generator shares the 2 cores, and
// other work on the machine moves req/s far more than it moves CPU per request.
const CONNECTIONS = 10
const SECONDS = 3
const ROUNDS = 5

interface Run { rps: number, cpuUs: number, p99: number }

export async function throughput (): Promise<Section> {
  const subjects: Array<{ name: string, command: Command, runs: Run[] }> = [
    { name: 'suaicloudapp', command: suaicloudapp(), runs: [] },
    { name: 'node:http', command: baseline('http'), runs: [] },
    { name: 'Express 5', command: baseline('express'), runs: [] },
    { name: 'bare Fastify', command: baseline('fastify'), runs: [] }
  ]
  const servers = await Promise.all(subjects.map(subject => start(subject.command)))
  try {
    // Warmed up, so the JIT has compiled the hot path before a round counts.
    for (const server of servers) await load(`${server.url}/health`, { connections: CONNECTIONS, seconds: 1 })
    await interleave(ROUNDS, subjects.map((subject, i) => ({ subject, server: servers[i] })), async ({ subject, server }) => {
      const cpuBefore = server.cpuSeconds()
      const { requests, rps, p99 } = await load(`${server.url}/health`, { connections: CONNECTIONS, seconds: SECONDS })
      subject.runs.push({ rps, p99, cpuUs: (server.cpuSeconds() - cpuBefore) / requests * 1e6 })
    })
  } finally {
    await Promise.all(servers.map(server => server.stop()))
  }

  const [ours, ...others] = subjects
  const [http, express, fastify] = others
  const of = (subject: typeof ours, key: keyof Run) => median(subject.runs.map(run => run[key]))
  // Each round measures the subjects back to back, so the ratio is taken within a round, and the
  // median of the rounds' ratios is given.
  const ratio = (other: typeof ours, key: keyof Run) => median(ours.runs.map((run, round) => run[key] / other.runs[round][key]))
  const rps = (value: number) => `${Math.round(value)} req/s`
  const us = (value: number) => `${value.toFixed(1)} µs`
  const row = (name: string, other: typeof ours, key: keyof Run, format: (value: number) => string, target?: number): Row => ({
    figure: `${name} vs ${other.name}`,
    ours: format(of(ours, key)),
    baseline: format(of(other, key)),
    ratio: `${ratio(other, key).toFixed(2)}×`,
    target: target ? `≥ ${target}×` : '',
    met: target ? ratio(other, key) >= target : undefined
  })
  const load10 = `GET /health, ${CONNECTIONS} connections, ${ROUNDS}×${SECONDS} s`
  return {
    rows: [
      row(`${load10}: throughput`, http, 'rps', rps, 0.9),
      row('  throughput', express, 'rps', rps, 1.5),
      row('  throughput', fastify, 'rps', rps),
      ...others.map(other => row('  server CPU per request', other, 'cpuUs', us)),
      ...[http, express].map(other => row('  p99 latency', other, 'p99', ms))
    ],
    data: {
      connections: CONNECTIONS,
      seconds: SECONDS,
      rounds: ROUNDS,
      subjects: subjects.map(subject => ({ name: subject.name, rps: of(subject, 'rps'), cpuUs: of(subject, 'cpuUs'), p99Ms: of(subject, 'p99'), runs: subject.runs }))
    }
  }
}
