/**
 * Sparse time index of one segment (Kafka's `.timeindex`): 12-byte entries of i64 timestamp and
 * u32 offset relative to the segment base. An entry says "every batch up to this offset has
 * timestamps <= this", so timestamps strictly increase (a new entry only for a new maximum) and
 * offsets never decrease. Kept in memory and written whole like the offset index.
 */
import { Buffer } from 'node:buffer'
import { readInt64, writeInt64 } from '../protocol/record-batch.js'

export const TIME_INDEX_ENTRY_SIZE = 12

export interface TimeIndexEntry { timestamp: number; offset: number }

export class TimeIndex {
  private entries: Buffer
  private count = 0

  constructor(readonly baseOffset: number, initialCapacity = 64) {
    this.entries = Buffer.allocUnsafe(initialCapacity * TIME_INDEX_ENTRY_SIZE)
  }

  /** Loads a saved time index, or undefined if it fails the sanity checks; offsets must be below `nextOffset`. */
  static fromBytes(baseOffset: number, bytes: Buffer, nextOffset: number): TimeIndex | undefined {
    if (bytes.length % TIME_INDEX_ENTRY_SIZE !== 0) return undefined
    const index = new TimeIndex(baseOffset, Math.max(64, bytes.length / TIME_INDEX_ENTRY_SIZE))
    for (let at = 0; at < bytes.length; at += TIME_INDEX_ENTRY_SIZE) {
      const timestamp = readInt64(bytes, at)
      const offset = baseOffset + bytes.readUInt32BE(at + 8)
      const last = index.lastEntry()
      if (offset >= nextOffset) return undefined
      if (last && (timestamp <= last.timestamp || offset < last.offset)) return undefined
      index.maybeAppend(timestamp, offset)
    }
    return index
  }

  get entryCount(): number { return this.count }

  /** Records a new maximum timestamp; ignored unless it is larger than the last entry's. */
  maybeAppend(timestamp: number, offset: number): void {
    const last = this.lastEntry()
    if (last && timestamp <= last.timestamp) return
    if (last && offset < last.offset) throw new RangeError(`time index offset ${offset} goes back from ${last.offset}`)
    const relative = offset - this.baseOffset
    if (relative < 0 || relative > 0xffffffff) throw new RangeError(`offset ${offset} does not fit segment ${this.baseOffset}`)
    if ((this.count + 1) * TIME_INDEX_ENTRY_SIZE > this.entries.length) {
      const grown = Buffer.allocUnsafe(this.entries.length * 2)
      this.entries.copy(grown, 0, 0, this.count * TIME_INDEX_ENTRY_SIZE)
      this.entries = grown
    }
    const at = this.count * TIME_INDEX_ENTRY_SIZE
    writeInt64(this.entries, at, timestamp)
    this.entries.writeUInt32BE(relative, at + 8)
    this.count++
  }

  private timestampAt(i: number): number { return readInt64(this.entries, i * TIME_INDEX_ENTRY_SIZE) }
  private offsetAt(i: number): number { return this.baseOffset + this.entries.readUInt32BE(i * TIME_INDEX_ENTRY_SIZE + 8) }

  lastEntry(): TimeIndexEntry | undefined {
    if (this.count === 0) return undefined
    return { timestamp: this.timestampAt(this.count - 1), offset: this.offsetAt(this.count - 1) }
  }

  /**
   * Where to start scanning for the first batch with a timestamp >= target: the offset of the
   * last entry whose timestamp is strictly below it (every batch up to there is too old), or
   * the segment base.
   */
  lookupBefore(targetTimestamp: number): number {
    let lo = 0
    let hi = this.count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.timestampAt(mid) < targetTimestamp) { found = mid; lo = mid + 1 } else hi = mid - 1
    }
    return found < 0 ? this.baseOffset : this.offsetAt(found)
  }

  /** Drops entries at or past `offset`. */
  truncateTo(offset: number): void {
    while (this.count > 0 && this.offsetAt(this.count - 1) >= offset) this.count--
  }

  toBytes(): Buffer { return this.entries.subarray(0, this.count * TIME_INDEX_ENTRY_SIZE) }
}
