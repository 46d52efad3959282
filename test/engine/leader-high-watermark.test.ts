/**
 * advanceHighWatermark: the leader's HW set from the main thread without waiting for the
 * partition worker. Where the flush policy lets the HW reach the log end, offsets() shows it at
 * once and a read sent right after it finds it set (frames reach the worker in order); under
 * flush 'always' (the node's or flush.messages=1) it is left to the worker to publish, after the
 * fdatasync. Real worker threads; record values from a seeded generator (seed printed, replay
 * with RINGLOG_SEED).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { seededRandom, testSeed } from '../seed.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import type { PartitionRouter } from '../../src/engine/main/router.js'
import type { PartitionSettings } from '../../src/engine/log-engine.js'
import { Fixture } from './helpers.js'

const fixture = new Fixture()
afterEach(() => fixture.cleanup())

const T = 'hw'
const SEED = testSeed()
console.log(`leader-high-watermark.test seed=${SEED} (replay: RINGLOG_SEED=${SEED})`)

/** Five batches appended as a replicated leader (HW 0); returns each batch's end offset. */
async function leaderWithBatches(flush: 'always' | 'never', settings: PartitionSettings = {}): Promise<{ engine: PartitionRouter; ends: number[] }> {
  const next = seededRandom(SEED).next
  const engine = fixture.engine({ dataDir: fixture.dir(), maxWorkers: 1, flush })
  await engine.openPartition(T, 0, settings)
  await engine.setHighWatermark(T, 0, 0)
  const ends: number[] = []
  for (let i = 0; i < 5; i++) {
    const count = 1 + Math.floor(next() * 4)
    const batch = encodeRecordBatch({ records: Array.from({ length: count }, (_, r) => ({ value: `b${i}-${r}-${'x'.repeat(Math.floor(next() * 100))}`, timestamp: 1_700_000_000_000 })) })
    const result = await engine.appendBatches(T, 0, batch, 1)
    expect(result.errorCode).toBe(ErrorCode.NONE)
    ends.push(result.baseOffset + count)
  }
  expect(engine.offsets(T, 0)!.highWatermark).toBe(0)
  return { engine, ends }
}

describe('the leader HW set from the main thread', () => {
  it('flush never: offsets() shows it at once, a read sent right after finds it, and a parked long poll wakes', async () => {
    const { engine, ends } = await leaderWithBatches('never')
    const parked = engine.waitForData(T, 0, 0, 60_000)
    expect(engine.advanceHighWatermark(T, 0, ends[1])).toBe(true)
    expect(engine.offsets(T, 0)!.highWatermark).toBe(ends[1])
    const read = engine.read(T, 0, 0, 1 << 20)
    expect((await read).segment?.nextOffset).toBe(ends[1])
    await parked
    // Never past the log end, and a later setHighWatermark (a new role) replaces it.
    expect(engine.advanceHighWatermark(T, 0, ends[4] + 50)).toBe(true)
    expect(engine.offsets(T, 0)!.highWatermark).toBe(ends[4])
    await engine.setHighWatermark(T, 0, ends[0])
    expect(engine.offsets(T, 0)!.highWatermark).toBe(ends[0])
  })

  it('flush always, or flush.messages=1: left to the worker, which publishes it once durable', async () => {
    for (const [flush, settings] of [['always', {}], ['never', { flushEveryAppend: true }]] as const) {
      const { engine, ends } = await leaderWithBatches(flush, settings)
      expect(engine.advanceHighWatermark(T, 0, ends[2])).toBe(false)
      await engine.waitForData(T, 0, ends[2] - 1, 20_000)
      expect(engine.offsets(T, 0)!.highWatermark).toBe(ends[2])
      expect((await engine.read(T, 0, 0, 1 << 20)).segment?.nextOffset).toBe(ends[2])
    }
  })
})
