/**
 * Background scrubbing of one partition's segments (issue 18, M6): every batch's CRC
 * and offset continuity are re-checked, a little at a time, so that bit rot in data no
 * recovery re-reads (everything before the recovery point, every segment after a clean
 * shutdown) is found and refused to consumers instead of being served. The partition's
 * worker owns its scrubber (the single-writer rule: only that thread marks ranges bad) and
 * drives it with a byte budget per step, which bounds the scrub's read rate. Ranges are kept
 * by file position, so a refusal does not depend on trusting a damaged header's offsets.
 */
import { basename, join } from 'node:path'
import { RinglogError } from '../errors.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { CONTROL_TYPE_ABORT, controlTypeOf, isControlBatch, isTransactionalBatch } from '../protocol/control-records.js'
import { BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD, MAX_TIMESTAMP_OFFSET, MIN_BATCH_LENGTH, PRODUCER_ID_OFFSET, validateBatch } from '../protocol/record-batch.js'
import { LOG_SUFFIX, logFileName, parseSegmentFileName } from './file-names.js'
import { errnoCode, nodeStorageFs, readFully, writeFully, type StorageFs } from './storage-fs.js'

/** A damaged stretch of one segment file: [start, end) in bytes (end Infinity: the rest of it). */
export interface BadRange {
  start: number
  end: number
  /** The first offset it holds, when the batches before it told it (-1: unknown). */
  firstOffset: number
  reason: string
}

/** A damaged range as reported to the partition's owner (a replica may repair it from its leader). */
export interface ScrubDamage {
  path: string
  /** Byte position of the range in the segment file. */
  position: number
  /** Bytes of the range (to the end of the file when its batches could not be parsed). */
  length: number
  /** The offset of its first batch as the batches before it told (-1: unknown). */
  firstOffset: number
  reason: string
}

/** One batch header as a scrub pass saw it (the facts an index must agree with). */
export interface ScannedBatch {
  position: number
  baseOffset: number
  lastOffset: number
  maxTimestamp: number
  /** For a transactional batch (data or marker): its producer. */
  txnProducer?: number
  /** For a control batch: the marker it holds. */
  marker?: 'abort' | 'commit'
}

/** A segment scanned whole with no damage found: its batches, for checking its indexes (PartitionLog.checkIndexes). */
export interface ScannedSegment { path: string; size: number; batches: readonly ScannedBatch[] }

export interface ScrubCounters {
  /** Passes over every segment completed. */
  passes: number
  scannedBytes: number
  /** Damaged batches (or damaged segment tails) found so far. */
  corruptBatches: number
  /** Damaged ranges rewritten with a replica's intact copy (repair). */
  repairedBatches: number
}

interface Cursor {
  path: string
  fd: number
  /** The file's size when the scan of it began: bytes appended later wait for the next pass. */
  size: number
  /** The newest segment, still appended to: a damaged stretch ends at `size`, not at the end of the file. */
  active: boolean
  /** Every batch header seen, until damage is found (then undefined: the indexes are not judged). */
  batches: ScannedBatch[] | undefined
  position: number
  expected: number | undefined
  chunkStart: number
  chunkEnd: number
}

/**
 * Segment bytes are read a chunk at a time into one buffer per thread (one worker's partitions
 * scrub in turn), so a pass costs a read call per MiB rather than two per batch.
 */
const CHUNK_BYTES = 1 << 20
let chunk: Buffer | undefined
let chunkOwner: Cursor | undefined

export class PartitionScrubber {
  readonly counters: ScrubCounters = { passes: 0, scannedBytes: 0, corruptBatches: 0, repairedBatches: 0 }
  private readonly bad = new Map<string, BadRange[]>()
  private queue: number[] | undefined
  private cursor: Cursor | undefined
  private passStartedAt = Number.NEGATIVE_INFINITY
  /** Base offset of the newest segment when the pass began. */
  private newest: number | undefined

  /**
   * `cleanedUpTo`: the log's cleaner checkpoint; an offset gap before a batch starting at or
   * below it is the log cleaner's work (compacted topics), not a flipped base offset.
   */
  constructor(
    private readonly dir: string,
    private readonly report: (message: string) => void,
    private readonly fsi: StorageFs = nodeStorageFs,
    private readonly onDamage: (damage: ScrubDamage) => void = () => undefined,
    private readonly cleanedUpTo: () => number = () => -1,
    /** A segment scanned whole without damage: its owner checks the segment's indexes against it. */
    private readonly onSegmentScanned: (scanned: ScannedSegment) => void = () => undefined,
  ) {}

  /**
   * Scrubs up to about `budget` bytes (at least one batch), starting a new pass when the last
   * one started `intervalMs` ago or more; returns the bytes read.
   */
  step(budget: number, now: number, intervalMs: number): number {
    if (!this.queue) {
      if (now - this.passStartedAt < intervalMs) return 0
      this.startPass(now)
    }
    let spent = 0
    while (spent < budget) {
      if (!this.cursor && !this.openNext()) {
        this.queue = undefined
        this.counters.passes++
        break
      }
      spent += this.scanBatch(this.cursor!)
    }
    this.counters.scannedBytes += spent
    return spent
  }

  /** Throws KAFKA_STORAGE_ERROR if a read of [position, position + length) of `path` starts in a bad range; else the length to serve (cut before one). */
  servableLength(path: string, position: number, length: number): number {
    const ranges = this.bad.get(path)
    if (!ranges) return length
    let servable = length
    for (const r of ranges) {
      if (position >= r.start && position < r.end) {
        throw new RinglogError(ErrorCode.KAFKA_STORAGE_ERROR, `bytes ${r.start}-${r.end === Infinity ? 'end' : r.end} of ${path} failed the scrubber's check (${r.reason}); refused`)
      }
      if (r.start > position && r.start < position + servable) servable = r.start - position
    }
    return servable
  }

  /** The damaged ranges found so far, by segment file. */
  badRanges(): ReadonlyMap<string, readonly BadRange[]> {
    return this.bad
  }

  /**
   * Rewrites the damaged range at `position` of `path` with `bytes`, an intact copy of the same
   * batches from another replica (replicas hold the leader's batches byte for byte, so the copy
   * has the same length and offsets). Checked before anything is written: the copy must be
   * whole batches that pass validateBatch, exactly fill the range, start at the offset the
   * batches before it ended at and end where the batch (or segment) after it starts. Written in
   * place, fdatasynced, and the range is served again; a new pass then re-checks the file.
   * Throws (nothing written) when the copy does not fit.
   */
  repair(path: string, position: number, bytes: Buffer): void {
    const ranges = this.bad.get(path) ?? []
    const range = ranges.find((r) => r.start === position)
    if (!range) throw new Error(`no damaged range at byte ${position} of ${path}`)
    const fd = this.fsi.openSync(path, 'r+')
    try {
      const size = this.fsi.fstatSync(fd).size
      const end = range.end === Infinity ? size : range.end
      if (bytes.length !== end - position) throw new Error(`the copy is ${bytes.length} bytes, the damaged range ${end - position}`)
      let expected = range.firstOffset
      for (let at = 0; at < bytes.length;) {
        if (at + LOG_OVERHEAD > bytes.length) throw new Error('the copy ends inside a batch header')
        const batchSize = LOG_OVERHEAD + bytes.readInt32BE(at + BATCH_LENGTH_OFFSET)
        if (batchSize < LOG_OVERHEAD + MIN_BATCH_LENGTH || at + batchSize > bytes.length) throw new Error('the copy ends inside a batch')
        const batch = bytes.subarray(at, at + batchSize)
        validateBatch(batch)
        const base = Number(batch.readBigInt64BE(0))
        if (expected >= 0 && base !== expected) throw new Error(`the copy's batch at ${at} starts at offset ${base}, ${expected} was due`)
        expected = base + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET) + 1
        at += batchSize
      }
      const following = this.offsetAfter(path, fd, end, size)
      if (following !== undefined && expected !== following) throw new Error(`the copy ends before offset ${expected}, the data after the range starts at ${following}`)
      writeFully(this.fsi, fd, bytes, 0, bytes.length, position)
      this.fsi.fsyncSync(fd)
    } finally {
      this.fsi.closeSync(fd)
    }
    if (chunkOwner?.path === path) chunkOwner = undefined
    ranges.splice(ranges.indexOf(range), 1)
    if (ranges.length === 0) this.bad.delete(path)
    this.counters.repairedBatches++
    this.passStartedAt = Number.NEGATIVE_INFINITY // the next step starts a pass that re-checks the repaired file
    this.report(`scrub: ${path} bytes ${position}-${position + bytes.length} repaired with a replica's copy; served again`)
  }

  /** The base offset of the batch at `end` of the file, or of the next segment when `end` is its size (undefined: none follows). */
  private offsetAfter(path: string, fd: number, end: number, size: number): number | undefined {
    if (end < size) {
      const header = Buffer.alloc(8)
      readFully(this.fsi, fd, header, 0, 8, end)
      return Number(header.readBigInt64BE(0))
    }
    const own = parseSegmentFileName(basename(path), LOG_SUFFIX)
    const later = this.fsi.readdirSync(this.dir).map((n) => parseSegmentFileName(n, LOG_SUFFIX)).filter((b): b is number => b !== undefined && own !== undefined && b > own)
    return later.length > 0 ? Math.min(...later) : undefined
  }

  /**
   * After a truncation: positions may now hold new batches, so the marks (by position) and the
   * pass under way are dropped; the next pass finds whatever damage is still there.
   */
  forget(): void {
    this.close()
    this.bad.clear()
  }

  /** Closes the file being scrubbed (the partition is closing). */
  close(): void {
    if (this.cursor) this.fsi.closeSync(this.cursor.fd)
    if (chunkOwner === this.cursor) chunkOwner = undefined
    this.cursor = undefined
    this.queue = undefined
  }

  /**
   * Lists every segment and forgets ranges of removed files. The newest one is scrubbed too, up
   * to its size when its scan begins: after a clean shutdown no recovery re-reads it, and a
   * segment rolls only at segment.bytes or segment.ms, so it may hold days of data. The worker
   * that appends to it also runs the scrub, so the scan never sees half a batch.
   */
  private startPass(now: number): void {
    this.passStartedAt = now
    const bases = this.fsi.readdirSync(this.dir).map((n) => parseSegmentFileName(n, LOG_SUFFIX)).filter((b): b is number => b !== undefined).sort((a, b) => a - b)
    const paths = new Set(bases.map((b) => this.segmentPath(b)))
    for (const path of [...this.bad.keys()]) if (!paths.has(path)) this.bad.delete(path)
    this.newest = bases[bases.length - 1]
    this.queue = bases
  }

  private segmentPath(base: number): string {
    return join(this.dir, logFileName(base))
  }

  private openNext(): boolean {
    for (;;) {
      const base = this.queue!.shift()
      if (base === undefined) return false
      const path = this.segmentPath(base)
      let fd: number
      try {
        fd = this.fsi.openSync(path, 'r')
      } catch (error) {
        if (errnoCode(error) === 'ENOENT') continue // retention removed it meanwhile
        throw error
      }
      this.cursor = { path, fd, size: this.fsi.fstatSync(fd).size, active: base === this.newest, batches: [], position: 0, expected: base, chunkStart: 0, chunkEnd: 0 }
      return true
    }
  }

  /** `length` bytes of the cursor's file at `position` (within the file), from the chunk when it holds them. */
  private bytesAt(c: Cursor, position: number, length: number): Buffer {
    if (length > CHUNK_BYTES) {
      const out = Buffer.allocUnsafe(length)
      readFully(this.fsi, c.fd, out, 0, length, position)
      return out
    }
    if (chunkOwner !== c || position < c.chunkStart || position + length > c.chunkEnd) {
      chunk ??= Buffer.allocUnsafe(CHUNK_BYTES)
      const n = readFully(this.fsi, c.fd, chunk, 0, Math.min(CHUNK_BYTES, c.size - position), position)
      chunkOwner = c
      c.chunkStart = position
      c.chunkEnd = position + n
    }
    return chunk!.subarray(position - c.chunkStart, position - c.chunkStart + length)
  }

  /** Checks the batch at the cursor and moves past it; returns the bytes read. */
  private scanBatch(c: Cursor): number {
    const done = (): number => {
      if (c.batches) this.onSegmentScanned({ path: c.path, size: c.size, batches: c.batches })
      this.fsi.closeSync(c.fd)
      if (chunkOwner === c) chunkOwner = undefined
      this.cursor = undefined
      return 0
    }
    if (c.position >= c.size) return done()
    if (c.position + LOG_OVERHEAD > c.size) {
      this.markBad(c, Infinity, 'segment ends inside a batch header')
      return done()
    }
    const batchLength = this.bytesAt(c, c.position, LOG_OVERHEAD).readInt32BE(BATCH_LENGTH_OFFSET)
    const size = LOG_OVERHEAD + batchLength
    if (batchLength < MIN_BATCH_LENGTH || c.position + size > c.size) {
      this.markBad(c, Infinity, `batch length ${batchLength} does not fit the segment (the rest of it cannot be parsed)`)
      return done()
    }
    const batch = this.bytesAt(c, c.position, size)
    let valid = true
    try {
      validateBatch(batch)
    } catch (error) {
      valid = false
      this.markBad(c, c.position + size, (error as Error).message)
    }
    if (valid) {
      const base = Number(batch.readBigInt64BE(0))
      const next = base + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET) + 1
      const cleanerGap = c.expected !== undefined && base > c.expected && base <= this.cleanedUpTo()
      if (c.expected !== undefined && base !== c.expected && !cleanerGap) {
        // The base offset is outside the CRC: a flipped one is only seen by continuity; the delta is covered, so the next offset is still known.
        this.markBad(c, c.position + size, `base offset ${base} where ${c.expected} was due`)
        c.expected += batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET) + 1
      } else {
        c.expected = next
      }
      if (c.batches) {
        const scanned: ScannedBatch = { position: c.position, baseOffset: base, lastOffset: next - 1, maxTimestamp: Number(batch.readBigInt64BE(MAX_TIMESTAMP_OFFSET)) }
        if (isTransactionalBatch(batch, 0)) {
          scanned.txnProducer = Number(batch.readBigInt64BE(PRODUCER_ID_OFFSET))
          if (isControlBatch(batch, 0)) scanned.marker = controlTypeOf(batch, 0, size) === CONTROL_TYPE_ABORT ? 'abort' : 'commit'
        }
        c.batches.push(scanned)
      }
    } else {
      c.expected = undefined
    }
    c.position += size
    return size
  }

  private markBad(c: Cursor, rangeEnd: number, reason: string): void {
    c.batches = undefined
    // In the active segment, batches appended after the scan began are not covered by the mark.
    const end = c.active && rangeEnd === Infinity ? c.size : rangeEnd
    const range: BadRange = { start: c.position, end, firstOffset: c.expected ?? -1, reason }
    const ranges = this.bad.get(c.path) ?? []
    if (!ranges.some((r) => r.start === range.start)) {
      ranges.push(range)
      this.bad.set(c.path, ranges)
      this.counters.corruptBatches++
      this.report(`scrub: ${c.path} bytes ${range.start}-${end === Infinity ? 'end' : end}${range.firstOffset >= 0 ? ` (from offset ${range.firstOffset})` : ''}: ${reason}; refused to consumers with KAFKA_STORAGE_ERROR`)
      this.onDamage({ path: c.path, position: range.start, length: (end === Infinity ? c.size : end) - range.start, firstOffset: range.firstOffset, reason })
    }
  }
}
