/**
 * Sparse time index of one segment (Kafka's `.timeindex`): 12-byte entries of i64 timestamp and
 * u32 offset relative to the segment base. An entry says "every batch up to this offset has
 * timestamps <= this", so timestamps strictly increase (a new entry only for a new maximum) and
 * offsets never decrease. Kept in memory and written whole like the offset index.
 */
import type { Buffer } from 'node:buffer'
import { readInt64, writeInt64 } from '../protocol/record-batch.js'
import { IndexEntries, relativeOffset } from './index-entries.js'

export const TIME_INDEX_ENTRY_SIZE = 12

export interface TimeIndexEntry { timestamp: number; offset: number }

export class TimeIndex {
  private readonly entries: IndexEntries

  constructor(readonly baseOffset: number, initialCapacity = 64) {
    this.entries = new IndexEntries(TIME_INDEX_ENTRY_SIZE, initialCapacity)
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

  get entryCount(): number { return this.entries.count }

  /** The `i`th entry, oldest first. */
  entryAt(i: number): TimeIndexEntry { return { timestamp: this.timestampAt(i), offset: this.offsetAt(i) } }

  /** Records a new maximum timestamp; ignored unless it is larger than the last entry's. */
  maybeAppend(timestamp: number, offset: number): void {
    const last = this.lastEntry()
    if (last && timestamp <= last.timestamp) return
    if (last && offset < last.offset) throw new RangeError(`time index offset ${offset} goes back from ${last.offset}`)
    const relative = relativeOffset(offset, this.baseOffset)
    const at = this.entries.add()
    writeInt64(this.entries.bytes, at, timestamp)
    this.entries.bytes.writeUInt32BE(relative, at + 8)
  }

  private timestampAt(i: number): number { return readInt64(this.entries.bytes, i * TIME_INDEX_ENTRY_SIZE) }
  private offsetAt(i: number): number { return this.baseOffset + this.entries.bytes.readUInt32BE(i * TIME_INDEX_ENTRY_SIZE + 8) }

  lastEntry(): TimeIndexEntry | undefined {
    const last = this.entries.count - 1
    return last < 0 ? undefined : { timestamp: this.timestampAt(last), offset: this.offsetAt(last) }
  }

  /**
   * Where to start scanning for the first batch with a timestamp >= target: the last entry whose
   * timestamp is strictly below it (every batch up to its offset is too old), if any.
   */
  entryBefore(targetTimestamp: number): TimeIndexEntry | undefined {
    const found = this.entries.lastWhere((i) => this.timestampAt(i) < targetTimestamp)
    return found < 0 ? undefined : { timestamp: this.timestampAt(found), offset: this.offsetAt(found) }
  }

  /** Drops entries at or past `offset`. */
  truncateTo(offset: number): void {
    this.entries.count = this.entries.lastWhere((i) => this.offsetAt(i) < offset) + 1
  }

  /** The entries in file format (a view, valid until the next append). */
  toBytes(): Buffer { return this.entries.toBytes() }
}
