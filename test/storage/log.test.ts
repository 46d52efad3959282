import { closeSync, createReadStream, existsSync, openSync, readdirSync, readSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { CorruptRecordError, OffsetOutOfRangeError, RecordTooLargeError } from '../../src/errors.js'
import { decodeRecordBatch, readBatchHeader, splitBatches } from '../../src/protocol/record-batch.js'
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, PartitionLog } from '../../src/storage/partition-log.js'
import type { LogConfig } from '../../src/storage/log-config.js'
import { tempPartitionDir, testBatch } from './log-test-helpers.js'

const T0 = 1_700_000_000_000
const cleanups: (() => void)[] = []
afterEach(() => { for (const c of cleanups.splice(0)) c() })

async function openLog(config: Partial<LogConfig> = {}, clock?: () => number): Promise<{ log: PartitionLog; dir: string }> {
  const { dir, cleanup } = tempPartitionDir()
  cleanups.push(cleanup)
  const log = await PartitionLog.open(dir, { segmentBytes: 2048, indexIntervalBytes: 128, flush: 'never', ...config }, { clock })
  cleanups.unshift(() => { void log.close().catch(() => undefined) })
  return { log, dir }
}

/** Every record (offset, value) from `from` to the high watermark, read in slices of `maxBytes`. */
function readAll(log: PartitionLog, from: number, maxBytes: number): { offset: number; value: string }[] {
  const out: { offset: number; value: string }[] = []
  let offset = from
  for (let guard = 0; guard < 100_000; guard++) {
    const slice = log.read(offset, maxBytes)
    if (slice.length === 0) break
    const bytes = log.readBytes(slice)
    const { batches, trailingBytes } = splitBatches(bytes)
    expect(trailingBytes).toBe(0)
    for (const b of batches) {
      const { header, records } = decodeRecordBatch(bytes, b.offset)
      for (const r of records) {
        const recordOffset = header.baseOffset + r.offsetDelta
        if (recordOffset >= offset) out.push({ offset: recordOffset, value: String(r.value) })
      }
    }
    offset = slice.nextOffset
  }
  return out
}

describe('PartitionLog append and read', () => {
  it('assigns offsets, rolls segments and reads every record back across segments', async () => {
    const { log, dir } = await openLog()
    for (let i = 0; i < 120; i++) {
      const r = log.append(testBatch(i, 2), { leaderEpoch: 7 })
      expect(r.baseOffset).toBe(i * 2)
      expect(r.lastOffset).toBe(i * 2 + 1)
      expect(r.logAppendTime).toBe(-1)
    }
    expect(log.logEndOffset).toBe(240)
    expect(log.segmentCount).toBeGreaterThan(3)
    expect(readdirSync(dir).filter((n) => n.endsWith('.log'))[1]).toMatch(/^\d{20}\.log$/)
    for (const maxBytes of [1, 100, 700, 5000]) {
      const records = readAll(log, 0, maxBytes)
      expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 240 }, (_, i) => i))
      expect(records[37].value).toBe('v18-1')
    }
    const first = log.readBytes(log.read(0, 1))
    expect(readBatchHeader(first).partitionLeaderEpoch).toBe(7)
  })

  it('starts a read at the batch holding a mid-batch offset and returns at least one whole batch', async () => {
    const { log } = await openLog()
    for (let i = 0; i < 30; i++) log.append(testBatch(i, 5), { leaderEpoch: 0 })
    const slice = log.read(53, 1)
    expect(slice.baseOffsetOfFirstBatch).toBe(50)
    expect(slice.nextOffset).toBe(55)
    const header = readBatchHeader(log.readBytes(slice))
    expect(header.baseOffset).toBe(50)
    expect(slice.length).toBe(12 + header.batchLength)
  })

  it('finds offsets through the index after many index entries', async () => {
    const { log } = await openLog({ segmentBytes: 1 << 20, indexIntervalBytes: 64 })
    for (let i = 0; i < 500; i++) log.append(testBatch(i, 1), { leaderEpoch: 0 })
    for (const offset of [0, 1, 77, 250, 498, 499]) {
      expect(log.read(offset, 1).baseOffsetOfFirstBatch).toBe(offset)
    }
  })

  it('reports earliest and latest offsets and refuses reads outside the log', async () => {
    const { log } = await openLog()
    expect(log.read(0, 100).length).toBe(0)
    for (let i = 0; i < 10; i++) log.append(testBatch(i), { leaderEpoch: 0 })
    expect(log.offsetForTimestamp(EARLIEST_TIMESTAMP)?.offset).toBe(0)
    expect(log.offsetForTimestamp(LATEST_TIMESTAMP)?.offset).toBe(10)
    expect(log.read(10, 100).length).toBe(0)
    expect(() => log.read(11, 100)).toThrow(OffsetOutOfRangeError)
    expect(() => log.read(-1, 100)).toThrow(OffsetOutOfRangeError)
  })

  it('finds the first record at or after a timestamp, across segments', async () => {
    const { log } = await openLog()
    // Timestamps go up by 10 per batch, 3 records each 1 ms apart.
    for (let i = 0; i < 100; i++) log.append(testBatch(i, 3, T0 + i * 10), { leaderEpoch: 0 })
    expect(log.offsetForTimestamp(T0)).toEqual({ offset: 0, timestamp: T0 })
    expect(log.offsetForTimestamp(T0 + 502)).toEqual({ offset: 152, timestamp: T0 + 502 })
    expect(log.offsetForTimestamp(T0 + 505)).toEqual({ offset: 153, timestamp: T0 + 510 })
    expect(log.offsetForTimestamp(T0 + 992)).toEqual({ offset: 299, timestamp: T0 + 992 })
    expect(log.offsetForTimestamp(T0 + 993)).toBeUndefined()
  })

  it('stamps LogAppendTime into the batch with a valid CRC', async () => {
    const { log } = await openLog()
    const r = log.append(testBatch(1, 2), { leaderEpoch: 0, logAppendTime: T0 + 99 })
    expect(r.logAppendTime).toBe(T0 + 99)
    const decoded = decodeRecordBatch(log.readBytes(log.read(0, 1000)))
    expect(decoded.header.maxTimestamp).toBe(T0 + 99)
    expect(decoded.header.attributes & 0x08).toBe(0x08)
  })

  it('rejects oversized, torn and corrupt input without writing anything', async () => {
    const { log } = await openLog({ maxMessageBytes: 300 })
    expect(() => log.append(testBatch(1, 1, T0, 400), { leaderEpoch: 0 })).toThrow(RecordTooLargeError)
    const good = testBatch(2)
    expect(() => log.append(good.subarray(0, good.length - 1), { leaderEpoch: 0 })).toThrow(CorruptRecordError)
    const flipped = Buffer.from(good)
    flipped[flipped.length - 1] ^= 1
    expect(() => log.append(flipped, { leaderEpoch: 0 })).toThrow(CorruptRecordError)
    expect(log.logEndOffset).toBe(0)
    expect(log.append(Buffer.concat([testBatch(3, 2), testBatch(4, 3)]), { leaderEpoch: 0 })).toMatchObject({ baseOffset: 0, lastOffset: 4 })
  })

  it("keeps the high watermark at the durable end under 'always' and serves only durable data", async () => {
    const { log } = await openLog({ flush: 'always' })
    const durableEnds: number[] = []
    log.onDurable((end) => durableEnds.push(end))
    const r1 = log.append(testBatch(1, 2), { leaderEpoch: 0 })
    expect(log.highWatermark).toBe(0)
    expect(log.read(0, 1000).length).toBe(0)
    expect(log.read(0, 1000, { maxOffset: log.logEndOffset }).length).toBeGreaterThan(0)
    await log.whenAcknowledged(r1.lastOffset)
    expect(log.highWatermark).toBe(2)
    const r2 = log.append(testBatch(2, 2), { leaderEpoch: 0 })
    expect(log.read(0, 100_000).nextOffset).toBe(2)
    await log.whenDurable(r2.lastOffset)
    expect(log.read(0, 100_000).nextOffset).toBe(4)
    expect(durableEnds.at(-1)).toBe(4)
  })

  it('reopens after a clean close with the same contents and continues the offsets', async () => {
    const { log, dir } = await openLog()
    for (let i = 0; i < 50; i++) log.append(testBatch(i, 2), { leaderEpoch: 0 })
    const before = readAll(log, 0, 100_000)
    await log.close()
    expect(existsSync(`${dir}/.ringlog-clean-shutdown`)).toBe(true)
    const reopened = await PartitionLog.open(dir, { segmentBytes: 2048, indexIntervalBytes: 128 })
    try {
      expect(existsSync(`${dir}/.ringlog-clean-shutdown`)).toBe(false)
      expect(readAll(reopened, 0, 100_000)).toEqual(before)
      expect(reopened.append(testBatch(99), { leaderEpoch: 0 }).baseOffset).toBe(100)
    } finally {
      await reopened.close()
    }
  })

  it('truncates to an offset, dropping later segments, and appends from there', async () => {
    const { log } = await openLog()
    for (let i = 0; i < 60; i++) log.append(testBatch(i, 2), { leaderEpoch: 0 })
    const segments = log.segmentCount
    log.truncateTo(20)
    expect(log.logEndOffset).toBe(20)
    expect(log.segmentCount).toBeLessThan(segments)
    expect(readAll(log, 0, 100_000).map((r) => r.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(log.append(testBatch(500), { leaderEpoch: 1 }).baseOffset).toBe(20)
    expect(readAll(log, 20, 100_000)).toEqual([{ offset: 20, value: 'v500-0' }])
  })
})

describe('PartitionLog full truncation', () => {
  it('restarts an empty log at the given offset when truncating to or below log start', async () => {
    const { log, dir } = await openLog()
    for (let i = 0; i < 40; i++) log.append(testBatch(i, 2), { leaderEpoch: 0 })
    log.truncateTo(0)
    expect(log.logEndOffset).toBe(0)
    expect(log.segmentCount).toBe(1)
    expect(log.read(0, 100).length).toBe(0)
    expect(log.append(testBatch(7), { leaderEpoch: 2 }).baseOffset).toBe(0)
    expect(readAll(log, 0, 100_000)).toEqual([{ offset: 0, value: 'v7-0' }])
    expect(readdirSync(dir).filter((n) => n.endsWith('.log'))).toEqual(['00000000000000000000.log'])
  })
})

describe('PartitionLog retention', () => {
  it('deletes closed segments by time but never the active segment', async () => {
    let now = T0
    const { log } = await openLog({ retentionMs: 1000 }, () => now)
    for (let i = 0; i < 60; i++) log.append(testBatch(i, 2, T0), { leaderEpoch: 0 })
    const segments = log.segmentCount
    expect(log.applyRetention(T0 + 1000).deletedSegments).toBe(0)
    now = T0 + 5000
    const result = log.applyRetention()
    expect(result.deletedSegments).toBe(segments - 1)
    expect(log.segmentCount).toBe(1)
    expect(log.logStartOffset).toBe(result.logStartOffset)
    expect(log.logStartOffset).toBeGreaterThan(0)
    expect(() => log.read(0, 100)).toThrow(OffsetOutOfRangeError)
    expect(readAll(log, log.logStartOffset, 100_000).at(-1)?.offset).toBe(119)
    expect(log.applyRetention(T0 + 1e9).deletedSegments).toBe(0)
  })

  it('deletes the oldest segments by size down to retention.bytes', async () => {
    const { log } = await openLog({ retentionBytes: 5000, retentionMs: -1 })
    for (let i = 0; i < 250; i++) log.append(testBatch(i, 2), { leaderEpoch: 0 })
    const before = log.size
    expect(before).toBeGreaterThan(10_000)
    const result = log.applyRetention()
    expect(result.deletedSegments).toBeGreaterThan(0)
    expect(log.size).toBeGreaterThanOrEqual(5000)
    expect(log.size).toBeLessThan(5000 + 2048)
    expect(before - log.size).toBe(result.deletedBytes)
  })

  it('keeps a segment streaming to a reader readable while retention deletes it', async () => {
    const { log, dir } = await openLog({ retentionMs: 10, fileDeleteDelayMs: 60_000 })
    for (let i = 0; i < 40; i++) log.append(testBatch(i, 2, T0, 200), { leaderEpoch: 0 })
    const slice = log.read(0, 1 << 20)
    const expected = log.readBytes(slice)
    // Reader 1 streams from the log's fd; reader 2 opened the path itself before retention ran.
    const ownFd = openSync(slice.path, 'r')
    const chunks: Buffer[] = []
    const stream = createReadStream('', { fd: slice.fd, start: slice.position, end: slice.position + slice.length - 1, autoClose: false, highWaterMark: 256 })
    let retained = false
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (chunk) => {
        chunks.push(chunk as Buffer)
        if (!retained) {
          retained = true
          expect(log.applyRetention(T0 + 1_000_000).deletedSegments).toBeGreaterThan(0)
          expect(existsSync(slice.path)).toBe(false)
          expect(readdirSync(dir).some((n) => n.endsWith('.log.deleted'))).toBe(true)
        }
      })
      stream.on('end', resolve)
      stream.on('error', reject)
    })
    expect(retained).toBe(true)
    expect(Buffer.concat(chunks).equals(expected)).toBe(true)
    expect(() => log.read(0, 100)).toThrow(OffsetOutOfRangeError)
    const viaOwnFd = Buffer.alloc(slice.length)
    readSync(ownFd, viaOwnFd, 0, slice.length, slice.position)
    closeSync(ownFd)
    expect(viaOwnFd.equals(expected)).toBe(true)
  })

  it('unlinks retired files after the delete delay while an already open fd still reads them', async () => {
    const { log, dir } = await openLog({ retentionMs: 10, fileDeleteDelayMs: 1 })
    for (let i = 0; i < 40; i++) log.append(testBatch(i, 2, T0), { leaderEpoch: 0 })
    const slice = log.read(0, 1 << 20)
    const expected = log.readBytes(slice)
    const ownFd = openSync(slice.path, 'r')
    log.applyRetention(T0 + 1_000_000)
    for (let i = 0; i < 100 && readdirSync(dir).some((n) => n.endsWith('.deleted')); i++) await new Promise((r) => setTimeout(r, 10))
    expect(readdirSync(dir).some((n) => n.endsWith('.deleted'))).toBe(false)
    const bytes = Buffer.alloc(slice.length)
    readSync(ownFd, bytes, 0, slice.length, slice.position)
    closeSync(ownFd)
    expect(bytes.equals(expected)).toBe(true)
  })
})
