import { Buffer } from 'node:buffer'
import { InvalidRequestError } from '../errors.js'

/**
 * Kafka's "consumer" protocol bytes carried opaquely in JoinGroup metadata and SyncGroup
 * assignments (ConsumerProtocolSubscription v0-3 and ConsumerProtocolAssignment v0-3,
 * non-flexible). Java, librdkafka, kafkajs and kafka-python all use them, so decoding
 * them shows what wire clients subscribed to and were given. Decoding bounds every count
 * and length by the bytes present and ignores trailing bytes from newer versions, as
 * Kafka's ConsumerProtocol does.
 */

export const consumerProtocolType = 'consumer'

export interface TopicPartitions { topic: string; partitions: number[] }

export interface ConsumerSubscription {
  version: number
  topics: string[]
  userData: Buffer | null
  /** v1+ */
  ownedPartitions: TopicPartitions[]
  /** v2+, -1 when absent */
  generationId: number
  /** v3+ */
  rackId: string | null
}

export interface ConsumerAssignment {
  version: number
  partitions: TopicPartitions[]
  userData: Buffer | null
}

class Writer {
  private readonly chunks: Buffer[] = []
  int16(v: number): void { const b = Buffer.allocUnsafe(2); b.writeInt16BE(v); this.chunks.push(b) }
  int32(v: number): void { const b = Buffer.allocUnsafe(4); b.writeInt32BE(v); this.chunks.push(b) }
  string(v: string): void { const s = Buffer.from(v, 'utf8'); this.int16(s.length); this.chunks.push(s) }
  nullableString(v: string | null): void { if (v === null) this.int16(-1); else this.string(v) }
  nullableBytes(v: Buffer | null): void { if (v === null) { this.int32(-1); return } this.int32(v.length); this.chunks.push(v) }
  topicPartitions(list: readonly TopicPartitions[]): void {
    this.int32(list.length)
    for (const tp of list) {
      this.string(tp.topic)
      this.int32(tp.partitions.length)
      for (const p of tp.partitions) this.int32(p)
    }
  }
  finish(): Buffer { return Buffer.concat(this.chunks) }
}

class Reader {
  private position = 0
  constructor(private readonly data: Buffer) {}
  get remaining(): number { return this.data.length - this.position }
  private need(n: number, what: string): void {
    if (n < 0 || this.remaining < n) throw new InvalidRequestError(`consumer protocol: truncated ${what}`)
  }
  int16(): number { this.need(2, 'int16'); const v = this.data.readInt16BE(this.position); this.position += 2; return v }
  int32(): number { this.need(4, 'int32'); const v = this.data.readInt32BE(this.position); this.position += 4; return v }
  nullableString(): string | null {
    const length = this.int16()
    if (length === -1) return null
    this.need(length, 'string')
    const v = this.data.toString('utf8', this.position, this.position + length)
    this.position += length
    return v
  }
  string(): string {
    const v = this.nullableString()
    if (v === null) throw new InvalidRequestError('consumer protocol: null string')
    return v
  }
  nullableBytes(): Buffer | null {
    const length = this.int32()
    if (length === -1) return null
    this.need(length, 'bytes')
    const v = Buffer.from(this.data.subarray(this.position, this.position + length))
    this.position += length
    return v
  }
  /** An array count, checked against the smallest possible element size before looping. */
  count(minElementBytes: number): number {
    const n = this.int32()
    if (n === -1) return 0
    this.need(n * minElementBytes, 'array')
    return n
  }
  topicPartitions(): TopicPartitions[] {
    const out: TopicPartitions[] = []
    const n = this.count(6)
    for (let i = 0; i < n; i++) {
      const topic = this.string()
      const partitions: number[] = []
      const m = this.count(4)
      for (let j = 0; j < m; j++) partitions.push(this.int32())
      out.push({ topic, partitions })
    }
    return out
  }
}

export function encodeSubscription(subscription: {
  version?: number
  topics: readonly string[]
  userData?: Buffer | null
  ownedPartitions?: readonly TopicPartitions[]
  generationId?: number
  rackId?: string | null
}): Buffer {
  const version = subscription.version ?? 1
  if (version < 0 || version > 3) throw new InvalidRequestError(`consumer protocol: subscription version ${version} unsupported`)
  const w = new Writer()
  w.int16(version)
  w.int32(subscription.topics.length)
  for (const topic of subscription.topics) w.string(topic)
  w.nullableBytes(subscription.userData ?? null)
  if (version >= 1) w.topicPartitions(subscription.ownedPartitions ?? [])
  if (version >= 2) w.int32(subscription.generationId ?? -1)
  if (version >= 3) w.nullableString(subscription.rackId ?? null)
  return w.finish()
}

export function decodeSubscription(data: Buffer): ConsumerSubscription {
  const r = new Reader(data)
  const version = r.int16()
  if (version < 0) throw new InvalidRequestError(`consumer protocol: subscription version ${version}`)
  const topics: string[] = []
  const n = r.count(2)
  for (let i = 0; i < n; i++) topics.push(r.string())
  const userData = r.nullableBytes()
  // Later versions add fields at the end; an older encoder may stop early.
  const ownedPartitions = version >= 1 && r.remaining > 0 ? r.topicPartitions() : []
  const generationId = version >= 2 && r.remaining > 0 ? r.int32() : -1
  const rackId = version >= 3 && r.remaining > 0 ? r.nullableString() : null
  return { version, topics, userData, ownedPartitions, generationId, rackId }
}

export function encodeAssignment(assignment: { version?: number; partitions: readonly TopicPartitions[]; userData?: Buffer | null }): Buffer {
  const version = assignment.version ?? 0
  if (version < 0 || version > 3) throw new InvalidRequestError(`consumer protocol: assignment version ${version} unsupported`)
  const w = new Writer()
  w.int16(version)
  w.topicPartitions(assignment.partitions)
  w.nullableBytes(assignment.userData ?? null)
  return w.finish()
}

/** An empty buffer is "no assignment" (what the coordinator gives members the leader left out). */
export function decodeAssignment(data: Buffer): ConsumerAssignment {
  if (data.length === 0) return { version: 0, partitions: [], userData: null }
  const r = new Reader(data)
  const version = r.int16()
  if (version < 0) throw new InvalidRequestError(`consumer protocol: assignment version ${version}`)
  const partitions = r.topicPartitions()
  const userData = r.remaining > 0 ? r.nullableBytes() : null
  return { version, partitions, userData }
}

/** Assignor output for one member in the shape encodeAssignment takes. */
export function toTopicPartitions(byTopic: ReadonlyMap<string, readonly number[]>): TopicPartitions[] {
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions: [...partitions] }))
}
