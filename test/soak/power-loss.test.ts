/**
 * The long run of test/crash/power-loss.test.ts: 200 simulated power losses per flush policy
 * (RINGLOG_POWER_LOSSES changes the count; RINGLOG_SEED replays a failure).
 */
import { describe, expect, it } from 'vitest'
import type { FlushPolicy } from '../../src/config.js'
import { powerLossCount, powerLossRounds } from '../crash/power-loss-run.js'
import { randomForTest } from '../seed.js'

const policies: [string, FlushPolicy][] = [['always', 'always'], ['intervalMs 1', { intervalMs: 1 }], ['never', 'never']]

describe('simulated power loss, soak', () => {
  for (const [name, flush] of policies) {
    it(`flush ${name}: ${powerLossCount(200)} power losses, nothing promised is lost and the log always opens`, async () => {
      const random = randomForTest()
      const stats = await powerLossRounds(random.seed, powerLossCount(200), flush, true)
      process.stdout.write(`power loss soak, flush ${name}: ${JSON.stringify(stats)}\n`)
      expect(stats.crashes).toBeGreaterThan(stats.rounds / 2)
    })
  }
})
