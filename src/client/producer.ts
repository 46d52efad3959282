/**
 * The embedded producer: kafkajs's `send`/`sendBatch` over the partition engine, no network.
 *
 * A send is checked in full before anything is written (unknown topic or partition, a record
 * over max.message.bytes, bad values), then split per partition: keyed records by Kafka's
 * murmur2, explicit partitions as given, keyless records sticky (they stay on one partition
 * until `batchBytes` went to it, then move on, as KIP-480). Each partition's records go to
 * its worker in one `appendRecords` call (the worker packs and compresses the batches); with
 * `lingerMs` > 0, small sends to a partition within the linger window share one call.
 *
 * acks: -1 resolves once the records are durable per the flush policy, 1 once appended, 0 as
 * soon as they are handed over (asked of the engine as acks 1 so the producer still learns
 * when bytes leave its in-flight budget; errors are not reported, as with Kafka's acks 0).
 */
import { Buffer } from 'node:buffer'
import { errorForCode, InvalidRecordError, InvalidRequestError, InvalidTxnStateError, LogClosedError, RecordTooLargeError, UnknownTopicOrPartitionError } from '../errors.js'
import type { Acks, AppendResult } from '../engine/log-engine.js'
import { BATCH_HEADER_SIZE } from '../protocol/record-batch.js'
import type { RecordInput } from '../protocol/records.js'
import { ByteBudget } from './byte-budget.js'
import { resolveCompression } from './compression-option.js'
import { assertLogOpen, type LogHost } from './log-host.js'
import { partitionForKey, StickyPartitioner } from './partitioner.js'
import type { CompressionOption, Message, ProducerBatch, ProducerOptions, ProducerRecord, RecordMetadata, TopicMessages } from './types.js'
import { Transaction, TransactionalSession } from './transaction.js'

const DEFAULT_BATCH_BYTES = 16384
/** kafkajs's default transactionTimeout. */
const DEFAULT_TRANSACTION_TIMEOUT_MS = 60_000
const DEFAULT_MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024
/** Per-record framing beyond key and value (length, attributes, deltas, header count), generously. */
const RECORD_OVERHEAD = 24

interface PartitionPlan {
  topic: string
  partition: number
  records: RecordInput[]
  bytes: number
}

interface LingerPart {
  from: number
  resolve(result: AppendResult): void
  reject(error: unknown): void
}

interface Lingering {
  topic: string
  partition: number
  acks: Acks
  codec: number
  records: RecordInput[]
  bytes: number
  parts: LingerPart[]
  timer: NodeJS.Timeout | null
}

function validAcks(acks: unknown): Acks {
  if (acks === -1 || acks === 0 || acks === 1) return acks
  throw new InvalidRequestError(`acks must be -1, 0 or 1, got ${String(acks)}`)
}

function nonNegativeInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidRequestError(`${name} must be a non-negative integer, got ${value}`)
  return value
}

function fieldLength(name: string, value: unknown): number {
  if (value === null || value === undefined) return 0
  if (Buffer.isBuffer(value)) return value.length
  if (typeof value === 'string') return value.length
  throw new InvalidRecordError(`message ${name} must be a Buffer, a string or null`)
}

export class Producer {
  private readonly acks: Acks
  private readonly codec: number
  private readonly lingerMs: number
  private readonly batchBytes: number
  private readonly budget: ByteBudget
  private readonly sticky = new StickyPartitioner()
  private readonly stickyBytes = new Map<string, number>()
  /** Sends handed to the engine and not yet settled, and who waits for that to reach 0 (flush). */
  private inFlightSends = 0
  private idleWaiters: (() => void)[] = []
  private readonly lingering = new Map<string, Lingering>()
  private disconnected = false
  /** Scratch per send: each message's partition and estimated size. */
  private partitionOf = new Int32Array(1024)
  private sizeOf = new Float64Array(1024)
  /** Scratch per send: the plan made so far for each partition (emptied again after the send). */
  private readonly planOf: (PartitionPlan | undefined)[] = []
  /** Set with `transactionalId`: the producer id, epoch and sequences of its transactions. */
  private readonly session: TransactionalSession | undefined

  constructor(private readonly host: LogHost, options: ProducerOptions = {}) {
    this.acks = validAcks(options.acks ?? -1)
    this.codec = resolveCompression(options.compression ?? 'lz4')
    this.lingerMs = nonNegativeInteger('lingerMs', options.lingerMs, 0)
    this.batchBytes = Math.max(1, nonNegativeInteger('batchBytes', options.batchBytes, DEFAULT_BATCH_BYTES))
    this.budget = new ByteBudget(Math.max(1, nonNegativeInteger('maxInFlightBytes', options.maxInFlightBytes, DEFAULT_MAX_IN_FLIGHT_BYTES)))
    if (options.transactionalId !== undefined) {
      if (typeof options.transactionalId !== 'string' || options.transactionalId === '') throw new InvalidRequestError('transactionalId must be a non-empty string')
      const timeout = nonNegativeInteger('transactionTimeout', options.transactionTimeout, DEFAULT_TRANSACTION_TIMEOUT_MS)
      this.session = new TransactionalSession(host.context, options.transactionalId, timeout)
    }
  }

  /**
   * Begins a transaction (kafkajs's `producer.transaction()`): needs `transactionalId`. The
   * first one registers the id with the transaction coordinator, fencing any earlier producer
   * with the same id and aborting what it left open. One transaction at a time.
   */
  async transaction(): Promise<Transaction> {
    this.assertOpen()
    const session = this.session
    if (!session) throw new InvalidRequestError('transaction() needs a producer created with transactionalId')
    if (session.active?.isActive()) throw new InvalidTxnStateError('a transaction is already open on this producer: commit or abort it first')
    await session.init()
    const transaction = new Transaction(session, {
      planRecords: (topics) => this.planRecords(topics),
      codec: this.codec,
      batchBytes: this.batchBytes,
    })
    session.active = transaction
    return transaction
  }

  /** The per-partition plan of a send, checked in full (a transaction's sends). */
  private planRecords(topics: TopicMessages | readonly TopicMessages[]): PartitionPlan[] {
    this.assertOpen()
    const plans: PartitionPlan[] = []
    if (Array.isArray(topics)) for (const entry of topics) this.plan(entry, plans)
    else this.plan(topics as TopicMessages, plans)
    return plans
  }

  /** Nothing to connect in-process; kept so kafkajs code runs unchanged. */
  async connect(): Promise<void> {
    this.assertOpen()
  }

  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    return this.sendTopics(record, record.acks, record.compression)
  }

  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    if (!Array.isArray(batch.topicMessages)) return Promise.reject(new InvalidRequestError('topicMessages must be an array'))
    return this.sendTopics(batch.topicMessages, batch.acks, batch.compression)
  }

  /** Sends lingering records now and waits until everything sent so far is acknowledged. */
  async flush(): Promise<void> {
    for (const key of [...this.lingering.keys()]) this.flushLingering(key)
    while (this.inFlightSends > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  /** Flushes, then refuses further sends. Acknowledged records stay; in-flight ones complete first. */
  async disconnect(): Promise<void> {
    if (this.disconnected) return
    this.disconnected = true
    this.budget.abort('the producer was disconnected')
    await this.flush()
    this.host.release(this)
  }

  /** Bytes sent but not yet acknowledged (back-pressure accounting). */
  get inFlightBytes(): number {
    return this.budget.inFlight
  }

  private assertOpen(): void {
    assertLogOpen(this.host)
    if (this.disconnected) throw new LogClosedError('the producer is disconnected')
  }

  /**
   * Not an async function, on purpose: one send to one partition, the usual case, costs two
   * `then`s instead of an async frame and a Promise.all. Checks that fail still reject.
   * `topics` is one topic's messages (`send`) or a list of them (`sendBatch`).
   */
  private sendTopics(topics: TopicMessages | readonly TopicMessages[], acksOption: Acks | undefined, compression: CompressionOption | undefined): Promise<RecordMetadata[]> {
    let plans: PartitionPlan[]
    let acks: Acks
    let codec: number
    try {
      this.assertOpen()
      acks = acksOption === undefined ? this.acks : validAcks(acksOption)
      codec = compression === undefined ? this.codec : resolveCompression(compression)
      // Everything is checked before anything is written: a bad record fails the send whole.
      plans = []
      if (Array.isArray(topics)) for (const entry of topics) this.plan(entry, plans)
      else this.plan(topics as TopicMessages, plans)
    } catch (error) {
      return Promise.reject(error)
    }
    if (plans.length === 1) return this.dispatch(plans[0], acks, codec).then(inArray)
    return Promise.all(plans.map((plan) => this.dispatch(plan, acks, codec)))
  }

  private plan(entry: TopicMessages, plans: PartitionPlan[]): void {
    const { topic, messages } = entry
    if (typeof topic !== 'string') throw new InvalidRequestError('topic must be a string')
    if (!Array.isArray(messages)) throw new InvalidRequestError(`messages for topic "${topic}" must be an array`)
    const info = this.host.context.topics.get(topic)
    // The embedded API never auto-creates topics: a typo should fail loudly, not make a topic.
    if (!info) throw new UnknownTopicOrPartitionError(`unknown topic "${topic}" (the embedded API does not auto-create topics)`)
    const count = info.partitions
    const configured = Number(info.configs['max.message.bytes'])
    const maxBatchBytes = Number.isSafeInteger(configured) && configured > 0 ? configured : this.host.context.config.maxMessageBytes
    const n = messages.length
    if (this.partitionOf.length < n) {
      this.partitionOf = new Int32Array(n * 2)
      this.sizeOf = new Float64Array(n * 2)
    }
    const partitionOf = this.partitionOf
    const sizeOf = this.sizeOf
    // Records whose timestamp is a string need a converted copy; the rest go as given.
    let records: RecordInput[] | null = null
    let stickyBytes = this.stickyBytes.get(topic) ?? 0
    let sticky = -1
    for (let i = 0; i < n; i++) {
      const message: Message = messages[i]
      if (message === null || typeof message !== 'object') throw new InvalidRecordError(`message ${i} of topic "${topic}" is not an object`)
      const value = message.value
      let size = RECORD_OVERHEAD + (Buffer.isBuffer(value) ? value.length : fieldLength('value', value)) + fieldLength('key', message.key)
      if (message.headers !== undefined && message.headers !== null) {
        if (typeof message.headers !== 'object') throw new InvalidRecordError('message headers must be an object')
        for (const name in message.headers) size += 8 + name.length + fieldLength(`header "${name}"`, message.headers[name])
      }
      if (size + BATCH_HEADER_SIZE > maxBatchBytes) this.checkExactSize(message, maxBatchBytes, topic)
      if (message.timestamp !== undefined && message.timestamp !== null) {
        const converted = toRecordInput(message)
        if (converted !== (message as RecordInput)) {
          records ??= messages.slice() as RecordInput[]
          records[i] = converted
        }
      }
      let partition: number
      if (message.partition !== undefined && message.partition !== null) {
        partition = message.partition
        if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
          throw new UnknownTopicOrPartitionError(`topic "${topic}" has no partition ${String(partition)} (it has ${count})`)
        }
      } else if (message.key !== undefined && message.key !== null) {
        partition = partitionForKey(typeof message.key === 'string' ? Buffer.from(message.key) : message.key, count)
      } else {
        if (sticky < 0) sticky = this.sticky.partition(topic, count)
        partition = sticky
        stickyBytes += size
        if (stickyBytes >= this.batchBytes) {
          this.sticky.batchSent(topic, count)
          stickyBytes = 0
          sticky = -1
        }
      }
      partitionOf[i] = partition
      sizeOf[i] = size
    }
    this.stickyBytes.set(topic, stickyBytes)
    // Group runs of consecutive records bound for one partition (sticky and explicit sends are long runs).
    const source: readonly RecordInput[] = records ?? (messages as RecordInput[])
    const planOf = this.planOf
    const first = plans.length
    for (let start = 0; start < n;) {
      const partition = partitionOf[start]
      let end = start
      let bytes = 0
      while (end < n && partitionOf[end] === partition) bytes += sizeOf[end++]
      const plan = planOf[partition]
      if (!plan) {
        // A send wholly to one partition (explicit, one key's, or sticky) goes as given, without
        // a copy of its array: like kafkajs, the messages are read until send() settles.
        const created = { topic, partition, records: start === 0 && end === n ? (source as RecordInput[]) : source.slice(start, end), bytes }
        planOf[partition] = created
        plans.push(created)
      } else {
        // (Never the caller's array: a whole-array plan has no later run.)
        for (let i = start; i < end; i++) plan.records.push(source[i])
        plan.bytes += bytes
      }
      start = end
    }
    for (let i = first; i < plans.length; i++) planOf[plans[i].partition] = undefined
  }

  /** The quick estimate said "maybe too large": measure exactly (strings in UTF-8). */
  private checkExactSize(message: Message, maxBatchBytes: number, topic: string): void {
    const len = (v: Buffer | string | null | undefined): number => (v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length)
    let size = RECORD_OVERHEAD + len(message.value) + len(message.key)
    for (const name in message.headers ?? {}) size += 8 + Buffer.byteLength(name) + len(message.headers![name])
    if (size + BATCH_HEADER_SIZE > maxBatchBytes) {
      throw new RecordTooLargeError(`a record of about ${size} bytes for topic "${topic}" exceeds max.message.bytes ${maxBatchBytes}`)
    }
  }

  /** Waits for room in the in-flight budget only when there is none (then appends). */
  private dispatch(plan: PartitionPlan, acks: Acks, codec: number): Promise<RecordMetadata> {
    const waiting = this.budget.acquire(plan.bytes)
    return waiting ? waiting.then(() => this.dispatchNow(plan, acks, codec)) : this.dispatchNow(plan, acks, codec)
  }

  /**
   * Appends, then in one reaction gives the bytes back, counts the send as settled and turns
   * the reply into metadata or an error (no `finally` and second `then` per send: each was
   * two or three promises and closures more, measured in garbage per send).
   */
  private dispatchNow(plan: PartitionPlan, acks: Acks, codec: number): Promise<RecordMetadata> {
    let append: Promise<AppendResult>
    try {
      this.assertOpen()
      append = this.lingerMs > 0 ? this.linger(plan, acks, codec) : this.append(plan.topic, plan.partition, plan.records, acks, codec)
    } catch (error) {
      this.budget.release(plan.bytes)
      return Promise.reject(error)
    }
    this.inFlightSends++
    if (acks === 0) {
      const settled = (): void => this.settled(plan.bytes)
      append.then(settled, settled)
      return Promise.resolve(metadataOf(plan, ACKS_0_RESULT))
    }
    return append.then(
      (result) => {
        this.settled(plan.bytes)
        if (result.errorCode !== 0) throw errorForCode(result.errorCode, result.errorMessage, `send to ${plan.topic}-${plan.partition}`)
        return metadataOf(plan, result)
      },
      (error: unknown) => {
        this.settled(plan.bytes)
        throw error
      },
    )
  }

  private settled(bytes: number): void {
    this.budget.release(bytes)
    if (--this.inFlightSends === 0 && this.idleWaiters.length > 0) for (const wake of this.idleWaiters.splice(0)) wake()
  }

  private append(topic: string, partition: number, records: RecordInput[], acks: Acks, codec: number): Promise<AppendResult> {
    return this.host.context.engine.appendRecords(topic, partition, records, { acks: acks === 0 ? 1 : acks, compression: codec })
  }

  /** Joins the partition's linger buffer; resolves with this send's own base offset. */
  private linger(plan: PartitionPlan, acks: Acks, codec: number): Promise<AppendResult> {
    // A send of a batch's worth with nothing lingering goes now (and needs no key string).
    if (plan.bytes >= this.batchBytes && this.lingering.size === 0) return this.append(plan.topic, plan.partition, plan.records, acks, codec)
    const key = `${plan.topic}\u0000${plan.partition}\u0000${acks}\u0000${codec}`
    let buffer = this.lingering.get(key)
    if (!buffer && plan.bytes >= this.batchBytes) return this.append(plan.topic, plan.partition, plan.records, acks, codec)
    if (!buffer) {
      buffer = { topic: plan.topic, partition: plan.partition, acks, codec, records: [], bytes: 0, parts: [], timer: null }
      this.lingering.set(key, buffer)
    }
    const from = buffer.records.length
    for (const record of plan.records) buffer.records.push(record)
    buffer.bytes += plan.bytes
    const result = new Promise<AppendResult>((resolve, reject) => buffer.parts.push({ from, resolve, reject }))
    if (buffer.bytes >= this.batchBytes) this.flushLingering(key)
    else buffer.timer ??= setTimeout(() => this.flushLingering(key), this.lingerMs)
    return result
  }

  private flushLingering(key: string): void {
    const buffer = this.lingering.get(key)
    if (!buffer) return
    this.lingering.delete(key)
    if (buffer.timer) clearTimeout(buffer.timer)
    let append: Promise<AppendResult>
    try {
      append = this.append(buffer.topic, buffer.partition, buffer.records, buffer.acks, buffer.codec)
    } catch (error) {
      append = Promise.reject(error)
    }
    append.then(
      (result) => {
        for (const part of buffer.parts) {
          part.resolve(result.errorCode === 0 && result.baseOffset >= 0 ? { ...result, baseOffset: result.baseOffset + part.from } : result)
        }
      },
      (error: unknown) => { for (const part of buffer.parts) part.reject(error) },
    )
  }
}

/** What an acks=0 send reports: nothing is known of where its records went. */
const ACKS_0_RESULT: AppendResult = { errorCode: 0, errorMessage: null, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 }

function inArray(metadata: RecordMetadata): RecordMetadata[] {
  return [metadata]
}

function metadataOf(plan: PartitionPlan, result: AppendResult): RecordMetadata {
  return {
    topicName: plan.topic,
    partition: plan.partition,
    errorCode: 0,
    baseOffset: String(result.baseOffset),
    logAppendTime: String(result.logAppendTimeMs),
    logStartOffset: String(result.logStartOffset),
  }
}

/** The engine takes kafkajs-shaped messages as they are, except for string timestamps. */
function toRecordInput(message: Message): RecordInput {
  const timestamp = message.timestamp
  if (timestamp === undefined || timestamp === null) return message as RecordInput
  const ms = typeof timestamp === 'string' ? Number(timestamp) : timestamp
  if (!Number.isSafeInteger(ms) || ms < -1) throw new InvalidRecordError(`message timestamp must be whole milliseconds, got ${String(timestamp)}`)
  if (typeof timestamp === 'number') return message as RecordInput
  return { key: message.key, value: message.value, headers: message.headers, timestamp: ms }
}
