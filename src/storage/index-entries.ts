/**
 * What both sparse indexes of a segment keep: a growable run of fixed-size entries, in the
 * byte layout of their files, searched by binary search. Offsets are stored relative to the
 * segment's base offset as u32, as Kafka does.
 */
import { Buffer } from 'node:buffer'

export class IndexEntries {
  /** The entries' bytes (a new buffer after growth: read it anew after `add`). */
  bytes: Buffer
  count = 0

  constructor(readonly entrySize: number, initialCapacity: number) {
    this.bytes = Buffer.allocUnsafe(initialCapacity * entrySize)
  }

  /** Makes room for one more entry and counts it; returns its byte position, for the caller to fill. */
  add(): number {
    if ((this.count + 1) * this.entrySize > this.bytes.length) {
      const grown = Buffer.allocUnsafe(this.bytes.length * 2)
      this.bytes.copy(grown, 0, 0, this.count * this.entrySize)
      this.bytes = grown
    }
    return this.count++ * this.entrySize
  }

  /**
   * The last entry for which `below(i)` holds, -1 if none. `below` must hold for a prefix of
   * the entries and not after it (entries are in log order, so any bound on a growing column).
   */
  lastWhere(below: (i: number) => boolean): number {
    let lo = 0
    let hi = this.count - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (below(mid)) { found = mid; lo = mid + 1 } else hi = mid - 1
    }
    return found
  }

  /** The entries in file format (a view, valid until the next `add`). */
  toBytes(): Buffer { return this.bytes.subarray(0, this.count * this.entrySize) }
}

/** `offset` relative to the segment's base, refused if it does not fit the u32 an entry stores. */
export function relativeOffset(offset: number, baseOffset: number): number {
  const relative = offset - baseOffset
  if (relative < 0 || relative > 0xffffffff) throw new RangeError(`offset ${offset} does not fit segment ${baseOffset}`)
  return relative
}
