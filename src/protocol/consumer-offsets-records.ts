/**
 * Kafka's record formats of `__consumer_offsets` (the `storage` schemas OffsetCommitKey/Value and
 * GroupMetadataKey/Value), so the offsets topic of a ringlog data dir reads like Kafka's. Every
 * key and value starts with an int16 version; the rest is the classic (non-flexible) encoding.
 *
 *   OffsetCommitKey v1:   group string, topic string, partition int32
 *   OffsetCommitValue v3: offset int64, leaderEpoch int32, metadata string, commitTimestamp int64
 *   GroupMetadataKey v2:  group string
 *   GroupMetadataValue v3: protocolType string, generation int32, protocol string?, leader string?,
 *     currentStateTimestamp int64, members [memberId, groupInstanceId?, clientId, clientHost,
 *     rebalanceTimeout int32, sessionTimeout int32, subscription bytes, assignment bytes]
 *
 * A null value is a tombstone: the offset or the group is gone. Values of older versions (0-2)
 * are read too, as Kafka's tools write them.
 */
import { Buffer } from 'node:buffer'
import { ProtocolDecodeError } from '../errors.js'
import { Reader, Writer } from './primitives.js'

/** The internal topic these records live in. */
export const CONSUMER_OFFSETS_TOPIC = '__consumer_offsets'

const OFFSET_COMMIT_KEY_VERSION = 1
const GROUP_METADATA_KEY_VERSION = 2
const OFFSET_COMMIT_VALUE_VERSION = 3
const GROUP_METADATA_VALUE_VERSION = 3

export interface OffsetCommitKey { kind: 'offset'; group: string; topic: string; partition: number }
export interface GroupMetadataKey { kind: 'group'; group: string }
export type ConsumerOffsetsKey = OffsetCommitKey | GroupMetadataKey

export interface OffsetCommitValue {
  offset: number
  leaderEpoch: number
  metadata: string
  commitTimestamp: number
}

export interface StoredMember {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  rebalanceTimeoutMs: number
  sessionTimeoutMs: number
  subscription: Buffer
  assignment: Buffer
}

export interface GroupMetadataValue {
  protocolType: string
  generation: number
  protocol: string | null
  leader: string | null
  currentStateTimestamp: number
  members: StoredMember[]
}

/** Java's String.hashCode over UTF-16 code units, as a signed 32-bit int. */
export function javaStringHashCode(text: string): number {
  let hash = 0
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0
  return hash
}

/** Kafka's partitionFor(groupId): Utils.abs(hashCode) % partitions (abs(MIN_VALUE) is 0 there). */
export function partitionForGroup(groupId: string, partitions: number): number {
  const hash = javaStringHashCode(groupId)
  const abs = hash === -2147483648 ? 0 : Math.abs(hash)
  return abs % partitions
}

export function encodeOffsetCommitKey(group: string, topic: string, partition: number): Buffer {
  const w = new Writer(64)
  w.int16(OFFSET_COMMIT_KEY_VERSION)
  w.string(false, group)
  w.string(false, topic)
  w.int32(partition)
  // The writer's buffer is a fresh pool slice, held by nothing else: no copy needed.
  return w.finish()
}

export function encodeGroupMetadataKey(group: string): Buffer {
  const w = new Writer(32)
  w.int16(GROUP_METADATA_KEY_VERSION)
  w.string(false, group)
  return Buffer.from(w.finish())
}

export function decodeConsumerOffsetsKey(key: Buffer): ConsumerOffsetsKey {
  const r = new Reader(key)
  const version = r.int16()
  if (version === 0 || version === 1) return { kind: 'offset', group: r.string(false), topic: r.string(false), partition: r.int32() }
  if (version === 2) return { kind: 'group', group: r.string(false) }
  throw new ProtocolDecodeError(`unknown __consumer_offsets key version ${version}`)
}

export function encodeOffsetCommitValue(value: OffsetCommitValue): Buffer {
  const w = new Writer(64)
  w.int16(OFFSET_COMMIT_VALUE_VERSION)
  w.int64(value.offset)
  w.int32(value.leaderEpoch)
  w.string(false, value.metadata)
  w.int64(value.commitTimestamp)
  return w.finish()
}

export function decodeOffsetCommitValue(value: Buffer): OffsetCommitValue {
  const r = new Reader(value)
  const version = r.int16()
  if (version < 0 || version > 3) throw new ProtocolDecodeError(`unknown OffsetCommitValue version ${version}`)
  const offset = r.int64()
  const leaderEpoch = version >= 3 ? r.int32() : -1
  const metadata = r.string(false)
  const commitTimestamp = r.int64()
  if (version === 1) r.int64() // expireTimestamp: ringlog applies offsets.retention.minutes instead
  return { offset, leaderEpoch, metadata, commitTimestamp }
}

export function encodeGroupMetadataValue(value: GroupMetadataValue): Buffer {
  const w = new Writer(256)
  w.int16(GROUP_METADATA_VALUE_VERSION)
  w.string(false, value.protocolType)
  w.int32(value.generation)
  w.nullableString(false, value.protocol)
  w.nullableString(false, value.leader)
  w.int64(value.currentStateTimestamp)
  w.int32(value.members.length)
  for (const m of value.members) {
    w.string(false, m.memberId)
    w.nullableString(false, m.groupInstanceId)
    w.string(false, m.clientId)
    w.string(false, m.clientHost)
    w.int32(m.rebalanceTimeoutMs)
    w.int32(m.sessionTimeoutMs)
    w.bytes(false, m.subscription)
    w.bytes(false, m.assignment)
  }
  return Buffer.from(w.finish())
}

export function decodeGroupMetadataValue(value: Buffer): GroupMetadataValue {
  const r = new Reader(value)
  const version = r.int16()
  if (version < 0 || version > 3) throw new ProtocolDecodeError(`unknown GroupMetadataValue version ${version}`)
  const protocolType = r.string(false)
  const generation = r.int32()
  const protocol = r.nullableString(false)
  const leader = r.nullableString(false)
  const currentStateTimestamp = version >= 2 ? r.int64() : -1
  const count = r.int32()
  if (count < 0 || count > r.remaining) throw new ProtocolDecodeError(`GroupMetadataValue claims ${count} members`)
  const members: StoredMember[] = []
  for (let i = 0; i < count; i++) {
    const memberId = r.string(false)
    const groupInstanceId = version >= 3 ? r.nullableString(false) : null
    const clientId = r.string(false)
    const clientHost = r.string(false)
    const rebalanceTimeoutMs = version >= 1 ? r.int32() : -1
    const sessionTimeoutMs = r.int32()
    const subscription = Buffer.from(r.bytes(false))
    const assignment = Buffer.from(r.bytes(false))
    members.push({ memberId, groupInstanceId, clientId, clientHost, rebalanceTimeoutMs: rebalanceTimeoutMs < 0 ? sessionTimeoutMs : rebalanceTimeoutMs, sessionTimeoutMs, subscription, assignment })
  }
  return { protocolType, generation, protocol, leader, currentStateTimestamp, members }
}
