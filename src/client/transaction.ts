/**
 * The embedded transactional producer, shaped like kafkajs: `const tx = await
 * producer.transaction()`, then `tx.send`, `tx.sendBatch`, `tx.sendOffsets`, and `tx.commit()`
 * or `tx.abort()`. It talks to the node's transaction coordinator (context.transactions) the
 * way a wire client does: InitProducerId at the first transaction, AddPartitionsToTxn before
 * the first batch to a partition, AddOffsetsToTxn + TxnOffsetCommit for `sendOffsets`, EndTxn
 * for commit/abort, so the records, markers and offsets are the same as from kafkajs.
 *
 * Unlike plain sends (packed by the partition's worker), transactional batches are encoded
 * here, on the calling thread, because they carry the producer id, epoch and sequence numbers
 * the coordinator's fencing relies on: CRC-32C and compression of each batch run on the main
 * thread. Batches are about `batchBytes` each; the batches of one partition are appended one
 * after another (an idempotent produce carries one batch), partitions in parallel.
 */
import { errorForCode, InvalidRequestError, InvalidTxnStateError } from '../errors.js'
import { ErrorCode } from '../protocol/error-codes.js'
import { encodeRecordBatch } from '../protocol/record-batch.js'
import type { RecordInput } from '../protocol/records.js'
import type { NodeContext } from '../core/node-context.js'
import type { RecordMetadata, TopicMessages } from './types.js'

/** The newest request versions: fencing is reported as PRODUCER_FENCED. */
const CURRENT = { version: 4, firstFencedVersion: 2 }

/** What a transaction needs from its producer: its planned sends and its settings. */
export interface TransactionalPlanner {
  planRecords(topics: TopicMessages | readonly TopicMessages[]): { topic: string; partition: number; records: RecordInput[]; bytes: number }[]
  readonly codec: number
  readonly batchBytes: number
}

export interface SendOffsetsRequest {
  consumerGroupId: string
  topics: { topic: string; partitions: { partition: number; offset: string }[] }[]
}

/** The producer id, epoch and per-partition sequences of one transactional id (one per producer). */
export class TransactionalSession {
  producerId = -1
  producerEpoch = -1
  private readonly sequences = new Map<string, number>()
  private readonly chains = new Map<string, Promise<unknown>>()
  active: Transaction | undefined

  constructor(readonly context: NodeContext, readonly transactionalId: string, readonly timeoutMs: number) {}

  /** InitProducerId once (kafkajs does the same): the id's producer id with a bumped epoch. */
  async init(): Promise<void> {
    if (this.producerId >= 0) return
    const result = await this.context.transactions.initProducerId(this.transactionalId, this.timeoutMs, { producerId: -1, producerEpoch: -1 }, CURRENT)
    if (result.errorCode !== ErrorCode.NONE) throw errorForCode(result.errorCode, null, `initializing transactional id "${this.transactionalId}"`)
    this.producerId = result.producerId
    this.producerEpoch = result.producerEpoch
    this.sequences.clear()
  }

  /** Runs `task` after the partition's earlier appends (sequence numbers must arrive in order). */
  inPartitionOrder<T>(key: string, task: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(key) ?? Promise.resolve()).then(task, task)
    this.chains.set(key, run.catch(() => undefined))
    return run
  }

  /** The next sequence of the partition, moved past `count` records. */
  takeSequence(key: string, count: number): number {
    const sequence = this.sequences.get(key) ?? 0
    this.sequences.set(key, (sequence + count) % 0x80000000)
    return sequence
  }
}

export class Transaction {
  private readonly partitions = new Set<string>()
  private readonly groups = new Set<string>()
  private ended = false
  /** A send failed: only abort is allowed now (as kafkajs). */
  private failed: unknown = undefined

  constructor(private readonly session: TransactionalSession, private readonly producer: TransactionalPlanner) {}

  isActive(): boolean { return !this.ended }

  send(record: TopicMessages): Promise<RecordMetadata[]> {
    return this.sendTopics(record)
  }

  sendBatch(batch: { topicMessages: TopicMessages[] }): Promise<RecordMetadata[]> {
    if (!Array.isArray(batch.topicMessages)) return Promise.reject(new InvalidRequestError('topicMessages must be an array'))
    return this.sendTopics(batch.topicMessages)
  }

  /** Offsets of a consumer group that commit with this transaction (consume-transform-produce). */
  async sendOffsets(request: SendOffsetsRequest): Promise<void> {
    this.assertOpen()
    const { context, transactionalId, producerId, producerEpoch } = this.session
    const groupId = request.consumerGroupId
    if (typeof groupId !== 'string' || groupId === '') throw new InvalidRequestError('consumerGroupId must be a non-empty string')
    if (!this.groups.has(groupId)) {
      this.check(await context.transactions.addOffsets(transactionalId, producerId, producerEpoch, groupId, CURRENT), `adding group "${groupId}" to the transaction`)
      this.groups.add(groupId)
    }
    const offsets = request.topics.flatMap((t) => t.partitions.map((p) => {
      const offset = Number(p.offset)
      if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidRequestError(`offset of ${t.topic}-${p.partition} must be a non-negative integer, got ${p.offset}`)
      return { topic: t.topic, partition: p.partition, offset, leaderEpoch: -1, metadata: '' }
    }))
    const owner = context.groups.coordinatorError(groupId)
    if (owner !== ErrorCode.NONE) throw errorForCode(owner, null, `committing offsets of group "${groupId}"`)
    this.check(fenced(await context.groups.commitPendingTransactionalOffsets(groupId, producerId, producerEpoch, offsets)), `committing offsets of group "${groupId}" in the transaction`)
  }

  /** Commits: answered once every marker is written and the offsets reached their groups. */
  async commit(): Promise<void> {
    this.assertOpen()
    if (this.failed !== undefined) throw new InvalidTxnStateError(`a send of this transaction failed (${(this.failed as Error).message}); abort it`)
    await this.end(true)
  }

  async abort(): Promise<void> {
    this.assertOpen()
    await this.end(false)
  }

  private async end(committed: boolean): Promise<void> {
    const { context, transactionalId, producerId, producerEpoch } = this.session
    // Nothing written and no offsets: the coordinator has no open transaction to end.
    if (this.partitions.size === 0 && this.groups.size === 0) return this.finish()
    const code = await context.transactions.endTxn(transactionalId, producerId, producerEpoch, committed, CURRENT)
    if (code === ErrorCode.NONE) return this.finish()
    // Fenced or otherwise refused: this transaction is over either way.
    if (code === ErrorCode.PRODUCER_FENCED || code === ErrorCode.INVALID_PRODUCER_EPOCH || code === ErrorCode.INVALID_PRODUCER_ID_MAPPING) this.finish()
    throw errorForCode(code, null, `${committed ? 'committing' : 'aborting'} the transaction of "${transactionalId}"`)
  }

  private finish(): void {
    this.ended = true
    if (this.session.active === this) this.session.active = undefined
  }

  private assertOpen(): void {
    if (this.ended) throw new InvalidTxnStateError('the transaction has ended (committed or aborted)')
  }

  private check(code: number, what: string): void {
    if (code !== ErrorCode.NONE) throw errorForCode(code, null, what)
  }

  private async sendTopics(topics: TopicMessages | readonly TopicMessages[]): Promise<RecordMetadata[]> {
    this.assertOpen()
    const plans = this.producer.planRecords(topics)
    const { context, transactionalId, producerId, producerEpoch } = this.session
    const added = plans.filter((p) => !this.partitions.has(partitionKey(p.topic, p.partition)))
    if (added.length > 0) {
      const answer = await context.transactions.addPartitions(transactionalId, producerId, producerEpoch, added.map((p) => ({ topic: p.topic, partition: p.partition })), CURRENT)
      for (const code of answer.values()) this.check(code, 'adding partitions to the transaction')
      for (const p of added) this.partitions.add(partitionKey(p.topic, p.partition))
    }
    try {
      return await Promise.all(plans.map((plan) => this.appendPlan(plan)))
    } catch (error) {
      this.failed = error
      throw error
    }
  }

  /** The plan's records as transactional batches of about `batchBytes`, appended in order. */
  private appendPlan(plan: { topic: string; partition: number; records: RecordInput[]; bytes: number }): Promise<RecordMetadata> {
    const key = partitionKey(plan.topic, plan.partition)
    const { batchBytes, codec } = this.producer
    const perBatch = Math.max(1, Math.floor(plan.records.length * batchBytes / Math.max(1, plan.bytes)))
    return this.session.inPartitionOrder(key, async () => {
      let first: RecordMetadata | undefined
      for (let start = 0; start < plan.records.length; start += perBatch) {
        const records = plan.records.slice(start, start + perBatch)
        const batch = encodeRecordBatch({
          records, compression: codec, producerId: this.session.producerId, producerEpoch: this.session.producerEpoch,
          baseSequence: this.session.takeSequence(key, records.length), transactional: true,
        })
        const result = await this.session.context.engine.appendBatches(plan.topic, plan.partition, batch, -1)
        if (result.errorCode !== ErrorCode.NONE) throw errorForCode(result.errorCode, result.errorMessage, `transactional send to ${plan.topic}-${plan.partition}`)
        first ??= {
          topicName: plan.topic, partition: plan.partition, errorCode: 0,
          baseOffset: String(result.baseOffset), logAppendTime: String(result.logAppendTimeMs), logStartOffset: String(result.logStartOffset),
        }
      }
      return first!
    })
  }
}

function partitionKey(topic: string, partition: number): string { return `${topic}\u0000${partition}` }

/** The partition refuses an older epoch with INVALID_PRODUCER_EPOCH: to this producer that means another took its id. */
function fenced(code: number): number {
  return code === ErrorCode.INVALID_PRODUCER_EPOCH ? ErrorCode.PRODUCER_FENCED : code
}
