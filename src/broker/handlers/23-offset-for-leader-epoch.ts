/**
 * OffsetForLeaderEpoch v0-4 (KIP-101/279): for each partition, the end offset of the requested
 * leader epoch in this broker's log, answered by the partition's worker from its
 * leader-epoch-checkpoint cache with Kafka's semantics (the latest epoch ends at the log end
 * offset; an older one where the next epoch starts; an unknown one between two known epochs
 * answers the largest epoch below it; above the latest, or an empty cache: epoch -1, offset -1).
 * A follower asks this after a leader change and truncates its log to the answer.
 *
 * current_leader_epoch (v2+): -1 skips the check; older than the partition's leader epoch is
 * FENCED_LEADER_EPOCH (74), newer UNKNOWN_LEADER_EPOCH (75). replica_id (v3+): a follower's
 * broker id, -1 for a consumer (v0-2 carry none, read as -2, Kafka's debugging id); a single node
 * leads every partition, so every sender gets the leader's answer. Unknown topic or partition:
 * UNKNOWN_TOPIC_OR_PARTITION; storage failures: their Kafka code. Authorization: CLUSTER_ACTION on
 * the cluster (a follower, as in Kafka) or DESCRIBE on the topic (a consumer). Left out: answering as a
 * non-leader (NOT_LEADER_OR_FOLLOWER), which cluster mode adds with its leadership state.
 */
import { toErrorPayload } from '../../errors.js'
import { ErrorCode } from '../../protocol/error-codes.js'
import type { EpochEndOffset, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, OffsetForLeaderPartition } from '../../protocol/messages/offset-for-leader-epoch.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/offset-for-leader-epoch.js'
import type { EncodeInput } from '../../protocol/primitives.js'
import type { NodeContext } from '../../core/node-context.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 23
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

const UNDEFINED_EPOCH = -1
const UNDEFINED_EPOCH_OFFSET = -1

export async function handle(request: OffsetForLeaderEpochRequest, ctx: RequestContext): Promise<HandlerReply<OffsetForLeaderEpochResponse>> {
  const topics = await Promise.all(request.topics.map(async (t) => ({
    topic: t.topic,
    partitions: await Promise.all(t.partitions.map((p) => ctx.access.cluster() || ctx.access.topic(t.topic)
      ? lookup(ctx.broker, t.topic, p)
      : { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, partition: p.partition, leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET })),
  })))
  return { kind: 'message', message: { throttleTimeMs: 0, topics } }
}

async function lookup(broker: NodeContext, topic: string, p: OffsetForLeaderPartition): Promise<EncodeInput<EpochEndOffset>> {
  const answer = (errorCode: number, leaderEpoch = UNDEFINED_EPOCH, endOffset = UNDEFINED_EPOCH_OFFSET): EncodeInput<EpochEndOffset> =>
    ({ errorCode, partition: p.partition, leaderEpoch, endOffset })
  const info = broker.topics.get(topic)
  if (!info || p.partition < 0 || p.partition >= info.partitions || !broker.engine.offsets(topic, p.partition)) {
    return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
  }
  try {
    const found = await broker.engine.endOffsetForEpoch(topic, p.partition, p.leaderEpoch, { currentLeaderEpoch: p.currentLeaderEpoch })
    return answer(ErrorCode.NONE, found.leaderEpoch, found.endOffset)
  } catch (error) {
    return answer(toErrorPayload(error).code)
  }
}
