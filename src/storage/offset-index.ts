/**
 * Sparse offset index of one segment (Kafka's `.index`): 8-byte entries of u32 offset relative
 * to the segment base and u32 byte position of a batch that starts at that offset. One entry
 * per ~index.interval.bytes of log, both columns strictly increasing, so a binary search finds
 * where to start scanning for an offset (or for a byte budget) in a few header reads.
 *
 * Entries live in memory (5 MiB per GiB of log at the defaults); the file is written whole when
 * the segment rolls or the log closes. After a crash the active segment is past the recovery
 * point, so recovery rebuilds its index from the log rather than trusting a half-written file.
 */
import { Buffer } from 'node:buffer'

export const OFFSET_INDEX_ENTRY_SIZE = 8

export interface OffsetIndexEntry { offset: number; position: number }

export class OffsetIndex {
  private entries: Buffer
  private count = 0

  constructor(readonly baseOffset: number, initialCapacity = 64) {
    this.entries = Buffer.allocUnsafe(initialCapacity * OFFSET_INDEX_ENTRY_SIZE)
  }

  /** Loads a saved index, or returns undefined if it fails the sanity checks (it is then rebuilt). */
  static fromBytes(baseOffset: number, bytes: Buffer, logSize: number): OffsetIndex | undefined {
    if (bytes.length % OFFSET_INDEX_ENTRY_SIZE !== 0) return undefined
    const index = new OffsetIndex(baseOffset, Math.max(64, bytes.length / OFFSET_INDEX_ENTRY_SIZE))
    for (let at = 0; at < bytes.length; at += OFFSET_INDEX_ENTRY_SIZE) {
      const relative = bytes.readUInt32BE(at)
      const position = bytes.readUInt32BE(at + 4)
      const last = index.lastEntry()
      if (position >= logSize) return undefined
      if (last && (baseOffset + relative <= last.offset || position <= last.position)) return undefined
      index.append(baseOffset + relative, position)
    }
    return index
  }

  get entryCount(): number { return this.count }

  /** Adds an entry; offsets and positions must grow (callers append in log order). */
  append(offset: number, position: number): void {
    const relative = offset - this.baseOffset
    if (relative < 0 || relative > 0xffffffff) throw new RangeError(`offset ${offset} does not fit segment ${this.baseOffset}`)
    const last = this.lastEntry()
    if (last && (offset <= last.offset || position <= last.position)) {
      throw new RangeError(`index entry (${offset}, ${position}) does not follow (${last.offset}, ${last.position})`)
    }
    if ((this.count + 1) * OFFSET_INDEX_ENTRY_SIZE > this.entries.length) {
      const grown = Buffer.allocUnsafe(this.entries.length * 2)
      this.entries.copy(grown, 0, 0, this.count * OFFSET_INDEX_ENTRY_SIZE)
      this.entries = grown
    }
    const at = this.count * OFFSET_INDEX_ENTRY_SIZE
    this.entries.writeUInt32BE(relative, at)
    this.entries.writeUInt32BE(position, at + 4)
    this.count++
  }

  private offsetAt(i: number): number { return this.baseOffset + this.entries.readUInt32BE(i * OFFSET_INDEX_ENTRY_SIZE) }
  private positionAt(i: number): number { return this.entries.readUInt32BE(i * OFFSET_INDEX_ENTRY_SIZE + 4) }

  lastEntry(): OffsetIndexEntry | undefined {
    if (this.count === 0) return undefined
    return { offset: this.offsetAt(this.count - 1), position: this.positionAt(this.count - 1) }
  }

  /** The last entry whose column value is <= target, as an index (-1 if none). */
  private floor(target: number, column: (i: number) => number): number {
    let lo = 0
    let hi = this.count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (column.call(this, mid) <= target) { found = mid; lo = mid + 1 } else hi = mid - 1
    }
    return found
  }

  /** Largest entry with offset <= target; the segment start if there is none. */
  lookup(targetOffset: number): OffsetIndexEntry {
    const i = this.floor(targetOffset, this.offsetAt)
    return i < 0 ? { offset: this.baseOffset, position: 0 } : { offset: this.offsetAt(i), position: this.positionAt(i) }
  }

  /** Largest entry with position <= target; the segment start if there is none. */
  lookupByPosition(targetPosition: number): OffsetIndexEntry {
    const i = this.floor(targetPosition, this.positionAt)
    return i < 0 ? { offset: this.baseOffset, position: 0 } : { offset: this.offsetAt(i), position: this.positionAt(i) }
  }

  /** Drops every entry at or past `offset` (log truncation). */
  truncateTo(offset: number): void {
    this.count = this.floor(offset - 1, this.offsetAt) + 1
  }

  /** The entries in file format (a view, valid until the next append). */
  toBytes(): Buffer { return this.entries.subarray(0, this.count * OFFSET_INDEX_ENTRY_SIZE) }
}
