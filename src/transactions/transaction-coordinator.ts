/**
 * Kafka's transaction coordinator. The state of each transactional id is a record in the
 * internal `__transaction_state` topic (transaction-state.ts), in the partition
 * abs(transactionalId.hashCode()) % partitions; the broker leading that partition coordinates
 * the id (a single node leads them all). Every change is appended with acks=all before it is
 * applied in memory or answered, so a restart or a new leader reads the same state back.
 *
 * Life of a transaction: InitProducerId gives the id a producer id and a new epoch (fencing the
 * previous holder, and aborting what it left open); AddPartitionsToTxn / AddOffsetsToTxn move it
 * to Ongoing (AddOffsetsToTxn adds the group's `__consumer_offsets` partition, where the group
 * coordinator holds the TxnOffsetCommit offsets pending); EndTxn writes PrepareCommit or
 * PrepareAbort, then a COMMIT or ABORT marker to every partition of the transaction (the one in
 * `__consumer_offsets` commits or drops the pending offsets), then CompleteCommit /
 * CompleteAbort, and only then answers. A completion that fails part way stays Prepare* and is retried by the next
 * EndTxn or the periodic check; a restart finishes it from the log.
 *
 * Timeouts: an Ongoing transaction older than its timeout is aborted with a bumped epoch, so the
 * producer's next request is fenced (and its next batch refused by the partitions).
 *
 * Operations on one transactional id run one at a time (a promise chain per id).
 */
import { ErrorCode } from '../protocol/error-codes.js'
import { decodeRecordBatch, encodeRecordBatch, splitBatches } from '../protocol/record-batch.js'
import { partitionForGroup } from '../protocol/consumer-offsets-records.js'
import { RinglogError, UnknownTopicOrPartitionError } from '../errors.js'
import type { TxnMarkerRequest } from '../engine/log-engine.js'
import type { OffsetToCommit } from '../groups/offsets-backend.js'
import type { OffsetsTopicIo } from '../groups/consumer-offsets-log.js'
import { decodeTxnValue, encodeTxnKey, encodeTxnValue, type TxnMetadata, type TxnPartition } from './transaction-state.js'

/** Kafka keeps the last epoch for itself (Short.MaxValue is never handed out). */
const MAX_PRODUCER_EPOCH = 32766

export interface TransactionCoordinatorDeps {
  /** `__transaction_state` (create on first use, append with acks=all, read back). */
  io: OffsetsTopicIo
  /** Appends a COMMIT/ABORT marker to a partition; rejects with a RinglogError (UnknownTopicOrPartitionError: the partition is gone). */
  writeMarker(topic: string, partition: number, marker: TxnMarkerRequest): Promise<void>
  allocateProducerId(): Promise<number>
  /**
   * Commits offsets an older ringlog kept in a transaction's own record (`pendingOffsets` of a
   * PrepareCommit read back from the log); today's TxnOffsetCommit goes to the group coordinator.
   */
  commitOffsets(groupId: string, offsets: readonly OffsetToCommit[]): Promise<void>
  /** The group's `__consumer_offsets` partition, added to the transaction by AddOffsetsToTxn. */
  offsetsPartition(groupId: string): TxnPartition
  partitionExists(topic: string, partition: number): boolean
  /**
   * The coordinator epoch of a `__transaction_state` partition this broker starts coordinating
   * (in a cluster its leader epoch; 0 on a single node): partitions refuse markers from an older
   * one (TRANSACTION_COORDINATOR_FENCED), so a deposed coordinator cannot complete a transaction
   * its successor already completed.
   */
  coordinatorEpoch?(partition: number): number
  maxTimeoutMs: number
  abortCheckIntervalMs: number
  now?: () => number
  /** Told about background failures (a completion or timeout abort that will be retried). */
  onBackgroundError?: (transactionalId: string, error: unknown) => void
}

export interface InitProducerIdResult { errorCode: number; producerId: number; producerEpoch: number }

/** Which request version first knows PRODUCER_FENCED; older ones get INVALID_PRODUCER_EPOCH (as Kafka answers). */
export interface FencingVersion { version: number; firstFencedVersion: number }

interface PartitionTxns {
  loaded: boolean
  txns: Map<string, TxnMetadata>
  /** This coordinator's epoch for the partition (its leader epoch when loaded), carried by every marker it writes. */
  coordinatorEpoch: number
}

export class TransactionCoordinator {
  private readonly states = new Map<number, PartitionTxns>()
  private readonly chains = new Map<string, Promise<unknown>>()
  private readonly now: () => number
  private topicReady: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor(private readonly deps: TransactionCoordinatorDeps) {
    this.now = deps.now ?? Date.now
    this.timer = setInterval(() => { this.checkTimeouts() }, deps.abortCheckIntervalMs)
    this.timer.unref()
  }

  /** Creates `__transaction_state` once (first use); a failed create is tried again by the next call. */
  prepare(): Promise<void> {
    this.topicReady ??= this.deps.io.ensureTopic().catch((error: unknown) => { this.topicReady = undefined; throw error })
    return this.topicReady
  }

  partitionOf(transactionalId: string): number { return partitionForGroup(transactionalId, this.deps.io.partitions) }

  /**
   * NONE when this broker coordinates the id; COORDINATOR_LOAD_IN_PROGRESS while its partition
   * loads or is about to (led here, not yet taken over); NOT_COORDINATOR otherwise.
   */
  coordinatorError(transactionalId: string): number {
    const partition = this.partitionOf(transactionalId)
    const state = this.states.get(partition)
    if (state?.loaded) return ErrorCode.NONE
    return state || this.deps.io.ledHere(partition) ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NOT_COORDINATOR
  }

  /** Reads a partition of the log (newest record per id wins), then finishes what it finds prepared. */
  async load(partition: number): Promise<void> {
    const state: PartitionTxns = { loaded: false, txns: new Map(), coordinatorEpoch: this.deps.coordinatorEpoch?.(partition) ?? 0 }
    this.states.set(partition, state)
    await this.deps.io.read(partition, (bytes) => {
      for (const { offset } of splitBatches(bytes).batches) {
        for (const record of decodeRecordBatch(bytes, offset).records) {
          if (!record.key) continue
          const id = record.key.toString('utf8')
          const meta = record.value ? decodeTxnValue(record.value) : undefined
          if (meta) state.txns.set(id, meta)
          else state.txns.delete(id)
        }
      }
    })
    if (this.states.get(partition) !== state) return
    state.loaded = true
    for (const [id, meta] of state.txns) {
      if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') this.completeInBackground(id)
    }
  }

  /** Stops coordinating the partition's ids (another broker leads it now). */
  unload(partition: number): void { this.states.delete(partition) }

  /** The id's current metadata, if this broker coordinates it (tests, DescribeTransactions). */
  describe(transactionalId: string): TxnMetadata | undefined {
    const state = this.states.get(this.partitionOf(transactionalId))
    return state?.loaded ? state.txns.get(transactionalId) : undefined
  }

  close(): void {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  // ------------------------------------------------------------------ requests

  /**
   * InitProducerId with a transactional id: a producer id (new, or the id's own) with a bumped
   * epoch. An Ongoing transaction of the previous holder is aborted first (with the new epoch,
   * so its markers fence the zombie in every partition it wrote).
   */
  initProducerId(transactionalId: string, timeoutMs: number, expected: { producerId: number; producerEpoch: number }, fencing: FencingVersion): Promise<InitProducerIdResult> {
    const fail = (errorCode: number): InitProducerIdResult => ({ errorCode, producerId: -1, producerEpoch: -1 })
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > this.deps.maxTimeoutMs) return Promise.resolve(fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT))
    const coordinator = this.coordinatorError(transactionalId)
    if (coordinator !== ErrorCode.NONE) return Promise.resolve(fail(coordinator))
    return this.serialized(transactionalId, async () => {
      const current = this.describe(transactionalId)
      if (!current) {
        const producerId = await this.deps.allocateProducerId()
        const meta = fresh(producerId, 0, timeoutMs, this.now())
        await this.persist(transactionalId, meta)
        return { errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 }
      }
      if (expected.producerId >= 0 && (expected.producerId !== current.producerId || expected.producerEpoch !== current.producerEpoch)) {
        return fail(fencedCode(fencing))
      }
      if (current.state === 'PrepareCommit' || current.state === 'PrepareAbort') {
        await this.complete(transactionalId, current)
      }
      let producerId = current.producerId
      let producerEpoch = current.producerEpoch + 1
      if (current.state === 'Ongoing') {
        await this.complete(transactionalId, { ...current, producerEpoch, state: 'PrepareAbort' })
      }
      if (producerEpoch > MAX_PRODUCER_EPOCH) {
        producerId = await this.deps.allocateProducerId()
        producerEpoch = 0
      }
      await this.persist(transactionalId, fresh(producerId, producerEpoch, timeoutMs, this.now()))
      return { errorCode: ErrorCode.NONE, producerId, producerEpoch }
    }).catch((error: unknown) => fail(coordinatorFailure(error)))
  }

  /** Per-partition answers when a request fails before its id is looked at: an empty id, unknown partitions, not this id's coordinator. */
  private refusedUpFront(transactionalId: string, partitions: readonly TxnPartition[]): Map<string, number> | undefined {
    if (transactionalId === '') return new Map(partitions.map((p) => [partitionKey(p), ErrorCode.INVALID_REQUEST]))
    const unknown = this.unknownPartitions(partitions)
    if (unknown) return unknown
    const coordinator = this.coordinatorError(transactionalId)
    return coordinator === ErrorCode.NONE ? undefined : new Map(partitions.map((p) => [partitionKey(p), coordinator]))
  }

  /** AddPartitionsToTxn: an error code per partition (OPERATION_NOT_ATTEMPTED beside one that failed). */
  addPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: readonly TxnPartition[], fencing: FencingVersion): Promise<Map<string, number>> {
    const all = (code: number): Map<string, number> => new Map(partitions.map((p) => [partitionKey(p), code]))
    const refused = this.refusedUpFront(transactionalId, partitions)
    if (refused) return Promise.resolve(refused)
    return this.serialized(transactionalId, async () => {
      const meta = this.describe(transactionalId)
      const code = this.checkProducer(transactionalId, meta, producerId, producerEpoch, fencing)
      if (code !== ErrorCode.NONE) return all(code)
      const added = [...meta!.partitions]
      for (const p of partitions) if (!added.some((q) => q.topic === p.topic && q.partition === p.partition)) added.push({ topic: p.topic, partition: p.partition })
      if (meta!.state === 'Ongoing' && added.length === meta!.partitions.length) return all(ErrorCode.NONE)
      await this.persist(transactionalId, this.ongoing(meta!, { partitions: added }))
      return all(ErrorCode.NONE)
    }).catch((error: unknown) => all(coordinatorFailure(error)))
  }

  /**
   * AddPartitionsToTxn v4+ with VerifyOnly (KIP-890): says, without changing anything, whether
   * each partition is already in the id's open transaction: NONE, or `notInTransaction`
   * (TRANSACTION_ABORTABLE for v5, INVALID_TXN_STATE for v4). A producer id or epoch that is not
   * the id's current one, or a completion under way, answers every partition alike, as Kafka.
   */
  verifyPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: readonly TxnPartition[], notInTransaction: number): Promise<Map<string, number>> {
    const all = (code: number): Map<string, number> => new Map(partitions.map((p) => [partitionKey(p), code]))
    const refused = this.refusedUpFront(transactionalId, partitions)
    if (refused) return Promise.resolve(refused)
    // Serialized so a verification never sees half of an add or a completion on the same id.
    return this.serialized(transactionalId, async () => {
      const meta = this.describe(transactionalId)
      if (!meta || meta.producerId !== producerId) return all(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
      if (meta.producerEpoch !== producerEpoch) return all(ErrorCode.PRODUCER_FENCED)
      if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') return all(ErrorCode.CONCURRENT_TRANSACTIONS)
      const inTxn = new Set(meta.state === 'Ongoing' ? meta.partitions.map(partitionKey) : [])
      return new Map(partitions.map((p) => [partitionKey(p), inTxn.has(partitionKey(p)) ? ErrorCode.NONE : notInTransaction]))
    }).catch((error: unknown) => all(coordinatorFailure(error)))
  }

  /**
   * AddOffsetsToTxn: the group's offsets will be committed by this transaction. As in Kafka the
   * group's `__consumer_offsets` partition joins the transaction's partitions: the group
   * coordinator holds the TxnOffsetCommit offsets pending until this coordinator's marker reaches
   * that partition.
   */
  addOffsets(transactionalId: string, producerId: number, producerEpoch: number, groupId: string, fencing: FencingVersion): Promise<number> {
    const coordinator = this.coordinatorError(transactionalId)
    if (coordinator !== ErrorCode.NONE) return Promise.resolve(coordinator)
    return this.serialized(transactionalId, async () => {
      const meta = this.describe(transactionalId)
      const code = this.checkProducer(transactionalId, meta, producerId, producerEpoch, fencing)
      if (code !== ErrorCode.NONE) return code
      const offsets = this.deps.offsetsPartition(groupId)
      const inTxn = meta!.state === 'Ongoing'
      const partitions = inTxn ? [...meta!.partitions] : []
      if (!partitions.some((p) => p.topic === offsets.topic && p.partition === offsets.partition)) partitions.push(offsets)
      if (inTxn && meta!.groupIds.includes(groupId) && partitions.length === meta!.partitions.length) return ErrorCode.NONE
      await this.persist(transactionalId, this.ongoing(meta!, { groupIds: [...new Set([...(inTxn ? meta!.groupIds : []), groupId])], partitions }))
      return ErrorCode.NONE
    }).catch(coordinatorFailure)
  }

  /**
   * EndTxn: answered once the Prepare* record and every marker are acknowledged (the
   * transaction's records are readable and its offsets the group's). The Complete* record is
   * appended after the answer, still inside the id's serialized turn, so the id's next request
   * waits for it rather than the client: it saves a `__transaction_state` fdatasync per
   * transaction on the client's path. Losing it in a crash is harmless: the id is read back
   * PrepareCommit/PrepareAbort and completed again (markers for a transaction a partition
   * already ended change nothing), and no later record of the id can be durable without it
   * (the same partition's log, in order).
   */
  endTxn(transactionalId: string, producerId: number, producerEpoch: number, committed: boolean, fencing: FencingVersion): Promise<number> {
    const coordinator = this.coordinatorError(transactionalId)
    if (coordinator !== ErrorCode.NONE) return Promise.resolve(coordinator)
    let answer: (code: number) => void = () => undefined
    let answered = false
    const early = new Promise<number>((resolve) => { answer = (code) => { answered = true; resolve(code) } })
    const markersWritten = (): void => answer(ErrorCode.NONE)
    const turn = this.serialized(transactionalId, async () => {
      const meta = this.describe(transactionalId)
      if (!meta || meta.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
      if (meta.producerEpoch !== producerEpoch) return fencedCode(fencing)
      const wanted = committed ? 'Commit' : 'Abort'
      switch (meta.state) {
        case 'Ongoing':
          await this.complete(transactionalId, { ...meta, state: committed ? 'PrepareCommit' : 'PrepareAbort' }, markersWritten)
          return ErrorCode.NONE
        case 'PrepareCommit':
        case 'PrepareAbort':
          if (meta.state !== `Prepare${wanted}`) return ErrorCode.INVALID_TXN_STATE
          await this.complete(transactionalId, meta, markersWritten)
          return ErrorCode.NONE
        case 'CompleteCommit':
        case 'CompleteAbort':
          // A retried EndTxn whose first attempt completed.
          return meta.state === `Complete${wanted}` ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE
        default:
          return ErrorCode.INVALID_TXN_STATE
      }
    })
    turn.then(answer, (error: unknown) => {
      // After the answer only the Complete* record can have failed: the id stays Prepare* and the next request or check completes it.
      if (answered) this.deps.onBackgroundError?.(transactionalId, error)
      else answer(coordinatorFailure(error))
    })
    return early
  }

  /** Aborts Ongoing transactions past their timeout (epoch bumped: the producer is fenced) and retries stuck completions. */
  checkTimeouts(): void {
    if (this.closed) return
    const now = this.now()
    for (const state of this.states.values()) {
      if (!state.loaded) continue
      for (const [id, meta] of state.txns) {
        if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') this.completeInBackground(id)
        else if (meta.state === 'Ongoing' && now - meta.startMs > meta.timeoutMs) this.abortTimedOut(id)
      }
    }
  }

  // ------------------------------------------------------------------ internals

  private abortTimedOut(transactionalId: string): void {
    this.serialized(transactionalId, async () => {
      const meta = this.describe(transactionalId)
      if (meta?.state !== 'Ongoing' || this.now() - meta.startMs <= meta.timeoutMs) return
      if (meta.producerEpoch >= MAX_PRODUCER_EPOCH) {
        // No epoch left to fence with: abort under the current one (the next InitProducerId moves to a new producer id).
        await this.complete(transactionalId, { ...meta, state: 'PrepareAbort' })
        return
      }
      await this.complete(transactionalId, { ...meta, producerEpoch: meta.producerEpoch + 1, state: 'PrepareAbort' })
    }).catch((error: unknown) => this.deps.onBackgroundError?.(transactionalId, error))
  }

  private completeInBackground(transactionalId: string): void {
    this.serialized(transactionalId, async () => {
      const meta = this.describe(transactionalId)
      if (meta && (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort')) await this.complete(transactionalId, meta)
    }).catch((error: unknown) => this.deps.onBackgroundError?.(transactionalId, error))
  }

  /**
   * Writes the Prepare* record (unless it is the stored state already), a marker to every
   * partition, the offsets of a commit (an older version's record), `markersWritten`, then the Complete* record.
   */
  private async complete(transactionalId: string, prepared: TxnMetadata, markersWritten?: () => void): Promise<void> {
    const stored = this.describe(transactionalId)
    if (stored?.state !== prepared.state || stored.producerEpoch !== prepared.producerEpoch) {
      await this.persist(transactionalId, { ...prepared, updatedMs: this.now() })
    }
    const committed = prepared.state === 'PrepareCommit'
    const coordinatorEpoch = this.states.get(this.partitionOf(transactionalId))?.coordinatorEpoch ?? 0
    const marker: TxnMarkerRequest = { producerId: prepared.producerId, producerEpoch: prepared.producerEpoch, committed, coordinatorEpoch }
    await Promise.all(prepared.partitions.map((p) => this.deps.writeMarker(p.topic, p.partition, marker).catch((error: unknown) => {
      // A partition deleted since it joined the transaction needs no marker (Kafka drops it too).
      if (!(error instanceof UnknownTopicOrPartitionError)) throw error
    })))
    if (committed) {
      const byGroup = new Map<string, OffsetToCommit[]>()
      for (const o of prepared.pendingOffsets) {
        let list = byGroup.get(o.groupId)
        if (!list) byGroup.set(o.groupId, list = [])
        list.push({ topic: o.topic, partition: o.partition, offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata })
      }
      for (const [groupId, offsets] of byGroup) await this.deps.commitOffsets(groupId, offsets)
    }
    markersWritten?.()
    await this.persist(transactionalId, {
      ...prepared, state: committed ? 'CompleteCommit' : 'CompleteAbort',
      partitions: [], groupIds: [], pendingOffsets: [], startMs: -1, updatedMs: this.now(),
    })
  }

  /** UNKNOWN_TOPIC_OR_PARTITION for partitions that do not exist and OPERATION_NOT_ATTEMPTED for the rest; undefined when all exist. */
  private unknownPartitions(partitions: readonly TxnPartition[]): Map<string, number> | undefined {
    const unknown = partitions.filter((p) => !this.deps.partitionExists(p.topic, p.partition))
    if (unknown.length === 0) return undefined
    const out = new Map(partitions.map((p) => [partitionKey(p), ErrorCode.OPERATION_NOT_ATTEMPTED as number]))
    for (const p of unknown) out.set(partitionKey(p), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
    return out
  }

  private ongoing(meta: TxnMetadata, change: Partial<TxnMetadata>): TxnMetadata {
    const now = this.now()
    const fresh = meta.state !== 'Ongoing'
    return {
      ...meta,
      ...(fresh ? { partitions: [], groupIds: [], pendingOffsets: [] } : {}),
      ...change,
      state: 'Ongoing',
      startMs: fresh ? now : meta.startMs,
      updatedMs: now,
    }
  }

  private checkProducer(transactionalId: string, meta: TxnMetadata | undefined, producerId: number, producerEpoch: number, fencing: FencingVersion): number {
    if (!meta || meta.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING
    if (meta.producerEpoch !== producerEpoch) return fencedCode(fencing)
    if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') {
      this.completeInBackground(transactionalId)
      return ErrorCode.CONCURRENT_TRANSACTIONS
    }
    return ErrorCode.NONE
  }

  /** Appends the id's new state with acks=all, then applies it. */
  private async persist(transactionalId: string, meta: TxnMetadata): Promise<void> {
    if (this.closed) throw new RinglogError(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the transaction coordinator is closed')
    const partition = this.partitionOf(transactionalId)
    const state = this.states.get(partition)
    if (!state?.loaded) throw new RinglogError(ErrorCode.NOT_COORDINATOR, `this broker does not coordinate transactional id "${transactionalId}"`)
    await this.prepare()
    const batch = encodeRecordBatch({ records: [{ key: encodeTxnKey(transactionalId), value: encodeTxnValue(meta) }], baseTimestamp: this.now() })
    await this.deps.io.append(partition, batch)
    if (this.states.get(partition) !== state) throw new RinglogError(ErrorCode.NOT_COORDINATOR, `transactional id "${transactionalId}" moved to another coordinator`)
    state.txns.set(transactionalId, meta)
  }

  private serialized<T>(transactionalId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(transactionalId) ?? Promise.resolve()
    const run = previous.then(task, task)
    const tail = run.catch(() => undefined)
    this.chains.set(transactionalId, tail)
    void tail.then(() => { if (this.chains.get(transactionalId) === tail) this.chains.delete(transactionalId) })
    return run
  }
}

function fresh(producerId: number, producerEpoch: number, timeoutMs: number, now: number): TxnMetadata {
  return { producerId, producerEpoch, timeoutMs, state: 'Empty', partitions: [], groupIds: [], pendingOffsets: [], startMs: -1, updatedMs: now }
}

function partitionKey(p: TxnPartition): string { return `${p.topic}\u0000${p.partition}` }

/** Key of a partition in the map addPartitions answers with. */
export { partitionKey as txnPartitionKey }

function fencedCode({ version, firstFencedVersion }: FencingVersion): number {
  return version >= firstFencedVersion ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_PRODUCER_EPOCH
}

/** What a request answers when the log could not be written: retriable coordinator errors, as Kafka maps them. */
function coordinatorFailure(error: unknown): number {
  if (!(error instanceof RinglogError)) return ErrorCode.COORDINATOR_NOT_AVAILABLE
  switch (error.code) {
    case ErrorCode.NOT_COORDINATOR:
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
      return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
    default:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE
  }
}
