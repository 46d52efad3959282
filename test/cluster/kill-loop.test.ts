/**
 * Issue 13, test 1, quick: a few rounds of kill -9 and restart of a random broker (a leader at
 * least half the time) under idempotent acks=all load (test/cluster/fixtures/kill-loop.ts).
 * RINGLOG_KILL_ROUNDS raises the rounds; test/soak/cluster-kill-loop.test.ts runs the long one.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { randomForTest } from '../seed.js'
import { runClusterKillLoop } from './fixtures/kill-loop.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const ROUNDS = Number(process.env.RINGLOG_KILL_ROUNDS ?? 3)

describe.skipIf(!built || !existsSync('/usr/bin/etcd'))('cluster kill loop (quick)', () => {
  it(`${ROUNDS} rounds of kill -9 under acks=all: every acknowledged record once, in order; replicas identical up to the HW`, async () => {
    const result = await runClusterKillLoop({ rounds: ROUNDS, records: ROUNDS * 1_000, random: randomForTest() })
    expect(result.acknowledged).toBeGreaterThanOrEqual(ROUNDS * 1_000)
  }, 60_000 + ROUNDS * 60_000)
})
