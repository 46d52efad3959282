/**
 * Up-conversion of Produce v0-2 message sets (magic 0/1) to RecordBatch v2. The golden sets
 * were written by kafka-python 2.0.2's LegacyRecordBatchBuilder (3 messages: keys k0, null,
 * k2; values v0-v2; magic 1 timestamps 1700000000000+i), one per magic and wrapper codec.
 */
import { crc32, gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { CorruptRecordError, InvalidRecordError } from '../../src/errors.js'
import { Compression } from '../../src/protocol/compression.js'
import { writeLegacyMessage } from '../../src/protocol/message-set.js'
import { isLegacyMessageSet, upConvertMessageSet } from '../../src/protocol/message-set-upconvert.js'
import { decodeRecordBatch, parseBatchAttributes, validateBatch } from '../../src/protocol/record-batch.js'

const GOLDEN: Record<string, string> = {
  'magic 0, none': '0000000000000000000000128697724c0000000000026b300000000276300000000000000001000000104c9f5bc20000ffffffff000000027631000000000000000200000012ff0602490000000000026b32000000027632',
  'magic 1, none': '00000000000000000000001a74aa514001000000018bcfe56800000000026b30000000027630000000000000000100000018abdbdf3b01000000018bcfe56801ffffffff00000002763100000000000000020000001a6d67940e01000000018bcfe56802000000026b32000000027632',
  'magic 0, gzip': '0000000000000000000000533f0dbeea0001ffffffff000000451f8b08008280126b02ff63608003a1b6e9453e601653b601882c3380ca3002b180cffce8430c0cff81002c6708956302e9fccfc6e409d5690496350200b17082a558000000',
  'magic 1, snappy': '000000000000000000000080bb457ff801020000000000000000ffffffff0000006a82534e41505059000000000100000001000000567000001901341a74aa514001000000018bcfe56801181c026b30000000027601060101011d1018abdbdf3b010905261001ffffffff052400310121010a1c0000001a6d67940e15243002000000026b32000000027632',
  'magic 1, lz4': '0000000000000000000000855a3c33d301030000000000000000ffffffff0000006f04224d1868407000000000000000d65800000016000100e01a74aa514001000000018bcfe568180080026b3000000002760600000200001d005018abdbdf3b09000126005101ffffffff240010312100000a00850000001a6d67940e240010021600806b3200000002763200000000',
}
const CODEC: Record<string, number> = { none: Compression.none, gzip: Compression.gzip, snappy: Compression.snappy, lz4: Compression.lz4 }

function legacySet(magic: 0 | 1, entries: { key: string | null; value: string | null; timestamp?: number }[]): Buffer {
  const out = Buffer.alloc(entries.reduce((n, e) => n + 34 + (e.key?.length ?? 0) + (e.value?.length ?? 0), 0))
  let at = 0
  entries.forEach((e, i) => {
    at = writeLegacyMessage(out, at, magic, i, e.timestamp ?? 0, false, e.key === null ? null : Buffer.from(e.key), e.value === null ? null : Buffer.from(e.value))
  })
  return out.subarray(0, at)
}

/** A wrapper message whose value is `inner` compressed with gzip (attributes codec 1). */
function gzipWrapper(magic: 0 | 1, inner: Buffer): Buffer {
  const value = gzipSync(inner)
  const out = Buffer.alloc(34 + value.length)
  const end = writeLegacyMessage(out, 0, magic, 0, 0, false, null, value)
  // writeLegacyMessage writes uncompressed messages: set the codec bits, then the CRC again.
  const crcAt = 12
  out[crcAt + 4 + 1] = Compression.gzip
  out.writeUInt32BE(crc32(out.subarray(crcAt + 4, end)), crcAt)
  return out.subarray(0, end)
}

describe('upConvertMessageSet', () => {
  for (const [name, hex] of Object.entries(GOLDEN)) {
    it(`converts kafka-python's ${name} set to one valid v2 batch`, () => {
      const legacy = Buffer.from(hex, 'hex')
      expect(isLegacyMessageSet(legacy)).toBe(true)
      const batch = upConvertMessageSet(legacy)
      expect(validateBatch(batch)).toBe(batch.length)
      const { header, records } = decodeRecordBatch(batch)
      expect(parseBatchAttributes(header.attributes).compression).toBe(CODEC[name.split(', ')[1]])
      expect(records.map((r) => [r.key?.toString() ?? null, r.value?.toString()])).toEqual([['k0', 'v0'], [null, 'v1'], ['k2', 'v2']])
      const magic1 = name.startsWith('magic 1')
      expect(header.baseTimestamp + records[2].timestampDelta).toBe(magic1 ? 1_700_000_000_002 : -1)
      expect(header.maxTimestamp).toBe(magic1 ? 1_700_000_000_002 : -1)
      expect(header.baseOffset).toBe(0)
      expect(header.producerId).toBe(-1)
    })
  }

  it('tells a v2 batch from a legacy set', () => {
    const batch = upConvertMessageSet(Buffer.from(GOLDEN['magic 0, none'], 'hex'))
    expect(isLegacyMessageSet(batch)).toBe(false)
  })

  it('refuses a flipped byte (CRC-32) in a message and in a compressed inner message', () => {
    const plain = Buffer.from(GOLDEN['magic 1, none'], 'hex')
    plain[plain.length - 1] ^= 1
    expect(() => upConvertMessageSet(plain)).toThrow(CorruptRecordError)
    const inner = legacySet(1, [{ key: 'a', value: 'b', timestamp: 5 }])
    inner[inner.length - 1] ^= 1
    expect(() => upConvertMessageSet(gzipWrapper(1, inner))).toThrow(/CRC-32/)
  })

  it('refuses trailing bytes, a size past the end and an empty set', () => {
    const golden = Buffer.from(GOLDEN['magic 0, none'], 'hex')
    expect(() => upConvertMessageSet(Buffer.concat([golden, Buffer.alloc(5)]))).toThrow(CorruptRecordError)
    expect(() => upConvertMessageSet(golden.subarray(0, golden.length - 3))).toThrow(CorruptRecordError)
    expect(() => upConvertMessageSet(Buffer.alloc(0))).toThrow(CorruptRecordError)
  })

  it('refuses compression inside a compressed message', () => {
    const nested = gzipWrapper(0, legacySet(0, [{ key: null, value: 'x' }]))
    expect(() => upConvertMessageSet(gzipWrapper(0, nested))).toThrow(/inside a compressed/)
  })

  it('refuses a gzip wrapper that decompresses past the cap (a bomb stores nothing)', () => {
    const big = legacySet(0, Array.from({ length: 200 }, () => ({ key: null, value: 'z'.repeat(1000) })))
    expect(() => upConvertMessageSet(gzipWrapper(0, big), 64 * 1024)).toThrow(CorruptRecordError)
    expect(decodeRecordBatch(upConvertMessageSet(gzipWrapper(0, big), 1024 * 1024)).records).toHaveLength(200)
  })

  it('keeps records from several wrappers and plain messages in order', () => {
    const set = Buffer.concat([legacySet(1, [{ key: 'a', value: '1', timestamp: 10 }]), gzipWrapper(1, legacySet(1, [{ key: 'b', value: '2', timestamp: 11 }, { key: null, value: null, timestamp: 12 }]))])
    const { header, records } = decodeRecordBatch(upConvertMessageSet(set))
    expect(records.map((r) => r.value?.toString() ?? null)).toEqual(['1', '2', null])
    expect(records.map((r) => header.baseTimestamp + r.timestampDelta)).toEqual([10, 11, 12])
    expect(header.lastOffsetDelta).toBe(2)
  })
})

describe('upConvertMessageSet refusals by kind', () => {
  it('a RecordBatch v2 is INVALID_RECORD, as Kafka refuses magic 2 in Produce v0-2', () => {
    const batch = upConvertMessageSet(Buffer.from(GOLDEN['magic 1, none'], 'hex'))
    expect(() => upConvertMessageSet(batch)).toThrow(InvalidRecordError)
  })
})
