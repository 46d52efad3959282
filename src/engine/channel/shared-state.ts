/**
 * Offsets a partition worker publishes for the router, one SharedArrayBuffer per worker with
 * a fixed number of partition slots, so `offsets()` on the main thread is a plain memory read.
 *
 * Per slot: Float64 logStartOffset, logEndOffset, highWatermark, committed byte position of the
 * active segment (exact up to 2^53), last stable offset (transactions), and two Int32 words:
 * - a sequence word the worker makes odd while it writes the four numbers and even after, so a
 *   reader never sees a torn mix of old and new values (a seqlock);
 * - a change counter bumped, with Atomics.notify, only when the high watermark moves: long
 *   polls wait on it with Atomics.waitAsync (see router.waitForData);
 * - a layout generation bumped whenever bytes already in the log's files may stop being what
 *   they were at their position (truncation, retention or DeleteRecords, a cleaner pass, damage
 *   found or repaired, close): a reader on another thread that remembered where a batch sits
 *   trusts that memory only while the generation is unchanged (broker/follower-read-cursors.ts).
 *   Appends and segment rolls leave it alone: they only add bytes.
 */
import type { PartitionOffsets } from '../log-engine.js'

const F64_PER_SLOT = 5
const I32_PER_SLOT = 3
const LOG_START = 0
const LOG_END = 1
const HIGH_WATERMARK = 2
const COMMITTED_POSITION = 3
const LAST_STABLE = 4
const SEQ = 0
const HW_COUNTER = 1
const LAYOUT = 2
const READ_ATTEMPTS = 64

export interface PublishedOffsets extends PartitionOffsets {
  committedPosition: number
}

export class SharedPartitionState {
  readonly buffer: SharedArrayBuffer
  readonly capacity: number
  private readonly numbers: Float64Array
  private readonly words: Int32Array

  constructor(buffer: SharedArrayBuffer, capacity: number) {
    this.buffer = buffer
    this.capacity = capacity
    this.numbers = new Float64Array(buffer, 0, capacity * F64_PER_SLOT)
    this.words = new Int32Array(buffer, capacity * F64_PER_SLOT * 8, capacity * I32_PER_SLOT)
  }

  static create(capacity: number): SharedPartitionState {
    return new SharedPartitionState(new SharedArrayBuffer(capacity * (F64_PER_SLOT * 8 + I32_PER_SLOT * 4)), capacity)
  }

  /** Worker side: publishes a slot's offsets; wakes long polls only if the high watermark or the last stable offset moved. */
  publish(slot: number, logStartOffset: number, logEndOffset: number, highWatermark: number, committedPosition: number, lastStableOffset = highWatermark): void {
    const base = slot * F64_PER_SLOT
    const seqIndex = slot * I32_PER_SLOT + SEQ
    const hwMoved = this.numbers[base + HIGH_WATERMARK] !== highWatermark || this.numbers[base + LAST_STABLE] !== lastStableOffset
    Atomics.add(this.words, seqIndex, 1)
    this.numbers[base + LOG_START] = logStartOffset
    this.numbers[base + LOG_END] = logEndOffset
    this.numbers[base + HIGH_WATERMARK] = highWatermark
    this.numbers[base + COMMITTED_POSITION] = committedPosition
    this.numbers[base + LAST_STABLE] = lastStableOffset
    Atomics.add(this.words, seqIndex, 1)
    if (hwMoved) {
      const counterIndex = slot * I32_PER_SLOT + HW_COUNTER
      Atomics.add(this.words, counterIndex, 1)
      Atomics.notify(this.words, counterIndex)
    }
  }

  /** Worker side: files already written may have changed (see the layout generation above). */
  bumpLayout(slot: number): void {
    Atomics.add(this.words, slot * I32_PER_SLOT + LAYOUT, 1)
  }

  /** A slot's layout generation. */
  layoutGeneration(slot: number): number {
    return Atomics.load(this.words, slot * I32_PER_SLOT + LAYOUT)
  }

  /** Worker side: marks a slot unused (all -1) and wakes its waiters so they re-check. */
  clear(slot: number): void {
    this.bumpLayout(slot)
    this.publish(slot, -1, -1, -1, -1)
  }

  /** A consistent read of a slot, or undefined if the writer kept it busy (never in practice). */
  read(slot: number): PublishedOffsets | undefined {
    const base = slot * F64_PER_SLOT
    const seqIndex = slot * I32_PER_SLOT + SEQ
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const before = Atomics.load(this.words, seqIndex)
      if (before & 1) continue
      const logStartOffset = this.numbers[base + LOG_START]
      const logEndOffset = this.numbers[base + LOG_END]
      const highWatermark = this.numbers[base + HIGH_WATERMARK]
      const committedPosition = this.numbers[base + COMMITTED_POSITION]
      const lastStableOffset = this.numbers[base + LAST_STABLE]
      if (Atomics.load(this.words, seqIndex) === before) return { logStartOffset, logEndOffset, highWatermark, committedPosition, lastStableOffset }
    }
    return undefined
  }

  /** read() into `out` (its committedPosition left out): one object per offsets() call instead of two. False as read() is undefined. */
  readInto(slot: number, out: Omit<PublishedOffsets, 'committedPosition'>): boolean {
    const base = slot * F64_PER_SLOT
    const seqIndex = slot * I32_PER_SLOT + SEQ
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const before = Atomics.load(this.words, seqIndex)
      if (before & 1) continue
      out.logStartOffset = this.numbers[base + LOG_START]
      out.logEndOffset = this.numbers[base + LOG_END]
      out.highWatermark = this.numbers[base + HIGH_WATERMARK]
      out.lastStableOffset = this.numbers[base + LAST_STABLE]
      if (Atomics.load(this.words, seqIndex) === before) return true
    }
    return false
  }

  /** The slot's published log end offset, read without allocating (hot on the leader: every partition of every follower fetch); undefined as read() is. */
  logEndOffset(slot: number): number | undefined {
    const seqIndex = slot * I32_PER_SLOT + SEQ
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const before = Atomics.load(this.words, seqIndex)
      if (before & 1) continue
      const logEndOffset = this.numbers[slot * F64_PER_SLOT + LOG_END]
      if (Atomics.load(this.words, seqIndex) === before) return logEndOffset
    }
    return undefined
  }

  /** The Int32Array and index of a slot's high-watermark change counter (for Atomics.waitAsync). */
  hwCounter(slot: number): { words: Int32Array; index: number } {
    return { words: this.words, index: slot * I32_PER_SLOT + HW_COUNTER }
  }
}
