/**
 * The contract between the coordinator side (broker handlers, embedded client) and the
 * partition engine (worker threads that own the logs). Everything here is called on the
 * coordinator (main) thread; implementations route to the owning worker.
 */
import type { RecordInput } from '../protocol/records.js'
import type { SyncLatency } from '../storage/group-commit.js'
import type { TimestampOffset } from '../storage/partition-log.js'
import type { RecoverySummary } from '../storage/recovery.js'
import type { ActiveProducer } from '../storage/producer-state.js'
import type { CleanerCounters } from '../storage/log-cleaner.js'
import type { ScrubCounters } from '../storage/scrub.js'
import type { FollowerStaging } from './channel/follower-staging.js'

export type { TimestampOffset }

/** 0: no wait; 1: appended to the leader's log; -1: durable per the flush policy (and, later, replicated). */
export type Acks = -1 | 0 | 1

export interface PartitionOffsets {
  logStartOffset: number
  logEndOffset: number
  /** Offsets below it are visible to consumers (with one replica: what the flush policy made durable). */
  highWatermark: number
  /** Offsets below it are visible to read_committed consumers: min(high watermark, first offset of an unfinished transaction). */
  lastStableOffset: number
}

export interface AppendResult {
  /** ErrorCode.NONE or the Kafka error code of the failure. */
  errorCode: number
  errorMessage: string | null
  baseOffset: number
  /** -1 unless the topic uses LogAppendTime. */
  logAppendTimeMs: number
  logStartOffset: number
}

/** Where a fetch's bytes are: whole batches of one segment file, streamed to the socket as they are. */
export interface ReadSlice {
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  /** read_committed reads: the aborted transactions overlapping the range (absent if none). */
  abortedTransactions?: { producerId: number; firstOffset: number }[]
  /** Absent when there is nothing at or after the offset below the high watermark. */
  segment: {
    path: string
    position: number
    length: number
    /**
     * With `read(..., { holdFile: true })`: a descriptor of that file of the caller's own (a
     * dup, or an open by path in the worker), which the caller must close. It stays on the same
     * file whatever the worker closes meanwhile (topic deletion, retention, its segment-file
     * cache), so a slow send can never pick up the bytes of a file that reused the number.
     * The worker's own descriptors are never handed out: without holdFile, open `path`.
     */
    heldFd?: number
    /** Offset right after the last batch in the range. */
    nextOffset?: number
    /**
     * With `leaveOutAborted`, when batches were left out: the parts of the range to send, in
     * order (absolute positions in the file); `abortedTransactions` then lists only the aborted
     * transactions whose data is still in them.
     */
    pieces?: { position: number; length: number }[]
  } | null
}

/** OffsetForLeaderEpoch's answer (KIP-101/279): the largest epoch <= the requested one and where it ended; -1/-1 if unknown. */
export interface EpochEndOffset {
  leaderEpoch: number
  endOffset: number
}

export interface ReadOptions {
  /** Return `segment.heldFd`, a descriptor the caller owns and closes (see ReadSlice). */
  holdFile?: boolean
  /**
   * 'highWatermark' (default) for consumers; 'logEnd' for a leader serving its followers (Kafka's
   * FetchLogEnd: the high watermark only moves once they have fetched past it).
   */
  upTo?: 'highWatermark' | 'logEnd'
  /** 'committed': read only below the last stable offset and report aborted transactions (Kafka's read_committed). */
  isolation?: 'uncommitted' | 'committed'
  /**
   * With isolation 'committed': leave aborted transactions' data batches out of the range
   * (segment.pieces; see transactions/aborted-batch-skip.ts). Only for wire Fetch: the embedded
   * consumer reads the whole range and filters with the aborted list itself.
   */
  leaveOutAborted?: boolean
}

/** A transaction marker the transaction coordinator writes to a partition (see protocol/control-records.ts). */
export interface TxnMarkerRequest {
  producerId: number
  producerEpoch: number
  committed: boolean
  coordinatorEpoch: number
}

/** Per-partition settings a worker needs (topic configs resolved against broker defaults). */
export interface PartitionSettings {
  segmentBytes?: number
  segmentMs?: number
  retentionMs?: number
  retentionBytes?: number
  maxMessageBytes?: number
  logAppendTime?: boolean
  /** Topic config flush.messages=1: acks=-1 appends wait for an fdatasync whatever the node's flush policy. */
  flushEveryAppend?: boolean
  /** cleanup.policy has `compact`: the log cleaner runs and keyless records are refused (INVALID_RECORD). */
  compact?: boolean
  /** cleanup.policy has `delete` (the default): retention.ms / retention.bytes apply. */
  deleteByRetention?: boolean
  /** delete.retention.ms: how long the cleaner keeps a tombstone. */
  deleteRetentionMs?: number
  /** min.cleanable.dirty.ratio. */
  minCleanableDirtyRatio?: number
  /** min.compaction.lag.ms. */
  minCompactionLagMs?: number
}

export interface LogEngine {
  /** Opens (creating if needed) a partition's log; recovery runs if the last shutdown was not clean. */
  openPartition(topic: string, partition: number, settings?: PartitionSettings): Promise<void>
  /** How many more partitions this engine can open (free slots); absent: no fixed limit. */
  partitionCapacity?(): number
  /** 'slowFdatasync': a group commit took at least the engine's slowSyncMs (for the broker's warn line). */
  on?(event: 'slowFdatasync', listener: (event: SlowSyncEvent) => void): unknown
  /** 'scrubDamage': the background scrubber found a damaged range (refused to readers until repaired). */
  on?(event: 'scrubDamage', listener: (event: ScrubDamageEvent) => void): unknown
  /** Applies new settings (topic configs) to an open partition. */
  reconfigurePartition(topic: string, partition: number, settings: PartitionSettings): Promise<void>
  /** Closes a partition and deletes its files. */
  dropPartition(topic: string, partition: number): Promise<void>
  /** Appends RecordBatch v2 bytes as received on the wire (one or more batches; never recompressed). */
  appendBatches(topic: string, partition: number, batches: Buffer, acks: Acks): Promise<AppendResult>
  /** Appends single records; the owning worker packs them into ~16 KiB batches (compressed per `compression`). */
  appendRecords(topic: string, partition: number, records: readonly RecordInput[], options: { acks: Acks; compression: number }): Promise<AppendResult>
  /** Locates whole batches from `offset` up to `maxBytes` (at least one batch, KIP-74) below the high watermark, or below the log end with `upTo: 'logEnd'`. */
  read(topic: string, partition: number, offset: number, maxBytes: number, options?: ReadOptions): Promise<ReadSlice>
  /** Current offsets from shared state, without a round trip to the worker; undefined for an unknown partition. */
  offsets(topic: string, partition: number): PartitionOffsets | undefined
  /**
   * A counter the partition's worker bumps whenever bytes already in its files may have moved
   * or gone (truncation, retention, cleaning, damage, close); undefined if the partition is not
   * open here. A file position learnt from read(..., { holdFile: true }) between two equal
   * readings still holds the same batch. Absent: the engine offers no such guarantee.
   */
  layoutGeneration?(topic: string, partition: number): number | undefined
  /** The first offset whose timestamp is >= `timestamp`, or null if none. */
  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<TimestampOffset | null>
  /** DeleteRecords: moves the log start offset to `offset` (at most the high watermark); resolves to the new log start offset. */
  deleteRecordsBefore(topic: string, partition: number, offset: number): Promise<number>
  /** DescribeProducers: the idempotent producers the partition tracks. */
  activeProducers(topic: string, partition: number): Promise<ActiveProducer[]>
  /** Resolves once the high watermark (with `committed`: the last stable offset) passes `offset` or `timeoutMs` elapses (long-poll wake-up). */
  waitForData(topic: string, partition: number, offset: number, timeoutMs: number, committed?: boolean): Promise<void>
  /** Appends a COMMIT/ABORT control batch for a producer; resolves with its offset once acknowledged under the flush policy. */
  writeTxnMarker(topic: string, partition: number, marker: TxnMarkerRequest): Promise<number>
  /**
   * Replication, follower side: appends a leader's batches verbatim (its offsets, epochs, bytes
   * and CRCs). They must continue the log exactly at its end; idempotent-producer state is
   * rebuilt from them. Rejects with a typed error (CORRUPT_MESSAGE, OFFSET_OUT_OF_RANGE,
   * FENCED_LEADER_EPOCH, ...) and writes nothing of a refused frame. `expectedLogEnd`: the offset
   * the data was fetched from; the append is refused (OFFSET_OUT_OF_RANGE) unless the log ends
   * exactly there when the worker comes to it (a compacted log would otherwise take a later
   * start as a cleaner's gap), so appends queued behind a refused one are refused too.
   */
  appendAsFollower(topic: string, partition: number, batches: Buffer, expectedLogEnd?: number): Promise<{ logEndOffset: number }>
  /**
   * Shared memory for replica fetch responses (channel/follower-staging.ts): batches passed to
   * appendAsFollower from inside it reach the worker without a copy; the caller keeps them
   * unchanged until that append settles. Absent: engines without workers.
   */
  readonly followerStaging?: FollowerStaging
  /**
   * Rewrites a range the scrubber found damaged (a ScrubDamageEvent's path and position) with an
   * intact copy of the same batches from another replica, and serves it again. Rejects (nothing
   * written) when the copy is not exactly those batches.
   */
  repairDamagedRange(topic: string, partition: number, path: string, position: number, bytes: Buffer): Promise<void>
  /** Removes every batch at or after `offset` (the whole batch holding it), with its indexes, epochs and producer state. */
  truncateTo(topic: string, partition: number, offset: number): Promise<{ logEndOffset: number }>
  /** Empties the partition and restarts it at `offset`, even past its end (a follower below the leader's log start). */
  truncateFullyAndStartAt(topic: string, partition: number, offset: number): Promise<{ logEndOffset: number }>
  /**
   * Replication: the high watermark the replica manager computed. From the first call on the
   * partition's high watermark is min(this, what its flush policy allows); long polls wake on it.
   */
  setHighWatermark(topic: string, partition: number, offset: number): Promise<void>
  /**
   * The leader's HW move, computed on this thread from its followers' fetch offsets: posted to
   * the worker without a reply (reads sent afterwards queue behind it). True when offsets() shows
   * it at once (the flush policy lets the HW reach the log end); false under flush 'always',
   * where the worker publishes it once the leader's fdatasync covers it too.
   */
  advanceHighWatermark(topic: string, partition: number, offset: number): boolean
  /** offsets(topic, partition)?.logEndOffset without allocating; -1 when the partition is not open here. */
  logEndOffset(topic: string, partition: number): number
  /**
   * OffsetForLeaderEpoch. With `currentLeaderEpoch` >= 0 the caller's view is checked against
   * the partition's leader epoch first: older is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH.
   */
  endOffsetForEpoch(topic: string, partition: number, epoch: number, options?: { currentLeaderEpoch?: number }): Promise<EpochEndOffset>
  /** The epoch stamped on this partition's leader appends from now on (0 until set; never lower than the log's latest). */
  setLeaderEpoch(topic: string, partition: number, epoch: number): Promise<void>
  /** Counters per worker and partition (appends, recovery, group commit latency). */
  stats(): Promise<EngineStats>
  /** Flushes, writes checkpoints and stops the workers; the next open needs no recovery scan. */
  close(): Promise<void>
}

export interface PartitionStats {
  topic: string
  partition: number
  logStartOffset: number
  logEndOffset: number
  highWatermark: number
  /** Opening found no clean-shutdown marker next to existing segments, so recovery scanned them (false after a clean shutdown). */
  recovered: boolean
  /** What recovery scanned and cut when this partition was opened (by its worker, or by the recovery pool before it). */
  recovery: RecoverySummary
  appendedBatches: number
  appendedRecords: number
  /** Appends refused (any error, acks=0 included). */
  failedAppends: number
  duplicateBatches: number
  /** Group commits (fdatasync) so far and how long they took: what an acks=-1 append waits for under flush 'always'. */
  fdatasync: SyncLatency
  /** Background scrubber (storage/scrub.ts): passes over the closed segments, bytes re-checked, damaged batches found. */
  scrub: ScrubCounters
  /** Log cleaner (storage/log-cleaner.ts, cleanup.policy=compact): passes, bytes cleaned and removed, records removed. */
  cleaner: CleanerCounters
}

export interface EngineStats {
  workers: number
  /** Workers that died and were replaced since start. */
  workerRestarts: number
  /** Partitions whose recovery scan ran on the piscina pool (openPartitions). */
  recoveredByPool: number
  partitions: number
  /** Per-partition counters from the workers. */
  perPartition: WorkerPartitionStats[]
  /** The main-thread <-> worker rings of every live worker, read from shared memory. */
  rings: WorkerRingStats[]
}

/** A group-commit fdatasync that took at least the configured threshold (LogEngine 'slowFdatasync' event). */
export interface SlowSyncEvent {
  type: 'slowFdatasync'
  topic: string
  partition: number
  durationMs: number
  thresholdMs: number
  /** The offset the sync made durable (exclusive end). */
  flushedTo: number
}

/** A damaged range of a closed segment the background scrubber found (LogEngine 'scrubDamage' event). */
export interface ScrubDamageEvent {
  type: 'scrubDamage'
  topic: string
  partition: number
  /** The segment file, and the range's byte position and length in it. */
  path: string
  position: number
  length: number
  /** The offset of the range's first batch (-1: unknown, the batches before it were damaged too). */
  firstOffset: number
  reason: string
}

/** What a partition worker reports to the main thread besides replies. */
export type WorkerEvent = SlowSyncEvent | ScrubDamageEvent

export function isWorkerEvent(value: unknown): value is WorkerEvent {
  if (typeof value !== 'object' || value === null) return false
  const type = (value as { type?: unknown }).type
  return type === 'slowFdatasync' || type === 'scrubDamage'
}

/** One worker's two rings (engine/channel/ring.ts) as the main thread sees them now. */
export interface WorkerRingStats {
  worker: number
  /** Request ring (main thread -> worker): bytes written and not yet released by the worker, and its size. */
  requestUsedBytes: number
  requestCapacityBytes: number
  /** Reply ring (worker -> main thread). */
  replyUsedBytes: number
  replyCapacityBytes: number
  /** Writes queued on the main thread now because the request ring was full. */
  queuedWrites: number
  /** Writes that found the request ring full (or others already queued) since the worker started. */
  fullRingWrites: number
}

/** A partition's counters from its worker (see PartitionStats), and which worker owns it. */
export interface WorkerPartitionStats extends PartitionStats {
  worker: number
}
