/**
 * Kafka's log cleaner for one partition (cleanup.policy=compact), run by the partition's own
 * worker, the log's only writer, in bounded steps: each `step` maps or rewrites at most one
 * segment, so appends never wait for more than one segment's worth of work.
 *
 * A pass, as Kafka's LogCleaner does it:
 * - The cleanable range ends at the first uncleanable offset: the active segment (never
 *   cleaned), the first segment holding an offset at or past the last stable offset (open
 *   transactions), and the first segment with a record younger than min.compaction.lag.ms.
 *   Segments below the cleaner checkpoint are "clean", the rest of the range "dirty"; a pass
 *   starts when dirty / (clean + dirty) bytes reach min.cleanable.dirty.ratio.
 * - Map: key -> offset of its newest record, over the dirty segments, one per step, until the
 *   map's memory budget is spent (then the pass ends at that segment boundary).
 * - The checkpoint moves to the end of the mapped range before anything is swapped, so
 *   recovery knows offset gaps below it are the cleaner's.
 * - Clean: every segment from the log start to the end of the mapped range, one per step. A
 *   record is kept when its key is not in the map or it is the newest of its key; a newest
 *   record with a null value (a tombstone) is dropped once its timestamp is older than
 *   delete.retention.ms. Retained records keep their offsets (gaps are normal in a compacted
 *   log); a batch whose records all stay is copied byte for byte, one that loses some is
 *   rebuilt with the rest (same base offset and codec), one that loses all is dropped; a
 *   segment left with nothing is removed (Kafka merges small segments instead; not done here).
 *   Transactional and control batches are copied unchanged and never enter the map (aborted
 *   data must not supersede committed records; removing transaction data is not done here).
 * - Swap: the replacement is written to `.cleaned` files, fsynced with its indexes, renamed to
 *   `.swap`, the directory fsynced; then the original is retired (`.deleted`, removed after
 *   file.delete.delay.ms so a fetch still sending from it completes) and the `.swap` files take
 *   its names. cleaner-recovery.ts finishes a crash at any point of this on the next open.
 */
import { Buffer } from 'node:buffer'
import { join } from 'node:path'
import { isControlBatch, isTransactionalBatch } from '../protocol/control-records.js'
import { BATCH_HEADER_SIZE, BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, LOG_OVERHEAD, MAX_TIMESTAMP_OFFSET, readInt64, validateBatch } from '../protocol/record-batch.js'
import { readBatchRecords, rebuildBatch, type StoredRecord } from './cleaner-records.js'
import { CLEANED_SUFFIX, indexFileName, logFileName, SWAP_SUFFIX, timeIndexFileName } from './file-names.js'
import { OffsetMap } from './offset-map.js'
import type { PartitionLog } from './partition-log.js'
import { Segment } from './segment.js'
import { SegmentIndexer } from './segment-indexer.js'
import { readFully, writeFully, type StorageFs } from './storage-fs.js'
import { writeFileFlushedSync } from './atomic-file.js'

/** Cleaner totals since the partition opened (metrics and stats). */
export interface CleanerCounters {
  /** Cleaning passes completed. */
  passes: number
  /** Bytes of segments read and rewritten by the cleaner. */
  cleanedBytes: number
  /** Bytes the rewritten segments lost. */
  removedBytes: number
  /** Records removed: superseded by a newer record of their key, or expired tombstones. */
  removedRecords: number
}

/** What one finished pass did (the worker logs it). */
export interface CleanerPassSummary {
  segments: number
  cleanedBytes: number
  removedBytes: number
  removedRecords: number
  /** The cleaner checkpoint after the pass. */
  cleanedUpTo: number
  durationMs: number
}

export interface LogCleanerOptions {
  /** Memory budget of the key -> offset map (Kafka's log.cleaner.dedupe.buffer.size, per partition here). */
  offsetMapBytes?: number
  /** Called after each completed pass. */
  onPass?: (summary: CleanerPassSummary) => void
}

const DEFAULT_OFFSET_MAP_BYTES = 32 * 1024 * 1024
const CHUNK_BYTES = 1 << 20
const WRITE_CHUNK_BYTES = 1 << 20
/** After a failed step (a damaged batch, a full disk) the cleaner leaves the partition alone this long. */
const FAILURE_BACKOFF_MS = 30_000

interface Pass {
  map: OffsetMap
  /** Base offsets of the dirty segments still to map. */
  toMap: number[]
  /** End (exclusive) of the mapped range; set once mapping ends. */
  mappedEnd: number
  /** Base offsets of the segments still to clean. */
  toClean: number[]
  truncationCount: number
  startedAt: number
  summary: CleanerPassSummary
}

/**
 * How much of its thread the cleaner may take while it has work: after a step that took `d` ms
 * the next waits until `d / share` ms have passed since that step began, so appends on the same
 * worker keep at least 1 - share of the thread (bench/log-cleaner.bench.ts measures it).
 */
export const CLEANER_THREAD_SHARE = 0.2

export class CleanerPacer {
  private notBefore = 0

  constructor(private readonly share = CLEANER_THREAD_SHARE) {}

  /** Whether a step may run at `now` (performance.now() milliseconds). */
  ready(now: number): boolean { return now >= this.notBefore }

  /** Records a step that ran from `startedAt` to `endedAt` (a step that did nothing costs no pause). */
  ran(startedAt: number, endedAt: number): void {
    this.notBefore = startedAt + (endedAt - startedAt) / this.share
  }
}

export class LogCleaner {
  readonly counters: CleanerCounters = { passes: 0, cleanedBytes: 0, removedBytes: 0, removedRecords: 0 }
  private pass: Pass | undefined
  private backoffUntil = 0
  private readonly offsetMapBytes: number

  constructor(private readonly log: PartitionLog, private readonly options: LogCleanerOptions = {}) {
    this.offsetMapBytes = options.offsetMapBytes ?? DEFAULT_OFFSET_MAP_BYTES
  }

  /** Whether a pass is under way (its next step maps or cleans a segment). */
  get busy(): boolean { return this.pass !== undefined }

  /**
   * One bounded step: starts a pass if the dirty ratio calls for one, else maps or cleans one
   * segment of the pass under way. `lastStableOffset` bounds the cleanable range (records of
   * open transactions stay dirty). Returns the segment bytes read (0: nothing to do).
   */
  step(lastStableOffset: number): number {
    const log = this.log
    if (!log.config.compact || log.isOffline || log.now() < this.backoffUntil) return 0
    try {
      return this.stepOnce(lastStableOffset)
    } catch (error) {
      // Kafka marks such a partition uncleanable; here it rests and the next pass starts afresh.
      this.pass = undefined
      this.backoffUntil = log.now() + FAILURE_BACKOFF_MS
      throw error
    }
  }

  private stepOnce(lastStableOffset: number): number {
    const log = this.log
    let pass = this.pass
    if (pass && pass.truncationCount !== log.truncationCount) pass = this.pass = undefined
    if (!pass) {
      pass = this.startPass(lastStableOffset)
      if (!pass) return 0
      this.pass = pass
    }
    const mapBase = pass.toMap.shift()
    if (mapBase !== undefined) {
      const segment = this.segmentAt(mapBase)
      const read = segment ? this.mapSegment(pass.map, segment) : 0
      const next = pass.toMap[0]
      // Memory spent: the pass cleans up to this segment's end and the rest waits for the next one.
      if (pass.map.full && next !== undefined) pass.toMap.length = 0
      if (pass.toMap.length === 0) {
        pass.mappedEnd = next ?? this.endAfter(mapBase)
        log.setCleanedUpTo(pass.mappedEnd)
        pass.toClean = log.closedSegments.filter((s) => s.baseOffset < pass.mappedEnd).map((s) => s.baseOffset)
      }
      return read
    }
    const cleanBase = pass.toClean.shift()
    let read = 0
    if (cleanBase !== undefined) {
      const segment = this.segmentAt(cleanBase)
      if (segment) read = this.cleanSegment(pass, segment)
    }
    if (pass.toClean.length === 0) this.finishPass(pass)
    return read
  }

  /** Stops the pass under way (the log is closing or being cut); the next step starts afresh. */
  abandon(): void { this.pass = undefined }

  /** The dirty ratio of the log now, and its cleanable segments: for tests and the decision below. */
  cleanableState(lastStableOffset: number): { cleanBytes: number; dirtyBytes: number; dirty: Segment[]; firstUncleanable: number } {
    const log = this.log
    const now = log.now()
    const closed = log.closedSegments
    let firstUncleanable = log.activeSegmentBaseOffset
    for (const segment of closed) {
      const end = this.endAfter(segment.baseOffset)
      const tooYoung = log.config.minCompactionLagMs > 0 && segment.maxTimestamp > now - log.config.minCompactionLagMs
      if (end > lastStableOffset || tooYoung) { firstUncleanable = segment.baseOffset; break }
    }
    let cleanBytes = 0
    let dirtyBytes = 0
    const dirty: Segment[] = []
    for (const segment of closed) {
      if (segment.baseOffset >= firstUncleanable) break
      if (segment.baseOffset < log.cleanedUpTo) cleanBytes += segment.size
      else { dirtyBytes += segment.size; dirty.push(segment) }
    }
    return { cleanBytes, dirtyBytes, dirty, firstUncleanable }
  }

  private startPass(lastStableOffset: number): Pass | undefined {
    const { cleanBytes, dirtyBytes, dirty } = this.cleanableState(lastStableOffset)
    if (dirty.length === 0 || dirtyBytes === 0) return undefined
    if (dirtyBytes / (cleanBytes + dirtyBytes) < this.log.config.minCleanableDirtyRatio) return undefined
    return {
      map: new OffsetMap(this.offsetMapBytes),
      toMap: dirty.map((s) => s.baseOffset),
      mappedEnd: -1,
      toClean: [],
      truncationCount: this.log.truncationCount,
      startedAt: performance.now(),
      summary: { segments: 0, cleanedBytes: 0, removedBytes: 0, removedRecords: 0, cleanedUpTo: -1, durationMs: 0 },
    }
  }

  private finishPass(pass: Pass): void {
    this.pass = undefined
    this.counters.passes++
    pass.summary.cleanedUpTo = pass.mappedEnd
    pass.summary.durationMs = performance.now() - pass.startedAt
    this.options.onPass?.(pass.summary)
  }

  private segmentAt(baseOffset: number): Segment | undefined {
    return this.log.closedSegments.find((s) => s.baseOffset === baseOffset)
  }

  /** Where the segment at `baseOffset` ends: the next segment's base offset. */
  private endAfter(baseOffset: number): number {
    const closed = this.log.closedSegments
    const i = closed.findIndex((s) => s.baseOffset === baseOffset)
    return i >= 0 && i + 1 < closed.length ? closed[i + 1].baseOffset : this.log.activeSegmentBaseOffset
  }

  private mapSegment(map: OffsetMap, segment: Segment): number {
    return forEachBatch(this.log.storageFs, segment, (bytes, at, size) => {
      if (isControlBatch(bytes, at) || isTransactionalBatch(bytes, at)) return
      for (const record of readBatchRecords(bytes, at, size).records) if (record.key !== null) map.put(record.key, record.offset)
    })
  }

  /** Rewrites one segment without its superseded records and swaps the result in. */
  private cleanSegment(pass: Pass, segment: Segment): number {
    const log = this.log
    const fsi = log.storageFs
    const horizon = log.now() - log.config.deleteRetentionMs
    const stem = join(log.dir, logFileName(segment.baseOffset))
    const cleanedLog = stem + CLEANED_SUFFIX
    const indexer = new SegmentIndexer(segment.baseOffset, log.config.indexIntervalBytes)
    const fd = fsi.openSync(cleanedLog, 'w')
    let written = 0
    let removedRecords = 0
    let pending: Buffer[] = []
    let pendingBytes = 0
    const flushPending = (): void => {
      if (pendingBytes === 0) return
      const out = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes)
      writeFully(fsi, fd, out, 0, out.length, written - pendingBytes)
      pending = []
      pendingBytes = 0
    }
    const emit = (batch: Buffer): void => {
      const baseOffset = readInt64(batch, 0)
      indexer.onBatch(baseOffset, baseOffset + batch.readInt32BE(LAST_OFFSET_DELTA_OFFSET), written, batch.length, readInt64(batch, MAX_TIMESTAMP_OFFSET))
      pending.push(batch)
      pendingBytes += batch.length
      written += batch.length
      if (pendingBytes >= WRITE_CHUNK_BYTES) flushPending()
    }
    let read: number
    try {
      read = forEachBatch(fsi, segment, (bytes, at, size) => {
        if (isControlBatch(bytes, at) || isTransactionalBatch(bytes, at)) { emit(Buffer.from(bytes.subarray(at, at + size))); return }
        const parsed = readBatchRecords(bytes, at, size)
        const kept: StoredRecord[] = []
        for (const record of parsed.records) {
          if (record.key !== null) {
            const newest = pass.map.get(record.key)
            if (newest !== undefined && record.offset < newest) continue
            if (record.tombstone && record.timestamp < horizon) continue
          }
          kept.push(record)
        }
        removedRecords += parsed.records.length - kept.length
        if (kept.length === parsed.records.length) emit(Buffer.from(bytes.subarray(at, at + size)))
        else if (kept.length > 0) emit(rebuildBatch(bytes, at, parsed, kept))
      })
      flushPending()
      if (written === 0) {
        fsi.closeSync(fd)
        fsi.unlinkSync(cleanedLog)
        return this.replaced(pass, segment, log.replaceSegment(segment, 'nothing'), read, 0, removedRecords)
      }
      indexer.finish()
      const indexes: [string, Buffer][] = [
        [join(log.dir, indexFileName(segment.baseOffset)), indexer.offsetIndex.toBytes()],
        [join(log.dir, timeIndexFileName(segment.baseOffset)), indexer.timeIndex.toBytes()],
      ]
      for (const [path, bytes] of indexes) writeFileFlushedSync(path + CLEANED_SUFFIX, bytes, fsi)
      fsi.fsyncSync(fd)
      fsi.closeSync(fd)
      // Indexes first, the log last: a `.log.swap` on disk means the whole replacement is there.
      for (const [path] of indexes) fsi.renameSync(path + CLEANED_SUFFIX, path + SWAP_SUFFIX)
      fsi.renameSync(cleanedLog, stem + SWAP_SUFFIX)
      fsyncDir(fsi, log.dir)
    } catch (error) {
      try { fsi.closeSync(fd) } catch { /* already closed */ }
      for (const path of [cleanedLog, join(log.dir, indexFileName(segment.baseOffset)) + CLEANED_SUFFIX, join(log.dir, timeIndexFileName(segment.baseOffset)) + CLEANED_SUFFIX]) {
        try { fsi.unlinkSync(path) } catch { /* the next open removes it */ }
      }
      throw error
    }
    const replaced = log.replaceSegment(segment, () => {
      for (const path of [join(log.dir, indexFileName(segment.baseOffset)), join(log.dir, timeIndexFileName(segment.baseOffset)), stem]) {
        fsi.renameSync(path + SWAP_SUFFIX, path)
      }
      fsyncDir(fsi, log.dir)
      const opened = Segment.openTrusted(fsi, log.dir, segment.baseOffset, log.config.indexIntervalBytes)
      if (!opened) throw new Error(`the cleaned ${stem} does not match its indexes`)
      return opened
    })
    return this.replaced(pass, segment, replaced, read, written, removedRecords)
  }

  /** Counts a rewritten segment (`written` bytes of it kept) in the pass and the totals. */
  private replaced(pass: Pass, segment: Segment, replaced: boolean, read: number, written: number, removedRecords: number): number {
    if (!replaced) return read
    const removedBytes = segment.size - written
    pass.summary.segments++
    pass.summary.cleanedBytes += segment.size
    pass.summary.removedBytes += removedBytes
    pass.summary.removedRecords += removedRecords
    this.counters.cleanedBytes += segment.size
    this.counters.removedBytes += removedBytes
    this.counters.removedRecords += removedRecords
    return read
  }
}


function fsyncDir(fsi: StorageFs, dir: string): void {
  const fd = fsi.openSync(dir, 'r')
  try {
    fsi.fsyncSync(fd)
  } finally {
    fsi.closeSync(fd)
  }
}

/**
 * Calls `visit` for every batch of the segment, CRC-checked, read a MiB at a time; returns the
 * bytes read. A damaged batch throws: the cleaner never rewrites what it cannot trust.
 */
function forEachBatch(fsi: StorageFs, segment: Segment, visit: (bytes: Buffer, at: number, size: number) => void): number {
  return segment.pinnedFor(() => {
    const size = segment.size
    let chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(BATCH_HEADER_SIZE, size)))
    let chunkStart = 0
    let chunkLength = 0
    let position = 0
    const ensure = (need: number): void => {
      if (position >= chunkStart && position + need <= chunkStart + chunkLength) return
      if (need > chunk.length) chunk = Buffer.allocUnsafe(need)
      chunkStart = position
      chunkLength = readFully(fsi, segment.fd, chunk, 0, Math.min(chunk.length, size - position), position)
      if (chunkLength < need) throw new Error(`short read of ${segment.logPath} at ${position}`)
    }
    while (position < size) {
      ensure(LOG_OVERHEAD)
      const batchSize = LOG_OVERHEAD + chunk.readInt32BE(position - chunkStart + BATCH_LENGTH_OFFSET)
      ensure(batchSize)
      const at = position - chunkStart
      validateBatch(chunk, at, at + batchSize)
      visit(chunk, at, batchSize)
      position += batchSize
    }
    return position
  })
}
