/**
 * FollowerReadCursors (src/broker/follower-read-cursors.ts) against the partition worker's own
 * answer: a follower's fetches served on the main thread from a remembered file position must
 * be exactly the range (position, length, next offset, bytes) the worker locates for the same
 * fetch, across segment rolls, appends racing the fetches, truncation and DeleteRecords; after
 * a layout change the remembered position is not used; on a compacted log (offset gaps) a served
 * range is a prefix of the worker's, ending at a gap. Batches and fetch sizes come from a
 * seeded generator (seed printed, replay with RINGLOG_SEED).
 */
import { closeSync, readSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { seededRandom, testSeed } from '../seed.js'
import { FollowerReadCursors, type FollowerFetch, type FollowerRange } from '../../src/broker/follower-read-cursors.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { batchesEndOffset, encodeRecordBatch, splitBatches } from '../../src/protocol/record-batch.js'
import type { PartitionRouter } from '../../src/engine/main/router.js'
import { Fixture } from '../engine/helpers.js'

const fixture = new Fixture()
afterEach(() => fixture.cleanup())

const T = 'cur'
const SEED = testSeed()
console.log(`follower-read-cursors.test seed=${SEED} (replay: RINGLOG_SEED=${SEED})`)

function batch(next: () => number): Buffer {
  const count = 1 + Math.floor(next() * 6)
  return encodeRecordBatch({ records: Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: 'v'.repeat(Math.floor(next() * 300)), timestamp: 1_700_000_000_000 + i })) })
}

function bytesAt(fd: number, position: number, length: number): Buffer {
  const out = Buffer.alloc(length)
  expect(readSync(fd, out, 0, length, position)).toBe(length)
  return out
}

async function engineWithPartition(): Promise<PartitionRouter> {
  const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'never' })
  await engine.openPartition(T, 0, { segmentBytes: 4096 })
  return engine
}

function fetchOf(engine: PartitionRouter, offset: number, maxBytes: number, leaderEpoch = 0): FollowerFetch {
  return { topic: T, partition: 0, replicaId: 2, leaderEpoch, offset, maxBytes, readEnd: engine.offsets(T, 0)!.logEndOffset }
}

/** The worker's answer for `fetch`, compared with a range served from a cursor (then both descriptors closed). */
async function expectSameAsWorker(engine: PartitionRouter, fetch: FollowerFetch, served: FollowerRange): Promise<void> {
  const slice = await engine.read(T, 0, fetch.offset, fetch.maxBytes, { holdFile: true, upTo: 'logEnd' })
  const s = slice.segment!
  try {
    expect(slice.errorCode).toBe(ErrorCode.NONE)
    expect({ position: served.position, length: served.length, nextOffset: served.nextOffset }).toEqual({ position: s.position, length: s.length, nextOffset: s.nextOffset })
    expect(bytesAt(served.fd, served.position, served.length).equals(bytesAt(s.heldFd!, s.position, s.length))).toBe(true)
  } finally {
    closeSync(served.fd)
    closeSync(s.heldFd!)
  }
}

/**
 * A compacted log: a served range may stop at a gap the worker's range crosses, so it is a prefix
 * of the worker's (same start, same bytes, whole batches), ending where its own last batch ends.
 */
async function expectPrefixOfWorker(engine: PartitionRouter, fetch: FollowerFetch, served: FollowerRange): Promise<void> {
  const slice = await engine.read(T, 0, fetch.offset, fetch.maxBytes, { holdFile: true, upTo: 'logEnd' })
  const s = slice.segment!
  try {
    expect(slice.errorCode).toBe(ErrorCode.NONE)
    expect(served.position).toBe(s.position)
    expect(served.length).toBeLessThanOrEqual(s.length)
    const bytes = bytesAt(served.fd, served.position, served.length)
    expect(bytes.equals(bytesAt(s.heldFd!, s.position, served.length))).toBe(true)
    expect(splitBatches(bytes).trailingBytes).toBe(0)
    expect(served.nextOffset).toBe(batchesEndOffset(bytes))
    if (served.length === s.length) expect(served.nextOffset).toBeLessThanOrEqual(s.nextOffset!)
  } finally {
    closeSync(served.fd)
    closeSync(s.heldFd!)
  }
}

/** One follower fetch: served from the cursor (checked against the worker by `check`) or by the worker; the next offset. */
async function fetchOnce(engine: PartitionRouter, cursors: FollowerReadCursors, fetch: FollowerFetch,
  check: (engine: PartitionRouter, fetch: FollowerFetch, served: FollowerRange) => Promise<void>): Promise<number> {
  const served = cursors.serve(fetch)
  if (served) {
    await check(engine, fetch, served)
    return served.nextOffset
  }
  const slice = await cursors.read(fetch, { holdFile: true, upTo: 'logEnd' })
  expect(slice.errorCode).toBe(ErrorCode.NONE)
  closeSync(slice.segment!.heldFd!)
  return slice.segment!.nextOffset!
}

describe('follower read cursors', () => {
  it('serve exactly the worker\'s ranges across segment rolls, appends, truncation and DeleteRecords', async () => {
    const engine = await engineWithPartition()
    const cursors = new FollowerReadCursors(engine)
    const { next } = seededRandom(SEED)
    for (let i = 0; i < 40; i++) await engine.appendBatches(T, 0, batch(next), 1)
    let offset = 0
    for (let step = 0; step < 400; step++) {
      const roll = next()
      if (roll < 0.25) await engine.appendBatches(T, 0, batch(next), 1)
      else if (roll < 0.28) {
        const { logStartOffset, logEndOffset } = engine.offsets(T, 0)!
        const cut = logStartOffset + Math.floor(next() * (logEndOffset - logStartOffset))
        await engine.truncateTo(T, 0, cut)
      } else if (roll < 0.3) {
        const { logStartOffset, logEndOffset } = engine.offsets(T, 0)!
        await engine.deleteRecordsBefore(T, 0, Math.min(logEndOffset, logStartOffset + Math.floor(next() * 20)))
      }
      const { logStartOffset, logEndOffset } = engine.offsets(T, 0)!
      // A follower that fell outside the log (truncated or deleted under it) starts again at the log start.
      if (offset < logStartOffset || offset > logEndOffset) offset = logStartOffset
      if (offset === logEndOffset) continue
      offset = await fetchOnce(engine, cursors, fetchOf(engine, offset, 64 + Math.floor(next() * 3000)), expectSameAsWorker)
    }
    console.log(`served on this thread ${cursors.counters.served}, by the worker ${cursors.counters.located}`)
    expect(cursors.counters.served).toBeGreaterThan(cursors.counters.located)
    cursors.close()
    expect(cursors.size).toBe(0)
  })

  it("serve a compacted log's offset gaps exactly as the worker does (the walk stops at a gap, the worker finds the next batch)", async () => {
    const engine = fixture.engine({ dataDir: fixture.dir(), flush: 'never' })
    await engine.openPartition(T, 0, { segmentBytes: 4096, compact: true })
    const cursors = new FollowerReadCursors(engine)
    const { next } = seededRandom(SEED)
    // A cleaned leader's batches as a follower receives them: offsets keep their places, whole batches gone between.
    let base = 0
    for (let i = 0; i < 60; i++) {
      base += next() < 0.4 ? 1 + Math.floor(next() * 5) : 0
      const records = Array.from({ length: 1 + Math.floor(next() * 4) }, (_, r) => ({ key: `k${r}`, value: 'v'.repeat(Math.floor(next() * 300)), timestamp: 1_700_000_000_000 + r }))
      const bytes = encodeRecordBatch({ baseOffset: base, records })
      await engine.appendAsFollower(T, 0, bytes)
      base += records.length
    }
    expect(engine.offsets(T, 0)!.logEndOffset).toBe(base)
    let offset = 0
    for (let step = 0; step < 1000 && offset < base; step++) {
      offset = await fetchOnce(engine, cursors, fetchOf(engine, offset, 64 + Math.floor(next() * 2000)), expectPrefixOfWorker)
    }
    expect(offset).toBe(base)
    expect(cursors.counters.served).toBeGreaterThan(0)
    cursors.close()
  })

  it('does not use a remembered position after DeleteRecords, truncation or a new leader epoch', async () => {
    const engine = await engineWithPartition()
    const cursors = new FollowerReadCursors(engine)
    const { next } = seededRandom(SEED)
    for (let i = 0; i < 30; i++) await engine.appendBatches(T, 0, batch(next), 1)
    const remembered = async (epoch = 0): Promise<number> => {
      const slice = await cursors.read(fetchOf(engine, engine.offsets(T, 0)!.logStartOffset, 200, epoch), { holdFile: true, upTo: 'logEnd' })
      closeSync(slice.segment!.heldFd!)
      expect(cursors.size).toBe(1)
      return slice.segment!.nextOffset!
    }
    // DeleteRecords past the remembered offset: its bytes are still in the file, but no longer in the log.
    let at = await remembered()
    await engine.deleteRecordsBefore(T, 0, at + 1)
    expect(cursors.serve(fetchOf(engine, at, 200))).toBeUndefined()
    // Truncation below it, and the same offsets written again in other batches.
    at = await remembered()
    await engine.truncateTo(T, 0, engine.offsets(T, 0)!.logStartOffset)
    for (let i = 0; i < 30; i++) await engine.appendBatches(T, 0, batch(next), 1)
    expect(cursors.serve(fetchOf(engine, at, 200))).toBeUndefined()
    // Another leader epoch.
    at = await remembered(0)
    expect(cursors.serve(fetchOf(engine, at, 200, 1))).toBeUndefined()
    // Unchanged: served.
    at = await remembered(0)
    const served = cursors.serve(fetchOf(engine, at, 200))
    expect(served).toBeDefined()
    closeSync(served!.fd)
    cursors.close()
  })
})
