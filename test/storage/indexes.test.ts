import { describe, expect, it } from 'vitest'
import { logFileName, parseSegmentFileName, parseTopicPartitionDir } from '../../src/storage/file-names.js'
import { OffsetIndex } from '../../src/storage/offset-index.js'
import { TimeIndex } from '../../src/storage/time-index.js'
import { readOffsetCheckpoint, writeOffsetCheckpoint } from '../../src/storage/checkpoints.js'
import { nodeStorageFs } from '../../src/storage/storage-fs.js'
import { countSegmentsToDelete } from '../../src/storage/retention.js'
import { tempPartitionDir } from './log-test-helpers.js'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

describe('file names', () => {
  it('uses 20-digit base offsets and parses them back', () => {
    expect(logFileName(1234)).toBe('00000000000000001234.log')
    expect(parseSegmentFileName('00000000000000001234.log')).toBe(1234)
    expect(parseSegmentFileName('00000000000000001234.index')).toBeUndefined()
    expect(parseSegmentFileName('1234.log')).toBeUndefined()
    expect(parseTopicPartitionDir('/data/my-topic-12')).toEqual({ topic: 'my-topic', partition: 12 })
  })
})

describe('OffsetIndex', () => {
  it('finds the floor entry by offset and by position, and truncates', () => {
    const index = new OffsetIndex(1000, 1)
    for (let i = 1; i <= 100; i++) index.append(1000 + i * 10, i * 4096)
    expect(index.lookup(999)).toEqual({ offset: 1000, position: 0 })
    expect(index.lookup(1009)).toEqual({ offset: 1000, position: 0 })
    expect(index.lookup(1010)).toEqual({ offset: 1010, position: 4096 })
    expect(index.lookup(1555)).toEqual({ offset: 1550, position: 55 * 4096 })
    expect(index.lookup(1e9)).toEqual({ offset: 2000, position: 100 * 4096 })
    expect(index.lookupByPosition(55 * 4096 + 100)).toEqual({ offset: 1550, position: 55 * 4096 })
    expect(() => index.append(2000, 1e7)).toThrow(RangeError)
    index.truncateTo(1550)
    expect(index.lastEntry()).toEqual({ offset: 1540, position: 54 * 4096 })
  })

  it('round-trips through bytes and rejects insane files', () => {
    const index = new OffsetIndex(50)
    index.append(60, 100)
    index.append(70, 200)
    const bytes = Buffer.from(index.toBytes())
    expect(OffsetIndex.fromBytes(50, bytes, 1000)?.lookup(75)).toEqual({ offset: 70, position: 200 })
    expect(OffsetIndex.fromBytes(50, bytes, 200)).toBeUndefined()
    expect(OffsetIndex.fromBytes(50, bytes.subarray(0, 12), 1000)).toBeUndefined()
    const backwards = Buffer.from(bytes)
    backwards.writeUInt32BE(5, 8)
    expect(OffsetIndex.fromBytes(50, backwards, 1000)).toBeUndefined()
  })
})

describe('TimeIndex', () => {
  it('keeps only growing timestamps and finds where to start scanning', () => {
    const index = new TimeIndex(0)
    index.maybeAppend(100, 5)
    index.maybeAppend(90, 7)
    index.maybeAppend(200, 9)
    expect(index.entryCount).toBe(2)
    expect(index.entryBefore(100)).toBeUndefined()
    expect(index.entryBefore(101)).toEqual({ timestamp: 100, offset: 5 })
    expect(index.entryBefore(1000)).toEqual({ timestamp: 200, offset: 9 })
    expect(TimeIndex.fromBytes(0, Buffer.from(index.toBytes()), 10)?.lastEntry()).toEqual({ timestamp: 200, offset: 9 })
    expect(TimeIndex.fromBytes(0, Buffer.from(index.toBytes()), 9)).toBeUndefined()
  })

  it('grows past its initial capacity, refuses offsets outside its segment, and truncates at an offset', () => {
    const index = new TimeIndex(1000, 1)
    // Offsets may repeat (several new maxima inside one batch's offset range).
    for (let i = 0; i < 50; i++) index.maybeAppend(10_000 + i, 1000 + Math.floor(i / 2) * 10)
    expect(index.entryCount).toBe(50)
    expect(index.entryBefore(10_049)?.offset).toBe(1240)
    expect(() => index.maybeAppend(20_000, 999)).toThrow(RangeError)
    expect(() => new TimeIndex(1000).maybeAppend(1, 1000 + 2 ** 32)).toThrow(/does not fit segment 1000/)
    index.truncateTo(1100)
    expect(index.entryCount).toBe(20)
    expect(index.lastEntry()).toEqual({ timestamp: 10_019, offset: 1090 })
    index.truncateTo(1000)
    expect(index.lastEntry()).toBeUndefined()
    expect(index.toBytes().length).toBe(0)
  })
})

describe('checkpoints', () => {
  it("writes Kafka's format atomically and treats a malformed file as missing", () => {
    const { dir, cleanup } = tempPartitionDir()
    try {
      mkdirSync(dir, { recursive: true })
      const path = join(dir, 'cp')
      expect(readOffsetCheckpoint(nodeStorageFs, path)).toBeUndefined()
      writeOffsetCheckpoint(nodeStorageFs, path, [{ topic: 't', partition: 3, offset: 42 }])
      expect(readOffsetCheckpoint(nodeStorageFs, path)).toEqual([{ topic: 't', partition: 3, offset: 42 }])
      writeFileSync(path, '0\n2\nt 3 42\n')
      expect(readOffsetCheckpoint(nodeStorageFs, path)).toBeUndefined()
    } finally {
      cleanup()
    }
  })
})

describe('retention selection', () => {
  const segs = [{ size: 100, maxTimestamp: 10 }, { size: 100, maxTimestamp: 20 }, { size: 100, maxTimestamp: -1 }, { size: 100, maxTimestamp: 40 }]
  it('deletes an old prefix by time, using the file time for segments without timestamps, never the last', () => {
    expect(countSegmentsToDelete(segs, { retentionMs: 15, retentionBytes: -1 }, 30, () => 0)).toBe(1)
    expect(countSegmentsToDelete(segs, { retentionMs: 5, retentionBytes: -1 }, 30, () => 0)).toBe(3)
    expect(countSegmentsToDelete(segs, { retentionMs: 5, retentionBytes: -1 }, 30, () => 28)).toBe(2)
    expect(countSegmentsToDelete(segs, { retentionMs: 0, retentionBytes: -1 }, 1e9, () => 0)).toBe(3)
    expect(countSegmentsToDelete(segs, { retentionMs: -1, retentionBytes: -1 }, 1e9, () => 0)).toBe(0)
  })
  it('deletes by size while the rest still holds retention.bytes', () => {
    expect(countSegmentsToDelete(segs, { retentionMs: -1, retentionBytes: 250 }, 0, () => 0)).toBe(1)
    expect(countSegmentsToDelete(segs, { retentionMs: -1, retentionBytes: 0 }, 0, () => 0)).toBe(3)
  })
})
