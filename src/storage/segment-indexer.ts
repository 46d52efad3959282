/**
 * The one rule for which batches get index entries, shared by live appends and recovery so a
 * rebuilt index equals the one appends would have made: an offset-index entry for a batch once
 * more than index.interval.bytes were written since the last entry (Kafka's rule, so the first
 * batch of a segment needs none), and a time-index entry for the largest timestamp so far.
 */
import { OffsetIndex } from './offset-index.js'
import { TimeIndex } from './time-index.js'

/** Kafka's "no timestamp" (a batch may carry -1; retention then falls back to the file time). */
export const NO_TIMESTAMP = -1

export class SegmentIndexer {
  readonly offsetIndex: OffsetIndex
  readonly timeIndex: TimeIndex
  bytesSinceLastIndexEntry = 0
  maxTimestamp = NO_TIMESTAMP
  offsetOfMaxTimestamp: number

  constructor(readonly baseOffset: number, readonly indexIntervalBytes: number, offsetIndex?: OffsetIndex, timeIndex?: TimeIndex) {
    this.offsetIndex = offsetIndex ?? new OffsetIndex(baseOffset)
    this.timeIndex = timeIndex ?? new TimeIndex(baseOffset)
    this.offsetOfMaxTimestamp = baseOffset
    const lastTime = this.timeIndex.lastEntry()
    if (lastTime) { this.maxTimestamp = lastTime.timestamp; this.offsetOfMaxTimestamp = lastTime.offset }
  }

  /** Accounts for one batch written at `position`. */
  onBatch(baseOffset: number, lastOffset: number, position: number, size: number, maxTimestamp: number): void {
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp
      this.offsetOfMaxTimestamp = lastOffset
    }
    if (this.bytesSinceLastIndexEntry > this.indexIntervalBytes) {
      this.offsetIndex.append(baseOffset, position)
      if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp)
      this.bytesSinceLastIndexEntry = 0
    }
    this.bytesSinceLastIndexEntry += size
  }

  /** Makes the time index's last entry the segment's maximum (on roll and close, as Kafka does). */
  finish(): void {
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp)
  }
}
