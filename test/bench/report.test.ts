import { describe, expect, it } from 'vitest'
import { buildReport, formatReportTable, formatTable, REPORT_SCHEMA_VERSION, summarize } from '../../src/bench/report.js'
import { assertValidReport, BENCH_REPORT_JSON_SCHEMA, validateAgainstSchema } from '../../src/bench/report-schema.js'
import { runScenario, type RepetitionResult } from '../../src/bench/runner.js'
import { fileAppendScenario } from '../../src/bench/scenarios/file-append.js'
import { serializeHistogram, createLatencyHistogram } from '../../src/bench/histogram.js'

function fakeRepetition(records: number, durationMs: number, cpuBroker: number): RepetitionResult {
  return {
    records, bytes: records * 100, durationNs: durationMs * 1e6, cpu: { broker: cpuBroker, client: 0.5 },
    latency: serializeHistogram(createLatencyHistogram()), throughput: [{ tMs: durationMs, recordsPerSec: (records * 1000) / durationMs }],
  }
}

describe('report', () => {
  it('a short real run of file-append validates against the versioned schema, through JSON', async () => {
    const runs = [
      await runScenario(fileAppendScenario('records=3000'), { repetitions: 3, warmups: 1, progress: false }),
      await runScenario(fileAppendScenario('records=2000,flush=always'), { repetitions: 3, warmups: 0, withReference: true, progress: false }),
    ]
    const report = buildReport(runs, { argv: ['node', 'bench/run.mjs', '--reps', '3'] })
    const document: unknown = JSON.parse(JSON.stringify(report))
    expect(validateAgainstSchema(document)).toEqual([])
    assertValidReport(document)
    expect(document).toMatchObject({ schemaVersion: REPORT_SCHEMA_VERSION, kind: 'ringlog-bench', command: { argv: ['node', 'bench/run.mjs', '--reps', '3'] } })
    expect(report.machine.cpus).toBeGreaterThan(0)
    expect(report.machine.node).toBe(process.version)
    const first = report.scenarios[0]
    expect(first.repetitions).toHaveLength(3)
    expect(first.summary.repetitions).toBe(3)
    expect(first.summary.latencyMs.count).toBe(3 * Math.ceil(3000 / 163))
    expect(first.summary.latencyMs.p50).toBeGreaterThan(0)
    expect(report.scenarios[1].reference?.summary.repetitions).toBe(3)
    expect(report.scenarios[1].pairRatios).toHaveLength(3)

    const table = formatReportTable(report)
    expect(table).toContain('file-append page-cache')
    expect(table).toContain('  file-append durable (reference)')
    expect(table.split('\n')[0]).toMatch(/^scenario\s+reps\s+records\/s/)
  })

  it('the validator reports what is wrong', () => {
    const valid = buildReport([{ name: 's', params: fileAppendScenario().params, repetitions: [fakeRepetition(1000, 10, 0.1)] }])
    expect(validateAgainstSchema(valid)).toEqual([])
    const broken = JSON.parse(JSON.stringify(valid)) as Record<string, any>
    broken.schemaVersion = 2
    delete broken.machine.cpus
    broken.extra = true
    broken.scenarios[0].repetitions[0].durationNs = -1
    broken.scenarios[0].params.acks = 'all'
    broken.scenarios[0].repetitions[0].latency.buckets = [[1, 2, 3]]
    const errors = validateAgainstSchema(broken)
    expect(errors).toEqual(expect.arrayContaining([
      '$.schemaVersion: expected 1',
      '$.machine: missing cpus',
      '$: unexpected property extra',
      '$.scenarios[0].repetitions[0].durationNs: -1 < 0',
      '$.scenarios[0].params.acks: not one of [-1,0,1]',
      '$.scenarios[0].repetitions[0].latency.buckets[0]: more than 2 items',
    ]))
    expect(() => assertValidReport(broken)).toThrow(/not a valid ringlog bench report/)
    expect(BENCH_REPORT_JSON_SCHEMA.$schema).toContain('2020-12')
  })

  it('summaries: medians of repetitions, CPU per million records', () => {
    const summary = summarize([fakeRepetition(1_000_000, 1000, 2), fakeRepetition(1_000_000, 500, 1), fakeRepetition(1_000_000, 2000, 4)])
    expect(summary.recordsPerSec.median).toBeCloseTo(1_000_000, 6)
    expect(summary.recordsPerSec.max).toBeCloseTo(2_000_000, 6)
    expect(summary.mbPerSec.median).toBeCloseTo(100, 9) // 10^8 bytes/s
    expect(summary.cpuSecondsPerMillionRecords).toEqual({ broker: 2, client: 0.5 })
  })

  it('fixed-width table: first column left-aligned, the rest right-aligned', () => {
    expect(formatTable(['name', 'n'], [['a', '1'], ['long name', '100']])).toBe(
      ['name         n', '---------  ---', 'a            1', 'long name  100'].join('\n'),
    )
  })
})
