/**
 * ListOffsets v0-8 (v1+ semantics: one offset per partition, with its timestamp).
 *
 * v0 (the old offsets-array form) answers the same lookup as a list in oldStyleOffsets: one
 * offset when found and maxNumOffsets >= 1, none otherwise. Kafka's v0 also lists the base
 * offsets of older segments for latest/timestamp queries when maxNumOffsets > 1; ringlog lists
 * only the one offset (clients ask for 1: kafka-python, Kafka's own old consumers' tools).
 *
 * timestamp -2 (earliest): the log start offset; -1 (latest): the high watermark for
 * read_uncommitted, the last stable offset for read_committed (isolationLevel 1, v2+), as Kafka
 * answers: what that consumer can read. >= 0: the first offset
 * whose timestamp is at or after it (`engine.offsetForTimestamp`), or offset -1 and timestamp
 * -1 when no visible record qualifies; -3 (max timestamp, KIP-734): the offset and timestamp
 * of the first record carrying the largest timestamp in the log (the record, as Kafka 3.8
 * answers, not its batch), or -1/-1 for an empty log or one whose maximum is not yet below the
 * high watermark; -4 (earliest local, v8, KIP-405): the log start offset, since every segment
 * is local (no tiered storage). Earliest/latest answer timestamp -1. leaderEpoch is 0.
 * UNKNOWN_TOPIC_OR_PARTITION for a topic or partition this broker lacks.
 *
 * Left out: -5 (earliest pending upload, v9) is not in these versions (INVALID_REQUEST).
 */
import { toErrorPayload } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { ListOffsetsPartition, ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse } from '../../protocol/messages/list-offsets.js'
import { MAX_VERSION } from '../../protocol/messages/list-offsets.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { NodeContext } from '../../core/node-context.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 2
export const minVersion = 0
export const maxVersion = MAX_VERSION

const EARLIEST = -2
const LATEST = -1
const MAX_TIMESTAMP = -3
const EARLIEST_LOCAL = -4

export async function handle(request: ListOffsetsRequest, ctx: RequestContext): Promise<HandlerReply<ListOffsetsResponse>> {
  const duplicates = duplicatePartitions(request)
  const topics = await Promise.all(request.topics.map(async (t) => ({
    name: t.name,
    partitions: await Promise.all(t.partitions.map(async (p) => {
      if (!ctx.access.topic(t.name)) {
        const refused = { partitionIndex: p.partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, timestamp: -1, offset: -1, leaderEpoch: -1 }
        return ctx.version === 0 ? toOffsetsArray(refused, p.maxNumOffsets) : refused
      }
      // As Kafka: a partition named twice is refused (each time) instead of looked up twice.
      if (duplicates.has(`${p.partitionIndex}:${t.name}`)) {
        const refused = { partitionIndex: p.partitionIndex, errorCode: ErrorCode.INVALID_REQUEST, timestamp: -1, offset: -1, leaderEpoch: -1 }
        return ctx.version === 0 ? toOffsetsArray(refused, p.maxNumOffsets) : refused
      }
      const found = await lookup(ctx.broker, ctx.version, t.name, p, ctx.version >= 2 && request.isolationLevel === READ_COMMITTED)
      return ctx.version === 0 ? toOffsetsArray(found, p.maxNumOffsets) : found
    })),
  })))
  return { kind: 'message', message: { throttleTimeMs: 0, topics } }
}

/** `partition:topic` keys named more than once anywhere in the request. */
function duplicatePartitions(request: ListOffsetsRequest): Set<string> {
  const seen = new Set<string>()
  const duplicates = new Set<string>()
  for (const t of request.topics) {
    for (const p of t.partitions) {
      const key = `${p.partitionIndex}:${t.name}`
      if (seen.has(key)) duplicates.add(key)
      else seen.add(key)
    }
  }
  return duplicates
}

/** The v0 answer: the offset found (if any, and if the client wants at least one) as a list. */
function toOffsetsArray(found: EncodeInput<ListOffsetsPartitionResponse>, maxNumOffsets: number): EncodeInput<ListOffsetsPartitionResponse> {
  const offset = found.offset ?? -1
  return {
    partitionIndex: found.partitionIndex,
    errorCode: found.errorCode,
    oldStyleOffsets: found.errorCode === ErrorCode.NONE && offset >= 0 && maxNumOffsets > 0 ? [offset] : [],
  }
}

/** ListOffsetsRequest.isolationLevel: 1 is read_committed. */
const READ_COMMITTED = 1

async function lookup(broker: NodeContext, version: number, topic: string, p: ListOffsetsPartition, committed: boolean): Promise<EncodeInput<ListOffsetsPartitionResponse>> {
  const answer = (errorCode: number, offset = -1, timestamp = -1): EncodeInput<ListOffsetsPartitionResponse> =>
    ({ partitionIndex: p.partitionIndex, errorCode, timestamp, offset, leaderEpoch: errorCode === ErrorCode.NONE && version >= 4 ? 0 : -1 })
  if (broker.cluster) {
    // Cluster mode: only the leader answers, under the client's view of the leader epoch.
    const code = broker.cluster.checkLeader(topic, p.partitionIndex, p.currentLeaderEpoch)
    if (code !== ErrorCode.NONE) return answer(code)
  }
  const info = broker.topics.get(topic)
  const offsets = info && p.partitionIndex >= 0 && p.partitionIndex < info.partitions ? broker.engine.offsets(topic, p.partitionIndex) : undefined
  if (!offsets) return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  if (p.timestamp === EARLIEST || p.timestamp === EARLIEST_LOCAL) return answer(ErrorCode.NONE, offsets.logStartOffset)
  if (p.timestamp === LATEST) return answer(ErrorCode.NONE, committed ? offsets.lastStableOffset : offsets.highWatermark)
  if (p.timestamp < 0 && p.timestamp !== MAX_TIMESTAMP) return answer(ErrorCode.INVALID_REQUEST)
  try {
    const found = await broker.engine.offsetForTimestamp(topic, p.partitionIndex, p.timestamp)
    // Offsets at or past the high watermark are not visible to consumers yet.
    const now = broker.engine.offsets(topic, p.partitionIndex) ?? offsets
    if (!found || found.offset >= (committed ? now.lastStableOffset : now.highWatermark)) return answer(ErrorCode.NONE)
    return answer(ErrorCode.NONE, found.offset, found.timestamp)
  } catch (error) {
    return answer(toErrorPayload(error).code)
  }
}
