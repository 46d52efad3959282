/**
 * `ringlog bench --baseline` on live timed runs, end to end: a run stretched 4x by the hidden
 * --inject-slowdown is flagged, exit 1. Statistical on real timings, so `npm run test:soak` only
 * (a machine whose load changes between the two runs can blur even 4x); test/bench/cli-bench.test.ts
 * checks the same verdict on a fixed slowdown of a saved report.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BenchCommandOptions } from '../../src/cli/bench.js'
import { runBench } from '../bench/bench-command.js'

const bench = runBench

describe('ringlog bench regression mode on live runs', () => {
  let dir: string
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'ringlog-bench-live-')) })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('flags a run slowed 4x by --inject-slowdown against a baseline measured just before', async () => {
    const baseline = join(dir, 'baseline.json')
    // Repetitions of ~100k records (tens of ms): long enough that other work does not blur 4x.
    const options: BenchCommandOptions = { mode: 'embedded', records: '100000', reps: '5', warmups: '1', acks: '1' }
    expect((await bench(['produce'], { ...options, json: baseline })).code).toBe(0)
    const slow = await bench(['produce'], { ...options, json: join(dir, 'slowed.json'), baseline, injectSlowdown: '4' })
    expect(slow.code).toBe(1)
    expect(slow.err).toContain('regression flagged')
    expect(slow.out).toMatch(/regression/)
  })
})
