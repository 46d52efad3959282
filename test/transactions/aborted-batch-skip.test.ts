/**
 * skipAbortedBatches on hand-built logs: only the aborted producers' transactional data inside
 * their aborted spans is left out; other producers' batches (transactional or not) between
 * them, every marker and the range's last batch are kept, adjacent kept batches merge into one
 * piece, and a range with nothing to leave out is answered undefined (sent as it is).
 */
import { Buffer } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import { encodeRecordBatch } from '../../src/protocol/record-batch.js'
import { encodeTxnMarkerBatch } from '../../src/protocol/control-records.js'
import { blockHeaderReader, HEADER_BLOCK_BYTES, skipAbortedBatches, type AbortedSpan } from '../../src/transactions/aborted-batch-skip.js'

interface Spec { producerId: number; transactional?: boolean; marker?: 'commit' | 'abort' }

/** The log as one buffer (file position = buffer index), each batch one record, offsets 0, 1, ... */
function buildLog(specs: readonly Spec[]): { bytes: Buffer; positions: number[] } {
  const parts: Buffer[] = []
  const positions: number[] = []
  let at = 0
  specs.forEach((s, offset) => {
    const batch = s.marker
      ? encodeTxnMarkerBatch({ producerId: s.producerId, producerEpoch: 0, committed: s.marker === 'commit', coordinatorEpoch: 0 })
      : encodeRecordBatch({ records: [{ value: Buffer.from(`v${offset}`) }], producerId: s.producerId, producerEpoch: 0, baseSequence: 0, transactional: s.transactional ?? false })
    batch.writeBigInt64BE(BigInt(offset), 0)
    positions.push(at)
    parts.push(batch)
    at += batch.length
  })
  return { bytes: Buffer.concat(parts), positions }
}

const reader = (bytes: Buffer) => (position: number): Buffer => bytes.subarray(position, position + 61)

/** The offsets (batch indexes) a result keeps. */
function keptOffsets(positions: readonly number[], pieces: readonly { position: number; length: number }[]): number[] {
  return positions.flatMap((p, i) => pieces.some((x) => p >= x.position && p < x.position + x.length) ? [i] : [])
}

describe('skipAbortedBatches', () => {
  // 0 P data, 1 Q data, 2 plain, 3 P data, 4 Q marker commit, 5 P marker abort, 6 P data (next txn, committed), 7 P marker commit
  const specs: Spec[] = [
    { producerId: 7, transactional: true }, { producerId: 8, transactional: true }, { producerId: -1 }, { producerId: 7, transactional: true },
    { producerId: 8, marker: 'commit' }, { producerId: 7, marker: 'abort' }, { producerId: 7, transactional: true }, { producerId: 7, marker: 'commit' },
  ]
  const { bytes, positions } = buildLog(specs)
  const abortedP: AbortedSpan = { producerId: 7, firstOffset: 0, lastOffset: 5 }

  it('leaves out only the aborted producer\'s data inside its span; markers, others and the last batch stay', () => {
    const skip = skipAbortedBatches(0, bytes.length, [abortedP], reader(bytes))
    expect(skip).toBeDefined()
    expect(keptOffsets(positions, skip!.pieces)).toEqual([1, 2, 4, 5, 6, 7])
    expect(skip!.stillSent).toEqual([])
    // 1-2 and 4-7 are two pieces.
    expect(skip!.pieces).toEqual([
      { position: positions[1], length: positions[3]! - positions[1]! },
      { position: positions[4], length: bytes.length - positions[4]! },
    ])
  })

  it('keeps an aborted data batch that ends the range and lists its transaction', () => {
    const end = positions[4]! // the range is batches 0-3: 3 is aborted data and last
    const skip = skipAbortedBatches(0, end, [abortedP], reader(bytes))
    expect(keptOffsets(positions, skip!.pieces).filter((o) => o < 4)).toEqual([1, 2, 3])
    expect(skip!.stillSent).toEqual([abortedP])
  })

  it('a range of one aborted batch is sent as it is', () => {
    expect(skipAbortedBatches(positions[3]!, positions[4]! - positions[3]!, [abortedP], reader(bytes))).toBeUndefined()
  })

  it('another producer\'s aborted span leaves P\'s batches alone', () => {
    expect(skipAbortedBatches(0, bytes.length, [{ producerId: 9, firstOffset: 0, lastOffset: 5 }], reader(bytes))).toBeUndefined()
    expect(skipAbortedBatches(0, bytes.length, [], reader(bytes))).toBeUndefined()
  })

  it('reading headers by blocks gives the same pieces with one read per block, not per batch', () => {
    // 2,000 small batches (about 70 bytes each, so several blocks): producer 1 aborts every
    // other transaction of 9 data batches and a marker; producer 2's plain batches sit between.
    const specs: Spec[] = []
    const spans: AbortedSpan[] = []
    for (let txn = 0; specs.length < 2_000; txn++) {
      const first = specs.length
      for (let i = 0; i < 9; i++) specs.push(i % 3 === 2 ? { producerId: 2 } : { producerId: 1, transactional: true })
      const abort = txn % 2 === 0
      if (abort) spans.push({ producerId: 1, firstOffset: first, lastOffset: specs.length })
      specs.push({ producerId: 1, marker: abort ? 'abort' : 'commit' })
    }
    const { bytes: log } = buildLog(specs)
    expect(log.length).toBeGreaterThan(4 * HEADER_BLOCK_BYTES)
    let reads = 0
    const blocks = blockHeaderReader(log.length, (position, length) => {
      reads++
      return log.subarray(position, position + length)
    })
    const byBlocks = skipAbortedBatches(0, log.length, spans, blocks)
    const byBatch = skipAbortedBatches(0, log.length, spans, reader(log))
    expect(byBlocks).toEqual(byBatch)
    expect(byBlocks!.pieces.length).toBeGreaterThan(50)
    expect(reads).toBeLessThanOrEqual(Math.ceil(log.length / (HEADER_BLOCK_BYTES - 61)) + 1)
  })
})
