/**
 * The segment file LRU (issue 18 item 5): a partition of hundreds of small segments keeps at
 * most the cache's capacity of segment files open (plus the pinned active one), reads across
 * every segment reopen what was closed and return the right records, and retention and
 * truncation reaching into closed segments work. Descriptors are counted in /proc/self/fd.
 */
import { readdirSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeRecordBatch, splitBatches } from '../../src/protocol/record-batch.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import { SegmentFileCache } from '../../src/storage/segment-file-cache.js'
import { randomForTest } from '../seed.js'
import { tempPartitionDir, testBatch } from './log-test-helpers.js'

const CAPACITY = 4
const BATCHES = 240
/** Two ~370-byte batches per segment: about 120 segments. */
const SEGMENT_BYTES = 1024
/** Besides cached segment files: the directory fd, index files waiting for their flush, the test runner's own. */
const SLACK = 8

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

const openDescriptors = (): number => readdirSync('/proc/self/fd').length

/** The values of every record in the slice's bytes, in order, with their offsets. */
function recordsOf(bytes: Buffer): { offset: number; value: string }[] {
  const out: { offset: number; value: string }[] = []
  for (const b of splitBatches(bytes).batches) {
    const { header, records } = decodeRecordBatch(bytes.subarray(b.offset, b.offset + b.size))
    for (const r of records) out.push({ offset: header.baseOffset + r.offsetDelta, value: r.value?.toString() ?? '' })
  }
  return out
}

const expectedValue = (offset: number): string => `v${offset}-0${'x'.repeat(300)}`

async function filledLog(files: SegmentFileCache, extra: Partial<Parameters<typeof PartitionLog.open>[1]> = {}): Promise<{ log: PartitionLog; dir: string }> {
  const { dir, cleanup } = tempPartitionDir()
  const log = await PartitionLog.open(dir, { segmentBytes: SEGMENT_BYTES, flush: 'never', fileDeleteDelayMs: 0, ...extra }, { segmentFiles: files })
  cleanups.push(cleanup, () => log.close().catch(() => undefined))
  for (let i = 0; i < BATCHES; i++) log.append(testBatch(i, 1, undefined, 300), { leaderEpoch: 0 })
  await log.flush()
  return { log, dir }
}

describe('segment file cache', () => {
  it('keeps the open segment files bounded while seeded random reads over every segment return the right records', async () => {
    const random = randomForTest()
    const before = openDescriptors()
    const files = new SegmentFileCache(CAPACITY)
    const { log } = await filledLog(files)
    expect(log.segmentCount).toBeGreaterThan(100)
    expect(files.stats().open).toBeLessThanOrEqual(CAPACITY + 1)
    expect(openDescriptors() - before).toBeLessThanOrEqual(CAPACITY + SLACK)
    for (let i = 0; i < 600; i++) {
      const offset = random.int(BATCHES)
      const slice = log.read(offset, 1 + random.int(3000))
      const records = recordsOf(log.readBytes(slice))
      expect(records.length).toBeGreaterThan(0)
      records.forEach((r, k) => {
        expect(r.offset).toBe(offset + k)
        expect(r.value).toBe(expectedValue(offset + k))
      })
      expect(files.stats().open).toBeLessThanOrEqual(CAPACITY + 1)
    }
    expect(openDescriptors() - before).toBeLessThanOrEqual(CAPACITY + SLACK)
    expect(files.stats().evictions).toBeGreaterThan(100)
    expect(files.stats().reopens).toBeGreaterThan(80)
  })

  it('reopening a log of many segments stays within the cache', async () => {
    const files = new SegmentFileCache(CAPACITY)
    const { log, dir } = await filledLog(files)
    const lastOffset = log.logEndOffset
    await log.close()
    const before = openDescriptors()
    const reopened = await PartitionLog.open(dir, { segmentBytes: SEGMENT_BYTES, flush: 'never' }, { segmentFiles: files })
    cleanups.push(() => reopened.close().catch(() => undefined))
    expect(reopened.logEndOffset).toBe(lastOffset)
    expect(openDescriptors() - before).toBeLessThanOrEqual(CAPACITY + SLACK)
    expect(recordsOf(reopened.readBytes(reopened.read(0, 1)))[0].value).toBe(expectedValue(0))
  })

  it('retention deletes closed segments whose files the cache closed, and truncation reaches into one', async () => {
    const files = new SegmentFileCache(CAPACITY)
    const { log, dir } = await filledLog(files, { retentionBytes: 40 * SEGMENT_BYTES, retentionMs: -1 })
    const segments = log.segmentCount
    const logFiles = (): number => readdirSync(dir).filter((f) => f.endsWith('.log')).length
    const result = log.applyRetention()
    expect(result.deletedSegments).toBeGreaterThan(60)
    expect(log.segmentCount).toBe(segments - result.deletedSegments)
    expect(logFiles()).toBe(log.segmentCount)
    const start = log.logStartOffset
    expect(recordsOf(log.readBytes(log.read(start, 1)))[0]).toEqual({ offset: start, value: expectedValue(start) })

    // Cut back into a segment long since closed by the cache: it becomes the active one again.
    const cut = start + 11
    log.truncateTo(cut)
    expect(log.logEndOffset).toBe(cut)
    for (let i = 0; i < 30; i++) log.append(testBatch(1000 + i, 1, undefined, 300), { leaderEpoch: 0 })
    await log.flush()
    const after = recordsOf(log.readBytes(log.read(cut - 1, 1 << 20)))
    expect(after[0]).toEqual({ offset: cut - 1, value: expectedValue(cut - 1) })
    expect(after[1].offset).toBe(cut)
    expect(after[1].value).toBe(`v1000-0${'x'.repeat(300)}`)
    // Everything from the new start to the new end reads back in order.
    let offset = start
    let seen = 0
    for (let round = 0; round < 1000 && offset < log.logEndOffset; round++) {
      const records = recordsOf(log.readBytes(log.read(offset, 2048)))
      for (const r of records) { expect(r.offset).toBe(offset); offset++; seen++ }
    }
    expect(seen).toBe(log.logEndOffset - start)
    expect(files.stats().open).toBeLessThanOrEqual(CAPACITY + 1)
  })
})
