/**
 * The main-thread side of the partition engine (`LogEngine`): maps (topic, partition) to the
 * one worker that owns it, writes work into that worker's request ring, and resolves callers
 * from its reply ring. One worker per partition up to `maxWorkers`; beyond the cap a new
 * partition goes to the least-loaded worker (it shares the thread, never the ownership).
 *
 * A worker that dies fails its pending callers (StorageOfflineError, KAFKA_STORAGE_ERROR), is
 * reported (an 'error' event if anyone listens, else a line on stderr), and is replaced by a
 * new thread that reopens the same partitions, which runs log recovery.
 */
import { performance } from 'node:perf_hooks'
import { EventEmitter } from 'node:events'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_CONFIG } from '../../config.js'
import { partitionDirName } from '../../storage/file-names.js'
import type { ActiveProducer } from '../../storage/producer-state.js'
import {
  CorruptRecordError, InvalidRequestError, LogClosedError, OffsetOutOfRangeError, RecordTooLargeError, RinglogError, StorageOfflineError,
  UnknownTopicOrPartitionError,
} from '../../errors.js'
import { Compression } from '../../protocol/compression.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import { BATCH_HEADER_SIZE, batchesEndOffset, splitBatches } from '../../protocol/record-batch.js'
import type { RecordInput } from '../../protocol/records.js'
import { DEFAULT_BATCH_SIZE, DEFAULT_LINGER_MS } from '../worker/batcher.js'
import {
  FOLLOWER_APPEND_HEAD_BYTES, FRAME_HEAD_BYTES, FrameKind, NO_REPLY, packr, STAGED_APPEND_BYTES, writeFollowerAppendHead, writeHead, writeStagedAppend,
  type AppendReply, type ControlRequest,
} from '../channel/frames.js'
import type {
  Acks, AppendResult, EngineStats, TxnMarkerRequest, EpochEndOffset, LogEngine, PartitionOffsets, PartitionSettings, PartitionStats, ReadOptions, ReadSlice, TimestampOffset,
  WorkerPartitionStats,
} from '../log-engine.js'
import { RecoveryPool } from '../recovery/recovery-pool.js'
import { RecordFrameEncoder, type EncodedFrame } from '../channel/record-frames.js'
import { waitAsyncHeld } from '../channel/ring-wait.js'
import { copyBytes } from '../channel/shared-copy.js'
import { SharedPartitionState } from '../channel/shared-state.js'
import { FOLLOWER_STAGING_BYTES, FollowerStaging } from '../channel/follower-staging.js'
import { WorkerChannel, type WorkerInit } from './worker-channel.js'

export interface LogEngineConfig {
  dataDir: string
  /** When an acknowledged append is durable (see config.ts). Default 'always'. */
  flush?: WorkerInit['flush']
  /** Cap on partition worker threads. Default: 1 per partition, at most the CPU count. */
  maxWorkers?: number
  /** Defaults for every partition (overridden per partition by openPartition's settings). */
  defaults?: PartitionSettings
  /** Embedded producer batch.size in bytes. Default 16384. */
  batchSize?: number
  /** Embedded producer linger.ms. Default 1. */
  lingerMs?: number
  /** Bytes of each worker's request ring. Default 8 MiB. */
  requestRingBytes?: number
  /** Bytes of each worker's reply ring. Default 1 MiB. */
  replyRingBytes?: number
  /** Partition slots per worker in the shared offsets array. Default 4096. */
  slotsPerWorker?: number
  /** Threads for start-up recovery (piscina). Default 1. */
  recoveryThreads?: number
  /** How often workers apply retention (log.retention.check.interval.ms). Default 300000. */
  retentionCheckIntervalMs?: number
  /** Time between scrub passes over closed segments (storage/scrub.ts); 0 = off. Default 0 (the node passes its setting). */
  scrubIntervalMs?: number
  /** Scrub read rate across all workers, bytes per second. Default 20e6. */
  scrubBytesPerSecond?: number
  /**
   * The module partition worker threads run. Default: the engine's own worker/partition-worker.
   * A seam for tests, which substitute a module that wraps the real worker (for example one a
   * test can make crash), so no test hook lives in the worker itself.
   */
  partitionWorkerModule?: URL
  /** A group-commit fdatasync at least this long emits 'slowFdatasync' (SlowSyncEvent); -1 = never. Default -1. */
  slowSyncMs?: number
}

interface PartitionEntry {
  topic: string
  partition: number
  worker: number
  slot: number
  settings: PartitionSettings
  /** Resolves when the (re)open in the worker finished; rejects if it failed. */
  ready: Promise<void>
  /** The HW the leader set from this thread (advanceHighWatermark), shown before the worker publishes it. */
  leaderHighWatermark?: number
}

const DEFAULT_MAX_WORKERS = Math.max(1, availableParallelism())
const DEFAULT_REQUEST_RING_BYTES = 8 * 1024 * 1024
const DEFAULT_REPLY_RING_BYTES = 1024 * 1024
const DEFAULT_SLOTS_PER_WORKER = 4096
/** Records per appendRecords frame at most, so one call never monopolises a ring. */
const MAX_RECORDS_FRAME_BYTES = 1024 * 1024

/** Keys made once per partition: offsets() is looked up per partition of every fetch, and fresh strings were main-thread garbage. */
const keysByTopic = new Map<string, string[]>()

function key(topic: string, partition: number): string {
  let keys = keysByTopic.get(topic)
  if (!keys) keysByTopic.set(topic, keys = [])
  return keys[partition] ??= `${topic}\u0000${partition}`
}

export class PartitionRouter extends EventEmitter implements LogEngine {
  private readonly config: Required<Omit<LogEngineConfig, 'defaults' | 'partitionWorkerModule'>> & Pick<LogEngineConfig, 'partitionWorkerModule'> & { defaults: PartitionSettings }
  private readonly channels: (WorkerChannel | undefined)[] = []
  private readonly states: SharedPartitionState[] = []
  private readonly freeSlots: number[][] = []
  private readonly load: number[] = []
  private readonly partitions = new Map<string, PartitionEntry>()
  private closed = false
  private restarts = 0
  private pool: RecoveryPool | undefined
  /** Where appendRecords encodes a frame before copying it into a ring. */
  private readonly encoder = new RecordFrameEncoder()
  /** Where replica fetch responses are read, so their appends skip the ring copy (follower-staging.ts). */
  readonly followerStaging = new FollowerStaging(new SharedArrayBuffer(FOLLOWER_STAGING_BYTES))

  constructor(config: LogEngineConfig) {
    super()
    const maxWorkers = config.maxWorkers ?? DEFAULT_MAX_WORKERS
    if (!Number.isInteger(maxWorkers) || maxWorkers < 1) throw new InvalidRequestError(`maxWorkers must be a positive integer, got ${maxWorkers}`)
    this.config = {
      dataDir: config.dataDir,
      flush: config.flush ?? DEFAULT_CONFIG.flush,
      maxWorkers,
      defaults: config.defaults ?? {},
      batchSize: config.batchSize ?? DEFAULT_BATCH_SIZE,
      lingerMs: config.lingerMs ?? DEFAULT_LINGER_MS,
      requestRingBytes: config.requestRingBytes ?? DEFAULT_REQUEST_RING_BYTES,
      replyRingBytes: config.replyRingBytes ?? DEFAULT_REPLY_RING_BYTES,
      slotsPerWorker: config.slotsPerWorker ?? DEFAULT_SLOTS_PER_WORKER,
      recoveryThreads: config.recoveryThreads ?? 1,
      retentionCheckIntervalMs: config.retentionCheckIntervalMs ?? 300_000,
      scrubIntervalMs: config.scrubIntervalMs ?? 0,
      scrubBytesPerSecond: config.scrubBytesPerSecond ?? 20e6,
      partitionWorkerModule: config.partitionWorkerModule,
      slowSyncMs: config.slowSyncMs ?? -1,
    }
  }

  // ------------------------------------------------------------------ partitions

  /** Free partition slots over every worker the cap allows, started or not (a new partition goes to the least loaded). */
  partitionCapacity(): number {
    let free = 0
    for (let i = 0; i < this.config.maxWorkers; i++) free += this.channels[i] === undefined ? this.config.slotsPerWorker : this.freeSlots[i].length
    return free
  }

  /** Where a partition's files live. */
  partitionDir(topic: string, partition: number): string {
    return join(this.config.dataDir, partitionDirName(topic, partition))
  }

  async openPartition(topic: string, partition: number, settings: PartitionSettings = {}): Promise<void> {
    this.assertOpen()
    const existing = this.partitions.get(key(topic, partition))
    if (existing) return existing.ready
    const worker = this.pickWorker()
    const slot = this.freeSlots[worker].pop()
    if (slot === undefined) throw new InvalidRequestError(`worker ${worker} has no free partition slot (slotsPerWorker ${this.config.slotsPerWorker})`)
    this.load[worker]++
    const entry: PartitionEntry = { topic, partition, worker, slot, settings: { ...this.config.defaults, ...settings }, ready: Promise.resolve() }
    this.partitions.set(key(topic, partition), entry)
    entry.ready = this.sendOpen(entry)
    try {
      await entry.ready
    } catch (error) {
      this.release(entry)
      throw error
    }
  }

  /**
   * Opens many partitions at start-up: logs that need recovery are scanned in parallel on the
   * piscina pool first (CRC checks and index rebuilds of whole segments), then opened by their
   * workers, which find them clean.
   */
  async openPartitions(list: readonly { topic: string; partition: number; settings?: PartitionSettings }[]): Promise<void> {
    this.assertOpen()
    this.pool ??= new RecoveryPool(this.config.recoveryThreads)
    await Promise.all(list.map((p) => this.pool!.recover(this.partitionDir(p.topic, p.partition), { ...this.config.defaults, ...p.settings }, this.config.flush)))
    await Promise.all(list.map((p) => this.openPartition(p.topic, p.partition, p.settings)))
  }

  /** New topic configs for an open partition: its worker closes and reopens the log with them (a clean close, so no recovery scan). */
  async reconfigurePartition(topic: string, partition: number, settings: PartitionSettings): Promise<void> {
    const entry = this.entry(topic, partition)
    await entry.ready.catch(() => undefined)
    entry.settings = { ...this.config.defaults, ...settings }
    entry.ready = this.sendOpen(entry)
    await entry.ready
  }

  async dropPartition(topic: string, partition: number): Promise<void> {
    const entry = this.entry(topic, partition)
    await entry.ready.catch(() => undefined)
    await this.control(entry.worker, { op: 'drop', slot: entry.slot })
    this.release(entry)
  }

  private release(entry: PartitionEntry): void {
    if (this.partitions.get(key(entry.topic, entry.partition)) !== entry) return
    this.partitions.delete(key(entry.topic, entry.partition))
    this.load[entry.worker]--
    this.freeSlots[entry.worker].push(entry.slot)
  }

  private sendOpen(entry: PartitionEntry): Promise<void> {
    entry.leaderHighWatermark = undefined
    return this.control(entry.worker, { op: 'open', slot: entry.slot, topic: entry.topic, partition: entry.partition, settings: entry.settings }).then(() => undefined)
  }

  /**
   * One worker per partition until the cap; then the least-loaded one. A running worker left
   * without partitions (its topics were deleted) is reused before another thread is started:
   * it is warm (compiled code, buffers) and topic churn should not grow the thread count.
   */
  private pickWorker(): number {
    for (let i = 0; i < this.config.maxWorkers; i++) {
      if (this.channels[i] !== undefined && this.load[i] === 0) return i
    }
    for (let i = 0; i < this.config.maxWorkers; i++) {
      if (this.channels[i] === undefined) {
        this.startWorker(i)
        return i
      }
    }
    let best = 0
    for (let i = 1; i < this.config.maxWorkers; i++) if (this.load[i] < this.load[best]) best = i
    return best
  }

  private startWorker(index: number): WorkerChannel {
    if (!this.states[index]) {
      this.states[index] = SharedPartitionState.create(this.config.slotsPerWorker)
      this.freeSlots[index] = Array.from({ length: this.config.slotsPerWorker }, (_, i) => this.config.slotsPerWorker - 1 - i)
      this.load[index] = 0
    }
    const channel = new WorkerChannel(index, this.states[index], {
      dataDir: this.config.dataDir,
      flush: this.config.flush,
      batchSize: this.config.batchSize,
      lingerMs: this.config.lingerMs,
      retentionCheckMs: this.config.retentionCheckIntervalMs,
      scrubIntervalMs: this.config.scrubIntervalMs,
      // The node-wide rate is shared evenly by the workers.
      scrubBytesPerSecond: this.config.scrubBytesPerSecond / this.config.maxWorkers,
      requestRingBytes: this.config.requestRingBytes,
      replyRingBytes: this.config.replyRingBytes,
      workerModule: this.config.partitionWorkerModule,
      slowSyncMs: this.config.slowSyncMs,
      followerStaging: this.followerStaging.area,
    }, (dead, reason) => this.onWorkerDeath(dead, reason), (event) => { this.emit(event.type, event) })
    this.channels[index] = channel
    return channel
  }

  private onWorkerDeath(dead: WorkerChannel, reason: Error): void {
    if (this.channels[dead.index] !== dead) return
    if (this.listenerCount('error') > 0) this.emit('error', reason)
    else process.stderr.write(`ringlog: partition worker ${dead.index} died (${reason.message}); restarting it and recovering its partitions\n`)
    if (this.closed) {
      this.channels[dead.index] = undefined
      return
    }
    this.restarts++
    this.startWorker(dead.index)
    for (const entry of this.partitions.values()) {
      if (entry.worker !== dead.index) continue
      entry.ready = this.sendOpen(entry)
      entry.ready.catch((error: Error) => {
        if (this.listenerCount('error') > 0) this.emit('error', error)
        else process.stderr.write(`ringlog: reopening ${entry.topic}-${entry.partition} failed: ${error.message}\n`)
      })
    }
    this.emit('workerRestarted', dead.index)
  }

  private entry(topic: string, partition: number): PartitionEntry {
    this.assertOpen()
    const entry = this.partitions.get(key(topic, partition))
    if (!entry) throw new UnknownTopicOrPartitionError(`${topic}-${partition} is not open on this engine`)
    return entry
  }

  private channel(index: number): WorkerChannel {
    const channel = this.channels[index]
    if (!channel) throw new StorageOfflineError(`partition worker ${index} is not running`)
    return channel
  }

  private assertOpen(): void {
    if (this.closed) throw new LogClosedError('the log engine is closed')
  }

  // ------------------------------------------------------------------ appends

  async appendBatches(topic: string, partition: number, batches: Buffer, acks: Acks): Promise<AppendResult> {
    const entry = this.entry(topic, partition)
    const channel = this.channel(entry.worker)
    const chunks = this.chunkBatches(batches, channel.maxFrameLength - FRAME_HEAD_BYTES)
    if (chunks === null) return failure(ErrorCode.MESSAGE_TOO_LARGE, `a record batch is larger than the worker ring's largest frame (${channel.maxFrameLength} bytes)`)
    const replies = chunks.map((chunk) => this.sendAppend(channel, FrameKind.AppendBatches, acks, 0, entry.slot, chunk.length, (view) => copyBytes(view, FRAME_HEAD_BYTES, chunk, 0, chunk.length)))
    return combine(replies, acks)
  }

  /**
   * Follower appends go through the ring like leader appends (in order with them, no copy into
   * msgpack), in frames split at batch boundaries. Each frame carries the offset its data must
   * start at (the caller's for the first, the previous frame's end after it): the first refused
   * frame's error is thrown, and the frames after it are refused too.
   */
  async appendAsFollower(topic: string, partition: number, batches: Buffer, expectedLogEnd = -1): Promise<{ logEndOffset: number }> {
    const entry = this.entry(topic, partition)
    const channel = this.channel(entry.worker)
    if (this.followerStaging.holds(batches)) {
      // Read into the staging area: the worker appends them from there (the caller keeps them until this reply).
      const reply = await this.sendAppend(channel, FrameKind.AppendAsFollowerStaged, 1, 0, entry.slot, STAGED_APPEND_BYTES, (view) => {
        writeStagedAppend(view, FRAME_HEAD_BYTES, expectedLogEnd, batches.byteOffset, batches.length)
      })
      if (reply !== null && reply.errorCode !== ErrorCode.NONE) throw typedError(reply.errorCode, reply.errorMessage ?? `follower append to ${topic}-${partition} failed`)
      return { logEndOffset: reply === null ? -1 : reply.baseOffset }
    }
    const chunks = this.chunkBatches(batches, channel.maxFrameLength - FRAME_HEAD_BYTES - FOLLOWER_APPEND_HEAD_BYTES)
    if (chunks === null) throw new RecordTooLargeError(`a record batch is larger than the worker ring's largest frame (${channel.maxFrameLength} bytes)`)
    let expected = expectedLogEnd
    const replies = await Promise.all(chunks.map((chunk, i) => {
      const startsAt = expected
      if (expected >= 0 && i + 1 < chunks.length) expected = batchesEndOffset(chunk)
      return this.sendAppend(channel, FrameKind.AppendAsFollower, 1, 0, entry.slot, FOLLOWER_APPEND_HEAD_BYTES + chunk.length, (view) => {
        writeFollowerAppendHead(view, FRAME_HEAD_BYTES, startsAt)
        copyBytes(view, FRAME_HEAD_BYTES + FOLLOWER_APPEND_HEAD_BYTES, chunk, 0, chunk.length)
      })
    }))
    let logEndOffset = -1
    for (const reply of replies) {
      if (reply === null) continue
      if (reply.errorCode !== ErrorCode.NONE) throw typedError(reply.errorCode, reply.errorMessage ?? `follower append to ${topic}-${partition} failed`)
      logEndOffset = reply.baseOffset
    }
    return { logEndOffset }
  }

  async repairDamagedRange(topic: string, partition: number, path: string, position: number, bytes: Buffer): Promise<void> {
    const entry = this.entry(topic, partition)
    await this.control(entry.worker, { op: 'repairDamagedRange', slot: entry.slot, path, position, bytes })
  }

  async truncateTo(topic: string, partition: number, offset: number): Promise<{ logEndOffset: number }> {
    const entry = this.entry(topic, partition)
    entry.leaderHighWatermark = undefined
    return await this.control(entry.worker, { op: 'truncateTo', slot: entry.slot, offset }) as { logEndOffset: number }
  }

  async truncateFullyAndStartAt(topic: string, partition: number, offset: number): Promise<{ logEndOffset: number }> {
    const entry = this.entry(topic, partition)
    entry.leaderHighWatermark = undefined
    return await this.control(entry.worker, { op: 'truncateFullyAndStartAt', slot: entry.slot, offset }) as { logEndOffset: number }
  }

  async setHighWatermark(topic: string, partition: number, offset: number): Promise<void> {
    const entry = this.entry(topic, partition)
    entry.leaderHighWatermark = undefined
    await this.control(entry.worker, { op: 'setHighWatermark', slot: entry.slot, offset })
  }

  advanceHighWatermark(topic: string, partition: number, offset: number): boolean {
    const entry = this.partitions.get(key(topic, partition))
    if (!entry) return false
    // No reply wanted: frames reach the worker in order, so every read sent after this finds the HW set.
    const body = packr.pack({ op: 'setHighWatermark', slot: entry.slot, offset } satisfies ControlRequest)
    this.channel(entry.worker).post(FRAME_HEAD_BYTES + body.length, (view) => {
      writeHead(view, FrameKind.Control, 0, 0, NO_REPLY, 0)
      view.set(body, FRAME_HEAD_BYTES)
    })
    // Under 'always' the worker's HW also waits for the leader's fdatasync: only it can publish the move.
    const atLogEnd = this.config.flush !== 'always' && entry.settings.flushEveryAppend !== true
    if (atLogEnd) entry.leaderHighWatermark = Math.max(entry.leaderHighWatermark ?? 0, offset)
    return atLogEnd
  }

  async endOffsetForEpoch(topic: string, partition: number, epoch: number, options: { currentLeaderEpoch?: number } = {}): Promise<EpochEndOffset> {
    const entry = this.entry(topic, partition)
    return await this.control(entry.worker, { op: 'endOffsetForEpoch', slot: entry.slot, epoch, currentLeaderEpoch: options.currentLeaderEpoch ?? -1 }) as EpochEndOffset
  }

  async setLeaderEpoch(topic: string, partition: number, epoch: number): Promise<void> {
    const entry = this.entry(topic, partition)
    await this.control(entry.worker, { op: 'setLeaderEpoch', slot: entry.slot, epoch })
  }

  /** Splits at batch boundaries into frames that fit the ring (one frame in the usual case). */
  private chunkBatches(batches: Buffer, maxBytes: number): Buffer[] | null {
    if (batches.length <= maxBytes) return [batches]
    const { batches: spans, trailingBytes } = splitBatches(batches)
    if (trailingBytes > 0) return [batches] // malformed: one frame, the worker reports it
    const chunks: Buffer[] = []
    let start = 0
    let end = 0
    for (const span of spans) {
      if (span.size > maxBytes) return null
      if (span.offset + span.size - start > maxBytes) {
        chunks.push(batches.subarray(start, end))
        start = span.offset
      }
      end = span.offset + span.size
    }
    chunks.push(batches.subarray(start, end))
    return chunks
  }

  /**
   * Not an async function, on purpose: in the usual one-frame case a send's result is the
   * worker's reply promise itself, with no async frame per send. Errors still reject.
   */
  appendRecords(topic: string, partition: number, records: readonly RecordInput[], options: { acks: Acks; compression: number }): Promise<AppendResult> {
    try {
      return this.sendRecords(topic, partition, records, options)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private sendRecords(topic: string, partition: number, records: readonly RecordInput[], options: { acks: Acks; compression: number }): Promise<AppendResult> {
    const entry = this.entry(topic, partition)
    const channel = this.channel(entry.worker)
    if (records.length === 0) return Promise.resolve(failure(ErrorCode.INVALID_REQUEST, 'appendRecords needs at least one record'))
    const compression = options.compression ?? Compression.lz4
    const now = Date.now()
    // Frames of up to 1 MiB keep one call from holding the ring; a larger record goes alone.
    const maxBody = Math.min(MAX_RECORDS_FRAME_BYTES, channel.maxFrameLength) - FRAME_HEAD_BYTES
    const chunkLimit = this.config.batchSize - BATCH_HEADER_SIZE
    const encoder = this.encoder
    const replies: Promise<AppendReply | null>[] = []
    for (let from = 0; from < records.length;) {
      let frame: EncodedFrame
      try {
        frame = encoder.encode(FRAME_HEAD_BYTES, records, from, records.length, now, chunkLimit, maxBody, channel.maxFrameLength - FRAME_HEAD_BYTES)
      } catch (error) {
        // A record the producer's checks let through (a timestamp, or a topic max.message.bytes
        // above the ring's largest frame): the call fails, though frames sent before it stay.
        if (error instanceof RinglogError) {
          const result = failure(error.code, error.message)
          return Promise.allSettled(replies).then(() => result)
        }
        throw error
      }
      replies.push(this.sendFrame(channel, FrameKind.AppendRecords, options.acks, compression, entry.slot, encoder.buffer.subarray(0, frame.end)))
      from = frame.next
    }
    channel.noteRecordsSent()
    return combine(replies, options.acks)
  }

  /** Sends a whole frame built in `frame` (its head room included); `frame` may be reused once this returns. */
  private sendFrame(channel: WorkerChannel, kind: FrameKind, acks: Acks, compression: number, slot: number, frame: Buffer): Promise<AppendReply | null> {
    if (acks === 0) {
      writeHead(frame, kind, 0, compression, NO_REPLY, slot)
      channel.postCopy(frame)
      return Promise.resolve(null)
    }
    const requestId = channel.allocateRequestId()
    writeHead(frame, kind, acks, compression, requestId, slot)
    return channel.callCopy<AppendReply>(requestId, 'append', frame)
  }

  private sendAppend(channel: WorkerChannel, kind: FrameKind, acks: Acks, compression: number, slot: number, bodyBytes: number, fill: (view: Uint8Array) => void): Promise<AppendReply | null> {
    const length = FRAME_HEAD_BYTES + bodyBytes
    if (acks === 0) {
      channel.post(length, (view) => { writeHead(view, kind, 0, compression, NO_REPLY, slot); fill(view) })
      return Promise.resolve(null)
    }
    const requestId = channel.allocateRequestId()
    return channel.call<AppendReply>(requestId, 'append', length, (view) => { writeHead(view, kind, acks, compression, requestId, slot); fill(view) })
  }

  // ------------------------------------------------------------------ reads and offsets

  async read(topic: string, partition: number, offset: number, maxBytes: number, options: ReadOptions = {}): Promise<ReadSlice> {
    const entry = this.entry(topic, partition)
    const request: ControlRequest = {
      op: 'read', slot: entry.slot, offset, maxBytes, ...(options.upTo === 'logEnd' && { toLogEnd: true }), ...(options.holdFile && { holdFile: true }),
      ...(options.isolation === 'committed' && { readCommitted: true }), ...(options.isolation === 'committed' && options.leaveOutAborted && { skipAborted: true }),
    }
    return await this.control(entry.worker, request) as ReadSlice
  }

  offsets(topic: string, partition: number): PartitionOffsets | undefined {
    const entry = this.partitions.get(key(topic, partition))
    if (!entry) return undefined
    const out: PartitionOffsets = { logStartOffset: -1, logEndOffset: -1, highWatermark: -1, lastStableOffset: -1 }
    if (!this.states[entry.worker].readInto(entry.slot, out) || out.logEndOffset < 0) return undefined
    const leaderHw = entry.leaderHighWatermark
    if (leaderHw !== undefined) out.highWatermark = Math.max(out.highWatermark, Math.min(leaderHw, out.logEndOffset))
    return out
  }

  logEndOffset(topic: string, partition: number): number {
    const entry = this.partitions.get(key(topic, partition))
    if (!entry) return -1
    return this.states[entry.worker].logEndOffset(entry.slot) ?? -1
  }

  layoutGeneration(topic: string, partition: number): number | undefined {
    const entry = this.partitions.get(key(topic, partition))
    return entry ? this.states[entry.worker].layoutGeneration(entry.slot) : undefined
  }

  async offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<TimestampOffset | null> {
    const entry = this.entry(topic, partition)
    return await this.control(entry.worker, { op: 'offsetForTimestamp', slot: entry.slot, timestamp }) as TimestampOffset | null
  }

  async deleteRecordsBefore(topic: string, partition: number, offset: number): Promise<number> {
    const entry = this.entry(topic, partition)
    return await this.control(entry.worker, { op: 'deleteRecords', slot: entry.slot, offset }) as number
  }

  async activeProducers(topic: string, partition: number): Promise<ActiveProducer[]> {
    const entry = this.entry(topic, partition)
    return await this.control(entry.worker, { op: 'activeProducers', slot: entry.slot }) as ActiveProducer[]
  }

  /**
   * Long-poll wake-up. Waits with Atomics.waitAsync on the partition's high-watermark change
   * counter in shared memory rather than asking the worker: no reply traffic per parked fetch,
   * one Atomics.notify per high-watermark move wakes every waiter, and `ring-wait` keeps a
   * ref'd handle while it waits (a bare waitAsync would let Node exit under it).
   */
  async writeTxnMarker(topic: string, partition: number, marker: TxnMarkerRequest): Promise<number> {
    const entry = this.entry(topic, partition)
    return await this.control(entry.worker, { op: 'writeTxnMarker', slot: entry.slot, ...marker }) as number
  }

  async waitForData(topic: string, partition: number, offset: number, timeoutMs: number, committed = false): Promise<void> {
    const entry = this.entry(topic, partition)
    const deadline = performance.now() + Math.max(0, timeoutMs)
    const state = this.states[entry.worker]
    const { words, index } = state.hwCounter(entry.slot)
    for (;;) {
      const seen = Atomics.load(words, index)
      const published = state.read(entry.slot)
      if (published && (committed ? published.lastStableOffset : published.highWatermark) > offset) return
      const left = deadline - performance.now()
      if (left <= 0 || this.closed) return
      await waitAsyncHeld(words, index, seen, left)
    }
  }

  // ------------------------------------------------------------------ control

  private async control(worker: number, request: ControlRequest): Promise<unknown> {
    const channel = this.channel(worker)
    const body = packr.pack(request)
    const requestId = channel.allocateRequestId()
    return channel.call(requestId, 'control', FRAME_HEAD_BYTES + body.length, (view) => {
      writeHead(view, FrameKind.Control, 0, 0, requestId, 0)
      view.set(body, FRAME_HEAD_BYTES)
    })
  }

  /** Counters from every worker, including whether each partition's open ran recovery. */
  async stats(): Promise<EngineStats> {
    this.assertOpen()
    const perPartition: WorkerPartitionStats[] = []
    for (const channel of this.channels) {
      if (!channel?.alive) continue
      const rows = await this.control(channel.index, { op: 'stats' }) as PartitionStats[]
      for (const row of rows) {
        // Recovered on the pool first: the worker's own open found it clean.
        const fromPool = this.pool?.summaries.get(this.partitionDir(row.topic, row.partition))
        perPartition.push({ ...row, worker: channel.index, ...(fromPool ? { recovered: true, recovery: fromPool } : {}) })
      }
    }
    const rings = this.channels.filter((c): c is WorkerChannel => c?.alive === true).map((c) => c.rings)
    return { workers: this.channels.filter((c) => c?.alive).length, workerRestarts: this.restarts, recoveredByPool: this.pool?.recoveredCount ?? 0, partitions: this.partitions.size, perPartition, rings }
  }

  /** Which worker owns a partition (tests and diagnostics). */
  ownerOf(topic: string, partition: number): number | undefined {
    return this.partitions.get(key(topic, partition))?.worker
  }

  /** Thread id of a worker (tests and diagnostics). */
  workerThreadId(index: number): number | undefined {
    return this.channels[index]?.threadId
  }

  /** Resolves once a partition's current (re)open has finished (after a worker restart). */
  async whenReady(topic: string, partition: number): Promise<void> {
    await this.entry(topic, partition).ready
  }

  async close(): Promise<void> {
    if (this.closed) return
    await Promise.all([...this.partitions.values()].map((entry) => entry.ready.catch(() => undefined)))
    this.closed = true
    // Parked fetches (waitForData) see `closed` and return now, not at their timeout.
    for (const state of this.states) {
      if (!state) continue
      for (let slot = 0; slot < this.config.slotsPerWorker; slot++) {
        const { words, index } = state.hwCounter(slot)
        Atomics.notify(words, index)
      }
    }
    const stopping = this.channels.filter((c): c is WorkerChannel => c?.alive === true).map(async (channel) => {
      channel.expectExit()
      const body = packr.pack({ op: 'shutdown' } satisfies ControlRequest)
      const requestId = channel.allocateRequestId()
      try {
        await channel.call(requestId, 'control', FRAME_HEAD_BYTES + body.length, (view) => {
          writeHead(view, FrameKind.Control, 0, 0, requestId, 0)
          view.set(body, FRAME_HEAD_BYTES)
        })
        await channel.waitForExit()
      } catch (error) {
        await channel.terminate(true)
        throw error
      }
    })
    const results = await Promise.allSettled(stopping)
    await this.pool?.close()
    this.channels.length = 0
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
  }
}

/** An append reply's code and message as the typed error the storage layer threw (RinglogError for the rest). */
function typedError(code: number, message: string): RinglogError {
  switch (code) {
    case ErrorCode.CORRUPT_MESSAGE: return new CorruptRecordError(message)
    case ErrorCode.OFFSET_OUT_OF_RANGE: return new OffsetOutOfRangeError(message)
    case ErrorCode.MESSAGE_TOO_LARGE: return new RecordTooLargeError(message)
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION: return new UnknownTopicOrPartitionError(message)
    case ErrorCode.KAFKA_STORAGE_ERROR: return new StorageOfflineError(message)
    default: return new RinglogError(code, message)
  }
}

function failure(errorCode: number, errorMessage: string): AppendResult {
  return { errorCode, errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 }
}

/**
 * One result for a call's frames: the first frame's offsets, the first error. With one frame
 * and acks, the worker's reply is the result (a failed append's reply has baseOffset -1 too),
 * without a Promise.all per send.
 */
function combine(replies: Promise<AppendReply | null>[], acks: Acks): Promise<AppendResult> {
  if (replies.length === 1 && acks !== 0) return replies[0] as Promise<AppendReply>
  return combineAll(replies, acks)
}

async function combineAll(replies: Promise<AppendReply | null>[], acks: Acks): Promise<AppendResult> {
  const settled = await Promise.all(replies)
  if (acks === 0) return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 }
  const first = settled[0]!
  const failed = settled.find((r) => r !== null && r.errorCode !== ErrorCode.NONE)
  const chosen = failed ?? first
  return {
    errorCode: chosen.errorCode,
    errorMessage: chosen.errorMessage,
    baseOffset: failed ? -1 : first.baseOffset,
    logAppendTimeMs: first.logAppendTimeMs,
    logStartOffset: chosen.logStartOffset,
  }
}

/** The engine behind `LogEngine`, with worker threads owning the partitions. */
export function createLogEngine(config: LogEngineConfig): PartitionRouter {
  return new PartitionRouter(config)
}
