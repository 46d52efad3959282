import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CorruptRecordError, OffsetOutOfRangeError, RinglogError } from '../../src/errors.js'
import { ErrorCode } from '../../src/protocol/error-codes.js'
import { encodeRecordBatch, readInt64, splitBatches } from '../../src/protocol/record-batch.js'
import { CLEAN_SHUTDOWN_MARKER, LEADER_EPOCH_CHECKPOINT, RECOVERY_POINT_CHECKPOINT } from '../../src/storage/file-names.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import type { LogConfig } from '../../src/storage/log-config.js'
import { nodeStorageFs, type StorageFs } from '../../src/storage/storage-fs.js'
import { tempPartitionDir, testBatch } from './log-test-helpers.js'

const cleanups: (() => void)[] = []
afterEach(() => { for (const c of cleanups.splice(0)) c() })

const CONFIG: Partial<LogConfig> = { segmentBytes: 1024, indexIntervalBytes: 128, flush: 'never' }

async function openLog(config: Partial<LogConfig> = CONFIG, dir?: string): Promise<{ log: PartitionLog; dir: string }> {
  if (!dir) {
    const made = tempPartitionDir()
    cleanups.push(made.cleanup)
    dir = made.dir
  }
  const log = await PartitionLog.open(dir, config)
  cleanups.unshift(() => { void log.close().catch(() => undefined) })
  return { log, dir }
}

interface BatchId { baseOffset: number; lastOffset: number; crc: number; epoch: number }

/** Every batch of the log (up to its end, not the high watermark): offsets, CRC and leader epoch. */
function batchesOf(log: PartitionLog): BatchId[] {
  const out: BatchId[] = []
  let offset = log.logStartOffset
  for (let guard = 0; guard < 10_000 && offset < log.logEndOffset; guard++) {
    const slice = log.read(offset, 1 << 20, { maxOffset: log.logEndOffset })
    if (slice.length === 0) break
    const bytes = log.readBytes(slice)
    for (const b of splitBatches(bytes).batches) {
      out.push({ baseOffset: readInt64(bytes, b.offset), lastOffset: readInt64(bytes, b.offset) + bytes.readInt32BE(b.offset + 23), crc: bytes.readUInt32BE(b.offset + 17), epoch: bytes.readInt32BE(b.offset + 12) })
    }
    offset = slice.nextOffset
  }
  return out
}

/** All of the log's bytes from `from` to its end, as a leader's Fetch would hand them to a follower. */
function bytesFrom(log: PartitionLog, from: number): Buffer {
  const parts: Buffer[] = []
  let offset = from
  for (let guard = 0; guard < 10_000 && offset < log.logEndOffset; guard++) {
    const slice = log.read(offset, 1 << 20, { maxOffset: log.logEndOffset })
    if (slice.length === 0) break
    parts.push(log.readBytes(slice))
    offset = slice.nextOffset
  }
  return Buffer.concat(parts)
}

/** The epoch entries a log's batches imply (first batch of each larger epoch). */
function epochsImpliedBy(batches: BatchId[]): { epoch: number; startOffset: number }[] {
  const out: { epoch: number; startOffset: number }[] = []
  for (const b of batches) if (b.epoch >= 0 && (out.length === 0 || b.epoch > out[out.length - 1].epoch)) out.push({ epoch: b.epoch, startOffset: b.baseOffset })
  return out
}

/** 30 batches of 2 records: epoch 0 for batches 0-9, 3 for 10-21, 4 for 22-29 (several segments). */
function fillLeader(log: PartitionLog): void {
  for (let i = 0; i < 30; i++) log.append(testBatch(i, 2), { leaderEpoch: i < 10 ? 0 : i < 22 ? 3 : 4 })
}

function codeOf(fn: () => unknown): number | undefined {
  try { fn() } catch (error) { return error instanceof RinglogError ? error.code : -999 }
  return undefined
}

describe('leader epochs in the log', () => {
  it('records each new epoch an append is stamped with, and refuses an older one', async () => {
    const { log, dir } = await openLog()
    fillLeader(log)
    expect(log.leaderEpochEntries).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 20 }, { epoch: 4, startOffset: 44 }])
    expect(readFileSync(join(dir, LEADER_EPOCH_CHECKPOINT), 'utf8')).toBe('0\n3\n0 0\n3 20\n4 44\n')
    expect(codeOf(() => log.append(testBatch(99), { leaderEpoch: 3 }))).toBe(ErrorCode.FENCED_LEADER_EPOCH)
    expect(log.logEndOffset).toBe(60)
    expect(log.endOffsetForEpoch(0)).toEqual({ leaderEpoch: 0, endOffset: 20 })
    expect(log.endOffsetForEpoch(2)).toEqual({ leaderEpoch: 0, endOffset: 20 })
    expect(log.endOffsetForEpoch(4)).toEqual({ leaderEpoch: 4, endOffset: 60 })
    expect(log.endOffsetForEpoch(5)).toEqual({ leaderEpoch: -1, endOffset: -1 })
  })

  it('rebuilds a damaged, missing or stale checkpoint from the batches on open', async () => {
    const { log, dir } = await openLog()
    fillLeader(log)
    const expected = log.leaderEpochEntries
    await log.close()
    const path = join(dir, LEADER_EPOCH_CHECKPOINT)
    // Damaged; missing; stale (a crash after the batches were written but before the file was).
    for (const damage of [() => writeFileSync(path, '0\n7\nnonsense'), () => nodeStorageFs.unlinkSync(path), () => writeFileSync(path, '0\n1\n0 0\n')]) {
      damage()
      const reopened = await PartitionLog.open(dir, CONFIG)
      expect(reopened.leaderEpochEntries).toEqual(expected)
      expect(readFileSync(path, 'utf8')).toBe('0\n3\n0 0\n3 20\n4 44\n')
      await reopened.close()
    }
    // Entries past the log's end (a crash mid-truncation) are cut on open.
    writeFileSync(path, '0\n4\n0 0\n3 20\n4 44\n9 500\n')
    const reopened = await PartitionLog.open(dir, CONFIG)
    expect(reopened.leaderEpochEntries).toEqual(expected)
    await reopened.close()
  })

  it('a single-node log keeps its high watermark rules until a replicated one is set', async () => {
    const { log } = await openLog()
    fillLeader(log)
    expect(log.highWatermark).toBe(60)
    expect(log.isReplicated).toBe(false)
    log.setReplicatedHighWatermark(20)
    expect(log.highWatermark).toBe(20)
    const slice = log.read(0, 1 << 20)
    expect(slice.nextOffset).toBe(20)
    expect(log.read(20, 1 << 20).length).toBe(0)
    expect(log.offsetForTimestamp(-1)).toEqual({ offset: 20, timestamp: -1 })
    log.setReplicatedHighWatermark(1000)
    expect(log.highWatermark).toBe(60)
    expect(codeOf(() => log.setReplicatedHighWatermark(-5))).toBe(ErrorCode.INVALID_REQUEST)
  })

  it("under flush 'always' a replicated high watermark never passes the flushed end", async () => {
    const { log } = await openLog({ ...CONFIG, flush: 'always' })
    log.setReplicatedHighWatermark(100)
    const r = log.append(testBatch(1, 3), { leaderEpoch: 0 })
    expect(log.highWatermark).toBe(0)
    await log.whenDurable(r.lastOffset)
    expect(log.highWatermark).toBe(3)
  })
})

describe('PartitionLog.appendAsFollower', () => {
  it("copies a leader's log batch for batch: same offsets, CRCs, epochs and epoch cache", async () => {
    const leader = (await openLog()).log
    const follower = (await openLog({ ...CONFIG, segmentBytes: 700 })).log
    fillLeader(leader)
    // In three fetches of uneven size, as a replica fetcher would.
    const all = bytesFrom(leader, 0)
    const spans = splitBatches(all).batches
    let at = 0
    for (const count of [1, 17, spans.length - 18]) {
      const end = spans[spans.indexOf(spans.find((s) => s.offset === at)!) + count - 1]
      const chunk = all.subarray(at, end.offset + end.size)
      const result = follower.appendAsFollower(Buffer.from(chunk))
      expect(result.firstOffset).toBe(readInt64(chunk, 0))
      at = end.offset + end.size
    }
    expect(batchesOf(follower)).toEqual(batchesOf(leader))
    expect(follower.logEndOffset).toBe(60)
    expect(follower.segmentCount).toBeGreaterThan(leader.segmentCount)
    expect(follower.leaderEpochEntries).toEqual(leader.leaderEpochEntries)
    expect(follower.endOffsetForEpoch(3)).toEqual(leader.endOffsetForEpoch(3))
  })

  it('refuses a bad CRC, a gap, an overlap and an epoch going back, writing nothing', async () => {
    const leader = (await openLog()).log
    const follower = (await openLog()).log
    fillLeader(leader)
    const all = bytesFrom(leader, 0)
    const spans = splitBatches(all).batches
    follower.appendAsFollower(Buffer.from(all.subarray(0, spans[2].offset)))
    expect(follower.logEndOffset).toBe(4)

    const flipped = Buffer.from(all.subarray(spans[2].offset, spans[4].offset))
    flipped[flipped.length - 3] ^= 0x40
    expect(() => follower.appendAsFollower(flipped)).toThrow(CorruptRecordError)
    const gap = Buffer.from(all.subarray(spans[3].offset, spans[4].offset))
    expect(() => follower.appendAsFollower(gap)).toThrow(OffsetOutOfRangeError)
    expect(() => follower.appendAsFollower(gap)).toThrow(/starts at offset 6, but the log continues at 4/)
    const overlap = Buffer.from(all.subarray(spans[1].offset, spans[3].offset))
    expect(() => follower.appendAsFollower(overlap)).toThrow(OffsetOutOfRangeError)
    // Batches 2 and 3 with batch 3 stamped with an older epoch than batch 2.
    const backwards = Buffer.from(all.subarray(spans[2].offset, spans[4].offset))
    backwards.writeInt32BE(5, 12)
    expect(codeOf(() => follower.appendAsFollower(backwards))).toBe(ErrorCode.FENCED_LEADER_EPOCH)
    expect(() => follower.appendAsFollower(Buffer.alloc(0))).toThrow(CorruptRecordError)
    expect(follower.logEndOffset).toBe(4)
    expect(batchesOf(follower)).toEqual(batchesOf(leader).slice(0, 2))

    follower.appendAsFollower(Buffer.from(all.subarray(spans[2].offset)))
    expect(batchesOf(follower)).toEqual(batchesOf(leader))
  })

  it("a compacted log takes the offset gaps its leader's cleaner left, and keeps them through recovery", async () => {
    const leader = (await openLog()).log
    const { log: follower, dir } = await openLog({ ...CONFIG, compact: true })
    fillLeader(leader)
    const all = bytesFrom(leader, 0)
    const spans = splitBatches(all).batches
    follower.appendAsFollower(Buffer.from(all.subarray(0, spans[2].offset)))
    // Batches 3 onwards without batch 2: what a fetch from a cleaned leader returns.
    const rest = Buffer.from(all.subarray(spans[3].offset))
    follower.appendAsFollower(rest)
    const expected = batchesOf(leader).filter((_, i) => i !== 2)
    expect(batchesOf(follower)).toEqual(expected)
    expect(follower.logEndOffset).toBe(leader.logEndOffset)
    expect(follower.cleanedUpTo).toBe(6)
    // Overlaps and going back are still refused.
    expect(() => follower.appendAsFollower(Buffer.from(all.subarray(spans[4].offset, spans[5].offset)))).toThrow(OffsetOutOfRangeError)
    // An unclean reopen (full recovery scan) keeps every batch: the gap is below the cleaner checkpoint.
    await follower.close()
    for (const name of [CLEAN_SHUTDOWN_MARKER, RECOVERY_POINT_CHECKPOINT]) rmSync(join(dir, name), { force: true })
    const reopened = (await openLog({ ...CONFIG, compact: true }, dir)).log
    expect(batchesOf(reopened)).toEqual(expected)
  })
})

describe('PartitionLog.truncateTo', () => {
  it('cuts segments, indexes, time index and epochs, and the log takes the new leader from there', async () => {
    const { log, dir } = await openLog()
    fillLeader(log)
    const before = batchesOf(log)
    const segmentsBefore = log.segmentCount
    log.truncateTo(33) // inside batch 16 (offsets 32-33): that whole batch goes
    expect(log.logEndOffset).toBe(32)
    expect(log.segmentCount).toBeLessThan(segmentsBefore)
    expect(batchesOf(log)).toEqual(before.slice(0, 16))
    expect(log.leaderEpochEntries).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 20 }])
    expect(readdirSync(dir).filter((n) => n.endsWith('.log')).length).toBe(log.segmentCount)
    // Time index: a timestamp only the removed batches had finds nothing.
    expect(log.offsetForTimestamp(1_700_000_000_000 + 25)).toBeUndefined()
    expect(log.offsetForTimestamp(1_700_000_000_000 + 15)?.offset).toBe(29)
    expect(() => log.read(32, 100)).not.toThrow()
    expect(log.read(32, 100).length).toBe(0)
    // The new leader's epoch 5 continues at 32.
    const r = log.append(testBatch(100, 2), { leaderEpoch: 5 })
    expect(r.baseOffset).toBe(32)
    expect(log.leaderEpochEntries.at(-1)).toEqual({ epoch: 5, startOffset: 32 })
    await log.close()
    const reopened = await openLog(CONFIG, dir)
    expect(batchesOf(reopened.log).slice(0, 16)).toEqual(before.slice(0, 16))
    expect(reopened.log.logEndOffset).toBe(34)
    expect(reopened.log.leaderEpochEntries).toEqual([{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 20 }, { epoch: 5, startOffset: 32 }])
    // Each offset is found through the (rebuilt or saved) offset index.
    for (let o = 0; o < 34; o++) expect(reopened.log.read(o, 1).baseOffsetOfFirstBatch).toBe(o - (o % 2))
  })

  it('truncateFullyAndStartAt empties the log and restarts it past its old end', async () => {
    const { log, dir } = await openLog()
    fillLeader(log)
    log.truncateFullyAndStartAt(1000)
    expect([log.logStartOffset, log.logEndOffset, log.segmentCount]).toEqual([1000, 1000, 1])
    expect(log.leaderEpochEntries).toEqual([])
    expect(readdirSync(dir).filter((n) => n.endsWith('.log'))).toEqual(['00000000000000001000.log'])
    const batch = encodeRecordBatch({ baseOffset: 1000, partitionLeaderEpoch: 2, records: [{ value: 'a' }, { value: 'b' }] })
    expect(log.appendAsFollower(batch)).toEqual({ firstOffset: 1000, lastOffset: 1001, logEndOffset: 1002 })
    expect(codeOf(() => log.truncateFullyAndStartAt(-1))).toBe(ErrorCode.INVALID_REQUEST)
    await log.close()
    const reopened = await openLog(CONFIG, dir)
    expect([reopened.log.logStartOffset, reopened.log.logEndOffset]).toEqual([1000, 1002])
    expect(reopened.log.leaderEpochEntries).toEqual([{ epoch: 2, startOffset: 1000 }])
  })

  it('a cut below a log start DeleteRecords left inside a batch brings the log start down to the new end', async () => {
    const { log, dir } = await openLog()
    for (let tag = 0; tag < 3; tag++) log.append(testBatch(tag, 4), { leaderEpoch: 0 }) // offsets 0-3, 4-7, 8-11
    log.deleteRecordsBefore(6)
    expect(log.logStartOffset).toBe(6)
    log.truncateTo(7) // inside batch 4-7, past the log start: the batch goes whole, the end is 4
    expect([log.logStartOffset, log.logEndOffset]).toEqual([4, 4])
    expect(log.read(4, 100).length).toBe(0)
    expect(log.append(testBatch(9, 2), { leaderEpoch: 0 }).baseOffset).toBe(4)
    await log.close()
    const reopened = await openLog(CONFIG, dir)
    expect([reopened.log.logStartOffset, reopened.log.logEndOffset]).toEqual([4, 6])
  })

  it('truncating to the log start or below resets the log there, epochs included', async () => {
    const { log } = await openLog()
    fillLeader(log)
    log.truncateTo(0)
    expect(log.logStartOffset).toBe(0)
    expect(log.logEndOffset).toBe(0)
    expect(log.leaderEpochEntries).toEqual([])
    expect(log.segmentCount).toBe(1)
    log.append(testBatch(1), { leaderEpoch: 6 })
    expect(log.leaderEpochEntries).toEqual([{ epoch: 6, startOffset: 0 }])
  })
})

/**
 * kill -9 in the middle of a truncation, at every file-system call it makes: the fault hits at
 * call k (thrown, ending the truncation there), and every later call is dropped, as if the
 * process had died (the page cache survives a kill, so the files are what the calls so far
 * made them). Reopening must find a consistent log: a prefix of the old one (same batches),
 * an epoch cache that matches its batches, every offset readable; truncating again finishes.
 */
describe('crash during truncation', () => {
  class CrashingFs {
    armed = false
    countdown = -1
    dead = false
    readonly fs: StorageFs
    constructor() {
      const step = (): boolean => {
        if (this.dead) return false
        if (!this.armed) return true
        if (this.countdown-- === 0) {
          this.dead = true
          throw Object.assign(new Error('killed by the test'), { code: 'EKILLED' })
        }
        return true
      }
      this.fs = {
        ...nodeStorageFs,
        openSync: (path, flags) => (step() || flags === 'r' ? nodeStorageFs.openSync(path, flags) : nodeStorageFs.openSync('/dev/null', 'r+')),
        writeSync: (fd, buffer, offset, length, position) => (step() ? nodeStorageFs.writeSync(fd, buffer, offset, length, position) : length),
        ftruncateSync: (fd, length) => { if (step()) nodeStorageFs.ftruncateSync(fd, length) },
        fsyncSync: (fd) => { if (step()) nodeStorageFs.fsyncSync(fd) },
        fdatasync: (fd, callback) => { if (this.dead) { callback(null); return } nodeStorageFs.fdatasync(fd, callback) },
        renameSync: (from, to) => { if (step()) nodeStorageFs.renameSync(from, to) },
        unlinkSync: (path) => { if (step()) nodeStorageFs.unlinkSync(path) },
      }
    }
  }

  /**
   * Runs `cut` on a filled log with the crash at each file-system call in turn until one run
   * finishes untouched, reopening after each and checking it with `verify`.
   */
  async function crashAtEveryStep(cut: (log: PartitionLog) => void, verify: (log: PartitionLog, original: BatchId[], k: number) => void): Promise<number> {
    let completedAt = -1
    for (let k = 0; k < 200 && completedAt < 0; k++) {
      const { dir, cleanup } = tempPartitionDir()
      cleanups.push(cleanup)
      const crashing = new CrashingFs()
      const log = await PartitionLog.open(dir, CONFIG, { fs: crashing.fs })
      fillLeader(log)
      const original = batchesOf(log)
      crashing.armed = true
      crashing.countdown = k
      try {
        cut(log)
        if (!crashing.dead) completedAt = k
      } catch (error) {
        expect(crashing.dead).toBe(true)
        expect(String(error)).toMatch(/killed by the test|offline/)
      }
      crashing.dead = true // the process is gone: nothing it had scheduled reaches the disk
      const reopened = await PartitionLog.open(dir, CONFIG)
      verify(reopened, original, k)
      for (let o = reopened.logStartOffset; o < reopened.logEndOffset; o += 3) expect(reopened.read(o, 1).baseOffsetOfFirstBatch).toBe(o - (o % 2))
      cut(reopened)
      reopened.append(testBatch(500, 2), { leaderEpoch: 7 })
      expect(reopened.leaderEpochEntries.at(-1)).toEqual({ epoch: 7, startOffset: reopened.logEndOffset - 2 })
      await reopened.close()
    }
    return completedAt
  }

  /** The reopened log is a prefix of the original (at least `minBatches` long) with the epochs its batches imply. */
  function expectPrefix(log: PartitionLog, original: BatchId[], k: number, minBatches: number): void {
    const batches = batchesOf(log)
    expect(log.logStartOffset, `cut point ${k}`).toBe(0)
    expect(batches.length, `cut point ${k}`).toBeGreaterThanOrEqual(minBatches)
    expect(batches, `cut point ${k}`).toEqual(original.slice(0, batches.length))
    expect(log.logEndOffset).toBe(batches.length === 0 ? 0 : batches.at(-1)!.lastOffset + 1)
    expect(log.leaderEpochEntries, `cut point ${k}`).toEqual(epochsImpliedBy(batches))
  }

  it('truncateTo reopens to a consistent prefix at every cut point', async () => {
    const completedAt = await crashAtEveryStep((log) => log.truncateTo(21), (log, original, k) => expectPrefix(log, original, k, 10))
    expect(completedAt).toBeGreaterThan(3)
  })

  it('truncateFullyAndStartAt reopens to a prefix or to the new empty log at every cut point', async () => {
    const completedAt = await crashAtEveryStep((log) => log.truncateFullyAndStartAt(1000), (log, original, k) => {
      if (log.logEndOffset < 1000) expectPrefix(log, original, k, 0)
      else {
        expect([log.logStartOffset, log.logEndOffset, log.leaderEpochEntries], `cut point ${k}`).toEqual([1000, 1000, []])
      }
    })
    expect(completedAt).toBeGreaterThan(3)
  })
})
