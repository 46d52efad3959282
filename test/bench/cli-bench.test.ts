import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertValidReport, type BenchReport } from '../../src/bench/index.js'
import type { BenchCommandOptions } from '../../src/cli/bench.js'
import { runBench } from './bench-command.js'

const bench = runBench

function readReport(path: string): BenchReport {
  const document: unknown = JSON.parse(readFileSync(path, 'utf8'))
  assertValidReport(document)
  return document
}

describe('ringlog bench', () => {
  let dir: string
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'ringlog-cli-bench-')) })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('an embedded produce run writes a schema-valid report, a table and a plot', async () => {
    const json = join(dir, 'embedded.json')
    const plot = join(dir, 'embedded.svg')
    const { code, out } = await bench(['produce'], { mode: 'embedded', records: '3000', reps: '3', warmups: '0', json, plot })
    expect(code).toBe(0)
    const report = readReport(json)
    expect(report.scenarios).toHaveLength(1)
    const scenario = report.scenarios[0]
    expect(scenario.params.mode).toBe('embedded')
    expect(scenario.repetitions).toHaveLength(3)
    for (const rep of scenario.repetitions) expect(rep.records).toBeGreaterThanOrEqual(3000)
    expect(scenario.summary.latencyMs.count).toBeGreaterThan(0)
    expect(out).toContain('produce embedded')
    expect(readFileSync(plot, 'utf8')).toContain('<svg')
  })

  it('a list of --in-flight values sweeps: one row per value, each with its own params, in order', async () => {
    const json = join(dir, 'sweep.json')
    const { code, out } = await bench(['produce'], { mode: 'embedded', flush: 'always', records: '3000', reps: '1', warmups: '0', inFlight: '1, 8', json })
    expect(code).toBe(0)
    const scenarios = readReport(json).scenarios
    expect(scenarios.map((scenario) => scenario.params.inFlight)).toEqual([1, 8])
    expect(scenarios.map((scenario) => scenario.name)).toEqual(['produce embedded acks=all flush=always inflight=1', 'produce embedded acks=all flush=always inflight=8'])
    for (const scenario of scenarios) expect(scenario.repetitions[0].records).toBeGreaterThanOrEqual(3000)
    expect(out).toContain('inflight=8')
  })

  it('a tcp produce run against a broker it starts as a child process reports broker and client CPU apart', async () => {
    const json = join(dir, 'tcp.json')
    const { code } = await bench(['produce'], { mode: 'tcp', records: '4000', reps: '3', warmups: '0', acks: '1', json })
    expect(code).toBe(0)
    const scenario = readReport(json).scenarios[0]
    expect(scenario.params.mode).toBe('tcp')
    expect(scenario.repetitions).toHaveLength(3)
    for (const rep of scenario.repetitions) expect(rep.records).toBeGreaterThanOrEqual(4000)
    // The broker is another process: its CPU comes from /proc (10 ms ticks, may read 0 on a
    // tiny run), the client's from this process alone.
    for (const rep of scenario.repetitions) {
      expect(rep.cpu.client).toBeGreaterThan(0)
      expect(Number.isFinite(rep.cpu.broker) && rep.cpu.broker >= 0).toBe(true)
    }
  })

  it('regression mode flags a slowed report and not a report compared with itself', async () => {
    // The measured baseline is compared with a copy whose repetitions each took 4x as long
    // (records/s / 4): the CLI's comparison path on a fixed slowdown, whatever the machine's
    // load. The same check on a live run with --inject-slowdown is in test/soak/bench-cli-regression.test.ts.
    const baseline = join(dir, 'baseline.json')
    const options: BenchCommandOptions = { mode: 'embedded', records: '20000', reps: '5', warmups: '0', acks: '1' }
    expect((await bench(['produce'], { ...options, json: baseline })).code).toBe(0)

    const same = await bench([], { baseline, current: baseline })
    expect(same.code).toBe(0)
    expect(same.out).toMatch(/unchanged/)
    expect(same.out).not.toMatch(/regression\s*$/m)

    const report = readReport(baseline)
    for (const scenario of report.scenarios) for (const repetition of scenario.repetitions) repetition.durationNs *= 4
    const slowed = join(dir, 'slowed.json')
    writeFileSync(slowed, JSON.stringify(report))
    const slow = await bench([], { baseline, current: slowed })
    expect(slow.code).toBe(1)
    expect(slow.err).toContain('regression flagged')
    expect(slow.out).toMatch(/regression/)
  })

  it('usage errors exit with 1 and say why on one ringlog: line', async () => {
    expect((await bench(['nonsense'], {})).code).toBe(1)
    const bad = await bench(['produce'], { acks: '7' })
    expect(bad.code).toBe(1)
    expect(bad.err).toMatch(/^ringlog: .*acks.*\n$/)
    expect((await bench(['e2e-latency'], { mode: 'tcp', client: 'kcat', records: '10' })).code).toBe(1)
    const empty = await bench(['produce'], { inFlight: '4,,8' })
    expect(empty.code).toBe(1)
    expect(empty.err).toMatch(/comma-separated/)
    // tcp produce has no in-flight depth: sweeping it would run the same row twice.
    const repeated = await bench(['produce'], { mode: 'tcp', inFlight: '4,8', records: '10' })
    expect(repeated.code).toBe(1)
    expect(repeated.err).toMatch(/would run twice/)
  })
})
