/**
 * kill -9 of `ringlog serve` at seeded points of log-cleaning passes (test/engine/cleaner-kill-scenario.ts):
 * one round here; `npm run test:soak` runs this file with 15. RINGLOG_CLEANER_KILLS sets the
 * rounds, RINGLOG_SEED replays a run (the seed is printed).
 */
import { afterAll, describe, it } from 'vitest'
import { tempDir } from '../compat/groups-harness.js'
import { runCleanerKillRounds } from './cleaner-kill-scenario.js'
import type { ServeProcess } from './serve-broker.js'

const ROUNDS = Number(process.env.RINGLOG_CLEANER_KILLS ?? 1)

describe('log cleaner under kill -9', () => {
  const dir = tempDir('cleaner-kill')
  const brokers: ServeProcess[] = []
  afterAll(async () => {
    for (const broker of brokers) await broker.kill()
    dir.remove()
  })

  it(`restarts with the same key -> value map after kill -9 inside a cleaning pass (${ROUNDS} round${ROUNDS === 1 ? '' : 's'})`, async () => {
    await runCleanerKillRounds(dir.path, ROUNDS, brokers)
  })
})
