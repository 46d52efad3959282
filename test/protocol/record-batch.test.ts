import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CorruptRecordError, InvalidRecordError, UnsupportedCompressionError } from '../../src/errors.js'
import { Compression, compress } from '../../src/protocol/compression.js'
import { crc32c } from '../../src/protocol/crc32c.js'
import {
  BATCH_HEADER_SIZE, LOG_OVERHEAD, batchSizeAt, computeBatchCrc, decodeRecordBatch, encodeRecordBatch,
  parseBatchAttributes, readBatchHeader, readInt64, recordOffset, recordTimestamp, setBaseOffset,
  setPartitionLeaderEpoch, splitBatches, validateBatch, writeInt64,
} from '../../src/protocol/record-batch.js'
import { encodeRecords, type RecordInput } from '../../src/protocol/records.js'

const BASE = 1_700_000_000_000

/** A batch with the given codec bits whose body is `body` as is, with a correct CRC. */
function rawBatch(codec: number, body: Buffer, recordCount = 1): Buffer {
  const template = encodeRecordBatch({ records: [{ value: 'x' }], baseTimestamp: BASE })
  const out = Buffer.concat([template.subarray(0, BATCH_HEADER_SIZE), body])
  out.writeInt32BE(out.length - LOG_OVERHEAD, 8)
  out.writeInt16BE(codec, 21)
  out.writeInt32BE(recordCount - 1, 23)
  out.writeInt32BE(recordCount, 57)
  out.writeUInt32BE(computeBatchCrc(out, 0, out.length), 17)
  return out
}

describe('RecordBatch v2 layout', () => {
  it('writes every header field at its Kafka offset', () => {
    const b = encodeRecordBatch({
      records: [{ value: 'a', timestamp: BASE + 5 }, { value: 'b', timestamp: BASE + 9 }, { value: 'c', timestamp: BASE + 1 }],
      baseOffset: 1234567890123, partitionLeaderEpoch: 7, producerId: 9_007_199_254_740, producerEpoch: 3, baseSequence: 42,
    })
    expect(readInt64(b, 0)).toBe(1234567890123)
    expect(b.readInt32BE(8)).toBe(b.length - 12)
    expect(b.readInt32BE(12)).toBe(7)
    expect(b.readInt8(16)).toBe(2)
    expect(b.readUInt32BE(17)).toBe(crc32c(b.subarray(21)))
    expect(b.readInt16BE(21)).toBe(0)
    expect(b.readInt32BE(23)).toBe(2)
    expect(readInt64(b, 27)).toBe(BASE + 5) // first record's timestamp
    expect(readInt64(b, 35)).toBe(BASE + 9)
    expect(readInt64(b, 43)).toBe(9_007_199_254_740)
    expect(b.readInt16BE(51)).toBe(3)
    expect(b.readInt32BE(53)).toBe(42)
    expect(b.readInt32BE(57)).toBe(3)
    expect(b.subarray(61).equals(encodeRecords([{ value: 'a', timestamp: BASE + 5 }, { value: 'b', timestamp: BASE + 9 }, { value: 'c', timestamp: BASE + 1 }], BASE + 5))).toBe(true)
  })

  it('defaults producer fields to -1 (no idempotence) and partitionLeaderEpoch to -1', () => {
    const h = readBatchHeader(encodeRecordBatch({ records: [{ value: 'x' }] }))
    expect([h.producerId, h.producerEpoch, h.baseSequence, h.partitionLeaderEpoch, h.baseOffset]).toEqual([-1, -1, -1, -1, 0])
  })

  it('sets the attribute bits: codec, timestamp type, transactional, control', () => {
    const attrs = (o: Partial<Parameters<typeof encodeRecordBatch>[0]>) =>
      readBatchHeader(encodeRecordBatch({ records: [{ value: 'x' }], ...o })).attributes
    expect(attrs({ compression: Compression.gzip })).toBe(1)
    expect(attrs({ compression: Compression.lz4 })).toBe(3)
    expect(attrs({ logAppendTime: true })).toBe(0x08)
    expect(attrs({ transactional: true })).toBe(0x10)
    expect(attrs({ control: true, transactional: true })).toBe(0x30)
    expect(parseBatchAttributes(0x3b)).toEqual({ compression: 3, timestampType: 'LogAppendTime', transactional: true, control: true })
    expect(parseBatchAttributes(0x01)).toEqual({ compression: 1, timestampType: 'CreateTime', transactional: false, control: false })
  })

  it('gives absolute offsets and timestamps, LogAppendTime taking maxTimestamp', () => {
    const records = [{ value: 'a', timestamp: BASE }, { value: 'b', timestamp: BASE + 50 }]
    const create = decodeRecordBatch(encodeRecordBatch({ records, baseOffset: 100 }))
    expect(create.records.map((r) => recordOffset(create.header, r))).toEqual([100, 101])
    expect(create.records.map((r) => recordTimestamp(create.header, r))).toEqual([BASE, BASE + 50])
    const appended = decodeRecordBatch(encodeRecordBatch({ records, logAppendTime: true }))
    expect(appended.records.map((r) => recordTimestamp(appended.header, r))).toEqual([BASE + 50, BASE + 50])
  })

  it('stamps baseOffset and partitionLeaderEpoch without touching the CRC', () => {
    const b = encodeRecordBatch({ records: [{ value: 'x' }] })
    const crc = b.readUInt32BE(17)
    setBaseOffset(b, 0, 2 ** 40 + 3)
    setPartitionLeaderEpoch(b, 0, 12)
    expect(validateBatch(b)).toBe(b.length)
    expect(b.readUInt32BE(17)).toBe(crc)
    expect(readBatchHeader(b)).toMatchObject({ baseOffset: 2 ** 40 + 3, partitionLeaderEpoch: 12 })
  })

  it('reads and writes negative and large int64s', () => {
    const b = Buffer.alloc(8)
    for (const v of [-1, 0, 1, -(2 ** 40), 2 ** 53 - 1, -(2 ** 53 - 1)]) {
      writeInt64(b, 0, v)
      expect(readInt64(b, 0)).toBe(v)
      expect(b.readBigInt64BE(0)).toBe(BigInt(v))
    }
  })

  it('refuses out-of-range header fields before writing', () => {
    expect(() => encodeRecordBatch({ records: [] })).toThrow(CorruptRecordError)
    expect(() => encodeRecordBatch({ records: [{ value: 'x' }], producerEpoch: 40_000 })).toThrow(InvalidRecordError)
    expect(() => encodeRecordBatch({ records: [{ value: 'x' }], baseSequence: 2 ** 31 })).toThrow(InvalidRecordError)
    expect(() => encodeRecordBatch({ records: [{ value: 'x' }], baseTimestamp: 1.5 })).toThrow(InvalidRecordError)
  })
})

describe('validateBatch', () => {
  const good = encodeRecordBatch({ records: [{ key: 'k', value: 'v' }, { value: 'w' }], baseTimestamp: BASE })

  it('accepts a good batch and returns its size', () => {
    expect(validateBatch(good)).toBe(good.length)
    const two = Buffer.concat([good, good])
    expect(validateBatch(two, good.length)).toBe(good.length)
  })

  it('rejects truncation, short lengths, a wrong magic, a bad CRC and disagreeing counts', () => {
    expect(() => validateBatch(good.subarray(0, 60))).toThrow(/before its header ends/)
    expect(() => validateBatch(good.subarray(0, good.length - 1))).toThrow(/runs past/)
    expect(() => validateBatch(good, 0, good.length - 1)).toThrow(/runs past/)
    const mutate = (write: (b: Buffer) => void) => { const b = Buffer.from(good); write(b); return b }
    expect(() => validateBatch(mutate((b) => b.writeInt32BE(10, 8)))).toThrow(/below the minimum/)
    expect(() => validateBatch(mutate((b) => b.writeInt8(1, 16)))).toThrow(/magic 1/)
    expect(() => validateBatch(mutate((b) => { b[b.length - 1] ^= 1 }))).toThrow(/CRC mismatch/)
    expect(() => validateBatch(mutate((b) => b.writeInt32BE(-1, 57)))).toThrow(/record count/)
    expect(() => validateBatch(mutate((b) => b.writeInt32BE(0, 23)))).toThrow(/last offset delta/)
    expect(() => validateBatch(good, -1)).toThrow(CorruptRecordError)
    expect(() => validateBatch(good, 0, good.length + 100)).not.toThrow() // end clamps to the buffer
  })

  it('validates snappy and zstd batches by CRC; decoding bytes that are not of the codec throws CorruptRecordError', () => {
    for (const codec of [Compression.snappy, Compression.zstd]) {
      const b = rawBatch(codec, Buffer.from('\xff\xff\xff\xff\xff\xff not of this codec'))
      expect(validateBatch(b)).toBe(b.length)
      expect(() => decodeRecordBatch(b)).toThrow(CorruptRecordError)
      b[b.length - 1] ^= 0xff
      expect(() => validateBatch(b)).toThrow(/CRC mismatch/)
    }
  })

  it('treats codec bits 5-7 as unsupported on decode', () => {
    expect(() => decodeRecordBatch(rawBatch(5, Buffer.from('xx')))).toThrow(UnsupportedCompressionError)
  })

  it('decodes a batch whose records were compacted away (count 0)', () => {
    const empty = rawBatch(Compression.none, Buffer.alloc(0), 0)
    empty.writeInt32BE(4, 23) // compaction keeps lastOffsetDelta
    empty.writeUInt32BE(computeBatchCrc(empty, 0, empty.length), 17)
    expect(decodeRecordBatch(empty).records).toEqual([])
  })
})

describe('splitBatches and batchSizeAt', () => {
  it('splits whole batches and reports a partial tail', () => {
    const a = encodeRecordBatch({ records: [{ value: 'a' }] })
    const b = encodeRecordBatch({ records: [{ value: 'bb' }], compression: Compression.gzip })
    const blob = Buffer.concat([a, b, b.subarray(0, 30)])
    const { batches, trailingBytes } = splitBatches(blob)
    expect(batches).toEqual([{ offset: 0, size: a.length }, { offset: a.length, size: b.length }])
    expect(trailingBytes).toBe(30)
    expect(batchSizeAt(blob, 0)).toBe(a.length)
    expect(batchSizeAt(blob, blob.length - 5)).toBe(-1)
  })

  it('stops at a nonsense length instead of looping', () => {
    const bad = Buffer.alloc(100)
    bad.writeInt32BE(-50, 8)
    expect(splitBatches(bad)).toEqual({ batches: [], trailingBytes: 100 })
  })
})

const bytesOrNull = fc.option(fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)), { nil: null })
const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  key: bytesOrNull,
  value: bytesOrNull,
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 12 }), value: bytesOrNull }), { maxLength: 4 }),
  timestamp: fc.integer({ min: 0, max: 2 ** 42 }),
})

describe('round trips (fast-check)', () => {
  for (const [name, codec] of [['none', Compression.none], ['gzip', Compression.gzip], ['lz4', Compression.lz4]] as const) {
    it(`decodes exactly what it encoded with ${name}`, () => {
      fc.assert(fc.property(
        fc.array(recordArb, { minLength: 1, maxLength: 20 }),
        fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 2 ** 50 }),
        (records, transactional, repeat, baseOffset) => {
          // `repeat` makes the values compressible so the codecs do real work.
          const input = repeat ? records.map((r) => ({ ...r, value: r.value && Buffer.concat(Array(8).fill(r.value)) })) : records
          const batch = encodeRecordBatch({ records: input, compression: codec, transactional, baseOffset, producerId: 77, producerEpoch: 1, baseSequence: 5 })
          const { header, records: out } = decodeRecordBatch(batch)
          expect(parseBatchAttributes(header.attributes)).toMatchObject({ compression: codec, transactional })
          expect(header).toMatchObject({ baseOffset, recordCount: input.length, lastOffsetDelta: input.length - 1, producerId: 77, producerEpoch: 1, baseSequence: 5 })
          expect(header.maxTimestamp).toBe(Math.max(...input.map((r) => r.timestamp!)))
          expect(out).toHaveLength(input.length)
          out.forEach((r, i) => {
            const want = input[i]
            expect(recordOffset(header, r)).toBe(baseOffset + i)
            expect(recordTimestamp(header, r)).toBe(want.timestamp)
            expect(r.key === null ? null : Buffer.from(r.key)).toEqual(want.key)
            expect(r.value === null ? null : Buffer.from(r.value)).toEqual(want.value)
            expect(r.headers.map((h) => ({ key: h.key, value: h.value && Buffer.from(h.value) }))).toEqual(want.headers)
          })
        },
      ), { numRuns: 150 })
    })
  }

  it('compresses for real: a repetitive 16 KiB batch shrinks with gzip and lz4', () => {
    const records = Array.from({ length: 160 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(100) }))
    const plain = encodeRecordBatch({ records, baseTimestamp: BASE })
    for (const codec of [Compression.gzip, Compression.lz4]) {
      const packed = encodeRecordBatch({ records, compression: codec, baseTimestamp: BASE })
      expect(packed.length).toBeLessThan(plain.length / 4)
      expect(packed.subarray(61).equals(compress(codec, plain.subarray(61)))).toBe(true)
    }
  })
})
