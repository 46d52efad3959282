/**
 * The replication data path through real partition worker threads: two engines in one
 * process, A leading and B following by appending A's batches verbatim, as a replica fetcher
 * will over the wire. Record values come from a seeded generator (seed printed, replay with
 * RINGLOG_SEED).
 */
import { closeSync, readSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { seededRandom, testSeed } from '../seed.js'
import { CorruptRecordError, OffsetOutOfRangeError, RinglogError, UnknownTopicOrPartitionError } from '../../src/errors.js'
import { Compression } from '../../src/protocol/compression.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import type { PartitionRouter } from '../../src/engine/main/router.js'
import { Fixture, readAllBatches } from './helpers.js'

const fixture = new Fixture()
afterEach(() => fixture.cleanup())

const T = 'rep'
const SEED = testSeed()
console.log(`replication.test seed=${SEED} (replay: RINGLOG_SEED=${SEED})`)

function plainBatch(next: () => number, tag: string): Buffer {
  const count = 1 + Math.floor(next() * 5)
  return encodeRecordBatch({ records: Array.from({ length: count }, (_, i) => ({ key: `${tag}-${i}`, value: 'x'.repeat(Math.floor(next() * 200)), timestamp: 1_700_000_000_000 + i })) })
}

function idempotentBatch(producerId: number, producerEpoch: number, baseSequence: number, count: number): Buffer {
  return encodeRecordBatch({
    producerId, producerEpoch, baseSequence,
    records: Array.from({ length: count }, (_, i) => ({ value: `p${producerId}-s${baseSequence + i}`, timestamp: 1_700_000_000_000 + i })),
  })
}

async function appendOk(engine: PartitionRouter, batch: Buffer, acks: -1 | 1 = -1): Promise<number> {
  const result = await engine.appendBatches(T, 0, batch, acks)
  expect(result.errorCode, result.errorMessage ?? '').toBe(ErrorCode.NONE)
  return result.baseOffset
}

/** Leader bytes from `from` to its end in fetch-sized pieces, as a follower would receive them. */
async function fetchFrom(leader: PartitionRouter, from: number, maxBytes: number): Promise<Buffer[]> {
  const out: Buffer[] = []
  let offset = from
  for (let round = 0; round < 10_000; round++) {
    const slice = await leader.read(T, 0, offset, maxBytes, { holdFile: true })
    expect(slice.errorCode).toBe(ErrorCode.NONE)
    if (!slice.segment) break
    const bytes = Buffer.alloc(slice.segment.length)
    try { readSync(slice.segment.heldFd!, bytes, 0, bytes.length, slice.segment.position) } finally { closeSync(slice.segment.heldFd!) }
    out.push(bytes)
    offset = slice.segment.nextOffset!
  }
  return out
}

/** Follows the leader from the follower's log end until both ends match; returns the follower's end. */
async function catchUp(leader: PartitionRouter, follower: PartitionRouter, maxBytes: number): Promise<number> {
  let end = follower.offsets(T, 0)!.logEndOffset
  for (const chunk of await fetchFrom(leader, end, maxBytes)) end = (await follower.appendAsFollower(T, 0, chunk)).logEndOffset
  return end
}

/** Batch identities (offsets, CRC, epoch) of a partition up to its high watermark. */
async function identities(engine: PartitionRouter): Promise<{ base: number; last: number; crc: number; epoch: number }[]> {
  return (await readAllBatches(engine, T, 0)).map((b) => ({ base: b.header.baseOffset, last: b.header.baseOffset + b.header.lastOffsetDelta, crc: b.header.crc, epoch: b.header.partitionLeaderEpoch }))
}

/** Waits (event-driven, bounded) until the partition's high watermark reaches its log end. */
async function settle(engine: PartitionRouter): Promise<void> {
  const end = engine.offsets(T, 0)!.logEndOffset
  if (end > 0) await engine.waitForData(T, 0, end - 1, 20_000)
  expect(engine.offsets(T, 0)!.highWatermark).toBe(end)
}

async function codeOf(promise: Promise<unknown>): Promise<number | undefined> {
  try { await promise } catch (error) { return error instanceof RinglogError ? error.code : -999 }
  return undefined
}

async function pair(settings = { segmentBytes: 4096 }): Promise<{ a: PartitionRouter; b: PartitionRouter }> {
  const a = fixture.engine({ dataDir: fixture.dir(), maxWorkers: 1 })
  const b = fixture.engine({ dataDir: fixture.dir(), maxWorkers: 1 })
  await a.openPartition(T, 0, settings)
  await b.openPartition(T, 0, settings)
  return { a, b }
}

describe('replication through the engine', () => {
  it('a follower engine appending the leader\'s batches verbatim ends up identical, batch by batch', async () => {
    const next = seededRandom(SEED).next
    const { a, b } = await pair()
    let sequence = 0
    for (let i = 0; i < 60; i++) {
      if (i === 25) await a.setLeaderEpoch(T, 0, 2)
      if (i === 45) await a.setLeaderEpoch(T, 0, 5)
      if (i % 3 === 0) {
        await appendOk(a, idempotentBatch(77, 0, sequence, 3))
        sequence += 3
      } else if (i % 7 === 0) {
        const r = await a.appendRecords(T, 0, [{ value: `embedded-${i}` }, { value: 'y'.repeat(Math.floor(next() * 300)) }], { acks: -1, compression: Compression.lz4 })
        expect(r.errorCode).toBe(ErrorCode.NONE)
      } else {
        await appendOk(a, plainBatch(next, `b${i}`))
      }
      // The follower fetches now and then, in pieces of random size.
      if (next() < 0.3) await catchUp(a, b, 200 + Math.floor(next() * 3000))
    }
    await settle(a)
    const end = await catchUp(a, b, 1500)
    expect(end).toBe(a.offsets(T, 0)!.logEndOffset)
    await settle(b)
    const leaderBatches = await identities(a)
    expect(leaderBatches.length).toBeGreaterThan(50)
    expect(new Set(leaderBatches.map((x) => x.epoch))).toEqual(new Set([0, 2, 5]))
    expect(await identities(b)).toEqual(leaderBatches)
    for (const epoch of [0, 1, 2, 3, 5, 6]) expect(await b.endOffsetForEpoch(T, 0, epoch)).toEqual(await a.endOffsetForEpoch(T, 0, epoch))
    expect((await b.endOffsetForEpoch(T, 0, 2)).endOffset).toBe(leaderBatches.find((x) => x.epoch === 5)!.base)
  })

  it('after failover the follower answers a retried idempotent batch with its original offsets', async () => {
    const { a, b } = await pair()
    const first = await appendOk(a, idempotentBatch(4242, 1, 0, 4))
    const second = await appendOk(a, idempotentBatch(4242, 1, 4, 2))
    await catchUp(a, b, 1 << 20)
    await b.setLeaderEpoch(T, 0, 1)
    const end = b.offsets(T, 0)!.logEndOffset
    // The producer did not see the leader's ack and retries the same batches on the new leader.
    const retried = await b.appendBatches(T, 0, idempotentBatch(4242, 1, 4, 2), -1)
    expect(retried).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: second })
    expect((await b.appendBatches(T, 0, idempotentBatch(4242, 1, 0, 4), -1)).baseOffset).toBe(first)
    expect(b.offsets(T, 0)!.logEndOffset).toBe(end)
    expect(await appendOk(b, idempotentBatch(4242, 1, 6, 1))).toBe(end)
    const gap = await b.appendBatches(T, 0, idempotentBatch(4242, 1, 9, 1), -1)
    expect(gap.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  })

  it('a divergent tail on the old leader is found with endOffsetForEpoch and truncated', async () => {
    const next = seededRandom(SEED + 1).next
    const { a, b } = await pair()
    await a.setLeaderEpoch(T, 0, 1)
    for (let i = 0; i < 12; i++) await appendOk(a, plainBatch(next, `common-${i}`))
    await settle(a)
    await catchUp(a, b, 1 << 20)
    const diverge = b.offsets(T, 0)!.logEndOffset
    // A takes writes (acks=1) that B never fetches, then loses leadership.
    for (let i = 0; i < 5; i++) await appendOk(a, plainBatch(next, `lost-${i}`), 1)
    // B leads epoch 2 and takes different writes at the same offsets.
    await b.setLeaderEpoch(T, 0, 2)
    for (let i = 0; i < 7; i++) await appendOk(b, plainBatch(next, `new-${i}`))
    await settle(b)
    expect(a.offsets(T, 0)!.logEndOffset).toBeGreaterThan(diverge)
    // A becomes B's follower: KIP-101/279 truncation to the end of its own latest epoch on B.
    const answer = await b.endOffsetForEpoch(T, 0, 1)
    expect(answer).toEqual({ leaderEpoch: 1, endOffset: diverge })
    expect(await a.truncateTo(T, 0, answer.endOffset)).toEqual({ logEndOffset: diverge })
    expect(a.offsets(T, 0)!.logEndOffset).toBe(diverge)
    await catchUp(b, a, 700)
    await settle(a)
    expect(await identities(a)).toEqual(await identities(b))
    expect(await a.endOffsetForEpoch(T, 0, 1)).toEqual({ leaderEpoch: 1, endOffset: diverge })
  })

  it('a truncation also cuts producer state, and a restart does not bring it back from an old snapshot', async () => {
    const dataDir = fixture.dir()
    const a = fixture.engine({ dataDir, maxWorkers: 1 })
    await a.openPartition(T, 0, { segmentBytes: 600 })
    const offsets: number[] = []
    for (let s = 0; s < 30; s += 3) offsets.push(await appendOk(a, idempotentBatch(9, 0, s, 3)))
    // Cut inside the producer's history: sequences 15.. are gone, so 15 is new again, not a duplicate.
    await a.truncateTo(T, 0, offsets[5])
    expect((await a.appendBatches(T, 0, idempotentBatch(9, 0, 24, 3), -1)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    expect((await a.appendBatches(T, 0, idempotentBatch(9, 0, 12, 3), -1)).baseOffset).toBe(offsets[4])
    await a.close()
    const again = fixture.engine({ dataDir, maxWorkers: 1 })
    await again.openPartition(T, 0, { segmentBytes: 600 })
    expect((await again.appendBatches(T, 0, idempotentBatch(9, 0, 24, 3), -1)).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
    expect(await appendOk(again, idempotentBatch(9, 0, 15, 3))).toBe(offsets[5])
  })

  it('a follower below the leader\'s log start restarts its log there and follows from it', async () => {
    const { a, b } = await pair()
    await appendOk(b, idempotentBatch(31, 0, 0, 2))
    // The leader's log starts at 500 (older segments gone); the follower's ends at 2.
    const leaderBatch = encodeRecordBatch({ baseOffset: 500, partitionLeaderEpoch: 4, records: [{ value: 'from-500' }, { value: 'from-501' }] })
    await expect(b.appendAsFollower(T, 0, leaderBatch)).rejects.toThrow(OffsetOutOfRangeError)
    expect(await b.truncateFullyAndStartAt(T, 0, 500)).toEqual({ logEndOffset: 500 })
    expect(b.offsets(T, 0)).toMatchObject({ logStartOffset: 500, logEndOffset: 500 })
    expect(await b.appendAsFollower(T, 0, leaderBatch)).toEqual({ logEndOffset: 502 })
    expect(await b.endOffsetForEpoch(T, 0, 4)).toEqual({ leaderEpoch: 4, endOffset: 502 })
    // Producer state went with the old log: the producer's sequence 0 is new again.
    await b.setLeaderEpoch(T, 0, 4)
    expect(await appendOk(b, idempotentBatch(31, 0, 0, 2))).toBe(502)
    expect(a.offsets(T, 0)!.logEndOffset).toBe(0)
  })

  it('a leader serves its followers past its high watermark, which then moves with their log ends', async () => {
    const next = seededRandom(SEED + 4).next
    const { a, b } = await pair()
    // Replicated leader: the high watermark is the followers' minimum log end, 0 so far.
    await a.setHighWatermark(T, 0, 0)
    await b.setHighWatermark(T, 0, 0)
    for (let i = 0; i < 6; i++) await appendOk(a, plainBatch(next, `isr-${i}`), 1)
    const leaderEnd = a.offsets(T, 0)!.logEndOffset
    expect((await a.read(T, 0, 0, 1 << 20)).segment).toBeNull()
    let end = 0
    for (let round = 0; round < 100 && end < leaderEnd; round++) {
      const slice = await a.read(T, 0, end, 300, { upTo: 'logEnd', holdFile: true })
      expect(slice.segment).not.toBeNull()
      const bytes = Buffer.alloc(slice.segment!.length)
      try { readSync(slice.segment!.heldFd!, bytes, 0, bytes.length, slice.segment!.position) } finally { closeSync(slice.segment!.heldFd!) }
      end = (await b.appendAsFollower(T, 0, bytes)).logEndOffset
      // The follower's next fetch reports its log end: the leader's high watermark follows it.
      await a.setHighWatermark(T, 0, end)
      await b.setHighWatermark(T, 0, Math.min(end, a.offsets(T, 0)!.highWatermark))
    }
    expect(end).toBe(leaderEnd)
    await settle(a)
    await b.setHighWatermark(T, 0, a.offsets(T, 0)!.highWatermark)
    await settle(b)
    expect(await identities(b)).toEqual(await identities(a))
  })

  it('setHighWatermark bounds reads and wakes a parked long poll', async () => {
    const next = seededRandom(SEED + 2).next
    const { b, a } = await pair()
    for (let i = 0; i < 5; i++) await appendOk(a, plainBatch(next, `hw-${i}`))
    await settle(a)
    await b.setHighWatermark(T, 0, 0)
    await catchUp(a, b, 1 << 20)
    const end = b.offsets(T, 0)!.logEndOffset
    expect(b.offsets(T, 0)!.highWatermark).toBe(0)
    expect((await b.read(T, 0, 0, 1 << 20)).segment).toBeNull()
    const firstBatchEnd = (await identities(a))[0].last + 1
    const parked = b.waitForData(T, 0, 0, 60_000)
    await b.setHighWatermark(T, 0, firstBatchEnd)
    await parked
    expect(b.offsets(T, 0)!.highWatermark).toBe(firstBatchEnd)
    expect((await b.read(T, 0, 0, 1 << 20)).segment?.nextOffset).toBe(firstBatchEnd)
    await b.setHighWatermark(T, 0, end + 100)
    await settle(b)
  })

  it('close() wakes a parked long poll at once instead of leaving it to its timeout', async () => {
    const { b } = await pair()
    await b.setHighWatermark(T, 0, 0)
    // Longer than the test's own timeout: only close() can end this wait in time.
    const parked = b.waitForData(T, 0, 0, 600_000)
    await b.close()
    await parked
  })

  it('follower appends queued behind one another each start where they were fetched: once one is refused, those behind it are too, on a compacted log as well', async () => {
    const next = seededRandom(SEED + 5).next
    for (const compact of [true, false]) {
      const { a, b } = await pair({ segmentBytes: 4096, ...(compact && { compact: true }) })
      for (let i = 0; i < 6; i++) await appendOk(a, plainBatch(next, `q-${i}`))
      await settle(a)
      const [bytes] = await fetchFrom(a, 0, 1 << 20)
      const ends = (await identities(a)).map((batch) => batch.last + 1)
      const sizes: number[] = []
      for (let at = 0; at < bytes.length; at += 12 + bytes.readInt32BE(at + 8)) sizes.push(at)
      const piece = (from: number, to: number): Buffer => bytes.subarray(sizes[from], to < sizes.length ? sizes[to] : bytes.length)
      // Three fetched pieces appended without waiting, as a catching-up fetcher queues them.
      const queued = [b.appendAsFollower(T, 0, piece(0, 2), 0), b.appendAsFollower(T, 0, piece(2, 4), ends[1]), b.appendAsFollower(T, 0, piece(4, 6), ends[3])]
      expect((await Promise.all(queued)).map((r) => r.logEndOffset)).toEqual([ends[1], ends[3], ends[5]])
      await settle(b)
      expect(await identities(b)).toEqual(await identities(a))

      // A refused piece (a flipped byte) and the two queued behind it: nothing of them lands,
      // although the last ones start later than the log's end (a compacted log's gap rule).
      const { b: c } = await pair({ segmentBytes: 4096, ...(compact && { compact: true }) })
      const flipped = Buffer.from(piece(0, 2))
      flipped[flipped.length - 2] ^= 1
      const refused = [c.appendAsFollower(T, 0, flipped, 0), c.appendAsFollower(T, 0, piece(2, 4), ends[1]), c.appendAsFollower(T, 0, piece(4, 6), ends[3])]
      const outcomes = await Promise.allSettled(refused)
      expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: expect.any(CorruptRecordError) })
      expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: expect.any(OffsetOutOfRangeError) })
      expect(outcomes[2]).toMatchObject({ status: 'rejected', reason: expect.any(OffsetOutOfRangeError) })
      expect(c.offsets(T, 0)!.logEndOffset).toBe(0)
      await expect(c.appendAsFollower(T, 0, piece(2, 4), 5)).rejects.toThrow(/fetched at offset 5, but the log continues at 0/)
    }
  })

  it('errors cross the thread as typed errors with their Kafka codes', async () => {
    const next = seededRandom(SEED + 3).next
    const { a, b } = await pair()
    for (let i = 0; i < 4; i++) await appendOk(a, plainBatch(next, `e-${i}`))
    await settle(a)
    const [bytes] = await fetchFrom(a, 0, 1 << 20)
    const firstSize = bytes.readInt32BE(8) + 12
    await expect(b.appendAsFollower(T, 0, bytes.subarray(firstSize))).rejects.toThrow(OffsetOutOfRangeError)
    const flipped = Buffer.from(bytes)
    flipped[firstSize - 2] ^= 1
    await expect(b.appendAsFollower(T, 0, flipped)).rejects.toThrow(CorruptRecordError)
    expect(b.offsets(T, 0)!.logEndOffset).toBe(0)
    await expect(b.appendAsFollower(T, 1, bytes)).rejects.toThrow(UnknownTopicOrPartitionError)

    await a.setLeaderEpoch(T, 0, 3)
    expect(await codeOf(a.setLeaderEpoch(T, 0, 2))).toBe(ErrorCode.FENCED_LEADER_EPOCH)
    expect(await codeOf(a.endOffsetForEpoch(T, 0, 0, { currentLeaderEpoch: 2 }))).toBe(ErrorCode.FENCED_LEADER_EPOCH)
    expect(await codeOf(a.endOffsetForEpoch(T, 0, 0, { currentLeaderEpoch: 4 }))).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH)
    // No append under epoch 3 yet: epoch 0 is still the log's latest, so its end is the log end.
    expect(await a.endOffsetForEpoch(T, 0, 0, { currentLeaderEpoch: 3 })).toEqual({ leaderEpoch: 0, endOffset: a.offsets(T, 0)!.logEndOffset })
    expect(await codeOf(a.truncateTo(T, 0, -1))).toBe(ErrorCode.INVALID_REQUEST)
    expect(await codeOf(a.setHighWatermark(T, 0, -1))).toBe(ErrorCode.INVALID_REQUEST)
  })
})
