/**
 * The contract between the coordinator side (broker handlers, embedded client) and the
 * partition engine (worker threads that own the logs). Everything here is called on the
 * coordinator (main) thread; implementations route to the owning worker.
 */
import type { RecordInput } from '../protocol/records.js'
import type { EngineStats } from './router.js'

/** 0: no wait; 1: appended to the leader's log; -1: durable per the flush policy (and, later, replicated). */
export type Acks = -1 | 0 | 1

export interface PartitionOffsets {
  logStartOffset: number
  logEndOffset: number
  /** Offsets below it are visible to consumers (with one replica: what the flush policy made durable). */
  highWatermark: number
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
  /** Absent when there is nothing at or after the offset below the high watermark. */
  segment: {
    path: string
    position: number
    length: number
    /** The worker's open fd of that segment file (process-wide; valid at least file.delete.delay.ms after retention retires it). */
    fd?: number
    /** Offset right after the last batch in the range. */
    nextOffset?: number
  } | null
}

export interface TimestampOffset {
  offset: number
  timestamp: number
}

/** Per-partition settings a worker needs (topic configs resolved against broker defaults). */
export interface PartitionSettings {
  segmentBytes?: number
  segmentMs?: number
  retentionMs?: number
  retentionBytes?: number
  maxMessageBytes?: number
  logAppendTime?: boolean
}

export interface LogEngine {
  /** Opens (creating if needed) a partition's log; recovery runs if the last shutdown was not clean. */
  openPartition(topic: string, partition: number, settings?: PartitionSettings): Promise<void>
  /** Applies new settings (topic configs) to an open partition. */
  reconfigurePartition(topic: string, partition: number, settings: PartitionSettings): Promise<void>
  /** Closes a partition and deletes its files. */
  dropPartition(topic: string, partition: number): Promise<void>
  /** Appends RecordBatch v2 bytes as received on the wire (one or more batches; never recompressed). */
  appendBatches(topic: string, partition: number, batches: Buffer, acks: Acks): Promise<AppendResult>
  /** Appends single records; the owning worker packs them into ~16 KiB batches (compressed per `compression`). */
  appendRecords(topic: string, partition: number, records: readonly RecordInput[], options: { acks: Acks; compression: number }): Promise<AppendResult>
  /** Locates whole batches from `offset` up to `maxBytes` (at least one batch, KIP-74) below the high watermark. */
  read(topic: string, partition: number, offset: number, maxBytes: number): Promise<ReadSlice>
  /** Current offsets from shared state, without a round trip to the worker; undefined for an unknown partition. */
  offsets(topic: string, partition: number): PartitionOffsets | undefined
  /** The first offset whose timestamp is >= `timestamp`, or null if none. */
  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<TimestampOffset | null>
  /** DeleteRecords: moves the log start offset to `offset` (at most the high watermark); resolves to the new log start offset. */
  deleteRecordsBefore(topic: string, partition: number, offset: number): Promise<number>
  /** Resolves once the high watermark passes `offset` or `timeoutMs` elapses (long-poll wake-up). */
  waitForData(topic: string, partition: number, offset: number, timeoutMs: number): Promise<void>
  /** Counters per worker and partition (appends, recovery, group commit latency). */
  stats(): Promise<EngineStats>
  /** Flushes, writes checkpoints and stops the workers; the next open needs no recovery scan. */
  close(): Promise<void>
}
