import { groupMedian, loadRounds, startInstances, stopInstances, type Round } from './measure.ts'
import { ms, type Row, type Section } from './report.ts'
import { baseline, suaicloudapp } from './servers.ts'

// GET /health under load, as load balancers and monitors send it: the executable against bare
// node:http, Express 5 and bare Fastify, all on the Bun binary the executable is made of, three
// processes of each (see startInstances). Besides requests per second, the server's own CPU time
// per request.
const INSTANCES = 3
const CONNECTIONS = 10
const SECONDS = 2
const ROUNDS = 3

export async function throughput (): Promise<Section> {
  const names = ['suaicloudapp', 'node:http', 'Express 5', 'bare Fastify']
  const groups = await startInstances([suaicloudapp(), baseline('http'), baseline('express'), baseline('fastify')], INSTANCES)
  try {
    await loadRounds(groups, { rounds: ROUNDS, connections: CONNECTIONS, seconds: SECONDS })
  } finally {
    await stopInstances(groups)
  }

  const subjects = groups.map((instances, i) => ({ name: names[i], instances }))
  const [ours, ...others] = subjects
  const [http, express, fastify] = others
  const of = (subject: typeof ours, key: keyof Round) => groupMedian(subject.instances, key)
  const ratio = (other: typeof ours, key: keyof Round) => of(ours, key) / of(other, key)
  const rps = (value: number) => `${Math.round(value)} req/s`
  const us = (value: number) => `${value.toFixed(1)} µs`
  const row = (name: string, other: typeof ours, key: keyof Round, format: (value: number) => string, target?: number): Row => ({
    figure: `${name} vs ${other.name}`,
    ours: format(of(ours, key)),
    baseline: format(of(other, key)),
    ratio: `${ratio(other, key).toFixed(2)}×`,
    target: target ? `≥ ${target}×` : '',
    met: target ? ratio(other, key) >= target : undefined
  })
  const load10 = `GET /health, ${INSTANCES} processes each, ${CONNECTIONS} connections, ${ROUNDS}×${SECONDS} s`
  return {
    rows: [
      row(`${load10}: throughput`, http, 'rps', rps, 0.9),
      row('  throughput', express, 'rps', rps, 1.5),
      row('  throughput', fastify, 'rps', rps),
      ...others.map(other => row('  server CPU per request', other, 'cpuUs', us)),
      ...[http, express].map(other => row('  p99 latency', other, 'p99', ms))
    ],
    data: {
      instances: INSTANCES,
      connections: CONNECTIONS,
      seconds: SECONDS,
      rounds: ROUNDS,
      subjects: subjects.map(subject => ({ name: subject.name, rps: of(subject, 'rps'), cpuUs: of(subject, 'cpuUs'), p99Ms: of(subject, 'p99'), rounds: subject.instances.map(({ rounds }) => rounds) }))
    }
  }
}
