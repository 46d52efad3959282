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
import type { Buffer } from 'node:buffer'
import { IndexEntries, relativeOffset } from './index-entries.js'

export const OFFSET_INDEX_ENTRY_SIZE = 8

export interface OffsetIndexEntry { offset: number; position: number }

export class OffsetIndex {
  private readonly entries: IndexEntries

  constructor(readonly baseOffset: number, initialCapacity = 64) {
    this.entries = new IndexEntries(OFFSET_INDEX_ENTRY_SIZE, initialCapacity)
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

  get entryCount(): number { return this.entries.count }

  /** The `i`th entry, oldest first. */
  entryAt(i: number): OffsetIndexEntry { return { offset: this.offsetAt(i), position: this.positionAt(i) } }

  /** Adds an entry; offsets and positions must grow (callers append in log order). */
  append(offset: number, position: number): void {
    const relative = relativeOffset(offset, this.baseOffset)
    const last = this.lastEntry()
    if (last && (offset <= last.offset || position <= last.position)) {
      throw new RangeError(`index entry (${offset}, ${position}) does not follow (${last.offset}, ${last.position})`)
    }
    const at = this.entries.add()
    this.entries.bytes.writeUInt32BE(relative, at)
    this.entries.bytes.writeUInt32BE(position, at + 4)
  }

  private offsetAt(i: number): number { return this.baseOffset + this.entries.bytes.readUInt32BE(i * OFFSET_INDEX_ENTRY_SIZE) }
  private positionAt(i: number): number { return this.entries.bytes.readUInt32BE(i * OFFSET_INDEX_ENTRY_SIZE + 4) }

  lastEntry(): OffsetIndexEntry | undefined {
    const last = this.entries.count - 1
    return last < 0 ? undefined : { offset: this.offsetAt(last), position: this.positionAt(last) }
  }

  /** Largest entry with offset <= target; the segment start if there is none. */
  lookup(targetOffset: number): OffsetIndexEntry {
    return this.entryOrStart(this.entries.lastWhere((i) => this.offsetAt(i) <= targetOffset))
  }

  /** Largest entry with position <= target; the segment start if there is none. */
  lookupByPosition(targetPosition: number): OffsetIndexEntry {
    return this.entryOrStart(this.entries.lastWhere((i) => this.positionAt(i) <= targetPosition))
  }

  private entryOrStart(i: number): OffsetIndexEntry {
    return i < 0 ? { offset: this.baseOffset, position: 0 } : { offset: this.offsetAt(i), position: this.positionAt(i) }
  }

  /** Drops every entry at or past `offset` (log truncation). */
  truncateTo(offset: number): void {
    this.entries.count = this.entries.lastWhere((i) => this.offsetAt(i) < offset) + 1
  }

  /** The entries in file format (a view, valid until the next append). */
  toBytes(): Buffer { return this.entries.toBytes() }
}
