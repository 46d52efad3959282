/**
 * OffsetDelete v0 (KIP-496): deletes a group's committed offsets for the named partitions.
 *
 * Top level: GROUP_ID_NOT_FOUND for a group this broker does not know, INVALID_GROUP_ID for "",
 * NON_EMPTY_GROUP for a group with members that is not a consumer group, the coordinator's
 * NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE. Per partition:
 * UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist (checked first, as Kafka's
 * KafkaApis does), GROUP_SUBSCRIBED_TO_TOPIC while a member of the group subscribes to the
 * topic. Deleting a partition with nothing committed succeeds.
 *
 * Left out: nothing of the version range; throttling is always 0.
 */
import { ErrorCode } from '../../protocol/error-codes.js'
import type { OffsetDeleteRequest, OffsetDeleteResponse } from '../../protocol/messages/offset-delete.js'
import { MAX_VERSION, MIN_VERSION } from '../../protocol/messages/offset-delete.js'
import type { HandlerReply, RequestContext } from '../handler.js'

export const apiKey = 47
export const minVersion = MIN_VERSION
export const maxVersion = MAX_VERSION

export async function handle(request: OffsetDeleteRequest, ctx: RequestContext): Promise<HandlerReply<OffsetDeleteResponse>> {
  const { broker } = ctx
  const exists = (topic: string, partition: number): boolean => {
    const info = broker.topics.get(topic)
    return info !== undefined && partition >= 0 && partition < info.partitions
  }
  const named = request.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex })))
  const known = named.filter((p) => exists(p.topic, p.partition))
  const groups = broker.groups
  const outcome = groups ? await groups.deleteOffsets(request.groupId, known) : { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, partitions: [] }
  if (outcome.errorCode !== ErrorCode.NONE) return { kind: 'message', message: { errorCode: outcome.errorCode, throttleTimeMs: 0, topics: [] } }
  const codes = new Map(outcome.partitions.map((p) => [`${p.partition}:${p.topic}`, p.errorCode]))
  const topics = request.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({
      partitionIndex: p.partitionIndex,
      errorCode: codes.get(`${p.partitionIndex}:${t.name}`) ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    })),
  }))
  return { kind: 'message', message: { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics } }
}
