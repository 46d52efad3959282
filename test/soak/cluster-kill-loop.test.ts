/**
 * Issue 13, test 1, long: 3 brokers, RF 3, min.insync.replicas 2, an idempotent acks=all kafkajs
 * producer sending 10,000 records a round (200,000 over 20 rounds) while a random broker (a
 * leader at least half the time) is killed with -9 and restarted. RINGLOG_KILL_ROUNDS sets the
 * rounds (`npm run test:soak` runs 200; alone it runs 20). Shared body: test/cluster/fixtures/kill-loop.ts.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { randomForTest } from '../seed.js'
import { runClusterKillLoop } from '../cluster/fixtures/kill-loop.js'

const built = existsSync(fileURLToPath(new URL('../../dist/index.js', import.meta.url)))
const ROUNDS = Number(process.env.RINGLOG_KILL_ROUNDS ?? 20)
const RECORDS_PER_ROUND = 10_000

describe.skipIf(!built || !existsSync('/usr/bin/etcd'))('cluster kill loop (soak)', () => {
  it(`${ROUNDS} rounds of kill -9 under acks=all, ${ROUNDS * RECORDS_PER_ROUND} records`, async () => {
    const result = await runClusterKillLoop({
      rounds: ROUNDS, records: ROUNDS * RECORDS_PER_ROUND, random: randomForTest(), perSend: 100,
      log: (line) => console.log(line),
    })
    console.log(`cluster kill loop: ${result.acknowledged} acknowledged, ${result.leaderKills} of ${ROUNDS} kills hit a leader, ${result.failedSends} sends failed`)
    expect(result.acknowledged).toBeGreaterThanOrEqual(ROUNDS * RECORDS_PER_ROUND)
    expect(result.leaderKills).toBeGreaterThanOrEqual(Math.floor(ROUNDS / 2))
  }, 60_000 + ROUNDS * 90_000)
})
