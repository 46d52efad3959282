/**
 * One segment: a `.log` file of RecordBatch v2 batches plus its sparse `.index` and
 * `.timeindex`. The log file's descriptor is opened on use and may be closed by the thread's
 * SegmentFileCache while the segment is not pinned (segment-file-cache.ts); `fd` opens it
 * again. A number read from `fd` is valid only until the next segment opens a file on this
 * thread, so callers use it at once, and readers on other threads get a descriptor of their
 * own (a dup). Running out of descriptors on a reopen is KAFKA_STORAGE_ERROR, not a crash.
 */
import { Buffer } from 'node:buffer'
import { join } from 'node:path'
import { CorruptRecordError, RinglogError } from '../errors.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, readInt64, BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAX_TIMESTAMP_OFFSET, ATTRIBUTES_OFFSET, PARTITION_LEADER_EPOCH_OFFSET, MAGIC_OFFSET } from '../protocol/record-batch.js'
import { writeFileAtomicSync } from './atomic-file.js'
import { reportDamagedFile } from './damaged-file.js'
import { DELETED_SUFFIX, indexFileName, logFileName, timeIndexFileName } from './file-names.js'
import { OffsetIndex } from './offset-index.js'
import { threadSegmentFileCache, type CachedSegmentFile, type SegmentFileCache } from './segment-file-cache.js'
import { NO_TIMESTAMP, SegmentIndexer } from './segment-indexer.js'
import type { ScannedSegment } from './scrub.js'
import { errnoCode, readFully, writeFully, type StorageFs } from './storage-fs.js'
import { TimeIndex } from './time-index.js'

/** What a full scan of one segment file found (plain data: it can cross threads). */
export interface SegmentScan {
  baseOffset: number
  logPath: string
  fileBytes: number
  /** Bytes of intact batches from the start; the file is cut here when shorter than fileBytes. */
  validBytes: number
  nextOffset: number
  batchCount: number
  firstBatchMaxTimestamp: number
  maxTimestamp: number
  offsetOfMaxTimestamp: number
  bytesSinceLastIndexEntry: number
  /** Rebuilt index contents, in file format. */
  offsetIndex: Uint8Array
  timeIndex: Uint8Array
  /** Why the scan stopped before the end of the file, if it did. */
  corruption?: string
}

/** Where a batch sits in its segment, from its header alone. */
export interface BatchLocation {
  baseOffset: number
  lastOffset: number
  position: number
  size: number
  maxTimestamp: number
  attributes: number
  /** The epoch of the leader that wrote the batch (-1 if none was stamped). */
  partitionLeaderEpoch: number
}

/** The header fields a location needs end at maxTimestamp (offset 43). */
const LOCATION_HEADER_BYTES = 43
const headerScratch = Buffer.alloc(BATCH_HEADER_SIZE)

export class Segment implements CachedSegmentFile {
  logPath: string
  indexPath: string
  timeIndexPath: string
  /** Bytes of whole batches in the file. */
  size: number
  /** Offset the next appended batch gets if it lands here. */
  nextOffset: number
  /** Clock time the segment's age counts from (segment.ms); NO_TIMESTAMP until the first append. */
  rollStartMs: number
  retired = false
  /** The log file's descriptor while open (undefined once evicted or closed). */
  private openFd: number | undefined
  private pins = 0
  private destroyed = false
  /** Both indexes; replaced whole when a saved entry turns out not to match the log (rebuildIndexes). */
  indexer: SegmentIndexer

  private constructor(
    private readonly fsi: StorageFs,
    private readonly files: SegmentFileCache,
    readonly dir: string,
    readonly baseOffset: number,
    fd: number,
    size: number,
    nextOffset: number,
    indexer: SegmentIndexer,
    rollStartMs: number,
  ) {
    this.indexer = indexer
    this.logPath = join(dir, logFileName(baseOffset))
    this.indexPath = join(dir, indexFileName(baseOffset))
    this.timeIndexPath = join(dir, timeIndexFileName(baseOffset))
    this.size = size
    this.nextOffset = nextOffset
    this.rollStartMs = rollStartMs
    this.openFd = fd
    files.opened(this, false)
  }

  /**
   * The log file's descriptor, opened again if the cache closed it. Use it at once: opening
   * another segment's file on this thread may close this one (unless pinned).
   */
  get fd(): number {
    if (this.openFd !== undefined) {
      this.files.used(this)
      return this.openFd
    }
    if (this.destroyed) throw new CorruptRecordError(`${this.logPath} was deleted`)
    let fd: number
    try {
      fd = this.fsi.openSync(this.logPath, 'r+')
    } catch (error) {
      const code = errnoCode(error)
      if (code === 'EMFILE' || code === 'ENFILE') throw new RinglogError(ErrorCode.KAFKA_STORAGE_ERROR, `no file descriptor to reopen ${this.logPath} (${code})`)
      throw error
    }
    this.openFd = fd
    this.files.opened(this, this.pins > 0, true)
    return fd
  }

  /** The descriptor if the file is open now, without opening it (for flushing and releasing). */
  get fdIfOpen(): number | undefined { return this.openFd }

  /** Keeps the file open (never evicted) until as many `unpin` calls. */
  pin(): void {
    if (this.pins++ === 0 && this.openFd !== undefined) this.files.pinned(this)
  }

  unpin(): void {
    if (this.pins === 0) return
    if (--this.pins === 0 && this.openFd !== undefined) this.files.unpinnedNow(this)
  }

  /** Runs `work` with the file pinned open (a read or truncation that uses `fd` more than once). */
  pinnedFor<T>(work: () => T): T {
    this.pin()
    try {
      return work()
    } finally {
      this.unpin()
    }
  }

  /** Called by the cache: close the file; the next `fd` opens it again. */
  evictFile(): void {
    const fd = this.openFd
    this.openFd = undefined
    if (fd !== undefined) {
      try { this.fsi.closeSync(fd) } catch { /* closing a read-mostly file cannot lose data */ }
    }
  }

  private closeFile(): void {
    const fd = this.openFd
    if (fd === undefined) return
    this.openFd = undefined
    this.files.closed(this)
    this.fsi.closeSync(fd)
  }

  /** A new, empty segment (an existing file of that name is emptied). */
  static create(fsi: StorageFs, dir: string, baseOffset: number, indexIntervalBytes: number, files: SegmentFileCache = threadSegmentFileCache()): Segment {
    const fd = fsi.openSync(join(dir, logFileName(baseOffset)), 'w+')
    return new Segment(fsi, files, dir, baseOffset, fd, 0, baseOffset, new SegmentIndexer(baseOffset, indexIntervalBytes), NO_TIMESTAMP)
  }

  /** Opens a segment recovery has scanned, cutting the file back to its last intact batch. */
  static fromScan(fsi: StorageFs, dir: string, scan: SegmentScan, indexIntervalBytes: number, files: SegmentFileCache = threadSegmentFileCache()): Segment {
    const fd = fsi.openSync(join(dir, logFileName(scan.baseOffset)), 'r+')
    try {
      if (scan.fileBytes !== scan.validBytes) fsi.ftruncateSync(fd, scan.validBytes)
      const offsetIndex = OffsetIndex.fromBytes(scan.baseOffset, Buffer.from(scan.offsetIndex), Math.max(1, scan.validBytes))
      const timeIndex = TimeIndex.fromBytes(scan.baseOffset, Buffer.from(scan.timeIndex), Math.max(scan.nextOffset, scan.baseOffset + 1))
      if (!offsetIndex || !timeIndex) throw new CorruptRecordError(`rebuilt index of ${scan.logPath} is inconsistent`)
      const indexer = new SegmentIndexer(scan.baseOffset, indexIntervalBytes, offsetIndex, timeIndex)
      indexer.maxTimestamp = scan.maxTimestamp
      indexer.offsetOfMaxTimestamp = scan.offsetOfMaxTimestamp
      indexer.bytesSinceLastIndexEntry = scan.bytesSinceLastIndexEntry
      const rollStartMs = scan.firstBatchMaxTimestamp < 0 && scan.validBytes > 0 ? fsi.fstatSync(fd).mtimeMs : scan.firstBatchMaxTimestamp
      return new Segment(fsi, files, dir, scan.baseOffset, fd, scan.validBytes, scan.nextOffset, indexer, rollStartMs)
    } catch (error) {
      fsi.closeSync(fd)
      throw error
    }
  }

  /**
   * Opens a segment below the recovery point (or after a clean shutdown) from its saved
   * indexes, checking them and walking only the batch headers after the last index entry.
   * Returns undefined when anything looks wrong, and the caller recovers the segment instead.
   */
  static openTrusted(fsi: StorageFs, dir: string, baseOffset: number, indexIntervalBytes: number, files: SegmentFileCache = threadSegmentFileCache()): Segment | undefined {
    const indexPath = join(dir, indexFileName(baseOffset))
    const timeIndexPath = join(dir, timeIndexFileName(baseOffset))
    if (!fsi.existsSync(indexPath) || !fsi.existsSync(timeIndexPath)) return undefined
    const fd = fsi.openSync(join(dir, logFileName(baseOffset)), 'r+')
    let keep = false
    try {
      const { size, mtimeMs } = fsi.fstatSync(fd)
      const offsetIndex = OffsetIndex.fromBytes(baseOffset, fsi.readFileSync(indexPath), Math.max(1, size))
      if (!offsetIndex) return undefined
      const start = offsetIndex.lastEntry() ?? { offset: baseOffset, position: 0 }
      let position = start.position
      let nextOffset = start.offset
      let walkedMaxTimestamp = NO_TIMESTAMP
      while (position < size) {
        const batch = readLocation(fsi, fd, position, size)
        if (!batch || batch.baseOffset < nextOffset) return undefined
        if (batch.maxTimestamp > walkedMaxTimestamp) walkedMaxTimestamp = batch.maxTimestamp
        nextOffset = batch.lastOffset + 1
        position += batch.size
      }
      if (size === 0) nextOffset = baseOffset
      const timeIndex = TimeIndex.fromBytes(baseOffset, fsi.readFileSync(timeIndexPath), Math.max(nextOffset, baseOffset + 1))
      if (!timeIndex) return undefined
      // Index files are written with the segment's largest timestamp as the last time entry
      // (writeIndexFiles), so a batch walked past it means a cut or damaged time index.
      if (walkedMaxTimestamp > (timeIndex.lastEntry()?.timestamp ?? NO_TIMESTAMP)) return undefined
      const indexer = new SegmentIndexer(baseOffset, indexIntervalBytes, offsetIndex, timeIndex)
      indexer.bytesSinceLastIndexEntry = size - start.position
      let rollStartMs = NO_TIMESTAMP
      if (size > 0) {
        const first = readLocation(fsi, fd, 0, size)
        if (!first) return undefined
        rollStartMs = first.maxTimestamp >= 0 ? first.maxTimestamp : mtimeMs
      }
      keep = true
      return new Segment(fsi, files, dir, baseOffset, fd, size, nextOffset, indexer, rollStartMs)
    } finally {
      if (!keep) fsi.closeSync(fd)
    }
  }

  get maxTimestamp(): number { return this.indexer.maxTimestamp }
  get offsetIndex(): OffsetIndex { return this.indexer.offsetIndex }
  get timeIndex(): TimeIndex { return this.indexer.timeIndex }

  /**
   * Writes whole, already stamped batches at the end of the file, then indexes them. A failed
   * write is cut back so the file again ends at a batch boundary; the error is rethrown.
   */
  append(batches: Buffer, rollClockMs: number): void {
    const start = this.size
    const fd = this.fd
    try {
      writeFully(this.fsi, fd, batches, 0, batches.length, start)
    } catch (error) {
      try {
        this.fsi.ftruncateSync(fd, start)
      } catch (truncateError) {
        throw new AggregateError([error, truncateError], 'write failed and the partial write could not be removed')
      }
      throw error
    }
    if (this.rollStartMs < 0) this.rollStartMs = rollClockMs
    let at = 0
    while (at < batches.length) {
      const size = LOG_OVERHEAD + batches.readInt32BE(at + BATCH_LENGTH_OFFSET)
      const baseOffset = readInt64(batches, at)
      const lastOffset = baseOffset + batches.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET)
      this.indexer.onBatch(baseOffset, lastOffset, start + at, size, readInt64(batches, at + MAX_TIMESTAMP_OFFSET))
      this.nextOffset = lastOffset + 1
      at += size
    }
    this.size = start + batches.length
  }

  /** The header of the batch at `position`, or undefined past the end or when it does not fit. */
  locationAt(position: number): BatchLocation | undefined {
    return readLocation(this.fsi, this.fd, position, this.size)
  }

  /** The first batch whose last offset is >= `offset` (the batch holding it, or the next one). */
  findBatch(offset: number): BatchLocation | undefined {
    return this.pinnedFor(() => this.findBatchPinned(offset))
  }

  private findBatchPinned(offset: number): BatchLocation | undefined {
    let position = this.indexedStartFor(offset)
    while (position < this.size) {
      const batch = this.locationAt(position)
      if (!batch) throw new CorruptRecordError(`unreadable batch header at ${position} in ${this.logPath}`)
      if (batch.lastOffset >= offset) return batch
      position += batch.size
    }
    return undefined
  }

  /**
   * Where a scan for `offset` may start: the offset index's entry at or below it. An index file
   * is only sanity-checked when a segment opens (Kafka does no more), so a damaged entry that
   * still looks ordered would send reads into the middle of a batch or past records; each entry
   * used is therefore checked against the batch header it names (one small read, from the page
   * cache), and a mismatch rebuilds both indexes from the log.
   */
  indexedStartFor(offset: number): number {
    return this.checkedEntry(() => this.offsetIndex.lookup(offset)).position
  }

  /** indexedStartFor by byte position: the index entry at or below `position`, checked the same way. */
  indexedStartAtOrBefore(position: number): number {
    return this.checkedEntry(() => this.offsetIndex.lookupByPosition(position)).position
  }

  /**
   * Where to scan from for the first batch with a timestamp >= `timestamp` (ListOffsets by time).
   * The time index entry used is checked too: it must name the last offset of a batch whose
   * maximum timestamp it holds, or a damaged timestamp would skip records that qualify.
   */
  timeIndexedStartFor(timestamp: number): number {
    let entry = this.timeIndex.entryBefore(timestamp)
    if (entry) {
      const batch = this.findBatch(entry.offset)
      if (!batch || batch.lastOffset !== entry.offset || batch.maxTimestamp !== entry.timestamp) {
        this.rebuildIndexes(this.timeIndexPath, `entry (${entry.timestamp}, ${entry.offset}) does not match the batch holding offset ${entry.offset}`)
        entry = this.timeIndex.entryBefore(timestamp)
      }
    }
    return this.indexedStartFor(entry?.offset ?? this.baseOffset)
  }

  private checkedEntry(lookup: () => { offset: number; position: number }): { offset: number; position: number } {
    const entry = lookup()
    // Position 0 is the segment start, never a saved entry (the first batch needs none).
    if (entry.position === 0) return entry
    const named = this.locationAt(entry.position)
    if (named && named.baseOffset === entry.offset) return entry
    this.rebuildIndexes(this.indexPath, `entry ${entry.offset} -> byte ${entry.position} does not name a batch starting there`)
    return lookup()
  }

  /**
   * Checks both indexes against a scrub pass's view of this segment's batches and rebuilds them
   * where they disagree (damage the lookups' own checks may not meet: a cut or changed time
   * index). Every offset entry must name a batch starting at its position with its offset; every
   * time entry the last offset of a batch that raised the segment's largest timestamp to that
   * entry's value (SegmentIndexer's rule); a closed segment's last time entry its largest
   * timestamp. Entries past the scanned size (appended since) wait for the next pass.
   */
  checkIndexes(scanned: ScannedSegment, closed: boolean): void {
    if (scanned.size > this.size) return // cut since the scan began: the next pass judges
    const baseAt = new Map<number, number>()
    const raisedTo = new Map<number, number>()
    let max = NO_TIMESTAMP
    for (const b of scanned.batches) {
      baseAt.set(b.position, b.baseOffset)
      if (b.maxTimestamp > max) {
        max = b.maxTimestamp
        raisedTo.set(b.lastOffset, max)
      }
    }
    const scannedEnd = scanned.batches.length === 0 ? this.baseOffset : scanned.batches[scanned.batches.length - 1].lastOffset + 1
    const offsetEntries = this.offsetIndex
    for (let i = 0; i < offsetEntries.entryCount; i++) {
      const e = offsetEntries.entryAt(i)
      if (e.position >= scanned.size) break
      if (baseAt.get(e.position) !== e.offset) return this.rebuildIndexes(this.indexPath, `entry ${e.offset} -> byte ${e.position} does not name a batch starting there`)
    }
    const timeEntries = this.timeIndex
    for (let i = 0; i < timeEntries.entryCount; i++) {
      const e = timeEntries.entryAt(i)
      if (e.offset >= scannedEnd) break
      if (raisedTo.get(e.offset) !== e.timestamp) return this.rebuildIndexes(this.timeIndexPath, `entry (${e.timestamp}, ${e.offset}) is not where the segment's largest timestamp reached ${e.timestamp}`)
    }
    if (this.indexer.maxTimestamp < max || (closed && max >= 0 && timeEntries.lastEntry()?.timestamp !== max)) {
      return this.rebuildIndexes(this.timeIndexPath, `the segment's largest timestamp is ${max}, the time index ends at ${timeEntries.lastEntry()?.timestamp ?? 'no entry'}`)
    }
  }

  /** Rebuilds both indexes from the batch headers, rewrites their files and reports the damage. */
  private rebuildIndexes(damagedPath: string, reason: string): void {
    const rebuilt = new SegmentIndexer(this.baseOffset, this.indexer.indexIntervalBytes)
    let position = 0
    let next = this.baseOffset
    while (position < this.size) {
      const batch = this.locationAt(position)
      // The log itself may be damaged here (a base offset is outside the CRC): index what precedes
      // it; the scrubber finds and refuses the damage.
      if (!batch || batch.baseOffset < next || batch.lastOffset >= this.nextOffset) break
      rebuilt.onBatch(batch.baseOffset, batch.lastOffset, position, batch.size, batch.maxTimestamp)
      next = batch.lastOffset + 1
      position += batch.size
    }
    this.indexer = rebuilt
    reportDamagedFile(damagedPath, reason, 'both indexes of the segment rebuilt from its batches')
    // Rewritten now, so the next open does not meet the damage again (the active segment rewrites them at roll or close too).
    writeFileAtomicSync(this.indexPath, Buffer.from(this.offsetIndex.toBytes()), this.fsi)
    writeFileAtomicSync(this.timeIndexPath, Buffer.from(this.timeIndex.toBytes()), this.fsi)
  }

  /** Removes the batch holding `offset` and everything after it; returns the new end offset. */
  truncateTo(offset: number): number {
    return this.pinnedFor(() => this.truncatePinned(offset))
  }

  private truncatePinned(offset: number): number {
    const cut = this.findBatch(offset)
    if (!cut) return this.nextOffset
    this.fsi.ftruncateSync(this.fd, cut.position)
    this.size = cut.position
    this.nextOffset = cut.position === 0 ? this.baseOffset : cut.baseOffset
    this.offsetIndex.truncateTo(cut.baseOffset)
    this.timeIndex.truncateTo(cut.baseOffset)
    // Recompute the maximum timestamp from the last surviving time entry onwards.
    const lastTime = this.timeIndex.lastEntry()
    this.indexer.maxTimestamp = lastTime ? lastTime.timestamp : NO_TIMESTAMP
    this.indexer.offsetOfMaxTimestamp = lastTime ? lastTime.offset : this.baseOffset
    let position = lastTime ? this.indexedStartFor(lastTime.offset) : 0
    while (position < this.size) {
      const batch = this.locationAt(position)
      if (!batch) break
      if (batch.maxTimestamp > this.indexer.maxTimestamp) {
        this.indexer.maxTimestamp = batch.maxTimestamp
        this.indexer.offsetOfMaxTimestamp = batch.lastOffset
      }
      position += batch.size
    }
    this.indexer.bytesSinceLastIndexEntry = this.size - (this.offsetIndex.lastEntry()?.position ?? 0)
    if (this.size === 0) this.rollStartMs = NO_TIMESTAMP
    return this.nextOffset
  }

  /**
   * Writes both index files whole (on roll and close). Returns their open fds: the caller has
   * them flushed and closed, so the write does not wait for the disk.
   */
  writeIndexFiles(): number[] {
    this.indexer.finish()
    const fds: number[] = []
    try {
      for (const [path, bytes] of [[this.indexPath, this.offsetIndex.toBytes()], [this.timeIndexPath, this.timeIndex.toBytes()]] as const) {
        const fd = this.fsi.openSync(path, 'w')
        fds.push(fd)
        writeFully(this.fsi, fd, bytes, 0, bytes.length, 0)
      }
    } catch (error) {
      for (const fd of fds) this.fsi.closeSync(fd)
      throw error
    }
    return fds
  }

  /** Renames the files to `.deleted` (an evicted file reopens under that name) until `destroy`. */
  retire(): void {
    if (this.retired) return
    this.retired = true
    for (const key of ['logPath', 'indexPath', 'timeIndexPath'] as const) {
      const from = this[key]
      const to = from + DELETED_SUFFIX
      try {
        this.fsi.renameSync(from, to)
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error
      }
      this[key] = to
    }
  }

  /** Closes the fd (if open) and removes the files (ignoring ones already gone). */
  destroy(): void {
    this.destroyed = true
    this.closeFile()
    for (const path of [this.logPath, this.indexPath, this.timeIndexPath]) {
      try {
        this.fsi.unlinkSync(path)
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error
      }
    }
  }

  close(): void { this.closeFile() }
}

/** Reads the header of the batch at `position` of a file holding `end` bytes of batches. */
export function readLocation(fsi: StorageFs, fd: number, position: number, end: number): BatchLocation | undefined {
  if (position + BATCH_HEADER_SIZE > end) return undefined
  if (readFully(fsi, fd, headerScratch, 0, LOCATION_HEADER_BYTES, position) < LOCATION_HEADER_BYTES) return undefined
  const size = LOG_OVERHEAD + headerScratch.readInt32BE(BATCH_LENGTH_OFFSET)
  if (size < BATCH_HEADER_SIZE || position + size > end || headerScratch.readInt8(MAGIC_OFFSET) !== 2) return undefined
  const baseOffset = readInt64(headerScratch, 0)
  const lastOffsetDelta = headerScratch.readInt32BE(LAST_OFFSET_DELTA_OFFSET)
  if (lastOffsetDelta < 0) return undefined
  return {
    baseOffset,
    lastOffset: baseOffset + lastOffsetDelta,
    position,
    size,
    maxTimestamp: readInt64(headerScratch, MAX_TIMESTAMP_OFFSET),
    attributes: headerScratch.readInt16BE(ATTRIBUTES_OFFSET),
    partitionLeaderEpoch: headerScratch.readInt32BE(PARTITION_LEADER_EPOCH_OFFSET),
  }
}
