/**
 * The log cleaner's map of key -> offset of its newest record in the dirty section (Kafka's
 * SkimpyOffsetMap). Keys are kept whole (as latin1 strings, one char per byte), so two keys
 * never collide; the memory it may take is bounded by an estimate per entry, and once that
 * budget is spent the cleaner stops mapping at a segment boundary and cleans up to there.
 */
import type { Buffer } from 'node:buffer'

/** Rough cost of one entry beyond its key bytes: the Map slot, the string header, the number. */
const ENTRY_OVERHEAD_BYTES = 64

export class OffsetMap {
  private readonly offsets = new Map<string, number>()
  private usedBytes = 0

  constructor(readonly capacityBytes: number) {}

  /** Records `offset` as the newest for `key` (offsets arrive in increasing order). */
  put(key: Buffer, offset: number): void {
    const k = key.toString('latin1')
    if (!this.offsets.has(k)) this.usedBytes += key.length + ENTRY_OVERHEAD_BYTES
    this.offsets.set(k, offset)
  }

  /** The newest offset of `key` in the mapped range, or undefined when it does not occur there. */
  get(key: Buffer): number | undefined {
    return this.offsets.get(key.toString('latin1'))
  }

  get size(): number { return this.offsets.size }
  get full(): boolean { return this.usedBytes >= this.capacityBytes }
}
