/**
 * Simulated power losses of a partition log (power-loss-fs.ts): at random ops, with and without
 * a torn last write, under each flush policy. RINGLOG_POWER_LOSSES sets the rounds per policy
 * (test/soak/power-loss.test.ts runs 200); RINGLOG_SEED replays a failure.
 */
import { describe, expect, it } from 'vitest'
import type { FlushPolicy } from '../../src/config.js'
import { randomForTest } from '../seed.js'
import { powerLossCount, powerLossRounds } from './power-loss-run.js'

const policies: [string, FlushPolicy, number][] = [
  ['always', 'always', 20],
  ['intervalMs 1', { intervalMs: 1 }, 6],
  ['never', 'never', 6],
]

describe('simulated power loss', () => {
  for (const [name, flush, rounds] of policies) {
    it(`flush ${name}: the log opens after every power loss and keeps what the policy promised`, async () => {
      const random = randomForTest()
      const stats = await powerLossRounds(random.seed, powerLossCount(rounds), flush, true)
      process.stdout.write(`power loss, flush ${name}: ${JSON.stringify(stats)}\n`)
      expect(stats.crashes).toBeGreaterThan(stats.rounds / 2)
    })
  }
})
