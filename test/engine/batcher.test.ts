import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { RecordBatcher } from '../../src/engine/worker/batcher.js'
import { encodeRecordFrameBuffer, RECORDS_PREFIX_BYTES } from '../../src/engine/channel/record-frames.js'
import { Compression } from '../../src/protocol/compression.js'
import { BATCH_HEADER_SIZE, decodeRecordBatch, validateBatch } from '../../src/protocol/record-batch.js'
import type { RecordInput } from '../../src/protocol/records.js'

interface Packed { bytes: Buffer; recordCount: number }

/**
 * Packs in frames of `perFrame` records (default: two halves), taking sealed batches after
 * each like the worker does at a burst's end. Small frames mostly join an open batch (their
 * deltas rewritten); large ones mostly start one (copied whole).
 */
function pack(records: RecordInput[], compression: number, batchSize = 16384, perFrame = Math.ceil(records.length / 2)): Packed[] {
  const batcher = new RecordBatcher({ batchSize, compression })
  const out: Packed[] = []
  const take = (): void => {
    const taken = batcher.takeSealed()
    if (!taken) return
    let at = 0
    for (const recordCount of taken.recordCounts) {
      const size = 12 + taken.bytes.readInt32BE(at + 8)
      out.push({ bytes: Buffer.from(taken.bytes.subarray(at, at + size)), recordCount })
      at += size
    }
    expect(at).toBe(taken.bytes.length)
  }
  for (let from = 0; from < records.length; from += perFrame) {
    const frame = encodeRecordFrameBuffer(records.slice(from, from + perFrame), 1_700_000_000_000, batchSize - BATCH_HEADER_SIZE)
    const outcome = batcher.addChunks(frame, RECORDS_PREFIX_BYTES, frame.length)
    expect(outcome.firstIndex).toBeGreaterThanOrEqual(0)
    take()
  }
  batcher.seal()
  take()
  return out
}

describe('RecordBatcher', () => {
  it('carries Buffer keys of every short length (the unrolled copy) and longer ones byte for byte', () => {
    const records: RecordInput[] = Array.from({ length: 60 }, (_, i) => ({ key: randomBytes(i % 30), value: randomBytes(50 + i) }))
    const batches = pack(records, Compression.none, 16384, 13)
    const decoded = batches.flatMap((b) => decodeRecordBatch(b.bytes).records)
    expect(decoded.map((r) => r.key)).toEqual(records.map((r) => r.key))
    expect(decoded.map((r) => r.value)).toEqual(records.map((r) => r.value))
  })

  for (const [name, codec, perFrame] of [['none', Compression.none, 500], ['gzip', Compression.gzip, 500], ['lz4', Compression.lz4, 500], ['none', Compression.none, 7], ['lz4', Compression.lz4, 1]] as const) {
    it(`packs 100-byte records into ~16 KiB ${name} batches that decode back exactly (frames of ${perFrame})`, () => {
      const records: RecordInput[] = Array.from({ length: 1000 }, (_, i) => ({
        key: i % 3 === 0 ? null : `key-${i}`,
        value: Buffer.from(`value-${i}-`.padEnd(100, String.fromCharCode(97 + (i % 26)))),
        timestamp: 1_700_000_000_000 + i,
        headers: i % 10 === 0 ? [{ key: 'h', value: Buffer.from([i & 255]) }, { key: 'n', value: null }] : undefined,
      }))
      const batches = pack(records, codec, 16384, perFrame)
      expect(batches.length).toBeGreaterThan(5)
      let next = 0
      for (const sealed of batches) {
        expect(validateBatch(sealed.bytes)).toBe(sealed.bytes.length)
        const decoded = decodeRecordBatch(sealed.bytes)
        expect(decoded.header.attributes & 7).toBe(codec)
        expect(decoded.header.recordCount).toBe(sealed.recordCount)
        if (codec === Compression.none) expect(sealed.bytes.length).toBeLessThanOrEqual(16384)
        for (const record of decoded.records) {
          const want = records[next]
          expect(record.key?.toString() ?? null).toBe(want.key ?? null)
          expect(record.value).toEqual(want.value)
          expect(decoded.header.baseTimestamp + record.timestampDelta).toBe(want.timestamp)
          expect(record.headers.length).toBe(want.headers ? 2 : 0)
          if (want.headers) {
            expect(record.headers[0].value).toEqual(Buffer.from([next & 255]))
            expect(record.headers[1].value).toBeNull()
          }
          next++
        }
      }
      expect(next).toBe(records.length)
      if (codec === Compression.none && perFrame < 50) {
        // Small frames fill every batch but the last.
        for (const b of batches.slice(0, -1)) expect(b.bytes.length).toBeGreaterThan(16384 - 200)
      } else if (codec === Compression.none) {
        // Large frames: full batches, except each frame's tail, which is sealed when the next frame's first full chunk arrives.
        const partial = batches.filter((b) => b.bytes.length <= 16384 - 200)
        expect(partial.length).toBeLessThanOrEqual(Math.ceil(records.length / perFrame))
      }
    })
  }

  it('gives a record larger than batch.size a batch of its own', () => {
    const big = Buffer.alloc(40_000, 7)
    const batches = pack([{ value: 'a' }, { value: big }, { value: 'b' }], Compression.none)
    expect(batches.map((b) => b.recordCount)).toEqual([1, 1, 1])
    expect(decodeRecordBatch(batches[1].bytes).records[0].value).toEqual(big)
  })

  it('keeps records intact when rewritten batches outgrow the staged frame (tiny batches, far-apart timestamps)', () => {
    const records: RecordInput[] = Array.from({ length: 300 }, (_, i) => ({
      value: Buffer.from([i & 255]),
      key: i % 2 ? null : Buffer.from([1, 2, 3]),
      timestamp: 1_000_000 + (i % 5) * 2 ** 40,
      headers: i % 7 === 0 ? [{ key: 'x', value: Buffer.from('y') }] : undefined,
    }))
    for (const perFrame of [150, 3]) {
    const batches = pack(records, Compression.none, 90, perFrame)
    expect(batches.length).toBeGreaterThan(100)
    let next = 0
    for (const sealed of batches) {
      const decoded = decodeRecordBatch(sealed.bytes)
      for (const record of decoded.records) {
        const want = records[next++]
        expect(record.value).toEqual(want.value)
        expect(record.key).toEqual(want.key)
        expect(decoded.header.baseTimestamp + record.timestampDelta).toBe(want.timestamp)
        expect(record.headers.length).toBe(want.headers ? 1 : 0)
      }
    }
    expect(next).toBe(records.length)
    }
  })

  it('stores incompressible records plain instead of growing the batch', () => {
    // Random values of varying sizes and timestamps: with equal sizes the records' repeated
    // framing bytes alone let liblz4 (the addon's compressor) shrink the batch a little.
    const records: RecordInput[] = Array.from({ length: 400 }, (_, i) => ({ value: randomBytes(100 + ((i * 37) % 97)), timestamp: 1_700_000_000_000 + ((i * 7919) % 100_000) }))
    const batches = pack(records, Compression.lz4)
    let next = 0
    for (const sealed of batches) {
      const decoded = decodeRecordBatch(sealed.bytes)
      expect(decoded.header.attributes & 7).toBe(Compression.none)
      for (const record of decoded.records) expect(record.value).toEqual(records[next++].value)
    }
    expect(next).toBe(records.length)
  })
})
