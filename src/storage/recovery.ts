/**
 * Start-up recovery. Segments below the recovery point (or all of them after a clean shutdown)
 * are opened from their saved indexes after sanity checks; from the segment holding the
 * recovery point on, every batch is validated (length, magic, CRC, offsets going forward). The
 * log is cut at the first bad batch and later segments are dropped, so every batch whose flush
 * completed survives and nothing after a tear is served.
 *
 * `scanSegmentFile` is a plain function of a file path returning cloneable data, so a piscina
 * pool can run it for many segments at once.
 */
import { Buffer } from 'node:buffer'
import { basename, join } from 'node:path'
import { CorruptRecordError } from '../errors.js'
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, readInt64, validateBatch, BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAX_TIMESTAMP_OFFSET } from '../protocol/record-batch.js'
import { DELETED_SUFFIX, INDEX_SUFFIX, LOG_SUFFIX, offsetFileStem, parseSegmentFileName, TEMP_SUFFIX, TIME_INDEX_SUFFIX } from './file-names.js'
import { finishCleanerLeftovers } from './cleaner-recovery.js'
import { reportDamagedFile } from './damaged-file.js'
import type { SegmentFileCache } from './segment-file-cache.js'
import { Segment, type SegmentScan } from './segment.js'
import { NO_TIMESTAMP, SegmentIndexer } from './segment-indexer.js'
import { errnoCode, nodeStorageFs, readFully, type StorageFs } from './storage-fs.js'

const SCAN_CHUNK_BYTES = 1024 * 1024

/**
 * Validates every batch of one `.log` file and rebuilds its indexes in memory. Offsets must
 * follow each other without a gap, except for batches starting at or below `gapsUpTo`: the log
 * cleaner removed records there (the cleaner checkpoint), and retained batches keep their offsets.
 */
export function scanSegmentFile(logPath: string, indexIntervalBytes: number, fsi: StorageFs = nodeStorageFs, gapsUpTo = -1): SegmentScan {
  const baseOffset = parseSegmentFileName(basename(logPath))
  if (baseOffset === undefined) throw new CorruptRecordError(`${logPath} is not a segment file name`)
  const fd = fsi.openSync(logPath, 'r')
  try {
    const fileBytes = fsi.fstatSync(fd).size
    const indexer = new SegmentIndexer(baseOffset, indexIntervalBytes)
    let chunk = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(BATCH_HEADER_SIZE, fileBytes)))
    let chunkStart = 0
    let chunkLength = 0
    let position = 0
    let nextOffset = baseOffset
    let batchCount = 0
    let firstBatchMaxTimestamp = NO_TIMESTAMP
    let corruption: string | undefined
    // Makes bytes [position, position + need) present in `chunk`; false if the file is shorter.
    const ensure = (need: number): boolean => {
      if (position + need > fileBytes) return false
      if (position >= chunkStart && position + need <= chunkStart + chunkLength) return true
      if (need > chunk.length) chunk = Buffer.allocUnsafe(need)
      chunkStart = position
      chunkLength = readFully(fsi, fd, chunk, 0, Math.min(chunk.length, fileBytes - position), position)
      return position + need <= chunkStart + chunkLength
    }
    while (position < fileBytes) {
      if (!ensure(LOG_OVERHEAD)) { corruption = `torn batch prefix at ${position}`; break }
      const size = LOG_OVERHEAD + chunk.readInt32BE(position - chunkStart + BATCH_LENGTH_OFFSET)
      if (size < BATCH_HEADER_SIZE) { corruption = `batch length ${size} at ${position} below the minimum`; break }
      if (!ensure(size)) { corruption = `batch of ${size} bytes at ${position} runs past the end of the file`; break }
      const at = position - chunkStart
      try {
        validateBatch(chunk, at, at + size)
      } catch (error) {
        corruption = `${(error as Error).message} at ${position}`
        break
      }
      const batchBase = readInt64(chunk, at)
      const lastOffset = batchBase + chunk.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET)
      // Offsets are contiguous outside what the cleaner compacted; a flipped baseOffset is caught here.
      const gapAllowed = batchBase > nextOffset && batchBase <= gapsUpTo
      if ((batchBase !== nextOffset && !gapAllowed) || lastOffset - baseOffset > 0xffffffff) {
        corruption = `batch offset ${batchBase} at ${position} does not follow ${nextOffset}`
        break
      }
      const maxTimestamp = readInt64(chunk, at + MAX_TIMESTAMP_OFFSET)
      if (batchCount === 0) firstBatchMaxTimestamp = maxTimestamp
      indexer.onBatch(batchBase, lastOffset, position, size, maxTimestamp)
      nextOffset = lastOffset + 1
      batchCount++
      position += size
    }
    return {
      baseOffset,
      logPath,
      fileBytes,
      validBytes: position,
      nextOffset,
      batchCount,
      firstBatchMaxTimestamp,
      maxTimestamp: indexer.maxTimestamp,
      offsetOfMaxTimestamp: indexer.offsetOfMaxTimestamp,
      bytesSinceLastIndexEntry: indexer.bytesSinceLastIndexEntry,
      offsetIndex: Buffer.from(indexer.offsetIndex.toBytes()),
      timeIndex: Buffer.from(indexer.timeIndex.toBytes()),
      corruption,
    }
  } finally {
    fsi.closeSync(fd)
  }
}

export interface RecoveryOptions {
  indexIntervalBytes: number
  /** Offset up to which everything was flushed with its indexes (from the checkpoint; 0 if none). */
  recoveryPoint: number
  /** The previous close was clean: trust every segment whose indexes pass the checks. */
  cleanShutdown: boolean
  /** The open-file cache the segments join (the thread's by default). */
  segmentFiles?: SegmentFileCache
  /** The cleaner checkpoint: offset gaps up to here are the log cleaner's, not damage (-1: none). */
  cleanedUpTo?: number
}

/** What opening a partition log found and cut (logged by `ringlog serve` after start-up). */
export interface RecoverySummary {
  /** Segments whose records were read and CRC-checked (0 after a clean shutdown). */
  segmentsScanned: number
  /** Bytes cut from torn or corrupt tails, plus dropped later segments. */
  truncatedBytes: number
  /** Why the log was cut, if it was. */
  corruption?: string
}

export interface RecoveryResult {
  /** Open segments in offset order (possibly none). */
  segments: Segment[]
  /** Segments that were fully scanned. */
  scanned: Segment[]
  /** Bytes cut from torn or corrupt tails, plus dropped later segments. */
  truncatedBytes: number
  /** Why the log was cut, if it was. */
  corruption?: string
}

function removeQuietly(fsi: StorageFs, path: string): void {
  try {
    fsi.unlinkSync(path)
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error
  }
}

/** Cleans leftovers, then opens or recovers every segment of a partition directory. */
export function recoverSegments(fsi: StorageFs, dir: string, options: RecoveryOptions): RecoveryResult {
  // First, so the listing below sees the cleaner's replacements under their final names.
  finishCleanerLeftovers(fsi, dir)
  const gapsUpTo = options.cleanedUpTo ?? -1
  const names = fsi.readdirSync(dir)
  const bases: number[] = []
  for (const name of names) {
    // Retired segments and interrupted checkpoint writes are never needed again.
    if (name.endsWith(DELETED_SUFFIX) || name.endsWith(TEMP_SUFFIX)) { removeQuietly(fsi, join(dir, name)); continue }
    const base = parseSegmentFileName(name, LOG_SUFFIX)
    if (base !== undefined) bases.push(base)
  }
  const logBases = new Set(bases)
  for (const name of names) {
    const base = parseSegmentFileName(name, INDEX_SUFFIX) ?? parseSegmentFileName(name, TIME_INDEX_SUFFIX)
    if (base !== undefined && !logBases.has(base)) removeQuietly(fsi, join(dir, name))
  }
  bases.sort((a, b) => a - b)

  let firstToScan = bases.length
  if (!options.cleanShutdown) {
    firstToScan = 0
    for (let i = 0; i < bases.length; i++) if (bases[i] <= options.recoveryPoint) firstToScan = i
  }

  const segments: Segment[] = []
  const scanned: Segment[] = []
  let truncatedBytes = 0
  let corruption: string | undefined
  let i = 0
  try {
    for (; i < bases.length; i++) {
      const base = bases[i]
      const previous = segments[segments.length - 1]
      // Segments are contiguous (a roll starts the next at the log end), so a gap means a power
      // loss kept a newer segment but not the unflushed tail before it: cut the log there. Below
      // the cleaner checkpoint a segment's last records may have been cleaned away instead.
      if (previous && base !== previous.nextOffset && !(base > previous.nextOffset && base <= gapsUpTo)) {
        corruption = `segment ${base} does not start at the end ${previous.nextOffset} of the one before`
        break
      }
      const trusted = i < firstToScan
      let segment = trusted ? Segment.openTrusted(fsi, dir, base, options.indexIntervalBytes, options.segmentFiles) : undefined
      let cut = false
      if (!segment) {
        // Below the recovery point (or after a clean shutdown) the saved indexes should open: one
        // that does not is missing, cut or damaged, and is said as such before the scan rebuilds it.
        if (trusted) reportDamagedFile(join(dir, offsetFileStem(base) + INDEX_SUFFIX), 'the segment\'s saved offset or time index is missing, cut or does not match its batches', 'the segment is scanned and both indexes rebuilt')
        const scan = scanSegmentFile(join(dir, `${offsetFileStem(base)}${LOG_SUFFIX}`), options.indexIntervalBytes, fsi, gapsUpTo)
        segment = Segment.fromScan(fsi, dir, scan, options.indexIntervalBytes, options.segmentFiles)
        scanned.push(segment)
        if (scan.corruption !== undefined) {
          corruption = scan.corruption
          truncatedBytes += scan.fileBytes - scan.validBytes
          cut = true
        }
      }
      segments.push(segment)
      if (cut) { i++; break }
    }
  } catch (error) {
    for (const segment of segments) segment.close()
    throw error
  }
  // Everything after a cut (or an out-of-order segment) is unreachable: drop it.
  for (; i < bases.length; i++) {
    const stem = offsetFileStem(bases[i])
    const logPath = join(dir, stem + LOG_SUFFIX)
    const fd = fsi.openSync(logPath, 'r')
    truncatedBytes += fsi.fstatSync(fd).size
    fsi.closeSync(fd)
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) removeQuietly(fsi, join(dir, stem + suffix))
  }
  return { segments, scanned, truncatedBytes, corruption }
}
