/**
 * One partition inside its owning worker: validation, idempotent-producer dedupe, offset
 * stamping and append (through PartitionLog), the embedded-producer batcher, acks, and the
 * offsets it publishes to shared memory.
 *
 * Acks: 0 never replies (failures are still counted), 1 replies after the write, -1 replies
 * once the log says the batch may be acknowledged under the flush policy (under 'always':
 * after the group commit covering it). Producer state is snapshotted to `<offset>.snapshot`
 * on clean close and on segment roll, and rebuilt on open from the newest snapshot plus the
 * batches after it.
 *
 * Transactions: transactional batches open a producer's transaction here; the coordinator's
 * COMMIT/ABORT marker (writeTxnMarker, never a client's Produce) closes it, and an aborted one
 * is indexed in `.txnindex` (storage/aborted-txn-index.ts). The last stable offset is
 * published beside the high watermark; read_committed reads stop there and carry the aborted
 * transactions of their range.
 */
import { performance } from 'node:perf_hooks'
import { existsSync, openSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import nativeBinding from '../../../native-bindings/index.js'
import { RinglogError } from '../../errors.js'
import { checkDecompressedBound, Compression } from '../../protocol/compression.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import {
  BATCH_HEADER_SIZE, BatchAttribute, LOG_OVERHEAD, readInt64, validateBatch, validateBatchRecords, ATTRIBUTES_OFFSET, BASE_SEQUENCE_OFFSET,
  BATCH_LENGTH_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAX_TIMESTAMP_OFFSET, PRODUCER_EPOCH_OFFSET, PRODUCER_ID_OFFSET, RECORD_COUNT_OFFSET,
} from '../../protocol/record-batch.js'
import { CLEAN_SHUTDOWN_MARKER, LOG_SUFFIX, partitionDirName, producerSnapshotFileName } from '../../storage/file-names.js'
import { atomicTempPath } from '../../storage/atomic-file.js'
import type { FlushPolicy } from '../../storage/log-config.js'
import { PartitionScrubber } from '../../storage/scrub.js'
import { nodeStorageFs } from '../../storage/storage-fs.js'
import { hasKeylessRecord, hasKeylessRecordIn } from '../../storage/cleaner-records.js'
import { LogCleaner } from '../../storage/log-cleaner.js'
import { PartitionLog, type SegmentSlice } from '../../storage/partition-log.js'
import { ProducerStateManager, type ActiveProducer, type ProducerBatchInfo } from '../../storage/producer-state.js'
import { AbortedTxnIndex, type AbortedTxn } from '../../storage/aborted-txn-index.js'
import { blockHeaderReader, skipAbortedBatches, type AbortedSkip } from '../../transactions/aborted-batch-skip.js'
import { CONSUMER_OFFSETS_TOPIC } from '../../protocol/consumer-offsets-records.js'
import { rebuildTxnIndex, TxnIndexScanCheck, txnIndexMismatch } from '../../storage/txn-index-check.js'
import { CONTROL_TYPE_COMMIT, controlTypeOf, coordinatorEpochOf, encodeTxnMarkerBatch, isControlBatch, isTransactionalBatch, type TxnMarker } from '../../protocol/control-records.js'
import { ARENA_FLUSH_BYTES, RecordBatcher, type FrameOutcome } from './batcher.js'
import { FOLLOWER_APPEND_HEAD_BYTES, NO_REPLY, readFollowerAppendHead, type AppendReply } from '../channel/frames.js'
import type { EpochEndOffset, PartitionSettings, PartitionStats, ReadSlice, ScrubDamageEvent, SlowSyncEvent, TimestampOffset } from '../log-engine.js'
import { logConfigFor } from '../partition-log-config.js'
import { CHUNK_HEADER_BYTES, largestRecordBytes, RECORDS_PREFIX_BYTES } from '../channel/record-frames.js'
import type { SharedPartitionState } from '../channel/shared-state.js'

export interface ReplyTarget {
  append(reply: AppendReply): void
}

export interface RuntimeOptions {
  dataDir: string
  topic: string
  partition: number
  slot: number
  settings: PartitionSettings
  flush: FlushPolicy
  batchSize: number
  lingerMs: number
  shared: SharedPartitionState
  replies: ReplyTarget
  /** flush 'always': whether every send the router made so far has reached this worker (see FrameKind.TurnEnd). Default: always true. */
  routerTurnEnded?: () => boolean
  /** Group commits at least `thresholdMs` long go to `report` (thresholdMs -1: none). */
  slowSync?: { thresholdMs: number; report(event: SlowSyncEvent): void }
  /** Damaged ranges the scrubber finds (a replica may repair them from its leader). */
  onScrubDamage?: (event: ScrubDamageEvent) => void
}

/** An appendRecords call whose records are (partly) in batches not yet appended. */
interface RecordsCall {
  requestId: number
  acks: number
  baseOffset: number
  error: { code: number; message: string } | null
}

/** Calls whose first record (with its index) or last record sits in the open batch. */
interface BatchMembers {
  starts: { call: RecordsCall; index: number }[]
  ends: RecordsCall[]
}

const REPLAY_READ_BYTES = 1024 * 1024
/** Room a record needs in a batch beyond its own encoding: the batch header, and its deltas growing when it joins an open batch. */
const RECORD_OVERHEAD_ESTIMATE = BATCH_HEADER_SIZE + 32

export class PartitionRuntime {
  readonly topic: string
  readonly partition: number
  readonly dir: string
  private readonly slot: number
  private readonly log: PartitionLog
  private readonly producers = new ProducerStateManager()
  private txnIndex: AbortedTxnIndex
  /** The scrub pass's check of the `.txnindex` against the segments it reads. */
  private readonly txnIndexScan = new TxnIndexScanCheck()
  private readonly shared: SharedPartitionState
  private readonly replies: ReplyTarget
  private readonly settings: PartitionSettings
  private readonly batchSize: number
  private readonly lingerMs: number
  private readonly maxMessageBytes: number
  /**
   * flush 'always': an uncompressed open batch is sealed when the disk is free instead of after
   * linger (see afterBurst). Compressed batches keep lingering: measured, the smaller batches
   * cost ~15% more CPU per record in lz4 calls for no throughput gain.
   */
  private readonly sealWithGroupCommit: boolean
  private readonly routerTurnEnded: () => boolean
  private batcher: RecordBatcher | undefined
  /** Calls touching the open batch, and those of each sealed batch not yet appended (in order). */
  private members: BatchMembers = { starts: [], ends: [] }
  private sealedMembers: BatchMembers[] = []
  private readonly unsubscribe: () => void
  private segmentCount: number
  /** Stamped on leader appends: 0 on a single node, the controller's epoch in a cluster (setLeaderEpoch). */
  private leaderEpoch: number
  private snapshotFailure: string | undefined
  private closed = false
  private readonly counters = { recovered: false, appendedBatches: 0, appendedRecords: 0, failedAppends: 0, duplicateBatches: 0 }
  /** Re-checks closed segments in the background; marks what fails (this thread is the only one that does). */
  private readonly scrubber: PartitionScrubber
  /** cleanup.policy=compact: Kafka's log cleaner, stepped by the worker's cleaner tick. */
  private readonly cleaner: LogCleaner

  private constructor(options: RuntimeOptions, dir: string, log: PartitionLog, recovered: boolean) {
    this.topic = options.topic
    this.partition = options.partition
    this.dir = dir
    this.slot = options.slot
    this.log = log
    this.txnIndex = AbortedTxnIndex.load(dir, log.logStartOffset, log.logEndOffset)
    const txnIndexDamage = txnIndexMismatch(log, this.txnIndex)
    if (txnIndexDamage !== undefined) rebuildTxnIndex(log, this.txnIndex, txnIndexDamage)
    this.shared = options.shared
    this.replies = options.replies
    this.settings = options.settings
    this.batchSize = options.batchSize
    this.lingerMs = options.lingerMs
    this.maxMessageBytes = log.config.maxMessageBytes
    this.counters.recovered = recovered
    this.segmentCount = log.segmentCount
    // A restarted leader keeps stamping the epoch its log already has until told otherwise.
    this.leaderEpoch = Math.max(0, log.latestEpoch)
    this.sealWithGroupCommit = flushPolicyOf(options) === 'always'
    this.routerTurnEnded = options.routerTurnEnded ?? (() => true)
    this.unsubscribe = log.onDurable(() => this.onDurable())
    // Positions other threads remember in these files are void once the disk failed under them.
    log.onOffline(() => this.layoutChanged())
    const onScrubDamage = options.onScrubDamage
    this.scrubber = new PartitionScrubber(dir, (message) => process.stderr.write(`ringlog ${this.topic}-${this.partition}: ${message}\n`), nodeStorageFs,
      (damage) => onScrubDamage?.({ type: 'scrubDamage', topic: this.topic, partition: this.partition, ...damage }), () => log.cleanedUpTo,
      (scanned) => {
        log.checkIndexes(scanned)
        const why = this.txnIndexScan.mismatch(log, this.txnIndex, scanned)
        if (why !== undefined) rebuildTxnIndex(log, this.txnIndex, why)
      })
    this.cleaner = new LogCleaner(log, {
      onPass: (s) => process.stderr.write(`ringlog ${this.topic}-${this.partition}: log cleaner pass: ${s.segments} segments, ${s.cleanedBytes} bytes cleaned, ` +
        `${s.removedRecords} records (${s.removedBytes} bytes) removed, clean up to offset ${s.cleanedUpTo}, ${s.durationMs.toFixed(0)} ms\n`),
    })
  }

  static async open(options: RuntimeOptions): Promise<PartitionRuntime> {
    const dir = join(options.dataDir, partitionDirName(options.topic, options.partition))
    const hadFiles = existsSync(dir) && readdirSync(dir).some((name) => name.endsWith(LOG_SUFFIX))
    const recovered = hadFiles && !existsSync(join(dir, CLEAN_SHUTDOWN_MARKER))
    const log = await PartitionLog.open(dir, logConfigFor(options.settings, flushPolicyOf(options)))
    const runtime = new PartitionRuntime(options, dir, log, recovered)
    const slow = options.slowSync
    if (slow && slow.thresholdMs >= 0) {
      log.onSlowSync(slow.thresholdMs, (durationMs, flushedTo) => {
        slow.report({ type: 'slowFdatasync', topic: options.topic, partition: options.partition, durationMs, thresholdMs: slow.thresholdMs, flushedTo })
      })
    }
    try {
      runtime.rebuildProducerState()
    } catch (error) {
      await log.close().catch(() => undefined)
      throw error
    }
    runtime.publish()
    return runtime
  }

  /** Newest snapshot at or below the log end, then every batch after it. */
  private rebuildProducerState(): void {
    const end = this.log.logEndOffset
    const fromSnapshot = this.producers.loadLatestSnapshot(this.dir, end)
    let offset = Math.max(fromSnapshot, this.log.logStartOffset)
    while (offset < end) {
      const slice = this.log.read(offset, REPLAY_READ_BYTES, { maxOffset: end })
      if (slice.length === 0) break
      const bytes = this.log.readBytes(slice)
      for (let at = 0; at + LOG_OVERHEAD <= bytes.length;) {
        const size = LOG_OVERHEAD + bytes.readInt32BE(at + BATCH_LENGTH_OFFSET)
        this.replayBatch(bytes, at, size)
        at += size
      }
      if (slice.nextOffset <= offset) break
      offset = slice.nextOffset
    }
  }

  /** Producer state (and transaction state) from one batch of the log: replay on open, or a follower's append. */
  private replayBatch(bytes: Buffer, at: number, size: number): void {
    const info = batchInfoAt(bytes, at)
    const offset = readInt64(bytes, at)
    if (isControlBatch(bytes, at)) {
      if (info.producerId >= 0) this.endTransaction(info.producerId, info.producerEpoch, offset, controlTypeOf(bytes, at, size) === CONTROL_TYPE_COMMIT, coordinatorEpochOf(bytes, at, size))
      return
    }
    this.producers.replayBatch(info, offset, readInt64(bytes, at + MAX_TIMESTAMP_OFFSET))
  }

  /** A marker at `markerOffset` ends the producer's transaction; an aborted one goes into the `.txnindex`. */
  private endTransaction(producerId: number, producerEpoch: number, markerOffset: number, committed: boolean, coordinatorEpoch: number): void {
    const stableBefore = this.lastStableOffset
    const done = this.producers.completeTxn(producerId, producerEpoch, markerOffset, committed, coordinatorEpoch)
    if (!done || committed) return
    const entry: AbortedTxn = { producerId, firstOffset: done.firstOffset, lastOffset: markerOffset, lastStableOffset: stableBefore }
    this.txnIndex.add(entry, this.log.segmentBaseOf(markerOffset))
  }

  /** Offsets below it hold no record of an open (or not yet stably ended) transaction: what read_committed reads up to. */
  get lastStableOffset(): number {
    const highWatermark = this.log.highWatermark
    return Math.min(highWatermark, this.producers.firstUnstableOffset(highWatermark))
  }

  /**
   * Appends the coordinator's COMMIT or ABORT marker for a producer and resolves with its
   * offset once acknowledged under the flush policy. A marker older than the producer's epoch
   * here is refused (INVALID_PRODUCER_EPOCH); one with a newer epoch fences the producer's
   * older epoch in this partition.
   */
  async writeTxnMarker(marker: TxnMarker): Promise<number> {
    const verdict = this.producers.checkMarker(marker.producerId, marker.producerEpoch, marker.coordinatorEpoch)
    if (verdict.kind === 'error') throw new RinglogError(verdict.code, verdict.message)
    const batch = encodeTxnMarkerBatch(marker)
    const result = this.log.append(batch, { leaderEpoch: this.leaderEpoch, validated: true })
    this.endTransaction(marker.producerId, marker.producerEpoch, result.baseOffset, marker.committed, marker.coordinatorEpoch)
    this.afterAppend(batch)
    this.snapshotOnRoll()
    await this.log.whenAcknowledged(result.lastOffset)
    this.publish()
    return result.baseOffset
  }

  /**
   * After each group commit: publish, and under 'always' append the open uncompressed batch
   * at once (unless the router is mid-turn: its TurnEnd will), so the next fdatasync, which
   * the committer starts right after this, covers the records that gathered while the disk
   * was busy: they could not have been acknowledged sooner anyway.
   */
  private onDurable(): void {
    this.publish()
    const batcher = this.batcher
    if (!this.sealWithGroupCommit || this.closed || batcher === undefined || batcher.compression !== Compression.none) return
    if (batcher.pending > 0 && this.routerTurnEnded()) this.sealOpenBatch()
  }

  /** Bytes already in the files may have moved or gone: other threads' remembered positions are void (shared-state.ts). */
  private layoutChanged(): void {
    this.shared.bumpLayout(this.slot)
  }

  /** Writes the current offsets to shared memory (wakes long polls if the high watermark moved). */
  private publish(): void {
    if (this.closed) return
    this.shared.publish(this.slot, this.log.logStartOffset, this.log.logEndOffset, this.log.highWatermark, -1, this.lastStableOffset)
  }

  // ------------------------------------------------------------------ network batches

  /** Batches as received (a Produce request's records for this partition), from `offset` to the end of `frame`. */
  appendBatches(frame: Buffer, offset: number, requestId: number, acks: number): void {
    const end = frame.length
    let count = 0
    let idempotent = false
    try {
      if (offset >= end) throw new RinglogError(ErrorCode.CORRUPT_MESSAGE, 'no record batch in the request')
      for (let at = offset; at < end;) {
        const size = validateBatch(frame, at, end)
        if (size > this.maxMessageBytes) {
          throw new RinglogError(ErrorCode.MESSAGE_TOO_LARGE, `batch of ${size} bytes exceeds max.message.bytes ${this.maxMessageBytes}`)
        }
        // Markers come only from the transaction coordinator (writeTxnMarker), as in Kafka.
        if (isControlBatch(frame, at)) throw new RinglogError(ErrorCode.INVALID_RECORD, 'a client may not produce control batches')
        refuseCompressionBomb(frame, at, size)
        validateBatchRecords(frame, at, size)
        // Kafka 3.9's LogValidator: INVALID_RECORD, and nothing of the request is stored.
        if (this.log.config.compact && hasKeylessRecord(frame, at, size)) {
          throw new RinglogError(ErrorCode.INVALID_RECORD, `Compacted topic cannot accept message without key in topic partition ${this.topic}-${this.partition}`)
        }
        if (readInt64(frame, at + PRODUCER_ID_OFFSET) >= 0) idempotent = true
        count++
        at += size
      }
      if (idempotent && count > 1) throw new RinglogError(ErrorCode.INVALID_RECORD, 'an idempotent produce request must carry exactly one batch per partition')
    } catch (error) {
      this.fail(requestId, error)
      return
    }
    const batches = frame.subarray(offset)
    if (idempotent) {
      const info = batchInfoAt(batches, 0)
      // Clients cannot produce to __consumer_offsets (an internal topic): its sequenceless transactional batches are the coordinator's.
      const verdict = this.producers.check(info, this.topic === CONSUMER_OFFSETS_TOPIC)
      if (verdict.kind === 'error') {
        this.fail(requestId, new RinglogError(verdict.code, verdict.message))
        return
      }
      if (verdict.kind === 'duplicate') {
        this.counters.duplicateBatches++
        this.reply(requestId, acks, verdict.firstOffset, verdict.lastOffset, -1)
        return
      }
      // The producer state takes the batch before the offsets are published, so a transactional
      // batch never shows under a last stable offset past it (the main thread reads it at once).
      const result = this.appendToLog(batches, requestId, (appended) => this.producers.update(info, appended.baseOffset, readInt64(batches, MAX_TIMESTAMP_OFFSET)))
      if (!result) return
      this.snapshotOnRoll()
      this.reply(requestId, acks, result.baseOffset, result.lastOffset, result.logAppendTime)
      return
    }
    const result = this.appendToLog(batches, requestId)
    if (!result) return
    this.snapshotOnRoll()
    this.reply(requestId, acks, result.baseOffset, result.lastOffset, result.logAppendTime)
  }

  // ------------------------------------------------------------------ replication

  /**
   * A follower's append of the leader's batches (from `offset` to the end of `frame`), stored
   * verbatim; the producer state takes every idempotent batch, so after a failover a retry of
   * a batch the old leader acknowledged is answered with its original offsets. The reply's
   * baseOffset carries the log end offset (see FrameKind.AppendAsFollower).
   */
  appendAsFollower(frame: Buffer, offset: number, requestId: number): void {
    this.appendFollowerBatches(frame.subarray(offset + FOLLOWER_APPEND_HEAD_BYTES), readFollowerAppendHead(frame, offset), requestId)
  }

  /** appendAsFollower of `batches` wherever they are (the ring frame, or the follower staging area); -1: no expected log end. */
  appendFollowerBatches(batches: Buffer, expectedLogEnd: number, requestId: number): void {
    try {
      this.log.appendAsFollower(batches, expectedLogEnd >= 0 ? expectedLogEnd : undefined)
    } catch (error) {
      this.fail(requestId, error)
      return
    }
    for (let at = 0; at + LOG_OVERHEAD <= batches.length;) {
      const size = LOG_OVERHEAD + batches.readInt32BE(at + BATCH_LENGTH_OFFSET)
      this.replayBatch(batches, at, size)
      at += size
    }
    this.afterAppend(batches)
    this.snapshotOnRoll()
    if (requestId === NO_REPLY) return
    this.replies.append({ requestId, errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: this.log.logEndOffset, logAppendTimeMs: -1, logStartOffset: this.log.logStartOffset })
  }

  /**
   * Cuts the log at `offset` (KIP-101 truncation of a follower, or a deposed leader's tail).
   * Records still gathering in the embedded batcher are appended first, so their callers get an
   * answer. Producer state is rebuilt from the newest snapshot at or below the new end, as the
   * cut batches may have moved a producer's epoch or sequence.
   */
  truncateTo(offset: number): { logEndOffset: number } {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RinglogError(ErrorCode.INVALID_REQUEST, `invalid truncation offset ${offset}`)
    this.sealOpenBatch()
    this.log.truncateTo(offset)
    this.layoutChanged()
    this.cleaner.abandon()
    this.txnIndex.truncateFrom(this.log.logEndOffset)
    this.scrubber.forget()
    this.producers.deleteSnapshotsAbove(this.dir, this.log.logEndOffset)
    this.rebuildProducerState()
    this.segmentCount = this.log.segmentCount
    this.publish()
    return { logEndOffset: this.log.logEndOffset }
  }

  /** See LogEngine.repairDamagedRange (PartitionScrubber.repair checks the copy). */
  repairDamagedRange(path: string, position: number, bytes: Buffer): void {
    this.scrubber.repair(path, position, bytes)
    this.layoutChanged()
  }

  /** Empties the log and restarts it at `offset` (see PartitionLog.truncateFullyAndStartAt); producer state goes with it. */
  truncateFullyAndStartAt(offset: number): { logEndOffset: number } {
    this.sealOpenBatch()
    this.log.truncateFullyAndStartAt(offset)
    this.layoutChanged()
    this.cleaner.abandon()
    this.txnIndex.truncateFrom(0)
    this.scrubber.forget()
    this.producers.deleteSnapshotsAbove(this.dir, -1)
    this.producers.clear()
    this.segmentCount = this.log.segmentCount
    this.publish()
    return { logEndOffset: this.log.logEndOffset }
  }

  /** See LogEngine.setHighWatermark. */
  setHighWatermark(offset: number): void {
    this.log.setReplicatedHighWatermark(offset)
    this.publish()
  }

  /** See LogEngine.endOffsetForEpoch; `currentLeaderEpoch` -1 skips the fencing check. */
  endOffsetForEpoch(epoch: number, currentLeaderEpoch: number): EpochEndOffset {
    if (currentLeaderEpoch >= 0 && currentLeaderEpoch < this.leaderEpoch) {
      throw new RinglogError(ErrorCode.FENCED_LEADER_EPOCH, `current leader epoch ${currentLeaderEpoch} is older than ${this.leaderEpoch}`)
    }
    if (currentLeaderEpoch > this.leaderEpoch) {
      throw new RinglogError(ErrorCode.UNKNOWN_LEADER_EPOCH, `current leader epoch ${currentLeaderEpoch} is newer than ${this.leaderEpoch}`)
    }
    return this.log.endOffsetForEpoch(epoch)
  }

  /** The epoch for leader appends from now on; records already gathering are sealed under the old one first. */
  setLeaderEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0x7fffffff) throw new RinglogError(ErrorCode.INVALID_REQUEST, `invalid leader epoch ${epoch}`)
    const floor = Math.max(this.leaderEpoch, this.log.latestEpoch)
    if (epoch < floor) throw new RinglogError(ErrorCode.FENCED_LEADER_EPOCH, `leader epoch ${epoch} is older than ${floor}`)
    this.sealOpenBatch()
    this.leaderEpoch = epoch
  }

  /** Appends validated bytes; on failure replies (or counts) the error and returns undefined. */
  private appendToLog(batches: Buffer, requestId: number, onAppended?: (result: { baseOffset: number }) => void): { baseOffset: number; lastOffset: number; logAppendTime: number } | undefined {
    try {
      const result = this.log.append(batches, { leaderEpoch: this.leaderEpoch, validated: true, ...(this.settings.logAppendTime && { logAppendTime: Date.now() }) })
      onAppended?.(result)
      this.afterAppend(batches)
      return result
    } catch (error) {
      this.fail(requestId, error)
      return undefined
    }
  }

  private afterAppend(batches: Buffer): void {
    for (let at = 0; at + LOG_OVERHEAD <= batches.length; at += LOG_OVERHEAD + batches.readInt32BE(at + BATCH_LENGTH_OFFSET)) {
      this.counters.appendedBatches++
      this.counters.appendedRecords += batches.readInt32BE(at + RECORD_COUNT_OFFSET)
    }
    this.publish()
  }

  /**
   * After a roll (and after the producer state took the appended batch): snapshot it, so
   * recovery replays at most one segment. Advisory: if it cannot be written (disk full), the
   * older snapshot stays and recovery replays from there; the append it follows was written
   * and stands, and the next roll tries again. It must never throw: the append is already in
   * the log, and an exception here would end the worker thread.
   */
  private snapshotOnRoll(): void {
    if (this.log.segmentCount === this.segmentCount) return
    this.segmentCount = this.log.segmentCount
    try {
      this.producers.writeSnapshot(this.dir, this.log.logEndOffset)
      this.snapshotFailure = undefined
    } catch (error) {
      this.snapshotFailure = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error)
      rmSync(atomicTempPath(join(this.dir, producerSnapshotFileName(this.log.logEndOffset))), { force: true })
    }
  }

  /** Why the last producer-state snapshot at a roll failed (e.g. 'ENOSPC'); undefined after one succeeds. */
  get lastSnapshotFailure(): string | undefined { return this.snapshotFailure }

  private reply(requestId: number, acks: number, baseOffset: number, lastOffset: number, logAppendTimeMs: number): void {
    if (requestId === NO_REPLY || acks === 0) return
    const send = (): void => this.replies.append({
      requestId, errorCode: ErrorCode.NONE, errorMessage: null, baseOffset, logAppendTimeMs, logStartOffset: this.log.logStartOffset,
    })
    if (acks === 1) {
      send()
      return
    }
    this.log.whenAcknowledged(lastOffset).then(send, (error: unknown) => this.fail(requestId, error))
  }

  private fail(requestId: number, error: unknown): void {
    this.counters.failedAppends++
    if (requestId === NO_REPLY) return
    const code = error instanceof RinglogError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR
    const message = error instanceof Error ? error.message : String(error)
    this.replies.append({ requestId, errorCode: code, errorMessage: message, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: this.closed ? -1 : this.log.logStartOffset })
  }

  // ------------------------------------------------------------------ embedded producer

  /** Records in chunks (channel/record-frames.ts encoding) from `offset` to the end of `frame`. */
  appendRecords(frame: Buffer, offset: number, requestId: number, acks: number, compression: number): void {
    const largest = largestRecordBytes(frame, offset) + RECORD_OVERHEAD_ESTIMATE
    if (largest > this.maxMessageBytes) {
      this.fail(requestId, new RinglogError(ErrorCode.MESSAGE_TOO_LARGE, `a record of about ${largest} bytes exceeds max.message.bytes ${this.maxMessageBytes}`))
      return
    }
    if (this.log.config.compact && chunksHaveKeylessRecord(frame, offset + RECORDS_PREFIX_BYTES)) {
      this.fail(requestId, new RinglogError(ErrorCode.INVALID_RECORD, `Compacted topic cannot accept message without key in topic partition ${this.topic}-${this.partition}`))
      return
    }
    if (compression < Compression.none || compression > Compression.zstd) {
      this.fail(requestId, new RinglogError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `the embedded producer compresses with none, gzip, snappy, lz4 or zstd, not codec ${compression}`))
      return
    }
    if (this.batcher && this.batcher.compression !== compression) {
      this.sealOpenBatch()
      this.batcher = undefined
    }
    this.batcher ??= new RecordBatcher({ batchSize: this.batchSize, compression })
    const batcher = this.batcher
    const call: RecordsCall = { requestId, acks, baseOffset: -1, error: null }
    let outcome: FrameOutcome
    try {
      outcome = batcher.addChunks(frame, offset + RECORDS_PREFIX_BYTES, frame.length)
    } catch (error) {
      // Only a router bug produces a malformed frame; whatever of it was added stays.
      this.fail(requestId, new RinglogError(ErrorCode.CORRUPT_MESSAGE, (error as Error).message))
      return
    }
    // Seals happen in record order: maybe one before the call's first record, then each one
    // closes a batch holding part of this call; its last record sits in the open batch.
    let seals = outcome.seals
    if (outcome.firstSealed) {
      this.rotateMembers()
      seals--
    }
    this.members.starts.push({ call, index: outcome.firstIndex })
    for (; seals > 0; seals--) this.rotateMembers()
    this.members.ends.push(call)
    if (batcher.sealedBytes >= ARENA_FLUSH_BYTES) this.appendSealed()
  }

  private rotateMembers(): void {
    this.sealedMembers.push(this.members)
    this.members = { starts: [], ends: [] }
  }

  /** Appends every sealed batch with one write and settles the calls whose first/last record they hold. */
  private appendSealed(): void {
    const taken = this.batcher?.takeSealed() ?? null
    if (taken === null) return
    const members = this.sealedMembers
    this.sealedMembers = []
    let result: { baseOffset: number; lastOffset: number } | undefined
    let error: { code: number; message: string } | null = null
    try {
      result = this.log.append(taken.bytes, { leaderEpoch: this.leaderEpoch, validated: true, ...(this.settings.logAppendTime && { logAppendTime: Date.now() }) })
      this.afterAppend(taken.bytes)
      this.snapshotOnRoll()
    } catch (failure) {
      error = {
        code: failure instanceof RinglogError ? failure.code : ErrorCode.UNKNOWN_SERVER_ERROR,
        message: failure instanceof Error ? failure.message : String(failure),
      }
    }
    let base = result ? result.baseOffset : -1
    for (let i = 0; i < members.length; i++) {
      const batch = members[i]
      const count = taken.recordCounts[i]
      for (const { call, index } of batch.starts) {
        if (result) call.baseOffset = base + index
        if (error && !call.error) call.error = error
      }
      for (const call of batch.ends) {
        if (error && !call.error) call.error = error
        this.finishCall(call, result ? base + count - 1 : -1)
      }
      if (result) base += count
    }
  }

  private finishCall(call: RecordsCall, lastOffset: number): void {
    if (call.error) {
      this.fail(call.requestId, new RinglogError(call.error.code, call.error.message))
      return
    }
    this.reply(call.requestId, call.acks, call.baseOffset, lastOffset, -1)
  }

  /** Seals the open batch (if any) and appends everything sealed. */
  private sealOpenBatch(): void {
    if (this.batcher?.seal()) this.rotateMembers()
    this.appendSealed()
  }

  /**
   * End of a ring burst: appends the batches sealed during it (one write), and seals the open
   * batch if its linger has passed (or `idle`, the ring being empty, with linger 0; or under
   * 'always' when the router's turn ended and no commit runs). Returns
   * milliseconds until the open batch's linger ends, or Infinity if none is open.
   */
  afterBurst(idle: boolean): number {
    const batcher = this.batcher
    if (!batcher) return Infinity
    if (batcher.pending === 0) {
      this.appendSealed()
      return Infinity
    }
    const waited = performance.now() - batcher.openedAt
    // Under 'always', once the router's turn ended (its sends so far are all here) and the disk
    // is free, seal now, before the burst's writes start a commit: lingering would leave the
    // sends' last records for the commit after it, a whole fdatasync later (measured: sends
    // one at a time were acknowledged after two commits, not one). With the disk busy the
    // batch keeps filling until that commit ends (onDurable).
    const sealForCommit = this.sealWithGroupCommit && batcher.compression === Compression.none && !this.log.flushInProgress && this.routerTurnEnded()
    if (waited >= this.lingerMs || (idle && this.lingerMs <= 0) || sealForCommit) {
      this.sealOpenBatch()
      return Infinity
    }
    this.appendSealed()
    return this.lingerMs - waited
  }

  // ------------------------------------------------------------------ reads and lifecycle

  /**
   * `toLogEnd`: a follower's fetch, served past the high watermark up to the log end.
   * `holdFile`: the range comes with a descriptor of its own for the caller (see ReadSlice.heldFd).
   */
  read(offset: number, maxBytes: number, toLogEnd = false, holdFile = false, readCommitted = false, skipAborted = false): ReadSlice {
    const lastStableOffset = this.lastStableOffset
    const base = { highWatermark: this.log.highWatermark, lastStableOffset, logStartOffset: this.log.logStartOffset }
    try {
      const slice = this.log.read(offset, maxBytes, toLogEnd ? { maxOffset: this.log.logEndOffset } : readCommitted ? { maxOffset: lastStableOffset } : {})
      if (slice.length === 0) return { errorCode: ErrorCode.NONE, ...base, segment: null }
      let aborted: readonly AbortedTxn[] = readCommitted && this.txnIndex.size > 0 ? this.txnIndex.overlapping(offset, slice.nextOffset) : []
      // A range the scrubber found damaged is refused (KAFKA_STORAGE_ERROR); a read running into one stops before it.
      const length = this.scrubber.servableLength(slice.path, slice.position, slice.length)
      const segment: ReadSlice['segment'] = length === slice.length
        ? { path: slice.path, position: slice.position, length, nextOffset: slice.nextOffset }
        : { path: slice.path, position: slice.position, length }
      // Taken here, on the thread that closes segment files, before any later drop or retention can.
      if (holdFile) segment.heldFd = holdSegmentFile(slice.fd, slice.path)
      // After the hold: reading headers is a call into the log, after which slice.fd may be gone.
      if (skipAborted && aborted.length > 0 && length > 0) {
        const skip = this.leaveOutAborted(slice, length, aborted)
        if (skip) {
          segment.pieces = skip.pieces
          aborted = skip.stillSent
        }
      }
      if (aborted.length > 0) Object.assign(base, { abortedTransactions: aborted.map((t) => ({ producerId: t.producerId, firstOffset: t.firstOffset })) })
      return { errorCode: ErrorCode.NONE, ...base, segment }
    } catch (error) {
      if (error instanceof RinglogError) return { errorCode: error.code, ...base, segment: null }
      throw error
    }
  }

  /** read_committed wire Fetch: the parts of the range without aborted data batches; undefined (send it all) if none or unreadable. */
  private leaveOutAborted(slice: SegmentSlice, length: number, aborted: readonly AbortedTxn[]): AbortedSkip<AbortedTxn> | undefined {
    try {
      const readHeader = blockHeaderReader(slice.position + length, (position, bytes) => this.log.readBytes({ ...slice, position, length: bytes }))
      return skipAbortedBatches(slice.position, length, aborted, readHeader)
    } catch {
      return undefined // the whole range and the full aborted list, as without the option
    }
  }

  /** Deletes closed segments past retention.ms / retention.bytes; returns segments deleted. */
  applyRetention(): number {
    if (this.closed) return 0
    const result = this.log.applyRetention()
    if (result.deletedSegments > 0) {
      this.layoutChanged()
      this.txnIndex.dropBelow(result.logStartOffset)
      this.publish()
    }
    return result.deletedSegments
  }

  /** DeleteRecords: advances the log start offset; returns the new one (Kafka's low watermark). */
  deleteRecordsBefore(offset: number): number {
    const start = this.log.deleteRecordsBefore(offset)
    this.layoutChanged()
    this.txnIndex.dropBelow(start)
    this.publish()
    return start
  }

  offsetForTimestamp(timestamp: number): TimestampOffset | null {
    return this.log.offsetForTimestamp(timestamp) ?? null
  }

  /** The idempotent producers this partition tracks (DescribeProducers). */
  activeProducers(): ActiveProducer[] {
    return this.producers.activeProducers()
  }

  stats(): PartitionStats {
    return {
      topic: this.topic, partition: this.partition,
      logStartOffset: this.log.logStartOffset, logEndOffset: this.log.logEndOffset, highWatermark: this.log.highWatermark,
      recovered: this.counters.recovered,
      recovery: this.log.recovery,
      appendedBatches: this.counters.appendedBatches, appendedRecords: this.counters.appendedRecords,
      failedAppends: this.counters.failedAppends, duplicateBatches: this.counters.duplicateBatches,
      fdatasync: this.log.syncLatency,
      scrub: { ...this.scrubber.counters },
      cleaner: { ...this.cleaner.counters },
    }
  }

  /**
   * One bounded step of the log cleaner (maps or rewrites at most one segment, see
   * storage/log-cleaner.ts); returns the segment bytes it read (0: nothing to clean).
   */
  cleanStep(): number {
    if (this.closed || !this.log.config.compact) return 0
    const read = this.cleaner.step(this.lastStableOffset)
    // A swapped-in segment has other bytes at the positions the scrubber may have marked.
    if (read > 0) {
      this.layoutChanged()
      this.scrubber.forget()
    }
    return read
  }

  /** One bounded step of the background scrub (see storage/scrub.ts); returns the bytes read. */
  scrubStep(budgetBytes: number, now: number, intervalMs: number): number {
    if (this.closed) return 0
    const { corruptBatches, repairedBatches } = this.scrubber.counters
    const read = this.scrubber.step(budgetBytes, now, intervalMs)
    // Damage found (or mended): ranges readers were told about may now be refused.
    if (this.scrubber.counters.corruptBatches !== corruptBatches || this.scrubber.counters.repairedBatches !== repairedBatches) this.layoutChanged()
    return read
  }

  /** Seals pending records, flushes, snapshots producer state and closes the log cleanly. */
  async close(): Promise<void> {
    if (this.closed) return
    this.sealOpenBatch()
    await this.log.flush().catch(() => undefined)
    this.publish()
    this.layoutChanged()
    this.closed = true
    this.unsubscribe()
    this.scrubber.close()
    let snapshotError: unknown
    try {
      this.producers.writeSnapshot(this.dir, this.log.logEndOffset)
    } catch (error) {
      snapshotError = error
    }
    await this.log.close()
    if (snapshotError) throw snapshotError
  }

  /** Closes and deletes the partition's files. */
  async drop(): Promise<void> {
    if (!this.closed) {
      this.layoutChanged()
      this.closed = true
      this.unsubscribe()
      this.scrubber.close()
      const pending = [...this.sealedMembers, this.members].flatMap((m) => m.ends)
      this.sealedMembers = []
      this.members = { starts: [], ends: [] }
      for (const call of pending) this.fail(call.requestId, new RinglogError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'partition dropped'))
      await this.log.close().catch(() => undefined)
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Whether a record frame's chunks (from `at`, after the prefix) hold a record with a null key. */
function chunksHaveKeylessRecord(frame: Buffer, at: number): boolean {
  while (at + CHUNK_HEADER_BYTES <= frame.length) {
    const recordsBytes = frame.readUInt32LE(at)
    const count = frame.readUInt32LE(at + 4)
    const start = at + CHUNK_HEADER_BYTES
    try {
      if (hasKeylessRecordIn(frame, start, start + recordsBytes, count)) return true
    } catch {
      return false // malformed: the batcher refuses it with CORRUPT_MESSAGE
    }
    at = start + recordsBytes
  }
  return false
}

/** What the producer state reads from the batch header at `at`. */
function batchInfoAt(bytes: Buffer, at: number): ProducerBatchInfo {
  return {
    producerId: readInt64(bytes, at + PRODUCER_ID_OFFSET),
    producerEpoch: bytes.readInt16BE(at + PRODUCER_EPOCH_OFFSET),
    baseSequence: bytes.readInt32BE(at + BASE_SEQUENCE_OFFSET),
    lastOffsetDelta: bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET),
    transactional: isTransactionalBatch(bytes, at),
  }
}

/**
 * A descriptor of the segment file for a reader on another thread: a dup() of the log's own fd
 * (the addon), else a fresh open of its path, which names that file right now (this thread
 * owns it: it is neither retired nor deleted while this runs). Out of descriptors, the read
 * fails with KAFKA_STORAGE_ERROR (the client retries) rather than crash the worker.
 */
function holdSegmentFile(fd: number, path: string): number {
  try {
    return nativeBinding !== null ? nativeBinding.dup(fd) : openSync(path, 'r')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    throw new RinglogError(ErrorCode.KAFKA_STORAGE_ERROR, `cannot hold ${path} for a reader (${code})`)
  }
}

/**
 * A compressed batch that could decompress past the cap every ringlog decoder enforces, or is
 * not of its codec's format, is refused (CORRUPT_MESSAGE) instead of stored for consumers to
 * choke on. lz4 and snappy are judged from their block tables and length preambles (a few
 * reads per batch), zstd from its frames' declared sizes (else decompressed under the cap).
 */
function refuseCompressionBomb(frame: Buffer, at: number, size: number): void {
  const codec = frame.readInt16BE(at + ATTRIBUTES_OFFSET) & BatchAttribute.CompressionMask
  if (codec === Compression.none || codec === Compression.gzip) return
  checkDecompressedBound(codec, frame.subarray(at + BATCH_HEADER_SIZE, at + size))
}

/** The node's flush policy, or 'always' for a partition whose topic sets flush.messages=1 (__consumer_offsets). */
function flushPolicyOf(options: Pick<RuntimeOptions, 'flush' | 'settings'>): FlushPolicy {
  return options.settings.flushEveryAppend ? 'always' : options.flush
}
