/**
 * Aborted transactions of one partition, kept as Kafka keeps them: one `<base>.txnindex` file
 * per segment holding the transactions whose ABORT marker lies in that segment, each entry 34
 * bytes (version i16 = 0, producerId i64, firstOffset i64, lastOffset i64 = the marker's offset,
 * lastStableOffset i64 when it was written). A read_committed fetch gets the entries that
 * overlap its range, so the client can drop those producers' records.
 *
 * An entry is appended and fdatasynced when its marker is appended (aborts are rare). After a
 * crash the files may hold entries past the log end (cut) or miss entries of markers the
 * producer-state replay meets again (added, deduplicated by marker offset).
 */
import { Buffer } from 'node:buffer'
import { closeSync, fdatasyncSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { readInt64, writeInt64 } from '../protocol/record-batch.js'
import { writeFileAtomicSync } from './atomic-file.js'
import { parseSegmentFileName, TXN_INDEX_SUFFIX, txnIndexFileName } from './file-names.js'

const ENTRY_BYTES = 34
const ENTRY_VERSION = 0

export interface AbortedTxn {
  producerId: number
  firstOffset: number
  /** The ABORT marker's offset. */
  lastOffset: number
  lastStableOffset: number
}

interface Stored extends AbortedTxn { segmentBase: number }

export function encodeAbortedTxn(entry: AbortedTxn): Buffer {
  const out = Buffer.alloc(ENTRY_BYTES)
  out.writeInt16BE(ENTRY_VERSION, 0)
  writeInt64(out, 2, entry.producerId)
  writeInt64(out, 10, entry.firstOffset)
  writeInt64(out, 18, entry.lastOffset)
  writeInt64(out, 26, entry.lastStableOffset)
  return out
}

/** Whole entries of a `.txnindex` file; a torn tail (crash mid-append) or an unknown version ends the list. */
export function decodeAbortedTxns(bytes: Buffer): AbortedTxn[] {
  const out: AbortedTxn[] = []
  for (let at = 0; at + ENTRY_BYTES <= bytes.length; at += ENTRY_BYTES) {
    if (bytes.readInt16BE(at) !== ENTRY_VERSION) break
    out.push({ producerId: readInt64(bytes, at + 2), firstOffset: readInt64(bytes, at + 10), lastOffset: readInt64(bytes, at + 18), lastStableOffset: readInt64(bytes, at + 26) })
  }
  return out
}

export class AbortedTxnIndex {
  /** Sorted by marker offset. */
  private entries: Stored[] = []
  /**
   * At least the largest lastOffset - firstOffset of any entry (never lowered when entries go:
   * an upper bound is all `overlapping` needs). Entries are sorted by lastOffset, so past the
   * one whose lastOffset - widest >= to, no firstOffset can be below `to`: the scan stops there
   * instead of walking every later entry of the partition on each fetch.
   */
  private widest = 0

  /** Set by load when a file is malformed (see load). */
  damage: string | undefined

  private constructor(readonly dir: string) {}

  /**
   * Loads every `.txnindex` in `dir`, keeping entries in [logStartOffset, logEndOffset); files
   * left inconsistent are rewritten. A file that is not whole entries of version 0, ordered by
   * marker offset and at or past its segment's base, sets `damage` (the caller checks the rest
   * against the log and rebuilds: see txn-index-check.ts).
   */
  static load(dir: string, logStartOffset: number, logEndOffset: number): AbortedTxnIndex {
    const index = new AbortedTxnIndex(dir)
    let names: string[] = []
    try { names = readdirSync(dir) } catch { /* a new partition */ }
    for (const name of names) {
      const base = parseSegmentFileName(name, TXN_INDEX_SUFFIX)
      if (base === undefined) continue
      const path = join(dir, name)
      const bytes = readFileSync(path)
      const all = decodeAbortedTxns(bytes)
      const why = bytes.length !== all.length * ENTRY_BYTES ? `${name} is not whole version-0 entries (${bytes.length} bytes, ${all.length} entries read)`
        : all.some((e, i) => e.lastOffset < base || (i > 0 && e.lastOffset <= all[i - 1].lastOffset)) ? `${name} holds entries out of order or before its segment`
          : undefined
      index.damage ??= why
      const kept = all.filter((e) => e.lastOffset >= logStartOffset && e.lastOffset < logEndOffset)
      for (const e of kept) index.entries.push({ ...e, segmentBase: base })
      if (why !== undefined) continue // left as it is for the rebuild to replace
      if (kept.length === 0) rmSync(path, { force: true })
      else if (kept.length !== all.length) writeFileAtomicSync(path, Buffer.concat(kept.map(encodeAbortedTxn)))
    }
    index.entries.sort((a, b) => a.lastOffset - b.lastOffset)
    index.widen(index.entries)
    return index
  }

  /** Every entry, by marker offset. */
  all(): AbortedTxn[] {
    return this.entries.map(({ segmentBase: _, ...entry }) => entry)
  }

  /** The entries whose marker is in the segment based at `segmentBase`. */
  inSegment(segmentBase: number): AbortedTxn[] {
    return this.entries.filter((e) => e.segmentBase === segmentBase).map(({ segmentBase: _, ...entry }) => entry)
  }

  /** Replaces every entry and file (a rebuild from the log). */
  replaceAll(entries: readonly { entry: AbortedTxn; segmentBase: number }[]): void {
    for (const name of readdirSync(this.dir)) if (parseSegmentFileName(name, TXN_INDEX_SUFFIX) !== undefined) rmSync(join(this.dir, name), { force: true })
    this.entries = entries.map(({ entry, segmentBase }) => ({ ...entry, segmentBase })).sort((a, b) => a.lastOffset - b.lastOffset)
    this.widen(this.entries)
    this.rewrite(new Set(this.entries.map((e) => e.segmentBase)))
    this.damage = undefined
  }

  get size(): number { return this.entries.length }

  /** Records an aborted transaction whose marker is in the segment based at `segmentBase` (once per marker offset). */
  add(entry: AbortedTxn, segmentBase: number): void {
    const last = this.entries[this.entries.length - 1]
    if (last && last.lastOffset >= entry.lastOffset) {
      if (this.entries.some((e) => e.lastOffset === entry.lastOffset)) return
    }
    const fd = openSync(join(this.dir, txnIndexFileName(segmentBase)), 'a')
    try {
      writeSync(fd, encodeAbortedTxn(entry))
      fdatasyncSync(fd)
    } finally {
      closeSync(fd)
    }
    this.entries.push({ ...entry, segmentBase })
    this.widen([entry])
    if (last && last.lastOffset > entry.lastOffset) this.entries.sort((a, b) => a.lastOffset - b.lastOffset)
  }

  /** Aborted transactions that overlap [from, to): their marker is at or after `from` and they began before `to` (Kafka's collectAbortedTxns). */
  overlapping(from: number, to: number): AbortedTxn[] {
    const out: AbortedTxn[] = []
    for (let i = this.firstAtOrAfter(from); i < this.entries.length; i++) {
      const e = this.entries[i]
      if (e.lastOffset - this.widest >= to) break
      if (e.firstOffset < to) out.push({ producerId: e.producerId, firstOffset: e.firstOffset, lastOffset: e.lastOffset, lastStableOffset: e.lastStableOffset })
    }
    return out
  }

  /** Drops entries whose marker is at or past `offset` (log truncation) and rewrites their files. */
  truncateFrom(offset: number): void {
    const cut = this.entries.filter((e) => e.lastOffset >= offset)
    if (cut.length === 0) return
    this.entries = this.entries.filter((e) => e.lastOffset < offset)
    this.rewrite(new Set(cut.map((e) => e.segmentBase)))
  }

  /** Drops entries whose marker is below `logStartOffset` (retention, DeleteRecords), with files left empty. */
  dropBelow(logStartOffset: number): void {
    const gone = this.entries.filter((e) => e.lastOffset < logStartOffset)
    if (gone.length === 0) return
    this.entries = this.entries.filter((e) => e.lastOffset >= logStartOffset)
    this.rewrite(new Set(gone.map((e) => e.segmentBase)))
  }

  private rewrite(bases: Set<number>): void {
    for (const base of bases) {
      const path = join(this.dir, txnIndexFileName(base))
      const kept = this.entries.filter((e) => e.segmentBase === base)
      if (kept.length === 0) rmSync(path, { force: true })
      else writeFileAtomicSync(path, Buffer.concat(kept.map(encodeAbortedTxn)))
    }
  }

  private widen(entries: readonly AbortedTxn[]): void {
    for (const e of entries) this.widest = Math.max(this.widest, e.lastOffset - e.firstOffset)
  }

  private firstAtOrAfter(offset: number): number {
    let lo = 0
    let hi = this.entries.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.entries[mid].lastOffset < offset) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
