/**
 * PartitionLog: one partition's durable log, driven by exactly one thread (its partition
 * worker), so nothing here locks. Appends validate and stamp whole RecordBatch v2 batches and
 * write them with writeSync; durability comes from the group commit (group-commit.ts) running
 * fdatasync on the threadpool while appends continue. Reads return a file range of whole
 * batches for the caller to stream.
 *
 * Readers and retention: a retired segment is renamed to `.deleted` and unlinked after
 * `fileDeleteDelayMs` (Kafka's file.delete.delay.ms). Segment files are opened on use and
 * closed by the thread's SegmentFileCache (segment-file-cache.ts) when more than its capacity
 * are open: the returned `fd` is valid only until the next call into a log on this thread, so
 * a reader elsewhere dups it (or opens `path`) at once and relies on POSIX unlink-while-open.
 * The active segment, and a rolled one until its flush, stay pinned open.
 */
import { Buffer } from 'node:buffer'
import { join } from 'node:path'
import { LogClosedError, OffsetOutOfRangeError, RecordTooLargeError, RinglogError, CorruptRecordError, DiskFullError, StorageOfflineError, UnsupportedCompressionError } from '../errors.js'
import { ErrorCode } from '../protocol/error-codes.js'
import {
  BATCH_HEADER_SIZE, BatchAttribute, batchSizeAt, computeBatchCrc, CRC_OFFSET, decodeRecordBatch, readInt64, setBaseOffset, setPartitionLeaderEpoch,
  validateBatch, writeInt64, ATTRIBUTES_OFFSET, BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAX_TIMESTAMP_OFFSET, LOG_OVERHEAD, PARTITION_LEADER_EPOCH_OFFSET,
} from '../protocol/record-batch.js'
import { fsyncDirectory } from './atomic-file.js'
import { reportDamagedFile } from './damaged-file.js'
import { readOffsetCheckpoint, writeOffsetCheckpoint } from './checkpoints.js'
import { CLEAN_SHUTDOWN_MARKER, CLEANER_OFFSET_CHECKPOINT, DELETED_SUFFIX, LOG_START_OFFSET_CHECKPOINT, parseTopicPartitionDir, RECOVERY_POINT_CHECKPOINT } from './file-names.js'
import { mkdirDurable } from './durable-dirs.js'
import { GroupCommit, type SyncLatency } from './group-commit.js'
import { LeaderEpochCache, type EpochEndOffset, type EpochEntry } from './leader-epochs.js'
import { resolveLogConfig, type LogConfig } from './log-config.js'
import { recoverSegments, type RecoverySummary } from './recovery.js'
import { countSegmentsToDelete } from './retention.js'
import type { ScannedSegment } from './scrub.js'
import { Segment } from './segment.js'
import { threadSegmentFileCache, type SegmentFileCache } from './segment-file-cache.js'
import { errnoCode, isDiskFull, nodeStorageFs, readFully, type StorageFs } from './storage-fs.js'

/** ListOffsets' special timestamps. */
export const LATEST_TIMESTAMP = -1
export const EARLIEST_TIMESTAMP = -2
/** ListOffsets' max timestamp (KIP-734): the record with the largest timestamp. */
export const MAX_TIMESTAMP = -3

export interface PartitionLogOptions {
  /** File-system seam (tests inject failures); node:fs by default. */
  fs?: StorageFs
  /** Wall clock for segment.ms and retention (tests inject one). */
  clock?: () => number
  /** The open segment file cache (the thread's, 256 files, by default). */
  segmentFiles?: SegmentFileCache
}

export interface AppendOptions {
  /** Stamped into every batch's partitionLeaderEpoch; a new one is recorded in the leader-epoch cache, an older one refused. */
  leaderEpoch: number
  /** For LogAppendTime topics: becomes each batch's maxTimestamp (the CRC is recomputed, attributes being covered). */
  logAppendTime?: number
  /** The caller already ran validateBatch on every batch; only lengths are checked again. */
  validated?: boolean
}

/** What a follower append wrote: the leader's offsets, unchanged. */
export interface FollowerAppendResult {
  firstOffset: number
  lastOffset: number
  logEndOffset: number
}

export interface AppendedBatches {
  baseOffset: number
  lastOffset: number
  /** The stamped time, or -1 for CreateTime. */
  logAppendTime: number
  logStartOffset: number
}

export interface ReadOptions {
  /** Exclusive upper bound; defaults to the high watermark (followers pass logEndOffset). */
  maxOffset?: number
}

/** A file range of whole batches. `length` 0 means nothing to read yet. */
export interface SegmentSlice {
  path: string
  /** Owned by the log: never close it. Valid only until the next call into a log on this thread (see the file comment). */
  fd: number
  position: number
  length: number
  /** -1 when empty. */
  baseOffsetOfFirstBatch: number
  /** Offset after the last batch in the range (where the next read continues). */
  nextOffset: number
  segmentBaseOffset: number
}

export interface TimestampOffset { offset: number; timestamp: number }

export interface RetentionResult { deletedSegments: number; deletedBytes: number; logStartOffset: number }

interface HighWatermarkMark { endOffset: number; segment: Segment; position: number }

const NO_LOG_APPEND_TIME = -1

export class PartitionLog {
  private readonly segments: Segment[]
  private readonly committer: GroupCommit
  private readonly durableListeners = new Set<(durableEndOffset: number) => void>()
  private offlineListener: (() => void) | undefined
  private readonly retiring = new Map<Segment, NodeJS.Timeout>()
  /** Appends not yet flushed, so a read bounded by the high watermark knows its byte position. */
  private readonly pendingMarks: HighWatermarkMark[] = []
  private pendingHead = 0
  private flushedMark: HighWatermarkMark | undefined
  private nextOffset: number
  private startOffset: number
  private recoveryPoint: number
  private truncations = 0
  /** Offsets below it went through the log cleaner (cleaner-offset-checkpoint); 0 before the first pass. */
  private cleanerCheckpoint: number
  /** What this open's recovery scanned and cut. */
  recovery: RecoverySummary = { segmentsScanned: 0, truncatedBytes: 0 }
  private offline: StorageOfflineError | undefined
  private lastCheckpointFailure: string | undefined
  private closed = false
  /**
   * Set once a replica manager drives the high watermark (cluster mode): the high watermark is
   * then min(what the flush policy allows, this). Undefined on a single node.
   */
  private replicatedHighWatermark: number | undefined
  private readonly topic: string
  private readonly partition: number
  /** The segment pinned open as the active one. */
  private pinnedActive: Segment | undefined

  private constructor(
    readonly dir: string,
    readonly config: LogConfig,
    private readonly fsi: StorageFs,
    private readonly clock: () => number,
    private readonly dirFd: number,
    segments: Segment[],
    logStartOffset: number,
    recoveryPoint: number,
    private readonly checkpointed: { recoveryPoint: number | undefined; logStartOffset: number | undefined },
    private readonly epochs: LeaderEpochCache,
    private readonly segmentFiles: SegmentFileCache,
    cleanedUpTo: number,
  ) {
    this.cleanerCheckpoint = cleanedUpTo
    this.segments = segments
    this.pinActive()
    this.nextOffset = segments[segments.length - 1].nextOffset
    this.startOffset = logStartOffset
    this.recoveryPoint = recoveryPoint
    ;({ topic: this.topic, partition: this.partition } = parseTopicPartitionDir(dir))
    this.committer = new GroupCommit(fsi, config.flush, this.nextOffset, {
      onFlushed: (offset) => this.onFlushed(offset),
      onFailure: (error) => { this.offline = error },
    })
  }

  /** Opens (creating if needed) the log in `dir`, recovering it from its checkpoints. */
  static async open(dir: string, config: Partial<LogConfig> = {}, options: PartitionLogOptions = {}): Promise<PartitionLog> {
    const resolved = resolveLogConfig(config)
    const fsi = options.fs ?? nodeStorageFs
    const clock = options.clock ?? Date.now
    mkdirDurable(fsi, dir)
    const markerPath = join(dir, CLEAN_SHUTDOWN_MARKER)
    const savedRecoveryPoint = readOffsetCheckpoint(fsi, join(dir, RECOVERY_POINT_CHECKPOINT))?.[0]?.offset
    // A missing or damaged recovery point (quarantined by the read) means a full scan, marker or not.
    const cleanShutdown = fsi.existsSync(markerPath) && savedRecoveryPoint !== undefined
    const savedStart = readOffsetCheckpoint(fsi, join(dir, LOG_START_OFFSET_CHECKPOINT))?.[0]?.offset
    const recoveryPoint = savedRecoveryPoint ?? 0
    const checkpointedStart = savedStart ?? 0
    const segmentFiles = options.segmentFiles ?? threadSegmentFileCache()
    const cleanedUpTo = readOffsetCheckpoint(fsi, join(dir, CLEANER_OFFSET_CHECKPOINT))?.[0]?.offset ?? 0
    const recovered = recoverSegments(fsi, dir, { indexIntervalBytes: resolved.indexIntervalBytes, recoveryPoint, cleanShutdown, segmentFiles, cleanedUpTo })
    const segments = recovered.segments
    if (segments.length === 0) segments.push(Segment.create(fsi, dir, checkpointedStart, resolved.indexIntervalBytes, segmentFiles))
    const active = segments[segments.length - 1]
    // Scanned segments that are no longer active become trusted: give them flushed indexes.
    for (const segment of recovered.scanned) {
      if (segment === active) continue
      for (const fd of segment.writeIndexFiles()) { fsi.fsyncSync(fd); fsi.closeSync(fd) }
      fsi.fsyncSync(segment.fd)
    }
    // What a killed process left in the page cache counts as flushed only once it is.
    fsi.fsyncSync(active.fd)
    const logStartOffset = Math.min(Math.max(checkpointedStart, segments[0].baseOffset), active.nextOffset)
    const dirFd = fsi.openSync(dir, 'r')
    const epochs = LeaderEpochCache.load(fsi, dir)
    const log = new PartitionLog(dir, resolved, fsi, clock, dirFd, segments, logStartOffset, active.baseOffset,
      { recoveryPoint: savedRecoveryPoint, logStartOffset: savedStart }, epochs.cache, segmentFiles, cleanedUpTo)
    log.recovery = { segmentsScanned: recovered.scanned.length, truncatedBytes: recovered.truncatedBytes, corruption: recovered.corruption }
    log.reconcileLeaderEpochs(epochs.intact)
    log.tryWriteCheckpoints()
    if (cleanShutdown) fsi.unlinkSync(markerPath)
    fsi.fsyncSync(dirFd)
    return log
  }

  get logStartOffset(): number { return this.startOffset }
  get logEndOffset(): number { return this.nextOffset }
  /** End offset (exclusive) covered by a completed fdatasync. */
  get flushedOffset(): number { return this.committer.flushedOffset }
  /**
   * With one replica: the flushed end under 'always' (consumers never see unflushed data), else
   * the log end. Replicated (after setReplicatedHighWatermark): the lower of that and the
   * high watermark the replica manager set.
   */
  get highWatermark(): number {
    const local = this.config.flush === 'always' ? Math.max(this.startOffset, this.committer.flushedOffset) : this.nextOffset
    if (this.replicatedHighWatermark === undefined) return local
    return Math.max(this.startOffset, Math.min(local, this.replicatedHighWatermark))
  }
  /** Whether the high watermark is driven by replication (see setReplicatedHighWatermark). */
  get isReplicated(): boolean { return this.replicatedHighWatermark !== undefined }
  /** The newest leader epoch that wrote to this log (-1 if none). */
  get latestEpoch(): number { return this.epochs.latestEpoch }
  /** The leader-epoch cache's entries, oldest first (a copy). */
  get leaderEpochEntries(): EpochEntry[] { return this.epochs.all }
  /** Bytes in all segments. */
  get size(): number { return this.segments.reduce((sum, s) => sum + s.size, 0) }
  get segmentCount(): number { return this.segments.length }
  /** Base offset of the segment holding `offset` (the active one's for offsets past the end). */
  segmentBaseOf(offset: number): number { return this.segments[this.segmentIndexFor(offset)].baseOffset }
  get isOffline(): boolean { return this.offline !== undefined }
  /** A group commit is running or queued: an append now waits for the one after it anyway. */
  get flushInProgress(): boolean { return this.committer.busy }
  /** Group commit durations so far (fdatasync of the files a commit covered). */
  get syncLatency(): SyncLatency { return this.committer.syncLatency() }

  /**
   * Appends one or more whole batches (as received). Stamps baseOffset and partitionLeaderEpoch
   * in place, writes them to the active segment (rolling first if needed) and returns the
   * assigned offsets. Durability follows: see whenDurable / whenAcknowledged / onDurable.
   */
  append(batches: Buffer, options: AppendOptions): AppendedBatches {
    this.checkWritable()
    if (batches.length === 0) throw new CorruptRecordError('append of zero bytes')
    if (batches.length > this.config.segmentBytes) {
      throw new RecordTooLargeError(`append of ${batches.length} bytes exceeds segment.bytes ${this.config.segmentBytes}`)
    }
    let at = 0
    let offsetCount = 0
    while (at < batches.length) {
      const size = batchSizeAt(batches, at)
      if (size < BATCH_HEADER_SIZE || at + size > batches.length) throw new CorruptRecordError(`incomplete record batch at byte ${at}`)
      if (size > this.config.maxMessageBytes) {
        throw new RecordTooLargeError(`batch of ${size} bytes exceeds max.message.bytes ${this.config.maxMessageBytes}`)
      }
      if (!options.validated) validateBatch(batches, at, at + size)
      offsetCount += batches.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET) + 1
      at += size
    }
    if (options.leaderEpoch < this.epochs.latestEpoch) {
      throw new RinglogError(ErrorCode.FENCED_LEADER_EPOCH, `append stamped with leader epoch ${options.leaderEpoch}, older than the log's latest epoch ${this.epochs.latestEpoch}`)
    }
    const now = this.clock()
    const active = this.activeFor(batches.length, offsetCount, now)

    const baseOffset = this.nextOffset
    let offset = baseOffset
    const logAppendTime = options.logAppendTime ?? NO_LOG_APPEND_TIME
    for (at = 0; at < batches.length;) {
      const size = batches.readInt32BE(at + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD
      setBaseOffset(batches, at, offset)
      setPartitionLeaderEpoch(batches, at, options.leaderEpoch)
      if (options.logAppendTime !== undefined) {
        batches.writeInt16BE(batches.readInt16BE(at + ATTRIBUTES_OFFSET) | BatchAttribute.LogAppendTime, at + ATTRIBUTES_OFFSET)
        writeInt64(batches, at + MAX_TIMESTAMP_OFFSET, options.logAppendTime)
        batches.writeUInt32BE(computeBatchCrc(batches, at, size), at + CRC_OFFSET)
      }
      offset += batches.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET) + 1
      at += size
    }
    const newEpoch = this.assignEpoch(options.leaderEpoch, baseOffset)
    this.writeToActive(active, batches, offset, now, newEpoch ? baseOffset : undefined)
    return { baseOffset, lastOffset: offset - 1, logAppendTime, logStartOffset: this.startOffset }
  }

  /**
   * A follower's append: the leader's batches exactly as the leader stored them (offsets,
   * partitionLeaderEpoch, bytes, CRC). Every batch's CRC is checked and the first must start at
   * the log end offset, each next one right after the one before (anything else means it fetched
   * from the wrong place, and nothing is written), except that a compacted log takes the gaps its
   * leader's cleaner left (offsets only grow) and moves its cleaner checkpoint past them. Epochs may
   * only grow; each new one is recorded in the leader-epoch cache. Batches are written in runs
   * that fit a segment, rolling between them like leader appends. `expectedLogEnd`: where the
   * caller fetched the batches from; anything else is refused before any check (the gap rule
   * above would otherwise let a compacted log take a later start).
   */
  appendAsFollower(batches: Buffer, expectedLogEnd?: number): FollowerAppendResult {
    this.checkWritable()
    if (batches.length === 0) throw new CorruptRecordError('follower append of zero bytes')
    // Fetched from elsewhere than this log's end (an append queued before it was refused).
    if (expectedLogEnd !== undefined && expectedLogEnd !== this.nextOffset) {
      throw new OffsetOutOfRangeError(`follower append: fetched at offset ${expectedLogEnd}, but the log continues at ${this.nextOffset}`)
    }
    const spans: { at: number; size: number; baseOffset: number; endOffset: number; epoch: number }[] = []
    let expected = this.nextOffset
    let epoch = this.epochs.latestEpoch
    let gapsUpTo = -1
    for (let at = 0; at < batches.length;) {
      const size = validateBatch(batches, at, batches.length)
      if (size > this.config.segmentBytes) {
        throw new RecordTooLargeError(`batch of ${size} bytes at offset ${readInt64(batches, at)} exceeds segment.bytes ${this.config.segmentBytes}`)
      }
      const baseOffset = readInt64(batches, at)
      // A compacted leader's log has gaps where its cleaner removed records (Kafka's followers
      // accept them too); elsewhere a gap means the fetch came from the wrong place.
      if (baseOffset !== expected && !(this.config.compact && baseOffset > expected)) {
        throw new OffsetOutOfRangeError(`follower append: batch at byte ${at} starts at offset ${baseOffset}, but the log continues at ${expected}`)
      }
      if (baseOffset > expected) gapsUpTo = baseOffset
      const batchEpoch = batches.readInt32BE(at + PARTITION_LEADER_EPOCH_OFFSET)
      if (batchEpoch >= 0 && batchEpoch < epoch) {
        throw new RinglogError(ErrorCode.FENCED_LEADER_EPOCH, `follower append: batch at offset ${baseOffset} has leader epoch ${batchEpoch}, older than ${epoch} before it`)
      }
      if (batchEpoch > epoch) epoch = batchEpoch
      expected = baseOffset + batches.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET) + 1
      spans.push({ at, size, baseOffset, endOffset: expected, epoch: batchEpoch })
      at += size
    }
    const firstOffset = this.nextOffset
    // Recovery accepts offset gaps below the cleaner checkpoint only: the leader's are recorded first.
    if (gapsUpTo > this.cleanerCheckpoint) this.setCleanedUpTo(gapsUpTo)
    for (let i = 0; i < spans.length;) {
      // The longest run from span i that fits in one segment (and in its u32 relative offsets).
      let j = i + 1
      while (j < spans.length && spans[j].at + spans[j].size - spans[i].at <= this.config.segmentBytes &&
        spans[j].endOffset - spans[i].baseOffset <= 0x7fffffff) j++
      const run = batches.subarray(spans[i].at, spans[j - 1].at + spans[j - 1].size)
      const now = this.clock()
      const active = this.activeFor(run.length, spans[j - 1].endOffset - spans[i].baseOffset, now)
      let firstNewEpochAt: number | undefined
      for (let k = i; k < j; k++) {
        if (spans[k].epoch >= 0 && this.assignEpoch(spans[k].epoch, spans[k].baseOffset)) firstNewEpochAt ??= spans[k].baseOffset
      }
      this.writeToActive(active, run, spans[j - 1].endOffset, now, firstNewEpochAt)
      i = j
    }
    return { firstOffset, lastOffset: this.nextOffset - 1, logEndOffset: this.nextOffset }
  }

  /**
   * Cluster mode: the high watermark the replica manager computed (leader: min log end over the
   * ISR; follower: the leader's, capped by its own log end). From now on reads and ListOffsets
   * see min(this, what the flush policy made durable). Single-node logs never call it.
   */
  setReplicatedHighWatermark(offset: number): void {
    this.checkWritable()
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RinglogError(ErrorCode.INVALID_REQUEST, `invalid high watermark ${offset}`)
    this.replicatedHighWatermark = offset
  }

  /** OffsetForLeaderEpoch (KIP-101/279): see LeaderEpochCache.endOffsetFor. */
  endOffsetForEpoch(epoch: number): EpochEndOffset {
    this.checkReadable()
    return this.epochs.endOffsetFor(epoch, this.nextOffset)
  }

  /** The active segment, rolled first when `bytes` more (holding `offsetCount` offsets) would not fit it or it is too old. */
  private activeFor(bytes: number, offsetCount: number, now: number): Segment {
    const active = this.active
    if (active.size > 0 && (
      active.size + bytes > this.config.segmentBytes ||
      now - active.rollStartMs >= this.config.segmentMs ||
      this.nextOffset + offsetCount - 1 - active.baseOffset > 0x7fffffff
    )) return this.roll()
    return active
  }

  /**
   * Writes stamped batches ending at `endOffset` to the active segment. `newEpochAt`: where a
   * leader epoch was assigned for them; a failed write takes that entry back out.
   */
  private writeToActive(active: Segment, batches: Buffer, endOffset: number, now: number, newEpochAt: number | undefined): void {
    try {
      active.append(batches, now)
    } catch (error) {
      try {
        if (newEpochAt !== undefined) this.epochs.truncateFromEnd(newEpochAt)
      } catch (epochError) {
        throw this.goOffline(epochError, `taking back the leader epoch at ${newEpochAt} failed`)
      }
      if (isDiskFull(error)) throw new DiskFullError(`disk full appending to ${active.logPath}; nothing was written`)
      throw this.goOffline(error, `write to ${active.logPath} failed`)
    }
    this.nextOffset = endOffset
    if (this.config.flush === 'always') this.pendingMarks.push({ endOffset, segment: active, position: active.size })
    this.committer.noteWrite(active.fd, endOffset)
  }

  /** Records `epoch` starting at `startOffset` if it is new (written before the batches, so a crash never loses it). */
  private assignEpoch(epoch: number, startOffset: number): boolean {
    try {
      return this.epochs.assign(epoch, startOffset)
    } catch (error) {
      if (error instanceof RinglogError) throw error
      if (isDiskFull(error)) throw new DiskFullError(`disk full writing the leader-epoch checkpoint of ${this.dir}; nothing was written`)
      throw this.goOffline(error, 'writing the leader-epoch checkpoint failed')
    }
  }

  /**
   * On open: a checkpoint the log no longer matches is cut to the log (Kafka's load-time
   * truncation); a missing or damaged one, or one that lacks the epoch of the log's last batch
   * (a crash between the two writes), is rebuilt from the batches' partitionLeaderEpoch fields.
   */
  private reconcileLeaderEpochs(intact: boolean): void {
    if (intact) {
      // Start first: for an empty log (start = end) the end cut then leaves nothing.
      this.epochs.truncateFromStart(this.startOffset)
      this.epochs.truncateFromEnd(this.nextOffset)
      const last = this.lastBatch()
      const mismatch = this.epochMismatch()
      if (mismatch === undefined && (!last || last.partitionLeaderEpoch < 0 || this.epochs.epochForOffset(last.baseOffset) === last.partitionLeaderEpoch)) return
    }
    const entries: EpochEntry[] = []
    // Batches whose epoch each candidate gets wrong: the checkpoint's, and the rebuild's as it grows.
    let checkpointWrong = 0
    let rebuildWrong = 0
    for (const segment of this.segments) {
      for (let position = 0; position < segment.size;) {
        const batch = segment.locationAt(position)
        // A damaged header (the scrubber refuses it): the epochs of the rest of this segment are unknown.
        if (!batch) break
        const latest = entries[entries.length - 1]
        if (batch.partitionLeaderEpoch >= 0 && (!latest || batch.partitionLeaderEpoch > latest.epoch)) {
          entries.push({ epoch: batch.partitionLeaderEpoch, startOffset: batch.baseOffset })
        }
        if (intact && batch.partitionLeaderEpoch >= 0 && batch.lastOffset >= this.startOffset) {
          if (entries[entries.length - 1]?.epoch !== batch.partitionLeaderEpoch) rebuildWrong++
          if (this.epochs.epochForOffset(batch.baseOffset) !== batch.partitionLeaderEpoch) checkpointWrong++
        }
        position += batch.size
      }
    }
    if (intact) {
      // A batch's epoch field is outside its CRC: one flipped there must not replace a sound
      // checkpoint with a rebuild that the flip bends. The candidate more batches agree with wins.
      if (rebuildWrong >= checkpointWrong) return
      reportDamagedFile(this.epochs.path, this.epochMismatch() ?? `${checkpointWrong} batches disagree with it`, 'rebuilt from the batches\' partitionLeaderEpoch fields')
    }
    if (entries.length === 0 && intact === false && !this.fsi.existsSync(this.epochs.path)) return
    this.epochs.rebuild(entries)
    this.epochs.truncateFromStart(this.startOffset)
  }

  /**
   * Why the leader-epoch checkpoint does not match the log, or undefined when it does. Kafka's
   * format has no checksum, and a flipped digit that keeps the entries ordered would move an
   * epoch boundary (and with it every OffsetForLeaderEpoch answer, so a follower would truncate
   * at the wrong place). Each entry is checked where the log can check it cheaply: the epoch
   * must change exactly at its start offset (two header reads per entry; entries are few).
   */
  private epochMismatch(): string | undefined {
    const entries = this.epochs.all
    for (let i = 0; i < entries.length; i++) {
      const { epoch, startOffset } = entries[i]
      if (startOffset >= this.nextOffset) return `epoch ${epoch} starts at ${startOffset}, past the log end ${this.nextOffset}`
      let holding: ReturnType<Segment['findBatch']>
      let before: ReturnType<Segment['findBatch']>
      try {
        holding = this.batchHolding(startOffset)
        before = startOffset === this.startOffset ? undefined : this.batchHolding(startOffset - 1)
      } catch (error) {
        // The log is damaged where this entry points: that is the scrubber's to find; the entry is not judged.
        if (error instanceof CorruptRecordError) continue
        throw error
      }
      if (!holding || holding.partitionLeaderEpoch !== epoch) return `offset ${startOffset} was written in epoch ${holding?.partitionLeaderEpoch}, not ${epoch}`
      if (startOffset === this.startOffset) continue
      if (holding.baseOffset !== startOffset) return `epoch ${epoch} starts at ${startOffset}, inside a batch starting at ${holding.baseOffset}`
      const previousEpoch = i === 0 ? -1 : entries[i - 1].epoch
      if (before && (i === 0 ? before.partitionLeaderEpoch >= 0 : before.partitionLeaderEpoch !== previousEpoch)) {
        return `offset ${startOffset - 1} before epoch ${epoch}'s start was written in epoch ${before.partitionLeaderEpoch}, not ${previousEpoch}`
      }
    }
    return undefined
  }

  /** The header of the batch holding `offset` (undefined outside the log or in a gap). */
  private batchHolding(offset: number): ReturnType<Segment['findBatch']> {
    if (offset < this.startOffset || offset >= this.nextOffset) return undefined
    const batch = this.segments[this.segmentIndexFor(offset)]?.findBatch(offset)
    return batch && batch.baseOffset <= offset ? batch : undefined
  }

  /** A scrub pass read `scanned` whole without damage: check that segment's indexes against it (Segment.checkIndexes). */
  checkIndexes(scanned: ScannedSegment): void {
    const segment = this.segments.find((s) => s.logPath === scanned.path)
    if (segment) segment.pinnedFor(() => segment.checkIndexes(scanned, segment !== this.active))
  }

  /** The header of the log's last batch, or undefined for an empty log. */
  private lastBatch(): ReturnType<Segment['findBatch']> {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const segment = this.segments[i]
      if (segment.size > 0) return segment.findBatch(segment.nextOffset - 1)
    }
    return undefined
  }

  /** Resolves once `offset` (inclusive) is on disk by fdatasync. Under 'never' only a roll, flush() or close() gets it there. */
  whenDurable(offset: number): Promise<void> {
    if (this.offline) return Promise.reject(this.offline)
    return this.committer.whenFlushed(offset + 1)
  }

  /** Resolves when the batch ending at `offset` may be acknowledged under the flush policy (see README). */
  whenAcknowledged(offset: number): Promise<void> {
    if (this.offline) return Promise.reject(this.offline)
    return this.config.flush === 'always' ? this.whenDurable(offset) : Promise.resolve()
  }

  /** Called once when the log goes offline (a failed write, read or file operation); one listener, a later call replaces it. */
  onOffline(listener: () => void): void {
    this.offlineListener = listener
  }

  /** Calls `report` after each group commit that took at least `thresholdMs` (one listener; a later call replaces it). */
  onSlowSync(thresholdMs: number, report: (durationMs: number, flushedTo: number) => void): void {
    this.committer.slowSync = { thresholdMs, report }
  }

  /** Calls `listener(durableEndOffset)` after each completed group commit; returns an unsubscribe function. */
  onDurable(listener: (durableEndOffset: number) => void): () => void {
    this.durableListeners.add(listener)
    return () => { this.durableListeners.delete(listener) }
  }

  /** Flushes everything appended so far, whatever the policy. */
  flush(): Promise<void> {
    if (this.offline) return Promise.reject(this.offline)
    return this.committer.flushAll()
  }

  /**
   * A range of whole batches starting with the one that holds `offset`: up to `maxBytes` but at
   * least one batch (KIP-74), from one segment, never past `maxOffset` (default: high watermark).
   */
  read(offset: number, maxBytes: number, options: ReadOptions = {}): SegmentSlice {
    this.checkReadable()
    if (offset < this.startOffset || offset > this.nextOffset) {
      throw new OffsetOutOfRangeError(`offset ${offset} is outside the log [${this.startOffset}, ${this.nextOffset}]`)
    }
    const limit = Math.min(options.maxOffset ?? this.highWatermark, this.nextOffset)
    try {
      for (let i = this.segmentIndexFor(offset); i < this.segments.length && offset < limit; i++) {
        const segment = this.segments[i]
        const found = segment.pinnedFor(() => this.rangeIn(segment, offset, limit, maxBytes))
        if (found === 'next') continue
        if (found === 'stop') break
        return found
      }
    } catch (error) {
      if (error instanceof RinglogError) throw error
      throw this.goOffline(error, 'read failed')
    }
    const active = this.active
    return {
      path: active.logPath, fd: active.fd, position: active.size, length: 0,
      baseOffsetOfFirstBatch: -1, nextOffset: offset, segmentBaseOffset: active.baseOffset,
    }
  }

  /** read() within one segment (pinned open meanwhile): its slice, or whether to try the next segment or stop. */
  private rangeIn(segment: Segment, offset: number, limit: number, maxBytes: number): SegmentSlice | 'next' | 'stop' {
    const first = segment.findBatch(offset)
    if (!first) return 'next'
    if (first.lastOffset >= limit) return 'stop'
    const limitPosition = this.positionOf(segment, limit)
    const budgetEnd = Math.min(first.position + Math.max(0, maxBytes), limitPosition)
    let end = first.position + first.size
    if (end < budgetEnd) {
      // Batches before an index entry at or below the budget all fit: walk only the rest.
      end = Math.max(end, segment.indexedStartAtOrBefore(budgetEnd))
      while (end < limitPosition) {
        const next = segment.locationAt(end)
        if (!next) throw new CorruptRecordError(`unreadable batch header at ${end} in ${segment.logPath}`)
        if (end + next.size > budgetEnd) break
        end += next.size
      }
    }
    const nextOffset = end >= segment.size ? segment.nextOffset : segment.locationAt(end)?.baseOffset ?? segment.nextOffset
    return {
      path: segment.logPath, fd: segment.fd, position: first.position, length: end - first.position,
      baseOffsetOfFirstBatch: first.baseOffset, nextOffset, segmentBaseOffset: segment.baseOffset,
    }
  }

  /** Reads a slice into memory (tests, tools), through its segment's file (reopened if the cache closed it). */
  readBytes(slice: SegmentSlice): Buffer {
    const out = Buffer.allocUnsafe(slice.length)
    const segment = this.segments.find((s) => s.logPath === slice.path) ??
      [...this.retiring.keys()].find((s) => s.logPath === slice.path || s.logPath === slice.path + DELETED_SUFFIX)
    if (!segment) throw new OffsetOutOfRangeError(`${slice.path} is no longer part of the log`)
    const n = readFully(this.fsi, segment.fd, out, 0, slice.length, slice.position)
    if (n !== slice.length) throw this.goOffline(new Error(`short read ${n}/${slice.length}`), 'read failed')
    return out
  }

  /**
   * ListOffsets by time: the first offset whose record timestamp is >= `timestamp`, below the
   * high watermark; undefined if there is none. LATEST_TIMESTAMP / EARLIEST_TIMESTAMP give the
   * high watermark / log start; MAX_TIMESTAMP the record with the largest timestamp.
   */
  offsetForTimestamp(timestamp: number): TimestampOffset | undefined {
    this.checkReadable()
    if (timestamp === LATEST_TIMESTAMP) return { offset: this.highWatermark, timestamp: -1 }
    if (timestamp === EARLIEST_TIMESTAMP) return { offset: this.startOffset, timestamp: -1 }
    if (timestamp === MAX_TIMESTAMP) return this.maxTimestampOffset()
    const limit = this.highWatermark
    for (const segment of this.segments) {
      if (segment.size === 0 || segment.maxTimestamp < timestamp) continue
      let position = segment.timeIndexedStartFor(timestamp)
      while (position < segment.size) {
        const batch = segment.locationAt(position)
        if (!batch || batch.baseOffset >= limit) return undefined
        if (batch.maxTimestamp >= timestamp && batch.lastOffset >= this.startOffset) {
          const found = this.firstRecordAtOrAfter(segment, batch.position, batch.size, timestamp)
          if (found) return found
        }
        position += batch.size
      }
    }
    return undefined
  }

  /**
   * The offset and timestamp of the first record carrying the log's largest timestamp (Kafka
   * 3.8 answers the record, not its batch). The segment comes from each segment's max
   * timestamp, the batch from its time index, the record from decoding that one batch.
   */
  private maxTimestampOffset(): TimestampOffset | undefined {
    let best: Segment | undefined
    for (const s of this.segments) if (s.size > 0 && s.maxTimestamp >= 0 && (!best || s.maxTimestamp > best.maxTimestamp)) best = s
    if (!best) return undefined
    const max = best.maxTimestamp
    let position = best.timeIndexedStartFor(max)
    while (position < best.size) {
      const batch = best.locationAt(position)
      if (!batch) return undefined
      if (batch.maxTimestamp >= max && batch.lastOffset >= this.startOffset) return this.firstRecordAtOrAfter(best, batch.position, batch.size, max)
      position += batch.size
    }
    return undefined
  }

  private firstRecordAtOrAfter(segment: Segment, position: number, size: number, timestamp: number): TimestampOffset | undefined {
    const bytes = Buffer.allocUnsafe(size)
    readFully(this.fsi, segment.fd, bytes, 0, size, position)
    const baseOffset = readInt64(bytes, 0)
    const maxTimestamp = readInt64(bytes, MAX_TIMESTAMP_OFFSET)
    if (bytes.readInt16BE(ATTRIBUTES_OFFSET) & BatchAttribute.LogAppendTime) {
      return { offset: Math.max(baseOffset, this.startOffset), timestamp: maxTimestamp }
    }
    try {
      const { header, records } = decodeRecordBatch(bytes)
      for (const r of records) {
        const recordOffset = header.baseOffset + r.offsetDelta
        const recordTimestamp = header.baseTimestamp + r.timestampDelta
        if (recordTimestamp >= timestamp && recordOffset >= this.startOffset) return { offset: recordOffset, timestamp: recordTimestamp }
      }
      return undefined
    } catch (error) {
      // Snappy/zstd batches are stored, not decoded: answer at batch granularity.
      if (error instanceof UnsupportedCompressionError) return { offset: Math.max(baseOffset, this.startOffset), timestamp: maxTimestamp }
      throw error
    }
  }

  /**
   * Deletes closed segments past retention.ms / retention.bytes (never the active one) and
   * advances the log start offset. Their files become `.deleted` and go after fileDeleteDelayMs.
   */
  applyRetention(now: number = this.clock()): RetentionResult {
    this.checkWritable()
    // cleanup.policy=compact alone: old segments are compacted, never deleted by age or size.
    if (!this.config.deleteByRetention) return { deletedSegments: 0, deletedBytes: 0, logStartOffset: this.startOffset }
    // By path: a stat needs no descriptor, so segments the cache closed stay closed.
    const count = countSegmentsToDelete(this.segments, this.config, now, (i) => this.fsi.statSync(this.segments[i].logPath).mtimeMs)
    let deletedBytes = 0
    if (count > 0) {
      const removed = this.segments.splice(0, count)
      this.startOffset = Math.max(this.startOffset, this.segments[0].baseOffset)
      // Log start first: a crash between the two leaves only files recovery removes.
      this.writeCheckpoints()
      this.epochs.truncateFromStart(this.startOffset)
      for (const segment of removed) {
        deletedBytes += segment.size
        this.retire(segment, this.config.fileDeleteDelayMs)
      }
    }
    return { deletedSegments: count, deletedBytes, logStartOffset: this.startOffset }
  }

  /**
   * Kafka's DeleteRecords: moves the log start offset up to `offset` (never past the high
   * watermark, never back) and retires the closed segments wholly below it. Records below the
   * new start stay in a kept segment's bytes but are no longer readable or listed.
   */
  deleteRecordsBefore(offset: number): number {
    this.checkWritable()
    const highWatermark = this.highWatermark
    if (offset < 0 || offset > highWatermark) {
      throw new OffsetOutOfRangeError(`cannot delete records before ${offset}: the log ends at the high watermark ${highWatermark}`)
    }
    if (offset <= this.startOffset) return this.startOffset
    this.startOffset = offset
    let count = 0
    while (count + 1 < this.segments.length && this.segments[count + 1].baseOffset <= offset) count++
    const removed = this.segments.splice(0, count)
    // Log start first, as in retention: a crash between the two leaves only files recovery removes.
    this.writeCheckpoints()
    for (const segment of removed) this.retire(segment, this.config.fileDeleteDelayMs)
    return this.startOffset
  }

  /** Removes every batch at or past `offset` (a follower truncating to its leader). */
  truncateTo(offset: number): void {
    this.checkWritable()
    if (offset >= this.nextOffset) return
    this.truncations++
    if (offset <= this.startOffset) {
      this.resetSegmentsAt(offset)
    } else {
      while (this.active.baseOffset >= offset) {
        const segment = this.segments.pop()
        if (segment) this.retire(segment, 0)
      }
      this.pinActive()
      this.active.truncateTo(offset)
      this.committer.syncFile(this.active.fd)
    }
    this.afterTruncation()
  }

  /**
   * Empties the log and restarts it at `offset`, which may lie past the old end (Kafka's
   * truncateFullyAndStartAt: a follower whose log ends below the leader's log start).
   */
  truncateFullyAndStartAt(offset: number): void {
    this.checkWritable()
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RinglogError(ErrorCode.INVALID_REQUEST, `invalid log start offset ${offset}`)
    this.truncations++
    this.resetSegmentsAt(offset)
    this.epochs.truncateFromEnd(0)
    this.afterTruncation()
  }

  /** Retires every segment and starts an empty one at `offset`, the new log start. */
  private resetSegmentsAt(offset: number): void {
    // Retire first: the new segment may take the name of one being removed.
    const removed = this.segments.splice(0, this.segments.length)
    // Newest first, as a cut from the end does: a crash part-way leaves a shorter prefix.
    for (const segment of removed.reverse()) this.retire(segment, 0)
    try {
      this.segments.push(Segment.create(this.fsi, this.dir, offset, this.config.indexIntervalBytes, this.segmentFiles))
    } catch (error) {
      throw this.goOffline(error, `creating a segment at ${offset} failed`)
    }
    this.pinActive()
    this.startOffset = offset
  }

  /** What every truncation ends with: offsets, epochs, group commit, marks and checkpoints follow the cut segments. */
  private afterTruncation(): void {
    this.nextOffset = this.active.nextOffset
    // A cut lands on a batch's start; when DeleteRecords had moved the log start inside that
    // batch, the start follows the end down (Kafka: logStartOffset = min(target, logStartOffset)).
    if (this.startOffset > this.nextOffset) this.startOffset = this.nextOffset
    // After the segments: a crash in between leaves entries past the end, which open cuts.
    this.epochs.truncateFromEnd(this.nextOffset)
    this.committer.truncate(this.nextOffset)
    this.pendingMarks.length = 0
    this.pendingHead = 0
    this.flushedMark = undefined
    this.recoveryPoint = Math.min(this.recoveryPoint, this.active.baseOffset)
    this.writeCheckpoints()
    this.committer.syncFile(this.dirFd)
    if (this.config.flush === 'always') void this.committer.flushAll().catch(() => undefined)
  }

  /** Flushes and closes; the next open trusts the saved indexes (clean shutdown). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    let failure: unknown
    if (!this.offline) {
      try {
        const active = this.active
        for (const fd of active.writeIndexFiles()) this.committer.syncFile(fd, () => this.fsi.closeSync(fd))
        this.committer.syncFile(active.fd)
        await this.committer.flushAll()
        this.recoveryPoint = this.nextOffset
        this.writeCheckpoints()
        this.fsi.closeSync(this.fsi.openSync(join(this.dir, CLEAN_SHUTDOWN_MARKER), 'w'))
        fsyncDirectory(this.fsi, this.dir)
      } catch (error) {
        failure = error
      }
    }
    this.committer.stop(new LogClosedError())
    for (const [segment, timer] of this.retiring) { clearTimeout(timer); segment.destroy() }
    this.retiring.clear()
    for (const segment of this.segments) segment.close()
    this.fsi.closeSync(this.dirFd)
    this.durableListeners.clear()
    if (failure) throw failure
  }

  private get active(): Segment { return this.segments[this.segments.length - 1] }

  // ------------------------------------------------------------------ log cleaner hooks (log-cleaner.ts)

  /** The closed segments (all but the active one), oldest first: the only ones the cleaner rewrites. */
  get closedSegments(): readonly Segment[] { return this.segments.slice(0, -1) }
  get activeSegmentBaseOffset(): number { return this.active.baseOffset }
  /** The file-system seam and clock this log uses (the cleaner writes and times through them). */
  get storageFs(): StorageFs { return this.fsi }
  now(): number { return this.clock() }
  /** Changes each time the log is cut from its end: a cleaning pass that started before gives up. */
  get truncationCount(): number { return this.truncations }
  /** Offsets below it went through the cleaner (gaps there are expected); 0 before the first pass. */
  get cleanedUpTo(): number { return this.cleanerCheckpoint }

  /**
   * Records that everything below `offset` is cleaned. Written before a pass swaps in its first
   * segment, so recovery never meets a cleaner's offset gap above the checkpoint.
   */
  setCleanedUpTo(offset: number): void {
    this.checkWritable()
    writeOffsetCheckpoint(this.fsi, join(this.dir, CLEANER_OFFSET_CHECKPOINT), [{ topic: this.topic, partition: this.partition, offset }])
    this.cleanerCheckpoint = offset
  }

  /**
   * Swaps a cleaned replacement in for the closed segment `old`: the original's files are
   * retired (renamed `.deleted`, removed after fileDeleteDelayMs, so a fetch still sending from
   * them completes), then `install` moves the replacement's `.swap` files to the segment's names
   * and opens it; with 'nothing' (the cleaner kept no record of it) the segment is just removed.
   * Returns false, doing nothing, if `old` is no longer a closed segment of the log.
   */
  replaceSegment(old: Segment, install: (() => Segment) | 'nothing'): boolean {
    this.checkWritable()
    const index = this.segments.indexOf(old)
    if (index < 0 || index === this.segments.length - 1) return false
    this.retire(old, this.config.fileDeleteDelayMs)
    if (install === 'nothing') {
      // Every record was cleaned away: the segment goes (reads skip to the next one; a crash
      // leaves only `.deleted` files, which open removes).
      this.segments.splice(index, 1)
      this.committer.syncFile(this.dirFd)
      return true
    }
    let replacement: Segment
    try {
      replacement = install()
    } catch (error) {
      // The original is retired and its replacement not in place: the next open completes the swap.
      throw this.goOffline(error, `swapping in the cleaned ${old.logPath} failed`)
    }
    // Reads continue after the segment where the original ended, whatever the cleaner removed at its end.
    replacement.nextOffset = Math.max(replacement.nextOffset, old.nextOffset)
    this.segments[index] = replacement
    return true
  }

  /** Keeps the active segment's file open (appends and the group commit use its fd); the one before it is released. */
  private pinActive(): void {
    const active = this.active
    if (this.pinnedActive === active) return
    this.pinnedActive?.unpin()
    active.pin()
    this.pinnedActive = active
  }

  private roll(): Segment {
    const old = this.active
    const newBase = this.nextOffset
    let indexFds: number[]
    let created: Segment
    try {
      indexFds = old.writeIndexFiles()
      try {
        created = Segment.create(this.fsi, this.dir, newBase, this.config.indexIntervalBytes, this.segmentFiles)
      } catch (error) {
        for (const fd of indexFds) this.fsi.closeSync(fd)
        throw error
      }
    } catch (error) {
      if (isDiskFull(error)) throw new DiskFullError(`disk full rolling to a new segment at ${newBase}`)
      if (isOutOfDescriptors(error)) {
        // Nothing was created (open fails before the file exists): refuse this append only; the next one retries the roll.
        throw new RinglogError(ErrorCode.KAFKA_STORAGE_ERROR, `no file descriptor for a new segment at ${newBase} (${errnoCode(error)}); nothing was written`)
      }
      throw this.goOffline(error, `rolling to a new segment at ${newBase} failed`)
    }
    this.segments.push(created)
    // Like Kafka, a rolled segment is flushed whatever the policy; then the recovery point moves
    // past it. It stays pinned open until that flush has used its fd.
    old.pin()
    this.pinActive()
    this.committer.syncFile(old.fd, () => old.unpin())
    for (const fd of indexFds) this.committer.syncFile(fd, () => this.fsi.closeSync(fd))
    this.committer.syncFile(this.dirFd)
    const truncations = this.truncations
    this.committer.flushAll().then(() => {
      if (this.closed || this.offline || truncations !== this.truncations || newBase <= this.recoveryPoint) return
      this.recoveryPoint = newBase
      // Advisory: a checkpoint that cannot be written (disk full) leaves the older one, which
      // only makes a recovery scan longer; the next roll or close writes it again.
      this.tryWriteCheckpoints()
    }, () => undefined)
    return created
  }

  private retire(segment: Segment, delayMs: number): void {
    try {
      segment.retire()
    } catch (error) {
      throw this.goOffline(error, `retiring ${segment.logPath} failed`)
    }
    const destroy = (): void => {
      this.retiring.delete(segment)
      // A file the cache closed has nothing left to flush: it was unpinned, so its flush ran.
      const fd = segment.fdIfOpen
      if (fd === undefined) segment.destroy()
      else this.committer.release(fd, () => segment.destroy())
    }
    if (delayMs === 0) destroy()
    // Unref'd: a pending delete must not keep the process alive; the next open removes leftovers.
    else this.retiring.set(segment, setTimeout(destroy, delayMs).unref())
  }

  private onFlushed(durableEnd: number): void {
    const marks = this.pendingMarks
    while (this.pendingHead < marks.length && marks[this.pendingHead].endOffset <= durableEnd) this.flushedMark = marks[this.pendingHead++]
    if (this.pendingHead > 1024 && this.pendingHead * 2 > marks.length) { marks.splice(0, this.pendingHead); this.pendingHead = 0 }
    for (const listener of this.durableListeners) listener(durableEnd)
  }

  /** Byte position in `segment` where offsets >= `limit` begin (its size if it ends below). */
  private positionOf(segment: Segment, limit: number): number {
    if (segment.nextOffset <= limit) return segment.size
    const mark = this.flushedMark
    if (mark && mark.segment === segment && mark.endOffset === limit) return mark.position
    return segment.findBatch(limit)?.position ?? segment.size
  }

  /** Index of the last segment whose base offset is <= offset (0 if none). */
  private segmentIndexFor(offset: number): number {
    let lo = 0
    let hi = this.segments.length - 1
    let found = 0
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (this.segments[mid].baseOffset <= offset) { found = mid; lo = mid + 1 } else hi = mid - 1
    }
    return found
  }

  /**
   * writeCheckpoints for the recovery point's sake only (the log start is unchanged): on failure
   * the files keep their older, safe values and the error is kept for `checkpointFailure`.
   */
  private tryWriteCheckpoints(): boolean {
    try {
      this.writeCheckpoints()
      this.lastCheckpointFailure = undefined
      return true
    } catch (error) {
      this.lastCheckpointFailure = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error)
      return false
    }
  }

  /** Why the last advisory checkpoint write failed (e.g. 'ENOSPC'), undefined once one succeeds. */
  get checkpointFailure(): string | undefined { return this.lastCheckpointFailure }

  /** Rewrites whichever checkpoint changed (each write costs two fsyncs). */
  private writeCheckpoints(): void {
    const entry = { topic: this.topic, partition: this.partition }
    if (this.recoveryPoint !== this.checkpointed.recoveryPoint) {
      writeOffsetCheckpoint(this.fsi, join(this.dir, RECOVERY_POINT_CHECKPOINT), [{ ...entry, offset: this.recoveryPoint }])
      this.checkpointed.recoveryPoint = this.recoveryPoint
    }
    if (this.startOffset !== this.checkpointed.logStartOffset) {
      writeOffsetCheckpoint(this.fsi, join(this.dir, LOG_START_OFFSET_CHECKPOINT), [{ ...entry, offset: this.startOffset }])
      this.checkpointed.logStartOffset = this.startOffset
    }
  }

  private goOffline(error: unknown, what: string): StorageOfflineError {
    if (!this.offline) {
      const detail = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error)
      this.offline = new StorageOfflineError(`${what} (${detail}); the partition is offline`)
      this.committer.stop(this.offline)
      this.offlineListener?.()
    }
    return this.offline
  }

  private checkWritable(): void {
    if (this.closed) throw new LogClosedError()
    if (this.offline) throw this.offline
  }

  private checkReadable(): void { this.checkWritable() }
}

/** The process (EMFILE) or the system (ENFILE) is out of file descriptors: transient, unlike a failed write. */
function isOutOfDescriptors(error: unknown): boolean {
  const code = errnoCode(error)
  return code === 'EMFILE' || code === 'ENFILE'
}
