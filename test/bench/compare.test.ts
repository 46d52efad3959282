import { describe, expect, it } from 'vitest'
import { compareReports, formatComparisonTable, hasRegression } from '../../src/bench/compare.js'
import { createLatencyHistogram, serializeHistogram } from '../../src/bench/histogram.js'
import { buildReport, type BenchReport } from '../../src/bench/report.js'
import { runScenario, type RepetitionResult, type ScenarioRunWithReference } from '../../src/bench/runner.js'
import type { Scenario } from '../../src/bench/scenario.js'
import { fileAppendScenario } from '../../src/bench/scenarios/file-append.js'

// Paced (fixed offered rate), so a repetition's length is set by the clock.
const paced = (): Scenario => fileAppendScenario('records=4000,rate=40k,linger=2')

function syntheticRun(name: string, rates: readonly number[]): ScenarioRunWithReference {
  const repetitions: RepetitionResult[] = rates.map((rate) => ({
    records: rate, bytes: rate * 100, durationNs: 1e9, cpu: { broker: 1, client: 0 },
    latency: serializeHistogram(createLatencyHistogram()), throughput: [{ tMs: 1000, recordsPerSec: rate }],
  }))
  return { name, params: fileAppendScenario().params, repetitions }
}

describe('regression mode on a real run', () => {
  // Verdicts on real runs against an injected slowdown are statistical: test/soak/bench-compare.test.ts.
  it('finds a real report unchanged against itself', async () => {
    const report = buildReport([await runScenario(paced(), { repetitions: 6, warmups: 0, progress: false })])
    const self = compareReports(report, report)
    expect(self).toHaveLength(1)
    expect(self[0].verdict).toBe('unchanged')
    expect(self[0].p).toBe(1)
    expect(self[0].changePct).toBe(0)
    expect(hasRegression(self)).toBe(false)
    expect(formatComparisonTable(self)).toMatch(/file-append page-cache .* unchanged/)
  })
})

describe('regression verdicts (synthetic repetitions)', () => {
  const base = buildReport([syntheticRun('a', [100, 101, 99, 102, 98]), syntheticRun('b', [100, 101, 99, 102, 98]), syntheticRun('gone', [1, 2, 3, 4, 5])])

  it('needs both significance and a slowdown beyond the threshold', () => {
    const current = buildReport([
      syntheticRun('a', [96, 97, 95, 97.5, 96.5]), // significant but only ~3.5% slower
      syntheticRun('b', [130, 131, 129, 132, 128]), // 30% faster
      syntheticRun('new', [1, 2, 3, 4, 5]),
    ])
    const rows = compareReports(base, current)
    const byName = new Map(rows.map((r) => [r.name, r]))
    expect(byName.get('a')!.p!).toBeLessThan(0.05)
    expect(byName.get('a')!.verdict).toBe('unchanged')
    expect(byName.get('b')!.verdict).toBe('improvement')
    expect(byName.get('new')!.verdict).toBe('only-in-current')
    expect(byName.get('gone')!.verdict).toBe('only-in-baseline')
    expect(hasRegression(rows)).toBe(false)
    // Same data, a 3% threshold: now it counts.
    expect(hasRegression(compareReports(base, current, { threshold: 0.03 }))).toBe(true)
  })

  it('a large slowdown that is not significant is not flagged; too few repetitions says so', () => {
    const noisy = buildReport([syntheticRun('a', [60, 140, 70, 150, 65])])
    expect(compareReports(base, noisy).find((r) => r.name === 'a')!.verdict).toBe('unchanged')
    const three = buildReport([syntheticRun('a', [50, 51, 52])])
    const fewBase = buildReport([syntheticRun('a', [100, 101, 102])])
    const row = compareReports(fewBase, three)[0]
    expect(row.p).toBeCloseTo(0.1, 12) // the smallest p 3 vs 3 can reach
    expect(row.verdict).toBe('too-few-repetitions')
  })

  it('params are part of the key', () => {
    const other = buildReport([{ ...syntheticRun('a', [50, 51, 52, 53, 54]), params: fileAppendScenario('record-size=200').params }])
    const verdicts = compareReports(base, other).map((r) => r.verdict)
    expect(verdicts).toContain('only-in-current')
    expect(verdicts).not.toContain('regression')
  })

  it('pairRatio metric compares same-run ratios', () => {
    const withRatios = (ratios: number[]): BenchReport => buildReport([{ ...syntheticRun('a', [100, 100, 100, 100, 100]), pairRatios: ratios, medianPairRatio: ratios[2] }])
    const rows = compareReports(withRatios([1, 1.01, 0.99, 1.02, 0.98]), withRatios([0.7, 0.71, 0.69, 0.72, 0.68]), { metric: 'pairRatio' })
    expect(rows[0].verdict).toBe('regression')
    expect(compareReports(base, base, { metric: 'pairRatio' })[0].verdict).toBe('no-metric')
    expect(formatComparisonTable(rows, { metric: 'pairRatio' })).toContain('baseline ratio')
  })
})
