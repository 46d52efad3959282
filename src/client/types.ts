/**
 * Public types of the embedded API, shaped like kafkajs so code can switch with few changes.
 * Offsets, timestamps and high watermarks are decimal strings, as kafkajs gives them
 * (Kafka's int64 does not fit a JS number in general); inputs accept strings or numbers.
 */
import type { Acks } from '../engine/log-engine.js'
import type { CompressionName } from '../protocol/compression.js'

export type { Acks }

/** Compression by name, or by Kafka's codec number (kafkajs's CompressionTypes use the same numbers). */
export type CompressionOption = CompressionName | number

/** A record header value; kafkajs accepts strings too. */
export type HeaderValue = Buffer | string | null

// ------------------------------------------------------------------ producer

export interface ProducerOptions {
  /** 0: resolve once the records are handed to the engine; 1: once appended; -1 (default): once durable per the flush policy. */
  acks?: Acks
  /** Codec of the batches the engine packs (default 'lz4'; 'snappy' and 'zstd' are not supported for writing). */
  compression?: CompressionOption
  /** Records of sends to one partition within this many ms are appended together (default 0: each send on its own). */
  lingerMs?: number
  /** Keyless records stay on one partition until this many bytes went to it (sticky partitioning), and linger flushes at this size (default 16384). */
  batchBytes?: number
  /** Bytes of unacknowledged sends this producer allows before send() waits (default 64 MiB; back-pressure). */
  maxInFlightBytes?: number
  /** Makes `transaction()` available: the id whose earlier producers this one fences (kafkajs's transactionalId). */
  transactionalId?: string
  /** Ms a transaction may stay open before the coordinator aborts it (default 60000, at most transactionMaxTimeoutMs). */
  transactionTimeout?: number
}

export interface Message {
  key?: Buffer | string | null
  value: Buffer | string | null
  headers?: Record<string, HeaderValue>
  /** Create time in ms since the epoch (string as in kafkajs, or number); default: now. */
  timestamp?: string | number
  /** Explicit partition; otherwise by key (murmur2, as Kafka and kafkajs) or sticky when keyless. */
  partition?: number
}

export interface ProducerRecord {
  topic: string
  messages: Message[]
  acks?: Acks
  compression?: CompressionOption
}

export interface TopicMessages {
  topic: string
  messages: Message[]
}

export interface ProducerBatch {
  topicMessages: TopicMessages[]
  acks?: Acks
  compression?: CompressionOption
}

export interface RecordMetadata {
  topicName: string
  partition: number
  errorCode: number
  /** Offset of this send's first record in the partition; '-1' with acks 0. */
  baseOffset: string
  /** '-1' unless the topic uses LogAppendTime. */
  logAppendTime: string
  logStartOffset: string
}

// ------------------------------------------------------------------ consumer

export type PartitionAssignerName = 'range' | 'roundrobin'

export interface ConsumerOptions {
  groupId: string
  /** Default 30000; must lie within the log's groupMinSessionTimeoutMs..groupMaxSessionTimeoutMs. */
  sessionTimeout?: number
  /** Default 60000. */
  rebalanceTimeout?: number
  /** Default 3000. */
  heartbeatInterval?: number
  /** Commit processed offsets automatically (default true). */
  autoCommit?: boolean
  /** Auto commit period in ms (default 5000). */
  autoCommitInterval?: number
  /** Protocols offered to the group, preferred first (default ['roundrobin', 'range']). */
  partitionAssigners?: PartitionAssignerName[]
  /** Upper bound of bytes read per partition and fetch (default 1 MiB; at least one batch is read). */
  maxBytesPerPartition?: number
  /** Longest wait for new data before the loop looks again (default 1000). */
  maxWaitTimeInMs?: number
  /** Delay before a message whose handler threw is delivered again (default 100). */
  retryBackoffMs?: number
  /**
   * false (default, as kafkajs): read_committed, reading only below the last stable offset and
   * skipping records of aborted transactions; true: read_uncommitted, every record below the
   * high watermark. Control batches (transaction markers) are never delivered.
   */
  readUncommitted?: boolean
  clientId?: string
}

export interface KafkaMessage {
  key: Buffer | null
  value: Buffer | null
  /** Header values by key; a key that appears more than once keeps its last value. */
  headers: Record<string, Buffer | null>
  /** Create time (or log append time) in ms, as a decimal string. */
  timestamp: string
  offset: string
  /** The record's own attributes byte (0 in RecordBatch v2; batch attributes are not repeated here). */
  attributes: number
}

export interface SubscribeOptions {
  topics?: (string | RegExp)[]
  topic?: string | RegExp
  /** Where to start without a committed offset: earliest (true) or latest (false, default). */
  fromBeginning?: boolean
}

export interface TopicPartitionOffset {
  topic: string
  partition: number
  offset: string | number
}

export interface TopicPartitions {
  topic: string
  /** All of the topic's partitions when omitted. */
  partitions?: number[]
}

export interface EachMessagePayload {
  topic: string
  partition: number
  message: KafkaMessage
  heartbeat(): Promise<void>
  /** Pauses this partition; returns a function that resumes it. */
  pause(): () => void
}

export interface Batch {
  topic: string
  partition: number
  highWatermark: string
  messages: KafkaMessage[]
  isEmpty(): boolean
  firstOffset(): string | null
  lastOffset(): string
  /** High watermark minus one minus the last offset. */
  offsetLag(): string
  /** High watermark minus one minus the first offset. */
  offsetLagLow(): string
}

export interface EachBatchPayload {
  batch: Batch
  /** Marks `offset` processed: the next fetch and commit start after it. */
  resolveOffset(offset: string | number): void
  heartbeat(): Promise<void>
  /** Commits the resolved offsets if auto commit is on and its interval has passed (or always, given offsets). */
  commitOffsetsIfNecessary(offsets?: TopicPartitionOffset[]): Promise<void>
  uncommittedOffsets(): TopicPartitionOffset[]
  isRunning(): boolean
  /** True once a rebalance took this partition away; stop processing the batch. */
  isStale(): boolean
  pause(): () => void
}

export interface RunOptions {
  eachMessage?: (payload: EachMessagePayload) => Promise<void>
  eachBatch?: (payload: EachBatchPayload) => Promise<void>
  /** Resolve the batch's last offset when eachBatch returns (default true). */
  eachBatchAutoResolve?: boolean
  autoCommit?: boolean
  autoCommitInterval?: number
}

export interface GroupJoinEvent {
  groupId: string
  memberId: string
  leaderId: string
  isLeader: boolean
  generationId: number
  groupProtocol: string
  memberAssignment: Record<string, number[]>
}

export interface ConsumerCrashEvent {
  groupId: string
  error: Error
  /** Whether the consumer goes on (the failing message is delivered again after retryBackoffMs). */
  restart: boolean
}

export interface ConsumerEvents {
  'consumer.group_join': GroupJoinEvent
  'consumer.rebalancing': { groupId: string; memberId: string }
  'consumer.commit_offsets': { groupId: string; memberId: string; generationId: number; topics: { topic: string; partitions: { partition: number; offset: string }[] }[] }
  'consumer.crash': ConsumerCrashEvent
  'consumer.stop': { groupId: string }
}

// ------------------------------------------------------------------ admin

export interface ITopicConfig {
  topic: string
  /** Default: the log's numPartitions. */
  numPartitions?: number
  /** Accepted for kafkajs compatibility; only 1 (or -1) is valid. */
  replicationFactor?: number
  configEntries?: { name: string; value: string }[]
}

export interface CreateTopicsOptions {
  topics: ITopicConfig[]
  validateOnly?: boolean
}

export interface PartitionOffsetsInfo {
  partition: number
  /** The high watermark (kafkajs's `offset`). */
  offset: string
  high: string
  low: string
}

export interface GroupMemberDescription {
  memberId: string
  clientId: string
  clientHost: string
  memberMetadata: Buffer
  memberAssignment: Buffer
}

export interface GroupDescription {
  groupId: string
  state: string
  protocolType: string
  protocol: string
  errorCode: number
  members: GroupMemberDescription[]
}

export interface GroupOffsets {
  topic: string
  partitions: { partition: number; offset: string; metadata: string | null }[]
}

export interface TopicMetadata {
  name: string
  partitions: { partitionErrorCode: number; partitionId: number; leader: number; replicas: number[]; isr: number[] }[]
}
