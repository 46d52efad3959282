import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { runScenario } from '../../src/bench/runner.js'
import { makeScenario } from '../../src/bench/scenarios/registry.js'
import { skipWithout } from '../compat/required-tool.js'

function hasKcat(): boolean {
  try {
    execFileSync('kcat', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

// Tiny runs of every scenario and mode: they must complete, count what they did and record
// latency where they promise to. No speed is asserted.
describe('bench scenarios', () => {
  it('consume reads back the pre-fill, embedded and over tcp', async () => {
    for (const mode of ['embedded', 'tcp'] as const) {
      const scenario = makeScenario('consume', { mode, records: 3000, compression: 'lz4' }, { brokerPlacement: 'in-process' })
      const run = await runScenario(scenario, { repetitions: 2, warmups: 0, progress: false })
      for (const rep of run.repetitions) {
        expect(rep.records).toBeGreaterThanOrEqual(3000)
        expect(rep.bytes).toBe(rep.records * 100)
      }
    }
  })

  it('e2e-latency consumes every offered record and records one latency per record', async () => {
    for (const mode of ['embedded', 'tcp'] as const) {
      const scenario = makeScenario('e2e-latency', { mode, records: 1500, rate: 20_000, acks: 1 }, { brokerPlacement: 'in-process' })
      expect(scenario.params.rate).toBe(20_000)
      const run = await runScenario(scenario, { repetitions: 1, warmups: 0, progress: false })
      const rep = run.repetitions[0]
      expect(rep.records).toBe(1500)
      expect(rep.latency.count).toBe(1500)
      expect(rep.latency.min).toBeGreaterThan(0)
    }
  })

  it('produce with --with-reference alternates with file-append and reports pair ratios', async () => {
    const scenario = makeScenario('produce', { mode: 'embedded', records: 3000, flush: 'never' }, {})
    const run = await runScenario(scenario, { repetitions: 2, warmups: 0, withReference: true, progress: false })
    expect(run.reference?.name).toMatch(/file-append/)
    expect(run.pairRatios).toHaveLength(2)
    for (const ratio of run.pairRatios!) expect(ratio).toBeGreaterThan(0)
  })

  it('a paced tcp produce offers exactly the asked record count', async () => {
    const scenario = makeScenario('produce', { mode: 'tcp', records: 2000, rate: 50_000, acks: 1 }, { brokerPlacement: 'in-process' })
    const run = await runScenario(scenario, { repetitions: 1, warmups: 0, progress: false })
    expect(run.repetitions[0].records).toBe(2000)
    expect(run.repetitions[0].latency.count).toBeGreaterThan(0)
  })

  it.skipIf(skipWithout('kcat', hasKcat(), 'kcat'))('the kcat client cross-check produces and consumes exact counts', async () => {
    const produce = makeScenario('produce', { mode: 'tcp', records: 2000, acks: 'all' }, { client: 'kcat', brokerPlacement: 'in-process' })
    const produced = await runScenario(produce, { repetitions: 1, warmups: 0, progress: false })
    expect(produced.repetitions[0].records).toBe(2000)
    const consume = makeScenario('consume', { mode: 'tcp', records: 2000 }, { client: 'kcat', brokerPlacement: 'in-process' })
    const consumed = await runScenario(consume, { repetitions: 1, warmups: 0, progress: false })
    expect(consumed.repetitions[0].records).toBe(2000)
  })
})
