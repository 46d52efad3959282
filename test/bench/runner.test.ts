import { existsSync } from 'node:fs'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { runScenario, recordsPerSecond } from '../../src/bench/runner.js'
import type { Scenario } from '../../src/bench/scenario.js'
import { settlePageCache } from '../../src/bench/settle.js'
import { fileAppendScenario, type FileAppendState } from '../../src/bench/scenarios/file-append.js'

function capture(): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done() } })
  return { stream, text: () => chunks.join('') }
}

/** Keeps the state a scenario's setup created, to check teardown removed it. */
function tracked(scenario: Scenario<FileAppendState>): { scenario: Scenario<FileAppendState>; dirs: string[] } {
  const dirs: string[] = []
  return {
    dirs,
    scenario: {
      ...scenario,
      setup: async () => {
        const state = await scenario.setup!()
        dirs.push(state.dir)
        return state
      },
    },
  }
}

describe('runScenario', () => {
  it('runs warm-up plus N repetitions of file-append with raw numbers per repetition, then cleans up', async () => {
    const { scenario, dirs } = tracked(fileAppendScenario('records=5000'))
    const run = await runScenario(scenario, { repetitions: 3, warmups: 1, progress: false })
    expect(run.name).toBe('file-append page-cache')
    expect(run.params.records).toBe(5000)
    expect(run.repetitions).toHaveLength(3)
    for (const rep of run.repetitions) {
      expect(rep.records).toBe(5000)
      expect(rep.bytes).toBe(500_000)
      expect(rep.durationNs).toBeGreaterThan(0)
      expect(rep.cpu.client).toBe(0) // file-append's process time is the "broker" side
      expect(rep.cpu.broker).toBeGreaterThanOrEqual(0)
      expect(rep.latency.count).toBe(Math.ceil(5000 / 163)) // one latency per 16 KiB buffer of 163 records
      expect(rep.throughput.length).toBeGreaterThanOrEqual(1)
      expect(recordsPerSecond(rep)).toBeGreaterThan(0)
    }
    expect(dirs).toHaveLength(1)
    expect(existsSync(dirs[0])).toBe(false)
  })

  it('alternates with the reference scenario and reports per-pair ratios', async () => {
    const run = await runScenario(fileAppendScenario('records=3000,flush=always'), { repetitions: 4, warmups: 0, withReference: true, progress: false })
    expect(run.reference?.name).toBe('file-append durable (reference)')
    expect(run.reference?.repetitions).toHaveLength(4)
    expect(run.pairRatios).toHaveLength(4)
    run.pairRatios!.forEach((ratio, i) => {
      expect(ratio).toBeCloseTo(recordsPerSecond(run.repetitions[i]) / recordsPerSecond(run.reference!.repetitions[i]), 12)
    })
    expect(run.medianPairRatio).toBeGreaterThan(0)
  })

  it('paced runs honour the offered rate (cannot finish before the last record is due)', async () => {
    const run = await runScenario(fileAppendScenario('records=2000,rate=20k,linger=1'), { repetitions: 1, warmups: 0, progress: false })
    const rep = run.repetitions[0]
    expect(rep.records).toBe(2000)
    expect(rep.durationNs).toBeGreaterThanOrEqual(1999 * 50_000)
    // Linger writes partial buffers, so there are more writes than full buffers would need.
    expect(rep.latency.count).toBeGreaterThan(Math.ceil(2000 / 163))
  })

  it('stops on duration when no record count is given', async () => {
    const run = await runScenario(fileAppendScenario('duration=150ms,rate=10k'), { repetitions: 1, warmups: 0, progress: false })
    const rep = run.repetitions[0]
    expect(rep.records).toBeGreaterThan(0)
    expect(rep.records).toBeLessThanOrEqual(1501)
    expect(rep.durationNs).toBeGreaterThanOrEqual(150e6)
  })

  it('draws the progress line when asked and clears it at the end', async () => {
    const out = capture()
    await runScenario(fileAppendScenario('records=2000'), { repetitions: 1, warmups: 0, progress: true, progressStream: out.stream })
    expect(out.text()).toMatch(/file-append page-cache rep 1\/1 {2}[\d,]+ records {2}[\d,]+ rec\/s/)
    expect(out.text().endsWith('\r\x1b[2K')).toBe(true)
    const silent = capture()
    await runScenario(fileAppendScenario('records=2000'), { repetitions: 1, warmups: 0, progressStream: silent.stream })
    expect(silent.text()).toBe('') // not a TTY and not asked
  })

  it('prepares every repetition (warm-ups included) with beforeRun, outside its timing', async () => {
    const events: string[] = []
    let prepared = 0
    // Orderings, not durations: each repetition's clock starts after its preparation ended.
    let preparedAtNs = 0n
    const startedAfterPreparation: boolean[] = []
    const scenario: Scenario<{ fresh: number }> = {
      name: 'prepared',
      params: fileAppendScenario({ records: 10 }).params,
      setup: () => ({ fresh: 0 }),
      async beforeRun(state) {
        events.push('before')
        state.fresh = ++prepared
        await new Promise((resolve) => setTimeout(resolve, 5))
        preparedAtNs = process.hrtime.bigint()
      },
      run: (context, state) => {
        events.push(`run ${state.fresh}`)
        startedAfterPreparation.push(context.startNs >= preparedAtNs)
        return { records: 10, bytes: 1000 }
      },
    }
    const result = await runScenario(scenario, { repetitions: 2, warmups: 1, progress: false })
    expect(events).toEqual(['before', 'run 1', 'before', 'run 2', 'before', 'run 3'])
    expect(result.repetitions).toHaveLength(2)
    expect(startedAfterPreparation).toEqual([true, true, true])
  })

  it('settles before every repetition of the scenario and its reference, after beforeRun and outside the timing', async () => {
    const events: string[] = []
    let settledAtNs = 0n
    const startedAfterSettling: boolean[] = []
    const timedRun = (event: string) => (context: { startNs: bigint }) => {
      events.push(event)
      startedAfterSettling.push(context.startNs >= settledAtNs)
      return { records: 10, bytes: 1000 }
    }
    const scenario: Scenario<null> = {
      name: 'settled',
      params: fileAppendScenario({ records: 10 }).params,
      beforeRun: () => { events.push('before') },
      run: timedRun('run'),
      reference: () => ({ name: 'ref', params: fileAppendScenario({ records: 10 }).params, run: timedRun('ref') }),
    }
    const settle = async (): Promise<void> => {
      events.push('settle')
      await new Promise((resolve) => setTimeout(resolve, 5))
      settledAtNs = process.hrtime.bigint()
    }
    const result = await runScenario(scenario, { repetitions: 2, warmups: 1, withReference: true, progress: false, settle })
    expect(events).toEqual(Array.from({ length: 3 }, () => ['before', 'settle', 'run', 'settle', 'ref']).flat())
    expect(result.repetitions).toHaveLength(2)
    expect(result.reference!.repetitions).toHaveLength(2)
    expect(startedAfterSettling).toEqual(Array.from({ length: 6 }, () => true))
  })

  it('settlePageCache returns once sync(1) has run', async () => {
    await expect(settlePageCache()).resolves.toBeUndefined()
  })

  it('tears down after a failing repetition and rethrows', async () => {
    let tornDown = false
    const failing: Scenario<null> = {
      name: 'failing',
      params: fileAppendScenario().params,
      setup: () => null,
      run: () => { throw new Error('boom') },
      teardown: () => { tornDown = true },
    }
    await expect(runScenario(failing, { repetitions: 2, warmups: 0, progress: false })).rejects.toThrow('boom')
    expect(tornDown).toBe(true)
    await expect(runScenario(failing, { withReference: true })).rejects.toThrow(/no reference/)
    await expect(runScenario(failing, { repetitions: 0 })).rejects.toThrow(RangeError)
  })
})
