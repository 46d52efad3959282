/**
 * Committed offsets and group metadata as records in `__consumer_offsets`, Kafka's way: one
 * record per offset (key OffsetCommitKey, value OffsetCommitValue; a null value deletes it) and
 * one per group after each SyncGroup (GroupMetadataKey/Value). A commit is one batch appended
 * to the group's partition, acknowledged when the append meets acks=all for the internal topic
 * (so it is all-or-nothing), and visible only after that.
 *
 * The state of a partition is held in memory only while this broker coordinates it: `load`
 * reads the partition from its log start (last value per key wins; tombstones remove), `unload`
 * forgets it. Until a load completes its groups answer COORDINATOR_LOAD_IN_PROGRESS (also a
 * partition this broker's metadata shows it leading, not yet taken over: FindCoordinator already
 * names it), and groups of partitions led elsewhere answer NOT_COORDINATOR.
 *
 * Transactional offsets (TxnOffsetCommit), Kafka's way (GroupMetadataManager): a batch carrying
 * the producer's id and epoch with the transactional bit set, held as pending for that producer,
 * invisible to OffsetFetch, until the transaction coordinator's COMMIT or ABORT marker lands in
 * the same partition (`completeTransaction`): a COMMIT makes them the group's committed offsets,
 * an ABORT drops them. A load replays the same: pending records, then the marker if any.
 *
 * The topic I/O (create on first use, append with acks=all, read back) is the node's
 * (`OffsetsTopicIo`), so single-node and cluster mode share this file.
 */
import type { Buffer } from 'node:buffer'
import { ErrorCode } from '../protocol/error-codes.js'
import { decodeRecordBatch, splitBatches, encodeRecordBatch, parseBatchAttributes } from '../protocol/record-batch.js'
import { CONTROL_TYPE_ABORT, CONTROL_TYPE_COMMIT } from '../protocol/control-records.js'
import {
  decodeConsumerOffsetsKey, decodeGroupMetadataValue, decodeOffsetCommitValue, encodeGroupMetadataKey,
  encodeGroupMetadataValue, encodeOffsetCommitKey, encodeOffsetCommitValue, partitionForGroup, type GroupMetadataValue,
} from '../protocol/consumer-offsets-records.js'
import type { RecordInput } from '../protocol/records.js'
import { LogClosedError, RinglogError } from '../errors.js'
import type { CommittedOffset, OffsetsBackend, OffsetToCommit, OwnershipListener, StoredGroupMetadata, TopicPartition } from './offsets-backend.js'

export interface OffsetsTopicIo {
  /** Partitions of the offsets topic (fixed once it exists). */
  readonly partitions: number
  /** Creates the topic if it does not exist yet (first use). */
  ensureTopic(): Promise<void>
  /** Appends RecordBatch v2 bytes to the partition; resolves after acks=all, rejects with a RinglogError. */
  append(partition: number, batch: Buffer): Promise<void>
  /** Hands every stored batch of the partition (log start to log end) to `onBatches`, in order. */
  read(partition: number, onBatches: (bytes: Buffer) => void): Promise<void>
  /**
   * Whether this broker leads the partition as its metadata shows it: FindCoordinator names it
   * from then on, a moment before its load starts (single node: every partition).
   */
  ledHere(partition: number): boolean
}

type PartitionOffsets = Map<number, CommittedOffset>
type GroupOffsets = Map<string, PartitionOffsets>

/** Offset records a producer's open transaction wrote, in log order: key bytes and value bytes (null: a delete). */
type PendingRecords = { key: Buffer; value: Buffer | null }[]

interface PartitionState {
  loaded: boolean
  offsets: Map<string, GroupOffsets>
  groups: Map<string, GroupMetadataValue>
  /** Transactional offset records per producer id, waiting for that producer's marker. */
  pending: Map<number, PendingRecords>
  /** Markers acknowledged while the partition was loading: applied once the load's replay is done. */
  lateMarkers: { producerId: number; committed: boolean }[]
}

/** Kafka's mapping of an offsets-topic append failure to what OffsetCommit answers. */
export function commitErrorFor(code: number): number {
  switch (code) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
    case ErrorCode.FENCED_LEADER_EPOCH:
      return ErrorCode.NOT_COORDINATOR
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
      return ErrorCode.INVALID_COMMIT_OFFSET_SIZE
    default:
      return code
  }
}

export class ConsumerOffsetsLog implements OffsetsBackend {
  private readonly states = new Map<number, PartitionState>()
  private listener: OwnershipListener | undefined
  private topicReady: Promise<void> | undefined
  private closed = false

  constructor(private readonly io: OffsetsTopicIo) {}

  setOwnershipListener(listener: OwnershipListener): void { this.listener = listener }

  /** Creates the topic once (first use); a failed create is tried again by the next call. */
  prepare(): Promise<void> {
    this.topicReady ??= this.io.ensureTopic().catch((error: unknown) => { this.topicReady = undefined; throw error })
    return this.topicReady
  }

  partitionOf(groupId: string): number { return partitionForGroup(groupId, this.io.partitions) }

  coordinatorError(groupId: string): number {
    const partition = this.partitionOf(groupId)
    const state = this.states.get(partition)
    if (state?.loaded) return ErrorCode.NONE
    return state || this.io.ledHere(partition) ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NOT_COORDINATOR
  }

  /** Reads the partition into memory, then coordinates its groups. A newer load or unload wins. */
  async load(partition: number): Promise<void> {
    const state: PartitionState = { loaded: false, offsets: new Map(), groups: new Map(), pending: new Map(), lateMarkers: [] }
    this.states.set(partition, state)
    await this.io.read(partition, (bytes) => {
      for (const { offset } of splitBatches(bytes).batches) {
        const batch = decodeRecordBatch(bytes, offset)
        const { transactional, control } = parseBatchAttributes(batch.header.attributes)
        const producerId = batch.header.producerId
        if (control) {
          const type = batch.records[0]?.key && batch.records[0].key.length >= 4 ? batch.records[0].key.readInt16BE(2) : -1
          if (producerId >= 0 && (type === CONTROL_TYPE_COMMIT || type === CONTROL_TYPE_ABORT)) completePending(state, producerId, type === CONTROL_TYPE_COMMIT)
          continue
        }
        if (transactional && producerId >= 0) {
          addPending(state, producerId, batch.records.flatMap((r) => (r.key ? [{ key: r.key, value: r.value }] : [])))
          continue
        }
        for (const record of batch.records) if (record.key) applyRecord(state, record.key, record.value)
      }
    })
    if (this.states.get(partition) !== state) return
    // A marker acknowledged during the replay may or may not be in what was read: applying it
    // again is harmless (its producer's pending records are gone; new ones need a loaded partition).
    for (const m of state.lateMarkers) completePending(state, m.producerId, m.committed)
    state.lateMarkers = []
    state.loaded = true
    this.listener?.loaded([...new Set([...state.offsets.keys(), ...state.groups.keys()])])
  }

  /** Stops coordinating the partition's groups (another broker leads it now). */
  unload(partition: number): void {
    const state = this.states.get(partition)
    if (!state) return
    this.states.delete(partition)
    if (state.loaded) this.listener?.unloaded([...new Set([...state.offsets.keys(), ...state.groups.keys()])])
  }

  /** Partitions held here, loaded or loading. */
  heldPartitions(): number[] { return [...this.states.keys()].sort((a, b) => a - b) }

  private stateOf(groupId: string): PartitionState | undefined {
    const state = this.states.get(this.partitionOf(groupId))
    return state?.loaded ? state : undefined
  }

  get(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.stateOf(groupId)?.offsets.get(groupId)?.get(topic)?.get(partition)
  }

  list(groupId: string): CommittedOffset[] {
    const topics = this.stateOf(groupId)?.offsets.get(groupId)
    if (!topics) return []
    const out: CommittedOffset[] = []
    for (const topic of [...topics.keys()].sort()) {
      const partitions = topics.get(topic)!
      for (const p of [...partitions.keys()].sort((a, b) => a - b)) out.push(partitions.get(p)!)
    }
    return out
  }

  groupIds(): string[] {
    const out: string[] = []
    for (const state of this.states.values()) if (state.loaded) out.push(...state.offsets.keys())
    return out
  }

  hasOffsets(groupId: string): boolean { return this.stateOf(groupId)?.offsets.has(groupId) ?? false }

  storedGroup(groupId: string): StoredGroupMetadata | undefined { return this.stateOf(groupId)?.groups.get(groupId) }

  commit(groupId: string, commitTimestamp: number, offsets: readonly OffsetToCommit[]): Promise<void> {
    const records = offsets.map((o) => ({
      key: encodeOffsetCommitKey(groupId, o.topic, o.partition),
      value: encodeOffsetCommitValue({ offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata, commitTimestamp }),
    }))
    // Applied from the values themselves, not decoded back from the bytes just encoded (garbage per partition).
    return this.write(groupId, records, commitTimestamp, (state) => {
      for (const o of offsets) setOffset(state, groupId, { topic: o.topic, partition: o.partition, offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata, commitTimestamp })
    })
  }

  /**
   * TxnOffsetCommit: the offsets are appended as the producer's transactional batch (its id and
   * epoch, no sequence: the partition checks only the epoch, so a fenced producer is refused with
   * INVALID_PRODUCER_EPOCH) and held pending until its marker (`completeTransaction`).
   */
  async commitTransactional(groupId: string, producerId: number, producerEpoch: number, commitTimestamp: number, offsets: readonly OffsetToCommit[]): Promise<void> {
    const records = offsets.map((o) => ({
      key: encodeOffsetCommitKey(groupId, o.topic, o.partition),
      value: encodeOffsetCommitValue({ offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata, commitTimestamp }),
    }))
    if (records.length === 0) return
    const state = await this.append(groupId, encodeRecordBatch({ records, baseTimestamp: commitTimestamp, producerId, producerEpoch, baseSequence: -1, transactional: true }))
    addPending(state, producerId, records)
  }

  /**
   * The transaction coordinator's marker for `producerId` was acknowledged in `partition` of the
   * offsets topic: its pending offsets become the groups' committed offsets (COMMIT) or are
   * dropped (ABORT). A partition not held here is loaded from the log, marker included.
   */
  completeTransaction(partition: number, producerId: number, committed: boolean): void {
    const state = this.states.get(partition)
    if (!state) return
    if (!state.loaded) {
      state.lateMarkers.push({ producerId, committed })
      return
    }
    completePending(state, producerId, committed)
  }

  /** Whether an open transaction holds offsets of the group's partition (OffsetFetch requireStable answers UNSTABLE_OFFSET_COMMIT). */
  hasPendingTransactionalOffset(groupId: string, topic: string, partition: number): boolean {
    const state = this.stateOf(groupId)
    if (!state || state.pending.size === 0) return false
    const key = encodeOffsetCommitKey(groupId, topic, partition)
    for (const records of state.pending.values()) if (records.some((r) => r.key.equals(key))) return true
    return false
  }

  delete(groupId: string, partitions: readonly TopicPartition[]): Promise<void> {
    return this.write(groupId, partitions.map((p) => ({ key: encodeOffsetCommitKey(groupId, p.topic, p.partition), value: null })), Date.now())
  }

  storeGroup(groupId: string, metadata: StoredGroupMetadata): Promise<void> {
    return this.write(groupId, [{ key: encodeGroupMetadataKey(groupId), value: encodeGroupMetadataValue(metadata) }], Date.now())
  }

  deleteGroup(groupId: string): Promise<void> {
    return this.write(groupId, [{ key: encodeGroupMetadataKey(groupId), value: null }], Date.now())
  }

  async close(): Promise<void> { this.closed = true }

  /** One batch per call: a commit is all-or-nothing. Applied to memory once acknowledged. */
  private async write(groupId: string, records: { key: Buffer; value: Buffer | null }[], timestamp: number, apply?: (state: PartitionState) => void): Promise<void> {
    if (this.closed) throw new LogClosedError('the offsets log is closed')
    if (records.length === 0) return
    const state = await this.append(groupId, encodeRecordBatch({ records: records as RecordInput[], baseTimestamp: timestamp }))
    if (apply) apply(state)
    else for (const r of records) applyRecord(state, r.key, r.value)
  }

  /** Appends one batch to the group's partition (acks=all); the partition's state, still held here, once acknowledged. */
  private async append(groupId: string, batch: Buffer): Promise<PartitionState> {
    if (this.closed) throw new LogClosedError('the offsets log is closed')
    const partition = this.partitionOf(groupId)
    const state = this.states.get(partition)
    if (!state?.loaded) throw new RinglogError(this.coordinatorError(groupId), `this broker does not coordinate group "${groupId}"`)
    await this.prepare()
    try {
      await this.io.append(partition, batch)
    } catch (error) {
      const code = error instanceof RinglogError ? commitErrorFor(error.code) : ErrorCode.COORDINATOR_NOT_AVAILABLE
      throw new RinglogError(code, `committing to __consumer_offsets-${partition} failed: ${(error as Error).message}`)
    }
    // Lost the partition while appending: the new coordinator loads the record from the log.
    if (this.states.get(partition) !== state) throw new RinglogError(ErrorCode.NOT_COORDINATOR, `group "${groupId}" moved to another coordinator`)
    return state
  }
}

function addPending(state: PartitionState, producerId: number, records: PendingRecords): void {
  const list = state.pending.get(producerId)
  if (list) list.push(...records)
  else state.pending.set(producerId, [...records])
}

/** A marker ends the producer's pending offsets: applied in their log order on COMMIT, dropped on ABORT. */
function completePending(state: PartitionState, producerId: number, committed: boolean): void {
  const records = state.pending.get(producerId)
  if (!records) return
  state.pending.delete(producerId)
  if (committed) for (const r of records) applyRecord(state, r.key, r.value)
}

function applyRecord(state: PartitionState, keyBytes: Buffer, value: Buffer | null): void {
  const key = decodeConsumerOffsetsKey(keyBytes)
  if (key.kind === 'group') {
    if (value === null) state.groups.delete(key.group)
    else state.groups.set(key.group, decodeGroupMetadataValue(value))
    return
  }
  const topics = state.offsets.get(key.group)
  if (value === null) {
    const partitions = topics?.get(key.topic)
    partitions?.delete(key.partition)
    if (partitions?.size === 0) topics!.delete(key.topic)
    if (topics?.size === 0) state.offsets.delete(key.group)
    return
  }
  setOffset(state, key.group, { topic: key.topic, partition: key.partition, ...decodeOffsetCommitValue(value) })
}

/** A group's committed offset of one partition, in memory. */
function setOffset(state: PartitionState, group: string, committed: CommittedOffset): void {
  let topics = state.offsets.get(group)
  if (!topics) state.offsets.set(group, topics = new Map())
  let partitions = topics.get(committed.topic)
  if (!partitions) topics.set(committed.topic, partitions = new Map())
  partitions.set(committed.partition, committed)
}
