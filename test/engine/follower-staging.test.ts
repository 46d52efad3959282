/**
 * The follower staging area (src/engine/channel/follower-staging.ts): ranges handed out first
 * fit and freed only as their connection's responses are done with, and appends of batches in
 * the area reaching the worker by place, not through the ring (a batch larger than the ring's
 * largest frame is taken from the area and refused from the heap). Record values come from a
 * seeded generator (seed printed, replay with RINGLOG_SEED).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { seededRandom, testSeed } from '../seed.js'
import { ConnectionFrames, FollowerStaging } from '../../src/engine/channel/follower-staging.js'
import { OffsetOutOfRangeError, RecordTooLargeError } from '../../src/errors.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { Fixture, readAllBatches } from './helpers.js'

const fixture = new Fixture()
afterEach(() => fixture.cleanup())

const SEED = testSeed()
console.log(`follower-staging.test seed=${SEED} (replay: RINGLOG_SEED=${SEED})`)
const KIB = 1024

describe('follower staging area', () => {
  it('hands out ranges first fit, never overlapping, and frees a connection\'s frames in arrival order', () => {
    const staging = new FollowerStaging(new SharedArrayBuffer(1024 * KIB))
    expect(staging.take(1 * KIB)).toBeUndefined() // small frames stay on the heap
    expect(staging.take(300 * KIB)).toBeUndefined() // more than a quarter of the area
    const frames = new ConnectionFrames(staging)
    const a = frames.allocate(250 * KIB)!
    const b = frames.allocate(250 * KIB)!
    const c = frames.allocate(250 * KIB)!
    const d = frames.allocate(250 * KIB)!
    expect([a, b, c, d].every((f) => staging.holds(f))).toBe(true)
    const spans = [a, b, c, d].map((f) => [f.byteOffset, f.byteOffset + f.length]).sort((x, y) => x[0] - y[0])
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1])
    expect(frames.allocate(250 * KIB)).toBeUndefined() // full: the reader falls back to the heap
    // Done with b's response (a's was dropped unread): a and b are free, c and d are not.
    frames.releaseThrough(b.subarray(5_000, 6_000))
    expect(staging.inUse).toBe(500 * KIB)
    const e = frames.allocate(300 * KIB)
    expect(e).toBeUndefined() // a range over a quarter of the area is never staged
    const f = frames.allocate(240 * KIB)!
    expect(f.byteOffset).toBe(a.byteOffset) // first fit reuses the freed space
    frames.releaseThrough(Buffer.alloc(10)) // not in the area: frees nothing
    expect(staging.inUse).toBe(740 * KIB)
    frames.releaseAll()
    expect(staging.inUse).toBe(0)
  })

  it('a follower append from the area is stored byte for byte, bound to its fetch offset, and is not limited by the ring', async () => {
    const next = seededRandom(SEED).next
    const leader = fixture.engine({ dataDir: fixture.dir(), flush: 'never', maxWorkers: 1 })
    // A ring whose largest frame is under 256 KiB: a 300 KiB batch cannot be copied through it.
    const follower = fixture.engine({ dataDir: fixture.dir(), flush: 'never', maxWorkers: 1, requestRingBytes: 256 * KIB })
    await leader.openPartition('s', 0)
    await follower.openPartition('s', 0)
    const batches: Buffer[] = []
    for (let i = 0; i < 4; i++) {
      const value = Buffer.alloc(300 * KIB)
      for (let j = 0; j < value.length; j += 4) value.writeUInt32LE((next() * 0xffffffff) >>> 0, j)
      const batch = encodeRecordBatch({ records: [{ key: `k${i}`, value, timestamp: 1_700_000_000_000 + i }] })
      expect((await leader.appendBatches('s', 0, batch, 1)).errorCode).toBe(ErrorCode.NONE)
      batches.push((await readAllBatches(leader, 's', 0)).at(-1)!.bytes)
    }
    const staging = follower.followerStaging!
    const frames = new ConnectionFrames(new FollowerStaging(new SharedArrayBuffer(16 * 1024 * KIB)))
    // From the heap the batch goes through the ring and does not fit.
    await expect(follower.appendAsFollower('s', 0, batches[0], 0)).rejects.toBeInstanceOf(RecordTooLargeError)
    // Another area than the engine's is just memory to it: copied, so refused the same way.
    const foreign = frames.allocate(batches[0].length)!
    batches[0].copy(foreign)
    await expect(follower.appendAsFollower('s', 0, foreign, 0)).rejects.toBeInstanceOf(RecordTooLargeError)
    const own = new ConnectionFrames(staging)
    let end = 0
    for (const batch of batches) {
      const frame = own.allocate(batch.length + 100)!
      frame.fill(0xee)
      batch.copy(frame, 100)
      const view = frame.subarray(100)
      // Bound to the fetch offset: one past the log end is refused, nothing written.
      await expect(follower.appendAsFollower('s', 0, view, end + 1)).rejects.toBeInstanceOf(OffsetOutOfRangeError)
      end = (await follower.appendAsFollower('s', 0, view, end)).logEndOffset
      own.releaseThrough(view)
    }
    expect(staging.inUse).toBe(0)
    expect(end).toBe(leader.offsets('s', 0)!.logEndOffset)
    await follower.setHighWatermark('s', 0, end)
    const stored = (await readAllBatches(follower, 's', 0)).map((b) => b.bytes)
    expect(stored.length).toBe(batches.length)
    for (let i = 0; i < batches.length; i++) expect(stored[i].equals(batches[i])).toBe(true)
  })
})
