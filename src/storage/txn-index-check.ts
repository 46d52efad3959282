/**
 * The `.txnindex` files checked against the log they describe, and rebuilt from it. Kafka's
 * format has no checksum, and a damaged entry is silent harm: a changed producer id or first
 * offset makes read_committed consumers deliver aborted records or drop committed ones. So at
 * open every entry is checked where the log can check it cheaply (its ABORT marker and the
 * transaction's first batch, a few header reads each), each scrub pass checks that a segment's
 * ABORT markers and its entries are the same set (a cut file loses whole entries), and on any
 * mismatch the index is rebuilt by replaying the log's transactional batches and markers.
 */
import type { Buffer } from 'node:buffer'
import { CONTROL_TYPE_ABORT, CONTROL_TYPE_COMMIT, controlTypeOf, isControlBatch, isTransactionalBatch } from '../protocol/control-records.js'
import { BASE_SEQUENCE_OFFSET, BATCH_HEADER_SIZE, BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD, MAX_TIMESTAMP_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET, readInt64 } from '../protocol/record-batch.js'
import type { AbortedTxn, AbortedTxnIndex } from './aborted-txn-index.js'
import { reportDamagedFile } from './damaged-file.js'
import type { PartitionLog } from './partition-log.js'
import { ProducerStateManager } from './producer-state.js'
import type { ScannedSegment } from './scrub.js'

/** Bytes read per step of a rebuild's replay. */
const REPLAY_READ_BYTES = 1 << 20

/**
 * The batch holding `offset` (undefined outside the log or in a gap): whole, or only its header
 * when `headerOnly` (a transaction's first batch may be large; a marker is a few dozen bytes).
 */
function batchAt(log: PartitionLog, offset: number, headerOnly = false): Buffer | undefined {
  if (offset < log.logStartOffset || offset >= log.logEndOffset) return undefined
  const slice = log.read(offset, 1, { maxOffset: log.logEndOffset })
  if (slice.length === 0 || slice.baseOffsetOfFirstBatch > offset) return undefined
  const header = log.readBytes({ ...slice, length: Math.min(slice.length, BATCH_HEADER_SIZE) })
  const size = LOG_OVERHEAD + header.readInt32BE(BATCH_LENGTH_OFFSET)
  return headerOnly || size <= header.length ? header.subarray(0, Math.min(size, header.length)) : log.readBytes({ ...slice, length: size })
}

/** Why `entry` does not match the log, or undefined. Parts below the log start cannot be checked and pass. */
function entryMismatch(log: PartitionLog, entry: AbortedTxn): string | undefined {
  const marker = batchAt(log, entry.lastOffset)
  if (!marker || readInt64(marker, 0) !== entry.lastOffset || !isControlBatch(marker, 0) || controlTypeOf(marker, 0, marker.length) !== CONTROL_TYPE_ABORT) {
    return `no ABORT marker at offset ${entry.lastOffset}`
  }
  if (readInt64(marker, PRODUCER_ID_OFFSET) !== entry.producerId) return `the ABORT marker at ${entry.lastOffset} is producer ${readInt64(marker, PRODUCER_ID_OFFSET)}'s, not ${entry.producerId}'s`
  if (entry.firstOffset > entry.lastOffset) return `first offset ${entry.firstOffset} after the marker ${entry.lastOffset}`
  if (entry.firstOffset < log.logStartOffset) return undefined
  const first = batchAt(log, entry.firstOffset, true)
  if (!first || readInt64(first, 0) !== entry.firstOffset || !isTransactionalBatch(first, 0) || readInt64(first, PRODUCER_ID_OFFSET) !== entry.producerId) {
    return `offset ${entry.firstOffset} does not start a transactional batch of producer ${entry.producerId}`
  }
  return undefined
}

/** Checks every entry against the log (at open); returns why the index is damaged, or undefined. */
export function txnIndexMismatch(log: PartitionLog, index: AbortedTxnIndex): string | undefined {
  if (index.damage !== undefined) return index.damage
  for (const entry of index.all()) {
    const why = entryMismatch(log, entry)
    if (why !== undefined) return why
  }
  return undefined
}

/**
 * Checks scrubbed segments' entries against their batches, one segment after another in a scrub
 * pass; returns why they differ, or undefined. Every entry needs its ABORT marker. Past a
 * producer's first marker in the scan (from there its transactions are seen whole), each ABORT
 * marker needs an entry exactly when the transaction wrote here, with the first offset of its
 * first batch; before that, a marker after data seen here needs an entry starting no later than
 * that data. A stretch the scan did not see (a new pass, a damaged segment, a compaction gap)
 * starts the tracking over, so nothing is judged on what was not seen.
 */
export class TxnIndexScanCheck {
  /** Producers whose previous marker the scan saw: the first offset of their open transaction's data here, or -1. */
  private readonly tracked = new Map<number, number>()
  /** Producers not yet tracked: the first data batch seen of theirs. */
  private readonly untracked = new Map<number, number>()
  private expectedNext: number | undefined

  mismatch(log: PartitionLog, index: AbortedTxnIndex, scanned: ScannedSegment): string | undefined {
    const first = scanned.batches[0]
    if (first === undefined) return undefined
    if (first.baseOffset !== this.expectedNext) {
      this.tracked.clear()
      this.untracked.clear()
    }
    this.expectedNext = scanned.batches[scanned.batches.length - 1].lastOffset + 1
    const segmentBase = log.segmentBaseOf(first.baseOffset)
    const entries = new Map(index.inSegment(segmentBase).filter((e) => e.lastOffset < this.expectedNext!).map((e) => [`${e.producerId}@${e.lastOffset}`, e]))
    const markers = new Set<string>()
    for (const b of scanned.batches) {
      const producerId = b.txnProducer
      if (producerId === undefined) continue
      if (b.marker === undefined) {
        if (this.tracked.has(producerId)) {
          if (this.tracked.get(producerId)! < 0) this.tracked.set(producerId, b.baseOffset)
        } else if (!this.untracked.has(producerId)) {
          this.untracked.set(producerId, b.baseOffset)
        }
        continue
      }
      const key = `${producerId}@${b.baseOffset}`
      markers.add(key)
      const entry = entries.get(key)
      if (b.marker === 'abort' && b.baseOffset >= log.logStartOffset) {
        const dataFrom = this.tracked.get(producerId)
        if (dataFrom !== undefined) {
          if (dataFrom < 0 && entry) return `${key}: an entry for an abort of a transaction that wrote nothing here`
          if (dataFrom >= 0 && entry?.firstOffset !== dataFrom) return `${key}: ${entry ? `first offset ${entry.firstOffset}` : 'no entry'}, the transaction's data starts at ${dataFrom}`
        } else {
          const seen = this.untracked.get(producerId)
          if (seen !== undefined && !(entry && entry.firstOffset <= seen)) return `${key}: ${entry ? `first offset ${entry.firstOffset}` : 'no entry'}, data was seen from ${seen}`
        }
      }
      this.untracked.delete(producerId)
      this.tracked.set(producerId, -1)
    }
    const extra = [...entries.keys()].filter((k) => !markers.has(k))
    if (extra.length > 0) return `segment ${segmentBase}: entries ${extra.join(', ')} have no ABORT marker`
    return undefined
  }
}

/**
 * Rebuilds the index by replaying every batch of the log with a scratch producer state (each
 * transaction's first offset is where its producer's first transactional batch after the last
 * marker sits), and rewrites its files. Reported as a damaged file: it runs only after damage.
 */
export function rebuildTxnIndex(log: PartitionLog, index: AbortedTxnIndex, reason: string): void {
  const producers = new ProducerStateManager()
  const rebuilt: { entry: AbortedTxn; segmentBase: number }[] = []
  const end = log.logEndOffset
  let offset = log.logStartOffset
  while (offset < end) {
    const slice = log.read(offset, REPLAY_READ_BYTES, { maxOffset: end })
    if (slice.length === 0) break
    const bytes = log.readBytes(slice)
    for (let at = 0; at + LOG_OVERHEAD <= bytes.length;) {
      const size = LOG_OVERHEAD + bytes.readInt32BE(at + BATCH_LENGTH_OFFSET)
      const batchOffset = readInt64(bytes, at)
      const producerId = readInt64(bytes, at + PRODUCER_ID_OFFSET)
      const producerEpoch = bytes.readInt16BE(at + PRODUCER_EPOCH_OFFSET)
      if (isControlBatch(bytes, at)) {
        const committed = controlTypeOf(bytes, at, size) === CONTROL_TYPE_COMMIT
        const done = producerId >= 0 ? producers.completeTxn(producerId, producerEpoch, batchOffset, committed) : undefined
        if (done && !committed) rebuilt.push({ entry: { producerId, firstOffset: done.firstOffset, lastOffset: batchOffset, lastStableOffset: done.firstOffset }, segmentBase: log.segmentBaseOf(batchOffset) })
      } else {
        producers.replayBatch({
          producerId, producerEpoch,
          baseSequence: bytes.readInt32BE(at + BASE_SEQUENCE_OFFSET),
          lastOffsetDelta: bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET),
          transactional: isTransactionalBatch(bytes, at),
        }, batchOffset, readInt64(bytes, at + MAX_TIMESTAMP_OFFSET))
      }
      at += size
    }
    if (slice.nextOffset <= offset) break
    offset = slice.nextOffset
  }
  index.replaceAll(rebuilt)
  reportDamagedFile(index.dir, `.txnindex: ${reason}`, `rebuilt from the log's markers (${rebuilt.length} aborted transactions)`)
}
