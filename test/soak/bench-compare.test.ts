/**
 * Statistical, on real timed runs: `npm run test:soak`, not `npm test` (a loaded machine can
 * blur a 30% slowdown). test/bench/compare.test.ts keeps the verdict logic on fixed repetitions.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { compareReports, formatComparisonTable, hasRegression } from '../../src/bench/compare.js'
import { buildReport, type BenchReport } from '../../src/bench/report.js'
import { runScenario } from '../../src/bench/runner.js'
import type { Scenario } from '../../src/bench/scenario.js'
import { fileAppendScenario } from '../../src/bench/scenarios/file-append.js'

/** The same scenario (same name and params), made `slowdown` slower by sleeping after each run. */
function slowedBy<S>(inner: Scenario<S>, slowdown: number): Scenario<S> {
  return {
    ...inner,
    async run(context, state) {
      const start = process.hrtime.bigint()
      const outcome = await inner.run(context, state)
      const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6
      await sleep(elapsedMs * (1 / (1 - slowdown) - 1))
      return outcome
    },
  }
}

// Paced (fixed offered rate), so a repetition's length is set by the clock more than by load.
const paced = (): Scenario => fileAppendScenario('records=4000,rate=40k,linger=2')
const REPS = 6

async function reportOf(scenario: Scenario): Promise<BenchReport> {
  return buildReport([await runScenario(scenario, { repetitions: REPS, warmups: 1, progress: false })])
}

describe('regression mode on real runs', () => {
  it('flags an injected 30% slowdown and not an identical or repeated run', async () => {
    const fast = await reportOf(paced())
    const slow = await reportOf(slowedBy(paced(), 0.3))
    const again = await reportOf(paced())

    const regressed = compareReports(fast, slow)
    expect(regressed).toHaveLength(1)
    expect(regressed[0].verdict).toBe('regression')
    expect(regressed[0].p!).toBeLessThan(0.05)
    expect(regressed[0].changePct!).toBeLessThan(-5)
    expect(regressed[0].ciHighPct!).toBeLessThan(0)
    expect(hasRegression(regressed)).toBe(true)
    expect(formatComparisonTable(regressed)).toMatch(/file-append page-cache .* regression/)

    const self = compareReports(fast, fast)
    expect(self[0].verdict).toBe('unchanged')
    expect(self[0].p).toBe(1)
    expect(self[0].changePct).toBe(0)
    expect(hasRegression(self)).toBe(false)

    const rerun = compareReports(fast, again, { threshold: 0.5 })
    expect(rerun[0].verdict).not.toBe('regression')
    expect(hasRegression(rerun)).toBe(false)
  })
})
